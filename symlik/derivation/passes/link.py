"""The link pass: with a link, the loss in the network's pre-activation z."""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import Softmax
from symlik.core.notation import form
from symlik.core.step import Step, reason
from symlik.derivation.passes.context import Context


def link_reason(c: Context, param: str | None = None, link=None) -> tuple:
    """The network's output, the link's inverse and the identities of this link only,
    each written from the link's own forms (log sigmoid(z) = -softplus(-z), ...)."""
    param, link = (c.link_param, c.link) if link is None else (param, link)
    theta = sp.Symbol(param)
    z = sp.Symbol("z", real=True)
    if link.event:  # softmax over the event axis
        # the event size is the distribution's own symbol (C classes), as in every other step
        zbase, k, K = sp.IndexedBase("z", real=True), sp.Symbol("k", integer=True), c.spec.K
        identities = [sp.Eq(form("log_of", Softmax(zbase, K, k)), link.log_inverse(zbase, k, K), evaluate=False)]
        inverse = form("softmax_of", z)
        log_is_z = False
    else:
        # log lambda = z: the network outputs the log itself
        log_is_z = link.log_inverse is not None and link.log_inverse(z) == z
        shown = theta if log_is_z else link.inverse(z)
        identities = []
        if link.log_inverse is not None:  # a link whose log has no simpler form (softplus) declares none
            identities.append(sp.Eq(form("log_of", shown), link.log_inverse(z), evaluate=False))
        if link.log1m_inverse is not None:
            identities.append(sp.Eq(sp.log(1 - link.inverse(z)), link.log1m_inverse(z), evaluate=False))
        inverse = link.inverse(z)
    joined = reason(*(part for n, identity in enumerate(identities) for part in ((" and ",) if n else ()) + (identity,)))
    start = reason(
        "The network outputs ", link.input_name(param), ", written ", z, ", and ",
        sp.Eq(theta, inverse, evaluate=False),
    )
    if not identities:
        return reason(start, ".")
    if log_is_z:
        return reason(start, ", so ", joined, ": the parameter is positive for every ", z, " and its logarithm is never formed.")
    return reason(start, "; the logs simplify, ", joined, ", and never form the logarithm of a rounded probability.")


def link(c: Context) -> Step | tuple[Step, ...] | None:
    """sum_i loss_i(z), with theta = g^-1(z) substituted: a step per applied link (one Step for
    one link, a tuple for several; None without a link)."""
    if not c.link_stages:
        return None
    steps = tuple(
        Step(
            f"Apply the {link.name} link" + (f" to {param}" if len(c.link_stages) > 1 else ""),
            c.over_obs(c.obs(loss_expr)),
            link_reason(c, param, link),
            lhs=form("summed_losses", sp.Symbol("z", real=True)),
        )
        for param, link, loss_expr in c.link_stages
    )
    return steps[0] if len(steps) == 1 else steps
