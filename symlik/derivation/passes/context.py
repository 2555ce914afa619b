"""What the passes share: the spec, the predictions, the proven identification, the link."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sympy as sp

from symlik.core.algebra import free_of, split_sum, sum_parts, tidy_logs
from symlik.core.functions import DensityOf, loss_symbol
from symlik.core.notation import N_OBS, OBS
from symlik.derivation.substitution import observation
from symlik.model.distributions.base import Distribution
from symlik.model.links import Link


@dataclass(frozen=True)
class Context:
    """The derivation's data, before its steps are written: every pass reads it, none changes it."""

    spec: Distribution
    predict: tuple[str, ...]
    theta: dict  # parameter name -> its symbol
    nll_theta: sp.Expr  # -log p per observation, in the parameters
    match: Any  # losses.matcher: the proven loss, scale, offset and slot order
    # Each applied link, in predict order: (parameter, Link, the loss once it and those before it are applied).
    link_stages: tuple[tuple[str, Link, sp.Expr], ...]
    loss_expr: sp.Expr  # the loss in the network's inputs (after the link)
    symbols: dict  # input name -> its symbol
    input_names: tuple[str, ...]  # the predicted inputs, in order
    nll: sp.Expr  # -log p per observation, in the network's inputs
    inputs: tuple[str, ...]  # every input of the kernel, in positional order

    @property
    def link(self) -> Link | None:
        """The first applied link (the only one, unless each parameter has its own)."""
        return self.link_stages[0][1] if self.link_stages else None

    @property
    def link_param(self) -> str | None:
        return self.link_stages[0][0] if self.link_stages else None

    @property
    def k(self):
        """The event index (vector distributions), else None."""
        return self.spec.index if self.spec.is_event else None

    @property
    def K(self):
        """The event size (vector distributions), else None."""
        return self.spec.K if self.spec.is_event else None

    @property
    def loss(self):
        return self.match.loss

    @cached_property
    def n_obs(self) -> sp.Symbol:
        """n counts the observations, unless the distribution has its own n (binomial trials): then N."""
        return N_OBS if "n" not in self.spec.param_names else sp.Symbol("N", integer=True, positive=True)

    def over_obs(self, expr) -> sp.Expr:
        """sum_{i=1}^{n} expr."""
        return sp.Sum(expr, (OBS, 1, self.n_obs))

    @cached_property
    def bounds(self) -> set:
        """Parameters that bound the support (binomial's n): part of each observation."""
        return {b for b in (self.spec.support.lower, self.spec.support.upper) if isinstance(b, str)}

    def obs(self, expr) -> sp.Expr:
        """``expr`` for observation i: y -> y_i, mu -> mu_i, for everything that varies by observation."""
        return observation(expr, {"y", *self.predict, *self.input_names, *self.bounds})

    @cached_property
    def y_i(self) -> sp.Expr:
        return self.obs(self.spec.y if not self.spec.is_event else self.spec._y_base())

    @cached_property
    def density_i(self) -> sp.Expr:
        """p(y_i | theta_i), unevaluated."""
        return DensityOf(self.y_i, *(self.obs(self.spec.base(p)) for p in self.spec.param_names))

    @cached_property
    def predicted(self) -> tuple[sp.Symbol, ...]:
        """The predicted parameters as plain symbols, for a left-hand side: NLL(mu, sigma)."""
        return tuple(sp.Symbol(p) for p in self.predict)

    @cached_property
    def predicted_i(self) -> list:
        """The predicted parameters of observation i (mu_i; p_i for an event parameter)."""
        spec = self.spec
        return [self.obs(self.theta[p]) if not spec.param(p).event else self.obs(spec.base(p)) for p in self.predict]

    @cached_property
    def scale_varies(self) -> bool:
        """A scale that varies by observation (binomial's n) weighs each term: it stays inside the sum."""
        return not free_of(self.match.scale, [self.spec.y, *(self.theta[b] for b in self.bounds)])

    @cached_property
    def offset_total(self) -> sp.Expr:
        """The offset summed over the observations (n times it, when it is the same for each)."""
        offset = display_tidy(self.match.offset, self.k, self.K)
        if free_of(self.match.offset, [self.spec.y, *(self.theta[b] for b in self.bounds)]):
            return self.n_obs * offset
        return self.over_obs(self.obs(offset))

    @cached_property
    def loss_call(self) -> sp.Expr | None:
        """The identified loss applied to observation i, e.g. MSE(y_i, mu_i); None if none fits."""
        loss = self.loss
        if loss.name is None:
            return None
        target = loss.template.extra.get("target")  # a template on a rescaled target (y/n) shows that target
        target_i = target(self.y_i, **{key: self.obs(v) for key, v in loss.inner.items()}) if target else self.y_i
        return loss_symbol(loss.template.latex_name, target_i, *self.predicted_i)


def display_tidy(expr, k, K=None):
    """Tidy an expression for display only (exactly equal): gather log constants.

    For an event sum, constants that were pulled out as K * c go back into the
    summand first, so that log(sigma_k) + log(2 pi)/2 is shown as
    log(2 pi)/2 + log(sigma_k^2)/2 and then split: the textbook form.
    """
    if k is None:
        return tidy_logs(expr)
    summand, rest = sum_parts(expr, k)
    moved = [t for t in sp.Add.make_args(rest) if K is not None and t.has(K) and not (t / K).has(K)]
    summand = summand + sp.Add(*(t / K for t in moved))
    rest = sp.Add(*(t for t in sp.Add.make_args(rest) if t not in moved))
    return split_sum(sp.Sum(tidy_logs(summand, k), (k, 1, K))) + tidy_logs(rest)
