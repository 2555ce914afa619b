"""Extreme logits and probabilities at the edge: stable and accurate, against mpmath."""

import mpmath
import numpy as np
import pytest

import symlik

mpmath.mp.dps = 50


def _bce_logits_exact(z, y):
    z = mpmath.mpf(float(z))
    return float(mpmath.log1p(mpmath.exp(z)) - y * z)


def _ce_logits_exact(row, label):
    row = [mpmath.mpf(float(v)) for v in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row))
    return float(lse - row[label])


def _close(got, want, rtol, dtype, z):
    """Relative error within rtol; where the true value is near 0, an absolute bound
    scaled by the magnitude of the terms (eps * max|z|), the only meaningful one there."""
    atol = np.finfo(dtype).eps * np.max(np.abs(z))
    err = np.abs(got.astype(np.float64) - want)
    ok = (err <= rtol * np.abs(want)) | ((np.abs(want) < atol) & (err <= atol))
    assert np.all(ok), f"got {got}, want {want}"


@pytest.mark.parametrize("dtype,bound,rtol", [(np.float64, 1000.0, 1e-12), (np.float32, 100.0, 1e-5)])
def test_bce_with_logits_at_extreme_logits(dtype, bound, rtol):
    z = np.array([-bound, -bound / 2, -30, -1e-3, 0, 1e-3, 30, bound / 2, bound], dtype=dtype)
    k = symlik.compile("bernoulli", link="logit", reduction="none")
    for label in (0, 1):
        y = np.full(z.shape, label, dtype=dtype)
        got = k(z, y)
        assert got.dtype == dtype
        assert np.all(np.isfinite(got))
        want = np.array([_bce_logits_exact(v, label) for v in z.astype(np.float64)])
        _close(got, want, rtol, dtype, z)


@pytest.mark.parametrize("dtype,bound,rtol", [(np.float64, 1000.0, 1e-12), (np.float32, 100.0, 1e-5)])
def test_cross_entropy_with_logits_at_extreme_logits(dtype, bound, rtol):
    z = np.array([[bound, -bound, 0.0], [-bound, -bound, -bound], [bound, bound - 1, -bound], [0, 0, bound]], dtype=dtype)
    k = symlik.compile("categorical", link="softmax", reduction="none")
    for label in range(3):
        labels = np.full(z.shape[0], label)
        got = k(z, labels)
        assert np.all(np.isfinite(got))
        want = np.array([_ce_logits_exact(row, label) for row in z.astype(np.float64)])
        _close(got, want, rtol, dtype, z)
        _close(k(z, np.eye(3, dtype=dtype)[labels]), want, rtol, dtype, z)


def test_naive_forms_would_fail_here():
    # The oracle-free reason these tests exist: the naive formulas are inf/nan at these logits.
    z = np.array([-1000.0, 1000.0])
    with np.errstate(all="ignore"):
        naive = -np.log(1 / (1 + np.exp(-z)))
    assert not np.all(np.isfinite(naive))


def test_probabilities_of_exactly_zero_and_one_cost_nothing():
    k = symlik.compile("bernoulli", reduction="none")
    out = k(np.array([0.0, 1.0]), np.array([0, 1]))
    np.testing.assert_array_equal(out, [0.0, 0.0])
    kc = symlik.compile("categorical", reduction="none")
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(kc(p, np.array([0, 2])), [0.0, 0.0])
    np.testing.assert_array_equal(kc(p, p), [0.0, 0.0])


def _poisson_nll_exact(rate, y):
    rate, y = mpmath.mpf(float(rate)), mpmath.mpf(float(y))
    return float(rate - y * mpmath.log(rate) + mpmath.loggamma(y + 1))


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_poisson_nll_where_the_prediction_equals_a_large_count(dtype, rtol):
    # y = rate = 10^k: the problem is well conditioned (one ulp of input moves the value by
    # ~1e-16 relative), so the kernel must be accurate to rtol, not to the terms' 1.3e7.
    top = 15 if dtype == np.float64 else 7
    y = np.array([10.0**k for k in range(top + 1)] + [3.0, 17.0, 0.0], dtype=dtype)
    for rate in (y, y * dtype(1 + 1e-3), y * dtype(2.5), np.full(y.shape, 0.5, dtype)):
        rate = np.where(rate > 0, rate, dtype(0.25)).astype(dtype)
        got = symlik.compile("poisson", target="nll", reduction="none")(rate, y)
        assert got.dtype == dtype
        want = np.array([_poisson_nll_exact(r, v) for r, v in zip(rate, y)])
        assert np.all(np.abs(got - want) <= rtol * np.abs(want)), (rate, y, got, want)


def test_stirlerr_and_bd0_against_mpmath():
    from symlik.compiler._numpy_runtime import _bd0, _stirlerr

    n = np.array([0.5, 1.0, 2.5, 7.0, 14.5, 15.0, 15.1, 16.0, 100.0, 1e6, 1e15])
    with mpmath.workdps(90):  # log Gamma(1e15) is 3e16: 33 digits go before the first of the value
        want = [float(mpmath.loggamma(v + 1) - (v + 0.5) * mpmath.log(v) + v - mpmath.log(2 * mpmath.pi) / 2)
                for v in map(mpmath.mpf, n)]
    assert np.allclose(_stirlerr(n), want, rtol=4e-16, atol=0)
    v = mpmath.mpf(14.9)
    # Between the table's half-integers, the direct difference: 12 digits of a value ~0.006.
    assert np.allclose(_stirlerr(np.array([14.9])), float(mpmath.loggamma(v + 1) - (v + 0.5) * mpmath.log(v) + v - mpmath.log(2 * mpmath.pi) / 2), rtol=2e-12)
    x = np.array([0.0, 1.0, 1e6, 1e6, 1e6, 5.0, 1e-300])
    m = np.array([2.0, 1.0, 1e6 + 1, 1.05e6, 3e6, 1e-300, 1.0])
    want = [float(mpmath.mpf(a) * mpmath.log(mpmath.mpf(a) / mpmath.mpf(b)) + b - a) if a else b for a, b in zip(x, m)]
    got = _bd0(x, m)
    assert np.all(got >= 0)
    assert np.all(np.abs(got - want) <= 1e-13 * np.abs(want) + (np.array(want) == 0))


def _binomial_nll_exact(y, n, p):
    y, n, p = (mpmath.mpf(float(v)) for v in (y, n, p))
    log_choose = mpmath.loggamma(n + 1) - mpmath.loggamma(y + 1) - mpmath.loggamma(n - y + 1)
    return float(-log_choose - (y * mpmath.log(p) if y else 0) - ((n - y) * mpmath.log(1 - p) if n != y else 0))


@pytest.mark.parametrize("link", [None, "logit"])
def test_binomial_nll_where_the_count_is_its_mean(link):
    # y = n p at n = 10^k: -log C(n, y) and y log p cancel to a value of order log n.
    n = np.array([10.0**k for k in range(1, 13)] * 3 + [5.0, 5.0])
    p = np.repeat([0.5, 0.3, 1e-3], 12).tolist() + [0.2, 0.2]
    p = np.array(p)
    y = np.round(n * p)
    y[-2:] = [0.0, 5.0]  # the ends, -n log(1 - p) and -n log p
    arg = p if link is None else np.log(p) - np.log1p(-p)
    prob = p if link is None else 1 / (1 + np.exp(-arg))
    with mpmath.workdps(60):
        want = np.array([_binomial_nll_exact(*v) for v in zip(y, n, prob)])
    got = symlik.compile("binomial", target="nll", link=link, reduction="none")(arg, y, n)
    assert np.all(np.abs(got - want) <= 1e-12 * np.abs(want)), np.max(np.abs(got - want) / np.abs(want))


@pytest.mark.parametrize("link", [None, "logit"])
def test_negative_binomial_nll_at_its_mean(link):
    # y = n (1 - p)/p, the mean, at large n: the log-gamma terms cancel to a value of order log y.
    n = np.array([10.0**k for k in range(0, 13)] + [0.5, 3.7])
    p = np.array([0.5, 0.25, 1e-3] * 5)
    y = np.round(n * (1 - p) / p)
    arg = p if link is None else np.log(p) - np.log1p(-p)
    prob = p if link is None else 1 / (1 + np.exp(-arg))

    def exact(y, n, p):
        y, n, p = (mpmath.mpf(float(v)) for v in (y, n, p))
        return float(mpmath.loggamma(n) + mpmath.loggamma(y + 1) - mpmath.loggamma(n + y)
                     - n * mpmath.log(p) - (y * mpmath.log(1 - p) if y else 0))

    with mpmath.workdps(60):
        want = np.array([exact(*v) for v in zip(y, n, prob)])
    got = symlik.compile("negative_binomial", target="nll", link=link, reduction="none")(arg, y, n)
    assert np.all(np.abs(got - want) <= 1e-12 * np.abs(want)), np.max(np.abs(got - want) / np.abs(want))


def _gamma_nll_exact(y, mu, k):
    y, mu, k = (mpmath.mpf(float(v)) for v in (y, mu, k))
    return k * y / mu - k * mpmath.log(k / mu) - (k - 1) * mpmath.log(y) + mpmath.loggamma(k)


# y = mu at large magnitude and large shape k: the plain NLL subtracts terms of 1.8e9 (k = 1e8),
# which left 3e-8 relative (k = 1e8, y = mu = 1000) and 8e-7 (y = mu = 1e8); a small k and ordinary points too.
_GAMMA_POINTS = np.array([
    (1e3, 1e3, 1e8), (1e8, 1e8, 1e8), (1e6, 1e6 + 1, 1e3), (1.0, 1.0, 1e-8), (3.0, 1.5, 0.5), (0.5, 2.0, 15.3),
    (1e-300, 1e300, 2.0), (7.0, 7.0, 1e12), (1e-8, 1e8, 1.0), (3e8, 1e8, 1e8),
])


@pytest.mark.parametrize("link", [None, "log"])
def test_gamma_nll_where_the_mean_equals_a_large_target(link):
    y, mu, k = _GAMMA_POINTS.T
    arg = mu if link is None else np.log(mu)
    mean = mu if link is None else np.exp(arg)  # the mean the kernel sees, exactly
    with mpmath.workdps(60):
        want = np.array([float(_gamma_nll_exact(*v)) for v in zip(y, mean, k)])
    got = symlik.compile("gamma", target="nll", predict=("mu", "k"), link=link, reduction="none")(arg, k, y)
    assert np.all(np.abs(got - want) <= 1e-14 * np.abs(want)), np.max(np.abs(got - want) / np.abs(want))


def test_gamma_shape_gradient_where_the_mean_equals_the_target():
    # d nll / d k = (y/mu - 1 - log(y/mu)) + psi(k) - log k: psi(k) - log k is -1/(2k) from terms of size log k.
    y, mu, k = _GAMMA_POINTS.T
    with mpmath.workdps(60):
        want = np.array([float(mpmath.mpf(a) / b - 1 - mpmath.log(mpmath.mpf(a) / b) + mpmath.digamma(c) - mpmath.log(c))
                         for a, b, c in zip(y, mu, k)])
    got = symlik.compile("gamma", target="grad", predict=("mu", "k"), reduction="none")(mu, k, y)[:, 1]
    assert np.all(np.abs(got - want) <= 1e-14 * np.abs(want)), np.max(np.abs(got - want) / np.abs(want))


def test_gamma_deviance_near_its_zero():
    # 2 (y/mu - 1 - log(y/mu)) ~ (y/mu - 1)^2: the plain form subtracts terms of size log mu.
    mu = np.array([1e3, 1e8, 1e8, 1.0, 1e300, 2.0])
    y = np.array([1e3 * (1 + 1e-6), 1e8 + 1, 1e8 * 3, 1.0 - 1e-12, 1e-300, 0.5])
    with mpmath.workdps(60):
        want = np.array([float(2 * (mpmath.mpf(a) / b - 1 - mpmath.log(mpmath.mpf(a) / b))) for a, b in zip(y, mu)])
    got = symlik.compile("gamma", target="loss", reduction="none")(mu, y)
    assert np.all(np.abs(got - want) <= 1e-14 * np.abs(want)), np.max(np.abs(got - want) / np.abs(want))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_half_a_square_is_printed_exactly_and_finite_where_the_square_overflows(dtype):
    """c b**2 with c = 1/2 prints as (c b) b (codegen.scaled_square): bit for bit c (b b) wherever b b is
    a normal number (scaling by 2 is exact), and finite where only b b overflows. The normal NLL
    against its textbook form in the same dtype, and mpmath beyond the square's range."""
    rng = np.random.default_rng(4)
    kernel = symlik.compile("normal", target="nll", predict=("mu", "sigma"), reduction="none")
    mu, sigma, y = (rng.normal(0, 3, 2000).astype(dtype), np.exp(rng.normal(0, 2, 2000)).astype(dtype),
                    rng.normal(0, 3, 2000).astype(dtype))
    textbook = np.log(sigma) + dtype(0.9189385332046728) + dtype(0.5) * ((y - mu) / sigma) ** 2
    np.testing.assert_array_equal(kernel(mu, sigma, y), textbook)
    big = np.finfo(dtype).max ** 0.5 * 1.3  # r = big: r**2 = 1.69 max overflows, r**2 / 2 = 0.845 max does not
    with np.errstate(over="ignore"):
        assert np.isinf(dtype(big) * dtype(big))
    value = kernel(np.zeros(1, dtype), np.ones(1, dtype), np.full(1, big, dtype))[0]
    want = mpmath.mpf(float(dtype(big))) ** 2 / 2 + mpmath.log(2 * mpmath.pi) / 2
    assert np.isfinite(value) and abs(float(value) - float(want)) <= 1e-6 * float(want)
