"""Small SymPy helpers shared by the matcher and the derivation pipeline."""

from __future__ import annotations

import math
import random
from functools import reduce

import sympy as sp


def is_zero(expr: sp.Expr) -> bool:
    """True only when SymPy can *prove* ``expr`` is identically zero.

    Piecewise-smooth expressions (Abs, sign, Heaviside, Max, Min, Piecewise)
    are zero when every case is (see ``cases``): zero almost everywhere,
    which is what an identity between losses needs.
    """
    expr = sp.sympify(expr, strict=True)
    if expr == 0:
        return True
    if clearly_nonzero(expr):  # a random point disproves it: no proof to attempt
        return False
    if has_switch(expr):
        branches = cases([expr])
        if branches is not None:
            return all(_is_zero_smooth(b) or _zero_by_derivatives(b) for (b,) in branches)
    return _is_zero_smooth(expr) or _zero_by_derivatives(expr)


def _zero_by_derivatives(expr: sp.Expr) -> bool:
    """Zero because every partial derivative is zero and the value at one point is.

    For sums of logs that SymPy will not combine (2 log(1 + e^-x) + x versus
    2 log(2 cosh(x/2))): the derivatives are rational functions of
    exponentials, which ``_is_zero_smooth`` decides. Valid on the connected
    domain where ``expr`` is defined; integer symbols are left symbolic.
    """
    if expr.has(sp.Indexed, sp.Sum, sp.Product) or has_switch(expr):
        return False
    continuous = sorted((s for s in expr.free_symbols if not s.is_integer), key=str)
    if not continuous:
        return False
    if not all(_is_zero_smooth(sp.diff(expr, s)) for s in continuous):
        return False
    for values in ((0, 1), (1, sp.Rational(1, 2)), (sp.Rational(1, 2), 2)):
        point = {s: values[1] if (s.is_positive or s.is_nonnegative) else values[0] for s in continuous}
        value = expr.xreplace(point)
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            continue
        return _is_zero_smooth(value)
    return False


def _is_zero_smooth(expr: sp.Expr) -> bool:
    if expr == 0:
        return True
    for attempt in (
        lambda e: sp.expand(sp.expand_log(e, force=True)),
        exp_rational,
        lambda e: sp.simplify(sp.expand_log(e, force=True)),
        lambda e: sp.simplify(sp.expand_log(sp.expand(e.rewrite(sp.exp)), force=True)),
    ):
        try:
            if attempt(expr) == 0:
                return True
        except (TypeError, NotImplementedError, RecursionError):  # pragma: no cover - SymPy gave up
            continue
    return False


def exp_rational(expr: sp.Expr) -> sp.Expr:
    """Hyperbolic and trigonometric functions as exponentials, then one rational
    function: fast, and enough for sigmoids, tanh and sech (much faster than simplify)."""
    e = sp.expand(sp.expand_log(expr.rewrite(sp.exp), force=True))
    return sp.cancel(sp.powsimp(e))


# ---------------------------------------------------------------------------
# Numerical screening: a cheap way to *reject* a claim before proving it.
# ---------------------------------------------------------------------------


def _sample(symbol, rng, positive_only=False) -> sp.Expr:
    if symbol.is_integer:
        return sp.Integer(rng.randint(2, 6))
    if positive_only or symbol.is_positive or symbol.is_nonnegative:
        # inside (0, 1) too, so probabilities and quantile levels stay valid
        return sp.Float(rng.uniform(0.15, 0.85), 30)
    return sp.Float(rng.uniform(-2.0, 2.0), 30)


def _kind(atom):
    """The symbol whose assumptions say how to sample ``atom`` (an Indexed: its base's label)."""
    return atom.base.label if isinstance(atom, sp.Indexed) else atom


def numeric_values(expr: sp.Expr, vary, samples: int = 3, seed: int = 0) -> list[float] | None:
    """``expr`` at ``samples`` random points of the symbols in ``vary`` (others
    fixed at random values too); None when a value is not a finite real or
    the expression holds a sum or product over an index (no screening then)."""
    expr = sp.sympify(expr, strict=True)
    if expr.has(sp.Sum, sp.Product):
        return None
    # Real symbols range over both signs first; if that leaves the domain
    # (log(mu) at mu < 0), positive values are real values too.
    for positive_only in (False, True):
        rng = random.Random(seed)
        # An event component mu[k] is one more quantity: sampled by its base's assumptions.
        indexed = sorted(expr.atoms(sp.Indexed), key=str)
        inside = {a for e in indexed for a in e.free_symbols}
        atoms = indexed + sorted((a for a in expr.free_symbols if a not in inside), key=str)
        moving = [a for a in atoms if any(a == v or a.has(v) for v in vary)]
        fixed = {a: _sample(_kind(a), rng, positive_only) for a in atoms if a not in moving}
        out = []
        for _ in range(samples):
            point = {**fixed, **{a: _sample(_kind(a), rng, positive_only) for a in moving}}
            try:
                value = sp.N(expr.xreplace(point), 30)
            except (TypeError, ValueError, ZeroDivisionError, RecursionError):  # pragma: no cover
                break
            if not value.is_real or not value.is_finite or value.free_symbols:
                break
            out.append(float(value))
        else:
            return out
    return None


def clearly_varies(expr: sp.Expr, vary) -> bool:
    """True when random points show ``expr`` changing with ``vary``: then it is
    certainly not free of them, and no proof needs attempting."""
    values = numeric_values(expr, list(vary))
    if values is None:
        return False
    spread = max(values) - min(values)
    return spread > 1e-9 * max(1.0, *(abs(v) for v in values))


def clearly_nonzero(expr: sp.Expr) -> bool:
    """True when ``expr`` is far from 0 at some random point: certainly not identically 0."""
    values = numeric_values(expr, list(sp.sympify(expr, strict=True).free_symbols))
    if values is None:
        return False
    return any(abs(v) > 1e-9 for v in values)


def with_stand_ins(expr: sp.Expr, hide, operate, restore=lambda e: e) -> sp.Expr:
    """operate(expr) with every subexpression for which hide(e) is true replaced by a Dummy first,
    and restore(e) put back in its place after: a simplify or expand that must not go inside them
    (a Piecewise's conditions, a branch free of y). A Dummy is real where the part is."""
    stand_ins: dict = {}

    def stand_in(part):
        dummy = sp.Dummy(real=True) if part.is_real else sp.Dummy()
        stand_ins[dummy] = restore(part)
        return dummy

    out = operate(expr.replace(hide, stand_in))
    while out.has(*stand_ins):  # a nested part comes back one level at a time
        out = out.xreplace(stand_ins)
    return out


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
        # log Gamma(k), log I_0(kappa): named quantities, kept apart rather than merged into one log
        if len(found) == 1 and found[0].args[0].is_positive and not found[0].args[0].atoms(sp.Function):
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
        groups.setdefault(key, []).append((c, arg))
    combined = []
    for (sign, c_sym, _), members in groups.items():
        if len(members) == 1 and c_sym != 1:  # keep (nu + 1)/2 log(x), not (nu + 1)/4 log(x^2)
            (c, arg), = members
            combined.append(c * c_sym * sp.log(arg))
        else:
            combined.append(sign * c0 * c_sym * sp.log(sp.Mul(*(arg ** int(abs(c) / c0) for c, arg in members))))
    return sp.Add(*other, *combined)


def free_of(expr: sp.Expr, things) -> bool:
    return not any(expr.has(t) or _has_position(expr, t) for t in things)


def _has_position(expr: sp.Expr, thing) -> bool:
    """Whether ``expr`` holds a component of the event ``thing`` (x_k) by position: x_1, x_2, ...
    (an event written out entry by entry for a fixed size: the multivariate normal)."""
    if not isinstance(thing, sp.Indexed) or all(i.is_Integer for i in thing.indices):
        return False
    return any(a.base == thing.base and all(i.is_Integer for i in a.indices) for a in expr.atoms(sp.Indexed))


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


# ---------------------------------------------------------------------------
# Case analysis for piecewise-smooth expressions.
# ---------------------------------------------------------------------------

SWITCHES = (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.Max, sp.Min, sp.Piecewise)
_RELATIONS = (sp.StrictGreaterThan, sp.GreaterThan, sp.StrictLessThan, sp.LessThan, sp.Eq, sp.Ne)
MAX_SWITCHES = 4  # depth of the case split: 2**4 cases at most, more is not worth SymPy's time


def has_switch(expr) -> bool:
    return sp.sympify(expr, strict=True).has(*SWITCHES)


def switch_point(u: sp.Expr) -> tuple[sp.Expr, int] | None:
    """The canonical switching function of ``u`` and the sign relating them.

    Returns (v, s) with sign(u) == s * sign(v): positive factors are dropped
    and of v, -v the one first in SymPy's sort order is kept, so that
    Abs(y - mu), Heaviside(mu - y) and Max(tau r, (tau - 1) r) all switch on
    the same v. None for a constant u.
    """
    u = sp.factor_terms(sp.expand(u))
    if not u.free_symbols:
        return None
    sign = 1
    kept = []
    for f in sp.Mul.make_args(u):
        if f.is_positive:
            continue
        if f.is_negative:
            sign = -sign
            continue
        kept.append(f)
    v = sp.expand(sp.Mul(*kept))
    if sp.default_sort_key(-v) < sp.default_sort_key(v):
        v, sign = -v, -sign
    return v, sign


def _decided_by(e) -> sp.Expr | None:
    """The quantity whose sign decides switch ``e`` (an Abs, a Max, a condition...)."""
    if isinstance(e, (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta)):
        return e.args[0]
    if isinstance(e, (sp.Max, sp.Min)) and len(e.args) == 2:
        return e.args[0] - e.args[1]
    if isinstance(e, _RELATIONS):
        return e.lhs - e.rhs
    return None


def _innermost_switch(exprs):
    """The first switch, in a fixed order, with no switch inside it; None when there
    is none; False when there is a switch this cannot decide (Max of three, ...)."""
    found = []
    for expr in exprs:
        for e in sp.preorder_traversal(expr):
            if isinstance(e, (sp.Max, sp.Min)) and len(e.args) != 2:
                return False
            if isinstance(e, sp.Piecewise):
                for _, cond in e.args:
                    if cond not in (sp.true, sp.false) and not cond.atoms(*_RELATIONS):
                        return False
            u = _decided_by(e)
            if u is not None and not has_switch(u) and not u.atoms(*_RELATIONS):
                found.append(u)
    if not found:
        return None
    return min(found, key=sp.default_sort_key)


def _resolve(expr, v, s):
    """``expr`` with every switch decided by the sign of v replaced by its value where sign(v) = s."""

    def sgn(u):
        found = switch_point(u)
        return None if found is None or found[0] != v else s * found[1]

    def one(e):
        value = sgn(_decided_by(e))
        if isinstance(e, sp.Abs):
            return value * e.args[0]
        if isinstance(e, sp.sign):
            return sp.Integer(value)
        if isinstance(e, sp.Heaviside):
            return sp.Integer(1 if value > 0 else 0)
        if isinstance(e, sp.DiracDelta):
            return sp.S.Zero  # its argument is nonzero away from the switching set
        if isinstance(e, (sp.Max, sp.Min)):
            a, b = e.args
            return a if (value > 0) == isinstance(e, sp.Max) else b
        if isinstance(e, sp.Eq):
            return sp.false  # almost nowhere
        if isinstance(e, sp.Ne):
            return sp.true
        return sp.true if (value > 0) == isinstance(e, (sp.StrictGreaterThan, sp.GreaterThan)) else sp.false

    def decided(e):
        u = _decided_by(e)
        return u is not None and not has_switch(u) and sgn(u) is not None

    previous = None
    while previous != expr:  # a switch freed by a decision may be decided by the same v
        previous, expr = expr, expr.replace(decided, one)
    return expr


def _on_integers(v: sp.Expr) -> bool:
    """v takes only integer values (a polynomial with integer coefficients in integer symbols),
    so v = 0 is a set of positive probability, not of measure zero."""
    return bool(v.free_symbols) and all(s.is_integer for s in v.free_symbols) and v.is_integer is True


def _solve_integer_zero(v: sp.Expr) -> dict | None:
    """{s: value} that makes v = 0, for v linear in one of its symbols (y - 2 -> {y: 2}); else None."""
    for s in sorted(v.free_symbols, key=str):
        poly = sp.Poly(v, s)
        if poly.degree() == 1 and not poly.coeffs()[0].free_symbols:
            return {s: sp.solve(v, s)[0]}
    return None


def cases(exprs, _depth=0) -> list[tuple[sp.Expr, ...]] | None:
    """Split piecewise-smooth expressions into smooth cases.

    Every switch (Abs, sign, Heaviside, Max, Min, a Piecewise condition) is
    decided by the sign of a switching function v. The innermost switch is
    split first, v > 0 and v < 0 (and v = 0 too when v is integer-valued: a count
    equal to 0 is not a null set), and each side again until no switch is
    left (so |r| <= delta, once |r| is decided, splits on r - delta). A claim
    true in every case is true wherever no real-valued v is 0: almost everywhere. Cases
    are not checked for consistency, which can only make a claim harder to
    prove. None when a switch is of a kind this cannot decide or the split
    goes deeper than MAX_SWITCHES.
    """
    exprs = tuple(sp.sympify(e, strict=True) for e in exprs)
    u = _innermost_switch(exprs)
    if u is None:
        return None if any(has_switch(e) for e in exprs) else [exprs]
    if u is False or _depth >= MAX_SWITCHES:
        return None
    point = switch_point(u)
    if point is None:  # a constant decides it: SymPy would have, so give up
        return None
    out = []
    if _on_integers(point[0]):
        # v = 0 is not "almost nowhere" when v is an integer quantity (a count y = 0 has
        # positive probability): that case is a case of its own, v solved for and substituted.
        at_zero = _solve_integer_zero(point[0])
        if at_zero is None:
            return None
        sub = cases([e.xreplace(at_zero) for e in exprs], _depth + 1)
        if sub is None:
            return None
        out += sub
    for s in (1, -1):
        try:
            sub = cases([_resolve(e, point[0], s) for e in exprs], _depth + 1)
        except (TypeError, ValueError):  # pragma: no cover - a switch SymPy re-wrote unexpectedly
            return None
        if sub is None:
            return None
        out += sub
    return out
