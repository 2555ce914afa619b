"""Derivation -> Plan: what every backend needs to generate a kernel.

A Plan is backend-neutral: the stabilized per-observation expression (and
its class-index form), the argument order, the event layout and the value
checks as data. Each backend turns it into source text (``generate``); the
text, not the Plan, is what the cache keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from symlik.derivation import Derivation, derive
from symlik.core.errors import ConstraintError, SymlikError, UnknownNameError
from symlik.rewrite.rules import stabilize
from symlik.compiler import checks as _checks
from symlik.compiler.codegen import gather_targets


@dataclass(frozen=True)
class Plan:
    derivation: Derivation
    target: str
    reduction: str
    expr: sp.Expr  # exact per-observation expression (loss or NLL)
    dense: sp.Expr  # stabilized
    index: sp.Expr | None  # stabilized class-index form (one-hot supports), else None
    inputs: tuple[str, ...]  # call-time inputs, in order
    fixed: dict  # fixed values the expression uses
    args: tuple[str, ...]  # inputs + fixed names: the generated functions' signature
    event_inputs: tuple[str, ...]
    scalar_arrays: tuple[str, ...]
    event_index: sp.Symbol | None
    event_size: sp.Symbol | None
    first_event: str | None
    checks: dict = field(default_factory=dict)

    def lowered(self, keep: tuple = ()) -> "Plan":
        """This plan for a backend without routines for symlik's stable functions
        (those not in ``keep``): each is rewritten to log-gamma, softplus, log1p, ...
        (``symlik.core.functions.basic``)."""
        from dataclasses import replace

        from symlik.core.functions import basic

        return replace(self, dense=basic(self.dense, keep), index=None if self.index is None else basic(self.index, keep))

    @property
    def predicted(self) -> tuple[str, ...]:
        return tuple(n for n in self.inputs if n in self.derivation.predicted_inputs)

    def meta(self, backend: str) -> dict:
        """What a Kernel needs besides its functions (JSON-able)."""
        d = self.derivation
        return {
            "backend": backend,
            "target": self.target,
            "reduction": self.reduction,
            "inputs": list(self.inputs),
            "fixed": {k: _jsonable(v) for k, v in self.fixed.items()},
            "event_inputs": list(self.event_inputs),
            "index_targets": self.index is not None,
            "checks": self.checks,
            "label": d.spec.label,
            "loss_name": d.loss.name,
            "predicted": list(self.predicted),
            "formula": sp.latex(self.expr),
            "expr_text": sp.sstr(self.expr),
        }


def _jsonable(v):
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else a.tolist()


def make_plan(spec, *, target, reduction, fixed=None, predict=None, link=None, options=None) -> Plan:
    d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
    expr = d.loss.expr if target == "loss" else d.nll

    fixed = dict(fixed or {})
    for name, value in fixed.items():
        if name not in d.inputs:
            raise UnknownNameError(f"fixed parameter of {d.spec.label}", name, [n for n in d.inputs if n != "y"])
        if name == "y" or name in d.predicted_inputs:
            raise SymlikError(f"fixed cannot hold {name!r}: it is {'the target' if name == 'y' else 'predicted'}")
        c = (d.param(name) if hasattr(d, "param") else d.spec.param(name)).constraint
        if np.any(c.violations(value)):
            raise ConstraintError(f"fixed {name} must {c.rule} (got {value!r})")

    names_in_expr = {str(s.base.label) if isinstance(s, sp.Indexed) else str(s) for s in expr.free_symbols}
    names_in_expr |= {str(b.label) for b in expr.atoms(sp.IndexedBase)}
    inputs = tuple(n for n in d.inputs if (n in d.predicted_inputs or n == "y" or n in names_in_expr) and n not in fixed)
    used_fixed = {n: v for n, v in fixed.items() if n in names_in_expr}

    spec_ = d.spec
    k = spec_.index if spec_.is_event else None
    K = spec_.K if spec_.is_event else None
    event_inputs = tuple(n for n in (*inputs, *used_fixed) if isinstance(d.symbols.get(n), sp.Indexed))
    scalar_arrays = tuple(n for n in (*inputs, *used_fixed) if n not in event_inputs)
    index = None
    if spec_.support.kind == "onehot":
        index = stabilize(gather_targets(expr, d.y.base, k))
    link_inputs = {n for n in d.predicted_inputs if n not in d.predict}
    return Plan(
        derivation=d,
        target=target,
        reduction=reduction,
        expr=expr,
        dense=stabilize(expr),
        index=index,
        inputs=inputs,
        fixed=used_fixed,
        args=(*inputs, *used_fixed),
        event_inputs=event_inputs,
        scalar_arrays=scalar_arrays,
        event_index=k,
        event_size=K,
        first_event=next((n for n in event_inputs if n != "y"), None),
        checks=_checks.describe(d, link_inputs),
    )
