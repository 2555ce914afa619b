"""Exact at +-inf: the limit where one exists, on every backend and in the gradients.

Oracles: the limits worked by hand (BCE with logits: softplus(z) - y z -> 0 at z = +inf, y = 1;
-> inf at z = +inf, y = 0; -> 0 at z = -inf, y = 0), optax's safe_softmax_cross_entropy for the
probability-target cross-entropy with a -inf logit where the target is 0 (log 2), and torch
where it agrees.
"""

import math

import numpy as np
import pytest

import symlik
from harness import as_backend_array, installed_backends

INF = np.inf
BCE_Z = np.array([INF, INF, -INF, -INF, 3.0])
BCE_Y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
BCE_WANT = np.array([0.0, INF, 0.0, INF, math.log1p(math.exp(-3.0))])  # by hand
# With +inf logits softmax's limit is even over the +inf entries and 0 elsewhere: the loss is
# log(number of +inf entries) where the target lies on them, inf where it does not.
CE_Z = np.array([[-INF, 0.0, 0.0], [-INF, 0.0, 0.0], [-INF, 1.0, -2.0],
                 [INF, 0.0, 0.0], [INF, INF, 0.0], [INF, 0.0, 0.0], [INF, INF, INF], [INF, -INF, 2.0]])
CE_Y = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
                 [1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
CE_WANT = np.array([math.log(2.0), INF, math.log1p(math.exp(-3.0)),
                    0.0, math.log(2.0), INF, math.log(3.0), 0.0])  # by hand
IDX_Z = np.array([[-INF, 0.0, 0.0], [-INF, 0.0, 0.0], [INF, 0.0, 0.0], [INF, INF, 0.0], [INF, 0.0, 0.0]])
IDX_Y = np.array([1, 0, 0, 1, 2])
IDX_WANT = np.array([math.log(2.0), INF, 0.0, math.log(2.0), INF])  # softmax's limit: even over the +inf entries


_backends = installed_backends
_to = as_backend_array


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize(
    "spec,link,z,y,want",
    [
        ("bernoulli", "logit", BCE_Z, BCE_Y, BCE_WANT),
        ("categorical", "softmax", CE_Z, CE_Y, CE_WANT),
        ("categorical", "softmax", IDX_Z, IDX_Y, IDX_WANT),
    ],
    ids=["bce_logits", "ce_probability_targets", "ce_class_indices"],
)
def test_limits_at_infinite_logits(backend, spec, link, z, y, want):
    k = symlik.compile(spec, link=link, reduction="none", backend=backend)
    with np.errstate(all="raise"):  # no warning either: the value is computed exactly
        got = np.asarray(k(_to(backend, z), _to(backend, y)))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_optax_safe_softmax_cross_entropy_agrees():
    optax = pytest.importorskip("optax")
    import jax

    jax.config.update("jax_enable_x64", True)
    want = float(optax.safe_softmax_cross_entropy(np.array([-INF, 0.0, 0.0]), np.array([0.0, 0.5, 0.5])))
    assert want == pytest.approx(math.log(2.0), rel=1e-15)
    k = symlik.compile("categorical", link="softmax", reduction="none")
    assert float(k(np.array([-INF, 0.0, 0.0]), np.array([0.0, 0.5, 0.5]))) == pytest.approx(want, rel=1e-15)


def test_gradients_are_exact_at_infinite_logits():
    # d/dz (softplus(z) - y z) = sigmoid(z) - y: 0 at (+inf, 1), 1 at (+inf, 0), 0 at (-inf, 0), -1 at (-inf, 1).
    z, y = BCE_Z[:4], BCE_Y[:4]
    want = np.array([0.0, 1.0, 0.0, -1.0])
    k = symlik.compile("bernoulli", link="logit", reduction="sum")
    with np.errstate(all="raise"):
        (g,) = k.grad(z, y)
    np.testing.assert_array_equal(g, want)
    torch = pytest.importorskip("torch")
    kt = symlik.compile("bernoulli", link="logit", reduction="sum", backend="torch")
    zt = torch.tensor(z, requires_grad=True)
    kt(zt, torch.tensor(y)).backward()
    np.testing.assert_array_equal(zt.grad.numpy(), want)
    # cross-entropy with a -inf logit the target weighs 0: d/dz = softmax(z) - y, 0 at the -inf class
    kc = symlik.compile("categorical", link="softmax", reduction="sum", backend="torch")
    zc = torch.tensor([[-INF, 0.0, 0.0]], requires_grad=True)
    kc(zc, torch.tensor([[0.0, 0.5, 0.5]])).backward()
    np.testing.assert_allclose(zc.grad.numpy(), [[0.0, 0.0, 0.0]], atol=1e-15)


def test_validation_accepts_infinite_logits_and_rejects_nan_naming_the_input():
    k = symlik.compile("bernoulli", link="logit")
    assert k(np.array([INF, -INF]), np.array([1.0, 0.0])) == 0.0
    with pytest.raises(symlik.SymlikError, match=r"logits must be real .*nan is not allowed.*at index \(1,\)"):
        k(np.array([0.0, np.nan]), np.array([1.0, 0.0]))


# The gradient's limit at +inf logits: softmax (even over the +inf entries) times sum(y), minus y.
CE_GRAD_Z = np.array([[INF, 0.0, 0.0], [INF, INF, 0.0], [INF, 0.0, 0.0], [3.0, 1.0, 0.0]])
CE_GRAD_Y = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])


def _ce_grad_by_hand(z, y):
    out = []
    for row, target in zip(z, y):
        if np.isposinf(row).any():
            soft = np.isposinf(row) / np.isposinf(row).sum()
        else:
            e = np.exp(row - row.max())
            soft = e / e.sum()
        out.append(soft * target.sum() - target)
    return np.array(out)


@pytest.mark.parametrize("backend", _backends())
def test_dense_cross_entropy_gradient_at_plus_infinite_logits(backend):
    want = _ce_grad_by_hand(CE_GRAD_Z, CE_GRAD_Y)
    k = symlik.compile("categorical", link="softmax", reduction="sum", backend=backend)
    if backend in ("numpy", "fused"):
        with np.errstate(all="raise"):
            (got,) = k.grad(CE_GRAD_Z, CE_GRAD_Y)
            value, (got_vg,) = k.value_and_grad(CE_GRAD_Z, CE_GRAD_Y)
        np.testing.assert_array_equal(got, got_vg)
        assert value == INF  # the third row's loss
    elif backend == "torch":
        import torch

        z = torch.tensor(CE_GRAD_Z, requires_grad=True)
        k(z, torch.tensor(CE_GRAD_Y)).backward()
        got = z.grad.numpy()
    else:
        import jax

        got = np.asarray(jax.grad(lambda z: k(z, _to("jax", CE_GRAD_Y)))(_to("jax", CE_GRAD_Z)))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def test_the_limit_at_plus_infinity_is_the_value_at_the_largest_logits():
    # Independent of the hand-worked limits: scipy's log_softmax at logits of 1e300 in place of
    # +inf, where the loss has already reached its limit in float64.
    special = pytest.importorskip("scipy.special")
    rows = [i for i, z in enumerate(CE_Z) if np.isposinf(z).any() and np.isfinite(CE_WANT[i])]
    z = np.where(np.isposinf(CE_Z[rows]), 1e300, CE_Z[rows])
    y = CE_Y[rows]
    with np.errstate(invalid="ignore"):
        want = -np.sum(np.where(y > 0, y * special.log_softmax(z, axis=-1), 0.0), axis=-1)
    got = symlik.compile("categorical", link="softmax", reduction="none")(CE_Z[rows], y)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_multinomial_with_logits_has_the_limit_too():
    # n! / prod y! prod p^y with p the softmax's limit: the +inf class takes every count.
    k = symlik.compile("multinomial", link="softmax", reduction="none")
    z = np.array([[INF, 0.0, 0.0], [INF, INF, 0.0]])
    y, n = np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 0.0]]), np.array([3.0, 2.0])
    want = np.array([0.0, -math.log(2 * 0.5 * 0.5)])  # p = (1, 0, 0); p = (1/2, 1/2, 0), 2!/(1! 1!)
    with np.errstate(all="raise"):
        np.testing.assert_allclose(k(z, y, n), want, rtol=1e-15, atol=1e-300)


def test_only_a_kernel_invariant_to_a_shift_of_its_logits_is_pinned():
    import sympy as sp

    from symlik.compiler.shift import softmax_inputs
    from symlik.core.functions import LogSumExp, XMul

    z, y = sp.IndexedBase("logits"), sp.IndexedBase("y", nonnegative=True)
    k, C = sp.symbols("k C", integer=True, positive=True)
    ce = LogSumExp(z, C) * sp.Sum(y[k], (k, 1, C)) - sp.Sum(XMul(y[k], z[k]), (k, 1, C))
    assert softmax_inputs(ce) == ("logits",)
    assert softmax_inputs(2 * ce + sp.Sum(y[k], (k, 1, C))) == ("logits",)
    # not invariant: the weights do not sum to the log-sum-exp's coefficient, or no softmax at all
    assert softmax_inputs(LogSumExp(z, C) - sp.Sum(XMul(y[k], z[k]), (k, 1, C))) == ()
    assert softmax_inputs(LogSumExp(z, C)) == ()
    assert softmax_inputs(ce + z[1]) == ()


# (the fused twins compile two numba kernels, 3 s each: they run in the slow suite)
@pytest.mark.parametrize("backend", [pytest.param(b, marks=pytest.mark.slow) if b == "fused" else b for b in _backends()])
@pytest.mark.parametrize("target", ["loss", "nll"])
def test_negative_binomial_with_logits_at_infinite_logits(backend, target):
    # p = sigmoid(z) is the chance of each of the n successes: at z = +inf no failure happens
    # (y = 0 is certain: 0; y > 0 impossible: inf), at z = -inf no success does (inf). By hand.
    z = np.array([INF, INF, -INF, -INF])
    y = np.array([0.0, 3.0, 0.0, 2.0])
    n = np.full(4, 5.0)
    want = np.array([0.0, INF, INF, INF])
    k = symlik.compile("negative_binomial", link="logit", reduction="none", target=target, backend=backend)
    with np.errstate(all="raise"):
        got = np.asarray(k(_to(backend, z), _to(backend, y), _to(backend, n)))
    np.testing.assert_array_equal(got, want)


def test_hurdle_zero_with_a_certain_hurdle():
    # y = 0 costs -log(1 - pi) = softplus(-z)... with pi = sigmoid(z) the chance of a zero: at
    # z = +inf a zero is certain (0), at z = -inf impossible (inf). By hand.
    k = symlik.compile("hurdle_poisson", link="logit", reduction="none")
    z, y, rate = np.array([INF, -INF, 3.0]), np.zeros(3), np.ones(3)
    with np.errstate(all="raise"):
        got = k(logits=z, y=y, rate=rate)
    np.testing.assert_allclose(got, [0.0, INF, math.log1p(math.exp(-3.0))], rtol=1e-15, atol=0)


@pytest.mark.parametrize("backend", _backends())
def test_binomial_nll_with_logits_at_infinite_logits(backend):
    # p = sigmoid(z): at z = +inf every trial succeeds (y = n certain: 0; else inf), at z = -inf
    # none does (y = 0 certain: 0; else inf). By hand.
    z = np.array([INF, INF, -INF, -INF])
    y = np.array([5.0, 3.0, 0.0, 2.0])
    n = np.full(4, 5.0)
    k = symlik.compile("binomial", link="logit", reduction="none", target="nll", backend=backend)
    with np.errstate(all="raise"):
        got = np.asarray(k(_to(backend, z), _to(backend, y), _to(backend, n)))
    np.testing.assert_array_equal(got, [0.0, INF, 0.0, INF])


def test_geometric_with_logits_at_infinite_logits():
    # p = sigmoid(z) succeeds on each trial: at z = +inf the first trial succeeds (y = 1 certain:
    # 0; y > 1 impossible: inf), at z = -inf none does (inf). By hand.
    k = symlik.compile("geometric", link="logit", reduction="none")
    z, y = np.array([INF, INF, -INF, 40.0]), np.array([1.0, 3.0, 1.0, 1.0])
    with np.errstate(all="raise"):
        got = k(z, y)
    np.testing.assert_allclose(got, [0.0, INF, INF, math.log1p(math.exp(-40.0))], rtol=1e-15, atol=0)
