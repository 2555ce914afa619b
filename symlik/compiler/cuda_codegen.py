"""CUDA C for the CuPy backend: per-observation value and gradient, from SymPy.

The printer is the scalar printer (``scalar_codegen``) with C names: its
function table is merged from the scalar one, and what CUDA's math library
lacks is listed in ``missing`` and raises NotSupportedError. ``pieces``
adds to the scalar fragments the partial derivatives that the gradient
kernel needs:

* scalar inputs x: d(row)/dx, by SymPy;
* event inputs x (e.g. logits): d(row)/dx_k = sum over row terms of
  d(row)/d(term) * d(term)/dx_k, where a LogSumExp term L over x has
  dL/dx_k = exp(x_k - L) (the softmax) and a row sum has the derivative of
  its summand; a gathered x_y adds d(row)/d(x_y) at k = y.
"""

from __future__ import annotations

import json

import sympy as sp

from symlik.core.errors import NotSupportedError
from symlik.compiler import scalar_codegen
from symlik.compiler.codegen import GATHER_SUFFIX
from symlik.compiler.scalar_codegen import RowLSE, ScalarPrinter, lower, table_printed


@table_printed
class CudaPrinter(ScalarPrinter):
    language = "cupy"
    functions = {
        **ScalarPrinter.functions,
        "exp": "exp",
        "log": "log",
        "log1p": "log1p",
        "expm1": "expm1",
        "sqrt": "sqrt",
        "loggamma": "lgamma",
        "lgamma": "lgamma",
        "sin": "sin",
        "cos": "cos",
        "tanh": "tanh",
        "cosh": "cosh",
        "atan": "atan",
        "erf": "erf",
        "erfc": "erfc",
        # the device helpers of cupy_backend.PREAMBLE
        "Softplus": "sl_softplus",
        "Sigmoid": "sl_sigmoid",
        "XLogY": "sl_xlogy",
        "XLog1PY": "sl_xlog1py",
        "sign": "sl_sign",
    }
    # CUDA's math library has no digamma/polygamma or zeta (CuPy has them only as
    # ufuncs, not as device functions).
    missing = frozenset({"digamma", "polygamma", "zeta", "LogNdtr", "LogErfc", "InverseMills"})  # (the last three: lowered first)

    def _print_Symbol(self, expr):
        if expr.name.startswith("L_row"):
            return expr.name
        return super()._print_Symbol(expr)

    def _num(self, value) -> str:
        return repr(float(value))  # double: every CUDA kernel computes in float64

    def _abs(self, s):
        return f"fabs({s})"

    def _max(self, a, b):
        return f"fmax({a}, {b})"

    def _min(self, a, b):
        return f"fmin({a}, {b})"

    def _pow(self, b, e):
        return f"pow({b}, {e})"

    def _inf(self):
        return "SL_INF"

    # -- conditionals: C's ternary and logical operators, not Python's `a if c else b`
    def _print_Piecewise(self, expr):
        *pairs, (last, cond) = expr.args
        out = self._print(last) if cond == sp.true else f"(({self._print(cond)}) ? ({self._print(last)}) : SL_NAN)"
        for value, c in reversed(pairs):
            out = f"(({self._print(c)}) ? ({self._print(value)}) : ({out}))"
        return f"({out})"

    def _print_And(self, expr):
        return "(" + " && ".join(f"({self._print(a)})" for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " || ".join(f"({self._print(a)})" for a in expr.args) + ")"

    def _print_Not(self, expr):
        return f"(!({self._print(expr.args[0])}))"

    def _print_BooleanTrue(self, expr):
        return "1"

    def _print_BooleanFalse(self, expr):
        return "0"

    def _print_Derivative(self, expr):
        raise NotSupportedError(f"no closed-form derivative of {expr.expr.func.__name__} for the gradient kernel")

    def _print_Subs(self, expr):
        raise NotSupportedError("no closed-form derivative for the gradient kernel")


def _grad_pieces(low, plan_names, event_names, gathers, predicted, event_index, printer):
    """Printed partial derivatives for each predicted input, or None when one has no closed form."""
    L = {i: sp.Symbol(f"L_row{i}", real=True) for i in range(len(low.lse))}
    row = low.row.replace(lambda e: isinstance(e, RowLSE), lambda e: L[int(e.args[0])])
    t = [sp.Symbol(f"t_sum{j}", real=True) for j in range(len(low.sums))]
    symbols = {str(s): s for s in row.free_symbols}
    out = {}
    try:
        for name in predicted:
            if name in event_names:
                terms = []
                for i, x in enumerate(low.lse):
                    if x == name:
                        terms.append((printer.doprint(sp.diff(row, L[i])), f"exp(v_{name}_k - L_row{i})"))
                for j, summand in enumerate(low.sums):
                    base = next((b for b in summand.atoms(sp.IndexedBase) if str(b.label) == name), None)
                    if base is None:
                        continue
                    d = sp.diff(summand, base[event_index])
                    if d != 0:
                        terms.append((printer.doprint(sp.diff(row, t[j])), printer.doprint(d)))
                at_y = symbols.get(f"{name}{GATHER_SUFFIX}")
                entry = {"event": True, "terms": [list(p) for p in terms], "at_y": printer.doprint(sp.diff(row, at_y)) if at_y is not None else None}
            else:
                sym = symbols.get(name)
                if any(sp.Symbol(name, real=True) in s.free_symbols or sym in s.free_symbols for s in low.sums if sym is not None):
                    raise NotSupportedError(f"no gradient kernel for {name}: it enters a sum over the event axis")
                entry = {"event": False, "direct": printer.doprint(sp.diff(row, sym)) if sym is not None else "0.0"}
            out[name] = entry
    except NotSupportedError:
        return None
    return out


def pieces(expr, *, event_index, event_size, predicted) -> dict:
    form = scalar_codegen.pieces(expr, event_index=event_index, event_size=event_size, printer_class=CudaPrinter)
    low = lower(expr, event_index)
    printer = CudaPrinter(event_index=event_index, event_size=event_size)
    form["grad"] = _grad_pieces(low, form["row_names"], set(form["event_names"]), form["gathers"], predicted, event_index, printer)
    return form


def generate(plan) -> str:
    """The CuPy backend's source: JSON holding the C fragments of each form (``pieces``),
    which ``cupy_backend.kernel_source`` wraps into raw kernels. A vector or matrix target
    has one form per entry, ``entry0``, ``entry1``, ... row by row (and no gradient kernel)."""
    pinned = list(plan.softmax_inputs)  # proven on the stable form, before lowering
    plan = plan.lowered()
    predicted = plan.predicted
    layout = dict(event_index=plan.event_index, event_size=plan.event_size)
    if plan.shape:
        forms = {f"entry{i}": pieces(e, **layout, predicted=()) for i, e in enumerate(plan.entries)}
    else:
        forms = {"dense": {**pieces(plan.dense, **layout, predicted=predicted), "pinned": pinned}}
        if plan.index is not None:
            forms["index"] = pieces(plan.index, **layout, predicted=predicted)
    spec = {"args": list(plan.args), "predicted": list(predicted), "forms": forms}
    if plan.shape:
        spec["shape"] = list(plan.shape)
    return json.dumps(spec, indent=1, sort_keys=True)
