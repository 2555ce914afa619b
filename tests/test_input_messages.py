"""Inputs a user gets wrong, and the one line that says what to do (issues 16 and 17):
a BCE label of 0.5, a CE label of -100, a torch tensor or a masked array given to a
NumPy kernel, float16 on the fused backend, and a broadcast too large for memory."""

import tracemalloc

import numpy as np
import pytest
from scipy import special, stats

import symlik

BACKENDS = ["numpy", pytest.param("fused", marks=pytest.mark.skipif(
    not __import__("importlib").util.find_spec("numba"), reason="numba not installed"))]


def _one_line_error(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_soft_bce_label_points_to_soft_targets(backend):
    z, y = np.array([0.3, -1.0, 2.0]), np.array([1.0, 0.5, 0.0])
    with pytest.raises(symlik.ConstraintError) as e:
        symlik.compile("bernoulli", link="logit", backend=backend)(z, y)
    assert "soft_targets=True" in _one_line_error(e) and "at index (1,)" in str(e.value)
    # the option it names accepts the label, and gives BCE with soft labels
    want = np.mean(y * special.log1p(np.exp(-z)) + (1 - y) * special.log1p(np.exp(z)))
    # (the torch loss options compile for the NumPy backend; the fused hint names it)
    assert ("backend='numpy'" in str(e.value)) == (backend != "numpy")
    got = symlik.compile("bernoulli", link="logit", soft_targets=True)(z, y)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_minus_100_class_label_points_to_ignore_index(backend):
    logits = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.5, 0.5, 3.0]])
    labels = np.array([2, -100, 0])
    with pytest.raises(symlik.ConstraintError) as e:
        symlik.compile("categorical", link="softmax", backend=backend)(logits, labels)
    assert "ignore_index=-100" in _one_line_error(e)
    kept = [0, 2]
    want = np.mean(special.logsumexp(logits[kept], axis=1) - logits[kept, labels[kept]])
    got = symlik.compile("categorical", link="softmax", ignore_index=-100)(logits, labels)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_label_out_of_range_gets_no_misleading_hint():
    with pytest.raises(symlik.ConstraintError) as e:
        symlik.compile("categorical", link="softmax")(np.zeros((2, 3)), np.array([0, 3]))
    assert "ignore_index" not in str(e.value)
    with pytest.raises(symlik.ConstraintError) as e:
        symlik.compile("bernoulli", link="logit")(np.zeros(2), np.array([0.0, 2.0]))
    assert "soft_targets" not in str(e.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("requires_grad", [True, False])
def test_a_torch_tensor_to_a_numpy_kernel_says_compile_with_backend_torch(backend, requires_grad):
    torch = pytest.importorskip("torch")
    k = symlik.compile("normal", backend=backend)
    mu = torch.zeros(3, dtype=torch.float64, requires_grad=requires_grad)
    with pytest.raises(symlik.SymlikError) as e:
        k(mu, np.zeros(3))
    assert "backend='torch'" in _one_line_error(e) and "mu" in str(e.value)
    with pytest.raises(symlik.SymlikError, match="backend='torch'"):
        k.grad(np.zeros(3), y=torch.zeros(3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_masked_array_is_refused_in_one_line(backend):
    y = np.ma.masked_array([0.0, 1.0, 2.0], mask=[False, True, False])
    with pytest.raises(symlik.SymlikError) as e:
        symlik.compile("normal", backend=backend)(np.zeros(3), y)
    assert "masked array" in _one_line_error(e) and e.value.args[0].startswith("y ")


@pytest.mark.skipif(not __import__("importlib").util.find_spec("numba"), reason="numba not installed")
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_fused_float16_computes_in_float32_and_returns_float16(reduction):
    rng = np.random.default_rng(3)
    mu, y = rng.normal(size=50).astype(np.float16), rng.normal(size=50).astype(np.float16)
    sigma = np.float16(1.5)
    out = symlik.compile("normal", target="nll", backend="fused", reduction=reduction)(mu, y, sigma)
    assert out.dtype == np.float16
    want = -stats.norm.logpdf(y.astype(np.float64), mu.astype(np.float64), 1.5)
    np.testing.assert_allclose(np.asarray(out, np.float64), want.mean() if reduction == "mean" else want, rtol=2e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broadcast_too_large_for_memory_is_refused_before_allocating(backend):
    huge = np.broadcast_to(np.float64(0.5), (10**13,))  # 80 TB if materialised; a view costs nothing
    reductions = ("none",) if backend == "fused" else ("none", "mean")
    for reduction in reductions:
        with pytest.raises(symlik.SymlikError) as e:
            symlik.compile("normal", backend=backend, reduction=reduction)(huge, huge)
        assert "GiB" in _one_line_error(e) and "(10000000000000,)" in str(e.value)


@pytest.mark.skipif(not __import__("importlib").util.find_spec("numba"), reason="numba not installed")
def test_fused_reads_broadcast_inputs_in_place():
    rng = np.random.default_rng(5)
    n, d = 4000, 7
    mu, y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    k = symlik.compile("normal", target="nll", backend="fused")
    for sigma in (rng.uniform(0.5, 2, (n, 1)), rng.uniform(0.5, 2, d), np.broadcast_to(rng.uniform(0.5, 2, (n, 1)), (n, d))):
        np.testing.assert_allclose(k(mu, y, sigma), -stats.norm.logpdf(y, mu, sigma).mean(), rtol=1e-12)
    # no full-size temporary: the peak of NumPy allocations stays far below one (n*m,) float64 array
    m = 1 << 21
    view = np.broadcast_to(np.float64(0.25), (m,))
    k = symlik.compile("normal", backend="fused")
    k(view, view)  # jit outside the measurement
    tracemalloc.start()
    try:
        assert k(view, np.broadcast_to(np.float64(1.25), (m,))) == pytest.approx(1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < m * 8 / 8
    # a bad value in a broadcast view is reported at its observation
    sigma = np.ones((n, 1))
    sigma[17, 0] = -1.0
    with pytest.raises(symlik.ConstraintError, match=r"sigma must be > 0.* at index \(17, 0\)"):
        symlik.compile("normal", target="nll", backend="fused")(mu, y, sigma)


@pytest.mark.parametrize("backend", ["numpy", "fused"] if __import__("importlib").util.find_spec("numba") else ["numpy"])
def test_class_indices_are_not_an_event_axis_in_the_memory_estimate(backend, monkeypatch):
    # The estimate took the indices' last axis (the observations) for the classes: n class
    # indices were priced as an (n, n) array, and 100,000 of them (74.5 GiB) were refused.
    # Here the memory is 1 MiB: (20000, 3) float64 fits (0.46 MiB), (20000, 20000) would not.
    import symlik.compiler.checks as checks

    monkeypatch.setattr(checks, "available_memory", lambda: 2**20)
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(20000, 3)), rng.integers(0, 3, 20000)
    got = symlik.compile("categorical", link="softmax", backend=backend, reduction="none")(z, y)
    # scipy's log_softmax is the oracle (no confident rows here: its log(1 + tiny) is exact enough)
    from scipy.special import log_softmax

    np.testing.assert_allclose(got, -log_softmax(z, axis=-1)[np.arange(20000), y], rtol=1e-13)
