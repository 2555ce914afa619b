"""Score, Hessian and Fisher information: symbolic against textbook results,
numeric against mpmath finite differences and numerical expectation."""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symlik
from symlik import NotSupportedError
from symlik.core.functions import Sigmoid


def _scalar(m):
    assert m.shape == (1, 1)
    return m[0, 0]


def poisson_spec():
    """The catalog's poisson when present, else the same density through symlik.custom."""
    if "poisson" in symlik.names():
        return symlik.get("poisson"), "rate"
    return symlik.custom("poisson", density="rate**y*exp(-rate)/factorial(y)", params={"rate": "positive"},
                         support="nonnegative_integer"), "rate"


# ---- symbolic: the textbook results -------------------------------------------


def test_normal_mu():
    d = symlik.derive("normal")
    sigma = d.symbols["sigma"]
    assert sp.simplify(_scalar(d.fisher()) - 1 / sigma**2) == 0
    assert sp.simplify(d.score()[0] - (d.y - d.symbols["mu"]) / sigma**2) == 0


def test_normal_mu_sigma_matrix():
    d = symlik.derive("normal", predict=("mu", "sigma"))
    sigma = d.symbols["sigma"]
    assert sp.simplify(d.fisher() - sp.diag(1 / sigma**2, 2 / sigma**2)) == sp.zeros(2, 2)


def test_bernoulli_p_and_its_logit():
    d = symlik.derive("bernoulli")
    p = d.symbols["p"]
    assert sp.simplify(_scalar(d.fisher()) - 1 / (p * (1 - p))) == 0
    dz = symlik.derive("bernoulli", link="logit")
    z = dz.symbols["logits"]
    fisher_z = _scalar(dz.fisher())
    assert sp.simplify(fisher_z.subs(Sigmoid(z), p) - p * (1 - p)) == 0
    # chain rule: I(z) = I(p) (dp/dz)^2 with p = sigmoid(z)
    pz = 1 / (1 + sp.exp(-z))
    assert sp.simplify(fisher_z.rewrite(sp.exp) - (1 / (pz * (1 - pz))) * sp.diff(pz, z) ** 2) == 0
    step = next(s for s in dz.explained().steps if s.title == "The Fisher information in terms of p")
    assert sp.simplify(step.expr - p * (1 - p)) == 0


def test_poisson_rate_and_log_rate():
    spec, rate_name = poisson_spec()
    d = symlik.derive(spec)
    rate = d.symbols[rate_name]
    assert sp.simplify(_scalar(d.fisher()) - 1 / rate) == 0
    if "log" in spec.links:
        dz = symlik.derive(spec, link="log")
        z = dz.symbols[dz.predicted_inputs[0]]
        assert sp.simplify(_scalar(dz.fisher()) - sp.exp(z)) == 0


def test_laplace_location_uses_the_kink_correctly():
    # E[-H] needs the delta function at the kink; the textbook answer is 1/b^2.
    d = symlik.derive("laplace")
    assert sp.simplify(_scalar(d.fisher()) - 1 / d.symbols["b"] ** 2) == 0


def test_custom_cauchy_location_scale():
    spec = symlik.custom("cauchy", density="1/(pi*g*(1 + ((y - m)/g)**2))", params={"m": "real", "g": "positive"})
    d = symlik.derive(spec)
    assert sp.simplify(_scalar(d.fisher()) - 1 / (2 * d.symbols["g"] ** 2)) == 0


def test_event_distributions_say_not_yet():
    with pytest.raises(NotSupportedError, match="event distributions"):
        symlik.derive("categorical").fisher()


# ---- numeric: finite differences and numerical expectation ----------------------

CASES = [
    # (derive args, mpmath log-density written by hand, parameter draws, y draw)
    (
        ("normal", ("mu", "sigma"), None),
        lambda y, mu, sigma: -mpmath.log(sigma) - mpmath.log(2 * mpmath.pi) / 2 - (y - mu) ** 2 / (2 * sigma**2),
        lambda rng: {"mu": rng.normal(), "sigma": rng.lognormal(0, 0.3)},
    ),
    (
        ("bernoulli", None, "logit"),
        lambda y, logits: y * logits - mpmath.log(1 + mpmath.exp(logits)),
        lambda rng: {"logits": rng.normal(0, 2)},
    ),
    (
        ("laplace", ("mu", "b"), None),
        lambda y, mu, b: -mpmath.log(2 * b) - abs(y - mu) / b,
        lambda rng: {"mu": rng.normal(), "b": rng.lognormal(0, 0.3)},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(a) for a in c[0] if a and not isinstance(a, tuple)))
def test_score_and_hessian_match_finite_differences(case):
    (name, predict, link), log_p, draw = case
    d = symlik.derive(name, predict=predict, link=link)
    score = symlik.compile(d, target="score", reduction="none")
    hessian = symlik.compile(d, target="hessian", reduction="none")
    rng = np.random.default_rng(11)
    names = list(d.predicted_inputs)
    for _ in range(4):
        theta = draw(rng)
        others = {n: theta[n] for n in d.inputs if n not in names and n != "y"}
        y = float(rng.integers(0, 2)) if name == "bernoulli" else float(rng.normal(theta.get("mu", 0), 2))
        point = [theta[n] for n in names]

        def f(*args):
            return log_p(y, **dict(zip(names, args)), **others)

        fd_grad = [mpmath.diff(f, point, tuple(int(i == j) for i in range(len(names)))) for j in range(len(names))]
        args = {**theta, "y": y}
        got = np.atleast_1d(score(**{n: args[n] for n in score.inputs}))
        np.testing.assert_allclose(got, [float(g) for g in fd_grad], rtol=1e-8, atol=1e-10)
        got_h = np.atleast_2d(hessian(**{n: args[n] for n in hessian.inputs}))
        for i in range(len(names)):
            for j in range(len(names)):
                orders = tuple(int(k == i) + int(k == j) for k in range(len(names)))
                if name == "laplace" and names[i] == "mu" and names[j] == "mu":
                    assert got_h[i, j] == 0  # the delta function at the kink has zero width
                    continue
                assert got_h[i, j] == pytest.approx(float(mpmath.diff(f, point, orders)), rel=1e-6, abs=1e-8)


@pytest.mark.slow  # 4-6 s: in the slow suite, to keep README's test command under 5 minutes
def test_fisher_matches_numerical_expectation():
    rng = np.random.default_rng(5)
    # normal (mu, sigma): E[s s^T] by mpmath quadrature, hand-written score
    d = symlik.derive("normal", predict=("mu", "sigma"))
    k = symlik.compile(d, target="fisher", reduction="none")
    for _ in range(3):
        mu, sigma = rng.normal(), rng.lognormal(0, 0.4)
        dens = lambda y: mpmath.npdf(y, mu, sigma)  # noqa: E731
        s_mu = lambda y: (y - mu) / sigma**2  # noqa: E731
        s_sigma = lambda y: -1 / sigma + (y - mu) ** 2 / sigma**3  # noqa: E731
        want = [
            [mpmath.quad(lambda y: a(y) * b(y) * dens(y), [-mpmath.inf, mu, mpmath.inf]) for b in (s_mu, s_sigma)]
            for a in (s_mu, s_sigma)
        ]
        np.testing.assert_allclose(k(mu, sigma), np.array(want, dtype=float), rtol=1e-9, atol=1e-12)
    # bernoulli p: sum over {0, 1} of p(y) s(y)^2
    kb = symlik.compile("bernoulli", target="fisher", reduction="none")
    for p in rng.uniform(0.05, 0.95, 3):
        want = sum((p if y else 1 - p) * (y / p - (1 - y) / (1 - p)) ** 2 for y in (0, 1))
        assert kb(np.array([p]))[0] == pytest.approx(want, rel=1e-12)
    # poisson rate: sum over counts, by mpmath
    spec, rate_name = poisson_spec()
    dp = symlik.derive(spec)
    fisher = float(_scalar(dp.fisher()).subs(dp.symbols[rate_name], 2.3))
    want = mpmath.nsum(lambda y: mpmath.exp(y * mpmath.log(2.3) - 2.3 - mpmath.loggamma(y + 1)) * (y / 2.3 - 1) ** 2, [0, mpmath.inf])
    assert fisher == pytest.approx(float(want), rel=1e-10)


def test_fisher_kernel_is_stable_at_extreme_logits():
    k = symlik.compile("bernoulli", link="logit", target="fisher", reduction="none")
    z = np.array([-50.0, -5.0, 0.0, 5.0, 50.0, 800.0])
    want = [float(mpmath.exp(-abs(v)) / (1 + mpmath.exp(-abs(v))) ** 2) for v in z]
    np.testing.assert_allclose(k(z), want, rtol=1e-12, atol=0)
    assert np.all(np.isfinite(k(z)))


def test_fisher_kernel_reduction_shape_and_validation():
    d = symlik.derive("normal", predict=("mu", "sigma"))
    k = symlik.compile(d, target="fisher")  # mean over observations
    assert k.inputs == ("mu", "sigma")
    out = k(np.zeros(4), np.array([1.0, 2.0, 1.0, 2.0]))
    np.testing.assert_allclose(out, [[0.625, 0], [0, 1.25]])
    assert symlik.compile(d, target="fisher", reduction="none")(np.zeros((2, 3)), np.ones((2, 3))).shape == (2, 3, 2, 2)
    with pytest.raises(symlik.ConstraintError, match="sigma must be > 0"):
        k(np.zeros(2), np.array([1.0, -1.0]))
    with pytest.raises(symlik.UnknownNameError):
        symlik.compile(d, target="fishy")


def test_extra_steps_are_appended_after_the_derivation():
    d = symlik.derive("normal")
    e = d.explained()
    assert e.steps[: len(d.steps)] == d.steps
    titles = [s.title for s in e.steps[len(d.steps):]]
    assert titles == ["The score", "The Hessian", "The Fisher information", "The best constant prediction", "The chance-level loss"]
    assert r"\mathcal{I}" in e.to_latex() and "Fisher information" in e.to_markdown()
