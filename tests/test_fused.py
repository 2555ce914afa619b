"""The fused CPU backend (numba): its vector math and its kernels against independent oracles."""

import numpy as np
import pytest
from scipy import special

import symlik

numba = pytest.importorskip("numba")

from symlik.backends import _vecmath  # noqa: E402


@numba.njit
def _map(f, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = f(x[i])
    return out


def _ulps(got, want):
    finite = np.isfinite(want) & (want != 0)
    return np.abs(got[finite] - want[finite]) / np.spacing(np.abs(want[finite]))


SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, 2.2250738585072014e-308, 1.0, 2.0])


@pytest.mark.parametrize(
    "name,numpy_fn,sample",
    [
        ("vexp", np.exp, lambda rng: np.concatenate([rng.uniform(-746, 710, 100_000), rng.uniform(-1, 1, 50_000),
                                                     [709.78, 709.79, -745.13, -745.14, -708.4, -720.0]])),
        ("vlog", np.log, lambda rng: np.concatenate([np.exp(rng.uniform(-745, 709, 100_000)), rng.uniform(0.5, 2, 50_000), [-1.0]])),
        ("vlog1p", np.log1p, lambda rng: np.concatenate([np.exp(rng.uniform(-745, 0, 100_000)), rng.uniform(-1, 5, 50_000),
                                                         [-1.0, -0.5, -2.0, 1e300, 1e-17]])),
    ],
)
def test_vector_math_within_one_ulp_of_numpy(name, numpy_fn, sample):
    x = np.concatenate([sample(np.random.default_rng(0)), SPECIAL])
    got = _map(getattr(_vecmath, name), x)
    with np.errstate(all="ignore"):
        want = numpy_fn(x)
    assert _ulps(got, want).max() <= 1.0
    special_ = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special_], want[special_])  # inf, nan, 0 exactly where NumPy has them
