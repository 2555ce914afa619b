"""Dask arrays in, lazy results out: the path for data larger than one machine.

The kernel's own per-block function runs on each chunk (``da.blockwise``),
so every backend that evaluates NumPy blocks (numpy, fused) works
unchanged, chunk by chunk, on any dask scheduler (threads, processes, a
``dask.distributed`` cluster). Event inputs keep their last axis in one
chunk. Value checks run inside each block, when the graph is computed: a
bad value raises ConstraintError from ``.compute()``.
"""

from __future__ import annotations

import numpy as np


def _layout(kernel, bound: dict):
    import dask.array as da

    arrays = {n: v if type(v).__module__.startswith("dask.") else np.asarray(v) for n, v in {**bound, **kernel.fixed}.items()}
    y = arrays.get("y")
    use_index = False
    if kernel.index_targets and y is not None:
        ref = next(arrays[n] for n in kernel.event_inputs if n != "y" and n in arrays)
        use_index = np.dtype(y.dtype).kind in "iub" and y.ndim == ref.ndim - 1
    kernel._check_shapes(arrays, use_index)  # on the whole arrays, before any block is built
    event = {n for n in kernel.event_inputs if n in arrays and not (n == "y" and use_index)}
    obs_ndim = max((a.ndim - (n in event)) for n, a in arrays.items())
    obs = "abcdefghijklmnop"[:obs_ndim]
    pairs = []
    for n, a in arrays.items():
        nd = a.ndim - (n in event)
        ind = obs[obs_ndim - nd:] + ("z" if n in event else "")
        if n in event:
            a = da.asarray(a).rechunk({a.ndim - 1: -1})  # the event axis in one chunk
        elif a.ndim == 0:
            pairs += [a, None]
            continue
        pairs += [da.asarray(a), ind]
    return arrays, obs, pairs


def lazy_elementwise(kernel, bound: dict):
    import dask.array as da

    arrays, obs, pairs = _layout(kernel, bound)
    names = list(arrays)
    floats = [np.dtype(a.dtype) for a in arrays.values() if np.dtype(a.dtype).kind == "f"]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float64)

    def block(*values):
        return kernel._elementwise_arrays(kernel._arrays(dict(zip(names, values))))

    # A vector or matrix target adds its axes (one chunk each) after the observations'.
    value = "uv"[: len(kernel.shape)]
    return da.blockwise(block, obs + value, *pairs, concatenate=True, dtype=dtype, new_axes=dict(zip(value, kernel.shape)),
                        meta=np.empty((0,) * (len(obs) + len(value)), dtype))


def lazy_call(kernel, bound: dict, weight=None):
    out = lazy_elementwise(kernel, bound)
    if weight is not None:
        out = out * weight
    if kernel.reduction == "none":
        return out
    obs_axes = tuple(range(out.ndim - len(kernel.shape)))  # one vector or matrix stays
    return out.mean(axis=obs_axes) if kernel.reduction == "mean" else out.sum(axis=obs_axes)
