"""Fisher informations whose moments come from a rule (symlik.analysis.moments), not from
SymPy's integrator: each against the expected squared score, E[s s^T], computed by mpmath
quadrature of a hand-written log-density, with the score by mpmath's numerical derivative."""

import mpmath
import pytest
import sympy as sp

import symlik
from symlik.analysis import information as info_module
from symlik.core import expectation as E

def _beta_mean_precision(y, mu, phi):
    a, b = mu * phi, (1 - mu) * phi
    return mpmath.loggamma(phi) - mpmath.loggamma(a) - mpmath.loggamma(b) + (a - 1) * mpmath.log(y) + (b - 1) * mpmath.log(1 - y)


def _weibull(y, k, lam):
    return mpmath.log(k) - mpmath.log(lam) + (k - 1) * mpmath.log(y / lam) - (y / lam) ** k


def _lognormal(y, mu, sigma):
    return -mpmath.log(y) - mpmath.log(sigma) - mpmath.log(2 * mpmath.pi) / 2 - (mpmath.log(y) - mu) ** 2 / (2 * sigma**2)


def _gamma(y, mu, k):  # shape k, mean mu
    return k * mpmath.log(k / mu) - mpmath.loggamma(k) + (k - 1) * mpmath.log(y) - k * y / mu


def _student_t(y, mu, sigma, nu):
    z = (y - mu) / sigma
    return (mpmath.loggamma((nu + 1) / 2) - mpmath.loggamma(nu / 2) - mpmath.log(mpmath.pi * nu) / 2 - mpmath.log(sigma)
            - (nu + 1) / 2 * mpmath.log(1 + z**2 / nu))


def _expected_outer_score(log_p, theta, support):
    """E[s s^T] with s the gradient of log_p in theta, by quadrature over the support (30 digits)."""
    with mpmath.workdps(30):
        return _outer_score_quadrature(log_p, theta, support)


def _outer_score_quadrature(log_p, theta, support):
    n = len(theta)

    def score(y, i):
        return mpmath.diff(lambda t: log_p(y, *[t if j == i else v for j, v in enumerate(theta)]), theta[i])

    def entry(i, j):
        return mpmath.quad(lambda y: score(y, i) * score(y, j) * mpmath.exp(log_p(y, *theta)), support)

    return [[entry(i, j) for j in range(n)] for i in range(n)]


CASES = [
    # name, predict, hand-written log-density, parameter values, support split for quadrature
    ("beta_mean_precision", ("mu", "phi"), _beta_mean_precision, {"mu": 0.3, "phi": 7.0}, [0, 0.3, 1]),
    ("weibull", ("k", "lam"), _weibull, {"k": 1.7, "lam": 2.5}, [0, 2.5, mpmath.inf]),
    ("lognormal", ("mu", "sigma"), _lognormal, {"mu": 0.4, "sigma": 0.6}, [0, 1.5, mpmath.inf]),
    ("gamma", ("mu", "k"), _gamma, {"mu": 2.0, "k": 3.5}, [0, 2.0, mpmath.inf]),
    pytest.param("student_t", ("mu", "sigma", "nu"), _student_t, {"mu": 0.3, "sigma": 1.4, "nu": 4.5}, [-mpmath.inf, 0.3, mpmath.inf],
                 marks=pytest.mark.slow, id="student_t"),  # 8-13 s
]


@pytest.mark.parametrize("name, predict, log_p, values, support", CASES, ids=[getattr(c, "id", None) or c[0] for c in CASES])
def test_fisher_from_moment_rules_matches_quadrature(name, predict, log_p, values, support):
    d = symlik.derive(name, predict=predict)
    fisher = d.fisher()
    at = {d.symbols[k]: v for k, v in values.items() if k in d.symbols}
    want = _expected_outer_score(log_p, [values[p] for p in predict], support)
    for i in range(len(predict)):
        for j in range(len(predict)):
            got = float(fisher[i, j].subs(at).evalf(30))
            assert got == pytest.approx(float(want[i][j]), rel=1e-10, abs=1e-12), (name, i, j)


def test_beta_regression_fisher_through_the_logit():
    """With mu = sigmoid(z), I(z) = (dmu/dz)^2 I(mu): the score in z, by quadrature."""
    d = symlik.derive("beta_mean_precision", link="logit")
    (z_symbol,) = [d.symbols[n] for n in d.predicted_inputs]
    phi, z = 6.0, -0.8
    got = float(d.fisher()[0, 0].subs({z_symbol: z, d.symbols["phi"]: phi}).evalf(30))
    want = _expected_outer_score(lambda y, t: _beta_mean_precision(y, 1 / (1 + mpmath.exp(-t)), phi), [z], [0, 0.5, 1])
    assert got == pytest.approx(float(want[0][0]), rel=1e-10)


@pytest.mark.slow  # 4 s; test_grad_hess checks the same closed form compiled
def test_student_t_fisher_through_the_log_scale():
    """The boosting parametrisation (mu, log sigma): I = (nu + 1)/((nu + 3) sigma^2) and 2 nu/(nu + 3)."""
    d = symlik.derive("student_t", predict=("mu", "sigma"), link={"sigma": "log"})
    mu, log_sigma, nu = 0.2, 0.4, 5.0
    at = {d.symbols[n]: v for n, v in (("mu", mu), ("log_sigma", log_sigma), ("nu", nu)) if n in d.symbols}
    got = [[float(d.fisher()[i, j].subs(at)) for j in range(2)] for i in range(2)]
    want = _expected_outer_score(lambda y, m, t: _student_t(y, m, mpmath.exp(t), nu), [mu, log_sigma], [-mpmath.inf, mu, mpmath.inf])
    for i in range(2):
        for j in range(2):
            assert got[i][j] == pytest.approx(float(want[i][j]), rel=1e-10, abs=1e-12)


def test_tweedie_fisher_is_one_over_phi_times_the_variance_function():
    """GLM theory: I(mu) = 1 / (phi V(mu)) with V(mu) = mu^p (McCullagh and Nelder, 2.5)."""
    d = symlik.derive("tweedie")
    s = d.symbols
    value = d.fisher()[0, 0].subs({s["mu"]: 1.7, s["phi"]: 0.8, s["power"]: 1.4})
    assert float(value) == pytest.approx(1 / (0.8 * 1.7**1.4), rel=1e-14)


def test_the_moment_rules_are_shown_in_the_derivation():
    text = symlik.derive("weibull", predict=("k", "lam")).explained().to_markdown()
    assert "An expectation by a power substitution" in text
    text = symlik.derive("beta_mean_precision", predict=("mu", "phi")).explained().to_markdown()
    assert "The moments from the expected score" in text


def test_integrals_sympy_has_no_rule_for_are_not_attempted(monkeypatch):
    """The skew-normal's Fisher information needs E[y^k (phi(a y)/Phi(a y))^2] (no closed form): it
    is reported as not derived, without spending the symbolic time budget on the integrator."""
    def refuse(*args):
        raise AssertionError("the integrator was started on an integrand out of its reach")

    monkeypatch.setattr(E, "within_budget", refuse)
    d = symlik.derive("skew_normal")
    info_module._CACHE.clear()
    assert info_module.information(d).fisher is None
    y, a = sp.symbols("y a", real=True)
    assert E.out_of_reach(sp.exp(-y**2) / (1 + sp.erf(a * y)), y)
    assert not E.out_of_reach(sp.exp(-y**2) * (1 + sp.erf(a * y)), y)


@pytest.mark.parametrize(
    "polynomial, a, lo, hi",
    [
        (lambda y: y**4, 1 / 2, 0.3, None),  # a censored normal's half-line
        (lambda y: 3 * (y**2 - 1) ** 2, 1 / 2, None, -1.7),
        (lambda y: y**3 - 2 * y + 5, 2, -1, 0.5),
        (lambda y: y**6, 0.25, None, None),
        (lambda y: 7 + 0 * y, 1 / 2, -40, 40.5),
    ],
)
def test_gaussian_polynomial_integrals_by_parts_match_quadrature(polynomial, a, lo, hi):
    y = sp.Symbol("y", real=True)
    bound = {None: None} | {b: sp.nsimplify(b) for b in (lo, hi) if b is not None}
    value = E.gaussian_polynomial_integral(polynomial(y) * sp.exp(-sp.nsimplify(a) * y**2), y,
                                           -sp.oo if lo is None else bound[lo], sp.oo if hi is None else bound[hi])
    left, right = -mpmath.inf if lo is None else lo, mpmath.inf if hi is None else hi
    cuts = [left, 0, right] if left < 0 < right else [left, right]  # a break at the peak helps the quadrature
    with mpmath.workdps(30):
        want = mpmath.quad(lambda t: polynomial(t) * mpmath.exp(-a * t * t), cuts)
    assert float(value) == pytest.approx(float(want), rel=1e-12, abs=1e-15)


def test_gaussian_polynomial_integral_declines_what_it_is_not():
    y, m = sp.Symbol("y", real=True), sp.Symbol("m", real=True)
    assert E.gaussian_polynomial_integral(sp.exp(-(y - m) ** 2), y, 0, sp.oo) is None  # a linear term in the exponent
    assert E.gaussian_polynomial_integral(sp.exp(y**2), y, 0, 1) is None  # not a decaying Gaussian
    assert E.gaussian_polynomial_integral(sp.exp(-y**2) / (1 + y**2), y, 0, 1) is None  # not a polynomial


def test_logistic_location_fisher_is_one_third_over_s_squared_by_quadrature():
    # SymPy gave up on this integral after 15 s over y; over t = e^y it is a rational function.
    d = symlik.derive("logistic")
    fisher = d.fisher()[0, 0]
    for mu, s in [(0.0, 1.0), (1.3, 0.4)]:
        def log_p(y, m):
            z = (y - m) / s
            return -z - mpmath.log(s) - 2 * mpmath.log1p(mpmath.exp(-z))

        want = mpmath.quad(lambda y: mpmath.diff(lambda m: log_p(y, m), mu) ** 2 * mpmath.exp(log_p(y, mu)),
                           [-mpmath.inf, mu, mpmath.inf])
        got = float(fisher.subs({d.spec.symbol("mu"): mu, d.spec.symbol("s"): s}))
        assert got == pytest.approx(float(want), rel=1e-10)


@pytest.mark.parametrize(
    "integrand, lo, hi",
    [
        (lambda y, exp: exp(-y) / (1 + exp(-y)) ** 2, None, None),  # the logistic density
        (lambda y, exp: 1 / (exp(y / 2) + exp(-y / 2)) ** 2, -1, None),  # a sech^2 on a half-line
        (lambda y, exp: exp(3 * y) / (1 + exp(y)) ** 5, None, 0.7),
    ],
)
def test_integrals_of_rational_functions_of_exponentials_match_quadrature(integrand, lo, hi):
    y = sp.Symbol("y", real=True)
    moved = E.in_exponential(integrand(y, sp.exp), y, -sp.oo if lo is None else sp.nsimplify(lo),
                             sp.oo if hi is None else sp.nsimplify(hi))
    assert moved is not None and moved[0].is_rational_function(moved[1])
    value = sp.integrate(*moved[:1], (moved[1], moved[2], moved[3]))
    want = mpmath.quad(lambda t: integrand(t, mpmath.exp), [-mpmath.inf if lo is None else lo, 0, mpmath.inf if hi is None else hi])
    assert float(value) == pytest.approx(float(want), rel=1e-12)


@pytest.mark.parametrize(
    "term, lo",
    [
        (lambda y, r: (y - r) ** 2 * r**y / sp.factorial(y), 0),  # the Poisson's squared score, unweighted
        (lambda y, r: (y**3 + 2) * r**y / sp.factorial(y) * 7, 2),  # from y = 2: the terms below come off
        (lambda y, r: r**y / sp.factorial(y), 1),
    ],
)
def test_poisson_series_by_touchard_polynomials_match_mpmath(term, lo):
    y, r = sp.Symbol("y", integer=True, nonnegative=True), sp.Symbol("r", positive=True)
    value = E.poisson_series(term(y, r), y, sp.Integer(lo), sp.oo)
    numeric = sp.lambdify((y, r), term(y, r), "mpmath")
    for rate in (0.3, 1.7, 6.0):
        want = mpmath.nsum(lambda k: numeric(k, rate), [lo, mpmath.inf])
        assert float(value.subs(r, rate)) == pytest.approx(float(want), rel=1e-12)


def test_poisson_series_declines_what_it_is_not():
    y, r = sp.Symbol("y", integer=True, nonnegative=True), sp.Symbol("r", positive=True)
    assert E.poisson_series(r**y / sp.factorial(y) / (y + 1), y, sp.Integer(0), sp.oo) is None  # not a polynomial
    assert E.poisson_series(r**y / sp.factorial(y), y, sp.Integer(0), sp.Integer(9)) is None  # not to infinity
    assert E.poisson_series(r**y * sp.gamma(y + 3), y, sp.Integer(0), sp.oo) is None  # no y!


def test_a_sum_with_a_branch_at_zero_takes_zero_apart():
    # a zero-inflated Poisson's E[y^2]: SymPy's summation gives up on the Piecewise in y
    y, r, w = sp.Symbol("y", integer=True, nonnegative=True), sp.Symbol("r", positive=True), sp.Rational(1, 4)
    pmf = sp.Piecewise((w + (1 - w) * sp.exp(-r), sp.Eq(y, 0)), ((1 - w) * sp.exp(-r) * r**y / sp.factorial(y), True))
    value = E.summation(y**2 * pmf, y, sp.Integer(0), sp.oo)
    assert value is not None and not value.has(sp.Piecewise)
    for rate in (0.5, 3.0):
        want = (1 - 0.25) * (rate + rate**2)  # E[y^2] of the Poisson, scaled by its weight
        assert float(value.subs(r, rate)) == pytest.approx(want, rel=1e-13)
