"""A Poisson rate of exactly 0 (issue 14, "Edges"): all mass on y = 0.

scipy is the oracle: poisson.logpmf(0, 0) = 0 and poisson.logpmf(1, 0) = -inf,
so the NLL is 0 at y = 0 and inf elsewhere. The log link still fits the rate:
a link fits a parameter when its range lies within the parameter's constraint
and its closure covers it (log's (0, inf) and a rate in [0, inf)).
"""

import numpy as np
import pytest
from scipy import stats

import symlik
from symlik.core.errors import NotSupportedError, SymlikError
from symlik.model import constraints as C
from symlik.model import links

Y = np.array([0.0, 1.0, 3.0, 0.0])
RATE = np.array([0.0, 0.0, 0.0, 2.5])


def test_scipy_oracle_at_rate_zero():
    assert stats.poisson.logpmf(0, 0) == 0.0
    assert stats.poisson.logpmf(1, 0) == -np.inf


@pytest.mark.parametrize("backend", ["numpy", "fused", "torch"])
def test_nll_at_rate_zero_matches_scipy(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    if backend == "torch":
        pytest.importorskip("torch")
    k = symlik.compile("poisson", target="nll", reduction="none", backend=backend)
    got = np.asarray(k(RATE, Y), dtype=float)
    want = -stats.poisson.logpmf(Y, RATE)
    np.testing.assert_array_equal(got[:3], want[:3])  # 0, inf, inf exactly
    np.testing.assert_allclose(got[3], want[3], rtol=1e-14)


def test_spec_log_density_agrees_with_scipy_at_rate_zero():
    spec = symlik.get("poisson")
    np.testing.assert_array_equal(spec.scipy_logpdf(Y[:3], rate=RATE[:3]), [0.0, -np.inf, -np.inf])


def test_loss_gradient_is_finite_at_rate_zero_and_y_zero():
    # d/d rate (rate - y log rate) = 1 - y / rate: 1 at y = 0, the one-sided derivative
    k = symlik.compile("poisson", target="grad", reduction="none")
    assert float(np.ravel(k(np.array([0.0]), np.array([0.0])))[0]) == 1.0


def test_negative_rate_is_still_refused():
    k = symlik.compile("poisson", target="nll")
    with pytest.raises(SymlikError, match="rate must be >= 0"):
        k(np.array([-0.5]), np.array([1.0]))


def test_log_link_fits_a_rate_that_may_be_zero():
    assert links.log.fits(C.positive) and links.log.fits(C.nonnegative)
    assert not links.log.fits(C.unit_interval) and not links.log.fits(C.real)
    assert links.logit.fits(C.unit_interval) and links.logit.fits(C.open_unit_interval)
    assert not links.logit.fits(C.positive) and not links.logit.fits(C.nonnegative)
    d = symlik.derive("poisson", link="log")
    assert d.inputs == ("log_rate", "y") and d.loss.name == "poisson_nll"


def test_zero_inflated_poisson_log_link_still_lands_on_the_rate():
    # pi in [0, 1] lies within [0, inf): the old one-way rule would have put the log link on pi
    d = symlik.derive("zero_inflated_poisson", link="log")
    assert d.inputs[:2] == ("pi", "log_rate")
    with pytest.raises(NotSupportedError, match="maps onto"):
        symlik.get("zero_inflated_poisson").link("log", "pi")
