"""grad_hess for event distributions (softmax logits, a diagonal normal's means): per
observation, the NLL's gradient and the diagonal of its Hessian over the event axis, as
multi-class boosting needs them.

The scalar grad_hess (``plan._grad_hess``) is a P x P matrix over scalar inputs. A softmax
head has one event input, the logits z with K entries per observation, and a booster keeps one
margin per class: it wants d NLL / d z_k and d^2 NLL / d z_k^2 for every k. Both are derived
symbolically (``derivation.gradient``) and printed as NumPy event kernels
(``grad.diagonal_hessian_functions``): for the categorical, s_k - y_k and s_k (1 - s_k).

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

import numpy as np

from symlik.compiler import grad
from symlik.core.errors import NotSupportedError, UnknownNameError

EVENT_HESSIANS = ("exact", "fisher", "exact_clipped", "softprob", "multiclass")
SOFTPROB_FLOOR = 1e-16  # XGBoost's multiclass objective: hess = max(2 p (1 - p) w, 1e-16)


class EventGradHessKernel:
    """``kernel(z, y, ..., weight=None) -> (grad, hess)``, each shaped like the logits ``[..., K]``.
    ``y`` is one-hot (or counts, for the multinomial) or class indices, as for the NLL kernel."""

    def __init__(self, kernel, *, hessian: str) -> None:
        if kernel.backend != "numpy":
            raise NotSupportedError(f"target 'grad_hess' of event distributions compiles for backend 'numpy' only, "
                                    f"not {kernel.backend!r}")
        if hessian not in EVENT_HESSIANS:
            raise UnknownNameError("hessian", hessian, EVENT_HESSIANS)
        if len(kernel.derivation.predicted_inputs) != 1:
            raise NotSupportedError("target 'grad_hess' of event distributions takes one predicted input (the "
                                    f"logits); {kernel.derivation.spec.label} predicts "
                                    f"{', '.join(kernel.derivation.predicted_inputs)}")
        self.kernel = kernel
        self.hessian = hessian
        self.hessian_form = "diagonal"
        self._hessian_functions = grad.diagonal_hessian_functions(kernel)
        y = kernel.derivation.y.base
        if hessian == "fisher" and any(e.has(y) for e in self._hessian_functions.expressions.values()):
            raise NotSupportedError(f"the expected Hessian of {kernel.derivation.spec.label} depends on y; "
                                    "use hessian='exact'")

    def __call__(self, *args, weight=None, **kwargs):
        (g,) = grad.run(self.kernel, args, kwargs, with_value=False, weight=weight)
        (h,) = grad.run(self.kernel, args, kwargs, with_value=False, weight=weight, fns=self._hessian_functions)
        if self.hessian == "softprob":
            h = np.maximum(2 * h, SOFTPROB_FLOOR)
        elif self.hessian == "multiclass":
            K = h.shape[-1]
            h = h * (K / (K - 1))
        elif self.hessian == "exact_clipped":
            h = np.maximum(h, 0)
        return g, h

    def __getattr__(self, name):
        if name == "kernel":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.kernel, name)

    def __repr__(self) -> str:
        return f"<EventGradHessKernel {self.kernel.label} ({self.hessian} Hessian, diagonal); inputs {', '.join(self.inputs)}>"
