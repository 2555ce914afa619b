"""Extreme input grids, built from each entry's constraints, support and link.

Nothing here names a distribution, a constraint or a link: each constraint and
link gives its own extremes (a parameter declared ``positive`` gets scales from
1e-8 to 1e8, a logit gets +-1e3 (float64) or +-80 (float32), a probability gets
values within 1e-15 of 0 and 1, a count goes to 1e6), and the target gets
values at and next to each edge of its support. The grid is the
Cartesian product, cut down (deterministically) to at most ``max_points``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from symlik.apps.accuracy.oracle import EVENT_SIZE
from symlik.model import constraints as C
from symlik.model import links

MAX_POINTS = 240
# Points where a well-predicted target is large (y = rate = 1e8, y = n p): the value is small
# next to its terms, the cancellation an algorithm must avoid (issue 15). Kept apart from the
# random cut of the edge grid so that none is lost.
MAX_CANCELLATION_POINTS = 48


def simplex_rows(dtype, open_: bool = False) -> list[list[float]]:
    tiny = 1e-15 if dtype == np.float64 else 1e-7
    rows = [[1 / 3, 1 / 3, 1 / 3], [1 - 2 * tiny, tiny, tiny], [0.5, 0.5 - tiny, tiny]]
    if not open_:
        rows += [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    return rows


def _bound(b, params):
    if b is None:
        return None
    if isinstance(b, str):
        return params[b]
    return float(b)


def y_values(spec, params: dict, dtype) -> list:
    """Targets at and next to each edge of the support, given the other inputs."""
    s = spec.support
    tiny = 1e-300 if dtype == np.float64 else 1e-38
    if s.kind == "onehot":
        return [list(row) for row in np.eye(EVENT_SIZE)]
    if s.kind == "simplex":
        return simplex_rows(dtype, open_=True)
    if s.kind == "reals_vector":
        return [[-1e8, 0.0, 1e8], [1e-8, -1e-8, 1.0], [0.0, 0.0, 0.0]]
    if s.kind == "unit_sphere":
        return [list(r) for r in C.unit_sphere.extreme_rows(EVENT_SIZE, dtype)]
    if s.kind == "counts_vector":
        n = _bound(s.upper, params)
        if n is None:
            return [[0.0, 0.0, 0.0], [1.0, 0.0, 2.0], [1e6, 0.0, 0.0]]
        third = float(n // 3)
        return [[n, 0.0, 0.0], [n - 1, 1.0, 0.0] if n >= 1 else [n, 0.0, 0.0], [third, third, n - 2 * third]]
    lo, hi = _bound(s.lower, params), _bound(s.upper, params)
    moving = spec.support_bounds(params)  # a support that moves with the parameters (the GEV's)
    if moving is not None:
        lo, hi = (float(b) if np.isfinite(b) else None for b in moving)
    if s.kind == "discrete":
        lo = 0.0 if lo is None else lo
        if hi is None:
            return [lo, lo + 1, lo + 10, lo + 1e6]
        vals = {lo, min(lo + 1, hi), float(np.floor((lo + hi) / 2)), max(hi - 1, lo), hi}
        return sorted(vals)
    if lo is None and hi is None:
        return C.real.extremes(dtype)
    if hi is None:
        out = [lo + tiny, lo + 1e-8, lo + 1.0, lo + 1e8]
        return ([lo] if not s.open_lower else []) + out
    if lo is None:
        out = [hi - 1e8, hi - 1.0, hi - 1e-8, hi - tiny]
        return out + ([hi] if not s.open_upper else [])
    width = hi - lo
    inner = [lo + width * 1e-15, lo + width / 2, lo + width * C.near_one(dtype)]
    return ([lo] if not s.open_lower else []) + inner + ([hi] if not s.open_upper else [])


def input_values(d, name: str, dtype):
    """Candidate values of one kernel input other than y."""
    spec = d.spec
    if name not in spec.param_names:  # a link's pre-activation
        return links.get(d.link).extremes(dtype)
    p = spec.param(name)
    if p.constraint.event:
        rows = p.constraint.extreme_rows(EVENT_SIZE, dtype)
        return simplex_rows(dtype) if rows is None else [list(r) for r in rows]
    values = p.constraint.extremes(dtype)
    if p.event:
        # One vector per scale, plus a mixed one: every component at the extremes.
        rows = [[v] * EVENT_SIZE for v in values]
        rows.append([values[0], values[len(values) // 2], values[-1]])
        return rows
    return values


def grid(d, dtype, max_points: int = MAX_POINTS, seed: int = 0) -> list[dict]:
    """A list of points, each {input name: value (float or list of floats)}, for ``d``'s NLL inputs."""
    names = [n for n in d.inputs if n != "y"]
    choices = [input_values(d, n, dtype) for n in names]
    points = []
    for combo in _combinations(choices, max_points, seed):
        params = dict(zip(names, combo))
        if not _bounds_in_order(d.spec.support, params):
            continue  # a support between two parameters (a truncated normal's [a, b]) needs a < b
        for y in y_values(d.spec, params, dtype):
            points.append({**params, "y": y})
    if len(points) > max_points:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(points), size=max_points, replace=False))
        points = [points[i] for i in keep]
    return points + cancellation_points(d, dtype)


def cancellation_points(d, dtype, max_points: int = MAX_CANCELLATION_POINTS, seed: int = 1) -> list[dict]:
    """Targets equal to, and 0.1% away from, each scalar parameter's value, and y = round(n p) for a
    count out of n: where the prediction matches a target of large magnitude. A link's input is set
    so that its parameter takes those values."""
    spec = d.spec
    names = [n for n in d.inputs if n != "y"]
    link = links.get(d.link) if d.link else None
    linked = spec.link_param(d.link) if d.link else None
    natural = {}
    for n in names:
        param = linked if (link is not None and n == link.input_name(linked)) else n
        if param not in spec.param_names or spec.param(param).event or spec.param(param).constraint.event:
            return []  # vector parameters: the event grid already holds matched rows
        natural[n] = (param, spec.param(param).constraint.extremes(dtype))
    discrete = spec.support.kind == "discrete"
    points = []
    # Sampled like the edge grid where the product is large: a 4-component mixture's 12 scalar
    # parameters have billions of combinations of extremes.
    for combo in _combinations([vals for _, vals in natural.values()], max_points, seed):
        params = dict(zip(names, combo))
        predicted = [params[n] for n in names if n in d.predicted_inputs]
        targets = set()
        for v in predicted:
            if abs(v) >= 1:
                targets.update((v, v * (1 + 1e-3)))
        upper = _bound(spec.support.upper, {natural[n][0]: params[n] for n in names}) if discrete else None
        if upper is not None:
            targets.update(upper * v for v in predicted if 0 < v < 1)
        if discrete:
            targets = {float(np.round(t)) for t in targets if t >= 0}
        with np.errstate(divide="ignore", over="ignore"):
            inputs = {n: (link.numeric_forward(np.float64(params[n])).item() if natural[n][0] != n else params[n]) for n in names}
        if not all(np.isfinite(v) and abs(v) <= np.finfo(dtype).max for v in inputs.values()):
            continue  # a link's input at its edge (logit of 1): the edge grid has those
        points += [{**inputs, "y": float(t)} for t in sorted(targets)]
    if len(points) > max_points:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(points), size=max_points, replace=False))
        points = [points[i] for i in keep]
    return points


# Above this many parameter combinations the product is sampled, not listed: a 4-component
# mixture's 12 inputs have 3.6e9 combinations, and listing them took 20 GB before the sampling.
FULL_PRODUCT_AT_MOST = 100_000


def _combinations(choices, max_points: int, seed: int):
    """Every combination of the choices, or where there are more than FULL_PRODUCT_AT_MOST a
    reproducible random sample of max_points of them (each axis drawn uniformly)."""
    if math.prod(len(c) for c in choices) <= FULL_PRODUCT_AT_MOST:
        yield from itertools.product(*choices)
        return
    rng = np.random.default_rng(seed)
    seen = set()
    while len(seen) < max_points:
        idx = tuple(int(rng.integers(len(c))) for c in choices)
        if idx not in seen:
            seen.add(idx)
            yield tuple(c[i] for c, i in zip(choices, idx))


def _bounds_in_order(support, params: dict) -> bool:
    lower, upper = support.lower, support.upper
    if isinstance(lower, str) and isinstance(upper, str) and lower in params and upper in params:
        return params[lower] < params[upper]
    return True


def as_arrays(points: list[dict], names, dtype) -> dict:
    """Columns of the grid as arrays of ``dtype`` (event inputs as [n, 3])."""
    out = {}
    for n in names:
        out[n] = np.array([p[n] for p in points], dtype=dtype)
    return out


__all__ = ["grid", "as_arrays", "y_values", "input_values", "cancellation_points", "MAX_POINTS"]
