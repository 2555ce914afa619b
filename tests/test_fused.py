"""The fused CPU backend (numba): its vector math and its kernels against independent oracles."""

import mpmath
import numpy as np
import pytest
from scipy import special

import symlik

numba = pytest.importorskip("numba")

from symlik.compiler import _vecmath  # noqa: E402


@numba.njit
def _map(f, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = f(x[i])
    return out


def _ulps(got, want):
    finite = np.isfinite(want) & (want != 0)
    return np.abs(got[finite] - want[finite]) / np.spacing(np.abs(want[finite]))


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, 2.2250738585072014e-308, 1.0, 2.0])


@pytest.mark.parametrize(
    "name,numpy_fn,sample",
    [
        ("vexp", np.exp, lambda rng: np.concatenate([rng.uniform(-746, 710, 100_000), rng.uniform(-1, 1, 50_000),
                                                     [709.78, 709.79, -745.13, -745.14, -708.4, -720.0]])),
        ("vlog", np.log, lambda rng: np.concatenate([np.exp(rng.uniform(-745, 709, 100_000)), rng.uniform(0.5, 2, 50_000), [-1.0]])),
        ("vlog1p", np.log1p, lambda rng: np.concatenate([np.exp(rng.uniform(-745, 0, 100_000)), rng.uniform(-1, 5, 50_000),
                                                         [-1.0, -0.5, -2.0, 1e300, 1e-17]])),
    ],
)
def test_vector_math_within_one_ulp_of_numpy(name, numpy_fn, sample):
    x = np.concatenate([sample(np.random.default_rng(0)), SPECIAL])
    got = _map(getattr(_vecmath, name), x)
    with np.errstate(all="ignore"):
        want = numpy_fn(x)
    assert _ulps(got, want).max() <= 1.0
    special_ = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special_], want[special_])  # inf, nan, 0 exactly where NumPy has them


@pytest.mark.parametrize(
    "name,numpy_fn,sample",
    [
        ("vexp32", np.exp, lambda rng: np.concatenate([rng.uniform(-104, 89, 100_000), rng.uniform(-1, 1, 50_000)])),
        ("vlog32", np.log, lambda rng: np.concatenate([np.exp(rng.uniform(-103, 88, 100_000)), rng.uniform(0.5, 2, 50_000)])),
        ("vlog1p32", np.log1p, lambda rng: np.concatenate([np.exp(rng.uniform(-103, 0, 100_000)), rng.uniform(-1, 5, 50_000)])),
    ],
)
def test_float32_vector_math_within_about_one_ulp_of_the_true_value(name, numpy_fn, sample):
    x = np.concatenate([sample(np.random.default_rng(0)), SPECIAL, [88.8, 88.7, -104.0, -103.9, 1e-45, 1e-40]]).astype(np.float32)
    got = _map(getattr(_vecmath, name), x)
    assert got.dtype == np.float32
    with np.errstate(all="ignore"):
        truth = numpy_fn(x.astype(np.float64))  # float64: the true value to float32 accuracy
        rounded = truth.astype(np.float32)
    normal = np.isfinite(rounded) & (np.abs(rounded) >= np.finfo(np.float32).tiny)
    ulps = np.abs(got[normal] - truth[normal]) / np.spacing(np.abs(rounded[normal]))
    assert ulps.max() <= 1.25
    special_ = ~np.isfinite(rounded) | (rounded == 0)
    np.testing.assert_array_equal(got[special_], rounded[special_])


# -- kernels ---------------------------------------------------------------------------
from harness import assert_nll_matches_scipy  # noqa: E402


@pytest.mark.slow  # numba compiles every catalog kernel: 5-30 s each
def test_fused_nll_matches_scipy_for_every_catalog_entry(derivation):
    """Same oracle as the NumPy backend's conformance test: scipy.stats' logpdf."""
    assert_nll_matches_scipy(derivation, "fused", rtol=1e-12)


def _bce(z, y):  # closed form in float64, y softplus(-z) + (1 - y) softplus(z): no cancellation
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    return y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)


def _ce(logits, labels):
    logits = np.asarray(logits, np.float64)
    return special.logsumexp(logits, axis=-1) - np.take_along_axis(logits, labels[:, None], -1)[:, 0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.slow  # numba compiles the six benchmark losses: 15 s per dtype
def test_seed_losses_match_closed_forms(dtype, n=257):
    rng = np.random.default_rng(3)
    mu, y = rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    cases = [
        (symlik.compile("normal", backend="fused"), (mu, y), np.mean((f64(y) - f64(mu)) ** 2)),
        (symlik.compile("laplace", backend="fused"), (mu, y), np.mean(np.abs(f64(y) - f64(mu)))),
    ]
    z, labels = (5 * rng.normal(size=n)).astype(dtype), (rng.random(n) < 0.5).astype(dtype)
    cases.append((symlik.compile("bernoulli", link="logit", backend="fused"), (z, labels), _bce(z, labels).mean()))
    sigma = (0.5 + rng.random(n)).astype(dtype)
    cases.append((
        symlik.compile("normal", predict=("mu", "sigma"), backend="fused"), (mu, sigma, y),
        np.mean(np.log(f64(sigma)) + 0.5 * ((f64(y) - f64(mu)) / f64(sigma)) ** 2),
    ))
    if "poisson" in symlik.names():
        counts = rng.poisson(3.0, n).astype(dtype)
        cases.append((symlik.compile("poisson", link="log", backend="fused"), (mu, counts), np.mean(np.exp(f64(mu)) - f64(counts) * f64(mu))))
    rows = max(n // 10, 2)
    L, c = (3 * rng.normal(size=(rows, 10))).astype(dtype), rng.integers(0, 10, rows)
    cases.append((symlik.compile("categorical", link="softmax", backend="fused"), (L, c), _ce(L, c).mean()))
    cases.append((symlik.compile("categorical", link="softmax", backend="fused"), (L, np.eye(10, dtype=dtype)[c]), _ce(L, c).mean()))
    for k, args, want in cases:
        got = k(*args)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, err_msg=repr(k))


@pytest.mark.parametrize("dtype", [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)])  # 3.5 s each
def test_threads_over_chunks_match_closed_forms(dtype):
    from symlik.compiler._fused_runtime import PARALLEL_MIN

    rng = np.random.default_rng(4)
    n = PARALLEL_MIN * 3 + 7
    z, labels = (5 * rng.normal(size=n)).astype(dtype), (rng.random(n) < 0.5).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    got = symlik.compile("bernoulli", link="logit", backend="fused")(z, labels)
    np.testing.assert_allclose(got, _bce(z, labels).mean(), rtol=rtol)
    L, c = (3 * rng.normal(size=(n // 8, 8))).astype(dtype), rng.integers(0, 8, n // 8)
    got = symlik.compile("categorical", link="softmax", backend="fused", reduction="none")(L, c)
    np.testing.assert_allclose(got, _ce(L, c), rtol=rtol * 10, atol=rtol)


def test_float32_sums_do_not_drift():
    # 2^24 + 2 float32 values of 1: a float32 running sum stalls at 2^24 = 16777216.
    n = 2**24 + 2
    ones = np.ones(n, np.float32)
    k = symlik.compile("normal", backend="fused", reduction="sum", validate=False)
    assert float(k(np.zeros(n, np.float32), ones)) == float(n)
    mean = symlik.compile("laplace", backend="fused", validate=False)(np.zeros(n, np.float32), np.full(n, 0.1, np.float32))
    assert abs(float(mean) - float(np.float32(0.1))) <= 1e-7 * float(np.float32(0.1))


@pytest.mark.parametrize("bound", [30.0, 1000.0])
def test_stable_at_extreme_logits(bound):
    z = np.array([-bound, -1.0, 0.0, 1.0, bound] * 2)
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1.0])
    got = symlik.compile("bernoulli", link="logit", backend="fused", reduction="none")(z, y)
    want = np.array([float(mpmath_softplus(zi) - zi * yi) for zi, yi in zip(z, y)])
    np.testing.assert_allclose(got, want, rtol=1e-12)  # e^-30 and e^-1000 keep their digits
    L = np.array([[bound, 0.0, -bound], [-bound, -bound, -bound]])
    ce = symlik.compile("categorical", link="softmax", backend="fused", reduction="none")(L, np.array([0, 2]))
    np.testing.assert_allclose(ce, [float(mpmath_lse(L[0]) - bound), float(mpmath_lse(L[1]) + bound)], rtol=1e-12, atol=1e-300)


def mpmath_softplus(z):
    import mpmath

    mpmath.mp.dps = 50
    return mpmath.log(1 + mpmath.exp(mpmath.mpf(z)))


def mpmath_lse(row):
    import mpmath

    mpmath.mp.dps = 50
    return mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row))


def test_broadcasting_scalars_and_integer_labels():
    rng = np.random.default_rng(5)
    mu = rng.normal(size=(4, 6))
    y = rng.normal(size=(4, 6))
    k = symlik.compile("normal", target="nll", backend="fused", reduction="none")
    got = k(mu, y, 2.0)  # sigma as a scalar
    assert got.shape == (4, 6)
    np.testing.assert_allclose(k(mu, y, np.full(6, 2.0)), got, rtol=1e-15)  # a parameter broadcasts to the rows
    with pytest.raises(symlik.SymlikError, match="do not match"):
        k(mu, y[0], 2.0)  # a target never broadcasts against the predictions (torch's rule)
    np.testing.assert_allclose(got, -__import__("scipy").stats.norm.logpdf(y, mu, 2.0), rtol=1e-13)
    kb = symlik.compile("bernoulli", link="logit", backend="fused")
    z = rng.normal(size=9)
    labels = rng.integers(0, 2, 9)
    np.testing.assert_allclose(kb(z, labels), _bce(z, labels).mean(), rtol=1e-13)
    np.testing.assert_allclose(kb(z, labels.astype(bool)), _bce(z, labels).mean(), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probabilities_with_class_index_targets(dtype):
    """categorical on probabilities (no link) gathers p at the target: -log p_y, as scipy says."""
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.ones(5), 33).astype(dtype)
    y = rng.integers(0, 5, 33)
    k = symlik.compile("categorical", target="nll", backend="fused", reduction="none")
    got = k(p, y)
    assert got.dtype == dtype
    want = -np.log(p.astype(np.float64)[np.arange(33), y])
    np.testing.assert_allclose(got, want, rtol=1e-13 if dtype == np.float64 else 1e-6)


def test_out_of_range_class_index_without_validation_is_nan_not_a_wild_read():
    k = symlik.compile("categorical", link="softmax", backend="fused", reduction="none", validate=False)
    out = k(np.zeros((3, 4)), np.array([0, 7, -1]))
    assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])


def test_bad_values_still_raise():
    k = symlik.compile("normal", target="nll", backend="fused")
    with pytest.raises(symlik.ConstraintError, match="sigma must be > 0"):
        k(np.zeros(3), np.zeros(3), np.array([1.0, -1.0, 1.0]))


def test_generated_loop_is_one_pass_with_a_float64_accumulator():
    k = symlik.compile("bernoulli", link="logit", backend="fused")
    src = k.loop_source()
    assert "acc = 0.0" in src and "_block_sum" in src
    assert "np.empty(_BLOCK, _F)" in src  # the only buffer: one L1-sized block, not a full-size temporary
    assert "_softplus(v_logits)" in src and "_softplus(-v_logits)" in src  # the stable softplus, each weighted exactly


def test_normal_tail_helpers_match_scipy_in_every_range():
    """The fused runtime's own log Phi and log erfc (called, not inlined: an interval-censored
    log-normal's inlined branches exhausted numba's memory) against scipy.special."""
    from symlik.compiler._fused_runtime import NAMESPACES

    ns = NAMESPACES["float64"]
    xs = np.concatenate([-np.logspace(-4, 3, 120), [0.0], np.logspace(-4, 1.4, 120)])  # Phi(25) rounds to 1
    got = np.array([ns["_log_ndtr"](x) for x in xs])
    np.testing.assert_allclose(got, special.log_ndtr(xs), rtol=5e-14)
    zs = np.concatenate([-np.logspace(-4, 0.7, 60), [0.0], np.logspace(-4, 3, 120)])
    with mpmath.workdps(40):  # (log erfcx(z) - z^2 loses digits near 0: log of a number near 1)
        want = np.array([float(mpmath.log(mpmath.erfc(mpmath.mpf(float(z))))) for z in zs])
    got = np.array([ns["_log_erfc"](z) for z in zs])
    np.testing.assert_allclose(got, want, rtol=5e-14)
    # phi/Phi: its quotient above -35, its asymptotic series below (where both underflow past -38)
    xs = np.concatenate([-np.logspace(-4, 16, 120), [0.0], np.logspace(-4, 1.45, 60)])
    with mpmath.workdps(60):  # (at 40 digits mpmath's own erfc(1e16) keeps only 12: x^2 needs 32)
        want = np.array([float(mpmath.npdf(v) / mpmath.ncdf(v)) for v in map(mpmath.mpf, xs)])
    got = np.array([ns["_inverse_mills"](v) for v in xs])
    np.testing.assert_allclose(got, want, rtol=2e-13)
