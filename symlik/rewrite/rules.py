"""Stability rewrites as data, in the style of ``sympy.codegen.rewriting``.

Each rule is one module-level object: a query (which subexpressions it
applies to) and a value (the stable replacement). Every rule is an exact
identity; ``tests/test_rewrite.py`` proves each one symbolically and checks
it numerically at extreme input. Rewrites run between derivation and code
generation: the derivation keeps the exact form, the kernel gets this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.codegen.rewriting import log1p_opt as _sympy_log1p_opt

from ..functions import LogSumExp, Softplus, XLog1PY, XLogY


@dataclass(frozen=True)
class Rewrite:
    name: str
    query: Callable[[sp.Basic], bool]
    value: Callable[[sp.Basic], sp.Basic]
    why: str

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return expr.replace(self.query, self.value)


def _is_log_one_plus_exp(e) -> bool:
    if not isinstance(e, sp.log) or not isinstance(e.args[0], sp.Add):
        return False
    terms = e.args[0].args
    return len(terms) == 2 and sp.S.One in terms and any(isinstance(t, sp.exp) for t in terms)


softplus_opt = Rewrite(
    "softplus",
    _is_log_one_plus_exp,
    lambda e: Softplus(next(t for t in e.args[0].args if isinstance(t, sp.exp)).args[0]),
    "log(1 + e^z) overflows for z > 709; softplus(z) = max(z, 0) + log1p(e^-|z|) does not",
)


def _is_log_sum_exp(e) -> bool:
    if not isinstance(e, sp.log) or not isinstance(e.args[0], sp.Sum):
        return False
    s = e.args[0]
    j = s.limits[0][0]
    body = s.function
    return isinstance(body, sp.exp) and isinstance(body.args[0], sp.Indexed) and body.args[0].indices == (j,)


logsumexp_opt = Rewrite(
    "logsumexp",
    _is_log_sum_exp,
    lambda e: LogSumExp(e.args[0].function.args[0].base, e.args[0].limits[0][2]),
    "log sum exp(z) overflows at z > 709; subtracting the max first keeps every exponent <= 0",
)


def _mul_with_log(e, want_one_minus: bool):
    if not isinstance(e, sp.Mul):
        return None
    logs = [f for f in e.args if isinstance(f, sp.log)]
    if len(logs) != 1:
        return None
    arg = logs[0].args[0]
    if arg.is_positive:  # the log's argument cannot be 0, so x log(arg) is already safe
        return None
    rest = sp.Mul(*(f for f in e.args if f is not logs[0]))
    if not rest.free_symbols:
        return None
    is_one_minus = isinstance(arg, sp.Add) and sp.S.One in arg.args
    if is_one_minus != want_one_minus:
        return None
    return rest, arg


xlogy_opt = Rewrite(
    "xlogy",
    lambda e: _mul_with_log(e, False) is not None,
    lambda e: XLogY(*_mul_with_log(e, False)),
    "x log p is 0 * -inf = nan at x = p = 0; the limit (and the convention) is 0",
)

xlog1py_opt = Rewrite(
    "xlog1py",
    lambda e: _mul_with_log(e, True) is not None,
    lambda e: (lambda x, a: XLog1PY(x, a - 1))(*_mul_with_log(e, True)),
    "x log(1 - p) is nan at x = 0, p = 1, and log(1 - p) loses digits for tiny p; log1p keeps them",
)

def _log1p_value(e):
    # SymPy's rule factors every log's argument first; keep that only where it produced a
    # log1p. Elsewhere the factoring can hurt: it turns log(a + 2 e^(-d^2/2) / d) (Huber's
    # normaliser) into log(a d e^(d^2/2) + 2) - d^2/2 - log d, which overflows at d = 38.
    out = _sympy_log1p_opt.value(e)
    return out if out.has(log1p) else e


log1p_opt = Rewrite(
    "log1p",
    _sympy_log1p_opt.query,
    _log1p_value,
    "log(1 + x) loses all digits of x below 1e-16; log1p(x) keeps them",
)

# Order matters: softplus and logsumexp claim their logs before the xlogy rules look.
STABLE: tuple[Rewrite, ...] = (softplus_opt, logsumexp_opt, xlog1py_opt, xlogy_opt, log1p_opt)


def stabilize(expr: sp.Expr, rules=STABLE) -> sp.Expr:
    """Apply every rule in order; the result is exactly equal to ``expr``."""
    for rule in rules:
        expr = rule(expr)
    return expr


__all__ = ["Rewrite", "STABLE", "stabilize", "log1p", *(r.name + "_opt" for r in STABLE)]
