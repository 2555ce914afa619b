"""torch, JAX and CuPy kernels validate on the device (issue 12, item 3): one flag per call,
read once; no host copy of the inputs unless the report (or a row check) needs one."""

import numpy as np
import pytest

import symlik

CASES = [
    # (catalog name, compile options, valid inputs, the input to spoil, a bad value, the expected words)
    ("normal", {"predict": ("mu", "sigma")}, {"mu": 0.0, "sigma": 1.0, "y": 0.0}, "sigma", -1.0, "sigma must be > 0"),
    ("normal", {}, {"mu": 0.0, "y": 0.0}, "y", np.nan, r"y must lie in the support \(-inf, inf\)"),
    ("bernoulli", {"link": "logit"}, {"logits": 0.0, "y": 1.0}, "y", 2.0, r"y must lie in the support \{0, ..., 1\}"),
    ("bernoulli", {"link": "logit"}, {"logits": 0.0, "y": 1.0}, "logits", np.nan, "logits must be real"),
    ("poisson", {"link": "log"}, {"log_rate": 0.0, "y": 1.0}, "y", 1.5, r"y must lie in the support \{0, ..., inf\}"),
]


def _library(backend):
    if backend == "torch":
        torch = pytest.importorskip("torch")
        return lambda a: torch.as_tensor(a)
    if backend == "jax":
        pytest.importorskip("jax")
        import jax

        jax.config.update("jax_enable_x64", True)
        return lambda a: jax.numpy.asarray(a)
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - CuPy without a GPU
        pytest.skip("no GPU")
    return cupy.asarray


def _count_host_copies(kernel, monkeypatch):
    copies = []
    original = kernel._to_numpy
    monkeypatch.setattr(kernel, "_to_numpy", lambda a: copies.append(1) or original(a))
    return copies


@pytest.mark.parametrize("backend", ["torch", "jax", "cupy"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_valid_inputs_are_checked_without_a_host_copy_and_bad_ones_named(backend, case, monkeypatch):
    to_lib = _library(backend)
    name, options, fill, spoil, bad, words = case
    n = 6
    arrays = {k: np.full(n, v) for k, v in fill.items()}
    k = symlik.compile(name, backend=backend, **options)
    copies = _count_host_copies(k, monkeypatch)
    value = k(**{a: to_lib(v) for a, v in arrays.items()})
    assert copies == []
    np.testing.assert_allclose(float(value), symlik.compile(name, **options)(**arrays), rtol=1e-12)
    arrays[spoil][4] = bad
    with pytest.raises(symlik.ConstraintError, match=rf"{words}.* at index \(4,\)"):
        k(**{a: to_lib(v) for a, v in arrays.items()})


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_cross_entropy_class_indices_and_probability_rows(backend, monkeypatch):
    to_lib = _library(backend)
    k = symlik.compile("categorical", link="softmax", backend=backend)
    copies = _count_host_copies(k, monkeypatch)
    logits = np.zeros((5, 3))
    logits[0, 0] = -np.inf  # allowed: the limit is defined
    labels = np.array([1, 2, 0, 1, 2])
    assert np.isfinite(float(k(to_lib(logits), to_lib(labels))))
    assert copies == []  # class indices and logits: both checked on the device
    labels[3] = 3
    with pytest.raises(symlik.ConstraintError, match=r"class index in \[0, C\).* at index \(3,\)"):
        k(to_lib(logits), to_lib(labels))
    # probability targets: the row sums are checked on a NumPy copy of y only
    probs = np.full((5, 3), 1 / 3)
    del copies[:]
    k(to_lib(logits), to_lib(probs))
    assert len(copies) == 1
    probs[2] = [0.5, 0.5, 0.5]
    with pytest.raises(symlik.ConstraintError, match=r"probability vector.* at index \(2, 0\)"):
        k(to_lib(logits), to_lib(probs))


def test_torch_tensor_that_requires_grad_is_validated_and_differentiable():
    torch = pytest.importorskip("torch")
    k = symlik.compile("normal", predict=("mu", "sigma"), backend="torch")
    mu = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    sigma = torch.ones(4, dtype=torch.float64, requires_grad=True)
    k(mu, sigma, torch.zeros(4, dtype=torch.float64)).backward()
    assert mu.grad is not None
    with pytest.raises(symlik.ConstraintError, match=r"sigma must be > 0 \(got .* at index \(2,\)"):
        k(mu, torch.tensor([1.0, 1.0, 0.0, 1.0], dtype=torch.float64, requires_grad=True), torch.zeros(4))
