"""compile(): derivation -> array kernel, one printer per backend."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..derivation import Derivation, derive
from ..errors import ConstraintError, SymlikError, UnknownNameError
from ..rewrite.rules import stabilize
from . import _numpy_runtime
from .codegen import SymlikNumPyPrinter, function_source, gather_targets
from .kernel import REDUCTIONS, Kernel

BACKENDS = ("numpy",)
TARGETS = ("loss", "nll")
INFORMATION_TARGETS = ("score", "hessian", "fisher")


def _checks(d: Derivation, link_inputs: set) -> dict:
    spec = d.spec
    checks = {}
    for name in d.inputs:
        if name == "y":
            continue
        if name in link_inputs:
            checks[name] = (_finite_or_inf, "be real (a pre-activation; nan is not allowed)")
        else:
            c = d.param(name).constraint
            checks[name] = (c, c.rule)
    checks["y"] = _support_check(spec)
    if spec.support.kind == "onehot":
        checks["y_index"] = (_class_index_check, "be a class index in [0, C) where C is the size of the last axis")
    return checks


def _finite_or_inf(a, arrays):
    return np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)


def _class_index_check(y, arrays):
    ref = next(a for n, a in arrays.items() if n != "y" and a.ndim)
    C = ref.shape[-1]
    return (y < 0) | (y >= C)


def _support_check(spec):
    s = spec.support

    def check(y, arrays):
        with np.errstate(invalid="ignore"):
            bad = np.isnan(y) if y.dtype.kind == "f" else np.zeros(y.shape, bool)
            if s.kind in ("continuous", "discrete"):
                # A bound named by a parameter (binomial's n) is checked when that array is given.
                lo = arrays.get(s.lower) if isinstance(s.lower, str) else s.lower
                hi = arrays.get(s.upper) if isinstance(s.upper, str) else s.upper
                if lo is not None:
                    bad |= (y <= lo) if s.open_lower else (y < lo)
                if hi is not None:
                    bad |= (y >= hi) if s.open_upper else (y > hi)
                if s.kind == "discrete":
                    bad |= y != np.floor(y)
                else:
                    bad |= np.isinf(y)
            elif s.kind in ("onehot", "simplex"):
                bad |= (y < 0) | (y > 1)
                if y.ndim:
                    bad |= ~np.isclose(y.sum(axis=-1), 1.0, rtol=1e-6, atol=1e-6)[..., None]
            elif s.kind == "reals_vector":
                bad |= ~np.isfinite(y)
            elif s.kind == "counts_vector":
                bad |= _counts_vector_violations(y, arrays.get(s.upper) if isinstance(s.upper, str) else s.upper)
        return bad

    rule = {
        "onehot": "be one-hot or a probability vector over the last axis",
        "simplex": "lie on the probability simplex over the last axis",
        "reals_vector": "be finite",
        "counts_vector": f"be nonnegative integer counts summing to {s.upper} over the last axis",
    }.get(s.kind, f"lie in the support {s.describe()}")
    return (check, rule)


def _counts_vector_violations(y, total):
    """Entries of a count vector that are not nonnegative integers, and whole rows
    whose sum is not the total (when the total is given)."""
    bad = (y < 0) | (y != np.floor(y))
    if total is not None and y.ndim:
        with np.errstate(invalid="ignore"):
            bad |= (y.sum(axis=-1) != np.asarray(total))[..., None]
    return bad


def compile(
    spec,
    target: str = "loss",
    backend: str = "numpy",
    reduction: str = "mean",
    *,
    fixed: dict | None = None,
    predict=None,
    link: str | None = None,
    options: dict | None = None,
    validate: bool = True,
    **loss_options,
) -> Kernel:
    """Compile a derivation into an array kernel.

    Parameters
    ----------
    spec : str, Distribution or Derivation
    target : {"loss", "nll", "score", "hessian", "fisher"}
        ``"loss"`` is the canonical loss (``d.loss.expr``); ``"nll"`` the exact NLL;
        ``"score"``, ``"hessian"`` and ``"fisher"`` return a P-vector or P x P matrix per
        observation (see ``symlik.information.compile_information``).
    backend : {"numpy"}
    reduction : {"mean", "sum", "none"}
        Over observations, like torch's losses.
    fixed : dict, optional
        Values for parameters that are neither predicted nor passed at call time.
    validate : bool
        Check array values against constraints and supports on every call.
    **loss_options
        torch.nn.functional's options, with its semantics: ``label_smoothing``,
        ``ignore_index``, ``class_weight`` (cross_entropy's per-class ``weight``),
        ``pos_weight``, ``soft_targets``, ``eps``, ``full``, ``log_input``, ``exact``.
        They are derived symbolically (see ``kernel.derivation.steps``); see
        ``symlik.backends.options``. Per-sample weights are given at call time:
        ``kernel(..., weight=w)``.
    """
    if target in INFORMATION_TARGETS:  # score / Hessian / Fisher information: symlik.information
        from ..information import compile_information

        if backend not in BACKENDS:
            raise UnknownNameError("backend", backend, BACKENDS)
        d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
        return compile_information(d, target, reduction=reduction, fixed=fixed, validate=validate)
    if target not in TARGETS:
        raise UnknownNameError("target", target, TARGETS + INFORMATION_TARGETS)
    if reduction not in REDUCTIONS:
        raise UnknownNameError("reduction", reduction, REDUCTIONS)
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, BACKENDS)
    d = spec if isinstance(spec, Derivation) else derive(spec, predict=predict, link=link, options=options)
    if loss_options or d.loss_options:
        from .options import compile_with_options

        return compile_with_options(
            d, loss_options, target=target, backend=backend, reduction=reduction, fixed=fixed, validate=validate
        )
    expr = d.loss.expr if target == "loss" else d.nll

    fixed = dict(fixed or {})
    for name, value in fixed.items():
        if name not in d.inputs:
            raise UnknownNameError(f"fixed parameter of {d.spec.label}", name, [n for n in d.inputs if n != "y"])
        if name == "y" or name in d.predicted_inputs:
            raise SymlikError(f"fixed cannot hold {name!r}: it is {'the target' if name == 'y' else 'predicted'}")
        c = d.param(name).constraint
        if np.any(c.violations(value)):
            raise ConstraintError(f"fixed {name} must {c.rule} (got {value!r})")

    names_in_expr = {str(s.base.label) if isinstance(s, sp.Indexed) else str(s) for s in expr.free_symbols}
    names_in_expr |= {str(b.label) for b in expr.atoms(sp.IndexedBase)}
    inputs = tuple(n for n in d.inputs if (n in d.predicted_inputs or n == "y" or n in names_in_expr) and n not in fixed)
    used_fixed = {n: v for n, v in fixed.items() if n in names_in_expr}

    spec_ = d.spec
    k = spec_.index if spec_.is_event else None
    K = spec_.K if spec_.is_event else None
    event_inputs = tuple(
        n for n in (*inputs, *used_fixed) if isinstance(d.symbols.get(n), sp.Indexed)
    )
    scalar_arrays = tuple(n for n in (*inputs, *used_fixed) if n not in event_inputs)
    args = (*inputs, *used_fixed)
    first_event = next((n for n in event_inputs if n != "y"), None)

    printer = SymlikNumPyPrinter(event_index=k, event_size=K, scalar_arrays=scalar_arrays)
    source = function_source("dense", stabilize(expr), args, printer=printer, event_size_from=first_event)
    index_targets = spec_.support.kind == "onehot"
    if index_targets:
        y_base = d.y.base
        iprinter = SymlikNumPyPrinter(event_index=k, event_size=K, scalar_arrays=scalar_arrays)
        gathered = stabilize(gather_targets(expr, y_base, k))
        source += "\n\n" + function_source(
            "index", gathered, args, printer=iprinter, event_size_from=first_event,
            gathers=[n for n in event_inputs if n != "y"],
        )
    namespace = dict(_numpy_runtime.NAMESPACE)
    exec(builtins_compile(source, f"<symlik kernel {d.slug}>", "exec"), namespace)  # noqa: S102 - our own generated code
    functions = {"dense": namespace["dense"]}
    if index_targets:
        functions["index"] = namespace["index"]
    link_inputs = {n for n in d.predicted_inputs if n not in d.predict}
    return Kernel(
        functions=functions,
        source=source,
        inputs=inputs,
        fixed=used_fixed,
        checks=_checks(d, link_inputs),
        reduction=reduction,
        backend=backend,
        target=target,
        derivation=d,
        validate=validate,
        event_inputs=event_inputs,
        index_targets=index_targets,
        formula=sp.latex(expr),
    )


import builtins as _builtins  # noqa: E402

builtins_compile = _builtins.compile
