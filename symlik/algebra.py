"""Small SymPy helpers shared by the matcher and the derivation pipeline."""

from __future__ import annotations

import math
from functools import reduce

import sympy as sp


def is_zero(expr: sp.Expr) -> bool:
    """True only when SymPy can *prove* ``expr`` is identically zero."""
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    for attempt in (
        lambda e: sp.expand(sp.expand_log(e, force=True)),
        lambda e: sp.simplify(sp.expand_log(e, force=True)),
        lambda e: sp.simplify(sp.expand_log(sp.expand(e.rewrite(sp.exp)), force=True)),
    ):
        try:
            if attempt(expr) == 0:
                return True
        except (TypeError, NotImplementedError, RecursionError):  # pragma: no cover - SymPy gave up
            continue
    return False


def expand_logs(expr: sp.Expr) -> sp.Expr:
    """Expand logarithms of products, quotients, powers and exponentials.

    Only the logarithms: (y - mu)**2 stays a square, as a reader expects.
    """
    return sp.expand_log(expr, force=True)


def log_of(density: sp.Expr) -> sp.Expr:
    """log(density), turning a Product over the event axis into a Sum of logs."""
    if isinstance(density, sp.Product):
        return sp.Sum(expand_logs(sp.log(density.function)), *density.limits)
    if isinstance(density, sp.Mul):
        return sp.Add(*(log_of(f) for f in density.args))
    return expand_logs(sp.log(density))


def split_sum(expr: sp.Expr) -> sp.Expr:
    """Distribute every Sum over its addends and pull out factors free of the index.

    Sum(a*f(k) + c, (k, 1, K)) -> a*Sum(f(k), (k, 1, K)) + c*K. Uses only
    linearity of the sum, so the result equals the input.
    """

    def one(s: sp.Sum) -> sp.Expr:  # noqa: D401 - one Sum at a time
        (k, lo, hi), body = s.limits[0], s.function
        out = []
        for term in sp.Add.make_args(body):
            free, dep = [], []
            for f in sp.Mul.make_args(term):
                (dep if f.has(k) else free).append(f)
            coeff = sp.Mul(*free)
            out.append(coeff * (hi - lo + 1) if not dep else coeff * sp.Sum(sp.Mul(*dep), (k, lo, hi)))
        return sp.Add(*out)

    return expr.replace(lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1, one)


def sum_parts(expr: sp.Expr, k: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    """Write ``expr`` as Sum(summand, k) + rest; returns (summand, rest)."""
    summand, rest = [], []
    for term in sp.Add.make_args(split_sum(expr)):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum) and f.limits[0][0] == k]
        if len(sums) == 1:
            coeff = sp.Mul(*(f for f in sp.Mul.make_args(term) if f is not sums[0]))
            summand.append(coeff * sums[0].function)
        else:
            rest.append(term)
    return sp.Add(*summand), sp.Add(*rest)


def tidy_logs(expr: sp.Expr, group_by: sp.Symbol | None = None) -> sp.Expr:
    """Gather rational multiples of logs under one coefficient, for display.

    log(sigma) + log(2)/2 + log(pi)/2 -> log(2*pi*sigma**2)/2, and
    D*log(2)/2 + D*log(pi)/2 -> D*log(2*pi)/2. With ``group_by`` set to an
    index, terms that depend on it stay apart from the constant ones (so a sum
    over k can pull the constants out): log(sigma_k) + log(2 pi)/2 ->
    log(2 pi)/2 + log(sigma_k**2)/2. Exact: the result equals the input.
    """
    logs, other = [], []
    for t in sp.Add.make_args(expr):
        factors = sp.Mul.make_args(t)
        found = [f for f in factors if isinstance(f, sp.log)]
        if len(found) == 1 and found[0].args[0].is_positive:
            coeff = sp.Mul(*(f for f in factors if f is not found[0]))
            c_num, c_sym = coeff.as_coeff_Mul()
            if c_num.is_Rational and c_num != 0 and not (group_by is not None and c_sym.has(group_by)):
                logs.append((sp.Rational(c_num), c_sym, found[0].args[0]))
                continue
        other.append(t)
    if not logs:
        return expr
    lcm = reduce(lambda a, b: a * b // math.gcd(a, b), (int(c.q) for c, _, _ in logs), 1)
    c0 = sp.Rational(1, lcm)
    groups: dict[tuple, list] = {}
    for c, c_sym, arg in logs:
        key = (1 if c > 0 else -1, c_sym, bool(group_by is not None and arg.has(group_by)))
        groups.setdefault(key, []).append(arg ** int(abs(c) / c0))
    combined = [sign * c0 * c_sym * sp.log(sp.Mul(*args)) for (sign, c_sym, _), args in groups.items()]
    return sp.Add(*other, *combined)


def free_of(expr: sp.Expr, things) -> bool:
    return not any(expr.has(t) for t in things)


_INEQUALITIES = (sp.GreaterThan, sp.LessThan, sp.StrictGreaterThan, sp.StrictLessThan)


def canonical_conditions(expr: sp.Expr) -> sp.Expr:
    """Write each piecewise condition a >= b as numerator(a - b) >= 0, the denominator
    being positive: |r|/s <= c and |r| <= c s then read the same, so a Huber on r/s and
    huber(delta = c s) share their branches (exactly equal: only a positive factor goes)."""

    def one(rel):
        num, den = sp.fraction(sp.together(rel.lhs - rel.rhs))
        return rel.func(sp.expand(num), 0) if den.is_positive else rel

    def piecewise(p):
        return sp.Piecewise(*[(e, c.replace(lambda q: isinstance(q, _INEQUALITIES), one)) for e, c in p.args])

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), piecewise) if expr.has(sp.Piecewise) else expr
