"""Extreme logits and probabilities at the edge: stable and accurate, against mpmath."""

import mpmath
import numpy as np
import pytest

import symlik

mpmath.mp.dps = 50


def _bce_logits_exact(z, y):
    z = mpmath.mpf(float(z))
    return float(mpmath.log1p(mpmath.exp(z)) - y * z)


def _ce_logits_exact(row, label):
    row = [mpmath.mpf(float(v)) for v in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row))
    return float(lse - row[label])


def _close(got, want, rtol, dtype, z):
    """Relative error within rtol; where the true value is near 0, an absolute bound
    scaled by the magnitude of the terms (eps * max|z|), the only meaningful one there."""
    atol = np.finfo(dtype).eps * np.max(np.abs(z))
    err = np.abs(got.astype(np.float64) - want)
    ok = (err <= rtol * np.abs(want)) | ((np.abs(want) < atol) & (err <= atol))
    assert np.all(ok), f"got {got}, want {want}"


@pytest.mark.parametrize("dtype,bound,rtol", [(np.float64, 1000.0, 1e-12), (np.float32, 100.0, 1e-5)])
def test_bce_with_logits_at_extreme_logits(dtype, bound, rtol):
    z = np.array([-bound, -bound / 2, -30, -1e-3, 0, 1e-3, 30, bound / 2, bound], dtype=dtype)
    k = symlik.compile("bernoulli", link="logit", reduction="none")
    for label in (0, 1):
        y = np.full(z.shape, label, dtype=dtype)
        got = k(z, y)
        assert got.dtype == dtype
        assert np.all(np.isfinite(got))
        want = np.array([_bce_logits_exact(v, label) for v in z.astype(np.float64)])
        _close(got, want, rtol, dtype, z)


@pytest.mark.parametrize("dtype,bound,rtol", [(np.float64, 1000.0, 1e-12), (np.float32, 100.0, 1e-5)])
def test_cross_entropy_with_logits_at_extreme_logits(dtype, bound, rtol):
    z = np.array([[bound, -bound, 0.0], [-bound, -bound, -bound], [bound, bound - 1, -bound], [0, 0, bound]], dtype=dtype)
    k = symlik.compile("categorical", link="softmax", reduction="none")
    for label in range(3):
        labels = np.full(z.shape[0], label)
        got = k(z, labels)
        assert np.all(np.isfinite(got))
        want = np.array([_ce_logits_exact(row, label) for row in z.astype(np.float64)])
        _close(got, want, rtol, dtype, z)
        _close(k(z, np.eye(3, dtype=dtype)[labels]), want, rtol, dtype, z)


def test_naive_forms_would_fail_here():
    # The oracle-free reason these tests exist: the naive formulas are inf/nan at these logits.
    z = np.array([-1000.0, 1000.0])
    with np.errstate(all="ignore"):
        naive = -np.log(1 / (1 + np.exp(-z)))
    assert not np.all(np.isfinite(naive))


def test_probabilities_of_exactly_zero_and_one_cost_nothing():
    k = symlik.compile("bernoulli", reduction="none")
    out = k(np.array([0.0, 1.0]), np.array([0, 1]))
    np.testing.assert_array_equal(out, [0.0, 0.0])
    kc = symlik.compile("categorical", reduction="none")
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(kc(p, np.array([0, 2])), [0.0, 0.0])
    np.testing.assert_array_equal(kc(p, p), [0.0, 0.0])
