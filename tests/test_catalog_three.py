"""Issue 14, part C: the skew-normal, truncated normal, GEV and censored (Tobit) normal, in their
tails and at their edges. Oracles: scipy.stats (skewnorm, truncnorm, genextreme, norm) and mpmath at
50 digits where scipy itself rounds away the answer."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import stats

import symlik
from harness import as_backend_array


def _nll(name, **kwargs):
    return symlik.compile(name, target="nll", reduction="none", **kwargs)


def _mp_log_phi(x):
    return mpmath.log(mpmath.ncdf(x))


# ---------------------------------------------------------------------------
# skew-normal
# ---------------------------------------------------------------------------


def test_skew_normal_matches_scipy_skewnorm():
    rng = np.random.default_rng(11)
    mu, sigma, alpha, y = rng.normal(size=40), rng.lognormal(size=40), rng.normal(0, 3, 40), rng.normal(0, 3, 40)
    k = _nll("skew_normal", predict=("mu", "sigma", "alpha"))
    np.testing.assert_allclose(k(mu, sigma, alpha, y), -stats.skewnorm.logpdf(y, alpha, mu, sigma), rtol=1e-12)


@pytest.mark.parametrize("alpha_z", [-7.0, -9.0, -40.0, -1e3])
def test_skew_normal_keeps_every_digit_deep_in_the_tilted_tail(alpha_z):
    # log(1 + erf(alpha z / sqrt 2)) is -inf from alpha z = -8.3; log Phi is about -(alpha z)^2 / 2 there
    y, alpha = np.array([alpha_z / 2]), np.array([2.0])
    got = _nll("skew_normal", predict=("mu", "sigma", "alpha"))(np.zeros(1), np.ones(1), alpha, y)[0]
    with mpmath.workdps(50):
        z = mpmath.mpf(alpha_z / 2)
        want = -(mpmath.log(2) - z**2 / 2 - mpmath.log(mpmath.sqrt(2 * mpmath.pi)) + _mp_log_phi(2 * z))
    assert abs(got - float(want)) <= 1e-14 * abs(float(want))


# ---------------------------------------------------------------------------
# truncated normal
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [(-1.0, 1.0), (10.0, 11.0), (-11.0, -10.0), (40.0, 41.0), (-41.0, -40.0), (-3.0, 50.0), (-60.0, 60.0)],
)
def test_truncated_normal_mass_is_exact_in_both_tails(a, b):
    y = np.array([a + (b - a) / 3])
    got = _nll("truncated_normal")(np.zeros(1), y, np.ones(1), np.array([a]), np.array([b]))[0]
    with mpmath.workdps(60):
        mass = mpmath.ncdf(b) - mpmath.ncdf(a)  # no cancellation at 60 digits
        want = -(-mpmath.mpf(y[0]) ** 2 / 2 - mpmath.log(mpmath.sqrt(2 * mpmath.pi)) - mpmath.log(mass))
    assert abs(got - float(want)) <= 2e-14 * max(abs(float(want)), 1.0)


@pytest.mark.parametrize("a, width", [(5.0, 1e-6), (-40.0, 1e-9), (0.3, 1e-3), (-3.0, 1e-12), (60.0, 1e-5)])
def test_truncated_normal_keeps_its_digits_on_a_narrow_interval(a, width):
    # log Phi(b) - log Phi(a) would cancel to log10(1/width) fewer digits: the midpoint series keeps them
    b = a + width
    y = np.array([a + width / 3])
    got = _nll("truncated_normal")(np.zeros(1), y, np.ones(1), np.array([a]), np.array([b]))[0]
    with mpmath.workdps(80):
        lo, hi, yy = (mpmath.mpf(v) for v in (a, b, y[0]))  # the float bounds, exactly
        mass = mpmath.quad(mpmath.npdf, [lo, hi])
        want = yy**2 / 2 + mpmath.log(mpmath.sqrt(2 * mpmath.pi)) + mpmath.log(mass)
    assert abs(got - float(want)) <= 1e-13 * max(abs(float(want)), 1.0)


def test_truncated_normal_matches_scipy_truncnorm_with_standardised_bounds():
    rng = np.random.default_rng(5)
    mu, sigma = rng.normal(size=30), rng.lognormal(size=30)
    a = rng.normal(0, 2, 30)
    b = a + rng.lognormal(size=30)
    y = a + (b - a) * rng.uniform(size=30)
    k = _nll("truncated_normal", predict=("mu", "sigma"))
    want = -stats.truncnorm.logpdf(y, (a - mu) / sigma, (b - mu) / sigma, loc=mu, scale=sigma)
    np.testing.assert_allclose(k(mu, sigma, y, a, b), want, rtol=1e-11)


def test_truncated_normal_takes_fixed_bounds_beside_per_row_means():
    # The narrow-interval branch's condition is "(b - a)/sigma small AND ...": a scalar beside an
    # array, which np.logical_and.reduce could not stack (it raised) and nested calls broadcast.
    mu = np.linspace(-1, 1, 7)
    k = symlik.compile("truncated_normal", target="nll", reduction="none")
    got = np.asarray(k(mu=mu, sigma=1.5, a=-1.0, b=2.0, y=0.5), dtype=float)
    want = -stats.truncnorm.logpdf(0.5, (-1.0 - mu) / 1.5, (2.0 - mu) / 1.5, loc=mu, scale=1.5)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _mp_truncated_normal_nll(y, mu, sigma, a, b):
    """-log p from the definition, at the working precision (the callers' 60 digits: the bounds
    below lie 1e16 scales away, and x^2 alone needs 32)."""
    alpha, beta, z = (a - mu) / sigma, (b - mu) / sigma, (y - mu) / sigma
    # the mass as the difference in the tail both bounds are nearer, so that 60 digits hold it
    mass = mpmath.ncdf(-alpha) - mpmath.ncdf(-beta) if alpha > 0 else mpmath.ncdf(beta) - mpmath.ncdf(alpha)
    return z**2 / 2 + mpmath.log(sigma) + mpmath.log(mpmath.sqrt(2 * mpmath.pi)) + mpmath.log(mass)


# (mu, sigma, y, a, b): bounds 1e16 and 1e8 scales from the mean, on either side of it, and both
# in one far tail (the mass term dominates each gradient: y is at a bound near the mean)
FAR_BOUNDS = [
    (-1e8, 1e-8, -1e8, -1e8, -1.0),
    (1e8, 1e-8, 1e8, 1.0, 1e8),
    (0.0, 1.0, 1e8, 1e8, 1e8 + 1.0),
    (0.0, 1.0, -1e8 - 1.0, -1e8 - 1.0, -1e8),
    (0.0, 1.0, 40.5, 40.0, 41.0),
]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.slow), "torch",
                                     pytest.param("jax", marks=pytest.mark.slow)])  # 3-4 s each; torch covers the library path
def test_truncated_normal_gradient_is_exact_with_a_bound_far_in_a_tail(backend):
    # The gradient of log(Phi(beta) - Phi(alpha)) holds phi/Phi of each bound; written as
    # e^{-x^2/2 - log Phi(x)} it was inf/inf = nan at x = 1e16, and it is now its own function
    pytest.importorskip({"numpy": "numpy", "fused": "numba", "torch": "torch", "jax": "jax"}[backend])
    mu, sigma, y, a, b = (np.array(c) for c in zip(*FAR_BOUNDS))
    k = symlik.compile("truncated_normal", predict=("mu", "sigma"), target="grad", reduction="none", backend=backend)
    arrays = {n: as_backend_array(backend, v) for n, v in dict(mu=mu, sigma=sigma, y=y, a=a, b=b).items()}
    got = np.asarray(k(**arrays), dtype=float)
    assert np.all(np.isfinite(got))
    for row, point in zip(got, FAR_BOUNDS):
        with mpmath.workdps(60):
            m, s, yy, aa, bb = map(mpmath.mpf, point)
            want = [mpmath.diff(lambda t: _mp_truncated_normal_nll(yy, t, s, aa, bb), m),
                    mpmath.diff(lambda t: _mp_truncated_normal_nll(yy, m, t, aa, bb), s)]
        # where y is 1e8 scales out, -z/sigma and phi/Phi cancel to 1e-8 (the truth): an input's
        # own rounding moves that by its size, so the error is bounded by the terms' size as well
        z = abs(point[2] - point[0]) / point[1]
        scale = [(2 * z + 1) / point[1], (2 * z * z + 1) / point[1]]
        for g, w, c in zip(row, want, scale):
            assert abs(g - float(w)) <= 1e-9 * abs(float(w)) + 4e-16 * c, (point, g, w)


# (mu, sigma, y, a, b): the half-lines either way, the whole line, and half-lines whose finite
# bound lies 40 and 45 scales out (the mass is then Phi(-40): only log Phi keeps it)
INFINITE_BOUNDS = [
    (0.3, 1.2, 0.5, 0.0, np.inf),
    (0.3, 1.2, -0.5, -np.inf, 0.0),
    (0.3, 1.2, 0.5, -np.inf, np.inf),
    (-40.0, 1.0, 2.0, 1.0, np.inf),
    (40.0, 1.0, -2.0, -np.inf, -1.0),
    (0.0, 1.0, 50.0, 45.0, np.inf),
]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.slow), "torch",
                                     pytest.param("jax", marks=pytest.mark.slow)])
def test_truncated_normal_takes_an_infinite_bound(backend):
    # a = -inf or b = inf is a half-line (the common case [0, inf) for a positive target), and both the
    # whole line: the value matches scipy's truncnorm, the gradient mpmath's, with no nan from inf - inf
    pytest.importorskip({"numpy": "numpy", "fused": "numba", "torch": "torch", "jax": "jax"}[backend])
    mu, sigma, y, a, b = (np.array(c) for c in zip(*INFINITE_BOUNDS))
    arrays = {n: as_backend_array(backend, v) for n, v in dict(mu=mu, sigma=sigma, y=y, a=a, b=b).items()}
    kw = dict(predict=("mu", "sigma"), reduction="none", backend=backend)
    got = np.asarray(symlik.compile("truncated_normal", target="nll", **kw)(**arrays), dtype=float)
    want = -stats.truncnorm.logpdf(y, (a - mu) / sigma, (b - mu) / sigma, loc=mu, scale=sigma)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    grad = np.asarray(symlik.compile("truncated_normal", target="grad", **kw)(**arrays), dtype=float)
    for row, point in zip(grad, INFINITE_BOUNDS):
        with mpmath.workdps(40):
            m, s, yy, aa, bb = map(mpmath.mpf, point)
            want_grad = [mpmath.diff(lambda t: _mp_truncated_normal_nll(yy, t, s, aa, bb), m),
                         mpmath.diff(lambda t: _mp_truncated_normal_nll(yy, m, t, aa, bb), s)]
        np.testing.assert_allclose(row, [float(w) for w in want_grad], rtol=1e-10, err_msg=str(point))


def test_truncated_normal_rejects_a_target_outside_its_bounds():
    with pytest.raises(symlik.SymlikError, match="y must lie in the support"):
        _nll("truncated_normal")(np.zeros(1), np.array([2.0]), np.ones(1), np.array([-1.0]), np.array([1.0]))
    # each bound admits only the infinity on its own side
    with pytest.raises(symlik.SymlikError, match="a must be a finite real number or -inf"):
        _nll("truncated_normal")(np.zeros(1), np.array([2.0]), np.ones(1), np.array([np.inf]), np.array([np.inf]))
    with pytest.raises(symlik.SymlikError, match="b must be a finite real number or inf"):
        _nll("truncated_normal")(np.zeros(1), np.array([2.0]), np.ones(1), np.array([0.0]), np.array([-np.inf]))


# ---------------------------------------------------------------------------
# generalised extreme value
# ---------------------------------------------------------------------------


def test_gev_matches_scipy_genextreme_with_c_equal_minus_xi():
    rng = np.random.default_rng(9)
    mu, sigma, xi = rng.normal(size=40), rng.lognormal(size=40), rng.normal(0, 0.5, 40)
    y = mu + sigma * rng.normal(size=40)
    k = _nll("gev", predict=("mu", "sigma", "xi"))
    want = -stats.genextreme.logpdf(y, -xi, loc=mu, scale=sigma)
    np.testing.assert_allclose(k(mu, sigma, xi, y), want, rtol=1e-11)  # inf where y is outside the support


def test_gev_at_and_near_xi_zero_is_the_gumbel():
    y = np.array([-2.0, 0.5, 3.0])
    k = _nll("gev", predict=("mu", "sigma", "xi"))
    gumbel = -stats.gumbel_r.logpdf(y)
    np.testing.assert_allclose(k(np.zeros(3), np.ones(3), np.zeros(3), y), gumbel, rtol=1e-15)
    # xi = 1e-12: log1p(xi z) / xi keeps the Gumbel's digits (1 + xi z would round them away)
    with mpmath.workdps(50):
        xi = mpmath.mpf("1e-12")
        want = [float(mpmath.log1p(xi * v) * (1 + 1 / xi) + mpmath.exp(-mpmath.log1p(xi * v) / xi)) for v in y]
    np.testing.assert_allclose(k(np.zeros(3), np.ones(3), np.full(3, 1e-12), y), want, rtol=1e-13)


def test_gev_outside_its_moving_support_is_infinitely_unlikely():
    # xi = 0.5: y > mu - sigma/xi = -2; xi = -0.5: y < 2
    k = _nll("gev", predict=("mu", "sigma", "xi"))
    got = k(np.zeros(2), np.ones(2), np.array([0.5, -0.5]), np.array([-3.0, 3.0]))
    assert np.all(got == np.inf)
    assert np.all(stats.genextreme.logpdf([-3.0, 3.0], [-0.5, 0.5]) == -np.inf)


# ---------------------------------------------------------------------------
# censored normal (Tobit)
# ---------------------------------------------------------------------------


def test_censored_normal_is_a_mass_at_the_bound_and_a_density_above_it():
    rng = np.random.default_rng(2)
    mu, sigma, c = rng.normal(size=20), rng.lognormal(size=20), rng.normal(size=20)
    y = np.where(rng.uniform(size=20) < 0.4, c, c + rng.lognormal(size=20))
    k = _nll("censored_normal", predict=("mu", "sigma"))
    want = -np.where(y == c, stats.norm.logcdf(c, mu, sigma), stats.norm.logpdf(y, mu, sigma))
    np.testing.assert_allclose(k(mu, sigma, y, c), want, rtol=1e-12)
    assert np.any(y == c) and np.any(y > c)


def test_censored_normal_mass_stays_finite_where_phi_underflows():
    # (c - mu)/sigma = -60: Phi is 1e-785, below the smallest float; its log is about -1805
    got = _nll("censored_normal")(np.array([60.0]), np.array([0.0]), np.ones(1), np.array([0.0]))[0]
    with mpmath.workdps(50):
        want = -_mp_log_phi(-60)
    assert abs(got - float(want)) <= 1e-14 * float(want)


def test_censored_normal_is_not_mistaken_for_mse():
    # The censored branch depends on mu: the NLL is no MSE plus a constant, whatever the other branch says.
    d = symlik.derive("censored_normal")
    assert d.loss.name is None


def _tobit_fisher(mu, sigma, c):
    """E[s s^T] for the Tobit model: the mass Phi(a) at y = c times the outer product of the score
    there, plus mpmath's quadrature over y > c. The scores by hand (Amemiya 1984), a = (c - mu)/sigma:
    at y = c, d/dmu = -phi(a)/(sigma Phi(a)) and d/dsigma = -a phi(a)/(sigma Phi(a)); above it,
    (y - mu)/sigma^2 and -1/sigma + (y - mu)^2/sigma^3."""
    a = (c - mu) / sigma
    ratio = mpmath.npdf(a) / mpmath.ncdf(a)
    at_c = [-ratio / sigma, -a * ratio / sigma]

    def above(y):
        return [(y - mu) / sigma**2, -1 / sigma + (y - mu) ** 2 / sigma**3]

    cuts = [c, mu, mpmath.inf] if c < mu else [c, mpmath.inf]  # a break at the peak helps the quadrature
    return np.array([[float(mpmath.ncdf(a) * at_c[i] * at_c[j]
                            + mpmath.quad(lambda y: above(y)[i] * above(y)[j] * mpmath.npdf(y, mu, sigma), cuts))
                      for j in range(2)] for i in range(2)])


@pytest.mark.parametrize("predict", [("mu",), pytest.param(("mu", "sigma"), marks=pytest.mark.slow)])
def test_censored_normal_fisher_information_counts_the_mass_at_the_bound(predict):
    # Before the support knew its mass at y = c, the expectation integrated over y > c only and gave
    # I_mu_mu = 0.5 at mu = c = 0, sigma = 1, where the Tobit information is 1/2 + phi(0)^2 / Phi(0) = 0.818.
    d = symlik.derive("censored_normal", predict=predict)
    fisher = d.fisher()
    for mu, sigma, c in [(0.0, 1.0, 0.0), (0.3, 1.7, -0.4), (-1.2, 0.6, 0.5)]:
        values = {d.spec.symbol("mu"): mu, d.spec.symbol("sigma"): sigma, d.spec.symbol("c"): c}
        got = np.array(fisher.subs(values).evalf(), dtype=float)
        k = len(predict)
        np.testing.assert_allclose(got, _tobit_fisher(mu, sigma, c)[:k, :k], rtol=1e-9)


def _tobit_fisher_closed_form(mu, sigma, c):
    """The Tobit information in the standard score a = (c - mu)/sigma, by hand from the scores above
    (the truncated moments of z phi(z) over z > a): sigma^2 I = [[phi^2/Phi + a phi + 1 - Phi,
    a phi^2/Phi + (a^2 + 1) phi], [., a^2 phi^2/Phi + (a^3 + a) phi + 2 (1 - Phi)]], at 50 digits."""
    with mpmath.workdps(50):
        a = (mpmath.mpf(c) - mpmath.mpf(mu)) / mpmath.mpf(sigma)
        s2 = mpmath.mpf(sigma) ** 2
        if abs(a) > 1e6:  # phi(a) is below every float: only the uncensored part (a < 0) is left
            return np.zeros((2, 2)) if a > 0 else np.diag([float(1 / s2), float(2 / s2)])
        phi, Phi, upper = mpmath.npdf(a), mpmath.ncdf(a), mpmath.ncdf(-a)
        off = (a * phi**2 / Phi + (a * a + 1) * phi) / s2
        return np.array([[float((phi**2 / Phi + a * phi + upper) / s2), float(off)],
                         [float(off), float((a * a * phi**2 / Phi + (a**3 + a) * phi + 2 * upper) / s2)]])


# (mu, sigma, c): boosting's far tails (c = 30, mu = 25 gave nan: e^{c^2} and e^{mu^2} apart), phi(a) and
# Phi(a) both underflowing (a = -40, -1e5), a^2 overflowing (|a| = 1e160), large close c and mu, tiny sigma
_TOBIT_EDGES = [(25.0, 1.0, 30.0), (0.0, 1.0, 0.0), (0.0, 1.0, 40.0), (0.0, 1.0, -40.0), (0.0, 1.0, -1e5),
                (0.0, 1.0, 1e160), (0.0, 1.0, -1e160), (1e10, 1.0, 1e10 + 1), (1e10, 1e-8, 1e10), (3.0, 1e8, -2.0),
                (0.0, 1.0, -38.5), (0.3, 1.7, -0.4)]


@pytest.mark.slow  # the (mu, sigma) information takes 8 s to derive
@pytest.mark.parametrize("backend", ["numpy", "fused", "torch", "jax"])
def test_censored_normal_compiled_fisher_is_finite_and_right_in_both_tails(backend):
    if backend in ("torch", "jax"):
        pytest.importorskip(backend)
    d = symlik.derive("censored_normal", predict=("mu", "sigma"))
    mu, sigma, c = (np.array(v) for v in zip(*_TOBIT_EDGES))
    for target in ("fisher", "grad_hess"):
        options = {"hessian": "fisher", "hessian_form": "full"} if target == "grad_hess" else {}
        k = symlik.compile(d, target=target, reduction="none", backend=backend, **options)
        inputs = {"mu": mu, "sigma": sigma, "c": c} | ({"y": c} if target == "grad_hess" else {})
        got = k(**{name: as_backend_array(backend, v) for name, v in inputs.items()})
        got = np.asarray(got[1] if target == "grad_hess" else got)  # grad_hess gives (gradient, Hessian)
        for point, value in zip(_TOBIT_EDGES, got):
            want = _tobit_fisher_closed_form(*point)
            assert np.all(np.isfinite(value)), (backend, target, point, value)
            # the off-diagonal at a = -38.5 is phi (a (phi/Phi + a) + 1) = 1e-324 against a diagonal of 1
            np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12 * np.abs(want).max(),
                                       err_msg=f"{backend} {target} at {point}")


def test_censored_normal_support_says_where_its_mass_is():
    spec = symlik.derive("censored_normal").spec
    assert "a probability mass at y = c" in spec.support.describe()
    with pytest.raises(ValueError, match="masses"):
        type(spec.support)("continuous", None, None, masses=("lower",))


def test_censored_normal_numeric_normaliser_counts_the_mass():
    # mass Phi(a) at y = c plus the density above it is a probability: 1 at every point, by mpmath
    import sympy as sp

    from symlik.core import expectation as E
    from symlik.model.normalisation import numeric_total

    spec = symlik.derive("censored_normal").spec
    y = sp.Symbol("y", real=True)
    names = {n: spec.symbol(n) for n in ("mu", "sigma", "c")}
    density = spec.density(y, **names)
    for mu, sigma, c in [(0.0, 1.0, 0.0), (0.3, 1.7, -0.4), (-1.2, 0.6, 0.5)]:
        point = {names["mu"]: mu, names["sigma"]: sigma, names["c"]: c}
        assert numeric_total(density, y, E.domain_of(spec), point) == pytest.approx(1.0, abs=1e-12)
