"""The multivariate normal with a Cholesky factor (catalog entry multivariate_normal), against
independent oracles: torch.distributions.MultivariateNormal(loc, scale_tril=L).log_prob,
scipy.stats.multivariate_normal.logpdf (cov = L L^T), mpmath at 50 digits for ill-conditioned
factors (diagonal entries 1e-8 and 1e8), and torch autograd for the gradients."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import symlik
from symlik.model.distributions.multivariate_normal import MultivariateNormal, tril_names

torch = pytest.importorskip("torch")


def _factor(rng, n, D, spread=1.0):
    L = np.tril(rng.normal(0.0, spread, (n, D, D)), -1)
    idx = np.arange(D)
    L[:, idx, idx] = np.exp(rng.normal(0.0, 0.5, (n, D)))
    return L


def _draw(rng, n, D):
    mu, L = rng.normal(0.0, 2.0, (n, D)), _factor(rng, n, D)
    y = mu + np.einsum("nij,nj->ni", L, rng.normal(size=(n, D)))
    return mu, y, L


def _torch_nll(mu, y, L):
    dist = torch.distributions.MultivariateNormal(torch.tensor(mu), scale_tril=torch.tensor(L))
    return -dist.log_prob(torch.tensor(y)).numpy()


def _mp_nll(y, mu, L, with_bound=False):
    """-log p by forward substitution in mpmath at 50 digits (inputs taken exactly). With
    ``with_bound``, also the first-order rounding error of any float64 forward substitution:
    sum_i |z_i| eps (|y_i| + |mu_i| + sum_j |L_ij z_j|) / L_ii (the cancellation in row i)."""
    with mpmath.workdps(50):
        D = len(y)
        z, bound = [], mpmath.mpf(0)
        for i in range(D):
            s = mpmath.mpf(y[i]) - mpmath.mpf(mu[i])
            size = abs(mpmath.mpf(y[i])) + abs(mpmath.mpf(mu[i]))
            for j in range(i):
                s -= mpmath.mpf(L[i][j]) * z[j]
                size += abs(mpmath.mpf(L[i][j]) * z[j])
            z.append(s / mpmath.mpf(L[i][i]))
            bound += abs(z[-1]) * 2.0**-52 * size / mpmath.mpf(L[i][i])
        quad = mpmath.fsum(v**2 for v in z)
        logdet = mpmath.fsum(mpmath.log(mpmath.mpf(L[i][i])) for i in range(D))
        value = quad / 2 + logdet + D * mpmath.log(2 * mpmath.pi) / 2
        return (value, bound) if with_bound else value


@pytest.mark.parametrize("D", [2, 3, 4])
def test_nll_matches_torch_and_scipy(D):
    from scipy import stats

    rng = np.random.default_rng(D)
    mu, y, L = _draw(rng, 50, D)
    k = symlik.compile("multivariate_normal", target="nll", reduction="none", options={"dim": str(D)})
    got = k(mu, y, **MultivariateNormal.tril_inputs(L))
    np.testing.assert_allclose(got, _torch_nll(mu, y, L), rtol=1e-12, atol=1e-12)
    want = [-stats.multivariate_normal.logpdf(y[i], mu[i], L[i] @ L[i].T) for i in range(len(y))]
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("D", [2, 3])
def test_torch_and_jax_backends_match_torch_distributions(D):
    rng = np.random.default_rng(10 + D)
    mu, y, L = _draw(rng, 20, D)
    want = _torch_nll(mu, y, L)
    k = symlik.compile("multivariate_normal", target="nll", reduction="none", backend="torch", options={"dim": str(D)})
    entries = {n: torch.tensor(v) for n, v in MultivariateNormal.tril_inputs(L).items()}
    got = k(torch.tensor(mu), torch.tensor(y), **entries)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    kj = symlik.compile("multivariate_normal", target="nll", reduction="none", backend="jax", options={"dim": str(D)})
    got = kj(jax.numpy.asarray(mu), jax.numpy.asarray(y), **{n: jax.numpy.asarray(v) for n, v in MultivariateNormal.tril_inputs(L).items()})
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def test_log_diagonal_option_matches_torch():
    rng = np.random.default_rng(3)
    mu, y, L = _draw(rng, 40, 3)
    names = tril_names(3, "log")
    k = symlik.compile("multivariate_normal", predict=("mu", *names), target="nll", reduction="none",
                       options={"diagonal": "log"})
    entries = MultivariateNormal.tril_inputs(L)
    args = {n: (np.log(entries[n[4:]]) if n.startswith("log_") else entries[n]) for n in names}
    np.testing.assert_allclose(k(mu=mu, y=y, **args), _torch_nll(mu, y, L), rtol=1e-12, atol=1e-12)


def test_log_diagonal_option_on_torch():
    # its nested x e^a (exact at x = 0) lower to compound conditions: written as nested binary ands
    rng = np.random.default_rng(4)
    mu, y, L = _draw(rng, 8, 3)
    entries = MultivariateNormal.tril_inputs(L)
    args = {n: torch.tensor(np.log(entries[n[4:]]) if n.startswith("log_") else entries[n]) for n in tril_names(3, "log")}
    k = symlik.compile("multivariate_normal", target="nll", reduction="none", backend="torch", options={"diagonal": "log"})
    got = k(torch.tensor(mu), torch.tensor(y), **args)
    np.testing.assert_allclose(got.numpy(), _torch_nll(mu, y, L), rtol=1e-12)


ILL_CONDITIONED = [
    # (diagonal, below-diagonal fill, residual scale): Sigma's condition number up to 1e32
    ((1e-8, 1e8, 1.0), 0.5, 1e-8),
    ((1e8, 1e-8, 1.0), 0.5, 1.0),
    ((1e-8, 1e-8, 1e-8), 1.0, 1e-8),
    ((1e8, 1e8, 1e8), 1e8, 1e8),
    ((1e-8, 1.0, 1e8), -3.0, 1e3),
]


@pytest.mark.parametrize("diagonal,fill,scale", ILL_CONDITIONED)
def test_ill_conditioned_factor_against_mpmath(diagonal, fill, scale):
    D = 3
    rng = np.random.default_rng(0)
    L = np.full((1, D, D), fill) * np.tril(np.ones((D, D)), -1)
    L[0, np.arange(D), np.arange(D)] = diagonal
    mu = rng.normal(0.0, 1.0, (1, D)) * 1e3
    y = mu + np.einsum("nij,nj->ni", L, rng.normal(size=(1, D))) * scale / max(scale, 1.0)
    k = symlik.compile("multivariate_normal", target="nll", reduction="none")
    got = k(mu, y, **MultivariateNormal.tril_inputs(L))[0]
    truth, bound = _mp_nll(y[0], mu[0], L[0], with_bound=True)
    assert np.isfinite(got)
    # within a few roundings of the value and of the cancellation that each row's subtraction
    # y_i - mu_i - sum_j L_ij z_j makes in any float64 forward substitution (torch's too)
    error = abs(mpmath.mpf(float(got)) - truth)
    assert error <= 4 * (bound + 2.0**-52 * abs(truth)), (float(got), mpmath.nstr(truth, 20), mpmath.nstr(bound, 3))
    # and no worse than torch.distributions' own triangular solve
    assert error <= 4 * abs(mpmath.mpf(float(_torch_nll(mu, y, L)[0])) - truth) + 2.0**-52 * abs(truth)


def test_exact_mean_on_an_ill_conditioned_factor_is_finite_and_exact():
    # y = mu: z = 0, NLL = sum log L_ii + 3/2 log(2 pi) exactly, whatever Sigma's condition number
    L = np.array([[[1e-8, 0, 0], [1e8, 1e8, 0], [-1e8, 1e-8, 1e-8]]])
    mu = np.array([[1e8, -1e8, 3.0]])
    k = symlik.compile("multivariate_normal", target="nll", reduction="none")
    got = k(mu, mu.copy(), **MultivariateNormal.tril_inputs(L))[0]
    want = _mp_nll(mu[0], mu[0], L[0])
    assert abs(mpmath.mpf(float(got)) - want) <= 1e-15 * abs(want)


@pytest.mark.parametrize("options,predict", [
    ({"dim": "2"}, ("mu", *tril_names(2))),
    ({"dim": "3"}, ("mu", *tril_names(3))),
    ({"dim": "3", "diagonal": "log"}, ("mu", *tril_names(3, "log"))),
])
def test_gradients_match_torch_autograd(options, predict):
    D = int(options["dim"])
    rng = np.random.default_rng(7)
    mu, y, L = _draw(rng, 16, D)
    entries = MultivariateNormal.tril_inputs(L)
    log = options.get("diagonal") == "log"
    args = {n: (np.log(entries[n[4:]]) if n.startswith("log_") else entries[n]) for n in predict[1:]}
    k = symlik.compile("multivariate_normal", predict=predict, target="nll", reduction="mean", options=options)
    grads = k.grad(mu=mu, y=y, **args)
    # torch: the same inputs as leaves, the NLL from torch.distributions
    t = {n: torch.tensor(v, requires_grad=True) for n, v in {"mu": mu, **args}.items()}
    Lt = torch.zeros((len(y), D, D), dtype=torch.float64)
    for n in predict[1:]:
        i, j = int(n[-2]) - 1, int(n[-1]) - 1
        value = torch.exp(t[n]) if (log and n.startswith("log_")) else t[n]
        Lt = Lt.index_put((torch.arange(len(y)), torch.tensor(i), torch.tensor(j)), value)
    nll = -torch.distributions.MultivariateNormal(t["mu"], scale_tril=Lt).log_prob(torch.tensor(y)).mean()
    nll.backward()
    for name, g in zip(k.inputs, grads):
        np.testing.assert_allclose(g, t[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_loss_is_the_nll_less_the_log_determinant_and_constant():
    # predicting mu only: the loss is the quadratic form 1/2 ||L^-1 (y - mu)||^2 (by hand, numpy's solve)
    rng = np.random.default_rng(5)
    mu, y, L = _draw(rng, 10, 3)
    k = symlik.compile("multivariate_normal", reduction="none")
    z = np.linalg.solve(L, (y - mu)[..., None])[..., 0]
    np.testing.assert_allclose(k(mu, y, **MultivariateNormal.tril_inputs(L)), 0.5 * np.sum(z**2, -1), rtol=1e-12)


def test_bad_inputs_raise_naming_the_argument():
    k = symlik.compile("multivariate_normal", target="nll")
    rng = np.random.default_rng(1)
    mu, y, L = _draw(rng, 4, 3)
    entries = MultivariateNormal.tril_inputs(L)
    with pytest.raises(symlik.SymlikError, match="L_22 must be > 0"):
        k(mu, y, **{**entries, "L_22": -entries["L_22"]})
    with pytest.raises(symlik.SymlikError, match="3 entries on its last axis"):
        k(mu[:, :2], y[:, :2], **entries)
    with pytest.raises(symlik.SymlikError, match="scale_tril must have shape"):
        MultivariateNormal.tril_inputs(np.ones((4, 3, 2)))
    with pytest.raises(ValueError, match="dim"):
        symlik.derive("multivariate_normal", options={"dim": "5"})


def test_identified_as_its_own_nll_and_fast_to_derive():
    d = symlik.derive("multivariate_normal")
    assert d.loss.name is None
    assert d.inputs == ("mu", "y", *tril_names(3))


@pytest.mark.parametrize("backend", ["numpy", pytest.param("torch", marks=pytest.mark.slow),
                                     pytest.param("jax", marks=pytest.mark.slow)])
def test_float32_nll_is_finite_where_a_squared_score_overflows(backend):
    """At the accuracy grid's worst float32 point z_3 = 2e19: z_3**2 = 4e38 overflows float32, the NLL
    (about 2e38) does not. Checked against mpmath's forward substitution of the float32 inputs."""
    from harness import as_backend_array

    pytest.importorskip(backend)
    mu = np.array([[-1.0, -1.0, -1.0]], np.float32)
    y = np.array([[-1e8, 0.0, 1e8]], np.float32)
    L = np.array([[[1e8, 0, 0], [1, 1e-8, 0], [1e8, 1e8, 1e-3]]], np.float32)
    names = tril_names(3)
    entries = [L[:, i, j] for i, j in ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2))]
    kernel = symlik.compile("multivariate_normal", target="nll", reduction="none", backend=backend)
    args = {"mu": mu, "y": y, **dict(zip(names, entries))}
    value = np.asarray(kernel(**{n: as_backend_array(backend, a) for n, a in args.items()}))
    want = _mp_nll(y[0].astype(np.float64), mu[0].astype(np.float64), L[0].astype(np.float64))
    assert value.dtype == np.float32 and np.isfinite(value).all()
    np.testing.assert_allclose(value, float(want), rtol=1e-5)
