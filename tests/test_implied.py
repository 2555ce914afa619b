"""symlik.implied_density: a loss read as exp(-loss)/Z(theta). The normalisers are checked
against numerical quadrature and hand-written closed forms, the named densities against
scipy.stats, and the focal / poly-1 templates against optax's values."""

import numpy as np
import pytest
import sympy as sp
from scipy import integrate, special, stats

import symlik
from symlik import SymlikError
from symlik.apps import cli


def _numeric(expr, values):
    return float(expr.subs(values).evalf())


def _density_matches(r, oracle_logpdf, extra=None):
    """The implied density exp(-loss)/Z equals the oracle at a few points."""
    (theta,) = r.predicted
    for theta_v, y_v in [(0.3, -1.7), (-1.2, 0.4), (2.0, 5.5)]:
        values = {theta: theta_v, r.y: y_v, **(extra or {})}
        assert np.log(_numeric(r.density, values)) == pytest.approx(oracle_logpdf(y_v, theta_v), rel=1e-9, abs=1e-12)


def test_mse_is_the_normal_with_variance_one_half():
    r = symlik.implied_density("mse")
    assert r.is_nll and r.normaliser == sp.sqrt(sp.pi)  # integral of exp(-r^2) = sqrt(pi)
    assert r.distribution == "normal" and sp.simplify(r.distribution_params["sigma"] - 1 / sp.sqrt(2)) == 0
    _density_matches(r, lambda y, m: stats.norm.logpdf(y, m, np.sqrt(0.5)))


def test_mae_is_the_standard_laplace():
    r = symlik.implied_density("mae")
    assert r.is_nll and r.normaliser == 2 and r.distribution == "laplace" and r.distribution_params == {"b": 1}
    _density_matches(r, lambda y, m: stats.laplace.logpdf(y, m, 1))


@pytest.mark.slow
def test_pinball_is_the_asymmetric_laplace():
    r = symlik.implied_density("pinball")
    tau = sp.Symbol("tau", positive=True)
    for t in (0.1, 0.5, 0.8):
        rho = lambda x, t=t: max(t * x, (t - 1) * x)
        quad = sum(integrate.quad(lambda x, rho=rho: np.exp(-rho(x)), a, b)[0] for a, b in ((-np.inf, 0), (0, np.inf)))
        assert _numeric(r.normaliser, {tau: t}) == pytest.approx(quad, rel=1e-9)
    assert r.is_nll and r.distribution == "asymmetric_laplace"
    assert r.distribution_params["b"] == 1
    # scipy: laplace_asymmetric(kappa = sqrt(tau/(1 - tau)), scale = b/sqrt(tau (1 - tau))) at b = 1
    t = 0.3
    kappa, scale = np.sqrt(t / (1 - t)), 1 / np.sqrt(t * (1 - t))
    _density_matches(r, lambda y, m: stats.laplace_asymmetric.logpdf(y, kappa, m, scale), {tau: t})


@pytest.mark.slow
def test_huber_is_the_huber_density():
    r = symlik.implied_density("huber")
    delta = sp.Symbol("delta", positive=True)
    for d in (0.5, 1.345, 3.0):
        quad = integrate.quad(lambda x, d=d: np.exp(-special.huber(d, x)), -np.inf, np.inf, epsabs=0, epsrel=1e-12)[0]
        assert _numeric(r.normaliser, {delta: d}) == pytest.approx(quad, rel=1e-9)
    assert r.is_nll and r.distribution == "huber"


@pytest.mark.slow
def test_log_cosh_is_the_hyperbolic_secant():
    r = symlik.implied_density("log_cosh")
    c = sp.Symbol("c", positive=True)
    quad = integrate.quad(lambda x: 1 / np.cosh(x / 0.7), -np.inf, np.inf)[0]
    assert _numeric(r.normaliser, {c: 0.7}) == pytest.approx(quad, rel=1e-9)  # pi c
    assert r.is_nll and r.distribution == "hyperbolic_secant"


def test_cauchy_loss_is_the_cauchy_density():
    r = symlik.implied_density("cauchy")
    g = sp.Symbol("gamma", positive=True)
    assert r.distribution == "cauchy"
    _density_matches(r, lambda y, m: stats.cauchy.logpdf(y, m, 1.7), {g: 1.7})


def test_binary_cross_entropy_is_the_bernoulli():
    r = symlik.implied_density("binary_cross_entropy")
    assert r.normaliser == 1 and r.is_nll and r.distribution == "bernoulli"


def test_cross_entropy_sums_to_one_on_the_simplex():
    r = symlik.implied_density("cross_entropy")
    assert r.is_nll and r.normaliser == 1


def test_cross_entropy_is_the_categorical():
    # Named by proof: the categorical's NLL is identically the loss (plus log Z = 0). The density
    # shown is checked against scipy.stats.multinomial with one trial on each one-hot target.
    from scipy import stats

    r = symlik.implied_density("cross_entropy")
    assert r.distribution == "categorical" and r.distribution_params == {}
    named = r.steps[-1]
    assert named.title == "Name the distribution"
    density = named.expr
    (k, _, size), = density.limits
    p = np.array([0.2, 0.5, 0.3])
    for c in range(3):
        onehot = np.eye(3)[c]
        values = {r.y.base[i + 1]: onehot[i] for i in range(3)} | {r.predicted[0].base[i + 1]: p[i] for i in range(3)}
        got = float(density.xreplace({size: 3}).doit().xreplace(values))
        assert got == pytest.approx(stats.multinomial.pmf(onehot, 1, p), rel=1e-15)


def _focal_by_hand(p, y, gamma, alpha=None):
    """Lin et al.'s focal loss, written from the paper: -alpha_t (1 - p_t)^gamma log p_t."""
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = 1.0 if alpha is None else np.where(y == 1, alpha, 1 - alpha)
    return -alpha_t * (1 - p_t) ** gamma * np.log(p_t)


def test_focal_loss_is_not_a_likelihood():
    r = symlik.implied_density("focal", inner={"gamma": 2})
    assert not r.is_nll and r.distribution is None
    (p,) = r.predicted
    for pv in (0.1, 0.5, 0.9):
        by_hand = sum(np.exp(-_focal_by_hand(pv, np.array(yv), 2.0)) for yv in (0, 1))
        assert _numeric(r.normaliser, {p: pv}) == pytest.approx(by_hand, rel=1e-12)
        assert _numeric(r.missing, {p: pv}) == pytest.approx(-np.log(by_hand), rel=1e-12)
    # gamma = 0 is the binary cross-entropy: then Z = 1 and it is the Bernoulli NLL
    assert symlik.implied_density("focal", inner={"gamma": 0}).is_nll


def _poly1(logits, labels, eps):
    from symlik.losses.classification import poly1

    y, p, e = sp.symbols("y p epsilon")
    summand = sp.lambdify((y, p, e), poly1.expr(y, p, epsilon=e), "numpy")
    return summand(labels, special.softmax(logits, axis=-1), eps).sum(axis=-1)


# optax's PolyLossTest values (computed there with the TensorFlow poly1_cross_entropy of Leng et al.)
@pytest.mark.parametrize("eps,expected", [(2, 4.5317), (1, 3.7153), (-1, 2.0827), (0, 2.8990), (5.45, 7.3480)])
def test_poly1_template_matches_optax_reference_values(eps, expected):
    logits = np.array([0.14, 1.456, 2.356, -0.124, -2.47])
    labels = np.array([0.1, 0.15, 0.2, 0.25, 0.3])
    assert _poly1(logits, labels, eps) == pytest.approx(expected, abs=1e-4)


def test_poly1_is_not_a_likelihood():
    r = symlik.implied_density("poly1")
    assert not r.is_nll
    eps, K = sp.Symbol("epsilon", real=True), sp.Symbol("K", integer=True, positive=True)
    pv = np.array([0.2, 0.3, 0.5])
    p = r.predicted[0].base
    value = r.normaliser.subs({K: 3, eps: 2}).doit().subs({p[i + 1]: pv[i] for i in range(3)})
    assert float(value) == pytest.approx(np.sum(pv * np.exp(-2 * (1 - pv))), rel=1e-12)  # sum_k p_k e^{-eps(1-p_k)}
    assert symlik.implied_density("poly1", inner={"epsilon": 0}).is_nll  # eps = 0 is the cross-entropy


def test_a_formula_is_parsed_and_named():
    r = symlik.implied_density("(y - m)**2 / (2*s**2)", params={"m": "real", "s": "positive"})
    assert r.is_nll and r.distribution == "normal"
    s = next(iter(r.normaliser.free_symbols))
    assert _numeric(r.normaliser, {s: 1.3}) == pytest.approx(np.sqrt(2 * np.pi) * 1.3, rel=1e-12)
    y, m = sp.symbols("y m", real=True)
    b = sp.Symbol("b", positive=True)
    r = symlik.implied_density(sp.Abs(y - m) / b, params={m: "real", b: "positive"})
    assert r.distribution == "laplace"


def test_a_formula_whose_normaliser_moves_is_not_a_likelihood():
    # exp(-(y - m)^2 m^2): a Gaussian with variance 1/(2 m^2), Z = sqrt(pi)/|m| moves with m
    r = symlik.implied_density("(y - m)**2 * m**2", params={"m": "positive"})
    assert not r.is_nll
    m = r.predicted[0]
    assert _numeric(r.normaliser, {m: 2.0}) == pytest.approx(np.sqrt(np.pi) / 2, rel=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(SymlikError, match="loss template"):
        symlik.implied_density("no_such_loss")
    with pytest.raises(SymlikError, match="params"):
        symlik.implied_density("(y - m)**2")
    with pytest.raises(SymlikError):
        symlik.implied_density("__import__('os').system('true')", params={"m": "real"})
    with pytest.raises(SymlikError, match="inner parameter"):
        symlik.implied_density("pinball", inner={"nope": 1})


def test_renders_in_every_format():
    r = symlik.implied_density("mae")
    assert "laplace" in r.to_markdown().lower() and r"\ell" in r.to_latex() and "Z(μ)" in r.to_text()


def test_cli(capsys):
    assert cli.main(["implied", "focal", "--inner", "gamma=2"]) == 0
    assert "not a likelihood" in capsys.readouterr().out
    assert cli.main(["implied", "--formula", "abs(y - m)", "--param", "m:real", "--format", "markdown"]) == 0
    assert "Laplace" in capsys.readouterr().out
    assert cli.main(["implied", "mae", "--formula", "y"]) == 2


# optax imports JAX, which starts threads: these run last, after the tests that fork (SymPy's time budget).
@pytest.mark.slow
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_focal_templates_match_optax(alpha):
    optax = pytest.importorskip("optax")
    from symlik.losses.classification import alpha_focal, focal

    y, p = sp.symbols("y p")
    gamma = 2.0
    expr = focal.expr(y, p, gamma=gamma) if alpha is None else alpha_focal.expr(y, p, gamma=gamma, alpha=alpha)
    f = sp.lambdify((y, p), expr, "numpy")
    logits = np.array([[2.0, 0.1, -2.0], [0.3, -0.1, 1.2]])  # optax's test inputs
    labels = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    ref = np.asarray(optax.losses.sigmoid_focal_loss(logits, labels, alpha=alpha, gamma=gamma))
    ours = f(labels, special.expit(logits))
    np.testing.assert_allclose(ours, ref, rtol=2e-5)
    np.testing.assert_allclose(ours, _focal_by_hand(special.expit(logits), labels, gamma, alpha), rtol=1e-12)


def test_poly1_template_matches_optax_batched():
    optax = pytest.importorskip("optax")
    logits = np.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]])
    labels = np.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])
    for eps in (2.0, -0.5, 1.214):
        ref = np.asarray(optax.losses.poly_loss_cross_entropy(logits, labels, epsilon=eps))
        np.testing.assert_allclose(_poly1(logits, labels, eps), ref, rtol=1e-5)
