"""Integrals and sums over a support, and expectations, done symbolically.

Shared by the normalisation check (does p integrate to 1?), the Fisher
information (E[-d^2 log p]) and the KL divergence (E_p[log p - log q]).
Every function returns ``None`` when SymPy cannot finish, so that callers
can say so plainly or fall back to numerics; none of them guesses.

Two habits keep SymPy on its fast paths: an integrand with |y - m| is split
at y = m and each half is written over t = |y - m| > 0 (so the absolute
value disappears), and an expectation is taken term by term, one moment
E[g(y)] per distinct g, rather than of the whole expression at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

# Finite discrete supports up to this size are summed term by term (exact, fast).
EXPLICIT_SUM_LIMIT = 64

_GAVE_UP = (NotImplementedError, ValueError, TypeError, AttributeError, RecursionError, ZeroDivisionError, IndexError)


@dataclass(frozen=True)
class Domain:
    """Where y lives, with SymPy bounds (-oo/oo, numbers or parameter symbols)."""

    kind: str  # "continuous" or "discrete"
    lower: sp.Expr
    upper: sp.Expr

    @property
    def discrete(self) -> bool:
        return self.kind == "discrete"


def domain_of(spec) -> Domain:
    """The scalar support of ``spec`` as a Domain (event supports are handled elsewhere)."""
    s = spec.support
    if s.kind not in ("continuous", "discrete"):
        raise NotImplementedError(f"support {s.kind} is not scalar")

    def bound(b, default):
        if b is None:
            return default
        if isinstance(b, str):
            return spec.symbol(b)
        return sp.nsimplify(b) if isinstance(b, float) else sp.sympify(b)

    return Domain(s.kind, bound(s.lower, -sp.oo), bound(s.upper, sp.oo))


def _finished(value) -> sp.Expr | None:
    if value is None or value.has(sp.Integral, sp.Sum, sp.Limit) or value.has(sp.Piecewise):
        return None
    return value


def _abs_breakpoints(expr, y) -> list[sp.Expr]:
    """Where the arguments of |.|, sign and Heaviside vanish, if each is linear in y."""
    points = []
    for a in expr.atoms(sp.Abs, sp.sign, sp.Heaviside):
        arg = a.args[0]
        if not arg.has(y):
            continue
        try:
            poly = sp.Poly(arg, y)
        except sp.PolynomialError:
            return []
        if poly.degree() != 1:
            return []
        slope, intercept = poly.all_coeffs()
        root = sp.simplify(-intercept / slope)
        if root not in points:
            points.append(root)
    return points


def _inside(point, lo, hi) -> bool:
    above = lo == -sp.oo or sp.simplify(point - lo).is_nonnegative is True
    below = hi == sp.oo or sp.simplify(hi - point).is_nonnegative is True
    return above and below


def integrate(expr, y, lo, hi) -> sp.Expr | None:
    """The definite integral of ``expr`` over (lo, hi), or None if SymPy cannot do it."""
    points = _abs_breakpoints(expr, y)
    if len(points) == 1 and _inside(points[0], lo, hi):
        m = points[0]
        t = sp.Dummy("t", positive=True)
        left = expr.xreplace({y: m - t})
        right = expr.xreplace({y: m + t})
        parts = [_integrate_plain(left, t, 0, m - lo), _integrate_plain(right, t, 0, hi - m)]
        if all(p is not None for p in parts):
            return sp.simplify(parts[0] + parts[1])
    return _integrate_plain(expr, y, lo, hi)


def _integrate_plain(expr, y, lo, hi) -> sp.Expr | None:
    if lo == hi:
        return sp.S.Zero
    try:
        value = sp.integrate(expr, (y, lo, hi), conds="none")
    except _GAVE_UP:
        return None
    value = _finished(value)
    if value is None:
        return None
    return sp.simplify(value)


def summation(expr, y, lo, hi) -> sp.Expr | None:
    """The sum of ``expr`` over the integers lo..hi, or None if SymPy cannot do it."""
    try:
        if lo.is_Integer and hi.is_Integer and 0 <= hi - lo <= EXPLICIT_SUM_LIMIT:
            return sp.simplify(sp.Add(*(expr.subs(y, v) for v in range(int(lo), int(hi) + 1))))
        value = sp.summation(expr, (y, lo, hi))
    except _GAVE_UP:
        return None
    value = _finished(value)
    return None if value is None else sp.simplify(value)


def total(expr, y, domain: Domain) -> sp.Expr | None:
    """The integral (continuous) or sum (discrete) of ``expr`` over the domain."""
    if domain.discrete:
        return summation(expr, y, domain.lower, domain.upper)
    return integrate(expr, y, domain.lower, domain.upper)


def moments(expr, y) -> dict:
    """Split ``expr`` as a sum of coefficient * g(y): {g(y): coefficient}."""
    out: dict = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        dep, free = [], []
        for f in sp.Mul.make_args(term):
            (dep if f.has(y) else free).append(f)
        g = sp.Mul(*dep)
        out[g] = out.get(g, 0) + sp.Mul(*free)
    return out


def expectation(expr, y, density, domain: Domain, *, normalised: bool = True, cache: dict | None = None) -> sp.Expr | None:
    """E[expr] under ``density`` over the domain, term by term; None if a term defeats SymPy.

    ``cache`` (g(y) -> E[g(y)]) lets several expectations under the same
    density share their moments; it also lists, afterwards, which moments
    were used (for the rendered derivation).
    """
    cache = {} if cache is None else cache
    result = sp.S.Zero
    for g, coeff in moments(expr, y).items():
        if g == 1 and normalised:
            value = sp.S.One
        elif g in cache:
            value = cache[g]
        else:
            value = _sift(g, y, density) if g.has(sp.DiracDelta) else total(g * density, y, domain)
            if value is None:
                return None
            cache[g] = value
        result += coeff * value
    return sp.simplify(result)


def _sift(g, y, density) -> sp.Expr | None:
    """E[h(y) delta(a y + c)] = h(r) p(r) / |a| at the root r (the sifting property).

    Done by hand: splitting the integral at a kink (see ``integrate``) would
    put the delta exactly on the boundary of both halves.
    """
    deltas = [f for f in sp.Mul.make_args(g) if isinstance(f, sp.DiracDelta)]
    if len(deltas) != 1 or len(deltas[0].args) != 1:
        return None
    try:
        poly = sp.Poly(deltas[0].args[0], y)
    except sp.PolynomialError:
        return None
    if poly.degree() != 1:
        return None
    slope, intercept = poly.all_coeffs()
    root = -intercept / slope
    rest = sp.Mul(*(f for f in sp.Mul.make_args(g) if f is not deltas[0]))
    return sp.simplify((rest * density).subs(y, root) / sp.Abs(slope))
