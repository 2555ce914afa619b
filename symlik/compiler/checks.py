"""Value checks for kernel inputs, described as data.

``describe(d, link_inputs)`` turns a derivation's constraints and support
into a JSON-able dict (so a cached kernel can be rebuilt without SymPy);
``build(description)`` turns that dict back into the callables the Kernel
runs. Imports only NumPy and the constraint dataclasses.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from symlik.core.errors import SymlikError
from symlik.model.constraints import Constraint, Support, rows_off_the_simplex, unit_sphere, within_bounds

PRE_ACTIVATION_RULE = "be real (a pre-activation; nan is not allowed)"
CLASS_INDEX_RULE = "be a class index in [0, C) where C is the size of the last axis"


def describe(d, link_inputs: set) -> dict:
    """{input name: check description} for every input of ``d``."""
    spec = d.spec
    out = {}
    for name in d.inputs:
        if name == "y":
            continue
        if name in link_inputs:
            out[name] = {"check": "pre_activation"}
        else:
            param = d.param(name) if hasattr(d, "param") else spec.param(name)
            out[name] = {"check": "constraint", **param.constraint.describe()}
    out["y"] = {"check": "support", **dataclasses.asdict(spec.support)}
    if spec.support.kind == "onehot":
        out["y_index"] = {"check": "class_index"}
    return out


def build(description: dict) -> dict:
    """{input name: (constraint or callable(values, arrays), rule)} from ``describe``'s output."""
    out = {}
    for name, desc in description.items():
        fields = {k: v for k, v in desc.items() if k != "check"}
        kind = desc["check"]
        if kind == "pre_activation":
            out[name] = (_finite_or_inf, PRE_ACTIVATION_RULE)
        elif kind == "class_index":
            out[name] = (_class_index_check, CLASS_INDEX_RULE)
        elif kind == "constraint":
            c = Constraint.from_description(fields)
            out[name] = (c, c.rule)
        elif kind == "support":
            out[name] = support_check(Support(**fields))
        else:  # pragma: no cover - descriptions are written by describe()
            raise ValueError(f"unknown check kind {kind!r}")
    return out


def element_test(desc: dict) -> str | None:
    """Source of a scalar expression, over ``{x}`` (one value of the input; ``C`` the event size
    where it is a class index), that is true where the value passes the check described by
    ``desc`` (``describe``'s output), or None where the check is not element by element (a row
    sum, a bound read from another parameter). The fused backend evaluates it in the pass that
    computes the loss, so that validation reads memory once; on a hit, ``Kernel._validate``
    builds the report. Each test rejects exactly what the NumPy check rejects.

    Written as conditions that hold: each comparison is false at nan, so nan fails without a
    test of its own, and the loop ands every input's conditions and negates once per value."""
    kind = desc["check"]
    if kind == "pre_activation":
        ok = ["({x} == {x})"]
    elif kind == "class_index":
        ok = ["({x} >= 0)", "({x} < C)"]
    elif kind == "constraint" and desc.get("type") in ("Interval", "IntegerInterval"):
        ok = ["(abs({x}) < _INF)", *_bounds_hold(desc["lower"], desc["upper"], desc["open_lower"], desc["open_upper"])]
        if desc["type"] == "IntegerInterval":
            ok.append("({x} == np.floor({x}))")
    elif kind == "support" and desc["kind"] in ("continuous", "discrete"):
        if isinstance(desc["lower"], str) or isinstance(desc["upper"], str):
            return None  # bounded by a parameter (binomial's n): NumPy reads both arrays
        if (desc["open_lower"] and desc["lower_closed_if"]) or (desc["open_upper"] and desc["upper_closed_if"]):
            return None  # an open bound allowed where parameters take given values: NumPy reads them
        # discrete: floor(nan) != nan rejects nan; +-inf passes, as in support_check
        ok = ["({x} == np.floor({x}))" if desc["kind"] == "discrete" else "(abs({x}) < _INF)"]
        ok += _bounds_hold(desc["lower"], desc["upper"], desc["open_lower"], desc["open_upper"])
    else:
        return None
    return "(" + " & ".join(ok) + ")"


def _bounds_hold(lower, upper, open_lower, open_upper) -> list:
    terms = []
    if lower is not None:
        terms.append(f"({{x}} > {float(lower)!r})" if open_lower else f"({{x}} >= {float(lower)!r})")
    if upper is not None:
        terms.append(f"({{x}} < {float(upper)!r})" if open_upper else f"({{x}} <= {float(upper)!r})")
    return terms


def hint(desc: dict | None, value, backend: str = "numpy") -> str:
    """A pointer to the option that accepts a value its check refused, or "": a BCE label
    of 0.5 (``soft_targets=True``), a negative class index such as -100 (``ignore_index``).
    The loss options compile for the NumPy backend, so another backend's hint names it."""
    if desc is None or np.ndim(value) != 0:
        return ""
    v = float(value)
    kind = desc["check"]
    where = "" if backend == "numpy" else ", backend='numpy'"
    if kind == "support" and desc["kind"] == "discrete" and (desc["lower"], desc["upper"]) == (0, 1) and 0 < v < 1:
        return f"; for probabilities as targets, compile with soft_targets=True{where} (torch's BCE with soft labels)"
    if kind == "class_index" and v < 0 and v == int(v):
        return f"; to leave out targets equal to {int(v)}, compile with ignore_index={int(v)}{where} (as torch's cross_entropy)"
    return ""


def refuse_foreign_array(name: str, value) -> None:
    """A NumPy kernel given a torch tensor or a masked array: a one-line SymlikError that says
    what to do, instead of torch's RuntimeError or a silently ignored mask."""
    module = type(value).__module__
    if module.startswith("torch"):
        raise SymlikError(
            f"{name} is a torch tensor, but this kernel is NumPy's: compile with backend='torch' "
            "(or use symlik.torch.Loss) to keep tensors and autograd"
        )
    if isinstance(value, np.ma.MaskedArray):
        raise SymlikError(
            f"{name} is a masked array, whose mask symlik would not honour: pass only the unmasked "
            "entries, or a weight of 0 where masked (ignore_index for class labels)"
        )


# Arrays up to this size are never refused: a machine that runs Python has this much free.
NEVER_REFUSED = 2**24


def refuse_oversized(shape: tuple, itemsize: int, what: str) -> None:
    """Refuse, before allocating, an array of ``shape`` larger than the memory available now
    (Linux and macOS report it; elsewhere nothing is refused)."""
    size = math.prod(int(n) for n in shape) * itemsize  # Python integers: exact, and no NumPy call
    if size <= NEVER_REFUSED:  # reading the system's figure costs 35 us, a batch of 32 far less
        return
    available = available_memory()
    if available is not None and size > available:
        raise SymlikError(
            f"{what} of shape {tuple(shape)} would need {size / 2**30:.3g} GiB, more than the "
            f"{available / 2**30:.3g} GiB of memory available; use reduction='mean' or 'sum' with "
            "backend='fused' (no full-size array), or smaller batches"
        )


def available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable, which counts reclaimable cache),
    else the physical memory; None where the system says neither."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _finite_or_inf(a, arrays):
    return np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)


# No nan, told by one sum (a nan carries into it; so does inf - inf, which is then looked at
# entry by entry); the caller quiets overflow and invalid.
_finite_or_inf.quick_ok = lambda a: a.dtype.kind != "f" or not math.isnan(a.sum())


def _class_index_check(y, arrays):
    ref = next(a for n, a in arrays.items() if n != "y" and a.ndim)
    C = ref.shape[-1]
    return (y < 0) | (y >= C)


def _class_index_quick_ok(arrays):
    """The cheap test of class indices for inputs shaped like ``arrays`` (C is the logits' last axis):
    every index in [0, C), told by min and max. For a repeated call, whose shapes do not change."""
    C = next(a for n, a in arrays.items() if n != "y" and a.ndim).shape[-1]
    return lambda y: y.size == 0 or (int(y.min()) >= 0 and int(y.max()) < C)


_class_index_check.quick_ok_for = _class_index_quick_ok


def support_check(s: Support):
    def check(y, arrays):
        with np.errstate(invalid="ignore"):
            bad = np.isnan(y) if y.dtype.kind == "f" else np.zeros(y.shape, bool)
            if s.kind in ("continuous", "discrete"):
                # A bound named by a parameter (binomial's n) is checked when that array is given.
                lo = arrays.get(s.lower) if isinstance(s.lower, str) else s.lower
                hi = arrays.get(s.upper) if isinstance(s.upper, str) else s.upper
                if lo is not None:
                    bad |= ((y <= lo) & ~_edge_allowed(y, lo, s.closed_if("lower"), arrays)) if s.open_lower else (y < lo)
                if hi is not None:
                    bad |= ((y >= hi) & ~_edge_allowed(y, hi, s.closed_if("upper"), arrays)) if s.open_upper else (y > hi)
                if s.kind == "discrete":
                    bad |= y != np.floor(y)
                else:
                    bad |= np.isinf(y)
            elif s.kind in ("onehot", "simplex"):
                bad |= (y < 0) | (y > 1)
                if y.ndim:
                    bad |= rows_off_the_simplex(y)[..., None]
            elif s.kind == "reals_vector":
                bad |= ~np.isfinite(y)
            elif s.kind == "unit_sphere":
                bad |= unit_sphere.check(y)
            elif s.kind == "counts_vector":
                bad |= _counts_vector_violations(y, arrays.get(s.upper) if isinstance(s.upper, str) else s.upper)
        return bad

    if s.kind in ("continuous", "discrete") and not isinstance(s.lower, str) and not isinstance(s.upper, str):
        # finite and within numeric bounds, by min and max (an open edge whose density is finite
        # fails here, and is then looked at entry by entry); counts are whole numbers besides
        def quick_ok(y):
            if not within_bounds(y, s.lower, s.upper, s.open_lower, s.open_upper):
                return False
            return s.kind == "continuous" or y.dtype.kind in "biu" or bool((np.floor(y) == y).all())

        check.quick_ok = quick_ok
    rule = {
        "onehot": "be one-hot or a probability vector over the last axis",
        "simplex": "lie on the probability simplex over the last axis",
        "reals_vector": "be finite",
        "unit_sphere": unit_sphere.rule,
        "counts_vector": f"be nonnegative integer counts summing to {s.upper} over the last axis",
    }.get(s.kind, f"lie in the support {s.describe()}")
    return (check, rule)


def _edge_allowed(y, bound, conditions, arrays):
    """Where y sits on an open bound whose density is finite there (every (param, value) of
    ``conditions`` holds); False where a parameter the condition names is not given."""
    allowed = y == bound
    if not conditions:
        return np.zeros(np.shape(y), bool)
    for param, value in conditions:
        if param not in arrays:
            return np.zeros(np.shape(y), bool)
        allowed = allowed & (np.asarray(arrays[param]) == value)
    return allowed


def _counts_vector_violations(y, total):
    """Entries of a count vector that are not nonnegative integers, and whole rows
    whose sum is not the total (when the total is given)."""
    bad = (y < 0) | (y != np.floor(y))
    if total is not None and y.ndim:
        with np.errstate(invalid="ignore"):
            bad |= (y.sum(axis=-1) != np.asarray(total))[..., None]
    return bad


# -- shapes ---------------------------------------------------------------------------
SAME_SHAPE_RULE = "predictions and targets must have the same observation shape (or be a single value), as in torch"
INDEX_SHAPE_RULE = "a class-index target has the logits' shape without the class (last) axis, as in torch"
PARAMETER_SHAPE_RULE = "a parameter may broadcast to the observations' shape but never enlarge it"


@dataclasses.dataclass(frozen=True)
class ShapeRoles:
    """Which inputs define the observations (the predictions and the target) and which
    only broadcast to them (the other parameters), and which carry an event axis.
    Built once per kernel, so that a call only compares tuples."""

    defining: tuple[str, ...]
    parameters: tuple[str, ...]
    event: frozenset
    event_length: int | None = None  # the event size where the model fixes it (a D-dimensional normal)

    def observation_shape(self, shapes: dict, use_index: bool) -> tuple:
        """The observations' shape; raises SymlikError naming both shapes (as passed) and the rule."""
        event = self.event - {"y"} if use_index else self.event
        size = None  # the event size C, from the first defining event input
        obs = None
        first = None
        for n in self.defining:
            s = shapes.get(n)
            if s is None:
                continue
            if n in event:
                _require_event_axis(n, s)
                if size is None:
                    size, size_of = s[-1], n
                    if self.event_length is not None and size != self.event_length:
                        raise SymlikError(f"{n} must have {self.event_length} entries on its last axis (the event); "
                                          f"got shape {s}")
                elif s[-1] != size:
                    raise _event_size_mismatch(size_of, shapes[size_of], n, s)
                o = s[:-1]
            else:
                o = s
            if not o:
                continue  # one value for every observation (a constant prediction): it never enlarges
            if obs is None:
                obs, first = o, n
            elif o != obs:
                raise SymlikError(self._mismatch(first, n, shapes, use_index))
        for n in self.parameters:
            s = shapes.get(n)
            if s is None:
                continue
            if n in event:
                _require_event_axis(n, s)
                if size is not None and s[-1] not in (size, 1):  # (a parameter may broadcast over the event)
                    raise _event_size_mismatch(size_of, shapes[size_of], n, s)
                o = s[:-1]
            else:
                o = s
            if obs is None:  # no array prediction or target: the parameters set the shape
                continue
            try:
                fits = np.broadcast_shapes(o, obs) == obs
            except ValueError:
                fits = False
            if not fits:
                raise SymlikError(
                    f"{n} of shape {s} does not fit the observations' shape {obs} "
                    f"(from {first} of shape {shapes[first]}): {PARAMETER_SHAPE_RULE}"
                )
        return obs if obs is not None else ()

    def _mismatch(self, a: str, b: str, shapes: dict, use_index: bool) -> str:
        rule = INDEX_SHAPE_RULE if use_index and "y" in (a, b) else SAME_SHAPE_RULE
        return f"{a} of shape {shapes[a]} and {b} of shape {shapes[b]} do not match: {rule} (no broadcasting between them)"



def _require_event_axis(name: str, shape: tuple) -> None:
    if not shape:
        raise SymlikError(f"{name} must have the event on its last axis; got a scalar")


def _event_size_mismatch(first: str, first_shape: tuple, name: str, shape: tuple) -> SymlikError:
    return SymlikError(
        f"event sizes (last axis) must match; got {first}: {first_shape[-1]} (shape {first_shape}), "
        f"{name}: {shape[-1]} (shape {shape})"
    )

def class_index_dtype_error(y_shape: tuple, y_dtype, ref: str, ref_shape: tuple) -> SymlikError:
    """Float labels shaped like class indices: say that indices must be integers."""
    return SymlikError(
        f"y of shape {y_shape} has the shape of class indices ({ref}'s {ref_shape} without the class axis) "
        f"but dtype {y_dtype}: class indices must be integers (pass y.astype(int), or probability "
        f"vectors of shape {ref_shape})"
    )
