"""Substitutions the passes share: a link's inverse for a parameter, and the observation index."""

from __future__ import annotations

import sympy as sp

from symlik.core.algebra import split_sum
from symlik.core.functions import Softplus
from symlik.core.notation import OBS


def apply_link(expr, theta, link, zbase, k, K):
    """Substitute theta = g^-1(z), using the link's log forms so logs stay simple."""
    if K is not None:  # event link (softmax): theta is p[k]
        base = theta.base
        expr = expr.replace(
            lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.Indexed) and e.args[0].base == base,
            lambda e: link.log_inverse(zbase, e.args[0].indices[0], K),
        )
        expr = expr.replace(
            lambda e: isinstance(e, sp.Indexed) and e.base == base,
            lambda e: link.inverse(zbase, e.indices[0], K),
        )
        return split_sum(sp.expand(split_sum(expr)))
    if link.log_inverse is not None:
        expr = expr.replace(sp.log(theta), link.log_inverse(zbase))
    if link.log1m_inverse is not None:
        expr = expr.replace(sp.log(1 - theta), link.log1m_inverse(zbase))
    expr = expr.subs(theta, link.inverse(zbase))
    # softplus(-z) = softplus(z) - z collects y*softplus(-z) + (1-y)*softplus(z) into softplus(z) - y z.
    expr = expr.replace(
        lambda e: isinstance(e, Softplus) and e.args[0].could_extract_minus_sign(),
        lambda e: Softplus(-e.args[0]) + e.args[0],
    )
    # exp(a + b) stays whole (power_exp=False): e^((2-p) z) is not split into e^(2z) / e^(p z), which overflow apart
    return sp.expand(expr, power_exp=False)


def observation(expr, names):
    """Give every quantity that varies by observation the index i (y -> y_i, mu -> mu_i)."""

    mapping = {}
    for e in expr.atoms(sp.Indexed):
        if str(e.base.label) in names and OBS not in e.indices:
            mapping[e] = sp.IndexedBase(e.base.label, **e.base.assumptions0)[(OBS, *e.indices)]
    for e in expr.free_symbols:
        if isinstance(e, sp.Symbol) and e.name in names:
            mapping[e] = sp.IndexedBase(e.name, **e.assumptions0)[OBS]
    for e in expr.atoms(sp.IndexedBase):  # a whole event vector, e.g. in p(y_i | mu_i)
        if str(e.label) in names:
            mapping[e] = sp.IndexedBase(e.label, **e.assumptions0)[OBS]
    return expr.xreplace(mapping)
