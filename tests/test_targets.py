"""Every compile target on every backend: the gradient, score, Hessian and Fisher information
go through the same Plan as the loss, and each backend agrees with closed forms written by hand."""

import json

import numpy as np
import pytest
import sympy as sp

import symlik
from symlik.compiler import cuda_codegen
from symlik.compiler.plan import make_plan
from symlik.compiler.xp_printers import SymlikJaxPrinter, SymlikTorchPrinter
from symlik.core.functions import LogBeta

RNG = np.random.default_rng(7)
N = 6
MU = RNG.normal(size=N)
Y = RNG.normal(size=N)
SIGMA = 0.5 + RNG.random(N)
P = RNG.uniform(0.05, 0.95, N)
Z = np.array([-50.0, -5.0, -0.5, 0.0, 3.0, 40.0])
RATE = 0.2 + 3 * RNG.random(N)
B = 0.3 + RNG.random(N)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0, -z))


# (compile arguments, inputs in the kernel's order, per-observation closed form [N] or [N, P(, P)])
CASES = {
    "fisher-normal-mu": (dict(spec="normal", target="fisher"), (MU, SIGMA), 1 / SIGMA**2),
    "fisher-bernoulli": (dict(spec="bernoulli", target="fisher"), (P,), 1 / (P * (1 - P))),
    "fisher-bernoulli-logit": (dict(spec="bernoulli", link="logit", target="fisher"), (Z,), _sigmoid(Z) * _sigmoid(-Z)),
    "fisher-poisson": (dict(spec="poisson", target="fisher"), (RATE,), 1 / RATE),
    "fisher-laplace": (dict(spec="laplace", target="fisher"), (MU, B), 1 / B**2),
    "fisher-normal-mu-sigma": (
        dict(spec="normal", predict=("mu", "sigma"), target="fisher"),
        (MU, SIGMA),
        np.stack([np.stack([1 / SIGMA**2, 0 * SIGMA], -1), np.stack([0 * SIGMA, 2 / SIGMA**2], -1)], -2),
    ),
    "score-normal-mu": (dict(spec="normal", target="score"), (MU, Y, SIGMA), (Y - MU) / SIGMA**2),
    "score-normal-mu-sigma": (
        dict(spec="normal", predict=("mu", "sigma"), target="score"),
        (MU, SIGMA, Y),
        np.stack([(Y - MU) / SIGMA**2, -1 / SIGMA + (Y - MU) ** 2 / SIGMA**3], -1),
    ),
    "hessian-normal-mu": (dict(spec="normal", target="hessian"), (MU, SIGMA), -1 / SIGMA**2),
    "hessian-poisson": (dict(spec="poisson", target="hessian"), (RATE, np.round(RATE * 2)), -np.round(RATE * 2) / RATE**2),
    # the MSE loss (y - mu)^2 and the BCE in logits: 2 (mu - y) and sigmoid(z) - y
    "grad-normal": (dict(spec="normal", target="grad"), (MU, Y), 2 * (MU - Y)),
    "grad-bernoulli-logit": (
        dict(spec="bernoulli", link="logit", target="grad"), (Z, np.array([0, 1, 1, 0, 1, 0.0])),
        _sigmoid(Z) - np.array([0, 1, 1, 0, 1, 0.0]),
    ),
}

BACKENDS = ("numpy", "fused", "torch", "jax")


def _library(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    elif backend == "torch":
        return pytest.importorskip("torch")
    elif backend == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        return jax.numpy
    return None


def _arrays(backend, arrays):
    lib = _library(backend)
    if backend == "torch":
        return [lib.as_tensor(a) for a in arrays]
    if backend == "jax":
        return [lib.asarray(a) for a in arrays]
    return list(arrays)


def _numpy(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


# every case on NumPy first: the symbolic expectations fork a worker, which must happen before JAX starts threads
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_target_matches_its_closed_form(case, backend):
    arguments, arrays, want = CASES[case]
    arguments = dict(arguments)
    spec = arguments.pop("spec")
    args = _arrays(backend, arrays)
    k = symlik.compile(spec, backend=backend, reduction="none", **arguments)
    got = _numpy(k(*args))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    # reductions are over the observations only: one vector or matrix stays
    for reduction, reduce in (("mean", np.mean), ("sum", np.sum)):
        total = _numpy(symlik.compile(spec, backend=backend, reduction=reduction, **arguments)(*args))
        np.testing.assert_allclose(total, reduce(want, axis=0), rtol=1e-12, atol=1e-300)


def test_fisher_compiles_on_the_fused_backend_like_numpy():
    pytest.importorskip("numba")
    d = symlik.derive("normal", predict=("mu", "sigma"))
    fused = symlik.compile(d, target="fisher", backend="fused")
    numpy_ = symlik.compile(d, target="fisher")
    assert fused.inputs == numpy_.inputs == ("mu", "sigma")
    np.testing.assert_allclose(fused(MU, SIGMA), numpy_(MU, SIGMA), rtol=1e-14)
    np.testing.assert_allclose(fused(MU, SIGMA), [[np.mean(1 / SIGMA**2), 0], [0, np.mean(2 / SIGMA**2)]], rtol=1e-14)


def test_a_constant_entry_is_one_value_per_observation():
    # Fisher of normal in mu with sigma fixed: 1/4 for every observation, whatever mu is.
    for backend in ("numpy", "fused"):
        if backend == "fused":
            pytest.importorskip("numba")
        k = symlik.compile("normal", target="fisher", backend=backend, reduction="none", fixed={"sigma": 2.0})
        assert k.inputs == ("mu",)
        np.testing.assert_array_equal(k(np.zeros((2, 3))), np.full((2, 3), 0.25))
        assert symlik.compile("normal", target="fisher", backend=backend, reduction="sum", fixed={"sigma": 2.0})(np.zeros(8)) == 2.0


def test_float32_inputs_give_float32_information():
    k = symlik.compile("normal", predict=("mu", "sigma"), target="fisher", reduction="none")
    out = k(MU.astype(np.float32), SIGMA.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (N, 2, 2)


def test_validation_runs_for_information_targets_on_every_backend():
    for backend in ("numpy", "fused"):
        if backend == "fused":
            pytest.importorskip("numba")
        k = symlik.compile("normal", predict=("mu", "sigma"), target="fisher", backend=backend)
        with pytest.raises(symlik.ConstraintError, match="sigma must be > 0"):
            k(np.zeros(2), np.array([1.0, -1.0]))


def test_kernel_grad_of_a_scalar_target_comes_for_free():
    # d/dmu of the mean score (y - mu)/sigma^2 is -1/(n sigma^2) per observation.
    k = symlik.compile("normal", target="score")
    (g_mu,) = k.grad(MU, Y, SIGMA)
    np.testing.assert_allclose(g_mu, -1 / (N * SIGMA**2), rtol=1e-14)


def test_kernel_grad_of_a_vector_target_says_what_to_compile_instead():
    k = symlik.compile("normal", predict=("mu", "sigma"), target="score")
    with pytest.raises(symlik.NotSupportedError, match="hessian"):
        k.grad(MU, SIGMA, Y)


def test_information_targets_of_event_distributions_are_not_supported():
    with pytest.raises(symlik.NotSupportedError):
        symlik.compile("categorical", link="softmax", target="fisher")
    with pytest.raises(symlik.NotSupportedError):
        symlik.compile("categorical", link="softmax", target="grad")


def test_unknown_target_names_the_choices():
    with pytest.raises(symlik.UnknownNameError, match="fisher"):
        symlik.compile("normal", target="fishy")


def test_compile_information_is_compile_with_a_target():
    d = symlik.derive("bernoulli")
    k = symlik.compile_information(d, "fisher", reduction="none")
    assert k.target == "fisher" and k.backend == "numpy"
    np.testing.assert_allclose(k(P), 1 / (P * (1 - P)), rtol=1e-13)
    with pytest.raises(symlik.UnknownNameError):
        symlik.compile_information(d, "loss")


def test_cupy_source_has_one_form_per_entry():
    # printed without a GPU: the C fragments of the normal's 2 x 2 Fisher information
    source = json.loads(cuda_codegen.generate(make_plan("normal", predict=("mu", "sigma"), target="fisher", reduction="mean")))
    assert source["shape"] == [2, 2] and source["args"] == ["mu", "sigma"]
    assert sorted(source["forms"]) == ["entry0", "entry1", "entry2", "entry3"]
    rows = {name: form["row"] for name, form in source["forms"].items()}
    # 1/sigma^2 and 2/sigma^2 in double arithmetic, the off-diagonal entries 0
    assert rows == {"entry0": "(1.0/(v_sigma*v_sigma))", "entry1": "0.0", "entry2": "0.0", "entry3": "2.0/(v_sigma*v_sigma)"}
    assert not any(form["grad"] for form in source["forms"].values())  # no gradient kernel: Kernel.grad needs a number per observation


@pytest.mark.parametrize("backend", ("numpy", "torch", "jax"))
def test_gamma_score_in_its_shape_uses_each_librarys_digamma(backend):
    special = pytest.importorskip("scipy.special")
    k_, y, mu = np.array([0.5, 2.0, 30.0]), np.array([0.3, 1.0, 5.0]), np.array([1.0, 2.0, 3.0])
    # d/dk log p for the gamma with mean mu and shape k (rate k/mu), by hand
    want = np.log(k_) + 1 + np.log(y) - np.log(mu) - special.digamma(k_) - y / mu
    kernel = symlik.compile("gamma", predict=("k",), target="score", backend=backend, reduction="none")
    assert kernel.inputs == ("k", "y", "mu")
    np.testing.assert_allclose(_numpy(kernel(*_arrays(backend, (k_, y, mu)))), want, rtol=1e-12)


def test_a_function_a_backend_lacks_is_named_with_the_backend():
    a, b = sp.symbols("a b", positive=True)
    for printer, backend in ((SymlikTorchPrinter, "torch"), (SymlikJaxPrinter, "jax")):
        with pytest.raises(symlik.NotSupportedError, match=f"the {backend} backend has no LogBeta"):
            printer().doprint(LogBeta(a, b))
    with pytest.raises(symlik.NotSupportedError, match="the cupy backend has no polygamma"):
        cuda_codegen.CudaPrinter().doprint(sp.polygamma(1, a))


def test_dask_inputs_give_a_lazy_matrix_per_observation():
    da = pytest.importorskip("dask.array")
    k = symlik.compile("normal", predict=("mu", "sigma"), target="fisher")
    mu, sigma = da.from_array(MU, chunks=4), da.from_array(SIGMA, chunks=4)
    assert k.elementwise(mu, sigma).shape == (N, 2, 2)
    want = [[np.mean(1 / SIGMA**2), 0], [0, np.mean(2 / SIGMA**2)]]
    np.testing.assert_allclose(k(mu, sigma).compute(), want, rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_weight_per_observation_scales_its_whole_matrix(backend):
    w = RNG.random(N)
    mu, sigma, weight = _arrays(backend, (MU, SIGMA, w))
    k = symlik.compile("normal", predict=("mu", "sigma"), target="fisher", backend=backend, reduction="sum")
    want = [[np.sum(w / SIGMA**2), 0], [0, np.sum(2 * w / SIGMA**2)]]
    np.testing.assert_allclose(_numpy(k(mu, sigma, weight=weight)), want, rtol=1e-13)
