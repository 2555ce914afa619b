"""Per-element code for the loop backends (fused CPU, CUDA): the "scalar" view.

The array backends print a whole-array expression; the loop backends need
the value of ONE observation, written in scalar arithmetic, plus the
per-row reductions an event loss needs first. ``lower`` splits a stabilized
expression into

* row terms: each LogSumExp over the event axis (computed as a row max ``m``
  and a sum of exponentials ``s``, so LSE = m + log s never overflows) and
  each other Sum over the event axis (its summand, one component at a time);
* the row expression, in which those terms are placeholders.

Scalar (non-event) losses have no row terms. The printers here turn the
pieces into source fragments; the loop around them is assembled without
SymPy by the backend's runtime (so a cached kernel never needs SymPy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from symlik.core.errors import NotSupportedError
from symlik.core.functions import InverseMills, LogErfc, LogNdtr, LogSumExp, Sigmoid, Softplus, XLogY
from symlik.compiler.codegen import GAMMA_FAMILY, GATHER_SUFFIX, cross_entropy_terms, log_gamma_form, scaled_square


class RowLSE(sp.Function):
    """Placeholder for the i-th row LogSumExp, m_i + log1p(s_i): m_i the row max, s_i the
    sum of exp(z - m_i) over every entry but one maximal one (computed by the runtime)."""

    nargs = 1

    def _eval_is_real(self):
        return True


class RowMax(sp.Function):
    """Placeholder for m_i, the max of the i-th row LogSumExp's input (computed by the runtime
    before the row sums, which may use it); RowMax(z_base) until ``lower`` numbers it."""

    nargs = 1

    def _eval_is_real(self):
        return True


class RowLog1pRest(sp.Function):
    """Placeholder for log1p(s_i): RowLSE(i) - RowMax(i)."""

    nargs = 1

    def _eval_is_real(self):
        return True


@dataclass(frozen=True)
class Lowered:
    row: sp.Expr  # the per-observation value, with placeholders
    lse: tuple[str, ...]  # array name of each row LogSumExp (RowLSE(i))
    sums: tuple[sp.Expr, ...]  # summand of each row sum (Symbol t_sum{i}), in Indexed form


def split_cross_entropy(expr: sp.Expr) -> sp.Expr:
    """c (LogSumExp(z) sum_k w_k - sum_k w_k z_k) as c (sum_k w_k (m - z_k) + log1p(s) sum_k w_k),
    with m and log1p(s) the row terms of LogSumExp(z) = m + log1p(s): two sums of terms >= 0,
    where a confident right answer (m - z_y = 0) would otherwise cancel to 2 digits
    (codegen.cross_entropy_terms). Before lowering, while the target's weights are still XMul."""
    ce = cross_entropy_terms(expr)
    if ce is None:
        return expr
    z = ce.zbase
    return ce.summed(RowMax(z) - z[ce.k]) + ce.c * RowLog1pRest(z) * sp.Sum(ce.w, (ce.k, 1, ce.size)) + ce.rest


def lower(expr: sp.Expr, event_index=None) -> Lowered:
    lse: list[str] = []
    sums: list[sp.Expr] = []

    def row_index(base):
        name = str(base.label if isinstance(base, sp.IndexedBase) else base)
        if name not in lse:
            lse.append(name)
        return lse.index(name)

    def take_lse(e):
        return RowLSE(row_index(e.args[0]))

    def take_sum(s):
        (k, lo, hi) = s.limits[0]
        if event_index is None or k != event_index or len(s.limits) != 1:
            raise NotSupportedError(f"only sums over the event axis compile; got {s}")
        if not s.function.has(sp.Indexed):  # a constant summand: K copies
            return (hi - lo + 1) * s.function
        if s.function not in sums:
            sums.append(s.function)
        return sp.Symbol(f"t_sum{sums.index(s.function)}", real=True)

    # log y!, log C(n, y), log B(a, b): sums of log-gamma terms (Gamma overflows at 171).
    expr = expr.replace(
        lambda e: isinstance(e, sp.log) and e.args[0].has(*GAMMA_FAMILY), lambda e: log_gamma_form(e.args[0])
    )
    expr = expr.replace(
        lambda e: isinstance(e, XLogY) and e.args[1].has(*GAMMA_FAMILY), lambda e: e.args[0] * log_gamma_form(e.args[1])
    )
    # Constant subexpressions (log 2, log pi) become numbers once, not a log per element.
    expr = expr.replace(
        lambda e: isinstance(e, sp.Function) and e.is_number and not e.has(sp.Indexed), lambda e: sp.Float(e.evalf(20), 17)
    )
    # RowMax(z) and RowLog1pRest(z) (split_cross_entropy) name the row term they belong to; numbered
    # here, after constant folding (RowMax(0) would look like a number to it)
    expr = expr.replace(
        lambda e: isinstance(e, (RowMax, RowLog1pRest)) and isinstance(e.args[0], sp.IndexedBase),
        lambda e: type(e)(row_index(e.args[0])),
    )
    row = expr.replace(lambda e: isinstance(e, LogSumExp), take_lse)
    row = row.replace(lambda e: isinstance(e, sp.Sum), take_sum)
    if row.has(sp.Indexed):
        raise NotSupportedError("an event component outside a sum over the event axis does not compile")
    return Lowered(row=row, lse=tuple(lse), sums=tuple(sums))


# Stable functions the fused runtime computes by a helper of its own (_fused_runtime's
# _normal_tail_helpers), not lowered to nested branches in every kernel.
RUNTIME_KEEPS = (LogNdtr, LogErfc, InverseMills)


class ScalarPrinter(PythonCodePrinter):
    """Scalar arithmetic in plain Python syntax with symlik's stable helpers.

    Names: input ``x`` is ``v_x`` (this observation's value), its event
    component inside a row sum is ``v_x_k``, a gathered class-index entry is
    ``v_x__at_y``, the event size is ``K_``; row terms are ``m{i}``/``s{i}``
    (LogSumExp) and ``t_sum{i}``. Helper calls (``_exp``, ``_log``,
    ``_log1p``, ``_xlogy``, ...) are provided by each backend's runtime, so one
    printed fragment serves numba and (through the C subclass) CUDA.
    """

    # Functions each runtime provides, SymPy name -> helper name.
    functions = {
        "exp": "_exp",
        "log": "_log",
        "log1p": "_log1p",
        "expm1": "_expm1",
        "sqrt": "_sqrt",
        "loggamma": "_lgamma",
        "lgamma": "_lgamma",
        "sin": "_sin",
        "cos": "_cos",
        "tanh": "_tanh",
        "cosh": "_cosh",
        "atan": "_atan",
        "erf": "_erf",
        "erfc": "_erfc",
        # symlik's stable functions, by the runtime's stable helpers
        "Softplus": "_softplus",
        "Sigmoid": "_sigmoid",
        "XLogY": "_xlogy",
        "XLog1PY": "_xlog1py",
        # the fused runtime's normal-tail functions (RUNTIME_KEEPS; CUDA lowers them instead)
        "LogNdtr": "_log_ndtr",
        "LogErfc": "_log_erfc",
        "InverseMills": "_inverse_mills",
    }
    # Functions a runtime lacks say so explicitly (see the CUDA printer).
    missing: frozenset = frozenset()

    def __init__(self, event_index=None, event_size=None, settings=None):
        super().__init__(settings={"fully_qualified_modules": False, **(settings or {})})
        self.event_index = event_index
        self.event_size = event_size

    # -- names ----------------------------------------------------------------
    def _print_Symbol(self, expr):
        name = expr.name
        if self.event_size is not None and expr == self.event_size:
            return "K_"
        if name.startswith("t_sum"):
            return name
        return f"v_{name}"

    def _print_Indexed(self, expr):
        return f"v_{expr.base.label}_k"

    def _print_RowLSE(self, expr):
        i = int(expr.args[0])
        return f"(m{i} + {self._call('log1p', f's{i}')})"

    def _print_RowMax(self, expr):
        return f"m{int(expr.args[0])}"

    def _print_RowLog1pRest(self, expr):
        return self._call("log1p", f"s{int(expr.args[0])}")

    # -- numbers --------------------------------------------------------------
    def _num(self, value) -> str:
        # _F is the kernel's working float type (float32 loops stay in float32: a bare
        # literal would be float64 and promote every operation it touches).
        return f"_F({float(value)!r})"

    def _print_Integer(self, expr):
        return self._num(expr)

    def _print_Rational(self, expr):
        return self._num(expr)

    def _print_Float(self, expr):
        return self._num(expr)

    def _print_Pi(self, expr):
        return self._num(sp.pi)

    def _print_Exp1(self, expr):
        return self._num(sp.E)

    def _print_Infinity(self, expr):
        return self._inf()

    def _print_NegativeInfinity(self, expr):
        return f"(-{self._inf()})"

    def _inf(self):
        return "_INF"

    # -- arithmetic -----------------------------------------------------------
    def _print_Mul(self, expr):
        half = scaled_square(expr)
        if half is not None:
            # (c b) b: c b**2's value, finite where b**2 overflows (codegen.scaled_square); the
            # compiler evaluates the repeated b once
            b = self.parenthesize(half[1], 100)
            return f"(({self._num(half[0])}*{b})*{b})"
        return super()._print_Mul(expr)

    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        b = self.parenthesize(base, 100)
        if e.is_Integer and 1 <= abs(int(e)) <= 4:
            prod = "*".join([b] * abs(int(e)))
            return f"({prod})" if int(e) > 0 else f"({self._num(1)}/({prod}))"
        if e == sp.S.Half:
            return self._call("sqrt", self._print(base))
        if e == -sp.S.Half:
            return f"({self._num(1)}/{self._call('sqrt', self._print(base))})"
        return self._pow(b, self.parenthesize(e, 100))

    def _pow(self, b, e):
        return f"({b}**{e})"

    def _as_ordered_terms(self, expr, order=None):
        terms = list(super()._as_ordered_terms(expr, order=order))
        return [t for t in terms if not t.could_extract_minus_sign()] + [t for t in terms if t.could_extract_minus_sign()]

    def _print_Add(self, expr, order=None):
        # Stable orders, as the NumPy printer: the small log term is added last, after
        # the large terms have cancelled exactly (softplus: max(z, 0) - y z; LSE: m - z_y).
        softplus = [t for t in expr.args if isinstance(t, Softplus)]
        lse = [t for t in expr.args if isinstance(t, RowLSE)]
        if len(softplus) == 1 and not lse:
            z = self._print(softplus[0].args[0])
            head = self._max(z, self._num(0))
            rest = expr - softplus[0]
            if rest != 0:
                head = f"({head} + {self._print(rest)})"
            return f"({head} + {self._call('log1p', self._call('exp', f'-{self._abs(z)}'))})"
        if len(lse) == 1:
            i = int(lse[0].args[0])
            rest = expr - lse[0]
            return f"((m{i} + {self._print(rest)}) + {self._call('log1p', f's{i}')})"
        return super()._print_Add(expr, order=order)

    # -- functions ------------------------------------------------------------
    def _call(self, name, *args):
        if name in self.missing:
            raise NotSupportedError(f"the {self.language} backend has no {name}")
        return f"{self.functions.get(name, name)}({', '.join(args)})"

    language = "fused"

    def _print_Function(self, expr):
        name = type(expr).__name__
        if name in self.missing:
            raise NotSupportedError(f"the {self.language} backend has no {name}")
        if name not in self.functions:
            raise NotSupportedError(f"the {self.language} backend cannot compile {name}")
        return self._call(name, *(self._print(a) for a in expr.args))

    _print_polygamma = _print_Function  # (not in the table: "cannot compile", or "has no" where missing)

    def _abs(self, s):
        return f"abs({s})"

    def _max(self, a, b):
        return f"max({a}, {b})"

    def _min(self, a, b):
        return f"min({a}, {b})"

    def _print_Abs(self, expr):
        return self._abs(self._print(expr.args[0]))

    def _print_Max(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = self._max(out, self._print(a))
        return out

    def _print_Min(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = self._min(out, self._print(a))
        return out

    def _print_Sum(self, expr):  # pragma: no cover - lower() removes every Sum
        raise NotSupportedError("sums must be lowered to row terms first")

    def _print_LogSumExp(self, expr):  # pragma: no cover - lower() removes every LogSumExp
        raise NotSupportedError("LogSumExp must be lowered to a row term first")


def table_printed(cls):
    """Class decorator: a ``_print_<name>`` method (``_print_Function``) for each function in
    ``cls.functions`` that the class does not print itself, so a printer that only renames
    functions is its table."""
    for name in cls.functions:
        if f"_print_{name}" not in cls.__dict__:
            setattr(cls, f"_print_{name}", cls._print_Function)
    return cls


table_printed(ScalarPrinter)


def pieces(expr: sp.Expr, *, event_index, event_size, printer_class=ScalarPrinter) -> dict:
    """The printed fragments of one kernel form (JSON-able)."""
    low = lower(expr, event_index)
    printer = printer_class(event_index=event_index, event_size=event_size)
    row = printer.doprint(low.row)
    sums = [printer.doprint(s) for s in low.sums]
    text = " ".join([row, *sums])
    event_names = {str(i.base.label) for i in expr.atoms(sp.Indexed)} | set(low.lse)
    names = sorted(
        {str(s) for s in expr.free_symbols if not isinstance(s, sp.Indexed)} - {str(event_size), str(event_index)} - event_names
    )
    return {
        "row": row,
        "lse": list(low.lse),
        "sums": sums,
        "uses_K": "K_" in text,
        "gathers": sorted(n[: -len(GATHER_SUFFIX)] for n in names if n.endswith(GATHER_SUFFIX)),
        "row_names": [n for n in names if not n.endswith(GATHER_SUFFIX) and not n.startswith("t_sum")],
        "event_names": sorted(event_names),
    }


def generate(plan) -> str:
    """The fused backend's source: JSON holding the printed per-element fragments of each
    form (``pieces``), which ``_fused_runtime`` wraps in loops. A vector or matrix target
    has one form per entry, ``entry0``, ``entry1``, ... row by row."""
    pinned = list(plan.softmax_inputs)  # proven on the stable form, before lowering
    if not plan.shape and plan.event_index is not None:
        plan = replace(plan, dense=split_cross_entropy(plan.dense))
    plan = plan.lowered(keep=RUNTIME_KEEPS)
    layout = dict(event_index=plan.event_index, event_size=plan.event_size)
    if plan.shape:
        forms = {f"entry{i}": pieces(e, **layout) for i, e in enumerate(plan.entries)}
    else:
        forms = {"dense": {**pieces(plan.dense, **layout), "pinned": pinned}}
        if plan.index is not None:
            forms["index"] = pieces(plan.index, **layout)
    spec = {"args": list(plan.args), "forms": forms}
    if plan.shape:
        spec["shape"] = list(plan.shape)
    return json.dumps(spec, indent=1, sort_keys=True)


__all__ = ["RowLSE", "RowMax", "RowLog1pRest", "Lowered", "lower", "ScalarPrinter", "table_printed", "pieces", "generate", "Sigmoid"]
