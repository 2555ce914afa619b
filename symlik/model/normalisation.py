"""Is a user's density a density? Non-negative, and integrating (or summing) to 1.

``check(expr, y, domain, params)`` first looks at the density numerically at
a grid of observations and a few valid parameter values (negative or
complex values are an error there and then). It then integrates or sums the
density over its support symbolically; where SymPy cannot, it integrates
numerically with mpmath at the same parameter values. The outcome is a
``Normaliser``: the value it integrates to (symbolic where possible), and
how that was established. Callers turn "not 1" into an error or, with
``normalize=True``, divide by it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import sympy as sp

from symlik.core import expectation as E
from symlik.core.errors import NotSupportedError, SymlikError

TOLERANCE = 1e-6  # relative, for "integrates to 1" numerically
DIVERGENT = 1e12  # a numerical integral beyond this is taken as divergent


class DensityError(SymlikError):
    """A density that is negative somewhere, not normalised, or without a finite normaliser."""


@dataclass(frozen=True)
class Normaliser:
    value: sp.Expr | None  # the symbolic integral / sum; None when only numerics succeeded
    numeric: tuple  # ((param values dict, float), ...) at the sample points
    method: str  # "symbolic" or "numeric"

    @property
    def is_one(self) -> bool:
        if self.value is not None:
            return sp.simplify(self.value - 1) == 0
        return all(abs(v - 1) <= TOLERANCE for _, v in self.numeric)


def sample_points(params: dict) -> list[dict]:
    """Valid parameter values: ``params`` maps Symbol -> Constraint, in declaration order.
    The i-th point takes the i-th of each constraint's ``samples``.

    Two parameters with the same constraint never share a value: unbounded ones
    step up by 2 in declaration order (so a uniform's a < b), the others
    rotate through their values.
    """
    points = []
    for i in range(3):
        point = {}
        for j, (sym, constraint) in enumerate(params.items()):
            values = constraint.samples
            if not values:
                raise NotSupportedError(f"no sample values for constraint {constraint.name!r}")
            point[sym] = values[i] + 2 * j if constraint.unbounded else values[(i + j) % len(values)]
        points.append(point)
    return points


def _describe(point: dict) -> str:
    return ", ".join(f"{s}={v:g}" for s, v in point.items())


def _numeric(expr, symbols):
    """expr as a function for mpmath's quadrature: doubles first, mpmath where doubles fail.

    Quadrature over an infinite range evaluates far out in the tails, where
    exp(-cosh(u)) would make mpmath compute with astronomically large
    exponents (minutes); in doubles it is 0 at once. Where doubles give nan
    (inf/inf, as lam^y / y! at large y) mpmath evaluates that point instead;
    where they overflow the value is taken as infinite.
    """
    import mpmath
    import numpy as np

    from scipy import special

    # lambdify would print binomial(m, y) as 1/(Gamma(m - y + 1) Gamma(y + 1)) ..., which has
    # poles at the very integers y > m where the binomial is 0; keep it a binomial.
    binom = sp.Function("binom")
    expr = expr.replace(lambda e: isinstance(e, sp.binomial), lambda e: binom(*e.args))
    fast = sp.lambdify(symbols, expr, modules=[{"binom": special.binom}, "numpy", "scipy"])
    exact = sp.lambdify(symbols, expr, modules=[{"binom": mpmath.binomial}, "mpmath"])

    def value(*args):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                v = complex(fast(*(float(a) for a in args)))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                v = complex(math.nan)
        if math.isfinite(v.real) and math.isfinite(v.imag):
            return mpmath.mpc(v) if v.imag else mpmath.mpf(v.real)
        if math.isinf(v.real) and not math.isnan(v.imag):
            return mpmath.inf if v.real > 0 else -mpmath.inf
        try:
            with mpmath.workdps(20):
                return exact(*args)
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return mpmath.nan

    return value


def _y_grid(domain: E.Domain, point: dict) -> list[float]:
    lo = domain.lower.subs(point) if domain.lower.free_symbols else domain.lower
    hi = domain.upper.subs(point) if domain.upper.free_symbols else domain.upper
    if domain.discrete:
        start = int(lo) if lo.is_finite else -10
        stop = int(hi) if hi.is_finite else start + 20
        return [float(v) for v in range(start, min(stop, start + 40) + 1)]
    if lo.is_finite and hi.is_finite:
        lo, hi = float(lo), float(hi)
        return [lo + (hi - lo) * f for f in (0.013, 0.1, 0.25, 0.5, 0.75, 0.9, 0.987)]
    if lo.is_finite:
        return [float(lo) + d for d in (0.01, 0.3, 1.0, 2.5, 6.0, 15.0)]
    if hi.is_finite:
        return [float(hi) - d for d in (0.01, 0.3, 1.0, 2.5, 6.0, 15.0)]
    return [-9.0, -3.5, -1.0, -0.2, 0.0, 0.4, 1.3, 3.0, 8.0]


def check_values(expr, y, domain: E.Domain, points: list[dict], what: str = "density") -> None:
    """Raise DensityError if the density is negative or not real somewhere valid."""
    import mpmath

    syms = [y, *points[0]]
    fn = _numeric(expr, syms)
    for point in points:
        for yv in _y_grid(domain, point):
            v = fn(yv, *point.values())
            if isinstance(v, mpmath.mpc) and abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
                raise DensityError(f"the {what} is not real at y={yv:g}, {_describe(point)} (value {mpmath.nstr(v, 6)})")
            v = mpmath.re(v) if isinstance(v, mpmath.mpc) else v
            if mpmath.isnan(v):
                continue
            if v < -1e-12:
                raise DensityError(f"the {what} is negative at y={yv:g}, {_describe(point)} (value {mpmath.nstr(v, 6)})")


def numeric_total(expr, y, domain: E.Domain, point: dict) -> float:
    """The integral / sum of the density at one parameter point, by mpmath."""
    import mpmath

    fn = _numeric(expr.subs(point), [y])
    lo = domain.lower.subs(point) if domain.lower.free_symbols else domain.lower
    hi = domain.upper.subs(point) if domain.upper.free_symbols else domain.upper
    lo_m = -mpmath.inf if lo == -sp.oo else mpmath.mpf(float(lo))
    hi_m = mpmath.inf if hi == sp.oo else mpmath.mpf(float(hi))
    with mpmath.workdps(30):
        try:
            if domain.discrete:
                if lo.is_finite and hi.is_finite and hi - lo <= 10_000:
                    value = mpmath.fsum(fn(mpmath.mpf(k)) for k in range(int(lo), int(hi) + 1))
                else:
                    value = mpmath.nsum(lambda k: fn(k), [lo_m, hi_m])
            else:
                # Break the range at the kinks of |.| so quadrature sees smooth pieces.
                kinks = sorted(float(p.subs(point)) for p in E._abs_breakpoints(expr, y) if not p.subs(point).free_symbols)
                cuts = [lo_m, *[mpmath.mpf(k) for k in kinks if lo_m < k < hi_m], hi_m]
                if lo_m == -mpmath.inf and hi_m == mpmath.inf and len(cuts) == 2:
                    cuts = [lo_m, mpmath.mpf(0), hi_m]
                value = mpmath.quad(fn, cuts)
                # a mass at a bound (a censored normal's y = c): the density's value there is its probability
                value += mpmath.fsum(fn(mpmath.mpf(float(m.subs(point)))) for m in domain.masses)
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return math.nan
    value = complex(value)
    return value.real if abs(value.imag) < 1e-12 else math.nan


def normaliser(expr, y, domain: E.Domain, params: dict, *, numeric_only: bool = False) -> Normaliser:
    """What the density integrates (sums) to: symbolic where SymPy can, else numeric."""
    points = sample_points(params)
    symbolic = None if numeric_only else E.total(expr, y, domain)
    numeric = tuple((p, numeric_total(expr, y, domain, p)) for p in points)
    if symbolic is not None:
        if symbolic.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            return Normaliser(symbolic, numeric, "symbolic")
        # Cross-check SymPy at the sample points; conds="none" may drop a condition.
        agree = all(
            not math.isfinite(v) or abs(complex(symbolic.subs(p).evalf()) - v) <= TOLERANCE * max(1.0, abs(v))
            for p, v in numeric
        )
        if agree:
            return Normaliser(symbolic, numeric, "symbolic")
    return Normaliser(None, numeric, "numeric")


def check(expr, y, domain: E.Domain, params: dict, normalize: bool = False, what: str = "density"):
    """Validate a density; returns (density, normaliser or None).

    With ``normalize=True`` the density is divided by its symbolic normaliser
    (which is returned so the derivation can show it); otherwise a density
    that does not integrate to 1 raises DensityError saying what it integrates to.
    """
    points = sample_points(params)
    check_values(expr, y, domain, points, what)
    found = normaliser(expr, y, domain, params)
    measure = "sums" if domain.discrete else "integrates"
    numbers = "; ".join(f"{v:.6g} at {_describe(p)}" if p else f"{v:.6g}" for p, v in found.numeric)
    if found.value is not None and found.value.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        raise DensityError(f"the {what} has no finite normaliser: it {measure} to {sp.sstr(found.value)} over its support")
    if found.value is None and any(not math.isfinite(v) or abs(v) > DIVERGENT for _, v in found.numeric):
        raise DensityError(f"the {what} has no finite normaliser: numerically it {measure} to {numbers}")
    if found.value is not None and sp.simplify(found.value) == 0 or (
        found.value is None and all(abs(v) < 1e-300 for _, v in found.numeric)
    ):
        raise DensityError(f"the {what} {measure} to 0 over its support")
    if found.is_one:
        return expr, None
    if normalize:
        if found.value is None:
            raise NotSupportedError(
                f"SymPy cannot find the normaliser of the {what} in closed form (numerically it {measure} to {numbers}); "
                "write the constant into the density"
            )
        return expr / found.value, found.value
    shown = sp.sstr(found.value) if found.value is not None else f"about {numbers}"
    raise DensityError(f"the {what} {measure} to {shown}, not 1, over its support; pass normalize=True to divide by it")
