"""grad_hess for event distributions (softmax logits, a diagonal normal's means): per
observation, the NLL's gradient and the diagonal of its Hessian over the event axis, as
multi-class boosting needs them.

The scalar grad_hess (``plan._grad_hess``) is a P x P matrix over scalar inputs. A softmax
head has one event input, the logits z with K entries per observation, and a booster keeps one
margin per class: it wants d NLL / d z_k and d^2 NLL / d z_k^2 for every k. Both are derived
symbolically (``derivation.gradient``) and printed as NumPy event kernels
(``grad.diagonal_hessian_functions``): for the categorical, s_k - y_k and s_k (1 - s_k).
The fused loop and the torch and JAX kernels (``LibraryEventGradHessKernel``) print the same
expressions with softmax(z)_k as one name.

``hessian``:

- ``"exact"``: the diagonal above;
- ``"fisher"``: its expectation over y, which is the same diagonal where it does not involve y
  (the categorical and the multinomial: the softmax Hessian depends on the logits only);
- ``"exact_clipped"``: max(exact, 0), the same values (the diagonal is never negative);
- ``"softprob"``: XGBoost's ``multi:softprob`` surrogate, max(2 s_k (1 - s_k) w, 1e-16),
  twice the diagonal, floored as XGBoost floors it;
- ``"multiclass"``: LightGBM's ``multiclass`` surrogate, K/(K - 1) s_k (1 - s_k) w for K classes.
"""

from __future__ import annotations

from importlib import import_module

import numpy as np
import sympy as sp

from symlik.compiler import grad, registry
from symlik.compiler.fused_inputs import lay_out
from symlik.compiler.grad_hess import check_out, fill_out
from symlik.compiler.kernel import apply_weight
from symlik.compiler.scalar_codegen import ScalarPrinter
from symlik.compiler.xp_printers import SymlikJaxPrinter, SymlikTorchPrinter
from symlik.core.errors import NotSupportedError, UnknownNameError
from symlik.core.functions import Softmax

EVENT_HESSIANS = ("exact", "fisher", "exact_clipped", "softprob", "multiclass")
SOFTPROB_FLOOR = 1e-16  # XGBoost's multiclass objective: hess = max(2 p (1 - p) w, 1e-16)


class EventGradHessKernel:
    """``kernel(z, y, ..., weight=None) -> (grad, hess)``, each shaped like the logits ``[..., K]``.
    ``y`` is one-hot (or counts, for the multinomial) or class indices, as for the NLL kernel.

    ``fused=True`` (``backend="fused"``) computes both in one threaded pass per row (numba): the
    row max and sum of exponentials once, then each entry from the same derived expressions,
    printed for the loop (``_fused_runtime.event_entries_loop_source``). The NumPy NLL kernel
    still binds, converts and checks the inputs."""

    def __init__(self, kernel, *, hessian: str, fused: bool = False) -> None:
        if kernel.backend != "numpy":
            raise NotSupportedError(f"target 'grad_hess' of event distributions compiles for backends 'numpy' and "
                                    f"'fused' only, not {kernel.backend!r}")
        self.kernel = kernel
        self.hessian = hessian
        self.hessian_form = "diagonal"
        self._hessian_functions = _checked_hessian_functions(kernel, hessian)
        self.fused = fused
        self._fragments = _fused_fragments(kernel, self._hessian_functions) if fused else None

    @property
    def backend(self) -> str:
        return "fused" if self.fused else self.kernel.backend

    def __call__(self, *args, weight=None, out=None, **kwargs):
        """``out=(grad, hess)``: two arrays shaped like the logits to write the results into (and
        return). The fused pass writes straight into them where they are C-contiguous and of the
        computed dtype; elsewhere the results are copied in."""
        if self.fused:
            return self._fused_call(args, kwargs, weight, out)
        return fill_out(out, *self._numpy_call(args, kwargs, weight))

    def _numpy_call(self, args, kwargs, weight):
        (g,) = grad.run(self.kernel, args, kwargs, with_value=False, weight=weight)
        (h,) = grad.run(self.kernel, args, kwargs, with_value=False, weight=weight, fns=self._hessian_functions)
        return g, _surrogate(h, self.hessian, h.shape[-1], np.maximum)

    def _fused_call(self, args, kwargs, weight, out):
        kernel = self.kernel
        arrays, use_index, result_dtype = kernel._prepare(args, kwargs)
        # numba has no float16: computed in float32 and returned in float16, as the fused backend does
        dtype = np.dtype(np.float32) if result_dtype.itemsize < 4 else result_dtype
        values = {**{n: arrays[n] for n in kernel.inputs}, **{n: arrays[n] for n in kernel.fixed}}
        event = {n for n in kernel.event_inputs if n in values and not (n == "y" and use_index)}
        obs = np.broadcast_shapes(*(a.shape[:-1] if n in event else a.shape for n, a in values.items()))
        C = next(values[n].shape[-1] for n in event)
        n_obs = int(np.prod(obs))
        layouts, prepared = lay_out(values, obs, event=event, size=C, index="y" if use_index else None)
        head = ()
        if weight is not None:
            w = np.asarray(weight)
            if w.shape != obs or w.dtype != dtype:  # a weight to broadcast or convert: the general rule, and its errors
                w = apply_weight(np.ones(obs, dtype=dtype), weight, kernel.validate)
            elif kernel.validate and not np.isfinite(w).all():
                apply_weight(np.ones((), dtype=dtype), w, True)  # raises, naming the first non-finite weight
            head = (np.ascontiguousarray(w.reshape(n_obs)),)
        precision = "float32" if dtype == np.float32 else "float64"
        rt = registry.module("fused_runtime")  # numba, imported when a fused kernel first runs
        fn = rt.event_entries_function(self._fragments[1], layouts, self._fragments[0], kernel.label, precision,
                                       weight is not None, self.hessian)
        # Written straight into ``out`` where it is C-contiguous, of the computed dtype and apart from
        # the inputs (an output over the logits would be written while the row is still read).
        direct = out is not None and all(
            a.dtype == dtype and a.flags.c_contiguous
            and not any(isinstance(b, np.ndarray) and np.may_share_memory(a, b) for b in (*head, *prepared))
            for a in check_out(out, obs + (C,), obs + (C,))
        ) and not np.may_share_memory(out[0], out[1])
        if direct:
            g, h = (a.reshape(n_obs, C) for a in out)  # (views: the loop writes into the caller's arrays)
        else:
            g = np.empty((n_obs, C), dtype=dtype)
            h = np.empty((n_obs, C), dtype=dtype)
        parallel = n_obs * C >= rt.PARALLEL_MIN and rt.threads() > 1 and n_obs > 1
        with np.errstate(all="ignore"):
            rt.run(fn, n_obs, C, (g, h, *head, *prepared), parallel)
        if direct:
            return tuple(out)
        return fill_out(out, g.reshape(obs + (C,)).astype(result_dtype, copy=False),
                        h.reshape(obs + (C,)).astype(result_dtype, copy=False))

    def __getattr__(self, name):
        if name == "kernel":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.kernel, name)

    def __repr__(self) -> str:
        return f"<EventGradHessKernel {self.kernel.label} ({self.hessian} Hessian, diagonal); inputs {', '.join(self.inputs)}>"


def _checked_hessian_functions(kernel, hessian: str):
    """The NumPy NLL kernel's Hessian-diagonal functions, after the checks every event grad_hess
    makes: a known ``hessian``, one predicted input, and an expected Hessian free of y."""
    if hessian not in EVENT_HESSIANS:
        raise UnknownNameError("hessian", hessian, EVENT_HESSIANS)
    label = kernel.derivation.spec.label
    if len(kernel.derivation.predicted_inputs) != 1:
        raise NotSupportedError("target 'grad_hess' of event distributions takes one predicted input (the "
                                f"logits); {label} predicts {', '.join(kernel.derivation.predicted_inputs)}")
    functions = grad.diagonal_hessian_functions(kernel)
    y = kernel.derivation.y.base
    if hessian == "fisher" and any(e.has(y) for e in functions.expressions.values()):
        raise NotSupportedError(f"the expected Hessian of {label} depends on y; use hessian='exact'")
    return functions


def _softmax_forms(kernel, hessian_functions) -> tuple:
    """(the softmax's input or None, {grad, hess, grad_top, hess_top: expression}, q). Each entry
    is the derived expression with softmax(z)_k as one symbol; the top forms are written in
    q = 1 - softmax(z)_k and expanded (n s - y becomes n - y - n q), for the row's maximal
    entry, which keeps the digits of a confident row."""
    (g,) = grad.build(kernel).expressions.values()
    (h,) = hessian_functions.expressions.values()
    softmaxes = {f.args[0] for f in (g + h).atoms(Softmax)}
    if len(softmaxes) > 1 or (g + h).has(sp.Sum):
        raise NotSupportedError(f"the one-pass grad_hess of {kernel.derivation.spec.label} reads more than one "
                                "softmax or a sum over the event axis; use backend='numpy'")
    s, q = sp.Symbol("softmax_k_", positive=True), sp.Symbol("one_minus_softmax_k_", nonnegative=True)
    by_softmax = {f: s for f in (g + h).atoms(Softmax)}
    at_top = {f: 1 - q for f in (g + h).atoms(Softmax)}
    forms = {
        "grad": g.xreplace(by_softmax),
        "hess": h.xreplace(by_softmax),
        "grad_top": sp.expand(g.xreplace(at_top)),
        "hess_top": sp.expand(h.xreplace(at_top)),
    }
    softmax_of = str(next(iter(softmaxes)).label) if softmaxes else None
    return softmax_of, forms, q


def _printed(forms: dict, q, printer) -> dict:
    """``_softmax_forms``' expressions as ``printer`` writes them, the top forms with their exact part first."""
    return {name: (_terms_without_first(e, q, printer) if name.endswith("_top") else printer.doprint(e))
            for name, e in forms.items()}


def _surrogate(h, hessian: str, K: int, floor_at):
    """The (weighted) Hessian diagonal as ``hessian`` asks: XGBoost's floored 2h, LightGBM's K/(K - 1) h,
    or h clipped at 0; ``floor_at(a, v)`` is the array library's max(a, v)."""
    if hessian == "softprob":
        return floor_at(2 * h, SOFTPROB_FLOOR)
    if hessian == "multiclass":
        return h * (K / (K - 1))
    if hessian == "exact_clipped":
        return floor_at(h, 0.0)
    return h


def _fused_fragments(kernel, hessian_functions) -> tuple:
    """(the softmax's input or None, {grad, hess, grad_top, hess_top: printed entry}) for the fused
    loop (``_softmax_forms``, printed by the scalar printer)."""
    softmax_of, forms, q = _softmax_forms(kernel, hessian_functions)
    plan = grad.kernel_plan(kernel)
    printer = ScalarPrinter(event_index=plan.event_index, event_size=plan.event_size)
    fragments = _printed(forms, q, printer)
    return softmax_of, fragments


def _terms_without_first(expr, q, printer) -> str:
    """expr printed as (its terms free of q) + (the rest), in that order: at a confident row the
    first group is an exact n - y (0 for a right answer) and the second is -n q, tiny; a sum in
    SymPy's order, -q - y + 1, would round -q away against y."""
    free, rest = expr.as_independent(q, as_Add=True)
    if free == 0 or rest == 0:
        return printer.doprint(expr)
    return f"({printer.doprint(free)}) + ({printer.doprint(rest)})"


class LibraryEventGradHessKernel:
    """``kernel(z, y, ..., weight=None) -> (grad, hess)`` on torch or JAX arrays (and their device),
    each shaped like the logits ``[..., K]``: the same derived expressions as the NumPy and fused
    kernels (``_softmax_forms``), printed by the library's printer and evaluated with
    s = softmax(z) from the row max and one sum of exponentials; at each row's first maximal entry
    the expanded form in q = 1 - s = rest / (1 + rest), so a confident row keeps its digits as the
    fused loop's does. The library's NLL kernel binds, converts and validates the inputs (on the
    device: one flag per call)."""

    def __init__(self, kernel, numpy_kernel, *, hessian: str) -> None:
        hessian_functions = _checked_hessian_functions(numpy_kernel, hessian)
        self.kernel = kernel
        self.hessian = hessian
        self.hessian_form = "diagonal"
        self._softmax_of, forms, q = _softmax_forms(numpy_kernel, hessian_functions)
        plan = grad.kernel_plan(numpy_kernel)
        self._args = plan.args
        self._per_row = frozenset(plan.scalar_arrays)  # one value per observation: a trailing axis added
        printer_class = {"torch": SymlikTorchPrinter, "jax": SymlikJaxPrinter}[kernel.backend]
        printer = printer_class(event_index=plan.event_index, event_size=plan.event_size,
                                scalar_arrays=plan.scalar_arrays)
        printed = _printed(forms, q, printer).values()
        self.source = (f"def entries(softmax_k_, one_minus_softmax_k_, {', '.join(self._args)}):\n"
                       f"    return ({', '.join(printed)})\n")
        self._namespace = import_module(registry.BACKENDS[kernel.backend].runtime)._namespace()
        exec(compile(self.source, f"<symlik grad_hess {kernel.label} ({kernel.backend})>", "exec"),  # noqa: S102
             self._namespace)  # our own source, printed from derived expressions
        self._ops = _LibraryOps(kernel.backend)

    @property
    def backend(self) -> str:
        return self.kernel.backend

    def __call__(self, *args, weight=None, out=None, **kwargs):
        if out is not None:
            raise NotSupportedError(f"out= takes NumPy arrays; the {self.backend} kernel returns its own arrays")
        kernel, ops = self.kernel, self._ops
        arrays = kernel._arrays(kernel._bind(args, kwargs))
        use_index = kernel._use_index(arrays)
        kernel._check_shapes(arrays, use_index)
        if kernel.validate and all(kernel._concrete(a) for a in arrays.values()):
            kernel._validate_on_device(arrays, use_index)
        ref = next(arrays[n] for n in kernel.event_inputs if n != "y" and n in arrays)
        C = ref.shape[-1]
        values = {}
        for name in self._args:
            a = arrays[name]
            if name == "y" and use_index:
                a = ops.onehot(a, C, ref)
            elif name in self._per_row and a.ndim:
                a = a[..., None]
            values[name] = a
        if self._softmax_of is None:  # (a diagonal normal's means: no softmax, no confident rows)
            g, h, _, _ = self._namespace["entries"](None, None, **values)
            g, h = ops.full_like(g, ref), ops.full_like(h, ref)
        else:
            z = self._namespace["_pin_infinite_rows"](values[self._softmax_of])
            m = ops.amax(z)
            e = ops.exp(z - ops.where(ops.isfinite(m), m, 0.0))  # (a row of -inf only: its nan is the answer)
            top = ops.first_top(z)
            rest = ops.rowsum(ops.where(top, 0.0, e))  # sum(e) - 1, without the subtraction
            s, q = e / (1 + rest), rest / (1 + rest)
            g, h, g_top, h_top = self._namespace["entries"](s, q, **values)
            g, h = ops.where(top, g_top, g), ops.where(top, h_top, h)
        if weight is not None:
            w = kernel._as_array(weight, ref)[..., None]
            g, h = g * w, h * w
        return g, _surrogate(h, self.hessian, C, ops.floor_at)

    def __getattr__(self, name):
        if name == "kernel":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.kernel, name)

    def __repr__(self) -> str:
        return (f"<LibraryEventGradHessKernel {self.kernel.label} ({self.hessian} Hessian, diagonal); "
                f"inputs {', '.join(self.inputs)}; backend={self.backend}>")


class _LibraryOps:
    """The few row operations the library event kernel needs, in torch's or JAX's spelling."""

    def __init__(self, library: str) -> None:
        if library == "torch":
            import torch
            import torch.nn.functional as F

            self.amax = lambda a: torch.amax(a, dim=-1, keepdim=True)
            self.rowsum = lambda a: a.sum(dim=-1, keepdim=True)
            self.exp, self.isfinite = torch.exp, torch.isfinite
            self.where = lambda c, a, b: torch.where(c, a, b)
            self.first_top = lambda z: F.one_hot(z.argmax(dim=-1), z.shape[-1]).bool()
            self.onehot = lambda y, C, like: F.one_hot(y.long(), C).to(like.dtype)
            self.floor_at = lambda a, v: torch.clamp(a, min=v)
            self.full_like = lambda a, like: torch.broadcast_to(torch.as_tensor(a, dtype=like.dtype, device=like.device),
                                                                like.shape)
        elif library == "jax":
            import jax
            import jax.numpy as jnp

            self.amax = lambda a: jnp.max(a, axis=-1, keepdims=True)
            self.rowsum = lambda a: jnp.sum(a, axis=-1, keepdims=True)
            self.exp, self.isfinite, self.where = jnp.exp, jnp.isfinite, jnp.where
            self.first_top = lambda z: jax.nn.one_hot(jnp.argmax(z, axis=-1), z.shape[-1], dtype=bool)
            self.onehot = lambda y, C, like: jax.nn.one_hot(y, C, dtype=like.dtype)
            self.floor_at = jnp.maximum
            self.full_like = lambda a, like: jnp.broadcast_to(jnp.asarray(a, dtype=like.dtype), like.shape)
        else:  # pragma: no cover - compile() refuses other backends first
            raise NotSupportedError(f"grad_hess of event distributions has no {library} form")
