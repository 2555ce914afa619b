"""The result of a derivation: ordered steps plus the proven identification."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import sympy as sp

from symlik.analysis import baseline, information
from symlik.core.algebra import canonical_conditions, is_zero, split_sum
from symlik.core.functions import exact
from symlik.core.presentation import Presentable
from symlik.core.step import Step
from symlik.derivation import options as loss_options


@dataclass(frozen=True)
class Derivation(Presentable):
    spec: Any
    predict: tuple[str, ...]
    link: str | dict | None  # a link name, or {parameter: link name} when each has its own
    nll: sp.Expr  # exact per-observation -log p, in the kernel's inputs
    loss: Any  # losses.matcher.Loss
    scale: sp.Expr
    offset: sp.Expr
    inputs: tuple[str, ...]
    steps: tuple[Step, ...]
    symbols: dict = field(default_factory=dict)  # input name -> SymPy Symbol / Indexed
    nll_theta: sp.Expr | None = None  # the NLL in the distribution's parameters (before any link)
    # Loss options (label_smoothing, pos_weight, ...; see derivation/options.py): the values
    # chosen, and the parameters they add as inputs (e.g. class_weight), after the spec's.
    loss_options: dict = field(default_factory=dict)
    extra_params: tuple = ()
    plain: Any = None  # the derivation before the options

    @property
    def name(self) -> str:
        return self.spec.label

    @property
    def y(self) -> sp.Expr:
        return self.symbols["y"]

    @property
    def links(self) -> dict:
        """{predicted parameter: link name} for every non-identity link, in predict order."""
        if self.link is None:
            return {}
        if isinstance(self.link, dict):
            return dict(self.link)
        return {self.spec.link_param(self.link): self.link}

    @property
    def link_label(self) -> str | None:
        """The link as text: ``log``, or ``sigma: log, k: softplus`` when each parameter has its own."""
        if isinstance(self.link, dict):
            return ", ".join(f"{p}: {name}" for p, name in self.link.items())
        return self.link

    @property
    def predicted_inputs(self) -> tuple[str, ...]:
        return self.inputs[: len(self.predict)]

    def param(self, name: str):
        """The Param called ``name``: an option's parameter or the spec's."""
        for p in self.extra_params:
            if p.name == name:
                return p
        return self.spec.param(name)

    def with_options(self, reduction: str = "mean", **options) -> "Derivation":
        """This derivation with torch-style loss options (label_smoothing, pos_weight, eps,
        ...) applied symbolically and shown as extra steps; see ``symlik.derivation.options``."""
        return loss_options.with_options(self, reduction=reduction, **options)

    @property
    def event(self) -> bool:
        return self.spec.is_event

    @property
    def slug(self) -> str:
        """A file-name-safe identifier, e.g. ``bernoulli-logit`` or ``normal-mu-sigma``."""
        parts = [self.spec.name]
        parts += [f"{k}-{v}".replace("_", "-") for k, v in self.spec.chosen.items() if v != self.spec.options[k][0]]
        if tuple(self.predict) != tuple(self.spec.predict):
            parts.append("-".join(self.predict))
        if isinstance(self.link, dict):
            parts += [f"{p}-{name}" for p, name in self.link.items()]
        elif self.link:
            parts.append(self.link)
        return "-".join(parts).replace("_", "-")

    def identity_holds(self) -> bool:
        """Re-check nll == scale * loss + offset symbolically (exact forms)."""
        diff = exact(self.nll) - (self.scale * exact(self.loss.expr) + exact(self.offset))
        diff = canonical_conditions(diff)  # |r|/s <= c and |r| <= c s are one condition
        return is_zero(split_sum(sp.expand(diff)))

    # ---- beyond the loss (symlik.analysis.information, symlik.analysis.baseline) -------------
    def score(self) -> sp.Matrix:
        """d log p / d theta per observation, for the predicted inputs (P x 1)."""
        return information.score(self)

    def hessian(self) -> sp.Matrix:
        """d^2 log p / d theta^2 per observation (P x P)."""
        return information.hessian(self)

    def fisher(self) -> sp.Matrix:
        """The Fisher information E_y[-d^2 log p / d theta^2] (P x P), by integrating over y."""
        return information.fisher(self)

    def optimal_constant(self):
        """The best constant prediction (an ``OptimalConstant``; ``.values``, ``.statement``)."""
        return baseline.optimal_constant(self)

    def chance_loss(self, **prediction) -> sp.Expr:
        """The loss of an uninformed constant prediction, averaged over observations (log C for uniform categorical)."""
        return baseline.chance_loss(self, **prediction)

    def explained(self) -> "Derivation":
        """This derivation with extra steps appended: score, Hessian, Fisher information,
        the best constant prediction and the chance-level loss."""
        extra = [] if self.spec.is_event else information.information_steps(self)
        return replace(self, steps=self.steps + tuple(extra) + tuple(baseline.baseline_steps(self)))

    def __repr__(self) -> str:
        name = self.loss.name or "its own NLL"
        link = f", link={self.link!r}" if self.link else ""  # a dict shows itself
        return f"<Derivation {self.spec.label} predict={self.predict}{link}: {name}, scale={self.scale}>"
