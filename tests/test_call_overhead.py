"""The NumPy call path's shortcuts (issue 12, item 4), each checked to change no answer.

- A repeated call: after one full call, a call with plain arrays of the same shapes and dtypes
  skips the binding, conversion and shape rules. Values against closed forms written here (MSE,
  softplus BCE, scipy's Poisson log-pmf); every error the general path raises still raised later.
- Shared rows: a softmax head's value and gradient compute the row max and sums once per call.
  Values and gradients against scipy's logsumexp and softmax, with the logits changed in place
  between calls (nothing computed for one call may be seen by the next).
"""

import math

import numpy as np
import pytest
from scipy import special, stats

import symlik
from symlik.core.errors import ConstraintError, SymlikError

RNG = np.random.default_rng(7)
N = 32


def _bce(z, y):
    # softplus(z) - y z, by hand: log1p(exp(-|z|)) + max(z, 0) - y z
    return np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - y * z


@pytest.mark.parametrize("validate", [True, False])
def test_repeated_calls_match_closed_forms_as_the_values_change(validate):
    mse = symlik.compile("normal", target="loss", validate=validate)
    bce = symlik.compile("bernoulli", link="logit", validate=validate)
    poisson = symlik.compile("poisson", target="nll", validate=validate)
    ce = symlik.compile("categorical", link="softmax", validate=validate)
    for _ in range(4):  # the first call takes the general path, the rest the shortcut
        mu, y = RNG.normal(size=N), RNG.normal(size=N)
        assert mse(mu, y) == pytest.approx(np.mean((y - mu) ** 2), rel=1e-14)
        z, label = RNG.normal(size=N) * 5, (RNG.random(N) < 0.5).astype(float)
        assert bce(z, label) == pytest.approx(np.mean(_bce(z, label)), rel=1e-13)
        rate, count = RNG.gamma(2.0, size=N), RNG.poisson(3.0, size=N).astype(float)
        assert poisson(rate, count) == pytest.approx(-np.mean(stats.poisson.logpmf(count, rate)), rel=1e-12)
        logits, index = RNG.normal(size=(N, 4)), RNG.integers(0, 4, N)
        want = np.mean(special.logsumexp(logits, axis=-1) - logits[np.arange(N), index])
        assert ce(logits, index) == pytest.approx(want, rel=1e-13)


def test_a_repeated_call_still_validates_every_input():
    bce = symlik.compile("bernoulli", link="logit")
    z, y = RNG.normal(size=N), np.ones(N)
    bce(z, y)
    bad = y.copy()
    bad[5] = 0.5
    with pytest.raises(ConstraintError, match=r"y must lie in the support .* at index \(5,\)"):
        bce(z, bad)
    bad_z = z.copy()
    bad_z[3] = np.nan
    with pytest.raises(ConstraintError, match=r"logits must .* at index \(3,\)"):
        bce(bad_z, y)
    ce = symlik.compile("categorical", link="softmax")
    logits, index = RNG.normal(size=(N, 4)), RNG.integers(0, 4, N)
    ce(logits, index)
    for bad_index in (4, -1):
        wrong = index.copy()
        wrong[7] = bad_index
        with pytest.raises(ConstraintError, match=r"y must .* at index \(7,\)"):
            ce(logits, wrong)
    poisson = symlik.compile("poisson", target="nll")
    rate, count = np.full(N, 2.0), np.full(N, 3.0)
    poisson(rate, count)
    count[-1] = 2.5  # within the bounds, not a whole number
    with pytest.raises(ConstraintError, match=r"y must .* at index \(31,\)"):
        poisson(rate, count)
    rate[0] = -1.0
    count[-1] = 2.0
    with pytest.raises(ConstraintError, match=r"rate must .* at index \(0,\)"):
        poisson(rate, count)


def test_a_repeated_call_with_new_shapes_or_dtypes_takes_the_general_rules():
    mse = symlik.compile("normal", target="loss", reduction="none")
    mu, y = RNG.normal(size=N), RNG.normal(size=N)
    mse(mu, y)
    with pytest.raises(SymlikError, match=r"\(32, 1\).*\(32,\)|\(32,\).*\(32, 1\)"):
        mse(mu[:, None], y)  # would broadcast to (32, 32)
    mu32, y32 = mu.astype(np.float32), y.astype(np.float32)
    out = mse(mu32, y32)
    assert out.dtype == np.float32
    exact = (y32.astype(np.float64) - mu32) ** 2  # of the float32 inputs, in float64
    np.testing.assert_allclose(out, exact, rtol=3e-7)
    # integer counts beside float32 rates are converted (to float32) on every call
    poisson = symlik.compile("poisson", target="nll", reduction="none")
    rate, count = RNG.gamma(2.0, size=N).astype(np.float32), RNG.poisson(3.0, size=N)
    for _ in range(2):
        out = poisson(rate, count)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, -stats.poisson.logpmf(count, rate.astype(np.float64)), rtol=2e-5)


def test_switching_validation_on_after_a_call_validates():
    mse = symlik.compile("normal", target="loss", validate=False)
    mu, y = RNG.normal(size=N), RNG.normal(size=N)
    mse(mu, y)
    y[2] = np.nan
    assert math.isnan(mse(mu, y))
    mse.validate = True
    with pytest.raises(ConstraintError, match=r"y must .* at index \(2,\)"):
        mse(mu, y)


def test_a_repeated_call_keeps_the_limits_at_infinite_logits():
    bce = symlik.compile("bernoulli", link="logit", reduction="none")
    z, y = RNG.normal(size=5), np.ones(5)
    bce(z, y)
    z = np.array([np.inf, np.inf, -np.inf, -np.inf, 3.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    # by hand: softplus(z) - y z tends to 0, inf, 0, inf; log1p(e^-3) at z = 3, y = 1
    want = np.array([0.0, np.inf, 0.0, np.inf, math.log1p(math.exp(-3.0))])
    np.testing.assert_array_equal(bce(z, y)[:4], want[:4])
    assert bce(z, y)[4] == pytest.approx(want[4], rel=1e-15)


def test_a_repeated_call_raises_no_warning_where_a_quick_test_overflows():
    mse = symlik.compile("normal", target="loss", reduction="none")
    mu = np.full(4, 1.5e308)
    y = np.full(4, 1.5e308)  # their sum overflows; every entry is finite and valid
    with np.errstate(all="raise"):
        mse(mu, y)
        np.testing.assert_array_equal(mse(mu, y), np.zeros(4))


@pytest.mark.parametrize("targets", ["index", "probability"])
def test_softmax_value_and_gradient_share_rows_within_a_call_only(targets):
    ce = symlik.compile("categorical", link="softmax")
    z = RNG.normal(size=(16, 5)) * 4
    index = RNG.integers(0, 5, 16)
    y = index if targets == "index" else np.eye(5)[index] * 0.7 + 0.06
    for _ in range(3):
        value, (grad,) = ce.value_and_grad(z, y)
        onehot = np.eye(5)[y] if targets == "index" else y
        want = np.mean(special.logsumexp(z, axis=-1) - np.sum(onehot * z, axis=-1))  # (targets sum to 1)
        assert value == pytest.approx(want, rel=1e-13)
        # scipy's s - 1 at a confident entry is good to an ulp of 1 only (symlik's keeps every digit):
        # an absolute tolerance of a few ulps of 1/16 there
        np.testing.assert_allclose(grad, (special.softmax(z, axis=-1) - onehot) / 16, rtol=1e-12, atol=1e-16)
        z *= -1.5  # the same array, new values: the next call must not reuse this call's rows
        z[3, 2] = 0.25
