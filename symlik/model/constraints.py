"""Parameter constraints and supports, declared as data (as torch.distributions does).

A constraint is an object that knows everything symlik needs about a set of
parameter values, so that no code branches on a constraint's name:

- ``check(values)``: which entries break it (validation of kernel inputs);
- ``assumptions``: what SymPy may assume of its symbol (simplification uses them);
- ``rule``: the words that complete "sigma must ..." in an error message;
- ``draw(rng, shape)``: random valid values (tests draw inputs by constraint, as
  numpyro's ``gen_values_within_bounds`` does);
- a few chosen values: ``typical`` and ``several`` (figures), ``samples``
  (the normalisation check of a custom density) and ``extremes(dtype)`` (the
  accuracy grid).

Two kinds exist: an ``Interval`` of reals or integers (real, positive,
unit_interval, ...) and the ``Simplex`` of probability vectors on the last axis.
A kernel stores the checks of its inputs as JSON (``describe``/``from_description``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # annotations only: see Interval.excludes
    import sympy as sp


def near_one(dtype) -> float:
    """The largest value below 1 that the accuracy grid tries: 1 - 1e-15 in float64, the float32 neighbour of 1 otherwise."""
    return 1 - 1e-15 if np.dtype(dtype) == np.float64 else float(np.nextafter(np.float32(1), np.float32(0)))


@dataclass(frozen=True)
class Constraint:
    """A set of values a parameter may take. Subclasses say how to check and draw them."""

    name: str
    rule: str  # completes "sigma must ..." in an error message
    assumptions: dict = field(default_factory=dict)
    typical: float = 1.0  # the value a reader would try first (a figure's fixed parameter)
    several: tuple = (-1.0, 0.0, 1.0)  # a few values, one curve each in a figure
    samples: tuple = ()  # three valid values: the sample points of a custom density's checks
    plot_range: tuple = (-4.0, 4.0, 401)  # np.linspace arguments for a figure with this parameter on the x axis

    event: ClassVar[bool] = False  # the values are vectors on the last axis
    integer: ClassVar[bool] = False

    @property
    def label(self) -> str:
        """The name as words, for tables: "unit interval"."""
        return self.name.replace("_", " ")

    @property
    def unbounded(self) -> bool:
        """The whole real line (a location: figures put its residual on the axis)."""
        return False

    def check(self, values) -> np.ndarray:  # pragma: no cover - abstract
        """Boolean mask of the entries that break the constraint."""
        raise NotImplementedError

    def violations(self, values) -> np.ndarray:
        """The mask of ``check`` (the name the kernels' validation calls)."""
        return self.check(values)

    def quick_ok(self, values: np.ndarray) -> bool:
        """True when every entry certainly passes, told cheaply (False: ask ``check``)."""
        return False

    def draw(self, rng, shape) -> np.ndarray:  # pragma: no cover - abstract
        """Random valid values of the given shape (moderate ones, away from the edges)."""
        raise NotImplementedError

    def extremes(self, dtype) -> list:  # pragma: no cover - abstract
        """Valid values at and next to the edges, for the accuracy grid."""
        raise NotImplementedError

    def extreme_rows(self, size: int, dtype) -> list | None:
        """For a vector constraint with its own edges: valid rows of ``size`` entries at and next to
        them, for the accuracy grid (None: the caller's simplex rows, or scalar values)."""
        return None

    def within(self, other: Constraint) -> bool:
        """Every value valid here is valid for ``other`` (a link fits a parameter this way)."""
        return self == other

    def closure(self) -> Constraint:
        """The set with its edges added (a link's range (0, inf) has closure [0, inf))."""
        return self

    def excludes(self, value: sp.Expr) -> bool:
        """SymPy proves that the symbolic ``value`` breaks the constraint (a best constant out of range)."""
        return False

    def uninformed(self, size: sp.Expr) -> sp.Expr | None:
        """The value that favours no outcome (1/2 on [0, 1], 1/size on the simplex), if there is one."""
        return None

    def inward(self, value) -> int:
        """+1 at a closed lower edge, -1 at a closed upper edge, 0 elsewhere: the side a
        one-sided difference at ``value`` must take (a continuous parameter only)."""
        return 0

    def with_rule(self, rule: str) -> Constraint:
        """The same set, described by other words (an option's "be >= 0 and finite")."""
        return dataclasses.replace(self, rule=rule)

    def describe(self) -> dict:
        """A JSON-ready description from which ``from_description`` rebuilds this constraint."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}

    @staticmethod
    def from_description(fields: dict) -> Constraint:
        fields = dict(fields)
        kind = KINDS[fields.pop("type")]
        return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})

    @staticmethod
    def _as_array(values) -> np.ndarray:
        v = np.asarray(values)
        return v.astype(np.int8) if v.dtype.kind == "b" else v

    @staticmethod
    def _non_finite(v) -> np.ndarray:
        return ~np.isfinite(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Interval(Constraint):
    """Finite reals (or integers) between two bounds; ``None`` is unbounded."""

    lower: float | None = None
    upper: float | None = None
    open_lower: bool = False
    open_upper: bool = False

    @property
    def unbounded(self) -> bool:
        return self.lower is None and self.upper is None

    def check(self, values) -> np.ndarray:
        v = self._as_array(values)
        with np.errstate(invalid="ignore"):
            bad = self._non_finite(v)
            if self.lower is not None:
                bad |= ~(v > self.lower) if self.open_lower else ~(v >= self.lower)
            if self.upper is not None:
                bad |= ~(v < self.upper) if self.open_upper else ~(v <= self.upper)
        return bad

    def quick_ok(self, values: np.ndarray) -> bool:
        # Two reductions instead of a mask per condition: nan propagates into min and max.
        return within_bounds(values, self.lower, self.upper, self.open_lower, self.open_upper)

    def draw(self, rng, shape) -> np.ndarray:
        if self.unbounded:
            return rng.normal(0.0, 2.0, shape)
        if self.upper is None:
            return self.lower + rng.lognormal(0.0, 0.5, shape)
        return self.lower + (self.upper - self.lower) * rng.uniform(0.05, 0.95, shape)

    def extremes(self, dtype) -> list:
        if self.unbounded:
            return [-1e8, -1.0, -1e-8, 0.0, 1e-8, 1.0, 1e8]
        lo, hi = self.lower, self.upper
        if hi is None:  # scales from 1e-8 to 1e8
            inner = [lo + v for v in (1e-8, 1e-3, 1.0, 1e3, 1e8)]
        else:  # within 1e-15 of each edge
            width = hi - lo
            inner = [lo + width * 1e-15, lo + width / 2, lo + width * near_one(dtype)]
        closed_lo = [] if self.open_lower else [float(lo)]
        closed_hi = [] if (hi is None or self.open_upper) else [float(hi)]
        return closed_lo + inner + closed_hi

    def excludes(self, value: sp.Expr) -> bool:
        import sympy as sp  # here, not at module level: kernels validate with constraints, and a warm cache imports no SymPy

        if self.lower is not None:
            below = value - sp.nsimplify(self.lower)
            if (below.is_nonpositive if self.open_lower else below.is_negative) is True:
                return True
        if self.upper is not None:
            above = value - sp.nsimplify(self.upper)
            if (above.is_nonnegative if self.open_upper else above.is_positive) is True:
                return True
        return False

    def uninformed(self, size: sp.Expr) -> sp.Expr | None:
        import sympy as sp  # see excludes

        if self.lower is None or self.upper is None:
            return None
        return (sp.nsimplify(self.lower) + sp.nsimplify(self.upper)) / 2

    def inward(self, value) -> int:
        if self.integer:  # counts are not differentiated
            return 0
        if self.lower is not None and not self.open_lower and value == self.lower:
            return 1
        if self.upper is not None and not self.open_upper and value == self.upper:
            return -1
        return 0

    def closure(self) -> Constraint:
        return dataclasses.replace(self, open_lower=False, open_upper=False)

    def within(self, other: Constraint) -> bool:
        if not isinstance(other, Interval) or (other.integer and not self.integer):
            return False
        if other.lower is not None:
            if self.lower is None or self.lower < other.lower:
                return False
            if self.lower == other.lower and other.open_lower and not self.open_lower:
                return False
        if other.upper is not None:
            if self.upper is None or self.upper > other.upper:
                return False
            if self.upper == other.upper and other.open_upper and not self.open_upper:
                return False
        return True


@dataclass(frozen=True)
class IntegerInterval(Interval):
    """Integers from ``lower`` up (counts, numbers of trials)."""

    integer: ClassVar[bool] = True

    def check(self, values) -> np.ndarray:
        v = self._as_array(values)
        with np.errstate(invalid="ignore"):
            return super().check(v) | ~(v == np.floor(v))

    def quick_ok(self, values: np.ndarray) -> bool:
        return values.dtype.kind in "biu" and super().quick_ok(values)  # integers need no floor test

    def draw(self, rng, shape) -> np.ndarray:
        return rng.integers(self.lower, 20, shape).astype(float)

    def extremes(self, dtype) -> list:
        return [float(self.lower), float(self.lower + 1), 10.0, 1e6]


@dataclass(frozen=True)
class IntervalOrInfinity(Interval):
    """An Interval that also admits one infinity (``infinity``, +inf by default): the upper end of a
    censoring interval, inf where the time is right-censored (XGBoost's label_upper_bound), or a
    truncation bound left open (-inf below, +inf above). Its symbol is extended-real, so that a
    condition ``Eq(upper, oo)`` stays a condition instead of evaluating to False."""

    infinity: float = math.inf

    def check(self, values) -> np.ndarray:
        v = self._as_array(values)
        return super().check(v) & ~(v == self.infinity)


def within_bounds(v: np.ndarray, lower, upper, open_lower: bool, open_upper: bool) -> bool:
    """Every entry of ``v`` finite and within the bounds (None: unbounded), told by its min and
    max; False where either is nan or infinite (the caller then looks entry by entry). The
    caller quiets overflow and invalid: an unbounded ``v`` is told by one sum, which may overflow."""
    if v.dtype.kind not in "biuf":
        return False
    if v.size == 0:
        return True
    if lower is None and upper is None:
        # One reduction: the sum is finite only if every entry is (a nan or an infinity carries
        # into it). A sum that overflows says False, and the caller looks entry by entry.
        return v.dtype.kind != "f" or math.isfinite(v.sum())
    lo, hi = float(v.min()), float(v.max())  # Python floats: math.isfinite is 20x np.isfinite on a scalar
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return False
    if lower is not None and not (lo > lower if open_lower else lo >= lower):
        return False
    return upper is None or bool(hi < upper if open_upper else hi <= upper)


def rows_off_the_simplex(v) -> np.ndarray:
    """Rows of ``v`` whose sum over the last axis is not 1 within 2e-6 (a nan sum included):
    np.isclose(sum, 1, rtol=1e-6, atol=1e-6), written out (np.isclose costs 20 us a call)."""
    return ~(np.abs(v.sum(axis=-1) - 1.0) <= 2e-6)


@dataclass(frozen=True)
class Simplex(Constraint):
    """Probability vectors: nonnegative entries that sum to 1 over the last axis."""

    event: ClassVar[bool] = True

    def check(self, values) -> np.ndarray:
        v = self._as_array(values)
        with np.errstate(invalid="ignore"):
            bad = self._non_finite(v) | ~(v >= 0)
            if v.ndim:
                bad |= rows_off_the_simplex(v)[..., None]
        return bad

    def draw(self, rng, shape) -> np.ndarray:
        return rng.dirichlet(np.ones(shape[-1]), shape[:-1])

    def uninformed(self, size: sp.Expr) -> sp.Expr:
        return 1 / size

    def inward(self, value) -> int:  # each entry lies in [0, 1]
        return 1 if value == 0 else -1 if value == 1 else 0


@dataclass(frozen=True)
class UnitSphere(Constraint):
    """Unit vectors over the last axis: finite entries whose Euclidean norm is 1 (within 1e-6)."""

    event: ClassVar[bool] = True

    def check(self, values) -> np.ndarray:
        v = self._as_array(values)
        bad = self._non_finite(v)
        if v.ndim:
            with np.errstate(invalid="ignore", over="ignore"):
                # a non-finite entry is flagged above; its row's norm (inf or nan) is not compared
                row_bad = np.abs(np.sqrt(np.einsum("...k,...k->...", v, v, dtype=float)) - 1.0) > 1e-6
            bad = bad | row_bad[..., None]
        return bad

    def draw(self, rng, shape) -> np.ndarray:
        v = rng.normal(size=shape)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    def extreme_rows(self, size: int, dtype) -> list:
        # A pole and its antipode, the direction equally far from every axis, and a pole tilted
        # by 1e-8 (1e-4 in float32), where 1 - mu . y is smallest but not 0.
        tilt = 1e-8 if np.dtype(dtype) == np.float64 else 1e-4
        pole, tilted = np.eye(size)[0], np.eye(size)[0] * np.cos(tilt)
        tilted[-1] = np.sin(tilt)
        return [pole, -pole, np.full(size, 1 / np.sqrt(size)), tilted]


KINDS = {kind.__name__: kind for kind in (Interval, IntegerInterval, IntervalOrInfinity, Simplex, UnitSphere)}  # for from_description

real = Interval("real", "be a finite real number", {"real": True}, typical=0.0, samples=(0.3, -1.2, 2.1))
positive = Interval(
    "positive", "be > 0", {"positive": True}, typical=1.0, several=(0.5, 1.0, 2.0), samples=(0.7, 1.6, 3.1),
    plot_range=(0.05, 4.0, 400), lower=0.0, open_lower=True,
)
nonnegative = Interval(
    "nonnegative", "be >= 0", {"nonnegative": True}, typical=1.0, several=(0.5, 1.0, 2.0), samples=(0.7, 1.6, 3.1),
    plot_range=(0.05, 4.0, 400), lower=0.0,
)
unit_interval = Interval(
    "unit_interval", "lie in [0, 1]", {"nonnegative": True}, typical=0.3, several=(0.2, 0.5, 0.8),
    samples=(0.3, 0.65, 0.9), plot_range=(0.005, 0.995, 399), lower=0.0, upper=1.0,
)
open_unit_interval = Interval(
    "open_unit_interval", "lie in (0, 1)", {"positive": True}, typical=0.3, several=(0.2, 0.5, 0.8),
    samples=(0.3, 0.65, 0.9), plot_range=(0.005, 0.995, 399), lower=0.0, upper=1.0, open_lower=True, open_upper=True,
)
positive_integer = IntegerInterval(
    "positive_integer", "be an integer >= 1", {"integer": True, "positive": True}, typical=5.0,
    several=(2.0, 5.0, 10.0), samples=(1, 3, 6), lower=1,
)
nonnegative_integer = IntegerInterval(
    "nonnegative_integer", "be an integer >= 0", {"integer": True, "nonnegative": True}, typical=5.0,
    several=(0.0, 2.0, 5.0), samples=(0, 2, 5), lower=0,
)
positive_or_inf = IntervalOrInfinity(
    "positive_or_inf", "be > 0 (inf for a right-censored time)", {"extended_real": True}, typical=2.0,
    several=(1.0, 2.0, 4.0), samples=(0.7, 1.6, 3.1), plot_range=(0.05, 4.0, 400), lower=0.0, open_lower=True,
)
# a truncation bound: a finite real, or the infinity on its side (the half-line [a, inf) above a bound a)
real_or_minus_inf = IntervalOrInfinity(
    "real_or_minus_inf", "be a finite real number or -inf", {"extended_real": True}, typical=-1.0,
    samples=(-1.3, -0.4, 0.2), infinity=-math.inf,
)
real_or_inf = IntervalOrInfinity(
    "real_or_inf", "be a finite real number or inf", {"extended_real": True}, typical=1.0,
    samples=(1.4, 2.2, 3.5),
)
simplex = Simplex("simplex", "be nonnegative and sum to 1 over the last axis", {"nonnegative": True})
unit_sphere = UnitSphere("unit_sphere", "be a unit vector (Euclidean norm 1) over the last axis", {"real": True})

CONSTRAINTS = {
    c.name: c
    for c in (real, positive, nonnegative, unit_interval, open_unit_interval, positive_integer, nonnegative_integer,
              simplex, unit_sphere)
}


@dataclass(frozen=True)
class Support:
    """Where y lives. ``kind`` is 'continuous', 'discrete', 'onehot' or 'simplex'.

    For 'continuous' and 'discrete', ``lower``/``upper`` bound the values
    (``None`` is unbounded; a bound given as a parameter name, e.g. ``"n"``,
    is read from that parameter). Vector supports ('onehot', 'simplex',
    'reals_vector', 'counts_vector', 'unit_sphere') put the event on the last axis.
    """

    kind: str
    lower: float | str | None = None
    upper: float | str | None = None
    open_lower: bool = False
    open_upper: bool = False
    # An open bound that y may still take where the density is finite there: ((param, value), ...),
    # every pair holding (gamma with k = 1 at y = 0: scipy's gamma.logpdf(0, 1) = 0).
    lower_closed_if: tuple = ()
    upper_closed_if: tuple = ()

    def closed_if(self, side: str) -> tuple:
        """The (param, value) pairs under which y may equal the open ``side`` ("lower"/"upper") bound."""
        return tuple(tuple(pair) for pair in (self.lower_closed_if if side == "lower" else self.upper_closed_if))
    # A circular support (angles): y may be any real, the density repeats with this period, and
    # it integrates to 1 over one period [-period/2, period/2), the interval the analyses use.
    period: float | None = None
    # Bounds ("lower", "upper") that carry a probability mass: a censored observation sits there and
    # the density's value at the bound is a probability, not a density (the Tobit model's y = c).
    # An expectation over such a support is the integral over its interior plus each mass's term.
    masses: tuple = ()

    def __post_init__(self):
        unknown = set(self.masses) - {"lower", "upper"}
        if unknown or any(getattr(self, side) is None for side in self.masses):
            raise ValueError(f"Support.masses names finite bounds, 'lower' or 'upper'; got {self.masses!r}")

    @property
    def discrete(self) -> bool:
        return self.kind in ("discrete", "onehot", "counts_vector")

    @property
    def event(self) -> bool:
        return self.kind in ("onehot", "simplex", "reals_vector", "counts_vector", "unit_sphere")

    def describe(self) -> str:
        if self.kind == "onehot":
            return "one-hot vector (or class index)"
        if self.kind == "simplex":
            return "probability simplex"
        if self.kind == "reals_vector":
            return "R^D"
        if self.kind == "unit_sphere":
            return "unit sphere S^(D-1)"
        if self.kind == "counts_vector":
            return "count vector summing to n"
        if self.period is not None:
            half = "pi" if self.period == 2 * math.pi else f"{self.period / 2:g}"
            return f"circle [-{half}, {half})"
        lo = "-inf" if self.lower is None else str(self.lower)
        hi = "inf" if self.upper is None else str(self.upper)
        if self.kind == "discrete":
            return f"{{{lo}, ..., {hi}}}"
        lb = "(" if self.open_lower or self.lower is None else "["
        ub = ")" if self.open_upper or self.upper is None else "]"
        edges = [
            f"y = {bound} where " + " and ".join(f"{p} = {v:g}" for p, v in self.closed_if(side))
            for side, bound in (("lower", lo), ("upper", hi))
            if self.closed_if(side)
        ]
        edges += [f"a probability mass at y = {lo if side == 'lower' else hi}" for side in self.masses]
        return f"{lb}{lo}, {hi}{ub}" + (f" ({'; '.join(edges)})" if edges else "")


reals = Support("continuous")
circle = Support("continuous", period=2 * math.pi)  # angles in radians
positive_reals = Support("continuous", 0, None, open_lower=True)
