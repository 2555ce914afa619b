"""A sympy.stats random variable as a symlik Distribution: ``symlik.from_sympy_stats(rv)``.

The density (``pdf`` for continuous and countable distributions, ``pmf``
for finite ones) and the support (``set``) come from the random variable;
the result goes through ``symlik.custom``, so it is checked, derived,
identified and compiled like any other density.

Each parameter's constraint is read from its symbol's assumptions
(``positive=True`` -> positive, ...) or, for a symbol without any, found by
asking the distribution's own ``check``: which of -1.5, 0, 0.5 and 2 does it
refuse? (A normal's std refuses -1.5 and 0: positive; a Bernoulli's p
refuses -1.5 and 2: unit_interval.) ``params=`` overrides either.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.errors import NotSupportedError, SymlikError
from symlik.model.custom import custom

PROBES = (-1.5, 0, 0.5, 2)


def _accepts(dist, position, value) -> bool | None:
    """Does the distribution's check accept ``value`` at argument ``position``? None: no check."""
    check = getattr(type(dist), "check", None)
    if check is None:
        return None
    args = list(dist.args)
    args[position] = sp.Rational(value) if isinstance(value, (int, float)) else value  # a number, never text
    try:
        check(*args)
    except (ValueError, TypeError):
        return False
    return True


def _from_assumptions(sym) -> str | None:
    if sym.is_integer and sym.is_positive:
        return "positive_integer"
    if sym.is_integer and sym.is_nonnegative:
        return "nonnegative_integer"
    if sym.is_positive:
        return "positive"
    return None


def _probe(dist, position) -> str | None:
    ok = {v: _accepts(dist, position, v) for v in PROBES}
    if None in ok.values():
        return None
    if ok[-1.5]:
        return "real"
    if ok[0.5] and not ok[2]:
        return "unit_interval"
    if ok[0.5] and ok[2]:
        return "positive"
    if ok[2] and not ok[0.5]:
        return "nonnegative_integer" if ok[0] else "positive_integer"
    return None


def _constraints(dist, symbols, given: dict) -> dict:
    out = {}
    for sym in sorted(symbols, key=lambda s: s.name):
        if sym.name in given:
            out[sym] = given[sym.name]
            continue
        found = _from_assumptions(sym)
        if found is None and sym in dist.args:
            found = _probe(dist, list(dist.args).index(sym))
        if found is None:
            found = "real" if sym.is_real else None
        if found is None:
            raise SymlikError(
                f"cannot tell the constraint of parameter {sym.name}; pass params={{'{sym.name}': 'positive'}} (or another)"
            )
        out[sym] = found
    return out


def _density(dist, y):
    f = dist.pdf(y) if hasattr(dist, "pdf") else dist.pmf(y)
    if not isinstance(f, sp.Piecewise):
        return f
    pieces = [(e, c) for e, c in f.args if not (e == 0 and c == sp.true)]
    if len(pieces) == 1:  # one formula on the support (binomial, uniform): the support restricts it
        return pieces[0][0]
    masses = {}
    for e, c in pieces:
        if not (isinstance(c, sp.Eq) and y in (c.lhs, c.rhs)):
            raise NotSupportedError(f"cannot turn the piecewise density {f} into one formula")
        point = c.rhs if c.lhs == y else c.lhs
        if not point.is_Integer:
            raise NotSupportedError(f"a finite support must be integers; got {point}")
        masses[int(point)] = e
    points = sorted(masses)
    if points != list(range(points[0], points[-1] + 1)) or len(points) > 8:
        raise NotSupportedError("a finite distribution needs at most 8 consecutive integer values")
    # prod_j p_j^{L_j(y)} with the Lagrange basis L_j: equals p_j at y = j. For {0, 1}: p^y (1-p)^(1-y).
    density = sp.S.One
    for j in points:
        basis = sp.Mul(*((y - m) / (j - m) for m in points if m != j))
        density *= masses[j] ** sp.expand(basis)
    return density


def from_sympy_stats(rv, *, name: str | None = None, params: dict | None = None, predict=None, normalize: bool = False, check: bool = True):
    """A Distribution from a sympy.stats random variable, e.g. ``Normal("Y", m, s)``.

    Parameters
    ----------
    rv : sympy.stats random symbol
    name : str, optional
        Default: the distribution's class name without ``Distribution``, lower case.
    params : dict, optional
        Parameter name -> constraint, overriding what the symbols' assumptions
        or the distribution's own checks say.
    predict, normalize, check :
        As for ``symlik.custom``.
    """
    pspace = getattr(rv, "pspace", None)
    dist = getattr(pspace, "distribution", None)
    if dist is None or not hasattr(dist, "set"):
        raise SymlikError(f"from_sympy_stats needs a sympy.stats random variable (e.g. Normal('Y', m, s)); got {rv!r}")
    y = sp.Dummy("y", real=True)
    density = _density(dist, y)
    symbols = density.free_symbols - {y}
    for bound in getattr(dist.set, "boundary", sp.EmptySet).free_symbols if isinstance(dist.set, sp.Interval) else ():
        symbols.add(bound)
    if not symbols:
        raise SymlikError("the random variable has no symbolic parameters to predict")
    given = dict(params or {})
    unknown = set(given) - {s.name for s in symbols}
    if unknown:
        raise SymlikError(f"params names {', '.join(sorted(map(str, unknown)))} are not parameters of {rv}")
    constraints = _constraints(dist, symbols, given)
    ordered = {s: constraints[s] for s in sorted(symbols, key=lambda s: _order(dist, s))}
    default_name = type(dist).__name__.removesuffix("Distribution").lower() or "sympy_stats"
    support = dist.set
    return custom(
        name or default_name,
        density=density,
        observed=y,
        params=ordered,
        support=support,
        predict=predict,
        normalize=normalize,
        check=check,
    )


def _order(dist, sym):
    """Parameters in the distribution's argument order (the first is predicted by default)."""
    for position, arg in enumerate(dist.args):
        if sym == arg:
            return (position, sym.name)
        if isinstance(arg, sp.Basic) and arg.has(sym):
            return (position + 0.5, sym.name)
    return (len(dist.args), sym.name)
