"""The distribution registry: one module per distribution, found by name.

``names()`` lists the modules in this package without importing them (so
``symlik.names()`` stays cheap); ``get(name)`` imports ``<name>.py`` and
returns its ``Distribution`` subclass instance. Adding a distribution is
adding one file whose class sets ``name`` to the file's stem.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from symlik.core.errors import UnknownNameError

# Modules of this package that are infrastructure, not distributions.
_NOT_DISTRIBUTIONS = frozenset({"base"})


@lru_cache(maxsize=None)
def names() -> tuple[str, ...]:
    return tuple(
        sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_DISTRIBUTIONS and not m.name.startswith("_"))
    )


@lru_cache(maxsize=None)
def _class(name: str):
    # base is loaded through the registry too, so that listing names() never imports SymPy.
    Distribution = importlib.import_module(f"{__name__}.base").Distribution
    module = importlib.import_module(f"{__name__}.{name}")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Distribution) and getattr(obj, "name", None) == name
    ]
    if len(found) != 1:
        raise RuntimeError(f"module {module.__name__} must define exactly one Distribution named {name!r}")
    return found[0]


# Names a user may know a distribution by, suggested when they type them (never accepted
# silently: the catalog has one name for each distribution).
ALIASES = {
    "gaussian": "normal",
    "gauss": "normal",
    "bce": "bernoulli",
    "logistic_regression": "bernoulli",
    "ce": "categorical",
    "cross_entropy": "categorical",
    "softmax": "categorical",
    "multinoulli": "categorical",
    "mse": "normal",
    "mae": "laplace",
    "l1": "laplace",
    "l2": "normal",
    "log_normal": "lognormal",
    "student": "student_t",
    "t": "student_t",
    "lorentzian": "cauchy",
    "circular_normal": "von_mises",
    "vonmises": "von_mises",
    "wald": "inverse_gaussian",
    "negbin": "negative_binomial",
}


def get(name: str, **options):
    """The distribution called ``name`` (with ``options``, e.g. ``sigma="per_dim"``)."""
    if not isinstance(name, str) or name not in names():
        raise UnknownNameError("distribution", name, names(), ALIASES)
    return _class(name)(**options)
