"""The fused CPU backend's runtime (``backend="fused"``): one multithreaded pass, reduction included.

Needs numba (``pip install numba``, the ``fused`` extra). The kernel source
kept in the cache is JSON: the printed per-element fragments of each form
(``scalar_codegen.generate``); ``_fused_runtime`` wraps them in loops. A
vector or matrix target (score, Hessian, ...) runs one loop per entry.
"""

from __future__ import annotations

import json

import numpy as np

from symlik.compiler import _fused_runtime as rt
from symlik.compiler.checks import element_test
from symlik.compiler.fused_inputs import lay_out
from symlik.compiler.kernel import Kernel


def load(source: str, meta: dict, **kernel_kwargs) -> Kernel:
    return FusedKernel.from_meta(functions={}, source=source, meta=meta, **kernel_kwargs)


class FusedKernel(Kernel):
    """A Kernel whose loss (and its reduction) runs as one jitted, threaded loop."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        spec = json.loads(self.source)
        self._args = tuple(spec["args"])
        self._forms = spec["forms"]
        # Checks the loop can make value by value, per input: {input: test source} for dense
        # targets and for class-index targets (y is then checked as an index).
        self._tests = {
            use_index: {
                n: t
                for n in self._args
                if (t := self._element_test("y_index" if (n == "y" and use_index) else n)) is not None
            }
            for use_index in (False, True)
        }

    def _element_test(self, check_name: str):
        desc = self._check_descriptions.get(check_name)
        return None if desc is None else element_test(desc)

    def loop_source(self, form: str = "dense") -> str:
        """The generated loop for all-array inputs (what ``source`` describes)."""
        f = self._forms[form]
        layouts = {n: ("e" if n in f["event_names"] else "i" if (n == "y" and f["gathers"]) else "a") for n in self._args}
        return rt.loop_source(f, layouts, "sum", self._tests[form == "index"] if self.validate else {})

    def _run(self, arrays: dict, mode: str):
        use_index = self._use_index(arrays)
        obs = self._check_shapes(arrays, use_index)
        if mode == "none":  # a reduced loss allocates nothing of full size
            self._refuse_oversized(arrays, use_index, obs + self.shape, "the per-observation values")
        tests = self._tests[use_index] if self.validate else {}
        if not self.shape:
            out, tested, bad = self._run_form(self._forms["index" if use_index else "dense"], arrays, mode, use_index, tests)
        else:
            # A vector or matrix per observation: one pass per entry, stacked on the last axes
            # (the first pass checks the values).
            values, tested, bad = [], set(), False
            for i in range(int(np.prod(self.shape))):
                value, tested, bad = self._run_form(self._forms[f"entry{i}"], arrays, mode, use_index, tests if i == 0 else {})
                values.append(value)
                tests = tests if i else {}
            out = np.stack(values, axis=-1)
            out = out.reshape(out.shape[:-1] + self.shape)
        if self.validate:
            # The checks the pass could not make (row sums, scalars, inputs the loss does not read)
            # in NumPy; after a hit in the pass, every check again, for the report: the first
            # offending index, the argument and its rule, as the NumPy backend words them.
            self._validate(arrays, use_index, skip=() if bad else tested)
        return out

    def _run_form(self, form: dict, arrays: dict, mode: str, use_index: bool, tests: dict):
        """(the value, the inputs whose checks ran in the pass, whether one of them failed)."""
        event = set(form["event_names"]) | set(form.get("gathers", ()))  # a gathered input is a row, too
        values = {n: arrays[n] for n in self._args}
        obs_shape = np.broadcast_shapes(
            *(a.shape[:-1] if n in event else a.shape for n, a in values.items())
        )
        C = next((values[n].shape[-1] for n in event), 1)
        n_obs = int(np.prod(obs_shape))
        floats = [a.dtype for a in values.values() if a.dtype.kind == "f"]
        result_dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
        # numba has no float16: half-precision inputs are read as float32 (a float16 copy is
        # half the size of the float32 one), computed in float32, and the result returned in float16.
        dtype = np.dtype(np.float32) if result_dtype.itemsize < 4 else result_dtype
        layouts, prepared = lay_out(values, obs_shape, event=event, size=C, index="y" if use_index else None, views=True)
        work = n_obs * (C if event else 1)
        parallel = work >= rt.PARALLEL_MIN and rt.threads() > 1 and n_obs > 1
        # float32 inputs are computed in float32 (as NumPy and torch do), summed in float64.
        precision = "float32" if dtype == np.float32 else "float64"
        tests = {n: t for n, t in tests.items() if layouts[n] != "s"}  # a scalar costs nothing in NumPy
        fn = rt.function(form, layouts, mode, self.label, precision, tests)
        if mode == "none":
            out = np.empty(n_obs, dtype=dtype)
            _, bad = rt.run(fn, n_obs, C, (out, *prepared), parallel)
            return out.reshape(obs_shape).astype(result_dtype, copy=False), set(tests), bad
        total, bad = rt.run(fn, n_obs, C, tuple(prepared), parallel)
        if self.reduction == "mean":
            total = total / n_obs if n_obs else np.nan
        return result_dtype.type(total), set(tests), bad

    def entries(self, *args, weight=None, **kwargs):
        """Every entry of a vector or matrix target in one pass, entry-major: ``[E, *obs]`` with
        ``E = prod(shape)``, each entry contiguous, ``weight`` multiplied in as it is written.
        None where one pass does not apply (a scalar target, an event axis, a weight of another
        shape, dask or non-float inputs): the caller then takes ``elementwise``."""
        forms = [self._forms.get(f"entry{i}") for i in range(int(np.prod(self.shape)))] if self.shape else []
        if not forms or any(f is None or f["lse"] or f["sums"] or f["gathers"] or f["event_names"] for f in forms):
            return None
        bound = self._bind(args, kwargs)
        if any(not isinstance(v, (np.ndarray, float, int, np.number)) for v in bound.values()):
            return None
        arrays = self._arrays(bound)
        self._check_shapes(arrays, False)
        if self.validate:
            self._validate(arrays, False)
        values = {n: arrays[n] for n in self._args}
        obs_shape = np.broadcast_shapes(*(a.shape for a in values.values()))
        if weight is not None:
            weight = np.asarray(weight)
            if weight.shape != obs_shape or weight.dtype.kind != "f":
                return None
        n_obs = int(np.prod(obs_shape))
        floats = [a.dtype for a in values.values() if a.dtype.kind == "f"]
        result_dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
        # numba has no float16: computed in float32 and returned in float16, as the loss pass does
        dtype = np.dtype(np.float32) if result_dtype.itemsize < 4 else result_dtype
        layouts, prepared = lay_out(values, obs_shape)
        precision = "float32" if dtype == np.float32 else "float64"
        fn = rt.entries_function(forms, layouts, self.label, precision, weight is not None)
        out = np.empty((len(forms), n_obs), dtype=dtype)
        head = (out,) if weight is None else (out, np.ascontiguousarray(weight.reshape(n_obs)))
        parallel = n_obs >= rt.PARALLEL_MIN and rt.threads() > 1
        rt.run(fn, n_obs, 1, (*head, *prepared), parallel)
        return out.reshape((len(forms),) + obs_shape).astype(result_dtype, copy=False)

    def _elementwise_arrays(self, arrays: dict):
        return self._run(arrays, "none")

    def _call_arrays(self, arrays: dict):
        if self.reduction == "none":
            return self._run(arrays, "none")
        return self._run(arrays, "sum")
