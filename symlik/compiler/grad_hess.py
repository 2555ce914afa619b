"""The grad_hess kernel: per-observation gradient and Hessian of the NLL, as boosting needs them.

The Plan computes one value per observation of shape (2, P) (the gradient, then the
Hessian's diagonal) or (1 + P, P) (the gradient, then the whole Hessian); this
wrapper calls it with no reduction and splits the rows, so every backend that
compiles a vector target compiles this one too. No SymPy here: a warm cache hit
stays light.
"""

from __future__ import annotations

import numpy as np


class GradHessKernel:
    """``kernel(z..., y, ..., weight=None) -> (grad, hess)``.

    For P predicted inputs, ``grad`` is ``[..., P]`` and ``hess`` is ``[..., P]``
    (its diagonal) or ``[..., P, P]`` (``hessian_form="full"``); with one predicted
    input the trailing axes are dropped, as for every other target. ``weight``
    (per observation) multiplies both, as XGBoost and LightGBM weigh an observation.
    """

    def __init__(self, kernel, *, hessian: str, hessian_form: str) -> None:
        self.kernel = kernel
        self.hessian = hessian
        self.hessian_form = hessian_form
        self.n_outputs = kernel.shape[-1]

    def __call__(self, *args, weight=None, **kwargs):
        one_pass = getattr(self.kernel, "entries", None)  # the fused backend: every entry in one pass
        entries = None if one_pass is None else one_pass(*args, weight=weight, **kwargs)
        if entries is not None:
            return self._split_entries(entries)
        out = self.kernel.elementwise(*args, weight=weight, **kwargs)
        grad = out[..., 0, :]
        hess = out[..., 1, :] if self.hessian_form == "diagonal" else out[..., 1:, :]
        if self.n_outputs == 1:
            grad = grad[..., 0]
            hess = hess[..., 0] if self.hessian_form == "diagonal" else hess[..., 0, 0]
        return grad, hess

    def _split_entries(self, entries):
        """[E, *obs] entry-major rows (gradient first) -> (grad, hess) with the entries on the
        trailing axes; with one predicted input, two contiguous arrays and no copy."""
        P = self.n_outputs
        if P == 1:
            return entries[0], entries[1]
        moved = np.moveaxis(entries, 0, -1)
        grad = moved[..., :P]
        hess = moved[..., P:] if self.hessian_form == "diagonal" else moved[..., P:].reshape(moved.shape[:-1] + (P, P))
        return grad, hess

    # What a Kernel tells about itself: its inputs, source, derivation, backend, ...
    def __getattr__(self, name):
        if name == "kernel":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.kernel, name)

    def __reduce__(self):
        return self.kernel.__reduce__()  # recompiled by request, which names target grad_hess

    def __repr__(self) -> str:
        return f"<GradHessKernel {self.kernel.label} ({self.hessian} Hessian, {self.hessian_form}); inputs {', '.join(self.inputs)}; backend={self.backend}>"
