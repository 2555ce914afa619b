"""Issue 14, part C: the skew-normal and the censored (Tobit) normal, in their tails and at their
edges. Oracles: scipy.stats (skewnorm, norm) and mpmath at 50 digits where scipy itself rounds
away the answer."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import stats

import symlik


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
