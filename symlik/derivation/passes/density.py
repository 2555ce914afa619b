"""The density passes: substitute the distribution's density, then expand its logarithm."""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import DensityOf
from symlik.core.notation import SYMBOLS, form
from symlik.core.step import Step, reason
from symlik.derivation.passes.context import Context, display_tidy


def substitute(c: Context) -> tuple[Step, ...]:
    """Write out p(y | theta); then the distribution's own steps, if any (a normaliser worked out)."""
    spec = c.spec
    written = Step(
        f"Substitute the {spec.title_in_sentence} density",
        -c.over_obs(sp.log(c.obs(spec.density_expr()))),
        reason(
            "Write out ",
            DensityOf(sp.Symbol("y"), *(sp.Symbol(p) for p in spec.param_names)),
            f" for the {spec.title_in_sentence} distribution",
            *_renamed(spec),
            ".",
        ),
        lhs=form("nll_of", *c.predicted),
    )
    return (written, *spec.density_steps())


def _renamed(spec) -> list:
    """", its parameter p written θ": a parameter the notation table shows by another letter,
    so that a reader can match the formulas to the API's names (the gradient's title)."""
    out = []
    for name in spec.param_names:
        if name in SYMBOLS:
            out += [", its parameter " if not out else " and ", f"{name} written ", sp.Symbol(name)]
    return out


def expand(c: Context) -> Step:
    """log of a product -> sum of logs; log e^u -> u: the log-likelihood, term by term."""
    return Step(
        "Expand the logarithm",
        c.over_obs(c.obs(display_tidy(-c.nll_theta, c.k, c.K))),
        reason(*_expansion_rules(c.spec.density_expr()), "; this is the log-likelihood."),
        lhs=form("log_of", form("likelihood", *c.predicted)),
    )


def _expansion_rules(density) -> list:
    """The rules of the logarithm the expansion uses, each only where the density has its form."""
    a, b, u = sp.symbols("a b u")
    rules = []
    if density.has(sp.Product) or any(isinstance(f, (sp.Mul, sp.Pow)) for f in sp.preorder_traversal(density)):
        rules.append(["the log of a product is the sum of the logs"])
    if any(isinstance(f, sp.Pow) and not f.exp.is_Integer and f.base is not sp.E for f in sp.preorder_traversal(density)):
        rules.append([sp.Eq(form("log_of", a**b), b * form("log_of", a), evaluate=False)])
    if density.has(sp.exp):
        rules.append([sp.Eq(form("log_of", sp.exp(u)), u, evaluate=False)])
    if not rules:
        return ["Take the logarithm of the density"]
    out = []
    for i, rule in enumerate(rules):
        out += ([", and " if i == len(rules) - 1 else ", "] if i else []) + rule
    if isinstance(out[0], str):
        out[0] = out[0][0].upper() + out[0][1:]
    else:
        out.insert(0, "Expand with ")
    return out
