"""Gradient kernels: the symbolic gradient of a compiled target, made stable,
printed by the same printer as the value, and reduced like the value.

For each predicted input the gradient expression is derived by
``derivation.gradient`` from the *stable* form of the target (softplus,
logsumexp, xlogy, gammaln, ...), whose derivatives are again stable forms
(sigmoid, softmax, x/y with 0/0 = 0, digamma, ...), then rewritten once more
by the stability rules. ``value_and_grad`` prints the value and the gradients
as one function after common-subexpression elimination, so shared pieces
(y - mu, 1/sigma^2, the softmax) are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.codegen.scipy_nodes import cosm1

from symlik.derivation.gradient import gradient, tidy
from symlik.core.functions import Log1pPositive, LogSumExp, PowExactBase, Softplus
from symlik.rewrite.rules import stabilize
from symlik.compiler import _numpy_runtime
from symlik.compiler.codegen import GATHER_SUFFIX, SymlikNumPyPrinter, gather_targets, share_rows, softmax_minus_form
from symlik.compiler.kernel import apply_weight, reduce_observations
from symlik.compiler.plan import make_plan


@dataclass
class GradFunctions:
    grad: dict  # "dense" / "index" -> function returning a tuple of gradients
    value_and_grad: dict  # -> function returning (value, tuple of gradients)
    expressions: dict  # predicted input name -> stable gradient expression
    source: str


class _Printer(SymlikNumPyPrinter):
    """The NumPy printer, with class-index targets printed as one-hot rows where
    a gradient needs the target component y_k outside a sum."""

    def __init__(self, *a, onehot_like=None, **kw):
        super().__init__(*a, **kw)
        self.onehot_like = onehot_like

    def _print_Indexed(self, expr):
        if self.onehot_like is not None and str(expr.base.label) == "y":
            return f"_onehot(y, {self.onehot_like})"
        return super()._print_Indexed(expr)


def kernel_plan(kernel):
    """The Plan a NumPy kernel was printed from (its event index and size, its softmax inputs)."""
    return make_plan(kernel.derivation, target=kernel.target, reduction=kernel.reduction, fixed=kernel.fixed)


def _stable_gradients(plan) -> dict:
    d = plan.derivation
    return {name: tidy(stabilize(gradient(plan.dense, d, name))) for name in plan.predicted}


def _keep_whole(e) -> bool:
    # Softplus and logsumexp print differently inside a sum (the subtraction comes
    # first, for accuracy); they must stay inside the expression they belong to.
    return isinstance(e, (Softplus, LogSumExp))


def _common_factor(e):
    """2*mu - 2*y -> 2*(mu - y) at the top level: one multiplication instead of two."""
    if not isinstance(e, sp.Add):
        return e
    coeffs = [t.as_coeff_Mul()[0] for t in e.args]
    if not all(c.is_Rational for c in coeffs):
        return e
    g = sp.gcd_list(coeffs) if len(coeffs) > 1 else sp.S.One
    if g in (0, 1):
        return e
    if all(c < 0 for c in coeffs):
        g = -g
    return sp.Mul(g, sp.Add(*(t / g for t in e.args)), evaluate=False)


def _body(exprs, names, printer, k, event_size, first_event, gathers, with_cse, event_flags):
    """Lines of a function body that computes ``exprs`` into ``names``."""
    original = list(exprs)
    exprs = [softmax_minus_form(e) for e in exprs]
    if with_cse:
        # A double-double base must reach the printer whole (its structure is how it is
        # evaluated exactly): hide such powers from the elimination, then put them back.
        hidden = {}

        def hide(e):
            key = sp.Symbol(f"_pow{len(hidden)}")
            hidden[key] = e
            return key

        # Their arguments are evaluated as double-doubles, or (Log1pPositive) read factor by factor
        # as a sum of logs where the product overflows: a common subexpression would hide the factors.
        exact_args = (PowExactBase, sp.cos, sp.sin, cosm1, Log1pPositive)
        exprs = [e.replace(lambda x: isinstance(x, exact_args), hide) for e in exprs]
        replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_t"), order="none")
        replacements = [(s_, r.xreplace(hidden)) for s_, r in replacements]
        reduced = [e.xreplace(hidden) for e in reduced]
        inline = {}
        temps = []
        for sym, rhs in replacements:
            rhs = rhs.xreplace(inline)
            if _keep_whole(rhs):
                inline[sym] = rhs
                continue
            if k is not None and k in rhs.free_symbols:  # an array over the event axis
                inline_sym = sp.IndexedBase(sym.name, real=True)[k]
                inline[sym] = inline_sym
                temps.append((inline_sym, rhs))
            else:
                temps.append((sym, rhs))
                printer.scalar_arrays.add(sym.name)
        reduced = [e.xreplace(inline) for e in reduced]
    else:
        temps, reduced = [], list(exprs)
    lines, defined_e = [], set()

    def emit(target, rhs, event):
        before = set(printer.used_event_arrays)
        printer._in_event += event  # an array over the event axis: observation-level arrays get one
        try:
            text = printer.doprint(rhs)
        finally:
            printer._in_event -= event
        for name in sorted(printer.used_event_arrays - before - defined_e):
            lines.append(f"{name}_e = _event({name})")
            defined_e.add(name)
        lines.append(f"{target} = {text}")

    for sym, rhs in temps:
        emit(printer._print(sym), _common_factor(rhs), isinstance(sym, sp.Indexed))
    for name, e, is_event in zip(names, reduced, event_flags):
        emit(name, _common_factor(e), is_event)
    head = []
    everything = original
    if event_size is not None and first_event is not None and any(e.has(event_size) for e in everything):
        head.append(f"{event_size} = {first_event}.shape[-1]")
    text = "\n".join(lines)
    for name in gathers:
        if f"{name}{GATHER_SUFFIX}" in text:
            head.append(f"{name}{GATHER_SUFFIX} = _gather({name}, y)")
    return head + lines


def _function(fname, args, body, returns):
    if any("_branches(" in b for b in body):
        # A piecewise gradient: common subexpressions are hoisted out of the branches (pi**-1 of
        # a zero-inflated model's y = 0 branch), so they are evaluated where that branch is not
        # taken too (pi = 0, y > 0); their warnings are those of branches not taken, as in
        # _branches itself. The values taken are unaffected.
        body = ['with np.errstate(divide="ignore", invalid="ignore", over="ignore"):', *(f"    {b}" for b in body)]
    body = share_rows([*body, f"return {returns}"])
    lines = [f"def {fname}({', '.join(args)}):", *(f"    {b}" for b in body)]
    return "\n".join(lines) + "\n"


def build(kernel) -> GradFunctions:
    """Compile (once per kernel) the gradient and value-and-gradient functions."""
    if kernel._grad is not None:
        return kernel._grad
    plan = kernel_plan(kernel)
    d = plan.derivation
    k, K = plan.event_index, plan.event_size
    grads = _stable_gradients(plan)
    names = list(grads)
    gnames = [f"grad_{n}" for n in names]
    value = plan.dense
    gtuple = "(" + "".join(f"{g}, " for g in gnames) + ")"
    modes = {"dense": (value, list(grads.values()), None)}
    if plan.index is not None:
        y_base = d.y.base
        modes["index"] = (
            plan.index,
            [stabilize(gather_targets(g, y_base, k)) for g in grads.values()],
            plan.first_event,
        )
    sources, functions_grad, functions_vg = [], {}, {}
    for mode, (val, gexprs, onehot_like) in modes.items():
        gathers = [n for n in kernel.event_inputs if n != "y"] if mode == "index" else []

        # A gathered value (class_weight at the target) is one per observation, like a scalar input.
        observation_arrays = (*plan.scalar_arrays, *(f"{n}{GATHER_SUFFIX}" for n in gathers))

        def printer():
            return _Printer(event_index=k, event_size=K, scalar_arrays=observation_arrays, onehot_like=onehot_like)

        flags = [n in kernel.event_inputs for n in names]
        # logits seen only through their softmax: rows with +inf entries pinned to their limit
        # (symlik.compiler.shift); the index form's _logsumexp_minus does its own
        pins = [f"{n} = _pin_infinite_rows({n})" for n in plan.softmax_inputs] if mode == "dense" else []
        body = pins + _body(gexprs, gnames, printer(), k, K, plan.first_event, gathers, True, flags)
        sources.append(_function(f"grad_{mode}", plan.args, body, gtuple))
        body = pins + _body([val, *gexprs], ["value", *gnames], printer(), k, K, plan.first_event, gathers, True, [False, *flags])
        sources.append(_function(f"value_and_grad_{mode}", plan.args, body, f"value, {gtuple}"))
    source = "\n\n".join(sources)
    namespace = dict(_numpy_runtime.NAMESPACE)
    exec(compile(source, f"<symlik gradient {d.slug}>", "exec"), namespace)  # noqa: S102 - our own generated code
    for mode in modes:
        functions_grad[mode] = namespace[f"grad_{mode}"]
        functions_vg[mode] = namespace[f"value_and_grad_{mode}"]
    kernel._grad = GradFunctions(functions_grad, functions_vg, grads, source)
    return kernel._grad


def diagonal_hessian_functions(kernel) -> GradFunctions:
    """Compile (once per kernel) the diagonal of the NLL's Hessian in each predicted input,
    per observation: for an event input z (softmax logits) d^2 NLL / d z_k^2, the derivative of
    the gradient's k-th component in z_k (``derivation.gradient``: d s_j / d z_k =
    s_j (delta_jk - s_k), so s_k (1 - s_k) times the count). The functions are printed like
    the gradient's, so ``run(..., fns=...)`` reduces and weighs them the same way."""
    cached = getattr(kernel, "_hess_diag", None)
    if cached is not None:
        return cached
    plan = kernel_plan(kernel)
    d = plan.derivation
    k, K = plan.event_index, plan.event_size
    exprs = {name: tidy(stabilize(gradient(gradient(plan.dense, d, name), d, name))) for name in plan.predicted}
    names = [f"hess_{n}" for n in exprs]
    htuple = "(" + "".join(f"{h}, " for h in names) + ")"
    modes = {"dense": (list(exprs.values()), None)}
    if plan.index is not None:
        modes["index"] = ([stabilize(gather_targets(h, d.y.base, k)) for h in exprs.values()], plan.first_event)
    sources = []
    for mode, (hexprs, onehot_like) in modes.items():
        gathers = [n for n in kernel.event_inputs if n != "y"] if mode == "index" else []
        observation_arrays = (*plan.scalar_arrays, *(f"{n}{GATHER_SUFFIX}" for n in gathers))
        printer = _Printer(event_index=k, event_size=K, scalar_arrays=observation_arrays, onehot_like=onehot_like)
        flags = [n in kernel.event_inputs for n in exprs]
        pins = [f"{n} = _pin_infinite_rows({n})" for n in plan.softmax_inputs] if mode == "dense" else []
        body = pins + _body(hexprs, names, printer, k, K, plan.first_event, gathers, True, flags)
        sources.append(_function(f"hess_{mode}", plan.args, body, htuple))
    source = "\n\n".join(sources)
    namespace = dict(_numpy_runtime.NAMESPACE)
    exec(compile(source, f"<symlik Hessian diagonal {d.slug}>", "exec"), namespace)  # noqa: S102 - our own generated code
    kernel._hess_diag = GradFunctions({mode: namespace[f"hess_{mode}"] for mode in modes}, {}, exprs, source)
    return kernel._hess_diag


def value_functions(kernel) -> dict:
    """The generated per-observation value functions of a NumPy kernel ("dense", and "index"
    for class-index targets), for a caller that binds, converts and checks its inputs itself
    (``symlik.torch.Loss`` on its fast path); called with the inputs and fixed values by name."""
    return kernel._functions


def _sum_to_shape(g, shape):
    """Sum a broadcast gradient back to the shape of its input (as autograd does)."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    out = np.sum(g, axis=axes, keepdims=True) if axes else g
    return out.reshape(shape)


def run(kernel, args, kwargs, *, with_value: bool, weight=None, fns=None):
    """The gradient (or ``fns``' expressions: ``diagonal_hessian_functions``), per input."""
    fns = fns or build(kernel)
    arrays, use_index, dtype = kernel._prepare(args, kwargs)
    values = arrays
    mode = "index" if use_index else "dense"
    call = {n: values[n] for n in kernel.inputs}
    call.update({n: values[n] for n in kernel.fixed})
    with np.errstate(over="ignore", under="ignore"):
        if with_value:
            value, grads = fns.value_and_grad[mode](**call)
        else:
            value, grads = None, fns.grad[mode](**call)
    # The observations: every input's shape broadcast, less the event axis.
    obs_shapes = []
    for n, a in arrays.items():
        event = n in kernel.event_inputs and not (n == "y" and use_index)
        obs_shapes.append(a.shape[:-1] if event else a.shape)
    obs_shape = np.broadcast_shapes(*obs_shapes)
    n_obs = int(np.prod(obs_shape)) if obs_shape else 1
    mean = kernel.reduction == "mean"
    if weight is not None:
        w = apply_weight(np.ones(obs_shape, dtype=dtype), weight, kernel.validate)
    out = []
    for name, g in zip(fns.expressions, grads):
        a = arrays[name]
        event = name in kernel.event_inputs
        full = obs_shape + (a.shape[-1],) if event else obs_shape
        g = np.asarray(g, dtype=dtype)
        if weight is not None:  # d/dx of sum_i w_i loss_i is w_i times loss_i's gradient
            g = g * (w[..., None] if event else w)
        if mean:
            g = g / n_obs  # a Python int: the division stays in the input's dtype
        g = np.broadcast_to(g, full) if g.shape != full else g
        g = _sum_to_shape(g, a.shape)
        out.append(g if g.flags.c_contiguous and g.flags.writeable else g.copy())  # never a read-only broadcast view
    if not with_value:
        return tuple(out)
    value = np.asarray(value, dtype=dtype)
    value = np.broadcast_to(value, obs_shape) if value.shape != obs_shape else value
    if weight is not None:
        value = value * w
    if kernel.reduction != "none":
        value = reduce_observations(value, kernel.reduction)
    return value, tuple(out)


__all__ = ["build", "run", "GradFunctions"]
