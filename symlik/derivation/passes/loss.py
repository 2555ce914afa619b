"""The loss passes: separate what the predictions change, identify the loss, keep the minimiser."""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import ArgMin
from symlik.core.notation import OBS, OperatorName, form, term
from symlik.core.step import Step, reason
from symlik.derivation.passes.context import Context


def shown_sum(*terms) -> sp.Expr:
    """An unevaluated sum, in the order given, without zero terms."""
    terms = [t for t in terms if t != 0]
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else (terms[0] if terms else sp.S.Zero)


def separate(c: Context) -> Step:
    """NLL = (the terms free of the predictions) + scale * sum_i loss_i."""
    loss = c.loss
    scale = c.match.scale
    weighted = c.over_obs(c.obs(scale * loss.expr)) if c.scale_varies else scale * c.over_obs(c.obs(loss.expr))
    return Step(
        "Separate the terms",
        shown_sum(c.offset_total, weighted),
        _separation_reason(c.offset_total),
        lhs=form("nll_of", *c.predicted),
    )


def _separation_reason(offset_total):
    if offset_total == 0:  # Bernoulli, categorical-softmax: one term, and it is the loss
        return reason("No term is free of the predictions: the whole NLL is the loss, scaled.")
    return reason("The first term does not depend on the predictions; only the second changes as they change.")


def inner_symbol(name: str) -> sp.Symbol:
    """A template's inner parameter as a symbol (tau, delta, c, total) for the reasons."""
    return sp.Symbol(name, positive=True)


def template_form(c: Context) -> sp.Expr:
    """The template's own expression, its inner parameters as symbols, on the predictions that fill
    its slots; for an event template, the sum over the event index."""
    loss = c.loss
    inner = {name: inner_symbol(name) for name in loss.inner}
    form_ = loss.template.build(c.spec.y, *(c.theta[c.predict[j]] for j in c.match.order), **inner)
    if c.k is None:
        return form_
    size = next(iter(loss.expr.atoms(sp.Sum))).limits[0][2]
    constant = loss.template.event_constant  # 1 - sum_k mu_k y_k: the constant stays outside the sum
    if form_.could_extract_minus_sign():  # -sum_k y_k log p_k, not sum_k -y_k log p_k
        return sp.Add(constant, -sp.Sum(-form_, (c.k, 1, size)), evaluate=False) if constant else -sp.Sum(-form_, (c.k, 1, size))
    return constant + sp.Sum(form_, (c.k, 1, size))


def solved(loss) -> tuple:
    """The sentence naming the inner parameters the template's calibration solved for."""
    if not loss.inner:
        return ()
    values = []
    for number, (name, value) in enumerate(loss.inner.items()):
        if number:
            values.append(", ")
        if str(value) == name:
            values += [value, ", the distribution's own"]
        else:
            values.append(sp.Eq(inner_symbol(name), value, evaluate=False))
    return reason(" The template's inner parameter (", *values, ") was solved from the NLL itself, then proven.")


def identify(c: Context) -> tuple[Step, ...]:
    """The loss the matcher proved: NLL = n * scale * loss + constant (or weighted per observation);
    then the template's aside, if it has one (smooth L1 = Huber / delta)."""
    loss = c.loss
    nll_of = form("nll_of", *c.predicted)
    if loss.name is None:
        return (
            Step(
                "No familiar loss fits",
                c.over_obs(c.obs(loss.expr)),
                reason(
                    "No template in the catalog matches this NLL, so the loss is the NLL itself "
                    "with the terms free of the predictions dropped."
                ),
                lhs=sp.Add(nll_of, -term("const"), evaluate=False),
            ),
        )
    nll, scale, constant = term("nll"), term("scale"), term("constant")
    name = OperatorName(loss.template.latex_name)
    residual = sp.Add(term("neg_log_p"), -form("cdot", scale, term("loss")), -term("offset"), evaluate=False)
    proven = reason(
        "(proven: ", residual, " simplifies to ", sp.S.Zero,
        ", and the offset has zero derivative in every prediction).", solved(loss),
    )
    # The template's own formula, typeset by the renderer: right for every template, inner parameters included.
    template = c.obs(template_form(c))
    if c.scale_varies:
        scale_i, name_i = form("sub", scale, OBS), form("sub", name, OBS)
        identified = shown_sum(c.offset_total, c.over_obs(c.obs(c.match.scale) * c.loss_call))
        why = reason(
            "With ", name_i, " the loss of observation ", OBS, ", ", template, ": ",
            sp.Eq(nll, sp.Add(form("sum_over", OBS, form("thin", scale_i, name_i)), constant, evaluate=False), evaluate=False),
            ", each observation weighted by ",
            form("equals_positive", scale_i, c.obs(c.match.scale)),
            " ", proven,
        )
    else:
        identified = shown_sum(c.offset_total, c.n_obs * c.match.scale * c.loss_call)
        why = reason(
            "With ", name, " the mean over the observations of ", template, ": ",
            sp.Eq(nll, sp.Add(form("cdot", c.n_obs, scale, name), constant, evaluate=False), evaluate=False),
            ", with ",
            form("equals_positive", scale, c.match.scale),
            " ", proven,
        )
    steps = [Step(f"Identify the loss: {loss.template.title}", identified, why, lhs=nll_of)]
    aside = loss.template.extra.get("aside")
    if aside is not None:  # a related loss, e.g. smooth L1 = Huber / delta
        inner_i = {key: c.obs(v) for key, v in loss.inner.items()}
        steps.append(aside(c.y_i, c.predicted_i, inner_i, c.match.scale))
    return tuple(steps)


def minimiser(c: Context) -> Step:
    """argmin of the loss = argmin of the NLL: a positive scale and a constant do not move it."""
    if c.loss.name is None:
        criterion = c.over_obs(c.obs(c.loss.expr))
    elif c.scale_varies:
        criterion = c.over_obs(c.obs(c.match.scale) * c.loss_call)
    else:
        criterion = c.loss_call
    why = (
        "An additive constant does not move the minimiser; the per-observation weights stay, "
        "so the weighted sum and the negative log-likelihood share the same argmin."
        if c.scale_varies
        else "A positive scale and an additive constant do not move the minimiser: the sum, the mean "
        "and the negative log-likelihood share the same argmin."
    )
    return Step(
        "The minimiser is unchanged",
        ArgMin(criterion, *c.predicted),
        reason(why),
        lhs=ArgMin(term("nll"), *c.predicted),
    )
