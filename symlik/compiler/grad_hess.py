"""The grad_hess kernel: per-observation gradient and Hessian of the NLL, as boosting needs them.

The Plan computes one value per observation of shape (2, P) (the gradient, then the
Hessian's diagonal) or (1 + P, P) (the gradient, then the whole Hessian); this
wrapper calls it with no reduction and splits the rows, so every backend that
compiles a vector target compiles this one too. No SymPy here: a warm cache hit
stays light.
"""

from __future__ import annotations

import numpy as np

from symlik.core.errors import SymlikError


def check_out(out, grad_shape: tuple, hess_shape: tuple) -> tuple:
    """``out`` as a pair of writeable floating arrays of the result's shapes; raises SymlikError naming
    ``out`` and the rule. (sklearn's ``gradient_out``/``hessian_out``: a booster that calls every
    round keeps two arrays and saves allocating 2 n P numbers each time.)"""
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(a, np.ndarray) for a in out)):
        what = f"a {type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list)) else type(out).__name__
        raise SymlikError(f"out must be a pair of NumPy arrays (grad, hess); got {what}")
    for name, a, shape in (("grad", out[0], grad_shape), ("hess", out[1], hess_shape)):
        if a.shape != tuple(shape) or a.dtype.kind != "f" or not a.flags.writeable:
            raise SymlikError(f"out's {name} array must be a writeable floating array of shape {tuple(shape)}; "
                              f"got shape {a.shape}, dtype {a.dtype}{'' if a.flags.writeable else ', read-only'}")
    return tuple(out)


def fill_out(out, grad, hess) -> tuple:
    """``(grad, hess)`` written into ``out`` (checked first: nothing is written to a wrong pair) and
    returned as ``out``'s arrays; ``out=None`` returns them as they are."""
    if out is None:
        return grad, hess
    g_out, h_out = check_out(out, np.shape(grad), np.shape(hess))
    np.copyto(g_out, grad, casting="same_kind")
    np.copyto(h_out, hess, casting="same_kind")
    return g_out, h_out


class GradHessKernel:
    """``kernel(z..., y, ..., weight=None, out=None) -> (grad, hess)``.

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

    def __call__(self, *args, weight=None, out=None, **kwargs):
        """``out=(grad, hess)``: arrays of the results' shapes to write them into (returned)."""
        return fill_out(out, *self._grad_hess(args, kwargs, weight))

    def _grad_hess(self, args, kwargs, weight):
        one_pass = getattr(self.kernel, "entries", None)  # the fused backend: every entry in one pass
        entries = None if one_pass is None else one_pass(*args, weight=weight, **kwargs)
        if entries is not None:
            return self._split_entries(entries)
        values = self.kernel.elementwise(*args, weight=weight, **kwargs)
        grad = values[..., 0, :]
        hess = values[..., 1, :] if self.hessian_form == "diagonal" else values[..., 1:, :]
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
