"""The torch and JAX backends: values and gradients against torch.nn.functional and optax."""

import numpy as np
import pytest

import symlik

rng = np.random.default_rng(11)
N = 64
MU, Y = rng.normal(size=N), rng.normal(size=N)
Z = 4 * rng.normal(size=N)
Z[:3] = [0.0, 40.0, -40.0]  # softplus' kink at 0 and both tails
LABELS = (rng.random(N) < 0.5).astype(float)
LOGITS, CLASSES = 3 * rng.normal(size=(N, 7)), rng.integers(0, 7, N)
SIGMA = 0.5 + rng.random(N)
COUNTS = rng.poisson(2.0, N).astype(float)


# -- torch -------------------------------------------------------------------------------
def _torch_cases(torch, F):
    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    c = lambda a: torch.tensor(a)  # noqa: E731
    return [
        ("normal", {}, lambda: (t(MU), c(Y)), lambda mu, y: F.mse_loss(mu, y)),
        ("laplace", {}, lambda: (t(MU), c(Y)), lambda mu, y: F.l1_loss(mu, y)),
        ("bernoulli", {"link": "logit"}, lambda: (t(Z), c(LABELS)), lambda z, y: F.binary_cross_entropy_with_logits(z, y)),
        ("categorical", {"link": "softmax"}, lambda: (t(LOGITS), c(CLASSES)), lambda z, y: F.cross_entropy(z, y)),
        ("categorical", {"link": "softmax"}, lambda: (t(LOGITS), c(np.eye(7)[CLASSES])), lambda z, y: F.cross_entropy(z, y)),
        ("normal", {"predict": ("mu", "sigma")}, lambda: (t(MU), t(SIGMA), c(Y)),
         lambda mu, sigma, y: F.gaussian_nll_loss(mu, y, sigma * sigma, eps=0.0)),
        ("poisson", {"link": "log"}, lambda: (t(MU), c(COUNTS)),
         lambda z, y: F.poisson_nll_loss(z, y, log_input=True, full=False)),
    ]


@pytest.mark.parametrize("case", range(7))
def test_torch_values_and_gradients_match_torch_functional(case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    name, kwargs, make, reference = _torch_cases(torch, F)[case]
    if name not in symlik.names():
        pytest.skip(f"{name} is not in the catalog")
    k = symlik.compile(name, backend="torch", **kwargs)
    ours, theirs = make(), make()
    got, want = k(*ours), reference(*theirs)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    got.backward()
    want.backward()
    for a, b in zip(ours, theirs):
        if a.requires_grad:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-14)


def test_torch_gradient_at_logit_zero_is_sigmoid_minus_label():
    torch = pytest.importorskip("torch")
    z = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    symlik.compile("bernoulli", link="logit", backend="torch", reduction="sum")(z, torch.tensor([0.0, 1.0])).backward()
    torch.testing.assert_close(z.grad, torch.tensor([0.5, -0.5], dtype=torch.float64))  # not max/abs subgradients


def test_torch_keeps_float32_and_trains():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-2, 2, 64)
    y = (x > 0).float()
    w = torch.zeros(1, requires_grad=True)
    loss_fn = symlik.compile("bernoulli", link="logit", backend="torch")
    opt = torch.optim.SGD([w], lr=1.0)
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss = loss_fn(w * x, y)
        assert loss.dtype == torch.float32
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first


def test_torch_validates_values():
    torch = pytest.importorskip("torch")
    k = symlik.compile("normal", target="nll", backend="torch")
    with pytest.raises(symlik.ConstraintError, match="sigma must be > 0"):
        k(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, -1.0]))


# -- JAX ---------------------------------------------------------------------------------
def _jax():
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    enable_x64 = getattr(jax, "enable_x64", None)
    if enable_x64 is None:  # older jax
        from jax.experimental import enable_x64
    return jax, optax, enable_x64


def _optax_cases(jnp, optax):
    return [
        ("normal", {}, (MU, Y), lambda mu, y: optax.squared_error(mu, y).mean()),
        ("bernoulli", {"link": "logit"}, (Z, LABELS), lambda z, y: optax.sigmoid_binary_cross_entropy(z, y).mean()),
        ("categorical", {"link": "softmax"}, (LOGITS, CLASSES),
         lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()),
        ("categorical", {"link": "softmax"}, (LOGITS, np.eye(7)[CLASSES]), lambda z, y: optax.softmax_cross_entropy(z, y).mean()),
    ]


@pytest.mark.parametrize("case", [0, 1, pytest.param(2, marks=pytest.mark.slow), 3])  # (case 2: 5 s of tracing)
def test_jax_values_and_gradients_match_optax(case):
    jax, optax, enable_x64 = _jax()
    import jax.numpy as jnp

    with enable_x64():
        name, kwargs, args, reference = _optax_cases(jnp, optax)[case]
        args = [jnp.asarray(a) for a in args]
        k = symlik.compile(name, backend="jax", **kwargs)
        np.testing.assert_allclose(k(*args), reference(*args), rtol=1e-12)
        g_ours = jax.grad(lambda a: k(a, *args[1:]))(args[0])
        g_theirs = jax.grad(lambda a: reference(a, *args[1:]))(args[0])
        np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(jax.jit(lambda *a: k(*a))(*args), reference(*args), rtol=1e-12)


def test_jax_gaussian_nll_against_closed_form_and_its_gradient():
    jax, _, enable_x64 = _jax()
    import jax.numpy as jnp

    with enable_x64():
        k = symlik.compile("normal", predict=("mu", "sigma"), backend="jax")
        mu, sigma, y = (jnp.asarray(a) for a in (MU, SIGMA, Y))
        np.testing.assert_allclose(k(mu, sigma, y), np.mean(np.log(SIGMA) + 0.5 * ((Y - MU) / SIGMA) ** 2), rtol=1e-12)
        g_sigma = jax.grad(lambda s: k(mu, s, y))(sigma)
        np.testing.assert_allclose(g_sigma, (1 / SIGMA - (Y - MU) ** 2 / SIGMA**3) / N, rtol=1e-10)


def test_backend_missing_library_says_so(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "jax", "numba", "cupy") else real(name, *a))
    for backend, package in (("torch", "torch"), ("jax", "jax"), ("fused", "numba"), ("cupy", "CuPy")):
        with pytest.raises(symlik.NotSupportedError, match=f"needs {package}"):
            symlik.compile("normal", backend=backend)


def test_torch_nll_matches_scipy_for_every_catalog_entry(derivation):
    torch = pytest.importorskip("torch")
    from harness import assert_nll_matches_scipy

    assert_nll_matches_scipy(derivation, "torch", rtol=1e-11, to_array=torch.as_tensor, to_numpy=lambda t: t.numpy())


def test_loss_options_say_which_backend_they_need():
    with pytest.raises(symlik.NotSupportedError, match="backend 'numpy' only"):
        symlik.compile("categorical", link="softmax", backend="torch", label_smoothing=0.1)
