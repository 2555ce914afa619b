"""Valid inputs for a kernel: random draws and an extreme grid.

Everything is read from the derivation (each input's constraint, the support
of y, which inputs are link pre-activations), so any catalog entry or custom
density gets inputs without a table here. Values are float64 rounded to the
dtype under test, so the reference (computed in float64) sees exactly the
numbers the loss under test sees.
"""

from __future__ import annotations

import numpy as np

from symlik.model import constraints as C
from symlik.model import links

# Extreme values of y and of interval parameters, per dtype (a link's pre-activations
# come from the link: ``Link.edge_values``).
REAL = {"float64": (0.0, 1e-8, -1e-8, 1.0, -1.0, 1e3, -1e3, 1e8, -1e8), "float32": (0.0, 1e-4, -1e-4, 1.0, -1.0, 1e3, -1e3)}
POSITIVE = {"float64": (1e-8, 1e-4, 1.0, 1e4, 1e8), "float32": (1e-4, 1e-2, 1.0, 1e2, 1e4)}
UNIT = {"float64": (1e-15, 1e-6, 0.5, 1 - 1e-6, 1 - 1e-15), "float32": (1e-6, 1e-3, 0.5, 1 - 1e-3, 1 - 1e-6)}
COUNTS = (0.0, 1.0, 2.0, 10.0, 1e3, 1e6)


def draw(constraint, rng, shape):
    """Random values valid for an input: ``constraint`` is a parameter's Constraint or a Link
    (whose pre-activations are drawn); each knows how to draw its own."""
    return constraint.draw(rng, shape)


def interval_extremes(lower, upper, key: str) -> list:
    """Values at and next to the edges of [lower, upper] (None: unbounded), for dtype ``key``."""
    if lower is None and upper is None:
        return list(REAL[key])
    if upper is None:
        return [lower + v for v in POSITIVE[key]]
    return [lower + (upper - lower) * v for v in UNIT[key]]


def draw_target(support, rng, n: int, event_size: int, params: dict, *, index: bool = False, target_at=None):
    """n random observations in ``support``; a bound named after a parameter is read from ``params``.
    One-hot supports give class indices when ``index``. ``target_at`` (``Distribution.target_at``)
    maps standard scores to targets for a support that moves with the parameters."""
    s = support
    # probed first with no draw: an entry without a moving support consumes no random numbers here,
    # so every other entry's draws stay as they were
    if target_at is not None and target_at(params, np.zeros(1)) is not None:
        return target_at(params, rng.uniform(-2.0, 3.0, n))
    if s.kind == "onehot":
        idx = rng.integers(0, event_size, n)
        return idx if index else np.eye(event_size)[idx]
    if s.kind == "simplex":
        return rng.dirichlet(np.ones(event_size), n)
    if s.kind == "reals_vector":
        return rng.normal(0.0, 2.0, (n, event_size))
    if s.kind == "unit_sphere":
        return C.unit_sphere.draw(rng, (n, event_size))
    if s.kind == "counts_vector":  # counts summing to the total parameter, drawn from the event parameter
        total = np.broadcast_to(params[s.upper], (n,)).astype(np.int64)
        probs = next(v for v in params.values() if np.ndim(v) == 2 and np.allclose(np.sum(v, -1), 1))
        return rng.multinomial(total, probs)
    if s.kind == "discrete":
        lo = 0 if s.lower is None else (params[s.lower] if isinstance(s.lower, str) else s.lower)
        hi = 30 if s.upper is None else (params[s.upper] if isinstance(s.upper, str) else s.upper)
        return np.floor(rng.uniform(lo, np.asarray(hi) + 1, n)).clip(lo, hi)
    lo, hi = (params[b] if isinstance(b, str) else b for b in (s.lower, s.upper))
    if lo is None and hi is None:
        return rng.normal(0.0, 2.0, n)
    if hi is None:
        return lo + rng.lognormal(0.0, 0.7, n)
    if lo is None:
        return hi - rng.lognormal(0.0, 0.7, n)
    return lo + (np.asarray(hi) - lo) * rng.uniform(0.01, 0.99, n)


def order_bounds(support, params: dict) -> dict:
    """``params`` with the two parameters that bound the support (a truncated normal's a and b),
    when both do, in order: each pair drawn the wrong way round is swapped, a tie is widened by 1."""
    lower, upper = support.lower, support.upper
    if not (isinstance(lower, str) and isinstance(upper, str)) or lower not in params or upper not in params:
        return params
    lo, hi = np.broadcast_arrays(np.asarray(params[lower], float), np.asarray(params[upper], float))
    out = dict(params)
    out[lower], out[upper] = np.minimum(lo, hi), np.maximum(lo, hi) + (lo == hi)
    return out


class Inputs:
    """What a kernel takes, described once: names, kinds and shapes."""

    def __init__(self, kernel, *, dtype="float64", event_size=5):
        self.kernel = kernel
        self.d = kernel.derivation
        self.dtype = np.dtype(dtype)
        self.C = getattr(self.d.spec, "fixed_event_size", None) or event_size  # (a model that fixes D)
        self.link_inputs = {n for n in self.d.predicted_inputs if n not in self.d.predict}
        self.index_targets = bool(getattr(kernel, "index_targets", False))

    # -- kinds ---------------------------------------------------------------
    def _kind(self, name):
        """What an input other than y is: a link's pre-activation (the Link) or a parameter (its Constraint)."""
        if name in self.link_inputs:
            return links.get(self.d.link)
        return self.d.param(name).constraint

    def _event(self, name):
        sym = self.d.symbols.get(name)
        import sympy as sp

        return isinstance(sym, sp.Indexed)

    def _shared_scalar(self, name):
        """A scalar parameter of a vector distribution (diag_normal's sigma): one per batch."""
        return self.d.spec.is_event and not self._event(name) and name != "y"

    # -- random ------------------------------------------------------------------
    def random(self, rng, n):
        """A batch of n random valid observations: {name: array}."""
        out = {}
        for name in self.kernel.inputs:
            if name == "y":
                continue
            shape = (n, self.C) if self._event(name) else ((1,) if self._shared_scalar(name) else (n,))
            out[name] = draw(self._kind(name), rng, shape)
        out = order_bounds(self.d.spec.support, out)
        out["y"] = self._draw_y(rng, n, out)
        return self._cast(out)

    def _draw_y(self, rng, n, params):
        if getattr(self.kernel, "options", {}).get("soft_targets"):
            return rng.uniform(0, 1, n)
        spec = self.d.spec
        return draw_target(spec.support, rng, n, self.C, params, index=self.index_targets, target_at=spec.target_at)

    # -- extremes ----------------------------------------------------------------
    def _extremes(self, name):
        kind = self._kind(name)
        key = "float32" if self.dtype == np.float32 else "float64"
        if name in self.link_inputs:
            if self._event(name):
                big = kind.edge_values[key][-1]
                rows = [np.zeros(self.C)]
                for v in (big, -big, 30.0, -30.0):
                    r = np.zeros(self.C)
                    r[0] = v
                    rows.append(r)
                rows.append(np.linspace(-big, big, self.C))
                return rows
            return list(kind.edge_values[key])
        rows = kind.extreme_rows(self.C, self.dtype) if kind.event else None
        if rows is not None:
            return rows
        if kind.event:  # the simplex: uniform, and all the mass on one end or the other
            tiny = 1e-15 if key == "float64" else 1e-6
            r = np.full(self.C, tiny)
            r[0] = 1 - tiny * (self.C - 1)
            return [np.full(self.C, 1 / self.C), r, r[::-1].copy()]
        if kind.integer:
            return [v for v in COUNTS if v >= kind.lower]
        return interval_extremes(kind.lower, kind.upper, key)

    def _y_extremes(self, params):
        s = self.d.spec.support
        key = "float32" if self.dtype == np.float32 else "float64"
        if getattr(self.kernel, "options", {}).get("soft_targets"):
            return [0.0, 0.25, 0.5, 1.0]
        if s.kind == "onehot":
            return [0, self.C - 1] if self.index_targets else [np.eye(self.C)[0], np.eye(self.C)[-1]]
        if s.kind == "discrete":
            lo = 0 if s.lower is None else s.lower
            hi = s.upper
            if isinstance(lo, str) or isinstance(hi, str):
                return []
            if hi is None:
                return [v for v in COUNTS if v >= lo]
            return [float(lo), float(hi)]
        if s.kind == "continuous":
            return interval_extremes(s.lower, s.upper, key)
        if s.kind == "unit_sphere":
            return C.unit_sphere.extreme_rows(self.C, self.dtype)
        return []

    def grid(self, rng):
        """Single observations ({name: array with a leading axis of 1}): for the first
        prediction and y, every pair of extremes; every other input one extreme at a time."""
        points = []
        base = self.random(rng, 1)
        first = self.d.predicted_inputs[0]
        firsts = self._extremes(first)
        ys = self._y_extremes(base)
        for v in firsts or [None]:
            for yv in ys or [None]:
                p = {k: np.array(a, copy=True) for k, a in base.items()}
                if v is not None:
                    p[first] = np.asarray(v, float).reshape(p[first].shape)
                if yv is not None:
                    p["y"] = np.asarray(yv).reshape(p["y"].shape).astype(p["y"].dtype)
                points.append(p)
        for name in self.kernel.inputs:
            if name in ("y", first):
                continue
            for v in self._extremes(name):
                p = {k: np.array(a, copy=True) for k, a in base.items()}
                p[name] = np.asarray(v, float).reshape(p[name].shape)
                points.append(p)
        return [self._cast(p) for p in points]

    def _cast(self, arrays):
        out = {}
        for name, a in arrays.items():
            a = np.asarray(a)
            # Class indices stay integers (int64, as torch wants); labels and counts are floats.
            out[name] = a.astype(np.int64) if (name == "y" and a.dtype.kind in "iu") else a.astype(self.dtype)
        return out


__all__ = ["Inputs"]
