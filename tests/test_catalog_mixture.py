"""gaussian_mixture (the mixture-density-network head) against independent oracles: torch's
MixtureSameFamily(Categorical(logits), Normal) log_prob and its autograd, the closed form written
with scipy.stats.norm.logpdf and scipy.special.logsumexp, and mpmath at 50 digits where float64
closed forms underflow (every component 1e3 standard deviations away) or overflow (logits of 1e3)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import special, stats

import symlik
from symlik.core.errors import SymlikError

torch = pytest.importorskip("torch")

KS = (2, 3, 4)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
FUSED = pytest.param("fused", marks=pytest.mark.slow)  # numba compiles each kernel: 5-30 s


def _kernel(K, target="nll", backend="numpy"):
    return symlik.compile("gaussian_mixture", target=target, backend=backend, reduction="none", options={"K": str(K)})


def _draw(K, n, seed):
    rng = np.random.default_rng(seed)
    w = 2 * rng.normal(size=(n, K))
    mu = 3 * rng.normal(size=(n, K))
    sigma = rng.lognormal(0, 0.7, size=(n, K))
    y = 3 * rng.normal(size=n)
    return w, mu, sigma, y


def _call(k, w, mu, sigma, y):
    """The kernel's inputs in its order: w1..wK, mu1..muK, sigma1..sigmaK, y."""
    cols = [np.ascontiguousarray(a[:, j]) for a in (w, mu, sigma) for j in range(a.shape[1])]
    return k(*cols, y)


def _torch_mixture(w, mu, sigma):
    D = torch.distributions
    return D.MixtureSameFamily(D.Categorical(logits=w), D.Normal(mu, sigma))


def _torch_nll(w, mu, sigma, y):
    t = [torch.tensor(a, dtype=torch.float64) for a in (w, mu, sigma, y)]
    return -_torch_mixture(*t[:3]).log_prob(t[3]).numpy()


def _torch_grad(w, mu, sigma, y):
    """d(-log p)/d(w, mu, sigma) per row by torch autograd, as [n, 3K]."""
    w, mu, sigma = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (w, mu, sigma))
    (-_torch_mixture(w, mu, sigma).log_prob(torch.tensor(y, dtype=torch.float64))).sum().backward()
    return np.concatenate([w.grad.numpy(), mu.grad.numpy(), sigma.grad.numpy()], axis=1)


def _mp_nll(w, mu, sigma, y):
    """-log sum_k softmax(w)_k N(y | mu_k, sigma_k) at 50 digits, from the definition."""
    with mpmath.workdps(50):
        w, mu, sigma = ([mpmath.mpf(float(v)) for v in a] for a in (w, mu, sigma))
        y = mpmath.mpf(float(y))
        total_w = mpmath.fsum(mpmath.exp(v) for v in w)
        p = mpmath.fsum(
            mpmath.exp(wk) / total_w * mpmath.npdf(y, mk, sk) for wk, mk, sk in zip(w, mu, sigma)
        )
        return -mpmath.log(p)


def _backend_values(k, backend, w, mu, sigma, y):
    if backend == "torch":
        cols = [torch.tensor(a[:, j]) for a in (w, mu, sigma) for j in range(a.shape[1])]
        return k(*cols, torch.tensor(y)).numpy()
    if backend == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        cols = [jax.numpy.asarray(a[:, j]) for a in (w, mu, sigma) for j in range(a.shape[1])]
        return np.asarray(k(*cols, jax.numpy.asarray(y)))
    return np.asarray(_call(k, w, mu, sigma, y))


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", KS)
def test_nll_matches_torch_mixture_same_family(K):
    w, mu, sigma, y = _draw(K, 64, seed=K)
    np.testing.assert_allclose(_call(_kernel(K), w, mu, sigma, y), _torch_nll(w, mu, sigma, y), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("K", KS)
def test_loss_plus_half_log_two_pi_is_the_scipy_closed_form(K):
    # log p = logsumexp_k(log softmax(w)_k + log N(y | mu_k, sigma_k)), written with scipy's pieces
    w, mu, sigma, y = _draw(K, 64, seed=10 + K)
    log_weights = w - special.logsumexp(w, axis=1, keepdims=True)
    want = -special.logsumexp(log_weights + stats.norm.logpdf(y[:, None], mu, sigma), axis=1)
    got = _call(_kernel(K, target="loss"), w, mu, sigma, y) + HALF_LOG_2PI
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_one_component_dominating_is_that_normal():
    # softmax(w) = (1, 0) to the last digit: the NLL is the first component's normal NLL
    w = np.array([[40.0, -40.0]] * 3)
    mu, sigma, y = np.array([[0.5, 9.0]] * 3), np.array([[2.0, 0.1]] * 3), np.array([-1.0, 0.5, 3.0])
    want = -stats.norm.logpdf(y, 0.5, 2.0)
    np.testing.assert_allclose(_call(_kernel(2), w, mu, sigma, y), want, rtol=1e-14)


FAR = [  # (w, mu, sigma, y): y 1e3 standard deviations or more from every mean; each density underflows
    ([0.3, -0.2], [0.0, -1.0], [1.0, 0.5], 1e3),
    ([0.3, -0.2, 1.0], [0.0, 1.0, -2.0], [1.0, 2.0, 0.5], 2.5e3),
    ([0.0, 0.0, 0.0, 0.0], [1e3, -1e3, 0.0, 5.0], [1.0, 1e-3, 2.0, 1.0], -3e5),
    ([5.0, -5.0], [1e8, -1e8], [1e4, 1e4], 1.2e8),
]


def _one_row(backend, w, mu, sigma, y):
    """(the backend's NLL, mpmath's) for one observation of a K-component mixture."""
    w, mu, sigma, y = (np.array([v], dtype=float) for v in (w, mu, sigma, y))
    got = _backend_values(_kernel(w.shape[1], backend=backend), backend, w, mu, sigma, y)[0]
    return got, float(_mp_nll(w[0], mu[0], sigma[0], y[0]))


# numpy and fused stay in the fast suite; the torch and JAX twins (5 s each under JAX) run slow
@pytest.mark.parametrize("backend", ["numpy", pytest.param("torch", marks=pytest.mark.slow), pytest.param("jax", marks=pytest.mark.slow), FUSED])
def test_far_tail_is_the_exact_large_finite_nll(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    for w, mu, sigma, y in FAR:
        # the premise: the mixture density itself underflows to 0 in float64 (its log is -inf)
        with np.errstate(divide="ignore"):
            assert np.log(np.sum(special.softmax(w) * stats.norm.pdf(y, mu, sigma))) == -np.inf
        got, want = _one_row(backend, w, mu, sigma, y)
        assert want > 1e5 and math.isfinite(got)
        assert abs(got - want) <= 1e-14 * want, (backend, got, want)


LOGITS = [  # (w, mu, sigma, y): logits of +-1e3, whose exponentials overflow float64
    ([1e3, -1e3], [0.0, 1.0], [1.0, 2.0], 0.3),
    ([-1e3, 1e3], [0.0, 1.0], [1.0, 2.0], 0.3),
    ([1e3, 1e3], [0.0, 1.0], [1.0, 2.0], 0.3),
    ([1e3, -1e3], [5.0, 0.7], [1.0, 2.0], 0.7),  # the heavy component is far, the light one near y
    ([1e3, 999.0, -1e3], [0.0, 1.0, 2.0], [1.0, 0.5, 2.0], 1.5),
    ([-1e3, -1e3, -1e3, -999.5], [0.0, 1.0, 2.0, -1.0], [1.0, 0.5, 2.0, 3.0], 1.5),
]


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", FUSED])
def test_logits_of_a_thousand_stay_finite_and_accurate(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    for w, mu, sigma, y in LOGITS:
        got, want = _one_row(backend, w, mu, sigma, y)
        # the logits themselves carry a rounding of 1e3 * 2^-53 = 1.1e-13: the NLL's condition
        assert abs(got - want) <= 1e-14 * abs(want) + 4 * 1e3 * 2.0**-53, (backend, got, want)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", FUSED])
def test_tied_logits_and_tied_components_are_not_nan(backend):
    # logaddexp(a, a): torch and JAX once divided by |a - b| here (0/0 = nan at all-zero logits)
    if backend == "fused":
        pytest.importorskip("numba")
    w = np.array([[0.0, 0.0], [1e3, 1e3], [-2.0, -2.0], [0.5, 0.5]])
    mu = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    sigma = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 1.0], [0.3, 0.3]])
    y = np.array([0.3, 0.3, 1.0, -0.7])
    got = _backend_values(_kernel(2, backend=backend), backend, w, mu, sigma, y)
    want = np.array([float(_mp_nll(*row)) for row in zip(w, mu, sigma, y)])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=4 * 1e3 * 2.0**-53)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_zero_inflated_poisson_at_pi_zero_is_not_nan_on_torch_and_jax(backend):
    # the same printer path (a logaddexp lowered to max + softplus): pi = 0, y = 0 is e^-rate, NLL = rate
    k = symlik.compile("zero_inflated_poisson", target="nll", backend=backend, reduction="none")
    if backend == "torch":
        got = k(torch.tensor([0.0, 0.0]), torch.tensor([5.0, 40.0]), torch.tensor([0.0, 0.0])).numpy()
    else:
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        got = np.asarray(k(*(jax.numpy.asarray(v) for v in ([0.0, 0.0], [5.0, 40.0], [0.0, 0.0]))))
    np.testing.assert_allclose(got, [5.0, 40.0], rtol=1e-14)


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("K", KS)
def test_grad_matches_torch_autograd(K):
    w, mu, sigma, y = _draw(K, 32, seed=20 + K)
    got = np.asarray(_call(_kernel(K, target="grad"), w, mu, sigma, y))
    np.testing.assert_allclose(got, _torch_grad(w, mu, sigma, y), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch", FUSED])
def test_grad_at_the_extremes_matches_torch_autograd(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    rows = [r for r in FAR + LOGITS if len(r[0]) == 2] + [
        ([0.0, 0.0], [0.0, 1.0], [1.0, 2.0], 0.3),  # tied logits
        ([0.0, 0.0], [0.0, 1.0], [1.0, 1.0], 40.0),  # 40 sigmas: the posterior is all on component 2
    ]
    w, mu, sigma, y = (np.array([r[i] for r in rows], dtype=float) for i in range(4))
    k = _kernel(2, target="grad", backend=backend)
    if backend == "torch":
        got = k(*[torch.tensor(a[:, j]) for a in (w, mu, sigma) for j in range(2)], torch.tensor(y)).numpy()
    else:
        got = np.asarray(_call(k, w, mu, sigma, y))
    want = _torch_grad(w, mu, sigma, y)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_grad_hess_diagonal_matches_torch_autograd():
    K = 2
    w, mu, sigma, y = _draw(K, 8, seed=30)
    grad, hess = _call(_kernel(K, target="grad_hess"), w, mu, sigma, y)
    for i in range(len(y)):
        theta = torch.tensor(np.concatenate([w[i], mu[i], sigma[i]]), dtype=torch.float64)

        def nll(t):
            return -_torch_mixture(t[:K], t[K : 2 * K], t[2 * K :]).log_prob(torch.tensor(y[i], dtype=torch.float64))

        np.testing.assert_allclose(grad[i], torch.autograd.functional.jacobian(nll, theta).numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            hess[i], torch.autograd.functional.hessian(nll, theta).diagonal().numpy(), rtol=1e-9, atol=1e-12
        )


# ---------------------------------------------------------------------------
# the spec and its errors
# ---------------------------------------------------------------------------


def test_inputs_are_the_head_in_order_and_k_may_be_an_int():
    d = symlik.derive("gaussian_mixture", options={"K": 3})
    assert d.inputs == ("w1", "w2", "w3", "mu1", "mu2", "mu3", "sigma1", "sigma2", "sigma3", "y")
    assert d.loss.name is None


def test_bad_input_names_the_argument_and_rule():
    k = _kernel(2)
    one = np.ones(3)
    with pytest.raises(SymlikError, match=r"sigma2 must be > 0"):
        k(one, one, one, one, one, -one, one)
    with pytest.raises(SymlikError, match=r"option K of gaussian_mixture must be one of 2, 3, 4"):
        symlik.derive("gaussian_mixture", options={"K": "5"})
    with pytest.raises(SymlikError, match=r"w3"):
        symlik.derive("gaussian_mixture", predict=("w3",))


def test_fisher_information_is_declined_at_once_with_its_reason():
    # E[-H] of a normal mixture is an integral with no closed form: declined before any derivative is simplified
    from symlik.core.errors import NotSupportedError

    d = symlik.derive("gaussian_mixture", options={"K": 4})
    with pytest.raises(NotSupportedError, match=r"gaussian_mixture\[K=4\].*no closed form"):
        d.fisher()
