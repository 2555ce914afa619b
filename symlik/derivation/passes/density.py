"""The density passes: substitute the distribution's density, then expand its logarithm."""

from __future__ import annotations

import sympy as sp

from symlik.core.functions import DensityOf
from symlik.core.notation import form
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
            f" for the {spec.title_in_sentence} distribution.",
        ),
        lhs=form("nll_of", *c.predicted),
    )
    return (written, *spec.density_steps())


def expand(c: Context) -> Step:
    """log of a product -> sum of logs; log e^u -> u: the log-likelihood, term by term."""
    u = sp.Symbol("u")
    return Step(
        "Expand the logarithm",
        c.over_obs(c.obs(display_tidy(-c.nll_theta, c.k, c.K))),
        reason(
            "The log of a product is the sum of the logs, and ",
            sp.Eq(form("log_of", sp.exp(u)), u, evaluate=False),
            "; this is the log-likelihood.",
        ),
        lhs=form("log_of", form("likelihood", *c.predicted)),
    )
