"""The gradient of a derived loss with respect to what the network outputs.

For a scalar distribution this is d loss / d input. For a vector one it is
the k-th component d loss / d x_k: a sum over the event axis contributes the
derivative of its k-th summand, and log sum_j exp(z_j) contributes the
softmax softmax(z)_k (the chain rule through the logsumexp).
"""

from __future__ import annotations

import sympy as sp

from ..functions import EVENT_J, LogSumExp


def loss_gradient(d) -> dict[str, sp.Expr]:
    """{predicted input: d loss / d input} (for event inputs: the k-th component)."""
    out = {}
    for name in d.predicted_inputs:
        x = d.symbols[name]
        out[name] = _simplify(_diff(d.loss.expr, x, d))
    return out


def _simplify(expr):
    simpler = sp.factor_terms(sp.together(expr))
    return simpler if sp.count_ops(simpler) <= sp.count_ops(expr) else expr


def _diff(expr, x, d):
    if not isinstance(x, sp.Indexed):
        return sp.diff(expr, x)
    base, (k,) = x.base, x.indices
    lse = {e for e in expr.atoms(LogSumExp) if e.args[0] == base}
    marks = {e: sp.Dummy("L") for e in lse}
    body = expr.xreplace(marks)
    grad = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(body)):
        grad += _diff_term(term, x, k)
    for e, mark in marks.items():  # d/dz_k log sum_j e^{z_j} = softmax(z)_k
        softmax_k = sp.exp(base[k]) / sp.Sum(sp.exp(base[EVENT_J]), (EVENT_J, 1, e.args[1]))
        grad += sp.diff(body, mark).xreplace({m: e for e, m in marks.items()}) * softmax_k
    # k is now free (the component); a sum left over k gets its own index l.
    other = sp.Symbol("l", integer=True, positive=True)
    return grad.replace(
        lambda e: isinstance(e, sp.Sum) and e.limits[0][0] == k,
        lambda e: sp.Sum(e.function.xreplace({k: other}), (other, *e.limits[0][1:])),
    )


def _diff_term(term, x, k):
    """d term / d x_k, where a Sum over k contributes its k-th summand's derivative."""
    sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum) and f.limits[0][0] == k]
    if not sums:
        return sp.diff(term, x) if term.has(x) else sp.S.Zero
    s = sums[0]
    rest = term / s
    # rest is free of the summation: only the k-th summand of s depends on x_k
    return rest * sp.diff(s.function, x)
