"""Issue 14, part A: zero-inflated and hurdle counts, the mean/precision beta, Student's t with a
predicted nu, and supports closed where the density is finite. Oracles: scipy.stats pieces and
hand-written closed forms (scipy has no zero-inflated or hurdle model), mpmath sums."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import stats

import symlik


def _nll(name, **kwargs):
    return symlik.compile(name, target="nll", reduction="none", **kwargs)


# ---------------------------------------------------------------------------
# zero-inflated Poisson, zero-inflated negative binomial, hurdle Poisson
# ---------------------------------------------------------------------------


def test_zero_inflated_poisson_matches_the_mixture_written_out():
    pi = np.array([0.0, 0.3, 0.3, 0.9, 1.0, 0.2])
    rate = np.array([2.0, 0.5, 0.5, 4.0, 3.0, 1e-3])
    y = np.array([0.0, 0.0, 3.0, 0.0, 0.0, 1.0])
    # by hand: a zero is pi + (1 - pi) e^-rate; a count y > 0 is (1 - pi) Poisson(y; rate)
    want = np.where(y == 0, -np.log(pi + (1 - pi) * np.exp(-rate)), -np.log1p(-pi) - stats.poisson.logpmf(y, rate))
    np.testing.assert_allclose(_nll("zero_inflated_poisson")(pi=pi, rate=rate, y=y), want, rtol=1e-13)


def test_zero_inflated_poisson_stays_finite_where_both_zero_terms_underflow():
    # pi = 1e-300 and rate = 800: pi + (1 - pi) e^-800 underflows to 1e-300 + 0, but the log is exact by logaddexp
    k = _nll("zero_inflated_poisson")
    got = k(pi=np.array([1e-300]), rate=np.array([800.0]), y=np.array([0.0]))
    want = -mpmath.log(mpmath.mpf("1e-300") + (1 - mpmath.mpf("1e-300")) * mpmath.exp(-800))
    assert abs(got[0] - float(want)) <= 1e-14 * abs(float(want))
    # with logits: z = -1000 is pi = e^-1000, which no float holds
    k = _nll("zero_inflated_poisson", link="logit")
    got = k(logits=np.array([-1000.0]), rate=np.array([900.0]), y=np.array([0.0]))
    pi = 1 / (1 + mpmath.exp(1000))
    want = -mpmath.log(pi + (1 - pi) * mpmath.exp(-900))
    assert abs(got[0] - float(want)) <= 1e-14 * abs(float(want))


def test_zero_inflated_negative_binomial_matches_scipy_nbinom_pieces():
    rng = np.random.default_rng(3)
    pi, mu, n = rng.uniform(0.05, 0.9, 40), rng.lognormal(0, 1, 40), rng.lognormal(0, 1, 40)
    y = np.floor(rng.uniform(0, 8, 40))
    p = n / (n + mu)
    want = np.where(y == 0, -np.log(pi + (1 - pi) * stats.nbinom.pmf(0, n, p)), -np.log1p(-pi) - stats.nbinom.logpmf(y, n, p))
    np.testing.assert_allclose(_nll("zero_inflated_negative_binomial")(pi=pi, mu=mu, y=y, n=n), want, rtol=1e-12)


def test_zero_inflated_negative_binomial_keeps_digits_when_the_mean_is_tiny_against_n():
    # log (n/(n + mu))^n = -n log1p(mu/n): n log n - n log(n + mu) would lose all of mu = 1e-3 at n = 1e12
    k = _nll("zero_inflated_negative_binomial")
    got = k(pi=np.array([0.0]), mu=np.array([1e-3]), y=np.array([0.0]), n=np.array([1e12]))
    want = 1e12 * mpmath.log1p(mpmath.mpf("1e-3") / mpmath.mpf("1e12"))
    assert abs(got[0] - float(want)) <= 1e-13 * float(want)


def test_hurdle_poisson_matches_a_zero_truncated_poisson_by_hand():
    pi = np.array([0.4, 0.4, 0.1, 0.7])
    rate = np.array([2.0, 2.0, 1e-20, 1e-8])
    y = np.array([0.0, 3.0, 1.0, 2.0])
    with mpmath.workdps(50):
        want = [
            float(-mpmath.log(p_)) if y_ == 0 else float(
                -mpmath.log(1 - mpmath.mpf(p_)) - y_ * mpmath.log(mpmath.mpf(r_)) + mpmath.mpf(r_)
                + mpmath.loggamma(y_ + 1) + mpmath.log(1 - mpmath.exp(-mpmath.mpf(r_)))
            )
            for p_, r_, y_ in zip(pi, rate, y)
        ]
    # rate = 1e-20: 1 - e^-rate is 0 in floats; the log1mexp rewrite keeps log(rate)
    np.testing.assert_allclose(_nll("hurdle_poisson")(pi=pi, rate=rate, y=y), want, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(
    "name, params",
    [
        ("zero_inflated_poisson", {"pi": 0.35, "rate": 2.5}),
        ("zero_inflated_negative_binomial", {"pi": 0.35, "mu": 2.5, "n": 1.7}),
        ("hurdle_poisson", {"pi": 0.35, "rate": 2.5}),
    ],
)
def test_count_pmfs_sum_to_one(name, params):
    y = np.arange(0.0, 200.0)
    k = _nll(name)
    pmf = np.exp(-k(**{p: np.full_like(y, v) for p, v in params.items()}, y=y))
    assert abs(math.fsum(pmf) - 1) < 1e-13
    # and P(y = 0) is what each model says it is
    pi = params["pi"]
    zero = {"zero_inflated_poisson": pi + (1 - pi) * math.exp(-2.5),
            "zero_inflated_negative_binomial": pi + (1 - pi) * (1.7 / (1.7 + 2.5)) ** 1.7,
            "hurdle_poisson": pi}[name]
    assert abs(pmf[0] - zero) < 1e-15


def test_zero_probability_takes_a_logit_and_the_rate_a_log_link():
    d = symlik.derive("zero_inflated_poisson", link="logit")
    assert d.inputs == ("logits", "rate", "y")
    d = symlik.derive("zero_inflated_poisson", link="log")
    assert d.inputs == ("pi", "log_rate", "y")
    z, log_rate, y = np.array([0.3, -2.0]), np.array([0.5, 1.5]), np.array([0.0, 2.0])
    pi = 1 / (1 + np.exp(-z))
    got = _nll("zero_inflated_poisson", link="logit")(logits=z, rate=np.exp(log_rate), y=y)
    want = _nll("zero_inflated_poisson")(pi=pi, rate=np.exp(log_rate), y=y)
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_per_parameter_links_on_both_zero_inflated_parameters():
    try:
        d = symlik.derive("zero_inflated_poisson", link={"pi": "logit", "rate": "log"})
    except symlik.SymlikError:
        pytest.skip("link={param: link} is not accepted yet (the per-parameter link issue)")
    k = symlik.compile(d, target="nll", reduction="none")
    z, eta, y = np.array([0.3, -2.0]), np.array([0.5, 1.5]), np.array([0.0, 2.0])
    pi, rate = 1 / (1 + np.exp(-z)), np.exp(eta)
    want = np.where(y == 0, -np.log(pi + (1 - pi) * np.exp(-rate)), -np.log1p(-pi) - stats.poisson.logpmf(y, rate))
    np.testing.assert_allclose(k(z, eta, y), want, rtol=1e-13)


# ---------------------------------------------------------------------------
# beta in the mean/precision parametrisation; Student's t with a predicted nu
# ---------------------------------------------------------------------------


def test_beta_mean_precision_is_scipy_beta_with_a_equal_mu_phi():
    rng = np.random.default_rng(7)
    mu, phi, y = rng.uniform(0.05, 0.95, 30), rng.lognormal(1, 1, 30), rng.uniform(0.01, 0.99, 30)
    k = _nll("beta_mean_precision", predict=("mu", "phi"))
    np.testing.assert_allclose(k(mu=mu, phi=phi, y=y), -stats.beta.logpdf(y, mu * phi, (1 - mu) * phi), rtol=1e-12)
    z = np.log(mu / (1 - mu))
    k = _nll("beta_mean_precision", predict=("mu", "phi"), link="logit")
    np.testing.assert_allclose(k(logits=z, phi=phi, y=y), -stats.beta.logpdf(y, mu * phi, (1 - mu) * phi), rtol=1e-11)


def test_beta_mean_precision_per_parameter_links():
    try:
        d = symlik.derive("beta_mean_precision", predict=("mu", "phi"), link={"mu": "logit", "phi": "log"})
    except symlik.SymlikError:
        pytest.skip("link={param: link} is not accepted yet (the per-parameter link issue)")
    k = symlik.compile(d, target="nll", reduction="none")
    z, eta, y = np.array([0.3, -2.0]), np.array([0.5, 3.0]), np.array([0.2, 0.7])
    mu, phi = 1 / (1 + np.exp(-z)), np.exp(eta)
    np.testing.assert_allclose(k(z, eta, y), -stats.beta.logpdf(y, mu * phi, (1 - mu) * phi), rtol=1e-12)


def test_student_t_with_predicted_nu_matches_scipy_from_tiny_to_huge_nu():
    nu = np.array([1e-3, 0.5, 1.0, 3.0, 30.0, 1e4, 1e8, 1e12])
    mu, sigma, y = np.zeros_like(nu), np.full_like(nu, 1.5), np.full_like(nu, 2.0)
    k = _nll("student_t", predict=("mu", "sigma", "nu"))
    assert k.inputs == ("mu", "sigma", "nu", "y")
    got = k(mu=mu, sigma=sigma, nu=nu, y=y)
    with mpmath.workdps(60):  # the density written out, at 60 digits
        want = [
            float(-(mpmath.loggamma((mpmath.mpf(v) + 1) / 2) - mpmath.loggamma(mpmath.mpf(v) / 2)
                    - mpmath.log(mpmath.pi * v) / 2 - mpmath.log(1.5)
                    - (mpmath.mpf(v) + 1) / 2 * mpmath.log1p((mpmath.mpf(2) / 1.5) ** 2 / v)))
            for v in nu
        ]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got[:6], -stats.t.logpdf(y[:6], nu[:6], mu[:6], sigma[:6]), rtol=1e-12)


# ---------------------------------------------------------------------------
# supports closed where the density is finite
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.slow)])  # (numba compiles each density: 3 s)
def test_densities_finite_at_the_edge_accept_it(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    scale = np.array([1.0, 2.0])
    gamma = symlik.compile("gamma", target="nll", reduction="none", backend=backend)
    # scipy: gamma.logpdf(0, 1) = 0 (rate 1); the mean mu is scipy's scale times k
    np.testing.assert_allclose(gamma(mu=scale, y=np.zeros(2), k=np.ones(2)), -stats.gamma.logpdf(0, 1, scale=scale))
    assert stats.gamma.logpdf(0, 1) == 0
    weibull = symlik.compile("weibull", target="nll", reduction="none", backend=backend)
    np.testing.assert_allclose(weibull(lam=scale, y=np.zeros(2), k=np.ones(2)), -stats.weibull_min.logpdf(0, 1, scale=scale))
    assert stats.weibull_min.logpdf(0, 1) == 0
    beta = symlik.compile("beta", target="nll", reduction="none", backend=backend)
    got = beta(a=np.array([1.0, 2.0]), b=np.array([0.5, 1.0]), y=np.array([0.0, 1.0]))
    np.testing.assert_allclose(got, [math.log(2), -math.log(2)], rtol=1e-15)
    np.testing.assert_allclose(got, -stats.beta.logpdf([0.0, 1.0], [1.0, 2.0], [0.5, 1.0]), rtol=1e-15)


@pytest.mark.parametrize(
    "name, args, why",
    [
        ("gamma", {"mu": 1.0, "y": 0.0, "k": 2.0}, "gamma.logpdf(0, 2) = -inf"),
        ("gamma", {"mu": 1.0, "y": 0.0, "k": 0.5}, "gamma.logpdf(0, 0.5) = inf"),
        ("weibull", {"lam": 1.0, "y": 0.0, "k": 3.0}, "weibull_min.logpdf(0, 3) = -inf"),
        ("beta", {"a": 0.5, "b": 1.0, "y": 0.0}, "beta.logpdf(0, 0.5, 1) = inf"),
        ("beta", {"a": 1.0, "b": 2.0, "y": 1.0}, "beta.logpdf(1, 1, 2) = -inf"),
        ("gamma", {"mu": 1.0, "y": -1e-300, "k": 1.0}, "below the support"),
    ],
)
def test_the_edge_is_still_rejected_where_the_density_is_not_finite(name, args, why):
    k = symlik.compile(name, target="nll", reduction="none")
    with pytest.raises(symlik.SymlikError, match="y must lie in the support"):
        k(**args)


def test_a_fixed_shape_of_one_accepts_the_edge():
    k = symlik.compile("gamma", target="nll", reduction="none", fixed={"k": 1.0})
    np.testing.assert_allclose(k(mu=np.array([3.0]), y=np.array([0.0])), [math.log(3.0)], rtol=1e-15)


def test_the_listing_says_where_the_edge_is_closed():
    assert symlik.get("gamma").support.describe() == "(0, inf) (y = 0 where k = 1)"
    assert symlik.get("beta").support.describe() == "(0, 1) (y = 0 where a = 1; y = 1 where b = 1)"


def _zip_log_pmf(y, pi, rate):  # by hand: the zero is either structural (pi) or a Poisson zero
    poisson = -rate + y * mpmath.log(rate) - mpmath.loggamma(y + 1)
    return mpmath.log(pi + (1 - pi) * mpmath.exp(-rate)) if y == 0 else mpmath.log(1 - pi) + poisson


def _hurdle_log_pmf(y, pi, rate):  # by hand: pi at zero, else a zero-truncated Poisson
    if y == 0:
        return mpmath.log(pi)
    return mpmath.log(1 - pi) - rate + y * mpmath.log(rate) - mpmath.loggamma(y + 1) - mpmath.log(1 - mpmath.exp(-rate))


@pytest.mark.slow  # 10 s each
@pytest.mark.parametrize("name, log_pmf", [("zero_inflated_poisson", _zip_log_pmf), ("hurdle_poisson", _hurdle_log_pmf)])
def test_zero_inflated_and_hurdle_fisher_information_match_the_expected_squared_score(name, log_pmf):
    # SymPy's summation gave up on the Piecewise in y; the sum now takes y = 0 apart and sums the
    # Poisson branch from 1. Oracle: sum over y of p(y) s s^T, the scores by mpmath.diff of the pmf.
    d = symlik.derive(name, predict=("pi", "rate"))
    fisher = d.fisher()
    for pi, rate in [(0.3, 2.5), (0.8, 0.4)]:
        point = [pi, rate]
        want = mpmath.zeros(2, 2)
        for y in range(80):
            s = [mpmath.diff(lambda *v: log_pmf(y, *v), point, tuple(int(k == i) for k in range(2))) for i in range(2)]
            p = mpmath.exp(log_pmf(y, pi, rate))
            want += p * mpmath.matrix([[a * b for b in s] for a in s])
        got = np.array(fisher.subs({d.spec.symbol("pi"): pi, d.spec.symbol("rate"): rate}).evalf(), dtype=float)
        np.testing.assert_allclose(got, np.array(want.tolist(), dtype=float), rtol=1e-10, atol=1e-14)
