"""Shapes follow torch: predictions and targets share the observation shape, a class-index
target drops the class axis, parameters broadcast to the observations but never enlarge them.
A mismatch raises a SymlikError naming both shapes as the user passed them, on every backend."""

import numpy as np
import pytest

import symlik
from harness import as_backend_array, installed_backends

RNG = np.random.default_rng(12)
Z = RNG.normal(size=256)
Y = (RNG.random(256) < 0.5).astype(float)


BACKENDS = installed_backends()
_as = as_backend_array


@pytest.mark.parametrize("backend", BACKENDS)
def test_column_of_logits_against_a_vector_of_labels_raises_as_torch_does(backend):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    # torch's own rule, the oracle: (256, 1) logits against (256,) targets is an error.
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(torch.as_tensor(Z[:, None]), torch.as_tensor(Y))
    k = symlik.compile("bernoulli", link="logit", backend=backend)
    with pytest.raises(symlik.SymlikError, match=r"logits of shape \(256, 1\) and y of shape \(256,\) do not match.*same observation shape"):
        k(_as(backend, Z[:, None]), _as(backend, Y))
    # the same data with matching shapes gives torch's value
    want = float(F.binary_cross_entropy_with_logits(torch.as_tensor(Z), torch.as_tensor(Y)))
    np.testing.assert_allclose(float(k(_as(backend, Z), _as(backend, Y))), want, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_normal_nll_with_a_column_of_means_raises(backend):
    k = symlik.compile("normal", target="nll", reduction="none", backend=backend)
    with pytest.raises(symlik.SymlikError, match=r"mu of shape \(3, 1\) and y of shape \(3,\) do not match"):
        k(_as(backend, np.zeros((3, 1))), _as(backend, np.zeros(3)), 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_diag_normal_per_row_sigma_column_is_refused(backend):
    n, d = 5, 3
    k = symlik.compile("diag_normal", target="nll", reduction="none", backend=backend)
    mu, y = np.zeros((n, d)), RNG.normal(size=(n, d))
    with pytest.raises(symlik.SymlikError, match=r"sigma of shape \(5, 1\) does not fit the observations' shape \(5,\).*never enlarge"):
        k(_as(backend, mu), _as(backend, y), _as(backend, np.ones((n, 1))))
    # a per-row sigma has the observations' shape (n,); checked against scipy
    from scipy import stats

    sigma = np.linspace(0.5, 2.0, n)
    want = -stats.norm.logpdf(y, mu, sigma[:, None]).sum(-1)
    np.testing.assert_allclose(np.asarray(k(_as(backend, mu), _as(backend, y), _as(backend, sigma))), want, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_class_index_target_has_the_logits_shape_without_the_class_axis(backend):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    z, c = RNG.normal(size=(8, 4)), RNG.integers(0, 4, 8)
    with pytest.raises((ValueError, RuntimeError)):
        F.cross_entropy(torch.as_tensor(z), torch.as_tensor(c[:, None]))
    k = symlik.compile("categorical", link="softmax", backend=backend)
    with pytest.raises(symlik.SymlikError, match=r"logits of shape \(8, 4\).*y of shape \(8, 1\)"):
        k(_as(backend, z), _as(backend, c[:, None]))
    want = float(F.cross_entropy(torch.as_tensor(z), torch.as_tensor(c)))
    np.testing.assert_allclose(float(k(_as(backend, z), _as(backend, c))), want, rtol=1e-12)


def test_float_class_indices_say_indices_must_be_integers():
    k = symlik.compile("categorical", link="softmax")
    with pytest.raises(symlik.SymlikError, match="class indices must be integers"):
        k(np.zeros((8, 10)), np.arange(8.0))


def test_shapes_are_checked_without_validation_too():
    k = symlik.compile("bernoulli", link="logit", validate=False)
    with pytest.raises(symlik.SymlikError, match="do not match"):
        k(Z[:, None], Y)


def test_a_single_value_and_broadcasting_parameters_are_allowed():
    from scipy import stats

    y = RNG.normal(size=(4, 6))
    k = symlik.compile("normal", target="nll", reduction="none")
    # a constant prediction (0-d) stands for every observation, as torch's mse_loss broadcasts a scalar
    np.testing.assert_allclose(k(0.5, y, 2.0), -stats.norm.logpdf(y, 0.5, 2.0), rtol=1e-13)
    # a parameter broadcasts over rows
    sigma = np.linspace(1, 2, 6)
    np.testing.assert_allclose(k(np.zeros((4, 6)), y, sigma), -stats.norm.logpdf(y, 0, sigma), rtol=1e-13)
    with pytest.raises(symlik.SymlikError, match=r"sigma of shape \(4, 1, 6\)"):
        k(np.zeros((4, 6)), y, np.ones((4, 1, 6)))


def test_dask_inputs_are_shape_checked_before_the_graph_is_built():
    da = pytest.importorskip("dask.array")
    k = symlik.compile("bernoulli", link="logit")
    with pytest.raises(symlik.SymlikError, match=r"logits of shape \(256, 1\) and y of shape \(256,\)"):
        k(da.from_array(Z[:, None], chunks=64), da.from_array(Y, chunks=64))
