"""A Kernel over another array library's arrays (torch, JAX, CuPy).

Values stay in the library (and on its device) so that autograd and jit
see the whole loss; only validation looks at a NumPy copy, and only when
``validate=True`` and the values are concrete (not traced by ``jax.jit``).
"""

from __future__ import annotations

import numpy as np

from symlik.core.errors import NotSupportedError, SymlikError
from symlik.compiler.kernel import Kernel


class LibraryKernel(Kernel):
    # Subclasses: how to make an array, read its dtype kind, copy it to NumPy.
    def _as_array(self, value, like):
        raise NotImplementedError

    def _kind(self, a) -> str:
        return np.dtype(str(a.dtype).split(".")[-1]).kind

    def _to_numpy(self, a):
        return np.asarray(a)

    def _concrete(self, a) -> bool:
        return True

    def _float_like(self, arrays: dict):
        return next((a for n, a in arrays.items() if n != "y" and self._kind(a) == "f"), None)

    def _arrays(self, bound: dict) -> dict:
        out = {}
        like = next((v for v in bound.values() if not isinstance(v, (int, float, list, tuple, np.ndarray))), None)
        for name, value in {**bound, **self.fixed}.items():
            a = self._as_array(value, like)
            kind = self._kind(a)
            if kind not in "biuf":
                raise SymlikError(f"{name} must be a real numeric array; got dtype {a.dtype}")
            out[name] = a
        ref = self._float_like(out)
        for name, a in out.items():
            # Integers and booleans become the predictions' float type (an integer
            # tensor would send torch's special functions to float32), except class
            # indices.
            if self._kind(a) in "biu" and not (name == "y" and self.index_targets and self._kind(a) != "b"):
                out[name] = self._cast_float(a, ref)
        return out

    def _use_index(self, arrays: dict) -> bool:
        if not self.index_targets:
            return False
        y = arrays["y"]
        ref = next(arrays[n] for n in self.event_inputs if n != "y" and n in arrays)
        return self._kind(y) in "iu" and y.ndim == ref.ndim - 1

    def _elementwise_arrays(self, arrays: dict):
        use_index = self._use_index(arrays)
        self._check_shapes(arrays, use_index)  # static shapes: checked under jax.jit too
        if self.validate and all(self._concrete(a) for a in arrays.values()):
            self._validate({n: self._to_numpy(a) for n, a in arrays.items()}, use_index)
        fn = self._functions["index" if use_index else "dense"]
        return fn(**{n: arrays[n] for n in self.inputs}, **{n: arrays[n] for n in self.fixed})

    def _reduce_values(self, out):
        if self.reduction == "none":
            return out
        if self.shape:  # over the observations only: one vector or matrix stays
            obs_axes = tuple(range(out.ndim - len(self.shape)))
            if not obs_axes:
                return out
            return out.mean(obs_axes) if self.reduction == "mean" else out.sum(obs_axes)
        return out.mean() if self.reduction == "mean" else out.sum()

    def _apply_weight(self, out, weight):
        return out * self._per_observation(self._as_array(weight, out))

    def grad(self, *args, weight=None, **kwargs):
        raise NotSupportedError(
            f"the {self.backend} kernel is differentiable by {self.backend}'s own autograd "
            "(torch.autograd.grad, jax.grad); Kernel.grad is the NumPy backend's"
        )

    value_and_grad = grad

