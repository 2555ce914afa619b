"""Helpers the generated NumPy kernels call. Imports only NumPy (no SymPy),
so a cached kernel runs without loading the symbolic machinery. The special
functions (gammaln, digamma, betaln, i0e, i1e) come from scipy.special, imported
on first use: they are vectorised ufuncs with float32 and float64 loops."""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from symlik.core.errors import NotSupportedError


def _float_dtype(*values):
    """The floating dtype NumPy's arithmetic would give: Python numbers are weak (they
    take the arrays' dtype), so a constant 0.5 in a kernel keeps float32 float32."""
    arrays = [v for v in values if not isinstance(v, (int, float))]
    return np.result_type(*arrays, np.float16) if arrays else np.dtype(np.float64)


def _special():
    try:
        import scipy.special
    except ImportError:  # pragma: no cover - exercised where SciPy is absent
        raise NotSupportedError(
            "this kernel calls a special function (digamma, betaln, i0e or i1e) from scipy.special; "
            "install SciPy (pip install scipy) to run it"
        ) from None
    return scipy.special


def _logsumexp(z):
    # Subtract the row max so every exponent is <= 0: no overflow at z = 1000.
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))[..., 0]


_SAME_ROWS = contextvars.ContextVar("symlik_same_rows", default=None)


class _same_rows:
    """``with _same_rows():`` around a generated function's body (``codegen.share_rows``): inside
    it, ``_shifted_and_rest`` of one logits array is computed once, where a softmax head's value
    and gradient each ask for it (its row max, exponentials and sums are most of their time).
    The memo lives for the block only, and holds each array it keys by id, so no id is reused
    within it and no later call sees values computed before its inputs changed."""

    __slots__ = ("token",)

    def __enter__(self):
        self.token = _SAME_ROWS.set({})

    def __exit__(self, *exc):
        _SAME_ROWS.reset(self.token)


def _shifted_and_rest(z):
    """(m, d, e, rest, clean) of rows of logits: m the row max (0 for a row of -inf only), d = z - m, exactly 0 at each maximal entry,
    e = exp(d), and rest = sum(e) - 1 without the subtraction: the sum over d < 0 plus the
    maximal entries beyond one (each exp(0) = 1 exactly). log1p(rest) keeps the digits of a rest
    of 9e-14 that log(sum(e)) rounds away. A row with +inf entries is pinned to its limit
    (_pin_infinite_rows); a row of -inf only gives rest = -1; clean is False if either occurs.
    The callers never write into what it returns (it may be shared: ``_same_rows``)."""
    memo = _SAME_ROWS.get()
    if memo is not None:
        hit = memo.get(id(z))
        if hit is not None and hit[0] is z:
            return hit[1]
        found = _shifted_and_rest_of(z)
        memo[id(z)] = (z, found)
        return found
    return _shifted_and_rest_of(z)


def _shifted_and_rest_of(z):
    z = np.asarray(z)
    m = z.max(axis=-1, keepdims=True)  # the method: np.max's wrapper costs 3 us a call on a batch of 32
    clean = bool(np.isfinite(m).all())
    if not clean:
        z = _pin_infinite_rows(z)
        m = z.max(axis=-1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)  # a row of -inf only: d is -inf there, not nan
    d = z - m
    e = np.exp(d)
    top = d == 0
    # the count in e's dtype: an int64 count would make a float32 row float64
    rest = np.where(top, 0.0, e).sum(axis=-1, keepdims=True) + (top.sum(axis=-1, keepdims=True, dtype=e.dtype) - 1)
    return m, d, e, rest, clean


def _quiet_unless(clean):
    """No context where every row was finite; else silence a row of -inf only (its nan is the answer)."""
    return contextlib.nullcontext() if clean else np.errstate(divide="ignore", invalid="ignore")


def _neg_log_softmax(z):
    """-log softmax(z) over the last axis, entry by entry (a row with +inf entries pinned first):
    log1p(rest) - (z_k - max). Categorical cross-entropy with a probability target is then
    sum_k y_k (-log softmax(z)_k), a sum of terms >= 0 that cannot cancel, where
    logsumexp(z) sum_k y_k - sum_k y_k z_k loses every digit of 9.4e-14 at logits [30, 0, -30]
    with target [1, 0, 0]."""
    _, d, _, rest, clean = _shifted_and_rest(z)
    with _quiet_unless(clean):
        return np.log1p(rest) - d


def _scaled_softmax_minus(z, c, w):
    """c softmax(z) - w over the last axis (a row with +inf entries pinned first), as
    ((c e - w) - w rest) / (1 + rest) with e = exp(z - max): softmax is e / (1 + rest), and
    at a maximal entry e = 1, so a confident right answer (c = w = 1) gives -rest / (1 + rest)
    with every digit, not the rounding of 1/(1 + 9.4e-14) - 1."""
    _, _, e, rest, clean = _shifted_and_rest(z)
    scaled = e if isinstance(c, int) and c == 1 else c * e
    with _quiet_unless(clean):
        return ((scaled - w) - w * rest) / (1 + rest)


def _logsumexp_minus(z, zy):
    # (max - z_y) + log1p(sum of exp(z - max) over all but one argmax): for the argmax class the
    # first term is exactly 0, and log1p keeps the digits that log(1 + 9e-14) would round away
    # (logits [30, 0, -30] with the first class true: 9.4e-14, not 30 + log(1 + ...) - 30).
    m, _, _, rest, clean = _shifted_and_rest(z)  # (shared with the gradient's: _same_rows)
    if not clean:
        # A row with +inf logits: its limit is log(number of +inf entries) when z_y is one of
        # them (softmax spreads evenly over them), +inf otherwise. _shifted_and_rest pinned the
        # row to 0 (at +inf) and -inf (elsewhere); z_y pinned alike gives exactly that, where
        # inf - inf would be nan. (A row of -inf only is left: its nan is the answer.)
        top = np.max(z, axis=-1) == np.inf
        zy = np.where(top, np.where(zy == np.inf, 0.0, -np.inf), zy)
    with _quiet_unless(clean):
        return (m[..., 0] - zy) + np.log1p(rest[..., 0])


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


def _xmul(x, v):
    # x v with 0 v = 0 even where v is infinite: a zero weight on an infinite logit costs nothing
    # (the limit), where 0 * inf is nan. Only 0 * inf raises 'invalid' (a nan operand stays
    # quiet), so the plain product is right unless it does: 2 us a batch of 32, not 5.
    with np.errstate(invalid="raise"):
        try:
            return np.multiply(x, v)
        except FloatingPointError:
            pass
    with np.errstate(invalid="ignore"):
        product = np.multiply(x, v)
    return np.where(np.asarray(x) == 0, np.zeros((), product.dtype), product)


def _xlogy(x, y):
    # x log y with 0 log 0 = 0: a probability of exactly 0 with label 0 costs nothing, not nan.
    return _x_times(np.log, x, y)


def _xlog1py(x, y):
    # x log(1 + y) with 0 log 0 = 0; log1p keeps the digits of a tiny y.
    return _x_times(np.log1p, x, y)


def _scaled_square(b, c):
    # (c b) b for c = +-1/2^k (codegen.scaled_square): c b**2 with the same rounding, and finite
    # where b**2 alone would overflow. Plain arithmetic: torch and JAX use it as it is.
    return (c * b) * b


def _sigmoid(z):
    # exp of a non-positive number only: no overflow for z = -1000. One division, of
    # 1 (z >= 0) or e (z < 0) by 1 + e: the same roundings as two divisions and a select.
    e = np.exp(-np.abs(z))
    return np.divide(np.where(z >= 0, 1.0, e), 1 + e)


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
        return np.vectorize(math.erf, otypes=[np.result_type(x, np.float64)])(x)
    return erf(x)


def _erfc(x):
    # As _erf: SciPy's erfc when installed, else math.erfc element by element.
    try:
        from scipy.special import erfc
    except ImportError:  # pragma: no cover - SciPy is a test dependency
        return np.vectorize(math.erfc, otypes=[np.result_type(x, np.float64)])(x)
    return erfc(x)

def _log_ndtr(x):
    # log Phi(x): SciPy's log_ndtr takes log1p(-Phi(-x)) in the upper tail (log(Phi(x)) rounds
    # to 0 past x = 8.3) and an asymptotic series below x = -20 (Phi underflows at -38).
    return _special().log_ndtr(x)


def _inverse_mills(x):
    # phi(x)/Phi(x) = sqrt(2/pi) / erfcx(-x/sqrt 2), with the scaled erfcx(t) = e^(t^2) erfc(t): finite
    # where phi and Phi both underflow (x < -38, the ratio is about -x); erfcx overflows to inf for
    # x > 37.6, where the ratio underflows to 0
    with np.errstate(over="ignore"):
        return 0.7978845608028654 / _special().erfcx(np.multiply(x, -0.7071067811865476))


def _log_erfc(x):
    # log erfc(x) in three ranges, none cancelling: near 0, log1p(-erf x) (the value is
    # ~ -2x/sqrt(pi), which log(erfc x) would compute from a number next to 1); for x >= 1/2,
    # log(erfcx x) - x^2 with the scaled erfcx = e^(x^2) erfc(x), finite where erfc underflows
    # (x > 26.5); for x <= -1/2, erfc(x) is in [1.5, 2] and its log is exact.
    s = _special()
    x = np.asarray(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        small = np.log1p(-s.erf(x))
        upper = np.log(s.erfcx(x)) - x * x
        lower = np.log(s.erfc(x))
    return np.where(np.abs(x) < 0.5, small, np.where(x > 0, upper, lower))


def _log1mexp(x):
    # log(1 - e^x) for x <= 0 (Maechler 2012): above -log 2, 1 - e^x cancels and -expm1(x)
    # keeps it; below, e^x is small and log1p(-e^x) keeps the digits log(1 - e^x) rounds away.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -0.6931471805599453, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _x_over_expm1_neg(x):
    # x / expm1(-x) with its limits: 0 at x = -inf (where it is -inf/inf) and -1 at x = 0 (0/0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.true_divide(x, np.expm1(np.negative(x)))
    out = np.where(x == -np.inf, np.zeros((), out.dtype), out)
    return np.where(x == 0, -np.ones((), out.dtype), out)


def _log_ratio(a, b):
    # log(a/b): the log of the quotient (half an ulp of a/b), where log a - log b would keep
    # each log's rounding; the difference of logs only where a/b under- or overflows
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        q = np.true_divide(a, b)
        normal = (q >= np.finfo(np.result_type(q)).tiny) & np.isfinite(q)
        return np.where(normal, np.log(np.where(normal, q, 1)), np.log(a) - np.log(b))


def _log_expm1(x):
    # log(e^x - 1) for x > 0: e^x overflows at 709, so past x = 1 it is x + log1p(-e^-x);
    # below, expm1 keeps the digits of a tiny x that e^x - 1 cancels.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(x < 1, np.log(np.expm1(np.minimum(x, 1))), x + np.log1p(-np.exp(-x)))


def _pin_infinite_rows(z):
    """Each row of logits with a +inf entry as 0 at +inf and -inf elsewhere; other rows as they
    are. Softmax's limit at such a row puts equal mass on the +inf entries and none elsewhere,
    and so does softmax of the pinned row, where z - max would be inf - inf = nan. Only for a
    kernel that sees the logits through their softmax (symlik.compiler.shift)."""
    z = np.asarray(z)
    if z.size == 0 or not np.max(z) == np.inf:  # the common case: one whole-array max (SIMD), no copy
        return z
    top = np.max(z, axis=-1, keepdims=True) == np.inf
    return np.where(top, np.where(z == np.inf, 0.0, -np.inf), z)


def _softmax(z):
    z = _pin_infinite_rows(z)
    # exp(z - max) has every exponent <= 0: no overflow, and the row sum is >= 1.
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(z - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def _xdivy(x, y):
    # x / y with 0 / 0 = 0: the derivative of x log y where x = 0 is 0, not nan.
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x / y
    return np.where(x == 0, 0, out)


def _digamma(x):
    return _special().psi(x)


def _trigamma(x):
    # psi'(x), the second derivative of log Gamma (Hessians in a shape parameter): SciPy's
    # polygamma, exact where 1/x^2 + 1/x dominates and finite for every x > 0.
    return _special().polygamma(1, x)


# log Gamma(x) - ((x - 1/2) log x - x + log(2 pi)/2) ~ sum_k B_2k / (2k (2k - 1) x^(2k-1)), x >= 10.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def _stirling_correction(x):
    inv = 1 / x
    inv2 = inv * inv
    out = np.zeros_like(inv)
    for c in reversed(_STIRLING):
        out = out * inv2 + c
    return out * inv


def _betaln(a, b):
    """log B(a, b) for a, b > 0, accurate to a few ulps.

    scipy's betaln loses up to 1e-10 relative when one argument is large and the
    other small (betaln(1e6, 0.5)): it subtracts two log-gammas of size 1e7. With
    a >= b and a >= 10, Stirling's series gives the difference directly:
    log Gamma(a) - log Gamma(a + b) = b - (a - 1/2) log1p(b/a) - b log(a + b)
    + corr(a) - corr(a + b), whose terms are all of the size of the result.
    """
    dtype = _float_dtype(a, b)
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    big, small = np.maximum(a, b).astype(dtype), np.minimum(a, b).astype(dtype)
    s = _special()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = big + small
        u = small / big
        diff = (small - (big - 0.5) * np.log1p(u)) - small * np.log(total)
        diff = diff + (_stirling_correction(np.maximum(big, 10)) - _stirling_correction(np.maximum(total, 10)))
        asymptotic = s.gammaln(small) + diff
    out = np.where(big >= 10, asymptotic, s.betaln(small, big))
    return out.astype(dtype, copy=False) if out.ndim else dtype.type(out)


def _log1pmx(u):
    """log(1 + u) - u, accurate for small u (a series below |u| = 0.1: -u^2/2 + u^3/3 - ...)."""
    small = np.abs(u) < 0.1
    us = np.where(small, u, 0)
    power = us * us
    series = -power / 2
    for k in range(3, 20):  # (-1)^(k+1) u^k / k; |u|^20 / 20 < 1e-21 below 0.1
        power = power * us
        series = series + (power / k if k % 2 else -power / k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(small, series, np.log1p(u) - u)


def _lgamma_diff(x, m):
    """log Gamma(x + m) - log Gamma(x) for x > 0, x + m > 0, with no cancellation.

    Shifting x up by one changes it by log1p(m/x) (terms of one sign) until both
    arguments are 10 or more; there Stirling's series gives the difference as
    (x - 1/2) log1p(m/x) + m (log(x + m) - 1) + corr(x + m) - corr(x). Exactly 0 at m = 0.
    """
    dtype = _float_dtype(x, m)
    x, m = np.broadcast_arrays(np.asarray(x), np.asarray(m))
    x, m = x.astype(dtype), m.astype(dtype)
    # A small whole m (a count): log((x)_m) = sum_j log(x + j) directly, log1p near 1 (exact there).
    count = np.abs(m)
    whole = (m == np.round(m)) & (count >= 1) & (count <= 16)
    start = np.where(m < 0, x + m, x)
    rising = np.zeros(x.shape, dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(16):
            v = start + j
            term = np.where(np.abs(v - 1) < 0.5, np.log1p((start - 1) + j), np.log(v))
            rising = rising + np.where(j < count, term, 0)
    rising = np.where(m < 0, -rising, rising)
    total = np.zeros(x.shape, dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(10):
            low = np.minimum(x, x + m) < 10
            if not np.any(low):
                break
            total = total - np.where(low, np.log1p(m / x), 0)
            x = np.where(low, x + 1, x)
        u = m / x
        # (x - 1/2) log1p(u) + m (log(x + m) - 1) = x (log1p(u) - u) - log1p(u)/2 + m log(x + m):
        # written so, the two terms of size m that cancel for a tiny m never appear.
        far = x * _log1pmx(u) - 0.5 * np.log1p(u) + m * np.log(x + m)
        # corr(x + m) - corr(x) term by term: c x^-(2k-1) ((1 + u)^-(2k-1) - 1), no cancellation.
        lu = np.log1p(u)
        inv, inv2 = 1 / x, 1 / (x * x)
        for k, c in enumerate(_STIRLING, start=1):
            far = far + c * inv * np.expm1(-(2 * k - 1) * lu)
            inv = inv * inv2
    return np.where(m == 0, 0, np.where(whole, rising, total + far))


def _log_binomial(n, k):
    # log C(n, k) = -log(n + 1) - log B(n - k + 1, k + 1): betaln does not cancel the way
    # gammaln(n+1) - gammaln(k+1) - gammaln(n-k+1) does; C(n, 0) = C(n, n) = 1 exactly.
    out = -np.log1p(n) - _betaln(n - k + 1, k + 1)
    return np.where((k == 0) | (k == n), 0, out)


# psi(z) ~ log z - 1/(2z) - sum_k B_2k / (2k z^2k) for z >= 10 (next term below 1e-16 there).
_PSI_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _digamma_diff(x, h):
    """psi(x + h) - psi(x) for x > 0 and x + h > 0, with no cancellation.

    psi(x + h) - psi(x) = [psi(x+h+1) - psi(x+1)] + h / (x (x + h)) shifts both
    arguments to 10 or more, adding terms of one sign; there the asymptotic series
    gives the difference as log1p(h/x) + h / (2x(x+h)) - sum_k c_k x^-2k expm1(-2k log1p(h/x)),
    each a small number computed directly rather than as a difference of two large ones.
    """
    dtype = _float_dtype(x, h)
    x, h = np.broadcast_arrays(np.asarray(x), np.asarray(h))
    x, h = x.astype(dtype), h.astype(dtype)
    total = np.zeros(x.shape, dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(10):
            low = np.minimum(x, x + h) < 10
            if not np.any(low):
                break
            total = total + np.where(low, h / (x * (x + h)), 0)
            x = np.where(low, x + 1, x)
        u = h / x
        lu = np.log1p(u)
        total = total + lu + h / (2 * x * (x + h))
        inv2 = 1 / (x * x)
        power = inv2
        for j, c in enumerate(_PSI_ASYMPTOTIC, start=1):
            total = total - c * power * np.expm1(-2 * j * lu)
            power = power * inv2
    return np.where(h == 0, 0, total)


def _logcosh(x):
    # log cosh x = |x| + log1p(e^(-2|x|)) - log 2: cosh itself overflows for |x| > 710.
    # Below |x| = 1 that form cancels (log cosh x ~ x^2/2), so there it is
    # log1p(2 sinh(x/2)^2), the same value since cosh x - 1 = 2 sinh(x/2)^2.
    a = np.abs(x)
    large = (a - 0.6931471805599453) + np.log1p(np.exp(-2 * a))
    s = np.sinh(np.minimum(a, 1) / 2)
    return np.where(a < 1, np.log1p(2 * s * s), large)


def _log_i0(x):
    # log I0(x) = log(i0e(x)) + |x|: i0e = e^-|x| I0(x) stays finite where I0 overflows (x > 713).
    # Below |x| = 1/2 that form cancels (log I0 x ~ x^2/4), so there it is log1p of the
    # series I0(x) - 1 = sum_{k>=1} (x^2/4)^k / (k!)^2, whose ninth term is below 1e-19 of the first.
    a = np.abs(x)
    large = np.log(_special().i0e(x)) + a
    q = np.minimum(a, 0.5) ** 2 / 4
    term, series = q, q
    for k in range(2, 10):
        term = term * q / (k * k)
        series = series + term
    return np.where(a < 0.5, np.log1p(series), large)


def _log_i0e(x):
    # log(e^-|x| I0(x)); below |x| = 1/2 from the series (see _log_i0), where log(i0e(x))
    # would take the log of a number within 1e-8 of 1 and keep only 8 digits of it.
    a = np.abs(x)
    q = np.minimum(a, 0.5) ** 2 / 4
    term, series = q, q
    for k in range(2, 10):
        term = term * q / (k * k)
        series = series + term
    return np.where(a < 0.5, np.log1p(series) - a, np.log(_special().i0e(x)))


# --- the Tweedie series ------------------------------------------------------
# Nodes per observation: the significant terms of the Dunn-Smyth series lie within
# 10 standard deviations of its mode; up to this many are summed one by one, beyond it
# on an even grid (the terms are a smooth, log-concave function of j with a width of
# over 6 nodes there, where the grid sum equals the integer sum to far below rounding).
_TWEEDIE_NODES = 128
_TWEEDIE_ROWS = 4096  # observations per block: the block's (rows, nodes) arrays stay small


def _stirling_correction_anywhere(x):
    """log Gamma(x) - ((x - 1/2) log x - x + log(2 pi)/2) for every x > 0 (``_stirling_correction``
    is the series, for x >= 10): from log Gamma directly below 15, where the two are of moderate
    size, and the series above, where subtracting them would cancel."""
    x = np.asarray(x, dtype=np.float64)
    out = _stirling_correction(np.maximum(x, 15.0))
    small = x < 15
    if small.any():
        xs = x[small]
        out[small] = _special().gammaln(xs) - ((xs - 0.5) * np.log(xs) - xs + 0.5 * math.log(2 * math.pi))
    return out


def _tweedie_log_base(y, phi, p):
    """log c_p(y, phi) of the Tweedie density c_p(y, phi) exp(-d(y, mu) / (2 phi)), 1 < p < 2.

    0 at y = 0. For y > 0, c_p = (1/y) sum_j W_j e^(-J/(p-1)) with W_j = z^j / (j! Gamma(alpha j))
    (Dunn and Smyth 2005), alpha = (2-p)/(p-1) and J = y^(2-p) / (phi (2-p)), near which the
    terms peak. Written with Stirling's formula, log W_j - J/(p-1) is
        -(1 + alpha) J h(j/J) + log(alpha)/2 - log(2 pi) - corr(j) - corr(alpha j),
    h(t) = 1 - t + t log t >= 0, corr the Stirling correction: every piece is of the size of the
    result, so nothing of size J cancels (summing log W_j itself loses J * eps, 1e-9 at J = 1e5).
    The terms are summed by log-sum-exp over the nodes around J. Works in float64 and returns
    the inputs' dtype.
    """
    dtype = _float_dtype(y, phi, p)
    y, phi, p = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, phi, p)))
    shape = y.shape
    y, phi, p = (v.ravel() for v in (y, phi, p))
    out = np.zeros(y.shape, dtype=np.float64)
    where = y > 0
    yv, ph, pw = y[where], phi[where], p[where]
    result = np.empty(yv.shape)
    k = np.arange(_TWEEDIE_NODES, dtype=np.float64)
    for start in range(0, yv.size, _TWEEDIE_ROWS):
        block = slice(start, start + _TWEEDIE_ROWS)
        yb, fb, pb = yv[block], ph[block], pw[block]
        alpha = (2 - pb) / (pb - 1)
        log_y = np.log(yb)
        log_mode = (2 - pb) * log_y - np.log(fb) - np.log(2 - pb)  # log J, formed in logs: J may underflow
        mode = np.exp(log_mode)
        width = 10 * np.sqrt(mode / (1 + alpha)) + 10
        lo = np.maximum(1.0, np.floor(mode - width))
        count = np.ceil(mode + width) - lo + 1
        step = np.where(count <= _TWEEDIE_NODES, 1.0, (count - 1) / (_TWEEDIE_NODES - 1))
        columns = int(min(_TWEEDIE_NODES, count.max()))  # no more nodes than this block's widest window
        j = lo[:, None] + step[:, None] * k[:columns]
        J, log_J = mode[:, None], log_mode[:, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            u = (j - J) / J
            near = np.abs(u) <= 0.5
            # J h(j/J): near the mode as J ((1+u) log1p(u) - u), which keeps the digits of u^2/2;
            # away from it as J - j + j (log j - log J), with log J never formed from an underflowed J
            Jh = np.where(near, J * ((1 + u) * np.log1p(np.where(near, u, 0)) - u), J - j + j * (np.log(j) - log_J))
        a = alpha[:, None]
        log_w = -(1 + a) * Jh - _stirling_correction_anywhere(j) - _stirling_correction_anywhere(a * j) + np.log(step)[:, None]
        log_w = np.where(k[:columns] < count[:, None], log_w, -np.inf)
        top = np.max(log_w, axis=1)
        log_sum = top + np.log(np.sum(np.exp(log_w - top[:, None]), axis=1))
        result[block] = log_sum + 0.5 * np.log(alpha) - math.log(2 * math.pi) - log_y
    out[where] = result
    out = out.reshape(shape).astype(dtype, copy=False)
    return out if shape else out[()]


def _x_exp(u, *factors):
    """x1 x2 ... e^u. Where the plain product over- or underflows (while no factor is 0 or
    inf), it is formed from mantissas and binary exponents (np.frexp / np.ldexp), with
    e^u as e^(u/2) e^(u - u/2): a few ulps, and no intermediate out of range. Past
    |u| = 1400, where e^(u/2) itself overflows, e^(u + sum log|x_i|) with the sign."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        x = factors[0]
        for f in factors[1:]:
            x = x * f
        out = x * np.exp(u)
        # A factor of exactly 0 makes the product 0 for every finite u, where 0 * e^1000 is nan
        # (a zero-inflated model's pi e^rate at pi = 0, rate = 1000).
        zero = np.zeros(np.shape(out), dtype=bool)
        for f in factors:
            zero = zero | (f == 0)
        out = np.where(zero & (u < np.inf), np.zeros((), out.dtype), out)
        redo = (~np.isfinite(out) | (out == 0)) & np.isfinite(u)
        for f in factors:
            redo = redo & (f != 0) & np.isfinite(f)
        if not np.any(redo):
            return out
        half = u / 2
        m1, e1 = np.frexp(np.exp(half))
        m2, e2 = np.frexp(np.exp(u - half))
        mant, expo = m1 * m2, e1 + e2
        sign, logs = 1, u
        for f in factors:
            m, e = np.frexp(f)
            mant, expo = mant * m, expo + e
            sign, logs = sign * np.sign(f), logs + np.log(np.abs(f))
        split = np.ldexp(mant, expo)
        inside = np.isfinite(m1) & np.isfinite(m2) & (m1 != 0) & (m2 != 0)
        return np.where(redo, np.where(inside, split, sign * np.exp(logs)), out)


# --- double-double arithmetic (error-free transformations), for bases of large powers ---


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    # Veltkamp's split: hi holds the upper half of the mantissa, so hi * hi is exact.
    factor = 4097.0 if _float_dtype(a) == np.float32 else 134217729.0
    c = factor * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _renormalize(hi, lo):
    s = hi + lo
    return s, lo - (s - hi)


def _dd_add(x, y):
    s, e = _two_sum(x[0], y[0])
    return _renormalize(s, e + x[1] + y[1])


def _dd_neg(x):
    return -x[0], -x[1]


def _dd_abs(x):
    sign = np.where(x[0] != 0, np.sign(x[0]), np.sign(x[1]))
    return x[0] * sign, x[1] * sign


def _dd_mul(x, y):
    p, e = _two_prod(x[0], y[0])
    return _renormalize(p, e + x[0] * y[1] + x[1] * y[0])


def _dd_div(x, y):
    q = x[0] / y[0]
    p, e = _two_prod(q, y[0])
    r = (((x[0] - p) - e) + x[1]) - q * y[1]
    return _renormalize(q, r / y[0])


def _dd_logabs(x):
    """log|hi + lo| = log|hi| + log1p(lo/hi)."""
    hi, lo = x
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(hi != 0, lo / np.where(hi != 0, hi, 1), 0)
        return np.log(np.abs(hi)) + np.log1p(ratio)


def _dd_pow(x, e, log_base):
    """(hi + lo)^e = hi^e (1 + lo/hi)^e, the correction being exp(e log1p(lo/hi)). Where hi
    is out of the normal range (y/lam = 1e-46 in float32) or the power over- or underflows
    on the way, exp(e log(base)) with the log taken factor by factor."""
    hi, lo = x
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ratio = np.where(hi != 0, lo / np.where(hi != 0, hi, 1), 0)
        out = np.power(hi, e) * np.exp(e * np.log1p(ratio))
        tiny = np.finfo(_float_dtype(hi)).tiny
        # (a base that is exactly 0 has log -inf: there power(0, e) is already right, 0^0 = 1 included)
        redo = (~np.isfinite(out) | (out == 0) | (np.abs(hi) < tiny)) & ~np.isneginf(log_base)
        if np.any(redo):
            out = np.where(redo, np.exp(e * log_base), out)
    return out


def _dd_cos(x):
    # cos(hi + lo) by the addition formula: lo is up to half an ulp of hi, which is 4 for
    # hi = 1e8 in float32, so no term of it may be dropped.
    return np.cos(x[0]) * np.cos(x[1]) - np.sin(x[0]) * np.sin(x[1])


def _dd_sin(x):
    return np.sin(x[0]) * np.cos(x[1]) + np.cos(x[0]) * np.sin(x[1])


def _dd_cosm1(x):
    # cos(h + l) - 1 = cosm1(h) cos(l) + cosm1(l) - sin(h) sin(l), every term small when h + l is
    return _cosm1(x[0]) * np.cos(x[1]) + _cosm1(x[1]) - np.sin(x[0]) * np.sin(x[1])


def _log1p_positive(x, log_x):
    """log1p(x) for x > 0; where x over- or underflowed, softplus(log x) (log_x() is
    called only then)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = np.log1p(x)
        redo = ~np.isfinite(out) | (x == 0)
        if np.any(redo):
            out = np.where(redo, np.logaddexp(0, log_x()), out)
    return out


# The Bessel routines compute in float64 (scipy's ive has no float32 loop of its own) and return
# the dtype of their argument (_float_dtype, above): float32 in, float32 out.
def _bessel_split(nu, x, small_where):
    """(nu, x) as float64 arrays of one shape, the mask of the entries ``small_where(nu, x)``
    picks, and an output array: each branch is computed only on its own entries (scipy's ive
    costs about 1 us a value, so computing both everywhere would double the kernel's time)."""
    nu, x = np.broadcast_arrays(np.asarray(nu, dtype=float), np.asarray(x, dtype=float))
    return nu, x, small_where(nu, x), np.empty(x.shape)


def _near_zero(nu, x):
    # x^2/4 <= (nu + 1)/4: the ascending series' ratio of terms is at most 1/(4k)
    return x * x <= nu + 1


def _ascending_series(nu, x):
    # sum_k (x^2/4)^k / (k! (nu+1)_k) (DLMF 10.25.2), the factor of I_nu(x) after (x/2)^nu / Gamma(nu + 1),
    # less its first term 1; where _near_zero holds its 24th term is below 1e-40 of the first.
    q = x * x / 4
    term, series = np.ones_like(q), np.zeros_like(q)
    for k in range(1, 25):
        term = term * q / (k * (nu + k))
        series = series + term
    return series


def _log_iv(nu, x):
    # log I_nu(x) for x > 0. Near 0 the ascending series, in logs: ive itself underflows there
    # for large nu (and log(ive) + x cancels near x = 0). Elsewhere log(ive(nu, x)) + x:
    # ive = e^-x I_nu(x) stays finite where I_nu overflows (x > 713).
    s = _special()
    dtype = _float_dtype(x)
    nu, x, small, out = _bessel_split(nu, x, _near_zero)
    a, b = nu[small], x[small]
    out[small] = a * np.log(b / 2) - s.gammaln(a + 1) + np.log1p(_ascending_series(a, b))
    a, b = nu[~small], x[~small]
    out[~small] = np.log(s.ive(a, b)) + b
    return out.astype(dtype, copy=False)


def _log_iv_over_power(nu, x):
    # log(I_nu(x) / x^nu) for x > 0: the series branch of _log_iv without its nu log x (which the
    # caller's -nu log x would cancel: 28 against 28 at x = 1e-8, nu = 3/2); elsewhere
    # log(ive(nu, x)) + x - nu log x, where nothing cancels that the rounding of x itself does not.
    s = _special()
    dtype = _float_dtype(x)
    nu, x, small, out = _bessel_split(nu, x, _near_zero)
    a, b = nu[small], x[small]
    out[small] = -a * np.log(2.0) - s.gammaln(a + 1) + np.log1p(_ascending_series(a, b))
    a, b = nu[~small], x[~small]
    out[~small] = np.log(s.ive(a, b)) + b - a * np.log(b)
    return out.astype(dtype, copy=False)


def _iv_ratio(nu, x):
    # I_(nu+1)(x) / I_nu(x) for x > 0: the ratio of the scaled functions, except for x <= 1,
    # where ive(nu, x) may underflow (large nu) and Gauss's continued fraction
    # x / (2(nu+1) + x^2 / (2(nu+2) + ...)) (DLMF 10.33.1), summed from the tail, converges in a few terms.
    s = _special()
    dtype = _float_dtype(x)
    nu, x, small, out = _bessel_split(nu, x, lambda nu, x: x <= 1.0)
    a, b = nu[small], x[small]
    tail = np.zeros_like(b)
    for k in range(30, 0, -1):
        tail = b * b / (2 * (a + k) + tail)
    with np.errstate(invalid="ignore"):
        out[small] = tail / b
    a, b = nu[~small], x[~small]
    with np.errstate(under="ignore"):
        out[~small] = s.ive(a + 1, b) / s.ive(a, b)
    return out.astype(dtype, copy=False)


def _cosm1(x):
    # cos(x) - 1 = -2 sin(x/2)^2 keeps the digits that 1 - cos(x) cancels (x = 1e-8 gives 5e-17, not 0).
    s = np.sin(x / 2)
    return -2 * s * s


def _i1_over_i0(x):
    # I1(x) / I0(x) as a ratio of the scaled functions, finite for every x.
    s = _special()
    return s.i1e(x) / s.i0e(x)


# 1 - I1(x)/I0(x) ~ sum_k a_k x^-k for large x: a_1 = 1/2 and 2 a_k = (k - 2) a_(k-1) + sum_i a_i a_(k-i),
# term by term from Riccati's equation r' = 1 - r/x - r^2 for r = I1/I0. Asymptotic: from x = 30 the
# twenty terms below reach 1e-17 of the sum (the 20th is 2e-19 there, and the terms still fall).
_RATIO_DEFICIT = (0.5, 0.125, 0.125, 0.1953125, 0.40625, 1.0478515625, 3.21875, 11.466461181640625, 46.478515625, 211.27614974975586, 1064.67822265625, 5892.0457146167755, 35528.87744140625, 231884.6359563172, 1628749.4532470703, 12251067.63286615, 98252781.81546783, 836956449.7799761, 7546911569.366995, 71816112232.68327)


def _bessel_ratio_deficit(x):
    """I1(x)/I0(x) - sign(x): the series above from |x| = 30, where i1e/i0e - 1 would keep the
    ratio's rounding (1e-16 next to 5e-9 at x = 1e8); i1e/i0e - 1 below (the ratio is 0.98 at 30)."""
    x = np.asarray(x)
    ax = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1 / np.maximum(ax, 30)
        series = np.zeros_like(inv)
        for c in reversed(_RATIO_DEFICIT):  # Horner in 1/x
            series = (series + c) * inv
        s = _special()
        direct = s.i1e(ax) / s.i0e(ax) - 1
    return np.sign(x) * np.where(ax >= 30, -series, direct)


def _onehot(index, like):
    """One-hot rows for class indices, shaped like ``like`` (whose last axis holds the classes)."""
    index = np.asarray(index)
    return (np.arange(like.shape[-1]) == index[..., None]).astype(like.dtype)


def _event(a):
    """An observation-level array used inside a sum over the event axis."""
    a = np.asarray(a)
    return a[..., None] if a.ndim else a


def _components(*parts):
    """An array over the event axis from its entries, one per position (a gradient in an event
    input written out component by component: the multivariate normal's mu)."""
    parts = np.broadcast_arrays(*(np.asarray(p) for p in parts))
    return np.stack(parts, axis=-1)


def _gather(a, index):
    """a[..., index] along the last axis, for class-index targets."""
    a = np.asarray(a)
    index = np.asarray(index)
    if a.ndim == 2 and index.shape == a.shape[:1] and index.dtype.kind in "iu":
        # rows of logits and one index per row (the usual batch): plain indexing, without
        # take_along_axis's broadcasting (15 us a call on a small batch)
        return a[np.arange(len(index)), index]
    index = index[..., None]
    shape = np.broadcast_shapes(a.shape[:-1], index.shape[:-1])
    a = np.broadcast_to(a, shape + a.shape[-1:])
    return np.take_along_axis(a, np.broadcast_to(index, shape + (1,)), axis=-1)[..., 0]


def _stack(entries, shape, *arrays):
    """One observation's vector or matrix ``[..., *shape]`` from its entries (row by row),
    each broadcast to every input's shape: a constant entry (the Fisher information
    1/sigma^2 in mu) is one value per observation, not one for all. The inputs' floating
    dtype is kept (a constant printed as a Python float does not raise float32 to float64)."""
    values = [np.asarray(e) for e in entries]
    arrays = [np.asarray(a) for a in arrays]
    obs = np.broadcast_shapes(*(a.shape for a in arrays), *(v.shape for v in values))
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
    out = np.empty(obs + tuple(shape), dtype=dtype)
    flat = out.reshape(obs + (len(values),))  # a view: out is contiguous
    for i, v in enumerate(values):
        flat[..., i] = v
    return out


def _branches(select):
    """Evaluate a printed Piecewise (np.select over every branch) without the floating-point
    warnings of the branches it does not take (a division by zero where another branch is chosen)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return select()


NAMESPACE = {
    "np": np,
    "_branches": _branches,
    "_stack": _stack,
    "_components": _components,
    "_logsumexp": _logsumexp,
    "_logsumexp_minus": _logsumexp_minus,
    "_neg_log_softmax": _neg_log_softmax,
    "_scaled_softmax_minus": _scaled_softmax_minus,
    "_xlogy": _xlogy,
    "_xlog1py": _xlog1py,
    "_sigmoid": _sigmoid,
    "_softmax": _softmax,
    "_pin_infinite_rows": _pin_infinite_rows,
    "_xdivy": _xdivy,
    "_digamma": _digamma,
    "_trigamma": _trigamma,
    "_betaln": _betaln,
    "_logcosh": _logcosh,
    "_log_binomial": _log_binomial,
    "_digamma_diff": _digamma_diff,
    "_lgamma_diff": _lgamma_diff,
    "_log_i0": _log_i0,
    "_log_i0e": _log_i0e,
    "_i1_over_i0": _i1_over_i0,
    "_bessel_ratio_deficit": _bessel_ratio_deficit,
    "_log_iv": _log_iv,
    "_log_iv_over_power": _log_iv_over_power,
    "_iv_ratio": _iv_ratio,
    "_tweedie_log_base": _tweedie_log_base,
    "_onehot": _onehot,
    "_cosm1": _cosm1,
    "_dd_cos": _dd_cos,
    "_dd_sin": _dd_sin,
    "_dd_cosm1": _dd_cosm1,
    "_log1p_positive": _log1p_positive,
    "_dd_pow": _dd_pow,
    "_dd_logabs": _dd_logabs,
    "_dd_div": _dd_div,
    "_dd_mul": _dd_mul,
    "_dd_abs": _dd_abs,
    "_dd_neg": _dd_neg,
    "_dd_add": _dd_add,
    "_x_exp": _x_exp,
    "_xmul": _xmul,
    "_event": _event,
    "_safe_ratio": _safe_ratio,
    "_erf": _erf,
    "_erfc": _erfc,
    "_log_ndtr": _log_ndtr,
    "_inverse_mills": _inverse_mills,
    "_log_erfc": _log_erfc,
    "_log1mexp": _log1mexp,
    "_x_over_expm1_neg": _x_over_expm1_neg,
    "_log_ratio": _log_ratio,
    "_log_expm1": _log_expm1,
    "_gather": _gather,
    "_same_rows": _same_rows,
    "_scaled_square": _scaled_square,
}


# How the printer (codegen.SymlikNumPyPrinter) calls these helpers: function (SymPy's or symlik's
# class name) -> the helper's name in NAMESPACE, called with the function's own arguments. It is
# kept here, beside the helpers, so that a new stable function's NumPy form is one file's edit.
# Never log(gamma(x)) or math.lgamma: Gamma overflows at 171.
PRINTED_AS = {
    "Sigmoid": "_sigmoid",
    "XLog1PY": "_xlog1py",
    "XExp": "_x_exp",
    "XMul": "_xmul",
    "XDivY": "_xdivy",
    "LogGamma": "_gammaln",
    "loggamma": "_gammaln",
    "digamma": "_digamma",
    "trigamma": "_trigamma",
    "LogBeta": "_betaln",
    "LogBinomial": "_log_binomial",
    "LogGammaDiff": "_lgamma_diff",
    "DigammaDiff": "_digamma_diff",
    "LogCosh": "_logcosh",
    "LogBesselI0": "_log_i0",
    "LogBesselI0e": "_log_i0e",
    "BesselI1I0Ratio": "_i1_over_i0",
    "BesselRatioDeficit": "_bessel_ratio_deficit",
    "LogBesselI": "_log_iv",
    "LogBesselIOverPower": "_log_iv_over_power",
    "BesselIRatio": "_iv_ratio",
    "LogNdtr": "_log_ndtr",
    "InverseMills": "_inverse_mills",
    "LogErfc": "_log_erfc",
    "Log1mExp": "_log1mexp",
    "XOverExpm1Neg": "_x_over_expm1_neg",
    "LogExpm1": "_log_expm1",
    "LogRatio": "_log_ratio",
    "erfc": "_erfc",  # as erf: math.erfc is scalar-only
    "NegLogPoisson": "_neg_log_poisson",
    "NegLogPoissonLog": "_neg_log_poisson_log",
    "NegLogBinomial": "_neg_log_binomial",
    "NegLogBinomialLogit": "_neg_log_binomial_logit",
    "NegLogNegBinomial": "_neg_log_neg_binomial",
    "NegLogNegBinomialLogit": "_neg_log_neg_binomial_logit",
    "TweedieLogBase": "_tweedie_log_base",
    "DigammaMinusLog": "_digamma_minus_log",
    "GammaDeviance": "_gamma_deviance",
    "GammaDevianceLog": "_gamma_deviance_log",
    "NegLogGamma": "_neg_log_gamma",
    "NegLogGammaLog": "_neg_log_gamma_log",
    "NegLogBeta": "_neg_log_beta",
    "NegLogBetaLogit": "_neg_log_beta_logit",
    "erf": "_erf",  # math.erf is scalar-only; _erf takes arrays (SciPy's erf, or a NumPy fallback)
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


# --- Loader's saddle-point pieces: bd0 and stirlerr ----------------------------
# C. Loader, "Fast and accurate computation of binomial probabilities" (2000), the
# algorithm behind R's dpois/dbinom. -log Poisson(y; m) = bd0(y, m) + stirlerr(y) +
# log(2 pi y)/2 is a sum of non-negative terms: no cancellation at y = m = 1e6,
# where m - y log m + lgamma(y + 1) subtracts terms of 1.3e7 to leave 7.8.

# Stirling's series for stirlerr(n) = sum_k B_2k / (2k (2k - 1) n^(2k - 1)): the
# first eight terms reach 1e-18 relative at n = 15.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)


# stirlerr at n = 1/2, 1, 3/2, ..., 15 (mpmath, 40 digits): below 15 the direct difference
# of log-gamma and the Stirling terms (~40) keeps only 12 digits of a value ~0.006.
_STIRLERR_HALVES = np.array([
    0.15342640972002736, 0.08106146679532726, 0.05481412105191765, 0.0413406959554093, 0.03316287351993629,
    0.02767792568499834, 0.023746163656297496, 0.020790672103765093, 0.018488450532673187, 0.016644691189821193,
    0.015134973221917378, 0.013876128823070748, 0.012810465242920227, 0.01189670994589177, 0.011104559758206917,
    0.010411265261972096, 0.009799416126158804, 0.009255462182712733, 0.008768700134139386, 0.00833056343336287,
    0.00793411456431402, 0.007573675487951841, 0.007244554301320383, 0.00694284010720953, 0.006665247032707682,
    0.006408994188004207, 0.006171712263039458, 0.0059513701127588475, 0.0057462165130101155, 0.005554733551962801,
])


def _stirlerr(n):
    """log Gamma(n + 1) - (n + 1/2) log n + n - log(2 pi)/2, for n > 0."""
    dtype = _float_dtype(n)
    n = np.asarray(n, dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        large = n > 15
        safe = np.where(large, n, 16)
        inv2 = 1 / (safe * safe)
        series = np.zeros(n.shape, dtype)
        for c in reversed(_STIRLING):  # Horner in 1/n^2
            series = series * inv2 + c
        series = series / safe
        twice = 2 * n
        halves = ~large & (twice == np.round(twice)) & (twice >= 1)
        tabled = _STIRLERR_HALVES[np.where(halves, twice, 1).astype(np.intp) - 1].astype(dtype)
        # Elsewhere below 15 (a non-count y), the direct difference: about 12 digits of the value,
        # an absolute error under 1e-14 in a total of at least 1.
        small = np.where(large, 1, n)
        direct = _gammaln(small + 1) - (small + 0.5) * np.log(small) + small - 0.5 * np.log(2 * np.pi)
    return np.where(large, series, np.where(halves, tabled, direct)).astype(dtype, copy=False)


def _bd0(x, m):
    """x log(x / m) + m - x >= 0, the deviance term, without its cancellation near x = m."""
    dtype = _float_dtype(x, m)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=dtype), np.asarray(m, dtype=dtype))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        near = np.abs(x - m) < 0.1 * (x + m)
        # Near x = m: with v = (x - m)/(x + m), bd0 = (x - m) v + 2 x sum_j v^(2j+1)/(2j+1), j >= 1;
        # |v| < 0.1, so each term is 100 times smaller than the last and 9 reach 1e-18.
        v = np.where(near, (x - m) / (x + m), 0)
        s = (x - m) * v
        term = 2 * x * v
        v2 = v * v
        for j in range(1, 10):
            term = term * v2
            s = s + term / (2 * j + 1)
        # Elsewhere the direct form loses at most ~50 ulps (x/m outside [0.82, 1.22]); log(x/m)
        # keeps the ratio's one rounding, and log x - log m stands in where x/m over/underflows.
        ratio = x / m
        logratio = np.where((ratio > 0) & np.isfinite(ratio), np.log(ratio), np.log(x) - np.log(m))
        far = np.where(x == 0, m, x * logratio + m - x)  # 0 log 0 = 0: bd0(0, m) = m
    return np.where(near, s, far)


def _neg_log_poisson(y, rate):
    """-log Poisson(y; rate) by the saddle-point form; rate at y = 0 (stirlerr(0) is not finite)."""
    dtype = _float_dtype(y, rate)  # float64 inside (the saddle terms want it), the inputs' dtype out
    y, rate = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(rate, dtype=np.float64))
    positive = y > 0
    ys = np.where(positive, y, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = _bd0(ys, rate) + _stirlerr(ys) + 0.5 * np.log(2 * np.pi * ys)
    return np.where(positive, value, rate).astype(dtype, copy=False)




def _neg_log_poisson_log(y, z):
    """-log Poisson(y; e^z): the saddle-point form where e^z is a normal number; e^z - y z +
    lgamma(y + 1) where it underflows or overflows (no cancellation there: e^z is far from y)."""
    dtype = _float_dtype(y, z)
    y, z = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(z, dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        rate = np.exp(z)
        normal = (rate >= np.finfo(np.float64).tiny) & np.isfinite(rate)
        direct = rate - y * z + _gammaln(y + 1)
    return np.where(normal, _neg_log_poisson(y, np.where(normal, rate, 1)), direct).astype(dtype, copy=False)


NAMESPACE["_neg_log_poisson"] = _neg_log_poisson
NAMESPACE["_neg_log_poisson_log"] = _neg_log_poisson_log


def _binomial_saddle(y, n, np_, nq):
    """-log Binomial(y; n, p) for 0 < y < n from n p and n (1 - p) (Loader): the deviance terms
    and Stirling remainders are small and mostly of one sign, log(2 pi y (n - y) / n) last."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (_bd0(y, np_) + _bd0(n - y, nq) + _stirlerr(y) + _stirlerr(n - y) - _stirlerr(n)
                + 0.5 * np.log(2 * np.pi * y * ((n - y) / n)))


def _neg_log_binomial(y, n, p):
    # Computed in float64 whatever the inputs: in float32, n + y of the negative binomial
    # (which calls this) drops y < n * 6e-8, and the saddle terms need the digits.
    dtype = _float_dtype(y, n, p)
    y, n, p = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, n, p)))
    inner = (y > 0) & (y < n)
    ys = np.where(inner, y, 1)
    ns = np.where(inner, n, 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np_, nq = ns * p, ns * (1 - p)
        middle = _binomial_saddle(ys, ns, np_, nq)
        # n p underflowing (p = 1e-320): far from y, so the plain form is exact and finite.
        direct = -ys * np.log(p) - (ns - ys) * np.log1p(-p) - _log_binomial(ns, ys)
        tiny = np.finfo(np.float64).tiny
        middle = np.where((np_ >= tiny) & (nq >= tiny), middle, direct)
        # The ends: -n log(1 - p) (log1p keeps a tiny p) at y = 0, -n log p at y = n.
        ends = np.where(y == 0, -n * np.log1p(-p), -n * np.log(p))
    return np.where(inner, middle, ends).astype(dtype, copy=False)


def _neg_log_binomial_logit(y, n, z):
    dtype = _float_dtype(y, n, z)
    y, n, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, n, z)))
    inner = (y > 0) & (y < n)
    ys = np.where(inner, y, 1)
    ns = np.where(inner, n, 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # n p = n sigmoid(z) and n (1 - p) = n sigmoid(-z): neither rounds 1 - p.
        np_, nq = ns * _sigmoid(z), ns * _sigmoid(-z)
        middle = _binomial_saddle(ys, ns, np_, nq)
        # Where n p or n q underflows (z = -1000), the prediction is far from y and bd0(y, 0) is not
        # finite: y softplus(-z) + (n - y) softplus(z) - log C(n, y), each term the size of the result
        # (n softplus(z) - y z subtracts 1e11 from 1e11 to leave 1e4 at n = 1e8 + 10, y = 1e8, z = 1018).
        direct = ys * np.logaddexp(0, -z) + (ns - ys) * np.logaddexp(0, z) - _log_binomial(ns, ys)
        tiny = np.finfo(np.float64).tiny
        middle = np.where((np_ >= tiny) & (nq >= tiny), middle, direct)
        ends = np.where(y == 0, n * np.logaddexp(0, z), n * np.logaddexp(0, -z))
    return np.where(inner, middle, ends).astype(dtype, copy=False)


NAMESPACE["_neg_log_binomial"] = _neg_log_binomial
NAMESPACE["_neg_log_binomial_logit"] = _neg_log_binomial_logit


# The negative binomial is n/(n + y) times the binomial pmf of n successes in n + y trials:
# -log NB(y; n, p) = log1p(y/n) - log Bin(n; n + y, p), and the binomial's saddle point applies.
def _neg_log_neg_binomial(y, n, p):
    dtype = _float_dtype(y, n, p)
    y, n, p = (np.asarray(v, dtype=np.float64) for v in (y, n, p))  # n + y in float32 drops y < 6e-8 n
    return (np.log1p(y / n) + _neg_log_binomial(n, n + y, p)).astype(dtype, copy=False)


def _neg_log_neg_binomial_logit(y, n, z):
    dtype = _float_dtype(y, n, z)
    y, n, z = (np.asarray(v, dtype=np.float64) for v in (y, n, z))
    return (np.log1p(y / n) + _neg_log_binomial_logit(n, n + y, z)).astype(dtype, copy=False)


NAMESPACE["_neg_log_neg_binomial"] = _neg_log_neg_binomial
NAMESPACE["_neg_log_neg_binomial_logit"] = _neg_log_neg_binomial_logit


# --- The gamma NLL as a deviance plus a Stirling term --------------------------
# -log Gamma(y; k, mu) = k (y/mu - 1 - log(y/mu)) + stirlerr(k) - log(k / (2 pi))/2 + log y
# (log Gamma(k) = stirlerr(k) + (k - 1/2) log k - k + log(2 pi)/2). The deviance is >= 0 and
# small near y = mu; the plain form subtracts terms of 1.8e9 there at k = 1e8.


def _expm1mx(t):
    """e^t - 1 - t >= 0, a series below |t| = 0.5 (t^2/2 + t^3/6 + ...: expm1(t) - t cancels there)."""
    small = np.abs(t) < 0.5
    ts = np.where(small, t, 0)
    term = ts * ts / 2
    series = term
    for j in range(3, 24):  # 0.5^23 / 23! < 1e-29 of the leading t^2/2
        term = term * ts / j
        series = series + term
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(small, series, np.expm1(t) - t)


def _gamma_deviance(y, mu):
    """y/mu - 1 - log(y/mu) >= 0: -log1pmx(r) with r = (y - mu)/mu (exact near y = mu) where
    |r| < 1/2, else the plain form, with log y - log mu where y/mu over- or underflows."""
    dtype = _float_dtype(y, mu)
    y, mu = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(mu, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = (y - mu) / mu
        # |r| < 1/2: y - mu is exact (Sterbenz) and log1pmx has all its digits; beyond, r near -1
        # (y << mu) would leave log1p(r) one rounding of 1 + r, and the plain form cancels little.
        near = np.abs(r) < 0.5
        near_value = -_log1pmx(np.where(near, r, 0))
        ratio = y / mu
        normal = (ratio >= np.finfo(np.float64).tiny) & np.isfinite(ratio)
        log_ratio = np.where(normal, np.log(np.where(normal, ratio, 1)), np.log(y) - np.log(mu))
        far = ratio - 1 - log_ratio
    return np.where(near, near_value, far).astype(dtype, copy=False)


def _gamma_deviance_log(y, z):
    """y e^-z - 1 - log y + z = e^t - 1 - t with t = log y - z: no e^-z to overflow."""
    dtype = _float_dtype(y, z)
    y, z = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(z, dtype=np.float64))
    with np.errstate(divide="ignore"):
        t = np.log(y) - z
    return _expm1mx(t).astype(dtype, copy=False)


def _digamma_minus_log(k):
    """psi(k) - log k: the asymptotic series -1/(2k) - sum_j c_j k^-2j from k = 10 (the two
    terms of size log k cancel to -1/(2k) there), SciPy's psi(k) - log k below (at most ~20x)."""
    dtype = _float_dtype(k)
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        large = k >= 10
        ks = np.where(large, k, 10)
        inv2 = 1 / (ks * ks)
        series = np.zeros(k.shape)
        for c in reversed(_PSI_ASYMPTOTIC):  # Horner in 1/k^2
            series = series * inv2 + c
        asymptotic = -0.5 / ks - series * inv2
        small = np.where(large, 1, k)
        direct = _digamma(small) - np.log(small)
    return np.where(large, asymptotic, direct).astype(dtype, copy=False)


def _gamma_stirling_part(y, k):
    """stirlerr(k) - log(k / (2 pi))/2 + log y: log Gamma(k) - (k - 1/2) log k + k + log y."""
    return _stirlerr(k) - 0.5 * np.log(k / (2 * np.pi)) + np.log(y)


def _neg_log_gamma(y, mu, k):
    dtype = _float_dtype(y, mu, k)
    y, mu, k = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, mu, k)))
    positive = y > 0
    ys = np.where(positive, y, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = k * _gamma_deviance(ys, mu) + _gamma_stirling_part(ys, k)
        # y = 0 (in the support only at k = 1): the plain form, exact there (0 log 0 = 0).
        at_zero = k * np.log(mu) - k * np.log(k) + _xlogy(1 - k, y) + _gammaln(k)
    return np.where(positive, value, at_zero).astype(dtype, copy=False)


def _neg_log_gamma_log(y, z, k):
    dtype = _float_dtype(y, z, k)
    y, z, k = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, z, k)))
    positive = y > 0
    ys = np.where(positive, y, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = k * _gamma_deviance_log(ys, z) + _gamma_stirling_part(ys, k)
        at_zero = k * z - k * np.log(k) + _xlogy(1 - k, y) + _gammaln(k)
    return np.where(positive, value, at_zero).astype(dtype, copy=False)


NAMESPACE["_digamma_minus_log"] = _digamma_minus_log
NAMESPACE["_gamma_deviance"] = _gamma_deviance
NAMESPACE["_gamma_deviance_log"] = _gamma_deviance_log
NAMESPACE["_neg_log_gamma"] = _neg_log_gamma
NAMESPACE["_neg_log_gamma_log"] = _neg_log_gamma_log


# --- The beta NLL in saddle-point form -------------------------------------------
# -log Beta(y; a, b) = bd0(a, s y) + bd0(b, s (1 - y)) + log(s / (a b))/2 + log(y (1 - y))
# + log(2 pi)/2 + stirlerr(a) + stirlerr(b) - stirlerr(s), s = a + b (NegLogBeta's docstring).


def _beta_saddle(y, a, b, s, inner):
    """The saddle-point form where ``inner`` (y in (0, 1), a, b >= 1, s y and s (1 - y) normal), with
    s = a + b: rounded, bd0's linear terms s y + s (1 - y) - a - b carry exactly the rounding error
    of s, to first order the error it causes in a log(a/(s y)) + b log(b/(s (1 - y)))."""
    ys = np.where(inner, y, 0.5)
    big, small = np.maximum(a, b), np.minimum(a, b)
    return (_bd0(a, np.where(inner, s * ys, 1)) + _bd0(b, np.where(inner, s * (1 - ys), 1))
            + 0.5 * (np.log1p(small / big) - np.log(small))  # log(s/(a b))/2, no product to overflow
            + np.log(ys) + np.log1p(-ys) + 0.5 * np.log(2 * np.pi)
            + (_stirlerr(a) + _stirlerr(b) - _stirlerr(s)))


def _beta_inner(y, a, b, s):
    # Below a = 1 or b = 1 nothing cancels in the plain form (its terms are of the result's size),
    # while the saddle's Stirling remainders of a tiny a are themselves large.
    tiny = np.finfo(np.float64).tiny
    return ((y > 0) & (y < 1) & (np.minimum(a, b) >= 1) & (s * y >= tiny) & (s * (1 - y) >= tiny)
            & np.isfinite(s))


def _neg_log_beta(y, a, b):
    dtype = _float_dtype(y, a, b)  # float64 inside: a + b in float32 drops b < 6e-8 a
    y, a, b = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, a, b)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = a + b
        inner = _beta_inner(y, a, b, s)
        saddle = _beta_saddle(y, a, b, s, inner)
        # Elsewhere (y at an edge, in the support where a = 1 or b = 1; s y underflowing) the plain
        # form, exact there (0 log 0 = 0; nothing cancels far from the mean)
        plain = _betaln(a, b) + _xlogy(1 - a, y) + _xlog1py(1 - b, -y)
    return np.where(inner, saddle, plain).astype(dtype, copy=False)


def _neg_log_beta_logit(y, z, phi):
    dtype = _float_dtype(y, z, phi)
    y, z, phi = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (y, z, phi)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a, b = phi * _sigmoid(z), phi * _sigmoid(-z)  # neither rounds 1 - sigmoid(z)
        inner = _beta_inner(y, a, b, phi)
        saddle = _beta_saddle(y, a, b, phi, inner)  # a + b = phi, exactly
        # log Gamma(a) = log Gamma(a + 1) - log phi + softplus(-z): finite where a underflows. The larger
        # of a, b with log Gamma(phi) as one difference, log Gamma(phi + 1 - small) - log Gamma(phi): the
        # two are 1.7e9 at phi = 1e8, and b = phi - a carries phi's rounding where 1 - a does not.
        small = np.minimum(a, b)
        plain = (_gammaln(small + 1) + _lgamma_diff(phi, 1 - small) - 2 * np.log(phi) + np.logaddexp(0, -z)
                 + np.logaddexp(0, z) + _xlogy(1 - a, y) + _xlog1py(1 - b, -y))
    return np.where(inner, saddle, plain).astype(dtype, copy=False)


NAMESPACE["_neg_log_beta_logit"] = _neg_log_beta_logit
NAMESPACE["_neg_log_beta"] = _neg_log_beta
