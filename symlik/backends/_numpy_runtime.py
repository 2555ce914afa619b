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


def _safe_ratio(num, den):
    # num / den with 0 where den == 0: a target class weighted 0 costs 0 * anything = 0, not nan.
    den = np.asarray(den)
    zero = den == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(zero, 0, num / np.where(zero, 1, den))


def _erf(x):
    # SciPy's erf when installed (imported on first use, so import symlik stays light);
    # otherwise math.erf element by element: slower, but only normalisers (scalars) need it.
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - SciPy is a test dependency
        import math

        return np.vectorize(math.erf, otypes=[np.result_type(x, np.float64)])(x)
    return erf(x)


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
    "_safe_ratio": _safe_ratio,
    "_erf": _erf,
    "_gather": _gather,
}


# --- log-gamma ---------------------------------------------------------------
# log y!, log C(n, y) and log B(a, b) are sums of log-gamma values: Gamma itself
# overflows a float64 at 171 while its log does not. SciPy's gammaln is used when
# SciPy is installed (it is not a dependency); otherwise a NumPy Lanczos sum.

_LANCZOS_G = 7
_LANCZOS = np.array([
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
])
_scipy_gammaln = None


def _gammaln_numpy(x):
    """log|Gamma(x)| for real x by the Lanczos approximation (g = 7, 9 terms)."""
    x = np.asarray(x, dtype=np.result_type(x, np.float64))
    small = x < 0.5
    # Reflection for x < 0.5: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
    z = np.where(small, 1.0 - x, x) - 1.0
    series = _LANCZOS[0] + sum(c / (z + i) for i, c in enumerate(_LANCZOS[1:], start=1))
    t = z + _LANCZOS_G + 0.5
    out = 0.5 * np.log(2 * np.pi) + (z + 0.5) * np.log(t) - t + np.log(series)
    with np.errstate(divide="ignore"):
        reflected = np.log(np.pi / np.abs(np.sin(np.pi * x))) - out
    return np.where(small, reflected, out)


def _gammaln(x):
    global _scipy_gammaln
    if _scipy_gammaln is None:
        try:
            from scipy.special import gammaln  # imported on first use: import symlik stays light
        except ImportError:  # pragma: no cover - exercised where SciPy is absent
            gammaln = _gammaln_numpy
        _scipy_gammaln = gammaln
    return _scipy_gammaln(x)


NAMESPACE["_gammaln"] = _gammaln
