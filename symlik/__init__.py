"""symlik: turn a probability model into a loss function, and show the work.

>>> import symlik
>>> symlik.derive("normal").loss.name
'mse'

The top-level names are loaded lazily, so ``import symlik`` does not import
SymPy (or SciPy, or any optional backend) until a derivation is asked for.
"""

from __future__ import annotations

from importlib import import_module

from symlik.core.errors import ConstraintError, NotSupportedError, SymlikError, UnknownNameError
from symlik.model.distributions import get as catalog_get, names as catalog_names

__version__ = "0.1.0"

# The names below are loaded on first use (module __getattr__, PEP 562): this table names the
# module of each, so that `import symlik` stays free of SymPy, SciPy and the backends.
_LAZY = {
    "derive": ("symlik.derivation", "derive"),
    "Derivation": ("symlik.derivation", "Derivation"),
    "Step": ("symlik.derivation", "Step"),
    "compile": ("symlik.compiler", "compile"),
    "Kernel": ("symlik.compiler.kernel", "Kernel"),
    "Loss": ("symlik.losses.matcher", "Loss"),
    "Distribution": ("symlik.model.distributions.base", "Distribution"),
    "Param": ("symlik.model.distributions.base", "Param"),
    "custom": ("symlik.model.custom", "custom"),
    "from_sympy_stats": ("symlik.model.sympy_stats", "from_sympy_stats"),
    "parse_expression": ("symlik.model.parse", "parse_expression"),
    "ParseError": ("symlik.model.parse", "ParseError"),
    "DensityError": ("symlik.model.normalisation", "DensityError"),
    "kl": ("symlik.analysis.divergence", "kl"),
    "implied_density": ("symlik.analysis.implied", "implied_density"),
    "compile_information": ("symlik.compiler", "compile_information"),  # compile(d, target=...), numpy by default
    "vae_document": ("symlik.derivation.vae", "vae_document"),
    "time_budget": ("symlik.core.budget", "time_budget"),  # with symlik.time_budget(60): custom(...); derive(...)
    "BudgetExceeded": ("symlik.core.budget", "BudgetExceeded"),
    # Modules: symlik.xgboost.objective(...) without importing symlik.xgboost first.
    "xgboost": ("symlik.xgboost", None),
    "lightgbm": ("symlik.lightgbm", None),
}

# One module per training framework, loaded on first use (``symlik.torch.Loss``,
# ``symlik.jax.loss``): each imports its framework at the top. They are left out of
# ``__all__`` so that ``from symlik import *`` imports neither torch nor JAX.
_FRAMEWORKS = {"torch": "symlik.torch", "jax": "symlik.jax"}


def names() -> tuple[str, ...]:
    """Sorted tuple of catalog names."""
    return catalog_names()


def get(name: str, **options):
    """The catalog distribution ``name``; unknown names raise ``SymlikError`` with suggestions."""
    return catalog_get(name, **options)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = import_module(module) if attr is None else getattr(import_module(module), attr)
        globals()[name] = value
        return value
    if name in _FRAMEWORKS:
        return import_module(_FRAMEWORKS[name])  # the import also sets symlik.<name>
    raise AttributeError(f"module 'symlik' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY, *_FRAMEWORKS])


__all__ = [
    "ConstraintError",
    "NotSupportedError",
    "SymlikError",
    "UnknownNameError",
    "names",
    "get",
    *_LAZY,
]
