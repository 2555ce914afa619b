"""Huber: the normaliser SymPy integrates, the identification, and smooth L1 = Huber / delta."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import integrate, special

import symlik
from symlik.model.distributions.huber import normaliser
from symlik.losses.robust_huber import huber, smooth_l1


def z_by_hand(delta):
    """Typed in from the textbook: the Gaussian core plus two exponential tails (mpmath, 50 digits)."""
    mpmath.mp.dps = 50
    d = mpmath.mpf(delta)
    return mpmath.sqrt(2 * mpmath.pi) * mpmath.erf(d / mpmath.sqrt(2)) + 2 * mpmath.exp(-d * d / 2) / d


def test_normaliser_is_integrated_not_typed():
    delta = sp.Symbol("delta", positive=True)
    expected = sp.sqrt(2 * sp.pi) * sp.erf(delta / sp.sqrt(2)) + 2 * sp.exp(-delta**2 / 2) / delta
    assert sp.simplify(normaliser(delta) - expected) == 0
    for d in (0.1, 1.0, 2.5):
        numeric, _ = integrate.quad(lambda r: np.exp(-special.huber(d, r)), -np.inf, np.inf, epsabs=0, epsrel=1e-12)
        assert float(normaliser(delta).subs(delta, d)) == pytest.approx(numeric, rel=1e-10)


def test_density_integrates_to_one():
    k = symlik.compile("huber", target="nll", reduction="none")
    for d in (0.3, 1.345, 4.0):
        total, _ = integrate.quad(lambda y: np.exp(-k(np.array([0.7]), np.array([y]), np.array([d]))[0]), -np.inf, np.inf)
        assert total == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("delta", [1e-8, 1e-3, 1.0, 40.0, 1e3])
def test_nll_kernel_at_extreme_delta(delta):
    k = symlik.compile("huber", target="nll", reduction="none")
    r = np.array([0.0, 0.5 * delta, 2 * delta, 1e3])
    got = k(np.zeros(4), r, np.full(4, delta))
    mpmath.mp.dps = 50
    want = [float(mpmath.mpf(special.huber(delta, v)) + mpmath.log(z_by_hand(delta))) for v in r]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_identified_as_huber_with_delta_solved_from_the_nll():
    d = symlik.derive("huber")
    assert d.loss.name == "huber_loss"
    assert d.loss.inner == {"delta": d.symbols["delta"]}
    assert d.scale == 1
    assert d.identity_holds()
    titles = [s.title for s in d.steps]
    assert "Normalise the density" in titles
    assert "Smooth L1 is the same loss divided by delta" in titles


@pytest.mark.slow  # the matcher proves a scaled Huber density: 13 s
def test_a_scaled_huber_density_is_found_with_delta_times_scale():
    """A user's Huber on r/s (never named Huber): the matcher solves inner delta = c s, scale 1/s^2."""
    y, m = sp.symbols("y m", real=True)
    s, c = sp.symbols("s c", positive=True)
    r = (y - m) / s
    rho = sp.Piecewise((r**2 / 2, sp.Abs(r) <= c), (c * (sp.Abs(r) - c / 2), True))
    spec = symlik.custom("robust", log_density=-rho - sp.log(s * normaliser(c)), observed=y,
                         params={m: "real", s: "positive", c: "positive"})
    d = symlik.derive(spec, predict=("m",))
    assert d.loss.name == "huber_loss"
    cs, ss = d.symbols["c"], d.symbols["s"]
    assert sp.simplify(d.loss.inner["delta"] - cs * ss) == 0
    assert sp.simplify(d.scale - 1 / ss**2) == 0
    assert d.identity_holds()


def test_smooth_l1_is_huber_over_delta():
    y, mu = sp.symbols("y mu", real=True)
    delta = sp.Symbol("delta", positive=True)
    difference = sp.piecewise_fold(huber(y, mu, delta) / delta - smooth_l1(y, mu, delta))
    # every branch is 0, except one that applies only at |r| = delta, where it is 0 as well
    for value, _ in difference.args:
        if sp.simplify(value) != 0:
            for side in (1, -1):
                assert sp.simplify(value.subs(y, mu + side * delta)) == 0
    rng = np.random.default_rng(0)
    k = symlik.compile("huber", reduction="none", fixed={"delta": 0.7})
    mu_, y_ = rng.normal(size=50), rng.normal(size=50)
    r = np.abs(y_ - mu_)
    torch_smooth_l1 = np.where(r < 0.7, 0.5 * r**2 / 0.7, r - 0.35)  # torch's documented formula
    np.testing.assert_allclose(k(mu_, y_) / 0.7, torch_smooth_l1, rtol=1e-14)
