"""von Mises-Fisher on the unit sphere S^(D-1) (issue 14): values against scipy.stats.vonmises_fisher
and mpmath's Bessel function, D = 2 against the von Mises entry, gradients against torch autograd of
hand-written densities, the cosine-similarity loss against torch's, and the unit-norm checks."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import symlik

stats = pytest.importorskip("scipy.stats")

KAPPAS = [1e-8, 1e-3, 0.5, 1.0, 30.0, 1e3, 1e4]


def _unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _pairs(rng, n, D, spread=0.3):
    mu = _unit(rng.normal(size=(n, D)))
    return mu, _unit(mu + spread * rng.normal(size=(n, D)))


def _nll_kernel(**kw):
    return symlik.compile("von_mises_fisher", predict=("mu", "kappa"), target="nll", reduction="none", **kw)


def _mpmath_nll(mu, y, kappa):
    """-log p at 50 digits, from the definition: -(D/2 - 1) log k + (D/2) log 2 pi + log I_(D/2-1)(k) - k mu.y."""
    with mpmath.workdps(50):
        D = len(mu)
        k = mpmath.mpf(float(kappa))
        dot = mpmath.fsum(mpmath.mpf(float(a)) * mpmath.mpf(float(b)) for a, b in zip(mu, y))
        nu = mpmath.mpf(D) / 2 - 1
        value = -nu * mpmath.log(k) + mpmath.mpf(D) / 2 * mpmath.log(2 * mpmath.pi) + mpmath.log(mpmath.besseli(nu, k)) - k * dot
        return float(value)


@pytest.mark.parametrize("D", [2, 3, 5])
@pytest.mark.parametrize("kappa", KAPPAS)
def test_nll_matches_scipy_vonmises_fisher(D, kappa):
    rng = np.random.default_rng(D)
    mu, y = _pairs(rng, 5, D)
    got = _nll_kernel()(mu, np.full(5, kappa), y)
    want = -np.array([stats.vonmises_fisher(m, kappa).logpdf(row) for m, row in zip(mu, y)])
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("D", [2, 3, 5, 8])
@pytest.mark.parametrize("kappa", [*KAPPAS, 1e5])
def test_nll_matches_mpmath_besseli(D, kappa):
    rng = np.random.default_rng(10 + D)
    mu, y = _pairs(rng, 4, D, spread=1e-3)  # near the mode: where kappa (1 - mu.y) is smallest
    got = _nll_kernel()(mu, np.full(4, kappa), y)
    want = [_mpmath_nll(m, row, kappa) for m, row in zip(mu, y)]
    assert np.all(np.isfinite(got))
    # The NLL's condition number: one rounding of mu or y (eps) moves it by kappa eps, so that is the
    # floor of any float64 kernel's absolute error; 8 kappa eps allows the dot product's own rounding.
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=max(1e-13, 8 * kappa * np.finfo(float).eps))


@pytest.mark.parametrize("D", [2, 3, 5])
def test_small_kappa_is_the_uniform_distribution_on_the_sphere(D):
    # -log p -> log of the sphere's area, 2 pi^(D/2) / Gamma(D/2), as kappa -> 0
    rng = np.random.default_rng(0)
    mu, y = _pairs(rng, 3, D, spread=2.0)
    area = math.log(2) + D / 2 * math.log(math.pi) - math.lgamma(D / 2)
    np.testing.assert_allclose(_nll_kernel()(mu, np.full(3, 1e-12), y), area, rtol=1e-11)


def test_two_dimensions_is_von_mises_of_the_angle():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-np.pi, np.pi, 6), rng.uniform(-np.pi, np.pi, 6)
    kappa = np.array([1e-6, 0.3, 1.0, 4.0, 50.0, 2e3])
    mu, y = np.stack([np.cos(a), np.sin(a)], -1), np.stack([np.cos(b), np.sin(b)], -1)
    circle = symlik.compile("von_mises", predict=("mu", "kappa"), target="nll", reduction="none")
    np.testing.assert_allclose(_nll_kernel()(mu, kappa, y), circle(a, kappa, b), rtol=1e-11)


def _torch_nll_d2(torch, mu, kappa, y):
    # -log p = log 2 pi + log I0(k) - k mu.y, with log I0(k) = log(i0e(k)) + k
    return math.log(2 * math.pi) + torch.log(torch.special.i0e(kappa)) + kappa - kappa * (mu * y).sum(-1)


def _torch_nll_d3(torch, mu, kappa, y):
    # log C_3(k) = log k - log 4 pi - log sinh k = log k - log 2 pi - k - log1p(-e^(-2k))
    log_c = torch.log(kappa) - math.log(2 * math.pi) - kappa - torch.log1p(-torch.exp(-2 * kappa))
    return -log_c - kappa * (mu * y).sum(-1)


@pytest.mark.parametrize("D, hand_written", [(2, _torch_nll_d2), (3, _torch_nll_d3)])
def test_gradients_match_torch_autograd(D, hand_written):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    mu, y = _pairs(rng, 6, D, spread=0.5)
    kappa = np.array([1e-3, 0.2, 1.0, 3.0, 40.0, 500.0])
    k = symlik.compile("von_mises_fisher", predict=("mu", "kappa"), target="nll", reduction="sum")
    g_mu, g_kappa = k.grad(mu, kappa, y)
    t_mu, t_kappa = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (mu, kappa))
    total = hand_written(torch, t_mu, t_kappa, torch.tensor(y)).sum()
    total.backward()
    np.testing.assert_allclose(k(mu, kappa, y), total.item(), rtol=1e-12)
    np.testing.assert_allclose(g_mu, t_mu.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_kappa, t_kappa.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("D", [2, 3, 5])
def test_torch_kernel_and_its_autograd_match_numpy(D):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(20 + D)
    mu, y = _pairs(rng, 7, D, spread=0.5)
    kappa = np.array([1e-8, 1e-3, 0.7, 3.0, 40.0, 900.0, 1e4])
    ref = -np.array([stats.vonmises_fisher(m, kk).logpdf(row) for m, row, kk in zip(mu, y, kappa)])
    k = symlik.compile("von_mises_fisher", predict=("mu", "kappa"), target="nll", reduction="none", backend="torch")
    t_kappa = torch.tensor(kappa, requires_grad=True)
    value = k(torch.tensor(mu), t_kappa, torch.tensor(y))
    np.testing.assert_allclose(value.detach().numpy(), ref, rtol=1e-12)
    value.sum().backward()
    # d nll / d kappa = I_(nu+1)(kappa) / I_nu(kappa) - mu.y, the ratio from mpmath
    with mpmath.workdps(40):
        ratio = [float(mpmath.besseli(D / 2, kk) / mpmath.besseli(D / 2 - 1, kk)) for kk in kappa]
    np.testing.assert_allclose(t_kappa.grad.numpy(), np.array(ratio) - np.sum(mu * y, -1), rtol=1e-11, atol=1e-15)


def test_jax_gradient_under_jit_matches_the_bessel_ratio():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    enable_x64 = getattr(jax, "enable_x64", None)
    if enable_x64 is None:  # older jax
        from jax.experimental import enable_x64

    rng = np.random.default_rng(30)
    mu, y = _pairs(rng, 5, 3, spread=0.5)
    kappa = np.array([1e-8, 0.5, 2.0, 50.0, 1e4])
    with enable_x64():
        k = symlik.compile("von_mises_fisher", predict=("mu", "kappa"), target="nll", reduction="sum", backend="jax")
        grad = jax.jit(jax.grad(lambda kk: k(jnp.asarray(mu), kk, jnp.asarray(y))))(jnp.asarray(kappa))
        # D = 3: I_(3/2) / I_(1/2) = coth(kappa) - 1/kappa (the Langevin function)
        with mpmath.workdps(40):
            langevin = [float(mpmath.coth(kk) - 1 / mpmath.mpf(kk)) for kk in kappa]
        np.testing.assert_allclose(np.asarray(grad), np.array(langevin) - np.sum(mu * y, -1), rtol=1e-11, atol=1e-15)


def test_fixed_kappa_is_the_cosine_similarity_loss():
    d = symlik.derive("von_mises_fisher")
    assert d.loss.name == "cosine_similarity"
    assert d.scale == d.spec.symbol("kappa")
    assert symlik.derive("von_mises_fisher", predict=("mu", "kappa")).loss.name is None


def test_cosine_similarity_loss_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    mu, y = _pairs(rng, 7, 4, spread=0.8)
    k = symlik.compile("von_mises_fisher", fixed={"kappa": 2.0})  # the canonical loss, mean over observations
    t_mu, t_y = torch.tensor(mu), torch.tensor(y)
    np.testing.assert_allclose(k(mu, y), (1 - F.cosine_similarity(t_mu, t_y)).mean().item(), rtol=1e-12)
    # cosine_embedding_loss adds 1e-12 to each squared norm (its EPSILON): agreement to about that
    np.testing.assert_allclose(k(mu, y), F.cosine_embedding_loss(t_mu, t_y, torch.ones(7, dtype=torch.float64)).item(), rtol=1e-11)


def test_log_bessel_routines_keep_every_digit_from_tiny_to_huge_arguments():
    # the routines the kernels call
    from symlik.compiler._numpy_runtime import _iv_ratio, _log_iv, _log_iv_over_power

    for nu in (-0.5, 0.0, 0.5, 1.5, 7.0, 60.0):
        for x in (1e-300, 1e-8, 0.3, 1.0, 2.9, 3.1, 30.0, 1e4, 1e6):
            with mpmath.workdps(60):
                log_iv = float(mpmath.log(mpmath.besseli(nu, x)))
                ratio = float(mpmath.besseli(nu + 1, x) / mpmath.besseli(nu, x))
            assert float(_log_iv(nu, x)) == pytest.approx(log_iv, rel=1e-13, abs=1e-300), (nu, x)
            assert float(_iv_ratio(nu, x)) == pytest.approx(ratio, rel=2e-13, abs=1e-300), (nu, x)
            with mpmath.workdps(60):
                over_power = float(mpmath.log(mpmath.besseli(nu, x)) - nu * mpmath.log(x))
            assert float(_log_iv_over_power(nu, x)) == pytest.approx(over_power, rel=1e-13, abs=1e-15), (nu, x)


def test_a_mean_direction_off_the_sphere_is_refused():
    k = _nll_kernel()
    mu, y = _pairs(np.random.default_rng(1), 3, 3)
    with pytest.raises(symlik.SymlikError, match=r"mu must be a unit vector"):
        k(mu * 1.01, np.ones(3), y)
    with pytest.raises(symlik.SymlikError, match=r"y must be a unit vector"):
        k(mu, np.ones(3), y * 0.5)
    with pytest.raises(symlik.SymlikError, match=r"kappa must be > 0"):
        k(mu, np.zeros(3), y)


def test_shapes_that_disagree_are_refused_naming_both():
    k = _nll_kernel()
    mu, y = _pairs(np.random.default_rng(2), 4, 3)
    with pytest.raises(symlik.SymlikError, match=r"\(4, 3\).*\(4, 2\)|\(4, 2\).*\(4, 3\)"):
        k(mu, np.ones(4), _unit(y[:, :2]))


