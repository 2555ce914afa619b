"""Kernel.grad and Kernel.value_and_grad: the symbolic forms, mpmath finite
differences for every registry entry, torch autograd, stability, shapes."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.codegen.numpy_nodes import logaddexp
from harness import kernel_args, random_inputs, term_magnitude
from scipy import special

import symlik
from symlik.apps.accuracy.oracle import EVENT_SIZE, Oracle, converged, derivative
from symlik.compiler.grad import build
from symlik.core.functions import Sigmoid, Softmax
from symlik.model import links

mpmath.mp.dps = 50


def _inputs(d, rng, n=6):
    """Random valid kernel inputs (moderate values) for a derivation, link inputs included."""
    params, y = random_inputs(d.spec, rng, n=n, event_size=EVENT_SIZE)
    inputs = dict(params)
    if d.link:  # the link's pre-activation of the drawn parameter
        link, name = links.get(d.link), d.spec.link_param(d.link)
        inputs[link.input_name(name)] = link.numeric_forward(params[name])
    return inputs, y


# ---------------------------------------------------------------------------
# The simplified symbolic forms the issue names.
# ---------------------------------------------------------------------------


def test_bce_with_logits_gradient_is_sigmoid_minus_y():
    k = symlik.compile("bernoulli", link="logit")
    d = k.derivation
    z, y = d.symbols["logits"], d.y
    # sigmoid(z) - y, split by the label (rewrite sigmoid_minus_label) so that y = 1, z >> 0 keeps -e^-z
    assert build(k).expressions["logits"] == (1 - y) * Sigmoid(z) - y * Sigmoid(-z)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    k = symlik.compile("categorical", link="softmax")
    d = k.derivation
    z, y, kk = d.symbols["logits"], d.symbols["y"], d.spec.index
    assert build(k).expressions["logits"] == Softmax(z.base, d.spec.K, kk) - y
    # printed as one helper, which computes the argmax entry as -rest / (1 + rest)
    assert "_scaled_softmax_minus(logits, 1, _onehot(y, logits))" in k.grad_source  # class-index targets


def test_mse_gradient_is_two_residuals_over_n():
    k = symlik.compile("normal")
    d = k.derivation
    mu, y = d.symbols["mu"], d.y
    assert sp.expand(build(k).expressions["mu"] - 2 * (mu - y)) == 0
    assert "2*(mu - y)" in k.grad_source
    rng = np.random.default_rng(0)
    m, t = rng.normal(size=50), rng.normal(size=50)
    (g,) = k.grad(m, t)
    np.testing.assert_allclose(g, 2 * (m - t) / 50, rtol=1e-15)
    (g_sum,) = symlik.compile("normal", reduction="sum").grad(m, t)
    np.testing.assert_allclose(g_sum, 2 * (m - t), rtol=1e-15)


def test_gradient_is_a_derivation_step():
    d = symlik.derive("bernoulli", link="logit")
    step = d.steps[-1]
    assert step.title == "The gradient with respect to logits"
    assert r"\sigma" in d.to_latex() and r"\partial" in d.to_latex().split(r"\textbf{%d." % len(d.steps))[1]
    d = symlik.derive("normal", predict=("mu", "sigma"))
    assert [s.title for s in d.steps[-2:]] == ["The gradient with respect to mu", "The gradient with respect to sigma"]


# ---------------------------------------------------------------------------
# Every registry entry: against mpmath finite differences of the density's -log.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["nll", "loss"])
def test_grad_matches_mpmath_finite_differences(derivation, target):
    d = derivation
    rng = np.random.default_rng(11)
    inputs, y = _inputs(d, rng)
    k = symlik.compile(d, target=target, reduction="sum")
    args = kernel_args(k, inputs, y)
    grads = k.grad(**args)
    oracle = Oracle(d)
    names = list(d.inputs)
    predicted = [n for n in d.predicted_inputs if n in k.inputs]
    everything = {**inputs, "y": y}
    for i in range(len(y)):
        point = {}
        for n in names:  # every input of the NLL: the loss's truth needs its scale and offset
            a = everything[n]
            v = a[i] if np.ndim(a) and np.shape(a)[0] == len(y) else a
            point[n] = [mpmath.mpf(float(x)) for x in v] if np.ndim(v) else mpmath.mpf(float(v))
        f = lambda values: oracle.value(target, values)  # noqa: E731
        for gi, name in enumerate(predicted):
            for comp_name, comp in oracle.components(name):
                truth = converged(lambda: derivative(f, point, comp_name, comp))
                got = grads[gi][i] if comp is None else grads[gi][i][comp]
                assert abs(got - truth) <= 1e-10 * (1 + abs(truth)), (name, comp, i, got, truth)


def _term_magnitude(d, target, args, reduction):
    """The terms' magnitude (harness.term_magnitude), reduced as the kernel reduces."""
    total = term_magnitude(d, target, args)
    return {"none": total, "sum": np.sum(total), "mean": np.mean(total)}[reduction]


@pytest.mark.slow  # 31 s over the catalog; grad alone is checked against mpmath and torch in the fast suite
def test_value_and_grad_is_value_plus_grad(derivation):
    d = derivation
    rng = np.random.default_rng(5)
    inputs, y = _inputs(d, rng)
    for target in ("nll", "loss"):
        for reduction in ("mean", "sum", "none"):
            k = symlik.compile(d, target=target, reduction=reduction)
            args = kernel_args(k, inputs, y)
            value, grads = k.value_and_grad(**args)
            tolerance = 1e-14 * np.maximum(np.abs(k(**args)), _term_magnitude(d, target, args, reduction)) + 1e-300
            assert np.all(np.abs(value - k(**args)) <= tolerance), (target, reduction, value, k(**args))
            for a, b in zip(grads, k.grad(**args)):
                np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-300)
            for g, name in zip(grads, [n for n in d.predicted_inputs if n in k.inputs]):
                assert g.shape == np.shape(args[name])


# ---------------------------------------------------------------------------
# torch autograd on the same loss, written by SymPy's torch printer from the
# exact (not the stable) expression: a different differentiator entirely.
# ---------------------------------------------------------------------------


def test_grad_matches_torch_autograd(derivation):
    torch = pytest.importorskip("torch")
    from sympy.printing.pytorch import TorchPrinter

    d = derivation
    rng = np.random.default_rng(21)
    inputs, y = _inputs(d, rng)
    k = symlik.compile(d, target="loss", reduction="mean")
    args = kernel_args(k, inputs, y)
    oracle = Oracle(d)
    names = list(k.inputs)
    flat = [f for n in names for f in oracle._flat_symbols(n, oracle._is_event(n))]
    expr = oracle._concrete(d.loss.expr, names)
    # Gamma-family functions as log-gamma (torch has lgamma, not gamma or beta).
    expr = sp.expand_log(expr.rewrite(sp.gamma), force=True)
    expr = expr.replace(lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.gamma), lambda e: sp.loggamma(e.args[0].args[0]))
    # A numeric root or log (sqrt 2 inside a skew-normal's erf, a Tobit's log pi) as a float: the torch
    # printer writes torch.sqrt(2) and torch.log(3.14), which torch refuses for a Python number.
    expr = expr.replace(
        lambda e: (e.is_Pow or isinstance(e, sp.log)) and e.is_number and not e.is_Rational,
        lambda e: sp.Float(e.evalf(30), 30),
    )
    # 1 + erf(u) as erfc(-u), the same number without the cancellation that costs torch's erf digits in the tail.
    # (k + k erf(u), a normal CDF written by hand, too.) torch.where would also carry a -inf from log(0) of the
    # branch not taken into the gradient as nan.
    expr = expr.replace(
        lambda e: _k_plus_k_erf(e) is not None,
        lambda e: _k_plus_k_erf(e)[0] * sp.Function("torch_erfc")(-_k_plus_k_erf(e)[1]),
    )
    # logaddexp (zero-inflated densities) as its definition, which SymPy's torch printer knows.
    expr = expr.replace(lambda e: isinstance(e, logaddexp), lambda e: sp.log(sp.exp(e.args[0]) + sp.exp(e.args[1])))
    # expm1 (a Weibull AFT's interval survival, e^{-a} - e^{-b} = e^{-a} (-expm1(a - b))) likewise by name.
    expr = expr.replace(lambda e: isinstance(e, expm1), lambda e: sp.Function("torch_expm1")(e.args[0]))
    try:
        # The torch printer knows neither erfc nor expm1: each is printed by name (strict off) and bound to torch's.
        named = (sp.Function("torch_erfc"), sp.Function("torch_expm1"))
        printer = TorchPrinter({"strict": False}) if expr.has(*named) else TorchPrinter()
        fn = sp.lambdify(flat, expr, modules=[{"torch_erfc": torch.special.erfc, "torch_expm1": torch.special.expm1},
                                              "torch"], printer=printer)
    except Exception as exc:  # pragma: no cover - a function SymPy cannot print for torch
        pytest.skip(f"no torch translation: {exc}")
    predicted = [n for n in d.predicted_inputs if n in k.inputs]
    tensors = {n: torch.tensor(np.asarray(args[n], dtype=np.float64), requires_grad=n in predicted) for n in names}
    cols = []
    for n in names:
        t = tensors[n]
        if oracle._is_event(n):
            cols.extend(t[..., j] for j in range(EVENT_SIZE))
        else:
            cols.append(t)
    loss = fn(*cols)
    loss = torch.broadcast_to(loss, (len(y),)).mean() if loss.dim() == 0 else loss.mean()
    loss.backward()
    # torch differentiates the exact form: a difference of two erf (a truncated normal's mass) cancels there,
    # and costs torch's side a few digits (the kernel's own are checked against mpmath above).
    rtol = 1e-8 if _has_erf_difference(expr) else 1e-10
    for n, g in zip(predicted, k.grad(**args)):
        np.testing.assert_allclose(g, tensors[n].grad.numpy(), rtol=rtol, atol=1e-14)


def _k_plus_k_erf(e):
    """(k, u) when ``e`` is k + k erf(u) for a number k; else None."""
    if not e.is_Add or len(e.args) != 2:
        return None
    const, other = sorted(e.args, key=lambda a: not a.is_number)
    k, f = other.as_coeff_Mul()
    if isinstance(f, sp.erf) and const.is_number and k == const:
        return k, f.args[0]
    return None


def _has_erf_difference(expr):
    return any(e.is_Add and sum(isinstance(a, sp.erf) or (a.is_Mul and a.has(sp.erf)) for a in e.args) >= 2
               for e in sp.preorder_traversal(expr))


def test_torch_reference_losses_agree():
    """The familiar losses against torch's own implementations (not a translation)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    z, labels = rng.normal(0, 5, (40, 7)), rng.integers(0, 7, 40)
    zt = torch.tensor(z, requires_grad=True)
    F.cross_entropy(zt, torch.tensor(labels)).backward()
    (g,) = symlik.compile("categorical", link="softmax").grad(z, labels)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-12, atol=1e-16)
    x, t = rng.normal(0, 30, 40), rng.integers(0, 2, 40).astype(float)
    xt = torch.tensor(x, requires_grad=True)
    F.binary_cross_entropy_with_logits(xt, torch.tensor(t)).backward()
    (g,) = symlik.compile("bernoulli", link="logit").grad(x, t)
    # torch forms sigmoid(x) - t, which cancels to within an ulp or two of 1 (2.2e-16 each, over n = 40) where
    # the label is matched; symlik's label-split form keeps e^-|x| there.
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12, atol=4.5e-16 / 40)
    m, s, t = rng.normal(size=40), rng.lognormal(size=40), rng.normal(size=40)
    mt, st = torch.tensor(m, requires_grad=True), torch.tensor(s, requires_grad=True)
    F.gaussian_nll_loss(mt, torch.tensor(t), st**2, eps=0.0).backward()
    gm, gs = symlik.compile("normal", predict=("mu", "sigma")).grad(m, s, t)
    np.testing.assert_allclose(gm, mt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gs, st.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------
# Stability, shapes, dtypes.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,big", [(np.float64, 1000.0), (np.float32, 80.0)])
def test_gradients_are_finite_at_extreme_logits(dtype, big):
    z = np.array([-big, -30, 0, 30, big], dtype=dtype)
    for label in (0, 1):
        (g,) = symlik.compile("bernoulli", link="logit", reduction="sum").grad(z, np.full(5, label, dtype))
        assert g.dtype == dtype and np.all(np.isfinite(g))
        np.testing.assert_allclose(g, special.expit(z.astype(float)) - label, rtol=1e-5, atol=1e-7)
    rows = np.array([[big, -big, 0], [-big, -big, -big], [big, big, -big]], dtype=dtype)
    (g,) = symlik.compile("categorical", link="softmax", reduction="sum").grad(rows, np.array([1, 0, 2]))
    assert g.dtype == dtype and np.all(np.isfinite(g))
    np.testing.assert_allclose(g.sum(axis=-1), 0, atol=1e-6)


def test_probability_gradient_at_the_edges():
    # d/dp BCE at p = 0 with y = 0 is 1 (0/0 costs nothing), at p = 1 with y = 1 it is -1.
    (g,) = symlik.compile("bernoulli", reduction="sum").grad(np.array([0.0, 1.0]), np.array([0, 1]))
    np.testing.assert_array_equal(g, [1.0, -1.0])


def test_broadcast_inputs_get_summed_gradients():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(4, 5))
    k = symlik.compile("normal", target="nll", reduction="mean")
    mu, sigma = 0.3, np.full((1, 5), 2.0)
    (g,) = k.grad(mu, y, sigma)
    assert np.shape(g) == ()
    np.testing.assert_allclose(g, np.mean((mu - y) / 4.0), rtol=1e-14)
    with pytest.raises(symlik.SymlikError, match=r"mu of shape \(1, 5\) and y of shape \(4, 5\) do not match"):
        k.grad(np.zeros((1, 5)), y, sigma)  # a prediction never broadcasts against the target (torch's rule)


def test_index_and_onehot_targets_give_the_same_gradient():
    rng = np.random.default_rng(8)
    z, idx = rng.normal(size=(30, 4)), rng.integers(0, 4, 30)
    for link, inp in (("softmax", z), (None, special.softmax(z, -1))):
        k = symlik.compile("categorical", link=link)
        (a,) = k.grad(inp, idx)
        (b,) = k.grad(inp, np.eye(4)[idx])
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_float32_gradients_stay_float32():
    k = symlik.compile("normal", predict=("mu", "sigma"))
    x = np.ones(8, np.float32)
    value, grads = k.value_and_grad(x, x, x)
    assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
