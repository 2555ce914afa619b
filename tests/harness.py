"""The shared conformance harness: random valid inputs for any registry entry.

Values are drawn from each parameter's constraint and from the support, so a
distribution added as one file is exercised with no edit here.
"""

from __future__ import annotations

import numpy as np


def draw_param(constraint, rng, shape):
    name = constraint.name
    if name == "real":
        return rng.normal(0.0, 2.0, shape)
    if name == "positive":
        return rng.lognormal(0.0, 0.5, shape)
    if name in ("unit_interval", "open_unit_interval"):
        return rng.uniform(0.05, 0.95, shape)
    if name == "positive_integer":
        return rng.integers(1, 20, shape).astype(float)
    if name == "nonnegative_integer":
        return rng.integers(0, 20, shape).astype(float)
    if name == "simplex":
        return rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    raise NotImplementedError(name)


def random_inputs(spec, rng, n=64, event_size=5):
    """{param name: array} and y, drawn to be valid for ``spec``."""
    params = {}
    for p in spec.effective_params():
        shape = (n, event_size) if p.event else (n,)
        if not p.event and spec.is_event and p.constraint.name == "positive":
            shape = ()  # a shared scalar, e.g. diag_normal's sigma
        params[p.name] = draw_param(p.constraint, rng, shape)
    y = draw_y(spec, rng, n, event_size, params)
    return params, y


def draw_y(spec, rng, n, event_size, params):
    s = spec.support
    if s.kind == "onehot":
        return np.eye(event_size)[rng.integers(0, event_size, n)]
    if s.kind == "simplex":
        return rng.dirichlet(np.ones(event_size), n)
    if s.kind == "reals_vector":
        return rng.normal(0.0, 2.0, (n, event_size))
    if s.kind == "counts_vector":  # counts summing to the total parameter, drawn from the event parameter
        total = np.broadcast_to(params[s.upper], (n,)).astype(np.int64)
        probs = next(v for v in params.values() if np.ndim(v) == 2 and np.allclose(np.sum(v, -1), 1))
        return rng.multinomial(total, probs)
    if s.kind == "discrete":
        lo = 0 if s.lower is None else (params[s.lower] if isinstance(s.lower, str) else s.lower)
        hi = 30 if s.upper is None else (params[s.upper] if isinstance(s.upper, str) else s.upper)
        return np.floor(rng.uniform(lo, np.asarray(hi) + 1, n)).clip(lo, hi)
    lo = s.lower if s.lower is not None else None
    hi = s.upper if s.upper is not None else None
    if lo is None and hi is None:
        return rng.normal(0.0, 2.0, n)
    if hi is None:
        return lo + rng.lognormal(0.0, 0.7, n)
    return lo + (hi - lo) * rng.uniform(0.01, 0.99, n)


def kernel_args(kernel, params, y):
    """Keyword arguments for ``kernel`` from a dict of named arrays."""
    out = {"y": y}
    for name in kernel.inputs:
        if name in params:
            out[name] = params[name]
    return out
