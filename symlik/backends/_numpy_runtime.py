"""Helpers the generated NumPy kernels call. Imports only NumPy (no SymPy),
so a cached kernel runs without loading the symbolic machinery."""

from __future__ import annotations

import numpy as np


def _logsumexp(z):
    # Subtract the row max so every exponent is <= 0: no overflow at z = 1000.
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))[..., 0]


def _logsumexp_minus(z, zy):
    # (max - z_y) + log sum exp(z - max): for the argmax class the first term is exactly 0.
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return (m[..., 0] - zy) + np.log(np.sum(np.exp(z - m), axis=-1))


def _x_times(log_fn, x, y):
    """x * log_fn(y), evaluating the log only where x != 0 (0 log 0 = 0 by convention).

    Skipping those entries is both the stable choice (no 0 * -inf = nan) and the
    fast one: for 0/1 labels it halves the logarithms a BCE has to compute.
    """
    x, y = np.asarray(x), np.asarray(y)
    dtype = np.result_type(x, y, np.float16)
    shape = np.broadcast_shapes(x.shape, y.shape)
    mask = x != 0
    out = np.zeros(shape, dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_fn(y, out=out, where=mask)
    out *= x
    return out if shape else out[()]


def _xlogy(x, y):
    # x log y with 0 log 0 = 0: a probability of exactly 0 with label 0 costs nothing, not nan.
    return _x_times(np.log, x, y)


def _xlog1py(x, y):
    # x log(1 + y) with 0 log 0 = 0; log1p keeps the digits of a tiny y.
    return _x_times(np.log1p, x, y)


def _sigmoid(z):
    # exp of a non-positive number only: no overflow for z = -1000.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _event(a):
    """An observation-level array used inside a sum over the event axis."""
    a = np.asarray(a)
    return a[..., None] if a.ndim else a


def _gather(a, index):
    """a[..., index] along the last axis, for class-index targets."""
    a = np.asarray(a)
    index = np.asarray(index)[..., None]
    shape = np.broadcast_shapes(a.shape[:-1], index.shape[:-1])
    a = np.broadcast_to(a, shape + a.shape[-1:])
    return np.take_along_axis(a, np.broadcast_to(index, shape + (1,)), axis=-1)[..., 0]


NAMESPACE = {
    "np": np,
    "_logsumexp": _logsumexp,
    "_logsumexp_minus": _logsumexp_minus,
    "_xlogy": _xlogy,
    "_xlog1py": _xlog1py,
    "_sigmoid": _sigmoid,
    "_event": _event,
    "_gather": _gather,
}
