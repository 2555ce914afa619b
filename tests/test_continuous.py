"""The continuous catalog: each row of the issue's table identified as stated,
each new canonical loss against a hand-written NumPy closed form, and the
calibrations that solve the inner parameters from the NLL."""

import doctest
import importlib

import numpy as np
import pytest
import sympy as sp
from harness import random_inputs

import symlik
from symlik.losses import continuous as C
from symlik.losses.matcher import identify_scalar
from symlik.model import links

# The catalog issue's table: distribution -> (loss name, {inner: value}, scale),
# values written in the distribution's own parameter names.
EXPECTED = {
    "asymmetric_laplace": ("pinball", {"tau": "tau"}, "1/b"),
    "student_t": ("student_t", {"c": "nu*sigma**2"}, "(nu + 1)/2"),
    "cauchy": ("cauchy", {"gamma": "gamma"}, "1"),
    "logistic": ("log_cosh", {"c": "2*s"}, "2"),
    "hyperbolic_secant": ("log_cosh", {"c": "s"}, "1"),
    "generalized_normal": ("lp", {"beta": "beta"}, "alpha**(-beta)"),
    "lognormal": ("mse_log", {}, "1/(2*sigma**2)"),
    "gamma": ("gamma_deviance", {}, "k/2"),
    "inverse_gaussian": ("inverse_gaussian_deviance", {}, "lam/2"),
    "exponential": (None, {}, "1"),
    "von_mises": ("cosine", {}, "kappa"),
    "gumbel": (None, {}, "1"),
    "weibull": (None, {}, "1"),
    "rayleigh": (None, {}, "1"),
    "half_normal": (None, {}, "1"),
    "beta": (None, {}, "1"),
}


def _in_spec(d, text):
    """Parse a value written in the distribution's parameter names (test data, not user input)."""
    return sp.sympify(text, locals={name: d.spec.symbol(name) for name in d.spec.param_names})


@pytest.mark.parametrize("name", list(EXPECTED))
def test_identified_as_the_catalog_table_says(name):
    d = symlik.derive(name)
    want_name, want_inner, want_scale = EXPECTED[name]
    assert d.loss.name == want_name
    assert set(d.loss.inner) == set(want_inner)
    for key, value in want_inner.items():
        assert sp.simplify(d.loss.inner[key] - _in_spec(d, value)) == 0, key
    assert sp.simplify(d.scale - _in_spec(d, want_scale)) == 0
    assert d.identity_holds()


@pytest.mark.parametrize(
    "name,predict,link",
    [("gamma", None, "log"), ("exponential", None, "log"), ("student_t", ("mu", "sigma"), None)],
)
def test_variants_and_links(name, predict, link):
    d = symlik.derive(name, predict=predict, link=link)
    want = {"gamma": "gamma_deviance", "exponential": None, "student_t": None}[name]
    assert d.loss.name == want
    assert d.identity_holds()


# ---------------------------------------------------------------------------
# Hand-written NumPy closed forms of the new canonical losses (not generated).
# ---------------------------------------------------------------------------


def _pinball(mu, y, b, tau):
    r = y - mu
    return r * (tau - (r < 0))  # Koenker's check function rho_tau(r) = r (tau - 1{r < 0})


def _student_t(mu, y, sigma, nu):
    return np.log1p((y - mu) ** 2 / (nu * sigma**2))


def _cauchy(mu, y, gamma):
    return np.log1p(((y - mu) / gamma) ** 2)


def _log_cosh_logistic(mu, y, s):
    x = (y - mu) / (2 * s)
    return np.logaddexp(x, -x) - np.log(2)  # log cosh x = log(e^x + e^-x) - log 2


def _log_cosh_hypsecant(mu, y, s):
    x = (y - mu) / s
    return np.logaddexp(x, -x) - np.log(2)


def _lp(mu, y, alpha, beta):
    return np.abs(y - mu) ** beta


def _mse_log(mu, y, sigma):
    return (np.log(y) - mu) ** 2


def _gamma_deviance(mu, y, k):
    return 2 * (y / mu - np.log(y / mu) - 1)


def _gamma_deviance_log_link(z, y, k):
    return 2 * (y * np.exp(-z) - np.log(y) + z - 1)


def _inverse_gaussian_deviance(mu, y, lam):
    return (y - mu) ** 2 / (y * mu**2)


def _cosine(mu, y, kappa):
    return 1 - np.cos(y - mu)


CLOSED = {
    ("asymmetric_laplace", None): _pinball,
    ("student_t", None): _student_t,
    ("cauchy", None): _cauchy,
    ("logistic", None): _log_cosh_logistic,
    ("hyperbolic_secant", None): _log_cosh_hypsecant,
    ("generalized_normal", None): _lp,
    ("lognormal", None): _mse_log,
    ("gamma", None): _gamma_deviance,
    ("gamma", "log"): _gamma_deviance_log_link,
    ("inverse_gaussian", None): _inverse_gaussian_deviance,
    ("von_mises", None): _cosine,
}


@pytest.mark.parametrize("key", list(CLOSED), ids=lambda k: "-".join(x for x in k if x))
def test_canonical_loss_matches_closed_form(key):
    name, link = key
    d = symlik.derive(name, link=link)
    params, y = random_inputs(d.spec, np.random.default_rng(11))
    if link:  # the link's pre-activation of the drawn parameter
        lk, name = links.get(link), d.spec.link_param(link)
        params[lk.input_name(name)] = lk.numeric_forward(params[name])
    k = symlik.compile(d, target="loss", reduction="none")
    got = k(**{n: (y if n == "y" else params[n]) for n in k.inputs})
    first = params[d.predicted_inputs[0]]
    others = [params[p] for p in d.spec.param_names if p not in d.predict]
    want = CLOSED[key](first, y, *others)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_exponential_log_link_is_the_survival_nll():
    k = symlik.compile("exponential", link="log", target="loss", reduction="none")
    rng = np.random.default_rng(2)
    z, y = rng.normal(size=50), rng.exponential(size=50)
    np.testing.assert_allclose(k(z, y), y * np.exp(z) - z, rtol=1e-13)


# ---------------------------------------------------------------------------
# Calibration: inner parameters are solved from the NLL, whatever its form.
# ---------------------------------------------------------------------------

y, m = sp.symbols("y m", real=True)
w = sp.Symbol("w", positive=True)


def _match(density):
    return identify_scalar(sp.expand_log(-sp.log(density), force=True), y, (m,))


def test_asymmetric_laplace_written_with_abs_is_pinball_at_the_solved_level():
    # rho_tau(r) = (|r| + (2 tau - 1) r)/2 at tau = 1/4: the slopes are 1/4 and 3/4.
    tau = sp.Rational(1, 4)
    r = y - m
    density = tau * (1 - tau) / w * sp.exp(-(sp.Abs(r) + (2 * tau - 1) * r) / (2 * w))
    match = _match(density)
    assert match.loss.name == "pinball" and match.loss.inner == {"tau": tau}
    assert sp.simplify(match.scale - 1 / w) == 0


def test_heaviside_check_function_is_pinball():
    tau = sp.Rational(9, 10)
    r = y - m
    density = tau * (1 - tau) * sp.exp(-r * (tau - sp.Heaviside(-r)))
    match = _match(density)
    assert match.loss.name == "pinball" and match.loss.inner == {"tau": tau}


def test_student_t_with_numeric_degrees_of_freedom():
    # nu = 3, sigma = w: the width c = nu sigma^2 = 3 w^2 and the power (nu + 1)/2 = 2.
    density = (1 + (y - m) ** 2 / (3 * w**2)) ** -2 * 2 / (sp.pi * sp.sqrt(3) * w)
    match = _match(density)
    assert match.loss.name == "student_t"
    assert sp.simplify(match.loss.inner["c"] - 3 * w**2) == 0
    assert match.scale == 2


def test_cauchy_is_told_from_student_t_by_the_power_not_the_name():
    cauchy = _match(1 / (sp.pi * w * (1 + ((y - m) / w) ** 2)))
    assert cauchy.loss.name == "cauchy" and cauchy.loss.inner == {"gamma": w}
    assert list(C.cauchy.calibrate(_nll(2, w), y, (m,))) == []  # power 2: not Cauchy
    assert list(C.student_t.calibrate(_nll(2, w), y, (m,))) == [{"c": w**2}]


def _nll(power, width):
    return power * sp.log(1 + (y - m) ** 2 / width**2)


def test_log_cosh_width_comes_from_the_taylor_series():
    sech = 1 / sp.cosh((y - m) / (3 * w))
    match = _match(sech / (3 * sp.pi * w))
    assert match.loss.name == "log_cosh" and sp.simplify(match.loss.inner["c"] - 3 * w) == 0


def test_lp_power_comes_from_the_log_log_slope():
    match = _match(sp.exp(-(sp.Abs(y - m) ** sp.Rational(3, 2)) / w))
    assert match.loss.name == "lp" and match.loss.inner == {"beta": sp.Rational(3, 2)}
    assert sp.simplify(match.scale - 1 / w) == 0


@pytest.mark.parametrize("template", [C.pinball, C.cauchy, C.student_t, C.log_cosh, C.lp])
def test_calibrations_offer_nothing_for_an_unrelated_nll(template):
    # A Gumbel NLL: not symmetric, not piecewise linear, not a power.
    r = y - m
    assert list(template.calibrate(r / w + sp.exp(-r / w), y, (m,))) == []


def test_calibrations_need_a_location_family():
    # The Poisson NLL depends on y and the rate separately: no residual profile.
    rate = sp.Symbol("rate", positive=True)
    n = sp.Symbol("n", integer=True, nonnegative=True)
    nll = rate - n * sp.log(rate) + sp.loggamma(n + 1)
    for template in (C.pinball, C.cauchy, C.student_t, C.log_cosh, C.lp):
        assert list(template.calibrate(nll, n, (rate,))) == []


# ---------------------------------------------------------------------------
# Rendering and documentation.
# ---------------------------------------------------------------------------


def test_von_mises_normaliser_and_gamma_functions_render():
    d = symlik.derive("von_mises")
    assert r"I_{0}\left(\kappa\right)" in d.to_latex()
    assert "I₀(κ)" in d.to_text()
    steps = d.to_text().split("1. The likelihood of independent observations")[1].split("Proven identity")[0]
    assert "besseli" not in steps  # the steps read I₀(κ); the summary lines stay SymPy syntax
    t = symlik.derive("student_t").to_latex()
    assert r"\log{\left(\Gamma\left(\frac{\nu}{2}\right) \right)}" in t
    assert "Substitute the Student's t density" in symlik.derive("student_t").to_text()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "gev" else n  # gev's: 7 s
                                  for n in symlik.names()])
def test_docstring_examples_run(name):
    module = importlib.import_module(f"symlik.model.distributions.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 1 and result.failed == 0
