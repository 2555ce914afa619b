"""tweedie (issue 14): the deviance against scikit-learn, the series against mpmath, the density's mass.

Oracles: sklearn.metrics.mean_tweedie_deviance (p = 1.5, and p = 0, 1, 2, 3 as the
normal, Poisson, gamma and inverse-Gaussian limits of the template); the Dunn-Smyth
series summed term by term in mpmath at 40 digits (an exponential-dispersion form
independent of the kernel's Stirling-form nodes); and numerical integration: the point
mass plus the density integrate to 1, with mean mu and variance phi mu^p.
"""

import subprocess
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import integrate

import symlik
from symlik.compiler._numpy_runtime import _tweedie_log_base
from symlik.core.functions import tweedie_log_base_mp
from symlik.losses.continuous import tweedie_deviance


def _sklearn_metrics():
    """scikit-learn's metrics, the reference values (symlik[sklearn]); the test skips without it."""
    return pytest.importorskip("sklearn.metrics")

rng = np.random.default_rng(14)
Y = np.concatenate([[0.0, 0.0], rng.gamma(1.5, 2.0, 40)])
MU = rng.lognormal(0.3, 0.8, Y.size)


def test_derivation_identifies_the_tweedie_deviance():
    d = symlik.derive("tweedie")
    assert d.loss.name == "tweedie_deviance"
    assert d.loss.inner == {"power": d.symbols["power"]}
    assert d.scale == 1 / (2 * d.symbols["phi"])
    assert not d.offset.has(d.symbols["mu"])
    titles = [s.title for s in d.steps]
    assert "Integrate the quasi-likelihood" in titles and "The unit deviance" in titles


def test_the_quasi_likelihood_step_is_the_integral():
    """The shown Q = int_y^mu (y - t) / t^p dt, checked by differentiating: dQ/dmu = (y - mu) / mu^p, Q(y; y) = 0."""
    d = symlik.derive("tweedie")
    step = next(s for s in d.steps if s.title == "Integrate the quasi-likelihood")
    integral, q = step.expr.lhs, step.expr.rhs
    y, mu, power = (d.spec.symbol(n) for n in ("y", "mu", "power"))
    assert sp.simplify(sp.diff(q, mu) - (y - mu) / mu**power) == 0
    assert sp.simplify(q.subs(mu, y)) == 0
    assert isinstance(integral, sp.Integral)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_loss_kernel_is_sklearn_mean_tweedie_deviance_at_p_1_5(reduction):
    sklearn_metrics = _sklearn_metrics()
    k = symlik.compile("tweedie", reduction=reduction)
    got = k(MU, Y, power=1.5)
    if reduction == "mean":
        want = sklearn_metrics.mean_tweedie_deviance(Y, MU, power=1.5)
    else:
        want = [sklearn_metrics.mean_tweedie_deviance([y], [m], power=1.5) for y, m in zip(Y, MU)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_log_link_kernel_is_sklearn_on_exp_z():
    sklearn_metrics = _sklearn_metrics()
    k = symlik.compile("tweedie", link="log")
    z = np.log(MU)
    np.testing.assert_allclose(k(z, Y, power=1.3), sklearn_metrics.mean_tweedie_deviance(Y, MU, power=1.3), rtol=1e-12)


@pytest.mark.parametrize("power", [0, 1, 2, 3], ids=["normal", "poisson", "gamma", "inverse_gaussian"])
def test_template_at_the_special_powers_is_sklearn(power):
    """At p = 0 and 3 the template's value; at p = 1 and 2 its limit (the formula divides by 1 - p, 2 - p)."""
    sklearn_metrics = _sklearn_metrics()
    y, mu, p = sp.symbols("y mu p", positive=True)
    expr = tweedie_deviance.expr(y, mu, power=p)
    special = sp.limit(expr, p, power) if power in (1, 2) else expr.subs(p, power)
    fn = sp.lambdify((y, mu), special, "numpy")
    ys = np.abs(Y[2:]) if power in (2, 3) else Y[2:]  # gamma and inverse Gaussian: y > 0
    want = [sklearn_metrics.mean_tweedie_deviance([a], [b], power=power) for a, b in zip(ys, MU[2:])]
    np.testing.assert_allclose(fn(ys, MU[2:]), want, rtol=1e-10)


def test_p_equal_to_zero_and_three_are_named_first():
    """Power 0 is MSE and 3 the inverse Gaussian deviance: those names win over tweedie_deviance."""
    assert symlik.derive("normal").loss.name == "mse"
    assert symlik.derive("inverse_gaussian").loss.name == "inverse_gaussian_deviance"


@pytest.mark.parametrize("p", [1.01, 1.1, 1.5, 1.9, 1.99])
@pytest.mark.parametrize("phi", [0.01, 1.0, 100.0])
def test_series_routine_matches_mpmath(p, phi):
    ys = np.array([1e-6, 1e-2, 0.5, 1.0, 10.0, 1e3])
    got = _tweedie_log_base(ys, phi, p)
    want = np.array([float(tweedie_log_base_mp(y, phi, p)) for y in ys])
    np.testing.assert_allclose(got, want, rtol=2e-14, atol=2e-14)


def test_series_is_zero_at_y_zero_and_finite_at_extremes():
    assert _tweedie_log_base(0.0, 1.0, 1.5) == 0.0
    extreme = _tweedie_log_base(np.array([1e-300, 1e300, 1e10, 1e-8]), np.array([1e-8, 1e8, 1e-8, 1e8]), np.array([1.5, 1.01, 1.99, 1.5]))
    assert np.all(np.isfinite(extreme))


def test_series_float32_in_float32_out():
    out = _tweedie_log_base(np.array([0.0, 1.0, 3.0], np.float32), np.float32(1.0), np.float32(1.5))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.0, float(tweedie_log_base_mp(1.0, 1.0, 1.5)), float(tweedie_log_base_mp(3.0, 1.0, 1.5))], rtol=1e-6)


def test_nll_kernel_matches_the_mpmath_series():
    spec = symlik.get("tweedie")
    k = symlik.compile("tweedie", target="nll", reduction="none")
    for p, phi in [(1.2, 0.5), (1.5, 2.0), (1.8, 1.0)]:
        np.testing.assert_allclose(k(MU, Y, phi=phi, power=p), -spec.scipy_logpdf(Y, MU, phi, p), rtol=1e-12, atol=1e-12)


def test_point_mass_at_zero_is_exp_minus_lambda():
    k = symlik.compile("tweedie", target="nll", reduction="none")
    mu, phi, p = 2.0, 0.7, 1.4
    lam = mu ** (2 - p) / (phi * (2 - p))
    assert k(np.array([mu]), np.array([0.0]), phi=phi, power=p)[0] == pytest.approx(lam, rel=1e-14)


@pytest.mark.parametrize("mu,phi,p", [(1.0, 1.0, 1.5), (3.0, 0.5, 1.2), (0.5, 2.0, 1.8)])
def test_point_mass_plus_density_integrate_to_one(mu, phi, p):
    """P(y = 0) + int_0^inf p(y) dy = 1, and the mean and variance are mu and phi mu^p, by quadrature of the kernel."""
    k = symlik.compile("tweedie", target="nll", reduction="none", validate=False)

    def density(y):
        return float(np.exp(-k(np.array([mu]), np.array([y]), phi=phi, power=p)[0]))

    zero = mpmath.exp(-mpmath.mpf(mu) ** (2 - p) / (phi * (2 - p)))
    def integral(f):  # split at mu: the density has an integrable y^(alpha - 1) singularity at 0
        return sum(integrate.quad(f, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0] for a, b in ((0, mu), (mu, np.inf)))

    moments = [integral(lambda y, n=n: y**n * density(y)) for n in range(3)]
    assert float(zero) + moments[0] == pytest.approx(1.0, abs=1e-9)
    assert moments[1] == pytest.approx(mu, rel=1e-8)
    assert moments[2] - moments[1] ** 2 == pytest.approx(phi * mu**p, rel=1e-7)


def test_power_outside_one_two_is_refused():
    k = symlik.compile("tweedie", target="nll")
    with pytest.raises(symlik.SymlikError, match=r"power must lie in \(1, 2\)"):
        k(MU, Y, phi=1.0, power=2.0)


def test_kernel_is_finite_at_extreme_valid_input():
    k = symlik.compile("tweedie", link="log", target="nll", reduction="none")
    z = np.array([-700.0, -30.0, 0.0, 30.0, 700.0])
    for y in (0.0, 1e-300, 1.0, 1e8):
        out = k(z, np.full(z.shape, y), phi=1.0, power=1.5)
        assert not np.any(np.isnan(out)), (y, out)
        assert np.all(np.isfinite(out[1:4])), (y, out)


def test_cli_lists_and_derives_tweedie():
    run = [sys.executable, "-m", "symlik.apps.cli"]
    listed = subprocess.run([*run, "list"], capture_output=True, text=True, check=True).stdout
    assert "tweedie" in listed
    derived = subprocess.run([*run, "derive", "tweedie", "--format", "text"], capture_output=True, text=True, check=True).stdout
    assert "tweedie_deviance" in derived and "quasi-likelihood" in derived
