"""The compiled kernel: a callable over arrays with validation and reduction."""

from __future__ import annotations

import math

from html import escape as escape_html

from typing import Any

import numpy as np

import symlik.compiler
from symlik.core.errors import ConstraintError, NotSupportedError, SymlikError
from symlik.compiler import checks, registry
from symlik.compiler.checks import INDEX_SHAPE_RULE, ShapeRoles, class_index_dtype_error
from symlik.compiler._dask import lazy_call, lazy_elementwise


def apply_weight(values, weight, validate=True):
    """Per-sample weights times per-observation values; the weights must broadcast to them."""
    values = np.asarray(values)
    w = np.asarray(weight)
    if validate:
        if w.dtype.kind not in "biuf":
            raise SymlikError(f"weight must be a real numeric array; got dtype {w.dtype}")
        if np.any(~np.isfinite(w)):
            raise ConstraintError(f"weight must be finite (got {w[~np.isfinite(w)].ravel()[0]!r})")
        try:
            fits = np.broadcast_shapes(w.shape, values.shape) == values.shape
        except ValueError:
            fits = False
        if not fits:
            raise SymlikError(f"weight of shape {w.shape} must broadcast to the observations' shape {values.shape}")
    # The values' dtype wins (a float32 loss stays float32, as torch's in-place mul_ keeps it).
    return values * w.astype(values.dtype, copy=False) if values.dtype.kind == "f" else values * w



def bind_inputs(names, args, kwargs, *, fixed=()) -> dict:
    """Positional and keyword inputs of a call, by name, as Python binds a signature: too
    many, unknown, doubled or missing inputs raise SymlikError naming them (shared by the
    NumPy-family kernels, ``symlik.torch.Loss`` and ``symlik.jax.loss``)."""
    if len(args) > len(names):
        raise SymlikError(f"too many positional inputs: expected at most {len(names)} ({', '.join(names)}), got {len(args)}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            hint = " (it is fixed at compile time)" if key in fixed else ""
            raise SymlikError(f"unexpected input {key!r}{hint}; inputs are {', '.join(names)}")
        if key in bound:
            raise SymlikError(f"input {key!r} given twice (by position and by keyword)")
        bound[key] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise SymlikError(f"missing input(s) {', '.join(missing)}; inputs are {', '.join(names)}")
    return bound

class Kernel:
    """A compiled target: a loss, an NLL, or a per-observation vector or matrix (``shape``).

    Call it with the predicted inputs first (in ``predict`` order), then the
    target ``y``, then any parameter neither predicted nor fixed; every input
    is also accepted by keyword. ``reduction`` averages (``"mean"``) or sums
    over observations, or returns the per-observation values (``"none"``).
    For event distributions an observation is a vector on the last axis.
    A vector or matrix target (``shape`` of (P,) or (P, P)) returns ``[..., *shape]``;
    the reduction is over the observations (the leading axes) only.
    """

    def __init__(
        self,
        *,
        functions: dict,
        source: str,
        inputs: tuple[str, ...],
        fixed: dict,
        checks: dict,
        reduction: str,
        backend: str,
        target: str,
        derivation: Any,
        validate: bool,
        event_inputs: tuple[str, ...] = (),
        index_targets: bool = False,
        shape: tuple = (),
        formula: str = "",
        label: str = "",
        loss_name: str | None = None,
        expr_text: str = "",
        request: dict | None = None,
        predicted: tuple[str, ...] = (),
        check_descriptions: dict | None = None,
        event_length: int | None = None,
    ) -> None:
        self._functions = functions
        self.source = source
        self.inputs = inputs
        self.fixed = dict(fixed)
        self._checks = checks  # input name -> (Constraint or callable, description)
        self._check_descriptions = check_descriptions or {}  # checks.describe()'s output (a backend may compile them)
        self.reduction = reduction
        self.backend = backend
        self.target = target
        self._derivation = derivation
        self._request = request  # compile() arguments, to re-derive lazily and to pickle
        self.label = label or (derivation.spec.label if derivation is not None else "")
        self.loss_name = derivation.loss.name if derivation is not None else loss_name
        self.expr_text = expr_text
        self.validate = validate
        self.event_inputs = event_inputs
        self.index_targets = index_targets
        self.shape = tuple(shape)  # per-observation shape of the value
        self.formula = formula
        self._grad = None  # the gradient functions, generated on first use (compiler/grad.py)
        # A training loop calls with arrays of the same shapes and dtypes every step: after one
        # full call, such a call skips the binding, conversion and shape rules (``RepeatCall``).
        # Only the NumPy evaluation below is remembered; a backend with its own keeps its path.
        cls = type(self)
        self._repeatable = (cls._elementwise_arrays is Kernel._elementwise_arrays
                            and cls._call_arrays is Kernel._call_arrays and cls.__call__ is Kernel.__call__)
        self._repeat = None
        if not predicted and "y" in inputs:  # (a kernel built by hand: the inputs before y are predicted)
            predicted = inputs[: inputs.index("y")]
        self.predicted = tuple(predicted)
        defining = (*self.predicted, "y") if "y" in inputs else self.predicted
        self._shape_roles = ShapeRoles(
            defining=defining,
            parameters=tuple(n for n in (*inputs, *self.fixed) if n not in defining),
            event=frozenset(event_inputs),
            event_length=event_length,
        )

    # -- calling ---------------------------------------------------------------
    def _bind(self, args, kwargs) -> dict:
        return bind_inputs(self.inputs, args, kwargs, fixed=self.fixed)

    def _arrays(self, bound: dict) -> dict:
        """Every input as the array the generated code sees.

        Floating inputs follow NumPy's promotion rules among themselves. Integer
        predictions and parameters are promoted as NumPy would promote them against
        the floating inputs (float64 when there are none). Integer targets (counts)
        take that floating dtype instead of raising it, so float32 predictions with
        int64 counts stay float32; class-index targets stay integers. Python scalars
        are weakly typed, as in NumPy: a fixed sigma=2.0 keeps float32 inputs float32.
        """
        if not self.fixed and all(type(v) is np.ndarray for v in bound.values()):
            # The training loop's call: plain arrays of one floating dtype need no conversion
            # (what the general path below would conclude, at a fifth of its cost).
            dtypes = {v.dtype for v in bound.values()}
            if len(dtypes) == 1 and next(iter(dtypes)).kind == "f":
                return dict(bound)
        given = {**bound, **self.fixed}
        raw = {}
        for name, value in given.items():
            checks.refuse_foreign_array(name, value)
            a = np.asarray(value)
            if a.dtype.kind not in "biuf":
                raise SymlikError(f"{name} must be a real numeric array; got dtype {a.dtype}")
            raw[name] = a
        floats = [a.dtype for n, a in raw.items() if a.dtype.kind == "f" and not _is_python_scalar(given[n])]
        ints = [a.dtype for n, a in raw.items() if a.dtype.kind in "biu" and n != "y"]
        dtype = np.result_type(*floats, *ints) if floats else np.dtype(np.float64)
        if dtype.kind != "f":
            dtype = np.dtype(np.float64)
        use_index = self._use_index(raw)
        out = {}
        for name, a in raw.items():
            if name == "y" and use_index:
                out[name] = a
            elif _is_python_scalar(given[name]):
                # Weak, as NumPy treats it in arithmetic: it takes the arrays' dtype (also
                # inside np.log(sigma), where a bare Python float would come back float64).
                out[name] = dtype.type(given[name])
            elif a.dtype.kind in "biu":
                out[name] = a.astype(dtype)
            else:
                out[name] = a
        return out

    @staticmethod
    def _result_dtype(arrays: dict, use_index: bool) -> np.dtype:
        """The floating dtype of the values (after ``_arrays``, every input but class indices has it)."""
        floats = [a.dtype for n, a in arrays.items() if not (n == "y" and use_index) and a.dtype.kind == "f"]
        return np.result_type(*floats) if floats else np.dtype(np.float64)

    def _prepare(self, args, kwargs):
        """Bind, convert and check the inputs: (arrays, use_index, dtype)."""
        arrays = self._arrays(self._bind(args, kwargs))
        use_index = self._use_index(arrays)
        self._check_shapes(arrays, use_index)
        if self.validate:
            self._validate(arrays, use_index)
        return arrays, use_index, self._result_dtype(arrays, use_index)

    def _validate(self, arrays: dict, use_index: bool, skip=()) -> None:
        """Raise ConstraintError at the first value (in index order) that breaks its input's check;
        inputs in ``skip`` are checked elsewhere (the fused backend checks them inside its pass)."""
        # Parameters first: y's support may be bounded by one (binomial's n), which must be valid itself.
        for name, a in sorted(arrays.items(), key=lambda item: item[0] == "y"):
            if name in skip:
                continue
            check = self._checks.get("y_index" if (name == "y" and use_index) else name)
            if check is None:
                continue
            constraint, _ = check
            quick_ok = getattr(constraint, "quick_ok", None)
            if quick_ok is not None:
                with np.errstate(over="ignore", invalid="ignore"):  # (its sum may overflow: then it says no)
                    if quick_ok(a):
                        continue
            bad = constraint(a, arrays) if callable(constraint) else constraint.violations(a)
            if np.any(bad):
                idx = tuple(int(i) for i in np.argwhere(bad)[0]) if np.ndim(bad) else ()
                value = a[idx] if a.ndim and idx and len(idx) == a.ndim else a
                rule = check[1]
                where = f" at index {idx}" if idx else ""
                hint = checks.hint(self._check_descriptions.get("y_index" if (name == "y" and use_index) else name), value, self.backend)
                raise ConstraintError(f"{name} must {rule} (got {value!r}{where}){hint}")

    def _check_shapes(self, arrays: dict, use_index: bool) -> tuple:
        """The observations' shape, by torch's rules (``checks.ShapeRoles``); raises on a mismatch.
        Shapes are checked whether or not ``validate`` is set: a mismatch is never a value question."""
        shapes = {n: tuple(a.shape) for n, a in arrays.items()}
        if self.index_targets and not use_index:
            self._explain_class_indices(arrays, shapes)
        return self._shape_roles.observation_shape(shapes, use_index)

    def _refuse_oversized(self, arrays: dict, use_index: bool, obs: tuple, what: str) -> None:
        """Refuse in one line, before allocating, values (or the NumPy backend's temporaries, as
        large as the event rows) that would not fit in memory: a broadcast view costs nothing
        to pass but its full size to compute."""
        # class indices (use_index) have no event axis: their last axis is the observations'
        event = [n for n in self.event_inputs if n in arrays and arrays[n].ndim and not (n == "y" and use_index)]
        C = max((arrays[n].shape[-1] for n in event), default=1)
        shape = tuple(obs) + ((C,) if C > 1 else ())
        if math.prod(shape) * 16 <= checks.NEVER_REFUSED:  # small whatever the dtype: no more to ask
            return
        checks.refuse_oversized(shape, self._result_dtype(arrays, use_index).itemsize, what)

    def _explain_class_indices(self, arrays: dict, shapes: dict) -> None:
        """Targets that look like class indices but are not taken as such: say why."""
        ref = next((n for n in self.event_inputs if n != "y" and n in shapes), None)
        y = shapes.get("y")
        if ref is None or y is None:
            return
        if len(y) == len(shapes[ref]) - 1 and y == shapes[ref][:-1]:
            raise class_index_dtype_error(y, arrays["y"].dtype, ref, shapes[ref])
        if y and shapes[ref] and y != shapes[ref]:
            raise SymlikError(
                f"{ref} of shape {shapes[ref]} and y of shape {y} do not match: {INDEX_SHAPE_RULE}, "
                f"here {shapes[ref][:-1]} (or probability vectors of shape {shapes[ref]})"
            )

    def _use_index(self, arrays: dict) -> bool:
        if not self.index_targets:
            return False
        y = arrays["y"]
        ref = next(arrays[n] for n in self.event_inputs if n != "y" and n in arrays)
        return y.dtype.kind in "iub" and y.ndim == ref.ndim - 1

    def elementwise(self, *args, weight=None, **kwargs):
        """Per-observation values (``reduction="none"``), whatever this kernel's reduction.

        ``weight`` (optional) multiplies each observation's value, like the
        ``weight`` of torch's binary_cross_entropy; it must broadcast to the
        observations' shape. Dask inputs give a lazy result.
        """
        bound = self._bind(args, kwargs)
        if _has_dask(bound):
            out = lazy_elementwise(self, bound)
            return out if weight is None else out * weight
        out = self._elementwise_arrays(self._arrays(bound))
        return out if weight is None else self._apply_weight(out, weight)

    def __call__(self, *args, weight=None, **kwargs):
        """The reduced loss. With ``weight``, ``"mean"`` still divides by the number of
        observations, as torch's binary_cross_entropy does."""
        if weight is None and not kwargs and self._repeat is not None:
            value = self._repeat.call(self, args)
            if value is not MISS:
                return value
        bound = self._bind(args, kwargs)
        if _has_dask(bound):
            return lazy_call(self, bound, weight)
        arrays = self._arrays(bound)
        if weight is None:
            value = self._call_arrays(arrays)
            if self._repeat is None and self._repeatable and not kwargs:
                self._repeat = RepeatCall.remember(self, args, arrays)
            return value
        return self._reduce_values(self._apply_weight(self._elementwise_arrays(arrays), weight))

    # Backends override these three: evaluate bound arrays, and reduce.
    def _elementwise_arrays(self, arrays: dict):
        """Per-observation values of already-bound ``arrays``."""
        use_index = self._use_index(arrays)
        obs = self._check_shapes(arrays, use_index)
        self._refuse_oversized(arrays, use_index, obs, "the per-observation values")
        if self.validate:
            self._validate(arrays, use_index)
        fn = self._functions["index" if use_index else "dense"]
        with np.errstate(over="ignore", under="ignore"):
            out = fn(**{n: arrays[n] for n in self.inputs}, **{n: arrays[n] for n in self.fixed})
        # A value that depends on no array input comes back 0-d; it still has the inputs' dtype.
        return np.asarray(out, dtype=self._result_dtype(arrays, use_index)) if np.ndim(out) == 0 else out

    def _call_arrays(self, arrays: dict):
        return self._reduce_values(self._elementwise_arrays(arrays))

    def _reduce_values(self, out):
        if self.reduction == "none":
            return out
        return reduce_observations(out, self.reduction, len(self.shape))

    # -- gradients ---------------------------------------------------------------
    def grad(self, *args, weight=None, **kwargs) -> tuple:
        """Gradient of the reduced loss with respect to each predicted input.

        Takes the same inputs as a call (``weight`` included); returns one array
        per predicted input, shaped like it (broadcast dimensions summed, as
        autograd does). With ``reduction="none"`` it is the gradient of the sum.
        """
        return self._gradient_code().run(self, args, kwargs, with_value=False, weight=weight)

    def value_and_grad(self, *args, weight=None, **kwargs) -> tuple:
        """``(value, grads)``: the reduced loss and ``grad``, from one generated
        function that computes the shared subexpressions once."""
        return self._gradient_code().run(self, args, kwargs, with_value=True, weight=weight)

    @property
    def grad_source(self) -> str:
        """The generated gradient code (NumPy), as text."""
        return self._gradient_code().build(self).source

    def _gradient_code(self):
        if self.shape:
            raise NotSupportedError(
                f"Kernel.grad needs a number per observation; target {self.target!r} gives {list(self.shape)} "
                "per observation (the score's derivative is target 'hessian')"
            )
        return registry.module("grad")

    def _apply_weight(self, out, weight):
        return apply_weight(out, self._per_observation(weight), self.validate)

    def _per_observation(self, weight):
        """A weight per observation, over the whole of its vector or matrix (trailing axes added)."""
        if not self.shape:
            return weight
        w = weight if hasattr(weight, "reshape") else np.asarray(weight)
        return w.reshape(tuple(w.shape) + (1,) * len(self.shape))

    # -- the derivation, lazily ---------------------------------------------------
    @classmethod
    def from_meta(cls, *, functions, source, meta, validate=True, derivation=None, request=None, **extra):
        """A kernel from generated functions and the JSON-able metadata the cache keeps."""
        return cls(
            functions=functions,
            source=source,
            inputs=tuple(meta["inputs"]),
            fixed=meta["fixed"],
            checks=checks.build(meta["checks"]),
            check_descriptions=meta["checks"],
            reduction=meta["reduction"],
            backend=meta["backend"],
            target=meta["target"],
            derivation=derivation,
            validate=validate,
            event_inputs=tuple(meta["event_inputs"]),
            index_targets=meta["index_targets"],
            formula=meta["formula"],
            label=meta["label"],
            loss_name=meta["loss_name"],
            expr_text=meta.get("expr_text", ""),
            shape=tuple(meta.get("shape", ())),
            predicted=tuple(meta.get("predicted", ())),
            event_length=meta.get("event_length"),
            request=request,
            **extra,
        )

    @property
    def derivation(self):
        """The Derivation behind this kernel (derived on first use when the kernel came from the cache)."""
        if self._derivation is None:
            r = self._request
            derive = registry.module("derivation").derive
            self._derivation = derive(r["spec"], predict=r.get("predict"), link=r.get("link"), options=r.get("options"))
        return self._derivation

    @derivation.setter
    def derivation(self, value):
        self._derivation = value

    def __reduce__(self):
        # Pickle by compile() request: a worker process recompiles (from the disk
        # cache when warm) instead of receiving code objects.
        if self._request is None or not isinstance(self._request.get("spec"), str):
            raise TypeError("only kernels compiled from a catalog name can be pickled")
        return (symlik.compiler.recompile, (self._request, self.validate))

    def _expr(self):
        d = self.derivation
        return d.loss.expr if self.target == "loss" else d.nll

    def _name(self) -> str:
        if self.target == "loss":
            return self.derivation.loss.name or "loss"
        return self.target  # "nll", "grad", "score", ...

    def __repr__(self) -> str:
        if self.expr_text and (self._derivation is None or self.target not in ("loss", "nll")):
            # from the cache (no need to derive), or a vector/matrix target: its text was kept
            name = (self.loss_name or "loss") if self.target == "loss" else self.target
            text = self.expr_text
        else:
            import sympy as sp

            name, text = self._name(), sp.sstr(self._expr())
        return (
            f"<Kernel {self.label}: {name}({', '.join(self.inputs)}) = "
            f"{text}; backend={self.backend}, reduction={self.reduction}>"
        )

    def _repr_markdown_(self) -> str:
        import sympy as sp

        if self.target in ("loss", "nll"):
            formula = sp.latex(self._expr(), order="none")  # in the kernel's own input names
        else:
            formula = self.formula
        call = r"\operatorname{%s}(%s)" % (self._name(), ", ".join(self.inputs))
        call = call.replace("_", r"\_")
        return (
            f"**symlik kernel** `{self.label}` ({self.target}, backend `{self.backend}`, "
            f"reduction `{self.reduction}`)\n\ninputs: `{', '.join(self.inputs)}`\n\n$${call} = {formula}$$\n"
        )


    def _repr_html_(self) -> str:
        """Jupyter front ends that show HTML but not Markdown: the same facts, the formula as LaTeX
        in \\[ \\] (typeset where the front end has MathJax or KaTeX)."""
        markdown = self._repr_markdown_()
        formula = markdown[markdown.index("$$") + 2 : markdown.rindex("$$")]
        rows = (("target", self.target), ("backend", self.backend), ("reduction", self.reduction),
                ("inputs", ", ".join(self.inputs)))
        table = "".join(f"<tr><th>{k}</th><td><code>{escape_html(str(v))}</code></td></tr>" for k, v in rows)
        return (
            f'<div class="symlik-kernel"><b>symlik kernel</b> <code>{escape_html(self.label)}</code>'
            f"<table>{table}</table><div>\\[{escape_html(formula)}\\]</div></div>"
        )


MISS = object()  # RepeatCall.call's answer where the general path must run


class RepeatCall:
    """A NumPy kernel's call with the input shapes and dtypes of the call that made it.

    The general path binds the inputs by name, converts dtypes and applies the shape
    rules on every call: about 10 us, twice a batch of 32's loss. A call whose plain
    arrays have the shapes and dtypes of a call that passed those steps would reach the
    same conclusions, so this one checks only that, and the values (when validating) by
    each input's cheap whole-array test. Anything else (a new shape, a Python scalar, a
    value a cheap test cannot pass) is a MISS, and the general path runs, raising or
    computing as it always does.
    """

    __slots__ = ("signature", "function", "fixed", "quick", "dtype", "validated")

    def __init__(self, kernel, signature, function, fixed, quick, dtype):
        self.signature, self.function = signature, function
        self.fixed, self.quick, self.dtype = fixed, quick, dtype
        self.validated = kernel.validate  # (a kernel whose ``validate`` is switched later misses)

    @classmethod
    def remember(cls, kernel: Kernel, args: tuple, arrays: dict):
        """The plan of a call that has just passed the general path, or None where its
        inputs are not all plain arrays given by position or a value check has no cheap test."""
        if len(args) != len(kernel.inputs) or any(type(a) is not np.ndarray for a in args):
            return None
        if any(arrays[n] is not a for n, a in zip(kernel.inputs, args)):
            return None  # (converted: an integer count beside float32 predictions becomes float32)
        use_index = kernel._use_index(arrays)
        quick = []
        if kernel.validate:
            for i, name in enumerate(kernel.inputs):
                check = kernel._checks.get("y_index" if (name == "y" and use_index) else name)
                if check is None:
                    continue
                test = getattr(check[0], "quick_ok", None)
                if test is None and hasattr(check[0], "quick_ok_for"):
                    test = check[0].quick_ok_for(arrays)  # (class indices: their bound is the logits' last axis)
                if test is None:
                    return None  # (vectors on the simplex: checked entry by entry)
                quick.append((i, test))
            if any(n in kernel._checks for n in kernel.fixed):
                return None
        signature = tuple((a.shape, a.dtype) for a in args)
        function = kernel._functions["index" if use_index else "dense"]
        fixed = {n: arrays[n] for n in kernel.fixed}  # (converted to the arrays' dtype once)
        return cls(kernel, signature, function, fixed, tuple(quick), kernel._result_dtype(arrays, use_index))

    def call(self, kernel: Kernel, args: tuple):
        """``kernel``'s value for ``args`` (its reduction, read now), or MISS."""
        if len(args) != len(self.signature) or kernel.validate is not self.validated:
            return MISS
        for a, (shape, dtype) in zip(args, self.signature):
            if type(a) is not np.ndarray or a.shape != shape or a.dtype != dtype:
                return MISS
        if self.quick:
            with np.errstate(over="ignore", invalid="ignore"):  # (a test's sum may overflow: then it says no)
                for i, test in self.quick:
                    if not test(args[i]):
                        return MISS  # the general path looks entry by entry: it raises, or the values pass
        with np.errstate(over="ignore", under="ignore"):
            out = self.function(*args, **self.fixed)
        if type(out) is not np.ndarray or not out.ndim:
            out = np.asarray(out, dtype=self.dtype)  # (a value that depends on no array input)
        if kernel.reduction == "none":
            return out
        return reduce_observations(out, kernel.reduction, len(kernel.shape))


def _has_dask(bound: dict) -> bool:
    # Checked by module name, so NumPy-only callers never import dask.
    return any(type(v).__module__.startswith("dask.") for v in bound.values())


def _is_python_scalar(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, (bool, np.generic))


def reduce_observations(out, reduction: str, value_ndim: int = 0):
    """Mean or sum over every observation, accumulated in float64 for narrower
    floats (in NumPy's buffered chunks: no float64 copy of the array), so a mean
    over 10^7 float32 values is as accurate as float64 allows; the result keeps
    the input's dtype. The last ``value_ndim`` axes hold one observation's vector
    or matrix and are kept."""
    out = np.asarray(out)
    acc = np.float64 if out.dtype.itemsize < 8 else out.dtype
    if value_ndim:
        obs_axes = tuple(range(out.ndim - value_ndim))
        total = np.sum(out, axis=obs_axes, dtype=acc)
        if reduction == "mean":
            n = int(np.prod(out.shape[: out.ndim - value_ndim]))
            total = total / n if n else np.full(total.shape, np.nan)
        return total.astype(out.dtype, copy=False)
    total = out.sum(dtype=acc)  # the method: np.sum's wrapper costs 2 us, a batch of 32 less
    if reduction == "mean":
        total = total / out.size if out.size else np.float64(np.nan)
    return out.dtype.type(total)
