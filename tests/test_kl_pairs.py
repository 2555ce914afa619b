"""KL(p || q) for the pairs torch.distributions registers among catalog members: each
checked against torch.distributions.kl_divergence and against numerical quadrature (or an
explicit sum) at several parameter points; support mismatches give inf, as in torch."""

import functools
import itertools
import math

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

import symlik

torch = pytest.importorskip("torch")
D = torch.distributions

# name -> (torch constructor, scipy frozen distribution, breakpoints for the quadrature), from symlik's parameters
MODELS = {
    "normal": (lambda mu, sigma: D.Normal(mu, sigma), lambda mu, sigma: stats.norm(mu, sigma), lambda mu, sigma: [mu]),
    "laplace": (lambda mu, b: D.Laplace(mu, b), lambda mu, b: stats.laplace(mu, b), lambda mu, b: [mu]),
    "cauchy": (lambda mu, gamma: D.Cauchy(mu, gamma), lambda mu, gamma: stats.cauchy(mu, gamma), lambda mu, gamma: [mu]),
    "gamma": (lambda mu, k: D.Gamma(k, k / mu), lambda mu, k: stats.gamma(k, scale=mu / k), lambda mu, k: []),
    "beta": (lambda a, b: D.Beta(a, b), lambda a, b: stats.beta(a, b), lambda a, b: []),
    "exponential": (lambda rate: D.Exponential(rate), lambda rate: stats.expon(scale=1 / rate), lambda rate: []),
    "gumbel": (lambda mu, beta: D.Gumbel(mu, beta), lambda mu, beta: stats.gumbel_r(mu, beta), lambda mu, beta: [mu]),
    "half_normal": (lambda sigma: D.HalfNormal(sigma), lambda sigma: stats.halfnorm(scale=sigma), lambda sigma: []),
    "lognormal": (lambda mu, sigma: D.LogNormal(mu, sigma), lambda mu, sigma: stats.lognorm(sigma, scale=np.exp(mu)), lambda mu, sigma: []),
    "bernoulli": (lambda p: D.Bernoulli(p), lambda p: stats.bernoulli(p), None),
    "poisson": (lambda rate: D.Poisson(rate), lambda rate: stats.poisson(rate), None),
    # symlik's geometric counts trials (support 1, 2, ...), torch's failures (0, 1, ...): a shift, the same KL
    "geometric": (lambda p: D.Geometric(p), lambda p: stats.geom(p), None),
    "binomial": (lambda n, p: D.Binomial(n, p), lambda n, p: stats.binom(n, p), None),
}

# Parameter points (p's values, q's values), by distribution.
POINTS = {
    "normal": [{"mu": 0.3, "sigma": 1.2}, {"mu": -1.1, "sigma": 0.6}, {"mu": 2.0, "sigma": 2.5}],
    "laplace": [{"mu": 0.3, "b": 1.2}, {"mu": -1.1, "b": 0.6}, {"mu": 2.0, "b": 2.5}],
    "cauchy": [{"mu": 0.3, "gamma": 1.2}, {"mu": -1.1, "gamma": 0.6}, {"mu": 2.0, "gamma": 2.5}],
    "gamma": [{"mu": 1.5, "k": 2.0}, {"mu": 0.7, "k": 0.8}, {"mu": 3.0, "k": 5.0}],
    "beta": [{"a": 2.0, "b": 3.0}, {"a": 0.7, "b": 1.4}, {"a": 5.0, "b": 1.5}],
    "exponential": [{"rate": 1.3}, {"rate": 0.4}, {"rate": 2.5}],
    "gumbel": [{"mu": 0.3, "beta": 1.2}, {"mu": -0.5, "beta": 0.8}, {"mu": 1.0, "beta": 2.0}],
    "half_normal": [{"sigma": 1.2}, {"sigma": 0.6}, {"sigma": 2.5}],
    "lognormal": [{"mu": 0.3, "sigma": 0.5}, {"mu": -0.4, "sigma": 1.1}, {"mu": 1.0, "sigma": 0.8}],
    "bernoulli": [{"p": 0.3}, {"p": 0.8}, {"p": 0.55}],
    "poisson": [{"rate": 1.3}, {"rate": 4.0}, {"rate": 0.6}],
    "geometric": [{"p": 0.3}, {"p": 0.7}, {"p": 0.55}],
    "binomial": [{"n": 10, "p": 0.3}, {"n": 10, "p": 0.8}, {"n": 10, "p": 0.55}],
}

FINITE = [
    ("laplace", "laplace"), ("gamma", "gamma"), ("beta", "beta"), ("exponential", "gamma"), ("gamma", "exponential"),
    ("laplace", "normal"), ("normal", "gumbel"), ("gumbel", "normal"), ("gumbel", "gumbel"), ("half_normal", "half_normal"),
    ("exponential", "gumbel"), ("exponential", "normal"), ("gamma", "normal"), ("gamma", "gumbel"), ("beta", "exponential"),
    ("beta", "gamma"), ("beta", "normal"), ("bernoulli", "poisson"), ("geometric", "geometric"), ("binomial", "binomial"),
    ("lognormal", "lognormal"), ("cauchy", "cauchy"), ("normal", "normal"), ("exponential", "exponential"), ("poisson", "poisson"), ("bernoulli", "bernoulli"),
]
INFINITE = [
    ("normal", "exponential"), ("normal", "gamma"), ("normal", "beta"), ("laplace", "exponential"), ("laplace", "gamma"),
    ("laplace", "beta"), ("gumbel", "exponential"), ("gumbel", "gamma"), ("gumbel", "beta"), ("exponential", "beta"),
    ("gamma", "beta"), ("poisson", "bernoulli"), ("poisson", "binomial"),
]


@functools.cache
def _kl(p, q):
    fixed = {"n": 10} if p == "binomial" else None  # torch's binomial KL needs the same number of trials
    return symlik.kl(p, q, p_params=fixed, q_params=fixed)


def _value(r, p_point, q_point):
    subs = {}
    for vals, point in ((r.p_params, p_point), (r.q_params, q_point)):
        for name, sym in vals.items():
            if isinstance(sym, sp.Symbol):
                subs[sym] = point[name]
    return float(sp.N(r.expr.subs(subs), 20))


def _quadrature(p, q, p_point, q_point):
    P, Q = MODELS[p][1](**p_point), MODELS[q][1](**q_point)
    if MODELS[p][2] is None:  # a sum over the support of p
        ys = np.arange(P.support()[0], min(P.support()[1], 400) + 1)
        mass = P.pmf(ys)
        keep = mass > 0
        return float(np.sum(mass[keep] * (P.logpmf(ys[keep]) - Q.logpmf(ys[keep]))))
    if p == "cauchy":  # its tails hold 1e-17 of mass out to |y| = 1e16: integrate over the angle, y = mu + gamma tan t
        y = lambda t: p_point["mu"] + p_point["gamma"] * math.tan(t)
        f = lambda t: (P.logpdf(y(t)) - Q.logpdf(y(t))) / math.pi
        return integrate.quad(f, -math.pi / 2, math.pi / 2, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    lo, hi = P.support()
    # scipy's log-densities underflow far out in the tails (laplace.logpdf(-800) is -inf), so the
    # integral runs over p's central 1 - 2e-17 of mass: the tails left out weigh less than 1e-15
    lo, hi = (P.ppf(1e-17) if np.isinf(lo) else lo), (P.isf(1e-17) if np.isinf(hi) else hi)
    cuts = sorted(c for c in {*MODELS[p][2](**p_point), *MODELS[q][2](**q_point)} if lo < c < hi)
    edges = [lo, *cuts, hi]
    f = lambda y: P.pdf(y) * (P.logpdf(y) - Q.logpdf(y)) if P.pdf(y) > 0 else 0.0
    return sum(integrate.quad(f, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0] for a, b in itertools.pairwise(edges))


def _torch(p, q, p_point, q_point):
    as_tensor = lambda point: {k: torch.tensor(float(v), dtype=torch.float64) for k, v in point.items()}
    return float(D.kl_divergence(MODELS[p][0](**as_tensor(p_point)), MODELS[q][0](**as_tensor(q_point))))


@pytest.mark.slow
@pytest.mark.parametrize("p,q", FINITE, ids=[f"{p}-{q}" for p, q in FINITE])
def test_kl_matches_torch_and_quadrature(p, q):
    r = _kl(p, q)
    assert r.expr.is_finite is not False
    for i in range(3):
        p_point, q_point = POINTS[p][i], POINTS[q][(i + 1) % 3]
        value = _value(r, p_point, q_point)
        assert value == pytest.approx(_torch(p, q, p_point, q_point), rel=1e-9, abs=1e-12)
        assert value == pytest.approx(_quadrature(p, q, p_point, q_point), rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("p,q", INFINITE, ids=[f"{p}-{q}" for p, q in INFINITE])
def test_kl_outside_the_support_is_infinite_as_in_torch(p, q):
    r = symlik.kl(p, q)
    assert r.expr == sp.oo
    assert math.isinf(_torch(p, q, POINTS[p][0], POINTS[q][0]))
    assert "mass where q has none" in r.to_text()


@pytest.mark.slow  # 29 s: derives four KL documents whose integrals need the moment rules
def test_moment_rules_are_shown_as_steps():
    text = _kl("gamma", "gamma").to_text()  # E[log y] from the score identities, solved together
    assert "from the expected score" in text and "under the integral" in text
    text = _kl("gumbel", "gumbel").to_text()
    assert "by substituting" in text


@pytest.mark.slow  # SymPy simplifies the Cauchy moments: 35 s
def test_the_cauchy_moments_come_from_the_poisson_kernel():
    text = _kl("cauchy", "cauchy").to_text()
    assert "by the Poisson kernel" in text and "harmonic in the upper half-plane" in text


def _dirichlet_value(r, a, b):
    D_ = r.p.K
    alpha_p, alpha_q = r.p_params["alpha"].base, r.q_params["alpha"].base
    value = r.expr.subs(D_, len(a)).doit()
    value = value.subs({alpha_p[i + 1]: a[i] for i in range(len(a))}).subs({alpha_q[i + 1]: b[i] for i in range(len(b))})
    return float(sp.N(value, 20))


def test_dirichlet_dirichlet_matches_torch_and_quadrature():
    r = symlik.kl("dirichlet", "dirichlet")
    assert "differentiating under the integral" in r.to_text()
    for a, b in [((0.7, 1.6, 3.1), (2.0, 0.5, 1.0)), ((5.0, 1.0, 2.0), (1.0, 1.0, 1.0))]:
        ref = float(D.kl_divergence(D.Dirichlet(torch.tensor(a, dtype=torch.float64)), D.Dirichlet(torch.tensor(b, dtype=torch.float64))))
        assert _dirichlet_value(r, a, b) == pytest.approx(ref, rel=1e-10)
    # two components: the Dirichlet is a beta on y_1, so the KL is a one-dimensional integral
    a, b = (1.7, 2.4), (0.8, 3.0)
    P, Q = stats.beta(*a), stats.beta(*b)
    quad = integrate.quad(lambda y: P.pdf(y) * (P.logpdf(y) - Q.logpdf(y)), 0, 1, epsabs=1e-13, epsrel=1e-11)[0]
    assert _dirichlet_value(r, a, b) == pytest.approx(quad, rel=1e-8)


@pytest.mark.slow
def test_normal_laplace_matches_torch_and_quadrature():
    r = _kl("normal", "laplace")
    for i in range(3):
        p_point, q_point = POINTS["normal"][i], POINTS["laplace"][(i + 1) % 3]
        value = _value(r, p_point, q_point)
        assert value == pytest.approx(_torch("normal", "laplace", p_point, q_point), rel=1e-9)
        assert value == pytest.approx(_quadrature("normal", "laplace", p_point, q_point), rel=1e-7)
