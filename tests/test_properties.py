"""Property tests over the registry (hypothesis): for random valid inputs drawn
from each entry's constraints and support,

- scale * loss + offset equals the NLL, numerically;
- no kernel raises, and every value and gradient is finite;
- gradients agree with finite differences of the value kernel;
- the loss is smallest at the optimal constant, where the derivation knows it.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from conftest import ALL, _id
from harness import term_magnitude
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symlik
from symlik.model import links
from symlik.apps.accuracy.oracle import EVENT_SIZE, Oracle
from symlik.testing.inputs import order_bounds

N = 3  # observations per example
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_CACHE: dict = {}


def _compiled(combo):
    key = _id(combo)
    if key not in _CACHE:
        name, predict, link, options = combo
        d = symlik.derive(name, predict=predict, link=link, options=options or None)
        kernels = {
            (t, v): symlik.compile(d, target=t, reduction="none", validate=v)
            for t in ("nll", "loss")
            for v in (True, False)
        }
        for t in ("nll", "loss"):
            for r in ("mean", "sum"):
                kernels[t, r] = symlik.compile(d, target=t, reduction=r)
        _CACHE[key] = d, kernels
    return _CACHE[key]


def _scalar(constraint):
    """Moderate values inside the constraint's interval: the extremes are the accuracy harness's
    (symlik.apps.accuracy), which knows where the true value leaves the float range."""
    c = constraint
    if c.integer:
        return st.integers(int(c.lower), 40).map(float)
    if c.unbounded:
        return st.floats(-20, 20)
    if c.upper is None:  # scales e^-2 to e^2 above the lower bound
        return st.floats(-2, 2).map(lambda v: c.lower + np.exp(v))
    width = c.upper - c.lower
    return st.floats(c.lower + 1e-4 * width, c.upper - 1e-4 * width)


def _simplex(k=EVENT_SIZE):
    return st.lists(st.floats(0.02, 1.0), min_size=k, max_size=k).map(lambda v: list(np.array(v) / np.sum(v)))


def _sphere(k=EVENT_SIZE):
    # a direction: components in [-1, 1], not all near 0, scaled to norm 1
    vectors = st.lists(st.floats(-1.0, 1.0), min_size=k, max_size=k).filter(lambda v: np.linalg.norm(v) > 0.1)
    return vectors.map(lambda v: list(np.array(v) / np.linalg.norm(v)))


def _param(p):
    if p.constraint.event:
        return _sphere() if p.constraint.extreme_rows(EVENT_SIZE, float) is not None else _simplex()
    if p.event:
        return st.lists(_scalar(p.constraint), min_size=EVENT_SIZE, max_size=EVENT_SIZE)
    return _scalar(p.constraint)


def _input(d, name):
    if name in d.spec.param_names:
        return _param(d.spec.param(name))
    link = links.get(d.link)  # a pre-activation: moderate, so that theta stays in range
    z = st.floats(-link.moderate, link.moderate)
    return st.lists(z, min_size=EVENT_SIZE, max_size=EVENT_SIZE) if link.event else z


def _y(draw, spec, params):
    s = spec.support
    if s.kind == "onehot":
        return list(np.eye(EVENT_SIZE)[draw(st.integers(0, EVENT_SIZE - 1))])
    if s.kind == "simplex":
        return draw(_simplex())
    if s.kind == "reals_vector":
        return draw(st.lists(st.floats(-20, 20), min_size=EVENT_SIZE, max_size=EVENT_SIZE))
    if s.kind == "unit_sphere":
        return draw(_sphere())
    if s.kind == "counts_vector":
        n = int(params[s.upper]) if isinstance(s.upper, str) else draw(st.integers(0, 30))
        cuts = sorted(draw(st.lists(st.integers(0, n), min_size=EVENT_SIZE - 1, max_size=EVENT_SIZE - 1)))
        edges = [0, *cuts, n]
        return [float(edges[i + 1] - edges[i]) for i in range(EVENT_SIZE)]
    lo = params[s.lower] if isinstance(s.lower, str) else s.lower
    hi = params[s.upper] if isinstance(s.upper, str) else s.upper
    moved = spec.target_at(params, draw(st.floats(-2, 3)))  # a support that moves with the parameters (the GEV's)
    if moved is not None:
        return float(moved)
    if s.kind == "discrete":
        lo = 0 if lo is None else int(lo)
        hi = lo + 60 if hi is None else int(hi)
        return float(draw(st.integers(lo, hi)))
    if lo is None and hi is None:
        return draw(st.floats(-20, 20))
    if hi is None:
        return lo + draw(st.floats(-2, 2).map(np.exp))
    if lo is None:
        return hi - draw(st.floats(-2, 2).map(np.exp))
    return lo + (hi - lo) * draw(st.floats(0.01, 0.99))


@st.composite
def examples(draw, d):
    """N valid observations for ``d`` as {input name: array}."""
    rows = []
    for _ in range(N):
        point = order_bounds(d.spec.support, {n: draw(_input(d, n)) for n in d.inputs if n != "y"})
        point["y"] = _y(draw, d.spec, point)
        rows.append(point)
    return {n: np.array([r[n] for r in rows], dtype=float) for n in d.inputs}


def _args(kernel, values):
    return {n: values[n] for n in kernel.inputs}


pytestmark = pytest.mark.parametrize("combo", ALL, ids=[_id(c) for c in ALL])


@SETTINGS
@given(data=st.data())
def test_scale_times_loss_plus_offset_is_the_nll(combo, data):
    d, kernels = _compiled(combo)
    values = data.draw(examples(d))
    nll = kernels["nll", True](**_args(kernels["nll", True], values))
    loss = kernels["loss", True](**_args(kernels["loss", True], values))
    scale_fn, offset_fn, names = Oracle(d)._scale_offset
    loss_terms = term_magnitude(d, "loss", values)  # a deviance's terms can cancel: its rounding is theirs
    for i in range(N):
        flat = []
        for n in names:
            v = values[n][i]
            flat.extend(np.atleast_1d(v).tolist())
        with mpmath.workdps(30):
            scale, offset = float(scale_fn(*flat)), float(offset_fn(*flat))
        rhs = scale * loss[i] + offset
        size = max(abs(nll[i]), abs(scale) * max(abs(loss[i]), np.ravel(loss_terms)[i] if np.ndim(loss_terms) else 0.0), abs(offset), 1.0)
        assert abs(nll[i] - rhs) <= 1e-10 * size, (i, nll[i], rhs)


@pytest.mark.slow  # 32 s: hypothesis over every catalog kernel
@SETTINGS
@given(data=st.data())
def test_kernels_never_raise_and_stay_finite_on_valid_input(combo, data):
    d, kernels = _compiled(combo)
    values = data.draw(examples(d))
    for target in ("nll", "loss"):
        for reduction in ("none", "mean", "sum"):
            k = kernels[target, True if reduction == "none" else reduction]
            args = _args(k, values)
            out = k(**args)
            value, grads = k.value_and_grad(**args)
            assert np.all(np.isfinite(out)) and np.all(np.isfinite(value))
            assert all(np.all(np.isfinite(g)) for g in grads)


@SETTINGS
@given(data=st.data())
def test_gradients_agree_with_finite_differences(combo, data):
    d, kernels = _compiled(combo)
    values = data.draw(examples(d))
    for target in ("nll", "loss"):
        k = kernels[target, False]  # perturbed inputs may leave a simplex: no validation
        args = _args(k, values)
        grads = kernels[target, "sum"].grad(**args)
        for g, name in zip(grads, [n for n in d.predicted_inputs if n in k.inputs]):
            base = args[name]
            for idx in np.ndindex(base.shape):
                h = 1e-5 * max(1.0, abs(base[idx]))

                def f(delta):
                    moved = dict(args)
                    moved[name] = base.copy()
                    moved[name][idx] += delta
                    return k(**moved)[idx[0]]  # only this observation's value moves

                # Five-point central difference (error O(h^4)); one-sided ones detect a kink.
                fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
                right, left = (f(2 * h) - f(0)) / (2 * h), (f(0) - f(-2 * h)) / (2 * h)  # the stencil's span
                scale = max(abs(fd), abs(f(0)) / max(abs(base[idx]), 1.0), 1.0)
                if abs(right - left) > 1e-3 * scale:
                    continue  # |x| at 0, or similar: no derivative to compare
                assert abs(g[idx] - fd) <= 1e-5 * scale, (target, name, idx, g[idx], fd)


@SETTINGS
@given(data=st.data())
def test_loss_is_smallest_at_the_optimal_constant(combo, data):
    d, kernels = _compiled(combo)
    if not hasattr(d, "optimal_constant"):
        pytest.skip("derivations do not expose optimal_constant() yet")
    values = data.draw(examples(d))
    # The best constant is derived for the parameters the network does not predict shared by all
    # observations (a Tweedie power, a gamma shape): one value each, as the model means them. A bound
    # of the support (binomial's n) stays per observation, as the derivation takes it.
    per_observation = {"y", *d.predicted_inputs, *(b for b in (d.spec.support.lower, d.spec.support.upper) if isinstance(b, str))}
    values = {n: (v if n in per_observation else np.full_like(v, v[0])) for n, v in values.items()}
    best = _optimal_values(d, values)
    if best is None:
        return  # SymPy could not solve the score equation for this entry (it says so)
    k = kernels["loss", False]
    at_best = np.sum(k(**_args(k, {**values, **best})))
    if not np.isfinite(at_best):
        return
    checked = kernels["loss", True]
    for name, v in best.items():
        for step in (-1e-3, 1e-3):
            moved = np.asarray(v) * (1 + step) + step
            try:  # a step outside the parameter's range (p > 1, say) is no comparison
                with np.errstate(all="ignore"):
                    nearby = np.sum(checked(**_args(checked, {**values, **best, name: moved})))
            except ValueError:
                continue
            if np.isfinite(nearby):
                assert at_best <= nearby + 1e-9 * max(1.0, abs(at_best)), (name, at_best, nearby)


_BEST: dict = {}


def _optimal_values(d, values):
    """The best constant prediction as kernel inputs, evaluated on this sample, from
    d.optimal_constant() (values over y_1..y_n); None where SymPy could not solve it."""
    import sympy as sp

    if id(d) not in _BEST:  # the symbolic answer, once per derivation
        _BEST[id(d)] = d.optimal_constant()
    best = _BEST[id(d)]
    if not getattr(best, "solved", False) or d.spec.is_event:
        return None
    exprs = getattr(best, "inputs", None) or best.values
    y = values["y"]
    n = len(y)
    # Parameters that are neither predicted nor data enter the answer; it holds for a
    # constant value of them, so the sample must share one.
    used = {s_.name for e in exprs.values() for s_ in e.free_symbols}
    shared = {}
    for p in d.spec.param_names:
        if p in values and p not in d.predicted_inputs and p in used:
            if not np.all(values[p] == values[p][0]):
                return None
            shared[sp.Symbol(p)] = float(values[p][0])
    out = {}
    for name, expr in exprs.items():
        if name not in d.predicted_inputs:
            return None
        from symlik.core.notation import N_OBS as _n_obs

        expr = expr.xreplace(
            {s_: shared[sp.Symbol(s_.name)] for s_ in expr.free_symbols if sp.Symbol(s_.name) in shared and s_ != _n_obs}
        )
        if type(expr).__name__ == "SampleQuantile":
            if expr.args[1].free_symbols:
                return None
            q = float(expr.args[1])
            out[name] = np.full(n, np.quantile(y, q, method="inverted_cdf"))
            continue
        from symlik.core.notation import N_OBS

        concrete = expr.subs(N_OBS, n).doit()
        try:
            data = {e: y[int(e.indices[0]) - 1] for e in concrete.atoms(sp.Indexed) if str(e.base.label) == "y"}
        except TypeError:  # the sample size and a parameter share the name n: not evaluable here
            return None
        value = concrete.xreplace(data)
        if value.free_symbols or not value.is_finite or value.is_real is False:
            return None  # e.g. log(mean) of an all-zero sample: the optimum is at -infinity
        out[name] = np.full(n, float(value))
    return out
