"""Kernels with torch's loss options: what the options change at run time.

The math of each option (label smoothing, class and positive weights, the
variance clamp, Stirling's term) is derived in ``derivation/options.py`` and
compiled like any loss. What is left for run time is what torch does around
the per-observation loss:

- ``ignore_index``: targets equal to it are swapped for a valid class before
  the kernel runs (so nothing indexes out of range) and their values set to 0;
- the mean's denominator: the number of observations, or, for class-index
  targets with ``class_weight``, the total weight of the non-ignored target
  classes (torch's ``nll_loss``); with every target ignored it is 0 and the
  mean is 0/0 = nan, exactly as in torch;
- the relaxed checks: soft targets in [0, 1], a variance of 0 under the clamp.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import symlik.compiler
from symlik.core.errors import NotSupportedError, SymlikError
from symlik.derivation import Derivation, derive
from symlik.derivation.options import with_options
from symlik.compiler import grad
from symlik.compiler.kernel import Kernel, apply_weight


def _soft_target_check(y, arrays):
    with np.errstate(invalid="ignore"):
        return ~((y >= 0) & (y <= 1))


def _nonnegative_check(a, arrays):
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(a) & (a >= 0)) if a.dtype.kind == "f" else a < 0


def compile_with_options(spec, loss_options, *, target, backend, reduction, fixed, validate,
                         predict=None, link=None, options=None):
    """compile() for a derivation with loss options: derive them, compile, wrap."""
    d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
    if loss_options or d.plain is None or d.loss_options.get("reduction") != reduction:
        d = with_options(d, reduction=reduction, **loss_options)
    options = {k: v for k, v in d.loss_options.items() if k != "reduction"}
    # The compiled function depends on which options are set, not on their values (passed at run
    # time) nor on the reduction (applied here): reuse it across reductions and values.
    key = (id(d.plain), tuple(p.name for p in d.extra_params), _shape_of(options), target, backend)
    base = _BASE.get(key) if not fixed else None
    if base is None:
        core = dataclasses.replace(d, loss_options={})
        base = symlik.compiler.compile(core, target=target, backend=backend, reduction="none", fixed=fixed, validate=False)
        if not fixed:
            _BASE[key] = base
    values = {p.name: options[p.name] for p in d.extra_params if p.name in base.inputs}
    return OptionKernel(base, d, options, values, reduction=reduction, validate=validate)


_BASE: dict = {}


def _shape_of(options):
    """The options that select a different compiled function (not mere values)."""
    return tuple(sorted((k, v) for k, v in options.items() if isinstance(v, bool)))


class OptionKernel(Kernel):
    """A kernel compiled with loss options (see ``symlik.compile``'s ``**loss_options``).

    Called like any kernel; the option values chosen at compile time
    (``class_weight``, ``pos_weight``, ``label_smoothing``, ``eps``) are
    passed to the compiled function in the dtype of the predictions, so a
    float32 loss stays float32 as torch's does.
    """

    def __init__(self, base: Kernel, derivation, options: dict, values: dict, *, reduction: str, validate: bool):
        self.__dict__.update(base.__dict__)
        self._base = base  # reduction "none", option values as inputs: its gradient is ours before reducing
        self.derivation = derivation
        self.reduction = reduction
        self.validate = validate
        self.options = dict(options)
        self._values = dict(values)
        self._function_inputs = base.inputs
        self.inputs = tuple(n for n in base.inputs if n not in values)
        checks = dict(base._checks)
        if options.get("soft_targets"):
            checks["y"] = (_soft_target_check, "lie in [0, 1] (soft targets)")
        # An option may let a prediction that must be > 0 be 0 (torch clamps a variance of 0 to
        # eps; log(rate + eps) is finite at 0): the loss's template says which, and with what rule.
        form = derivation.loss.template.torch_form if derivation.loss.template is not None else None
        for option, rule in (form.zero_allowed.items() if form is not None else ()):
            if option in options:
                for name in derivation.predicted_inputs:
                    if name in derivation.spec.param_names and np.any(derivation.param(name).constraint.check(0.0)):
                        checks[name] = (_nonnegative_check, rule)
        self._checks = checks

    def grad(self, *args, weight=None, **kwargs) -> tuple:
        """Gradient of the reduced loss in each predicted input, with the options applied as in
        a call: ignored targets contribute nothing and the mean divides by torch's denominator."""
        return self._value_and_grad(args, kwargs, weight)[1]

    def value_and_grad(self, *args, weight=None, **kwargs) -> tuple:
        return self._value_and_grad(args, kwargs, weight)

    def _value_and_grad(self, args, kwargs, weight):
        if self.backend != "numpy":
            raise NotSupportedError(f"Kernel.grad is the NumPy backend's; this kernel's backend is {self.backend}")
        arrays, use_index, ignored = self._inputs(args, kwargs)
        obs_weight = weight
        if ignored is not None:  # an ignored target weighs 0, in the value and in the gradient
            kept = (~ignored).astype(self._dtype(arrays))
            obs_weight = kept if weight is None else apply_weight(kept, weight, self.validate)
        call = {n: arrays[n] for n in self._function_inputs}
        values, grads = grad.run(self._base, (), call, with_value=True, weight=obs_weight)
        if self.reduction == "none":
            return values, grads
        total = np.sum(values)
        if self.reduction == "sum":
            return total, grads
        denominator = self._denominator(values, arrays, use_index, ignored)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / denominator, tuple(g / np.asarray(denominator, g.dtype) for g in grads)

    def _dtype(self, arrays):
        preds = [arrays[n] for n in self.derivation.predicted_inputs if n in arrays]
        dtype = np.result_type(*preds) if preds else np.dtype(np.float64)
        return dtype if dtype.kind == "f" else np.dtype(np.float64)

    def _inputs(self, args, kwargs):
        """The arrays the compiled function takes (option values included), whether the targets
        are class indices, and which targets are ignored (None: no ignore_index)."""
        arrays = self._arrays(self._bind(args, kwargs))
        dtype = self._dtype(arrays)
        for name, value in self._values.items():
            arrays[name] = np.asarray(value, dtype=dtype)
        use_index = self._use_index(arrays)
        ignored = None
        ignore_index = self.options.get("ignore_index")
        if ignore_index is not None:
            if use_index:
                ignored = arrays["y"] == ignore_index
                # A valid class in place of the ignored ones, so that nothing indexes out of range.
                arrays["y"] = np.where(ignored, 0, arrays["y"])
            elif ignore_index >= 0:
                raise SymlikError(
                    f"ignore_index={ignore_index} needs class-index targets; probability targets support only a "
                    "negative ignore_index (which has no effect), as in torch"
                )
        self._check_shapes(arrays, use_index)
        if self.validate:
            self._validate(arrays, use_index)
        return arrays, use_index, ignored

    def _evaluate(self, args, kwargs, weight):
        """(per-observation values, the mean's denominator)."""
        arrays, use_index, ignored = self._inputs(args, kwargs)
        fn = self._functions["index" if use_index else "dense"]
        with np.errstate(over="ignore", under="ignore"):
            out = np.asarray(fn(**{n: arrays[n] for n in (*self._function_inputs, *self.fixed)}))
        if ignored is not None:
            out = np.where(ignored, np.zeros((), out.dtype), out)
        if weight is not None:
            out = apply_weight(out, weight, self.validate)
        return out, self._denominator(out, arrays, use_index, ignored)

    def _denominator(self, out, arrays, use_index, ignored):
        if not use_index:
            return out.size
        kept = np.ones(out.shape, bool) if ignored is None else np.broadcast_to(ignored, out.shape) == 0
        if "class_weight" in self._values:
            # torch's nll_loss: the weighted mean divides by the total weight of the target classes.
            alpha = arrays["class_weight"][np.broadcast_to(arrays["y"], out.shape)]
            return np.sum(np.where(kept, alpha, np.zeros((), alpha.dtype)))
        return int(np.count_nonzero(kept))

    def elementwise(self, *args, weight=None, **kwargs):
        """Per-observation values (0 where the target is ignored), times ``weight`` if given."""
        return self._evaluate(args, kwargs, weight)[0]

    def __call__(self, *args, weight=None, **kwargs):
        out, denominator = self._evaluate(args, kwargs, weight)
        if self.reduction == "none":
            return out
        total = np.sum(out)
        if self.reduction == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / denominator  # 0/0 = nan when every target is ignored, as in torch

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" if np.ndim(v) == 0 else f"{k}=<array>" for k, v in self.options.items())
        return super().__repr__()[:-1] + f" options=({shown})>"
