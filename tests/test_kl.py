"""KL divergences: symbolically equal to the textbook closed forms, and numerically
equal to KL computed by scipy.integrate / explicit sums at random parameters."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats

import symlik
from symlik import NotSupportedError


def _spec(name, density, params, support):
    """The catalog entry when present, else the same density via symlik.custom."""
    if name in symlik.names():
        return symlik.get(name)
    return symlik.custom(name, density=density, params=params, support=support)


def exponential():
    spec = _spec("exponential", "rate*exp(-rate*y)", {"rate": "positive"}, "positive")
    return spec, spec.param_names[0]


def poisson():
    spec = _spec("poisson", "rate**y*exp(-rate)/factorial(y)", {"rate": "positive"}, "nonnegative_integer")
    return spec, spec.param_names[0]


def _values(r, rng):
    """Random valid values for the symbols of a KL result (p and q parameters)."""
    out = {}
    for spec, vals in ((r.p, r.p_params), (r.q, r.q_params)):
        for name, sym in vals.items():
            if not isinstance(sym, sp.Symbol):
                continue
            out[sym] = float(spec.param(name).constraint.draw(rng, ()))
    return out


def test_normal_normal():
    r = symlik.kl("normal", "normal")
    mp, sp_, mq, sq = r.p_params["mu"], r.p_params["sigma"], r.q_params["mu"], r.q_params["sigma"]
    textbook = sp.log(sq / sp_) + (sp_**2 + (mp - mq) ** 2) / (2 * sq**2) - sp.Rational(1, 2)
    assert sp.simplify(r.expr - textbook) == 0
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = _values(r, rng)
        P = stats.norm(float(v[mp]), float(v[sp_]))
        Q = stats.norm(float(v[mq]), float(v[sq]))
        numeric = integrate.quad(lambda y: P.pdf(y) * (P.logpdf(y) - Q.logpdf(y)), -np.inf, np.inf, epsabs=1e-12)[0]
        assert float(r.expr.subs(v)) == pytest.approx(numeric, rel=1e-7, abs=1e-10)


def test_diag_normal_from_standard_normal_is_kingma_welling():
    r = symlik.kl("diag_normal", "diag_normal", p_options={"sigma": "per_dim"}, q_params={"mu": 0, "sigma": 1})
    k = r.index
    mu, sigma = r.p_params["mu"], r.p_params["sigma"]
    D = r.p.K
    textbook = sp.Sum((mu**2 + sigma**2 - 1 - sp.log(sigma**2)) / 2, (k, 1, D))
    assert isinstance(r.expr, sp.Sum) and r.expr.limits == textbook.limits
    assert sp.simplify(sp.expand_log(r.expr.function - textbook.function, force=True)) == 0
    # numerically, at D = 3, against a sum of one-dimensional integrals
    rng = np.random.default_rng(1)
    m, s = rng.normal(size=3), rng.lognormal(0, 0.4, 3)
    numeric = sum(
        integrate.quad(lambda y: stats.norm.pdf(y, a, b) * (stats.norm.logpdf(y, a, b) - stats.norm.logpdf(y)), -np.inf, np.inf)[0]
        for a, b in zip(m, s)
    )
    value = r.expr.subs(D, 3).doit().subs({mu.base[i + 1]: m[i] for i in range(3)}).subs({sigma.base[i + 1]: s[i] for i in range(3)})
    assert float(value) == pytest.approx(numeric, rel=1e-8)


def test_bernoulli_bernoulli():
    r = symlik.kl("bernoulli", "bernoulli")
    p, q = r.p_params["p"], r.q_params["p"]
    textbook = p * sp.log(p / q) + (1 - p) * sp.log((1 - p) / (1 - q))
    assert sp.simplify(sp.expand_log(r.expr - textbook, force=True)) == 0
    for pv, qv in [(0.2, 0.7), (0.9, 0.5)]:
        numeric = sum(stats.bernoulli.pmf(y, pv) * (stats.bernoulli.logpmf(y, pv) - stats.bernoulli.logpmf(y, qv)) for y in (0, 1))
        assert float(r.expr.subs({p: pv, q: qv})) == pytest.approx(numeric, rel=1e-12)


def test_categorical_categorical():
    r = symlik.kl("categorical", "categorical")
    k, C = r.index, r.p.K
    p, q = r.p_params["p"], r.q_params["p"]
    textbook = sp.Sum(p * sp.log(p / q), (k, 1, C))
    assert sp.simplify(sp.expand_log(r.expr.function - textbook.function, force=True)) == 0
    rng = np.random.default_rng(2)
    pv, qv = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    value = r.expr.subs(C, 4).doit()
    value = value.subs({p.base[i + 1]: pv[i] for i in range(4)}).subs({q.base[i + 1]: qv[i] for i in range(4)})
    numeric = sum(pv[j] * (np.log(pv[j]) - np.log(qv[j])) for j in range(4))  # sum over the 4 one-hot outcomes
    assert float(value) == pytest.approx(numeric, rel=1e-12)


def test_poisson_poisson():
    spec, name = poisson()
    r = symlik.kl(spec, spec)
    a, b = r.p_params[name], r.q_params[name]
    textbook = a * sp.log(a / b) - a + b
    assert sp.simplify(sp.expand_log(r.expr - textbook, force=True)) == 0
    for av, bv in [(0.7, 3.0), (4.2, 1.1)]:
        ys = np.arange(0, 200)
        numeric = np.sum(stats.poisson.pmf(ys, av) * (stats.poisson.logpmf(ys, av) - stats.poisson.logpmf(ys, bv)))
        assert float(r.expr.subs({a: av, b: bv})) == pytest.approx(numeric, rel=1e-10)


def test_exponential_exponential():
    spec, name = exponential()
    r = symlik.kl(spec, spec)
    a, b = r.p_params[name], r.q_params[name]
    textbook = sp.log(a / b) + b / a - 1
    assert sp.simplify(sp.expand_log(r.expr - textbook, force=True)) == 0
    for av, bv in [(0.5, 2.0), (3.0, 0.4)]:
        numeric = integrate.quad(
            lambda y: stats.expon.pdf(y, scale=1 / av) * (stats.expon.logpdf(y, scale=1 / av) - stats.expon.logpdf(y, scale=1 / bv)),
            0, np.inf,
        )[0]
        assert float(r.expr.subs({a: av, b: bv})) == pytest.approx(numeric, rel=1e-8)


def test_kl_bad_input():
    with pytest.raises(NotSupportedError, match="same support"):
        symlik.kl("normal", "bernoulli")
    with pytest.raises(symlik.UnknownNameError):
        symlik.kl("normal", "normal", q_params={"nu": 1})
    with pytest.raises(symlik.UnknownNameError):
        symlik.kl("normall", "normal")


def test_kl_document_renders_its_steps():
    r = symlik.kl("bernoulli", "bernoulli")
    md = r.to_markdown()
    assert md.startswith("# KL divergence") and "## 3. Take the expectation" in md
    assert r"\operatorname{KL}" in r.to_latex()


@pytest.mark.slow  # 4 s
def test_vae_documents_use_derived_parts():
    gauss = symlik.vae_document("gaussian")
    bern = symlik.vae_document("bernoulli")
    J = sp.Symbol("J", integer=True, positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    mu, sigma = sp.IndexedBase("mu", real=True), sp.IndexedBase("sigma", positive=True)
    kl_textbook = sp.Rational(1, 2) * (mu[j] ** 2 + sigma[j] ** 2 - 1 - sp.log(sigma[j] ** 2))
    kl_part = [t for t in sp.Add.make_args(gauss.result) if isinstance(t, sp.Sum) and t.limits[0][0] == j]
    assert len(kl_part) == 1 and kl_part[0].limits[0][2] == J
    assert sp.simplify(sp.expand_log(kl_part[0].function - kl_textbook, force=True)) == 0
    assert "`mse`" in gauss.to_markdown()
    assert "`binary_cross_entropy`" in bern.to_markdown()
    with pytest.raises(symlik.UnknownNameError):
        symlik.vae_document("poisson-ish")
