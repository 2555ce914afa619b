"""Dtypes and reductions: float32 stays float32 (in memory and out), a mean over
10^7 float32 values is accurate to 1e-6, mixed dtypes follow NumPy's promotion
rules, integer predictions are promoted and integer targets do not upcast."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from harness import kernel_args, random_inputs

import symlik
from symlik.model import links


def _f32_inputs(d, rng):
    params, y = random_inputs(d.spec, rng, n=16, event_size=4)
    inputs = dict(params)
    if d.link:  # the link's pre-activation of the drawn parameter
        link, name = links.get(d.link), d.spec.link_param(d.link)
        inputs[link.input_name(name)] = link.numeric_forward(params[name])
    cast = {n: np.asarray(v, dtype=np.float32) for n, v in inputs.items()}
    return cast, np.asarray(y, dtype=np.float32)


@pytest.mark.slow  # 53 s over the catalog; the fused and torch float32 paths have their own fast tests
@pytest.mark.parametrize("target", ["nll", "loss"])
def test_float32_in_float32_out(derivation, target):
    rng = np.random.default_rng(0)
    inputs, y = _f32_inputs(derivation, rng)
    for reduction in ("none", "mean", "sum"):
        k = symlik.compile(derivation, target=target, reduction=reduction)
        args = kernel_args(k, inputs, y)
        out = k(**args)
        assert out.dtype == np.float32, (reduction, out.dtype)
        value, grads = k.value_and_grad(**args)
        assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_no_float64_copy_of_float32_arrays():
    n = 1_000_000
    mu = np.zeros(n, np.float32)
    y = np.full(n, 0.5, np.float32)
    k = symlik.compile("normal", target="nll", fixed={"sigma": 2.0})
    k(mu[:10], y[:10])  # warm up: compile caches, scipy imports
    tracemalloc.start()
    k(mu, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Three float32 temporaries (4 MB each) are live at most; a float64 copy of one input
    # (8 MB) on top of them, or float64 temporaries (8 MB each), would pass 16 MB.
    assert peak < 4 * 4 * n, peak


def test_mean_of_ten_million_float32_values_is_accurate():
    n = 10_000_000
    rng = np.random.default_rng(1)
    y = rng.uniform(0.1, 0.4, n).astype(np.float32)
    mu = np.zeros(n, np.float32)
    k = symlik.compile("normal", reduction="mean")
    per_obs = symlik.compile("normal", reduction="none")(mu, y)
    exact = math.fsum(per_obs.tolist()) / n  # the exact mean of the float32 values the kernel summed
    got = k(mu, y)
    assert got.dtype == np.float32
    assert abs(float(got) - exact) <= 1e-6 * exact
    # The test can fail: a running float32 sum is far off at this size.
    naive = np.add.accumulate(per_obs)[-1] / n
    assert abs(float(naive) - exact) > 1e-6 * exact


def test_mixed_float_dtypes_follow_numpy_promotion():
    k = symlik.compile("normal", reduction="none")
    a32, a64 = np.ones(3, np.float32), np.zeros(3, np.float64)
    assert k(a32, a64).dtype == np.result_type(np.float32, np.float64) == np.float64
    assert k(a32, a32).dtype == np.float32
    assert k(a32, np.float32(0)).dtype == np.float32


def test_integer_predictions_are_promoted():
    k = symlik.compile("normal", reduction="none")
    assert k(np.array([1, 2, 3]), np.zeros(3)).dtype == np.float64
    assert k(np.array([1, 2, 3], np.int8), np.zeros(3, np.float32)).dtype == np.result_type(np.int8, np.float32)
    np.testing.assert_allclose(k(np.array([1, 2, 3]), np.zeros(3)), [1.0, 4.0, 9.0])
    (g,) = symlik.compile("normal", reduction="sum").grad(np.array([1, 2, 3]), np.zeros(3))
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0])


def test_integer_targets_keep_float32_predictions_float32():
    z = np.array([-3.0, 0.5, 40.0], np.float32)
    out = symlik.compile("bernoulli", link="logit", reduction="none")(z, np.array([0, 1, 1]))
    assert out.dtype == np.float32
    logits = np.zeros((2, 5), np.float32)
    assert symlik.compile("categorical", link="softmax")(logits, np.array([1, 4])).dtype == np.float32


def test_python_scalar_parameters_do_not_upcast():
    k = symlik.compile("normal", target="nll", fixed={"sigma": 2.0}, reduction="none")
    assert k(np.ones(3, np.float32), np.zeros(3, np.float32)).dtype == np.float32
    k2 = symlik.compile("normal", target="nll", reduction="none")
    assert k2(np.ones(3, np.float32), np.zeros(3, np.float32), 2.0).dtype == np.float32
    # A NumPy float64 array is not weak: NumPy's rule gives float64.
    assert k2(np.ones(3, np.float32), np.zeros(3, np.float32), np.array([2.0])).dtype == np.float64
