"""The matcher: *prove* that an NLL is a positive multiple of a known loss.

For a template T and the predicted quantities theta, the scale is solved
from the derivatives, s = (d nll / d theta) / (d T / d theta), and must be
free of y and of theta and provably positive; the offset c = nll - s T must
have zero derivative in every predicted quantity. Then
nll == s * T + c holds identically, which is checked once more. Nothing is
keyed on the distribution's name: a Gaussian written in any form matches
mse because its derivatives do.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import sympy as sp

from symlik.core.algebra import (
    canonical_conditions,
    cases,
    clearly_nonzero,
    clearly_varies,
    exp_rational,
    free_of,
    has_switch,
    is_zero,
    split_sum,
    sum_parts,
)
from symlik.losses import templates as T


@dataclass(frozen=True)
class Loss:
    """A canonical loss: ``name`` is None when no template fits (then ``expr``
    is the NLL with the constants dropped)."""

    name: str | None
    expr: sp.Expr
    template: T.Template | None = None
    inner: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.template.title if self.template else "its own negative log-likelihood"


@dataclass(frozen=True)
class Match:
    loss: Loss
    scale: sp.Expr
    offset: sp.Expr
    order: tuple[int, ...] = ()  # which predicted quantity fills each template slot


def _settle(scale):
    """A piecewise ratio whose defined branches agree is that value.

    Piecewise losses (Huber) give derivative ratios like Piecewise((1, |r| <= delta),
    (nan, r = 0), (1, True)): the nan marks the point where |r| has no derivative,
    a set of measure zero that the identity nll = scale * loss + offset, checked
    afterwards on the expressions themselves, does not need.
    """
    if not isinstance(scale, sp.Piecewise):
        return scale
    values = {e for e, _ in scale.args if e is not sp.nan}
    return values.pop() if len(values) == 1 else scale


def _canonical(scale: sp.Expr) -> sp.Expr:
    """A scale in its simplest form. A rational function's is its cancelled form, which
    ``cancel`` reaches without ``simplify``'s search (and its imports, a third of a cold
    ``symlik derive``); anything else (alpha^-beta written as exp(-beta log alpha)) simplifies."""
    return sp.cancel(scale) if scale.is_rational_function() else sp.simplify(scale)


def _scale(nll, template_expr, predicted, y_like) -> sp.Expr | None:
    """s = (d nll / d theta) / (d T / d theta), the same in every smooth case.

    For piecewise losses (pinball, mae) the ratio is taken case by case (see
    ``algebra.cases``) and must agree across the cases.
    """
    free = [*predicted, *y_like]
    # Cheap rejection first, on the whole expressions (a case's formula may
    # leave its domain at random points: (y - mu)^(3/2) where y < mu).
    for theta in predicted:
        if clearly_varies(sp.diff(nll, theta) / sp.diff(template_expr, theta), free):
            return None
    branches = cases([nll, template_expr]) if has_switch(nll) or has_switch(template_expr) else None
    if branches is None:  # smooth, or switches the case split cannot decide: SymPy's own ratio
        branches = [(nll, template_expr)]
    for theta in predicted:
        found = []
        for n_b, t_b in branches:
            dT = sp.diff(t_b, theta)
            if not clearly_nonzero(dT) and is_zero(dT):
                continue
            ratio = sp.diff(n_b, theta) / dT
            if clearly_varies(ratio, free):  # cheap rejection before any simplification
                return None
            quick = exp_rational(ratio)
            found.append(_canonical(quick) if free_of(quick, free) else _settle(sp.simplify(ratio)))
        if not found:
            continue
        if any(not is_zero(other - found[0]) for other in found[1:]):
            return None
        return found[0]
    return None


def _constant_form(offset, predicted, y_like) -> tuple[sp.Expr, bool]:
    """An offset proven to have zero derivative in each prediction, written without them.

    nll - s T keeps the predictions syntactically (log(mu) - log(mu/y), a
    Piecewise minus a Max, 2 log(1 + e^-r) + r - 2 log cosh(r/2)). Expanding
    the logs often removes them. Otherwise, a function with zero derivative
    is its value at any one point, so evaluate it where the predictions equal
    the target (the residual is 0 there) or at 0 or 1. Returns the offset and
    whether it was found by evaluation (then the caller's identity rests on
    the derivative, not on the algebra).
    """
    expanded = sp.expand(sp.expand_log(offset, force=True))
    if free_of(expanded, predicted):
        return expanded, False
    for point in (*y_like, sp.Integer(0), sp.Integer(1)):
        value = offset.subs({theta: point for theta in predicted})
        if has_switch(value):
            continue
        value = sp.expand(sp.expand_log(_simplify_keeping_special_functions(value), force=True))
        if free_of(value, predicted) and not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return value, True
    return _simplify_keeping_special_functions(offset), False


def _prove(nll, template_expr, predicted, y_like) -> tuple[sp.Expr, sp.Expr] | None:
    nll, template_expr = canonical_conditions(nll), canonical_conditions(template_expr)
    scale = _scale(nll, template_expr, predicted, y_like)
    if scale is None or scale == 0:
        return None
    if not free_of(scale, [*predicted, *y_like]) or scale.has(sp.Heaviside, sp.sign, sp.Piecewise):
        return None
    if scale.is_positive is not True:
        return None
    offset = nll - scale * template_expr
    slopes = [sp.diff(offset, theta) for theta in predicted]
    if any(clearly_nonzero(d) for d in slopes) or not all(is_zero(d) for d in slopes):
        return None
    offset, evaluated = _constant_form(offset, predicted, y_like)
    if not free_of(offset, predicted):  # the contract: an offset written without the predictions
        return None
    # True by construction, or (when evaluated at a point) by the zero derivative just proven.
    if not evaluated and not is_zero(nll - (scale * template_expr + offset)):  # pragma: no cover
        return None
    return scale, offset


def _simplify_keeping_special_functions(expr):
    """simplify, with factorials, binomial coefficients, gamma and beta functions held
    fixed: log C(n, y) stays a binomial coefficient instead of becoming log(1/(n - y)!)."""
    specials = expr.atoms(sp.factorial, sp.binomial, sp.gamma, sp.beta)
    marks = {f: sp.Dummy(positive=True) for f in specials}
    return sp.simplify(expr.xreplace(marks)).xreplace({m: f for f, m in marks.items()})


def _candidates(template, nll, y, predicted):
    if not template.inner:
        yield {}
        return
    if template.calibrate is not None:
        yield from template.calibrate(nll, y, predicted)


def _proven(templates, nll, y, predicted, target=None):
    """Every (template, order, inner, expr, scale, offset) with ``target == scale * expr + offset``
    proven, in the order tried: templates, which prediction fills each slot, calibrated inner values.
    ``calibrate`` sees the whole ``nll``; the proof is of ``target`` (default: the NLL itself)."""
    target = nll if target is None else target
    for template in templates:
        if len(template.slots) != len(predicted):
            continue
        for order in itertools.permutations(range(len(predicted))):
            args = [predicted[i] for i in order]
            for inner in _candidates(template, nll, y, predicted):
                expr = template.expr(y, *args, **inner)
                proof = _prove(target, expr, predicted, [y])
                if proof:
                    yield template, order, inner, expr, *proof


def identify_scalar(nll, y, predicted, templates=T.SCALAR_TEMPLATES) -> Match | None:
    """Match a scalar per-observation NLL against the scalar templates."""
    for template, order, inner, expr, scale, offset in _proven(templates, nll, y, predicted):
        return Match(Loss(template.name, expr, template, dict(inner)), scale, offset, order=order)
    return None


def identify_event(nll, y, predicted, k, K, templates=T.EVENT_TEMPLATES) -> Match | None:
    """Match an NLL of the form Sum_k summand + rest against the event templates.

    The summand is matched component-wise; its scale must not depend on k,
    and the rest must be free of the predictions. Summing the component
    identity over k proves the whole one. Calibration sees the whole NLL: a
    normaliser outside the sum (log n!) may fix an inner value.
    """
    summand, rest = sum_parts(nll, k)
    if not free_of(rest, predicted) or summand == 0:
        return None
    indexed = sorted(summand.atoms(sp.Indexed), key=str)
    for template, order, inner, expr, scale, offset_k in _proven(templates, nll, y, predicted, target=summand):
        if any(scale.has(x) for x in indexed) or scale.has(k):
            continue
        constant = template.event_constant  # 1 in 1 - sum_k mu_k y_k: out of the offset, into the loss
        loss = constant + sp.Sum(expr, (k, 1, K))
        offset = (K * offset_k if not offset_k.has(k) else sp.Sum(offset_k, (k, 1, K))) + rest - scale * constant
        return Match(Loss(template.name, loss, template, dict(inner)), scale, offset, order=order)
    return None


def own_nll(nll, predicted, k=None) -> Match:
    """No template fits: the loss is the NLL less the terms free of the predictions."""
    keep, drop = [], []
    if k is not None and nll.has(sp.Sum):  # (an event NLL written out component by component has none)
        summand, rest = sum_parts(nll, k)
        s_keep = [t for t in sp.Add.make_args(summand) if not free_of(t, predicted)]
        s_drop = [t for t in sp.Add.make_args(summand) if free_of(t, predicted)]
        K = next(iter(s.limits[0][2] for s in nll.atoms(sp.Sum)), None)
        for t in sp.Add.make_args(rest):
            (drop if free_of(t, predicted) else keep).append(t)
        if s_keep:
            keep.append(sp.Sum(sp.Add(*s_keep), (k, 1, K)))
        if s_drop:
            drop.append(split_sum(sp.Sum(sp.Add(*s_drop), (k, 1, K))))
    else:
        for t in sp.Add.make_args(nll):
            (drop if free_of(t, predicted) else keep).append(t)
    return Match(Loss(None, sp.Add(*keep)), sp.Integer(1), sp.Add(*drop))
