"""The first three passes: the likelihood of independent observations, its logarithm, and its negation."""

from __future__ import annotations

import sympy as sp

from symlik.core.notation import OBS, form
from symlik.core.step import Step, reason
from symlik.derivation.passes.context import Context


def likelihood(c: Context) -> Step:
    """L(theta) = prod_i p(y_i | theta_i): independent observations multiply."""
    return Step(
        # Each observation has its own prediction theta_i: independent, not identically distributed.
        "The likelihood of independent observations",
        sp.Product(c.density_i, (OBS, 1, c.n_obs)),
        reason("Given the predictions, the ", c.n_obs, " observations are independent, so their joint density is a product."),
        lhs=form("likelihood", *c.predicted),
    )


def log_likelihood(c: Context) -> Step:
    """log L = sum_i log p(y_i | theta_i)."""
    return Step(
        "Take the logarithm",
        c.over_obs(sp.log(c.density_i)),
        reason("The logarithm is increasing, so it keeps the maximiser, and it turns the product into a sum."),
        lhs=form("log_of", form("likelihood", *c.predicted)),
    )


def negate(c: Context) -> Step:
    """NLL = -log L: the quantity training minimises."""
    return Step(
        "Negate",
        -c.over_obs(sp.log(c.density_i)),
        reason("Training minimises, so negate: the negative log-likelihood is the quantity to minimise."),
        lhs=form("nll_of", *c.predicted),
    )
