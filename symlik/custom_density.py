"""User-defined densities: ``symlik.custom(name, density=..., observed=y, params={...})``.

The user's symbols are replaced by symlik's canonical ones (the observed
value becomes ``y``; each parameter gets the assumptions of its constraint),
so that everything downstream (derivation, the matcher's proof, rendering,
kernels) treats a custom density exactly like a catalog one. Nothing here
looks at the name: a Gaussian in disguise is identified by proof.
"""

from __future__ import annotations

import keyword

import sympy as sp

from .distributions import constraints as C
from .distributions.base import Distribution, Param
from .errors import SymlikError, UnknownNameError

SUPPORTS = {
    "real": C.reals,
    "positive": C.positive_reals,
    "unit_interval": C.Support("continuous", 0, 1),
    "nonnegative_integer": C.Support("discrete", 0, None),
    "positive_integer": C.Support("discrete", 1, None),
    "binary": C.Support("discrete", 0, 1),
}


def _check_name(name, what) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise SymlikError(f"{what} must be a Python identifier; got {name!r}")
    return name


def custom(
    name: str,
    density: sp.Expr | None = None,
    *,
    observed,
    params: dict,
    log_density: sp.Expr | None = None,
    support: str | C.Support = "real",
    predict=None,
) -> Distribution:
    """A Distribution from a SymPy density (or log-density).

    Parameters
    ----------
    name : str
        A label for the derivation (any identifier; it is never used to identify the loss).
    density, log_density : sympy.Expr
        Exactly one of them, in terms of ``observed`` and the parameter symbols.
    observed : sympy.Symbol
        The symbol standing for the observation; it is renamed ``y``.
    params : dict
        Parameter symbol -> constraint name (``real``, ``positive``, ``unit_interval``,
        ``positive_integer``, ``nonnegative_integer``), in declaration order.
    support : str or Support
        Where y lives (``real``, ``positive``, ``unit_interval``, ``binary``, ...).
    predict : tuple of str, optional
        Default predicted parameters (default: the first one).
    """
    _check_name(name, "name")
    if (density is None) == (log_density is None):
        raise SymlikError("give exactly one of density= or log_density=")
    expr = density if density is not None else log_density
    if not isinstance(expr, sp.Expr):
        raise SymlikError(f"{'density' if density is not None else 'log_density'} must be a SymPy expression; got {type(expr).__name__}")
    if not isinstance(observed, sp.Symbol):
        raise SymlikError(f"observed must be a SymPy Symbol; got {observed!r}")
    if not isinstance(params, dict) or not params:
        raise SymlikError("params must be a non-empty dict {symbol: constraint}")
    declared = []
    for sym, cname in params.items():
        if not isinstance(sym, sp.Symbol):
            raise SymlikError(f"params keys must be SymPy Symbols; got {sym!r}")
        _check_name(sym.name, "parameter name")
        if sym.name == "y" or sym == observed:
            raise SymlikError(f"parameter {sym.name!r} clashes with the observed value")
        if cname not in C.CONSTRAINTS or cname == "simplex":
            raise UnknownNameError("constraint", cname, [c for c in C.CONSTRAINTS if c != "simplex"])
        declared.append(Param(sym.name, C.CONSTRAINTS[cname]))
    unknown = expr.free_symbols - set(params) - {observed}
    if unknown:
        raise SymlikError(f"the density uses undeclared symbol(s) {', '.join(sorted(map(str, unknown)))}")
    if isinstance(support, str):
        if support not in SUPPORTS:
            raise UnknownNameError("support", support, SUPPORTS)
        support = SUPPORTS[support]
    names = tuple(p.name for p in declared)
    predict = tuple(predict) if predict is not None else names[:1]

    cls = type(
        f"Custom_{name}",
        (Distribution,),
        {
            "name": name,
            "title": name.replace("_", " "),
            "params": tuple(declared),
            "support": support,
            "predict": predict,
            "custom": True,
            "__doc__": f"User-defined density {name}.",
        },
    )
    spec = cls()
    mapping = {observed: spec.y, **{s: spec.symbol(s.name) for s in params}}
    user_expr = expr.xreplace(mapping)
    if density is not None:
        spec.density = lambda y, **theta: user_expr.xreplace({spec.y: y, **{spec.symbol(n): v for n, v in theta.items()}})
    else:
        spec.density = lambda y, **theta: sp.exp(user_expr).xreplace({spec.y: y, **{spec.symbol(n): v for n, v in theta.items()}})
        spec.log_density = lambda y, **theta: user_expr.xreplace({spec.y: y, **{spec.symbol(n): v for n, v in theta.items()}})
    return spec
