"""Derivation -> Plan: what every backend needs to generate a kernel.

A Plan is backend-neutral: the stabilized per-observation value (and its
class-index form), the argument order, the event layout and the value checks
as data. Each backend turns it into source text (``generate``); the text, not
the Plan, is what the cache keeps.

Every target goes through here (``symlik.compiler.targets``): the loss and the
NLL are one expression per observation; the gradient, score, Hessian and
Fisher information are a P-vector or a P x P matrix of expressions
(``shape``), each entry compiled like a loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import sympy as sp

from symlik.analysis.information import information
from symlik.core.errors import ConstraintError, NotSupportedError, SymlikError, UnknownNameError
from symlik.core.functions import basic
from symlik.derivation import Derivation, derive
from symlik.derivation.gradient import gradient, tidy
from symlik.rewrite.rules import stabilize
from symlik.compiler import checks
from symlik.compiler.codegen import gather_targets
from symlik.compiler.shift import softmax_inputs
from symlik.compiler.targets import HESSIAN_FORMS, HESSIANS, INFORMATION_TARGETS, SCALAR_TARGETS, TARGETS


@dataclass(frozen=True)
class Plan:
    derivation: Derivation
    target: str
    reduction: str
    expr: sp.Expr | sp.ImmutableMatrix  # exact per-observation value (loss, NLL, or a vector/matrix)
    dense: sp.Expr | sp.ImmutableMatrix  # stabilized
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
    # Per-observation shape of the value: () for a number, (P,) or (P, P). With a shape, or
    # for any target but the loss and the NLL, each value is broadcast to every input's shape
    # (a Fisher information 1/sigma^2 in mu is one value per observation, not one in all).
    shape: tuple = ()
    broadcast: bool = False

    def lowered(self, keep: tuple = ()) -> "Plan":
        """This plan for a backend without routines for symlik's stable functions
        (those not in ``keep``): each is rewritten to log-gamma, softplus, log1p, ...
        (``symlik.core.functions.basic``)."""
        if isinstance(self.dense, sp.MatrixBase):
            return replace(self, dense=self.dense.applyfunc(lambda e: basic(e, keep)))
        return replace(self, dense=basic(self.dense, keep), index=None if self.index is None else basic(self.index, keep))

    @cached_property
    def softmax_inputs(self) -> tuple[str, ...]:
        """The logits the stabilized value sees only through their softmax (proven by
        symlik.compiler.shift): a backend pins their rows with +inf entries to the limit."""
        return () if self.broadcast else softmax_inputs(self.dense)

    @property
    def entries(self) -> tuple:
        """The stabilized value's entries, row by row (one for a scalar target)."""
        return tuple(self.dense) if isinstance(self.dense, sp.MatrixBase) else (self.dense,)

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
            "shape": list(self.shape),
            "formula": sp.latex(self.expr),
            "expr_text": sp.sstr(self.expr),
            **({"event_length": d.spec.fixed_event_size} if getattr(d.spec, "fixed_event_size", None) else {}),
        }


def _jsonable(v):
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else a.tolist()


def _off_the_kink(e):
    # A delta function at a kink (laplace's Hessian in mu) is 0 everywhere an observation can
    # land with positive probability; the kernel gives the Hessian off the kink.
    return e.replace(lambda a: isinstance(a, sp.DiracDelta), lambda a: sp.S.Zero)


def _gathered(expr):
    """The NLL with each exponential's coefficient factored: a link's substitution expands
    e^(-2 z) (y - mu)^2 / 2 into three terms, whose derivatives cancel where y and mu are large
    and close; factored, (y - mu) is formed first. Exactly equal; unchanged where SymPy cannot."""
    if not expr.atoms(sp.exp):
        return expr
    try:
        expanded = sp.expand(expr)
        # the exponentials of the expanded form (e^(a + b) is e^a e^b there): keyed by the
        # original ones, nothing matched and every term was factored together, terms free of
        # any exponential (the Tweedie's log c(y, phi)) included
        exps = sorted(expanded.atoms(sp.exp), key=sp.default_sort_key)
        parts = sp.collect(expanded, exps, evaluate=False)
        return sp.Add(*(value if key == 1 else key * sp.factor(value) for key, value in parts.items()))
    except (sp.PolynomialError, NotImplementedError):  # pragma: no cover - SymPy gave up
        return expr


class EventGradHess(NotSupportedError):
    """The plan's grad_hess is over scalar inputs; an event distribution's is compiled apart."""


def _grad_hess(d, hessian, hessian_form):
    """Rows [gradient; Hessian diagonal] (2 x P) or [gradient; Hessian] ((1 + P) x P) of the NLL
    in the predicted inputs: what a gradient-boosting objective returns for each observation."""
    if d.spec.is_event:  # compile() builds these from the NLL kernel: symlik.compiler.event_grad_hess
        raise EventGradHess(f"target 'grad_hess' of event distributions ({d.spec.label}) is compiled by event_grad_hess")
    if hessian in ("softprob", "multiclass"):
        raise NotSupportedError(f"hessian {hessian!r} is a multi-class surrogate (XGBoost's, LightGBM's): softmax heads "
                                f"only (categorical or multinomial with link='softmax'), not {d.spec.label}")
    if hessian not in HESSIANS:
        raise UnknownNameError("hessian", hessian, HESSIANS)
    if hessian_form not in HESSIAN_FORMS:
        raise UnknownNameError("hessian_form", hessian_form, HESSIAN_FORMS)
    names = d.predicted_inputs
    P = len(names)
    # Differentiated from the stable form: its derivatives are again stable forms (sigmoid, digamma, ...).
    stable = stabilize(_gathered(d.nll))
    grads = [tidy(stabilize(_off_the_kink(gradient(stable, d, n)))) for n in names]
    if hessian == "fisher":
        info = information(d)
        if info.fisher is None:
            raise NotSupportedError(f"the Fisher information of {d.spec.label} has no closed form to compile")
        hess = [[stabilize(_off_the_kink(info.fisher[i, j])) for j in range(P)] for i in range(P)]
    else:
        hess = [[tidy(stabilize(_off_the_kink(gradient(grads[i], d, names[j])))) for j in range(P)] for i in range(P)]
        if hessian == "exact_clipped":
            for i in range(P):
                hess[i][i] = sp.Max(hess[i][i], 0)
    rows = [grads, [hess[i][i] for i in range(P)]] if hessian_form == "diagonal" else [grads, *hess]
    matrix = sp.ImmutableMatrix(rows)
    return matrix, matrix, matrix.shape


def _value(d, target, hessian="exact", hessian_form="diagonal"):
    """(exact value, stabilized value, shape) of ``target`` per observation."""
    if target == "grad_hess":
        return _grad_hess(d, hessian, hessian_form)
    if target in SCALAR_TARGETS:
        expr = d.loss.expr if target == "loss" else d.nll
        return expr, stabilize(expr), ()
    if target == "grad":
        if d.spec.is_event:
            raise NotSupportedError(
                f"target 'grad' of event distributions ({d.spec.label}) is not compiled yet; "
                "compile the loss and call Kernel.grad"
            )
        # The gradient of the stable form: its derivatives are again stable forms (sigmoid, digamma, ...).
        stable = stabilize(d.loss.expr)
        entries = [tidy(stabilize(gradient(stable, d, name))) for name in d.predicted_inputs]
        matrix = sp.ImmutableMatrix(entries)
        return _squeezed(matrix, (len(entries),)), _squeezed(matrix, (len(entries),)), _shape((len(entries),))
    info = information(d)  # raises NotSupportedError for event distributions
    matrix = {"score": info.score, "hessian": info.hessian, "fisher": info.fisher}[target]
    if matrix is None:
        raise NotSupportedError(f"the {target} of {d.spec.label} has no closed form to compile")
    full = (matrix.rows,) if target == "score" else (matrix.rows, matrix.cols)
    matrix = sp.ImmutableMatrix(matrix)
    dense = matrix.applyfunc(lambda e: stabilize(_off_the_kink(e)))
    return _squeezed(matrix, full), _squeezed(dense, full), _shape(full)


def _shape(full: tuple) -> tuple:
    # One predicted input: a number per observation, as the loss is.
    return () if full[0] == 1 else full


def _squeezed(matrix, full):
    return matrix[0] if full[0] == 1 else matrix


def _names_in(value) -> set:
    exprs = tuple(value) if isinstance(value, sp.MatrixBase) else (value,)
    names = set()
    for expr in exprs:
        names |= {str(s.base.label) if isinstance(s, sp.Indexed) else str(s) for s in expr.free_symbols}
        names |= {str(b.label) for b in expr.atoms(sp.IndexedBase)}
    return names


def make_plan(spec, *, target, reduction, fixed=None, predict=None, link=None, options=None,
              hessian="exact", hessian_form="diagonal") -> Plan:
    if target not in TARGETS:
        raise UnknownNameError("target", target, TARGETS)
    d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
    expr, dense, shape = _value(d, target, hessian, hessian_form)

    fixed = dict(fixed or {})
    for name, value in fixed.items():
        if name not in d.inputs:
            raise UnknownNameError(f"fixed parameter of {d.spec.label}", name, [n for n in d.inputs if n != "y"])
        if name == "y" or name in d.predicted_inputs:
            raise SymlikError(f"fixed cannot hold {name!r}: it is {'the target' if name == 'y' else 'predicted'}")
        c = (d.param(name) if hasattr(d, "param") else d.spec.param(name)).constraint
        if np.any(c.violations(value)):
            raise ConstraintError(f"fixed {name} must {c.rule} (got {value!r})")

    names_in_expr = _names_in(expr)
    # The loss, the NLL and their gradient always take y; the score and Hessian when they use it,
    # the Fisher information (an expectation over y) never.
    takes_y = target not in INFORMATION_TARGETS
    inputs = tuple(
        n for n in d.inputs if (n in d.predicted_inputs or (n == "y" and takes_y) or n in names_in_expr) and n not in fixed
    )
    used_fixed = {n: v for n, v in fixed.items() if n in names_in_expr}

    spec_ = d.spec
    k = spec_.index if spec_.is_event else None
    K = spec_.K if spec_.is_event else None
    event_inputs = tuple(n for n in (*inputs, *used_fixed) if isinstance(d.symbols.get(n), sp.Indexed))
    scalar_arrays = tuple(n for n in (*inputs, *used_fixed) if n not in event_inputs)
    index = None
    if spec_.support.kind == "onehot" and target in SCALAR_TARGETS:
        index = stabilize(gather_targets(expr, d.y.base, k))
    link_inputs = {n for n in d.predicted_inputs if n not in d.predict}
    return Plan(
        derivation=d,
        target=target,
        reduction=reduction,
        expr=expr,
        dense=dense,
        index=index,
        inputs=inputs,
        fixed=used_fixed,
        args=(*inputs, *used_fixed),
        event_inputs=event_inputs,
        scalar_arrays=scalar_arrays,
        event_index=k,
        event_size=K,
        first_event=next((n for n in event_inputs if n != "y"), None),
        checks=checks.describe(d, link_inputs),
        shape=shape,
        broadcast=target not in SCALAR_TARGETS,
    )
