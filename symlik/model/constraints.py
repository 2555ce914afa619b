"""Parameter constraints and supports, declared as data (as torch.distributions does).

A constraint knows three things: the SymPy assumptions its symbol carries
(so that simplification may use them), how to check an array of values,
and the sentence to say when a value breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Constraint:
    name: str
    rule: str  # completes "sigma must ..." in an error message
    assumptions: dict = field(default_factory=dict)
    integer: bool = False

    def violations(self, values) -> np.ndarray:
        """Boolean mask of the entries that break the constraint."""
        v = np.asarray(values)
        if v.dtype.kind == "b":
            v = v.astype(np.int8)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)
            if self.name == "positive":
                bad |= ~(v > 0)
            elif self.name == "nonnegative":
                bad |= ~(v >= 0)
            elif self.name == "unit_interval":
                bad |= ~((v >= 0) & (v <= 1))
            elif self.name == "open_unit_interval":
                bad |= ~((v > 0) & (v < 1))
            elif self.name == "positive_integer":
                bad |= ~((v >= 1) & (v == np.floor(v)))
            elif self.name == "nonnegative_integer":
                bad |= ~((v >= 0) & (v == np.floor(v)))
            elif self.name == "simplex":
                bad |= ~(v >= 0)
                if v.ndim:
                    row_bad = ~np.isclose(v.sum(axis=-1), 1.0, rtol=1e-6, atol=1e-6)
                    bad |= row_bad[..., None]
        return bad

    def __str__(self) -> str:
        return self.name


real = Constraint("real", "be a finite real number", {"real": True})
positive = Constraint("positive", "be > 0", {"positive": True})
unit_interval = Constraint("unit_interval", "lie in [0, 1]", {"nonnegative": True})
open_unit_interval = Constraint("open_unit_interval", "lie in (0, 1)", {"positive": True})
positive_integer = Constraint(
    "positive_integer", "be an integer >= 1", {"integer": True, "positive": True}, integer=True
)
nonnegative_integer = Constraint(
    "nonnegative_integer", "be an integer >= 0", {"integer": True, "nonnegative": True}, integer=True
)
simplex = Constraint("simplex", "be nonnegative and sum to 1 over the last axis", {"nonnegative": True})

CONSTRAINTS = {
    c.name: c
    for c in (real, positive, unit_interval, open_unit_interval, positive_integer, nonnegative_integer, simplex)
}


@dataclass(frozen=True)
class Support:
    """Where y lives. ``kind`` is 'continuous', 'discrete', 'onehot' or 'simplex'.

    For 'continuous' and 'discrete', ``lower``/``upper`` bound the values
    (``None`` is unbounded; a bound given as a parameter name, e.g. ``"n"``,
    is read from that parameter). Vector supports ('onehot', 'simplex',
    'reals_vector', 'counts_vector') put the event on the last axis.
    """

    kind: str
    lower: float | str | None = None
    upper: float | str | None = None
    open_lower: bool = False
    open_upper: bool = False

    @property
    def discrete(self) -> bool:
        return self.kind in ("discrete", "onehot", "counts_vector")

    @property
    def event(self) -> bool:
        return self.kind in ("onehot", "simplex", "reals_vector", "counts_vector")

    def describe(self) -> str:
        if self.kind == "onehot":
            return "one-hot vector (or class index)"
        if self.kind == "simplex":
            return "probability simplex"
        if self.kind == "reals_vector":
            return "R^D"
        if self.kind == "counts_vector":
            return "count vector summing to n"
        lo = "-inf" if self.lower is None else str(self.lower)
        hi = "inf" if self.upper is None else str(self.upper)
        if self.kind == "discrete":
            return f"{{{lo}, ..., {hi}}}"
        lb = "(" if self.open_lower or self.lower is None else "["
        ub = ")" if self.open_upper or self.upper is None else "]"
        return f"{lb}{lo}, {hi}{ub}"


reals = Support("continuous")
positive_reals = Support("continuous", 0, None, open_lower=True)
