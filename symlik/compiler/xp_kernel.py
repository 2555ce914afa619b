"""A Kernel over another array library's arrays (torch, JAX, CuPy).

Values stay in the library (and on its device) so that autograd and jit
see the whole loss. Validation (when ``validate=True`` and the values are
concrete, not traced by ``jax.jit``) runs on the device too: each value check
that is element by element (``checks.element_test``) becomes one mask in the
library, the masks are reduced to one flag, and the host reads that flag
once per call. Only the checks that are not element by element (row sums,
a bound read from another parameter) and the failure report look at a
NumPy copy.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from symlik.core.errors import NotSupportedError, SymlikError
from symlik.compiler.checks import element_test
from symlik.compiler.kernel import Kernel


class LibraryKernel(Kernel):
    # Subclasses: how to make an array, read its dtype kind, copy it to NumPy, and the
    # library's array namespace (``_xp``: floor and the other functions the checks call).
    def _as_array(self, value, like):
        raise NotImplementedError

    def _xp(self):
        raise NotImplementedError

    def _device_tests(self, use_index: bool) -> dict:
        """{input: ok(array, C) -> boolean mask in the library} for each element-by-element
        check; built once per kernel (the sources come from ``element_test``, which writes
        only fixed text and floats: no text from a user or the cache reaches them)."""
        cache = self.__dict__.setdefault("_device_test_cache", {})
        if use_index not in cache:
            namespace = {"np": self._xp(), "_INF": math.inf, "abs": abs}
            tests = {}
            for name in self.inputs + tuple(self.fixed):
                desc = self._check_descriptions.get("y_index" if (name == "y" and use_index) else name)
                source = None if desc is None else element_test(desc)
                if source is not None:
                    code = builtins.compile(f"lambda x, C: {source.format(x='x')}", f"<symlik check {name}>", "eval")
                    tests[name] = eval(code, namespace)  # noqa: S307 - generated from fixed text and floats
            cache[use_index] = tests
        return cache[use_index]

    def _validate_on_device(self, arrays: dict, use_index: bool) -> None:
        """One flag for every element-by-element check, reduced in the library and read once;
        a NumPy copy only of the inputs the other checks need, and of all of them for the report."""
        tests = self._device_tests(use_index)
        C = next((arrays[n].shape[-1] for n in self.event_inputs if n != "y" and n in arrays and arrays[n].ndim), 1)
        flag = None
        for name, ok in tests.items():
            a = arrays[name]
            broken = (~ok(a, C)).any()
            flag = broken if flag is None else flag | broken
        if flag is not None and bool(flag):  # the one device-to-host read
            self._validate({n: self._to_numpy(a) for n, a in arrays.items()}, use_index)
            return
        rest = [n for n in arrays if n not in tests]
        if rest:
            self._validate({n: self._to_numpy(arrays[n]) for n in self._host_needs(rest, use_index, arrays)}, use_index)

    def _host_needs(self, names: list, use_index: bool, arrays: dict) -> set:
        """The inputs whose NumPy copies the checks of ``names`` read: themselves, and the
        parameters that bound or open y's support."""
        needs = set(names)
        desc = self._check_descriptions.get("y", {})
        if "y" in names and not use_index:
            for key in ("lower", "upper"):
                if isinstance(desc.get(key), str):
                    needs.add(desc[key])
            for key in ("lower_closed_if", "upper_closed_if"):
                needs.update(param for param, _ in desc.get(key, ()))
        return needs & set(arrays)

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
            self._validate_on_device(arrays, use_index)
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

