"""target="grad_hess" and per-parameter links, against independent oracles: torch autograd
(what XGBoostLSS uses), sklearn._loss's hand-written gradient_hessian, and closed forms."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.stats as st

import symlik
from harness import as_backend_array
from symlik.core.errors import NotSupportedError, SymlikError, UnknownNameError

torch = pytest.importorskip("torch")

# (name, compile arguments, torch NLL of (list of margin columns, y), draw of margins, draw of y)
T = torch


def _normal_nll(z, y):
    mu, log_sigma = z
    return log_sigma + (y - mu) ** 2 / (2 * T.exp(2 * log_sigma)) + 0.5 * np.log(2 * np.pi)


def _gamma_nll(z, y):
    mu, k = T.exp(z[0]), T.nn.functional.softplus(z[1])
    return -T.distributions.Gamma(k, k / mu).log_prob(y)


def _student_nll(z, y, nu=4.0):
    return -T.distributions.StudentT(nu, z[0], T.exp(z[1])).log_prob(y)


def _poisson_nll(z, y):
    return -T.distributions.Poisson(T.exp(z[0])).log_prob(y)


def _bernoulli_nll(z, y):
    return -T.distributions.Bernoulli(logits=z[0]).log_prob(y)


def _negbin_nll(z, y):
    # symlik's negative binomial: n successes, success probability p = sigmoid(z_p); torch's
    # NegativeBinomial counts successes before total_count failures with probs of a success,
    # so its probs is 1 - p.
    n, p = T.nn.functional.softplus(z[0]), T.sigmoid(z[1])
    return -T.distributions.NegativeBinomial(n, probs=1 - p).log_prob(y)


def _beta_nll(z, y):
    mu, phi = T.sigmoid(z[0]), T.exp(z[1])
    return -T.distributions.Beta(mu * phi, (1 - mu) * phi).log_prob(y)


def _zip_nll(z, y):
    # torch has no zero-inflated Poisson: the mixture written out, pi = sigmoid(z_pi)
    log_pi, log_1m_pi, rate = T.nn.functional.logsigmoid(z[0]), T.nn.functional.logsigmoid(-z[0]), T.exp(z[1])
    zero = T.logaddexp(log_pi, log_1m_pi - rate)
    positive = log_1m_pi + T.distributions.Poisson(rate).log_prob(y)
    return -T.where(y == 0, zero, positive)


CASES = {
    "normal-mu-log-sigma": (
        "normal", dict(predict=("mu", "sigma"), link={"sigma": "log"}), _normal_nll,
        lambda r, n: [r.normal(0, 2, n), r.normal(0, 1, n)], lambda r, n: r.normal(0, 3, n)),
    "gamma-log-mu-softplus-k": (
        "gamma", dict(predict=("mu", "k"), link={"mu": "log", "k": "softplus"}), _gamma_nll,
        lambda r, n: [r.normal(0, 2, n), r.normal(0, 2, n)], lambda r, n: r.gamma(2.0, 1.0, n) + 1e-3),
    "student-t-mu-log-sigma": (
        "student_t", dict(predict=("mu", "sigma"), link={"sigma": "log"}, fixed={"nu": 4.0}), _student_nll,
        lambda r, n: [r.normal(0, 2, n), r.normal(0, 1, n)], lambda r, n: r.standard_t(4.0, n)),
    "poisson-log": (
        "poisson", dict(link="log"), _poisson_nll, lambda r, n: [r.normal(0, 2, n)], lambda r, n: r.poisson(3.0, n).astype(float)),
    "bernoulli-logit": (
        "bernoulli", dict(link="logit"), _bernoulli_nll, lambda r, n: [r.normal(0, 4, n)], lambda r, n: (r.random(n) < 0.4).astype(float)),
    "negative-binomial-softplus-n-logit-p": (
        "negative_binomial", dict(predict=("n", "p"), link={"n": "softplus", "p": "logit"}), _negbin_nll,
        lambda r, n: [r.normal(0, 2, n), r.normal(0, 2, n)], lambda r, n: r.poisson(4.0, n).astype(float)),
    "beta-mean-precision-logit-mu-log-phi": (
        "beta_mean_precision", dict(predict=("mu", "phi"), link={"mu": "logit", "phi": "log"}), _beta_nll,
        lambda r, n: [r.normal(0, 1.5, n), r.normal(1, 1, n)], lambda r, n: r.beta(2.0, 3.0, n)),
    "zero-inflated-poisson-logit-pi-log-rate": (
        "zero_inflated_poisson", dict(predict=("pi", "rate"), link={"pi": "logit", "rate": "log"}), _zip_nll,
        lambda r, n: [r.normal(0, 2, n), r.normal(0, 1.5, n)],
        lambda r, n: np.where(r.random(n) < 0.3, 0.0, r.poisson(3.0, n)).astype(float)),
}


# Autograd's own float64 rounding (lgamma, polygamma, its chain of products) reaches a few 1e-9
# in the shape parameters' Hessians, and 1e-7 in the negative binomial's n, where torch differences
# two trigammas: test_negative_binomial_hessian_in_n_matches_mpmath checks symlik's to 1e-12 there.
# Likewise in the beta's log phi, where torch's phi^2 (trigamma(a) mu^2 + ...) loses 3e-8:
# test_beta_hessian_in_log_precision_matches_mpmath checks symlik's to 1e-12.
RTOLS = {"negative-binomial-softplus-n-logit-p": 1e-6, "beta-mean-precision-logit-mu-log-phi": 1e-6}

# The fused backend (numba) has no digamma/trigamma: the models with a shape parameter run on NumPy.
FUSED = {"normal-mu-log-sigma", "student-t-mu-log-sigma", "poisson-log", "bernoulli-logit"}


def _autograd(nll, columns, y):
    """Per-observation gradient (n, P) and Hessian (n, P, P) by torch autograd, in float64."""
    z = [T.tensor(c, dtype=T.float64, requires_grad=True) for c in columns]
    yt = T.tensor(y, dtype=T.float64)
    total = nll(z, yt).sum()
    grads = T.autograd.grad(total, z, create_graph=True)
    hess = [[T.autograd.grad(g.sum(), zj, retain_graph=True, allow_unused=True)[0] for zj in z] for g in grads]
    P = len(z)
    G = np.stack([g.detach().numpy() for g in grads], axis=-1)
    H = np.stack([np.stack([(h if h is not None else T.zeros_like(z[0])).detach().numpy() for h in row], -1) for row in hess], -2)
    return G, H.reshape(len(y), P, P)


# numba compiles the Student-t's fused gradient and Hessian in one loop: 2-3 minutes on 2 cores
_HEAVY = {("student-t-mu-log-sigma", "fused")}


@pytest.mark.parametrize(
    "case,backend",
    [pytest.param(c, b, marks=pytest.mark.slow if (c, b) in _HEAVY or b == "jax" else ())  # JAX: 1-3 s each
     for c in sorted(CASES) for b in ("numpy", "fused", "torch", "jax")],
)
def test_grad_hess_matches_torch_autograd(case, backend):
    if backend == "fused":
        pytest.importorskip("numba")
        if case not in FUSED:
            pytest.skip("the fused backend has no digamma or trigamma")
    if backend in ("torch", "jax"):
        pytest.importorskip(backend)
    name, kwargs, nll, draw_z, draw_y = CASES[case]
    rng = np.random.default_rng(7)
    n = 64
    columns, y = draw_z(rng, n), draw_y(rng, n)
    full = symlik.compile(name, target="grad_hess", hessian_form="full", backend=backend, **kwargs)
    diag = symlik.compile(name, target="grad_hess", backend=backend, **kwargs)
    G, H = _autograd(nll, columns, y)
    inputs = [as_backend_array(backend, a) for a in (*columns, y)]  # torch tensors, JAX arrays in float64
    g, h, gd, hd = (np.asarray(a) for a in (*full(*inputs), *diag(*inputs)))
    P = len(columns)
    RTOL = RTOLS.get(case, 1e-8)
    if P == 1:
        G, H = G[:, 0], H[:, 0, 0]
        np.testing.assert_allclose(hd, H, rtol=RTOL, atol=1e-12)
    else:
        np.testing.assert_allclose(hd, np.diagonal(H, axis1=-2, axis2=-1), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(g, G, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(gd, G, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(h, H, rtol=RTOL, atol=1e-12)


def test_negative_binomial_hessian_in_n_matches_mpmath():
    mpmath.mp.dps = 40
    rng = np.random.default_rng(7)
    a, b, y = rng.normal(0, 2, 12), rng.normal(0, 2, 12), rng.poisson(4.0, 12).astype(float)
    k = symlik.compile("negative_binomial", predict=("n", "p"), link={"n": "softplus", "p": "logit"},
                       target="grad_hess", hessian_form="full")
    _, h = k(a, b, y)
    for i in range(12):
        yy, bb = mpmath.mpf(y[i]), mpmath.mpf(b[i])

        def nll(t, yy=yy, bb=bb):
            n, p = mpmath.log1p(mpmath.exp(t)), 1 / (1 + mpmath.exp(-bb))
            return -(mpmath.loggamma(yy + n) - mpmath.loggamma(n) - mpmath.loggamma(yy + 1) + n * mpmath.log(p)
                     + yy * mpmath.log(1 - p))

        exact = mpmath.diff(nll, mpmath.mpf(a[i]), 2)
        assert abs(h[i, 0, 0] - float(exact)) <= 1e-12 * abs(exact), (i, h[i, 0, 0], exact)


def test_beta_hessian_in_log_precision_matches_mpmath():
    mpmath.mp.dps = 40
    rng = np.random.default_rng(7)
    a, b, y = rng.normal(0, 1.5, 12), rng.normal(1, 1, 12), rng.beta(2.0, 3.0, 12)
    k = symlik.compile("beta_mean_precision", predict=("mu", "phi"), link={"mu": "logit", "phi": "log"},
                       target="grad_hess")
    _, h = k(a, b, y)
    for i in range(12):
        yy, mu = mpmath.mpf(y[i]), 1 / (1 + mpmath.exp(-mpmath.mpf(a[i])))

        def nll(t, yy=yy, mu=mu):
            phi = mpmath.exp(t)
            return -(mpmath.loggamma(phi) - mpmath.loggamma(mu * phi) - mpmath.loggamma((1 - mu) * phi)
                     + (mu * phi - 1) * mpmath.log(yy) + ((1 - mu) * phi - 1) * mpmath.log(1 - yy))

        exact = mpmath.diff(nll, mpmath.mpf(b[i]), 2)
        assert abs(h[i, 1] - float(exact)) <= 1e-12 * abs(exact), (i, h[i, 1], exact)


def _mp_poisson(z, y):
    r = mpmath.exp(z)
    return [r - y], [r]


def _mp_bernoulli(z, y):
    p = 1 / (1 + mpmath.exp(-z))
    return [p - y], [p * (1 - p)]


def _mp_normal(mu, s, y):
    w = mpmath.exp(-2 * s)
    return [(mu - y) * w, 1 - (y - mu) ** 2 * w], [w, 2 * (y - mu) ** 2 * w]


# Closed forms of gradient and Hessian diagonal, evaluated in mpmath at 50 digits.
EXTREMES = [
    ("poisson", dict(link="log"), _mp_poisson, [[-700.0, -50.0, 0.0, 50.0, 300.0]], [0.0, 3.0]),
    ("bernoulli", dict(link="logit"), _mp_bernoulli, [[-1000.0, -50.0, 0.0, 50.0, 1000.0]], [0.0, 1.0]),
    ("normal", dict(predict=("mu", "sigma"), link={"sigma": "log"}), _mp_normal,
     [[-1e6, 0.0, 1e6], [-300.0, -20.0, 0.0, 20.0, 300.0]], [-1.0, 2.0]),
]


@pytest.mark.parametrize("name, kwargs, closed, edges, labels", EXTREMES, ids=[e[0] for e in EXTREMES])
def test_grad_hess_at_extreme_margins_matches_mpmath(name, kwargs, closed, edges, labels):
    """Past where a naive form overflows, the kernel stays finite wherever the true value is,
    and accurate: against the closed forms at 50 digits."""
    mpmath.mp.dps = 50
    grid = np.stack(np.meshgrid(*edges, labels, indexing="ij"), -1).reshape(-1, len(edges) + 1)
    columns, y = [grid[:, j] for j in range(len(edges))], grid[:, -1]
    g, h = symlik.compile(name, target="grad_hess", **kwargs)(*columns, y)
    g, h = np.reshape(g, (len(y), -1)), np.reshape(h, (len(y), -1))
    for i, row in enumerate(grid):
        G, H = closed(*(mpmath.mpf(float(v)) for v in row))
        for ours, exact in ((g[i], G), (h[i], H)):
            for a, b in zip(ours, exact):
                if abs(b) < 1.7e308:  # finite in float64: the kernel must be finite and close
                    assert np.isfinite(a), (name, row, a, b)
                    assert abs(a - float(b)) <= 1e-13 * abs(b) + 1e-300, (name, row, a, b)


# sklearn._loss's hand-written Cython (half deviances): HalfPoissonLoss is exp(z) - y z, our
# NLL less log y!; HalfGammaLoss is z + y e^-z, the gamma NLL with shape k = 1 less log y;
# HalfBinomialLoss is the Bernoulli NLL in logits. Their gradient and Hessian equal ours
# (the "half" is the deviance's factor 1/2: the NLLs themselves carry no 2).
SKLEARN = [
    ("HalfPoissonLoss", "poisson", dict(link="log"), lambda r, n: r.poisson(3.0, n).astype(float), [-700, -30, 0, 30, 700]),
    ("HalfGammaLoss", "gamma", dict(link="log", fixed={"k": 1.0}), lambda r, n: r.gamma(2.0, 1.0, n), [-700, -30, 0, 30, 700]),
    ("HalfBinomialLoss", "bernoulli", dict(link="logit"), lambda r, n: (r.random(n) < 0.4).astype(float), [-1000, -40, 0, 40, 1000]),
    # sklearn's half Tweedie deviance in log mu: the NLL's gradient and Hessian with phi = 1
    ("HalfTweedieLoss", "tweedie", dict(link="log", fixed={"phi": 1.0, "power": 1.5}),
     lambda r, n: np.where(r.random(n) < 0.3, 0.0, r.gamma(2.0, 1.0, n)), [-300, -30, 0, 30, 300]),
]


@pytest.mark.parametrize("backend", ["numpy", "fused"])
@pytest.mark.parametrize("loss_name, name, kwargs, draw_y, edges", SKLEARN)
def test_grad_hess_matches_sklearn_loss(loss_name, name, kwargs, draw_y, edges, backend):
    loss_module = pytest.importorskip("sklearn._loss.loss")
    if backend == "fused":
        pytest.importorskip("numba")
    loss = getattr(loss_module, loss_name)(**({"power": 1.5} if "Tweedie" in loss_name else {}))
    rng = np.random.default_rng(11)
    z = np.concatenate([rng.normal(0, 3, 200), np.repeat(np.array(edges, dtype=float), 4)])
    y = draw_y(rng, z.size)
    w = rng.uniform(0.1, 2.0, z.size)
    k = symlik.compile(name, target="grad_hess", backend=backend, **kwargs)
    if backend == "fused":  # gradient and Hessian in one pass, the weight multiplied in as they are written
        assert k.kernel.entries(z, y, weight=w) is not None
    g, h = k(z, y, weight=w)
    G, H = loss.gradient_hessian(y_true=y, raw_prediction=z, sample_weight=w)
    finite = np.isfinite(G) & np.isfinite(H)
    assert finite.sum() > 200
    np.testing.assert_allclose(g[finite], G[finite], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(h[finite], H[finite], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("weighted", [False, True])
def test_fused_grad_hess_split_over_threads(weighted):
    """Above the fused runtime's parallel threshold the rows are split over threads: the
    values are the closed forms of the normal in (mu, log sigma), each row once. (The one-pass
    loop returned a bare float there, which the threaded path could not unpack.)"""
    pytest.importorskip("numba")
    from symlik.compiler import _fused_runtime as rt

    n = rt.PARALLEL_MIN + 3
    rng = np.random.default_rng(4)
    mu, log_sigma, y = rng.normal(size=n), rng.normal(0, 0.3, n), rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    k = symlik.compile("normal", predict=("mu", "sigma"), link={"sigma": "log"}, target="grad_hess", backend="fused")
    g, h = k(mu, log_sigma, y, weight=w if weighted else None)
    s2, r = np.exp(2 * log_sigma), y - mu
    np.testing.assert_allclose(g, w[:, None] * np.stack([-r / s2, 1 - r**2 / s2], 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, w[:, None] * np.stack([1 / s2, 2 * r**2 / s2], 1), rtol=1e-12, atol=1e-14)


def test_fisher_hessian_of_normal_mean_and_log_scale_is_the_closed_form():
    """I(mu, log sigma) = diag(1 / sigma^2, 2): the textbook Fisher information."""
    k = symlik.compile("normal", predict=("mu", "sigma"), link={"sigma": "log"}, target="grad_hess",
                       hessian="fisher", hessian_form="full")
    rng = np.random.default_rng(0)
    mu, log_sigma, y = rng.normal(size=20), rng.normal(size=20), rng.normal(size=20)
    _, h = k(mu, log_sigma, y)
    expected = np.zeros((20, 2, 2))
    expected[:, 0, 0] = np.exp(-2 * log_sigma)
    expected[:, 1, 1] = 2.0
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-15)


def test_student_t_exact_hessian_goes_negative_the_clipped_does_not():
    """Student-t's NLL is not convex in mu: far from the centre the exact Hessian is negative,
    (nu + 1)(nu s^2 - r^2)/(nu s^2 + r^2)^2 < 0 for r^2 > nu s^2; the clipped one is max(H, 0)."""
    kwargs = dict(predict=("mu", "sigma"), link={"sigma": "log"}, fixed={"nu": 4.0}, target="grad_hess")
    mu = np.array([0.0, 0.0, 0.0])
    log_sigma = np.zeros(3)
    y = np.array([0.5, 3.0, 10.0])
    _, exact = symlik.compile("student_t", **kwargs)(mu, log_sigma, y)
    nu, r = 4.0, y - mu
    np.testing.assert_allclose(exact[:, 0], (nu + 1) * (nu - r**2) / (nu + r**2) ** 2, rtol=1e-12)
    np.testing.assert_allclose(exact[:, 1], 2 * nu * (nu + 1) * r**2 / (nu + r**2) ** 2, rtol=1e-12)
    assert exact[1, 0] < 0 and exact[2, 0] < 0
    _, clipped = symlik.compile("student_t", hessian="exact_clipped", **kwargs)(mu, log_sigma, y)
    np.testing.assert_array_equal(clipped, np.maximum(exact, 0))


def test_fisher_hessian_of_gamma_mean_is_the_closed_form():
    """The gamma NLL in log mu: exact Hessian k y / mu, Fisher information k (E[y] = mu)."""
    kwargs = dict(link="log", fixed={"k": 2.5}, target="grad_hess")
    z, y = np.array([-1.0, 0.0, 2.0]), np.array([0.3, 1.0, 20.0])
    _, exact = symlik.compile("gamma", **kwargs)(z, y)
    _, fisher = symlik.compile("gamma", hessian="fisher", **kwargs)(z, y)
    np.testing.assert_allclose(exact, 2.5 * y * np.exp(-z), rtol=1e-12)
    np.testing.assert_allclose(fisher, 2.5, rtol=1e-12)


def test_student_t_fisher_hessian_is_the_closed_form():
    """Lange, Little and Taylor (1989): I(mu) = (nu + 1)/((nu + 3) sigma^2) and, in log sigma,
    2 nu/(nu + 3), whatever y is; the gradient is the exact one."""
    kwargs = dict(predict=("mu", "sigma"), link={"sigma": "log"}, fixed={"nu": 4.0}, target="grad_hess")
    mu, log_sigma, y = np.array([0.0, 1.0, -2.0]), np.array([0.0, 0.5, -1.0]), np.array([0.5, 3.0, 10.0])
    grad, fisher = symlik.compile("student_t", hessian="fisher", **kwargs)(mu, log_sigma, y)
    exact_grad, _ = symlik.compile("student_t", **kwargs)(mu, log_sigma, y)
    nu, sigma = 4.0, np.exp(log_sigma)
    np.testing.assert_allclose(fisher[:, 0], (nu + 1) / ((nu + 3) * sigma**2), rtol=1e-12)
    np.testing.assert_allclose(fisher[:, 1], 2 * nu / (nu + 3), rtol=1e-12)
    np.testing.assert_allclose(grad, exact_grad, rtol=1e-14)


def test_fisher_hessian_without_a_closed_form_says_so():
    """The skew-normal's needs E[(phi(a y)/Phi(a y))^2 y^k], which has no closed form."""
    with pytest.raises(NotSupportedError, match="Fisher information of skew_normal"):
        symlik.compile("skew_normal", target="grad_hess", hessian="fisher")


def test_weights_multiply_gradient_and_hessian():
    k = symlik.compile("poisson", link="log", target="grad_hess")
    z, y, w = np.array([0.3, -1.0]), np.array([2.0, 0.0]), np.array([0.5, 3.0])
    g, h = k(z, y)
    gw, hw = k(z, y, weight=w)
    np.testing.assert_allclose(gw, (np.exp(z) - y) * w)
    np.testing.assert_allclose(hw, np.exp(z) * w)
    np.testing.assert_allclose(g, np.exp(z) - y)


def test_grad_hess_bad_options_raise():
    with pytest.raises(UnknownNameError, match="hessian"):
        symlik.compile("poisson", link="log", target="grad_hess", hessian="newton")
    with pytest.raises(UnknownNameError, match="hessian_form"):
        symlik.compile("poisson", link="log", target="grad_hess", hessian_form="lower")
    with pytest.raises(NotSupportedError, match="reduction must be 'none'"):
        symlik.compile("poisson", link="log", target="grad_hess", reduction="mean")
    with pytest.raises(NotSupportedError, match="apply to target 'grad_hess'"):
        symlik.compile("poisson", link="log", target="loss", hessian="fisher")


# ---- per-parameter links ------------------------------------------------------------------------


def test_link_per_parameter_names_inputs_and_matches_scipy():
    d = symlik.derive("gamma", predict=("mu", "k"), link={"mu": "log", "k": "softplus"})
    assert d.inputs == ("log_mu", "softplus_inv_k", "y")
    assert d.link == {"mu": "log", "k": "softplus"}
    titles = [s.title for s in d.steps]
    assert "Apply the log link to mu" in titles and "Apply the softplus link to k" in titles
    k = symlik.compile(d, target="nll", reduction="none")
    rng = np.random.default_rng(1)
    z_mu, z_k, y = rng.normal(size=50), rng.normal(size=50), rng.gamma(2.0, 1.0, 50)
    mu, shape = np.exp(z_mu), np.logaddexp(0, z_k)
    np.testing.assert_allclose(k(z_mu, z_k, y), -st.gamma.logpdf(y, shape, scale=mu / shape), rtol=1e-10)


def test_link_dict_with_one_default_link_is_the_string_link():
    assert symlik.derive("poisson", link={"rate": "log"}) is symlik.derive("poisson", link="log")
    assert symlik.derive("normal", predict=("mu", "sigma"), link={"mu": "identity", "sigma": "log"}).link == "log"
    assert symlik.derive("poisson", link={"rate": "identity"}).link is None


def test_softplus_link_matches_a_closed_form():
    k = symlik.compile("poisson", link="softplus", target="nll", reduction="none")
    assert k.inputs == ("softplus_inv_rate", "y")
    z = np.array([-20.0, -1.0, 0.0, 2.0, 40.0])
    y = np.array([0.0, 1.0, 2.0, 3.0, 30.0])
    rate = np.log1p(np.exp(z))
    np.testing.assert_allclose(k(z, y), -st.poisson.logpmf(y, rate), rtol=1e-12)


def test_link_dict_errors_name_the_parameter():
    with pytest.raises(SymlikError, match="'sigma', which is not predicted"):
        symlik.derive("normal", link={"sigma": "log"})
    with pytest.raises(NotSupportedError, match="maps onto"):
        symlik.derive("normal", predict=("mu", "sigma"), link={"mu": "log"})
    with pytest.raises(SymlikError, match="link must be a link name or a dict"):
        symlik.derive("normal", link=3)


def test_normal_grad_hess_where_mean_and_label_are_large_and_close():
    """(y - mu) is formed before it is scaled: expanded, mu^2 - 2 mu y + y^2 at mu = 1e8 loses every digit."""
    k = symlik.compile("normal", predict=("mu", "sigma"), link={"sigma": "log"}, target="grad_hess")
    mu, log_sigma, y = np.array([1e8, -3e7]), np.array([0.0, np.log(2.0)]), np.array([1e8 + 1, -3e7 - 0.5])
    g, h = k(mu, log_sigma, y)
    r, var = y - mu, np.exp(2 * log_sigma)
    np.testing.assert_allclose(g, np.column_stack([-r / var, 1 - r**2 / var]), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(h, np.column_stack([1 / var, 2 * r**2 / var]), rtol=1e-14)


# ---- softmax heads: the gradient and the Hessian's diagonal over the class axis ------------


def _softmax(z):
    from scipy.special import softmax

    return softmax(z, axis=-1)


# JAX's twins run in the slow suite (2 to 3 s of tracing each); torch's keep the library path in the fast one.
EVENT_BACKENDS = ["numpy", "fused", "torch", pytest.param("jax", marks=pytest.mark.slow)]


def _event_backend(backend):
    pytest.importorskip({"fused": "numba", "torch": "torch", "jax": "jax"}.get(backend, "numpy"))
    return backend


def _in_numpy(kernel):
    """``kernel`` called with NumPy inputs and weights (as the backend's arrays) and giving NumPy
    arrays back: one test body for every backend."""
    backend = kernel.backend

    def call(*args, weight=None, **kwargs):
        as_array = (lambda a: as_backend_array(backend, a)) if backend in ("torch", "jax") else (lambda a: a)
        args = [as_array(np.asarray(a)) for a in args]
        out = kernel(*args, weight=None if weight is None else as_array(np.asarray(weight)), **kwargs)
        return tuple(np.asarray(o) for o in out)

    return call


@pytest.mark.parametrize("backend", EVENT_BACKENDS)
def test_softmax_head_grad_hess_is_s_minus_y_and_s_one_minus_s(backend):
    """Categorical with link="softmax": d NLL / d z_k = s_k - y_k and d^2 NLL / d z_k^2 = s_k (1 - s_k)
    (scipy's softmax is the oracle), for one-hot rows and class indices alike, weights multiplied in."""
    _event_backend(backend)
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, (50, 4))
    labels = rng.integers(0, 4, 50)
    w = rng.uniform(0.5, 2.0, 50)
    s = _softmax(z)
    y = np.eye(4)[labels]
    kernel = symlik.compile("categorical", link="softmax", target="grad_hess", backend=backend)
    assert kernel.backend == backend
    k = _in_numpy(kernel)
    for target in (y, labels):
        g, h = k(z, target, weight=w)
        np.testing.assert_allclose(g, w[:, None] * (s - y), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(h, w[:, None] * s * (1 - s), rtol=1e-12, atol=1e-15)
    _, fisher = _in_numpy(symlik.compile("categorical", link="softmax", target="grad_hess", hessian="fisher", backend=backend))(z, labels)
    np.testing.assert_allclose(fisher, s * (1 - s), rtol=1e-12, atol=1e-15)  # free of y: the exact one


@pytest.mark.parametrize("backend", EVENT_BACKENDS)
def test_softmax_head_grad_hess_matches_torch_autograd(backend):
    """The oracle is torch autograd of F.cross_entropy (weighted, summed): its gradient in the logits,
    and the Hessian's diagonal as the derivative of each gradient column in its own logit."""
    _event_backend(backend)
    rng = np.random.default_rng(8)
    z, labels, w = rng.normal(0, 2, (20, 5)), rng.integers(0, 5, 20), rng.uniform(0.5, 2.0, 20)
    logits = T.tensor(z, requires_grad=True)
    loss = (T.tensor(w) * T.nn.functional.cross_entropy(logits, T.tensor(labels), reduction="none")).sum()
    (grad,) = T.autograd.grad(loss, logits, create_graph=True)
    diagonal = np.stack([T.autograd.grad(grad[:, k].sum(), logits, retain_graph=True)[0][:, k].detach().numpy()
                         for k in range(5)], axis=1)
    g, h = _in_numpy(symlik.compile("categorical", link="softmax", target="grad_hess", backend=backend))(
        z, labels, weight=w)
    np.testing.assert_allclose(g, grad.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, diagonal, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", EVENT_BACKENDS)
def test_multinomial_head_grad_hess_scales_with_the_count(backend):
    _event_backend(backend)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(30, 3))
    counts = rng.integers(0, 6, (30, 3)).astype(float)
    n = counts.sum(1)
    g, h = _in_numpy(symlik.compile("multinomial", link="softmax", target="grad_hess", backend=backend))(z, counts, n)
    s = _softmax(z)
    np.testing.assert_allclose(g, n[:, None] * s - counts, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h, n[:, None] * s * (1 - s), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", EVENT_BACKENDS)
def test_softprob_is_xgboosts_multiclass_surrogate(backend):
    """XGBoost's multi:softprob (src/objective/multiclass_obj.cu): hess = max(2 p (1 - p) w, 1e-16)."""
    _event_backend(backend)
    z = np.array([[0.0, 1.0, -1.0], [40.0, 0.0, -40.0]])
    labels = np.array([1, 0])
    w = np.array([1.0, 2.0])
    g, h = _in_numpy(symlik.compile("categorical", link="softmax", target="grad_hess", hessian="softprob", backend=backend))(
        z, labels, weight=w)
    s = _softmax(z)
    np.testing.assert_allclose(g, w[:, None] * (s - np.eye(3)[labels]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, np.maximum(2 * s * (1 - s) * w[:, None], 1e-16), rtol=1e-12)
    assert h.min() == 1e-16  # the confident row's last class: 2 p (1 - p) underflows below the floor
    _, lightgbm = _in_numpy(symlik.compile("categorical", link="softmax", target="grad_hess", hessian="multiclass",
                                 backend=backend))(z, labels, weight=w)
    np.testing.assert_allclose(lightgbm, 1.5 * s * (1 - s) * w[:, None], rtol=1e-12, atol=1e-16)  # K/(K - 1), K = 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(spec="categorical", link="softmax", hessian_form="full"), "diagonal"),
    # (without CuPy the backend itself is refused first)
    (dict(spec="categorical", link="softmax", backend="cupy"), "backends 'numpy', 'fused', 'torch' and 'jax'|needs CuPy"),
    (dict(spec="poisson", link="log", hessian="softprob"), "softmax heads only"),
])
def test_softmax_head_grad_hess_refuses_what_it_does_not_compile(kwargs, message):
    spec = kwargs.pop("spec")
    with pytest.raises(NotSupportedError, match=message):
        symlik.compile(spec, target="grad_hess", **kwargs)


@pytest.mark.parametrize("backend", EVENT_BACKENDS)
def test_event_grad_hess_of_a_diagonal_normal_is_per_dimension(backend):
    """diag_normal's mean, per dimension: (mu - y)/sigma^2 and 1/sigma^2."""
    _event_backend(backend)
    mu = np.array([[0.0, 1.0], [2.0, 3.0]])
    y = np.array([[1.0, 1.0], [1.0, -1.0]])
    g, h = _in_numpy(symlik.compile("diag_normal", target="grad_hess", backend=backend))(mu, y, 2.0)
    np.testing.assert_allclose(g, (mu - y) / 4.0, rtol=1e-14)
    np.testing.assert_allclose(h, np.full_like(mu, 0.25), rtol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "fused"])
def test_softmax_head_grad_hess_matches_sklearn_multinomial_loss(backend):
    """sklearn's HalfMultinomialLoss (hand-written Cython): the same gradient s - y and Hessian
    diagonal s (1 - s), weighted, at logits up to +-700 and on enough rows that the fused loop
    splits them over threads."""
    loss_module = pytest.importorskip("sklearn._loss.loss")
    _event_backend(backend)
    from symlik.compiler import _fused_runtime

    rng = np.random.default_rng(12)
    K = 5
    n = _fused_runtime.PARALLEL_MIN // K + 11 if backend == "fused" else 300
    z = rng.normal(0, 4, (n, K))
    z[:8] = [[700, 0, -700, 1, 2], [-700, -700, 0, 0, 1], [30, -30, 0, 0, 0], [1e-9, 0, 0, 0, 0],
             [0, 0, 0, 0, 0], [40, 40, 0, -1, 1], [-30, 30, 0, 2, 1], [300, -300, 5, 6, 7]]
    labels = rng.integers(0, K, n)
    w = rng.uniform(0.1, 2.0, n)
    g, h = symlik.compile("categorical", link="softmax", target="grad_hess", backend=backend)(z, labels, weight=w)
    G, H = loss_module.HalfMultinomialLoss(n_classes=K).gradient_hessian(
        y_true=labels.astype(float), raw_prediction=z, sample_weight=w)
    # sklearn's s - y at a confident right answer is the rounding of 1/(1 + rest) - 1 (0 or an ulp);
    # symlik's is -rest/(1 + rest) with every digit: compared to an absolute 1e-15 there
    np.testing.assert_allclose(g, G, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, H, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "fused"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_head_grad_hess_writes_into_out_as_sklearn_does(backend, dtype):
    """out=(grad, hess), as sklearn's gradient_out/hessian_out: the results written into the
    caller's arrays (sklearn's own, into its preallocated arrays, the oracle), returned as them,
    and rewritten on the next call; a float32 pair takes float64 results, rounded."""
    loss_module = pytest.importorskip("sklearn._loss.loss")
    _event_backend(backend)
    rng = np.random.default_rng(21)
    n, K = 40, 4
    kernel = symlik.compile("categorical", link="softmax", target="grad_hess", backend=backend)
    loss = loss_module.HalfMultinomialLoss(n_classes=K)
    g_out, h_out = np.full((n, K), np.nan, dtype), np.full((n, K), np.nan, dtype)
    G, H = np.empty((n, K)), np.empty((n, K))
    for _ in range(2):
        z, labels, w = rng.normal(0, 3, (n, K)), rng.integers(0, K, n), rng.uniform(0.1, 2.0, n)
        g, h = kernel(z, labels, weight=w, out=(g_out, h_out))
        assert g is g_out and h is h_out
        loss.gradient_hessian(y_true=labels.astype(float), raw_prediction=z, sample_weight=w,
                              gradient_out=G, hessian_out=H)
        rtol = 1e-12 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(g_out, G, rtol=rtol, atol=1e-15)
        np.testing.assert_allclose(h_out, H, rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "fused"])
def test_grad_hess_out_of_another_shape_is_refused_before_anything_is_written(backend):
    _event_backend(backend)
    z, labels = np.zeros((6, 3)), np.zeros(6, dtype=int)
    head = symlik.compile("categorical", link="softmax", target="grad_hess", backend=backend)
    scalar = symlik.compile("normal", target="grad_hess", predict=["mu", "sigma"],
                            link={"mu": "identity", "sigma": "log"}, backend=backend)
    g_keep = np.full((6, 3), 7.0)
    with pytest.raises(SymlikError, match=r"out's hess array must be .* shape \(6, 3\); got shape \(6, 2\)"):
        head(z, labels, out=(g_keep, np.empty((6, 2))))
    assert (g_keep == 7.0).all()
    with pytest.raises(SymlikError, match=r"out must be a pair of NumPy arrays \(grad, hess\)"):
        head(z, labels, out=g_keep)
    with pytest.raises(SymlikError, match=r"out's grad array must be .* shape \(6, 2\)"):
        scalar(np.zeros(6), np.zeros(6), np.ones(6), out=(np.empty((6, 2), dtype=int), np.empty((6, 2))))
    readonly = np.empty((6, 2))
    readonly.flags.writeable = False
    with pytest.raises(SymlikError, match="read-only"):
        scalar(np.zeros(6), np.zeros(6), np.ones(6), out=(np.empty((6, 2)), readonly))


def test_fused_scalar_grad_hess_takes_float16_as_numpy_does():
    """numba has no float16: the one-pass loop reads float16 inputs as float32 and returns float16,
    as the NumPy kernel does; values by hand, (mu - y)/s^2, 1 - r^2 and 1/s^2, 2 r^2 in float64
    from the float16 inputs, to float16's half-ulp."""
    pytest.importorskip("numba")
    mu, log_s, y = (np.array(v, dtype=np.float16) for v in ([0.5, 1.0, -2.0], [0.1, -0.2, 0.0], [1.0, 0.0, 3.0]))
    kernel = symlik.compile("normal", target="grad_hess", predict=["mu", "sigma"],
                            link={"mu": "identity", "sigma": "log"}, backend="fused")
    g, h = kernel(mu, log_s, y)
    assert g.dtype == h.dtype == np.float16
    m, s, t = (v.astype(np.float64) for v in (mu, np.exp(log_s.astype(np.float64)), y))
    r = (t - m) / s
    np.testing.assert_allclose(g, np.stack([(m - t) / s**2, 1 - r**2], 1), rtol=1e-3)
    np.testing.assert_allclose(h, np.stack([1 / s**2, 2 * r**2], 1), rtol=1e-3)


def test_scalar_grad_hess_writes_into_out():
    """A normal (mu, log sigma) model: the gradient and Hessian diagonal by hand,
    (mu - y)/s^2, 1 - r^2 and 1/s^2, 2 r^2 with r = (y - mu)/s, written into the caller's arrays."""
    rng = np.random.default_rng(3)
    mu, log_s, y = rng.normal(size=30), rng.normal(0, 0.5, 30), rng.normal(size=30)
    kernel = symlik.compile("normal", target="grad_hess", predict=["mu", "sigma"],
                            link={"mu": "identity", "sigma": "log"})
    out = (np.empty((30, 2)), np.empty((30, 2)))
    g, h = kernel(mu, log_s, y, out=out)
    assert g is out[0] and h is out[1]
    s = np.exp(log_s)
    r = (y - mu) / s
    np.testing.assert_allclose(g, np.stack([(mu - y) / s**2, 1 - r**2], 1), rtol=1e-13)
    np.testing.assert_allclose(h, np.stack([1 / s**2, 2 * r**2], 1), rtol=1e-13)


@pytest.mark.parametrize("backend", EVENT_BACKENDS)
def test_softmax_head_grad_hess_keeps_confident_digits_and_infinite_logits(backend):
    """A confident right answer: s - 1 = -rest/(1 + rest) and s (1 - s), to mpmath at 50 digits,
    where 1/(1 + 4e-18) - 1 rounds to 0; a row with +inf logits puts equal mass on them (the limit);
    float32 rows stay float32."""
    _event_backend(backend)
    import mpmath

    z = np.array([[40.0, 0.0, -3.0], [0.0, 38.0, 1.0], [np.inf, 0.0, np.inf], [np.inf, -np.inf, 1.0]])
    labels = np.array([0, 1, 0, 1])
    k = _in_numpy(symlik.compile("categorical", link="softmax", target="grad_hess", backend=backend))
    g, h = k(z, labels)
    with mpmath.workdps(50):
        for row in range(2):
            e = [mpmath.exp(mpmath.mpf(v)) for v in z[row]]
            s = [v / sum(e) for v in e]
            for c in range(3):
                want_g = s[c] - (1 if c == labels[row] else 0)
                assert abs(g[row, c] - float(want_g)) <= 1e-15 * abs(float(want_g)), (row, c, g[row, c], want_g)
                want_h = s[c] * (1 - s[c])
                assert abs(h[row, c] - float(want_h)) <= 1e-15 * abs(float(want_h)), (row, c, h[row, c], want_h)
    np.testing.assert_array_equal(g[2], [-0.5, 0.0, 0.5])
    np.testing.assert_array_equal(h[2], [0.25, 0.0, 0.25])
    np.testing.assert_array_equal(g[3], [1.0, -1.0, 0.0])
    np.testing.assert_array_equal(h[3], [0.0, 0.0, 0.0])
    g32, h32 = k(z[:2].astype(np.float32), labels[:2])
    assert g32.dtype == h32.dtype == np.float32
    np.testing.assert_allclose(g32, g[:2], rtol=1e-6, atol=1e-7)
