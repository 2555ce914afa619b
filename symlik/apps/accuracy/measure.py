"""Run every kernel of a derivation over its extreme grid and compare with the oracle.

The error of one value is judged against the condition of the problem, not
against the algorithm that happens to compute it. With S = sum_i |x_i df/dx_i|
over every input (mpmath finite differences of the oracle), the condition
number is kappa = S / |f|: perturbing every input by one part in 1/eps moves f
by kappa parts. The bound is ``|got - f| <= rtol * max(|f|, S)``, that is a
relative error of at most ``rtol * max(1, kappa)`` (rtol 1e-12 in float64,
1e-5 in float32). One number carries it: ``|got - f| / max(|f|, S)``, at most
``rtol`` exactly when the value is within bounds. S is computed only where the
relative error alone is over ``rtol`` (it costs a derivative per input).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

import symlik
from symlik.apps.accuracy.grid import MAX_POINTS, as_arrays, grid
from symlik.apps.accuracy.oracle import ZERO_DIGITS, Oracle, converged, derivative, sensitivity, start_digits

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
DTYPE_NAMES = {np.float64: "float64", np.float32: "float32"}
_KINKS = (sp.Abs, sp.sign, sp.Max, sp.Min, sp.Piecewise, sp.Heaviside)


@dataclass
class Result:
    """The worst case of one kernel over its grid, in one dtype."""

    slug: str
    kernel: str  # "nll", "loss", "d nll / d mu", ...
    dtype: str
    points: int = 0
    worst: float = 0.0
    where: str = ""
    nonfinite: int = 0  # nan or inf returned where the truth is finite
    skipped: int = 0  # no finite, representable truth (or a kink, for gradients)
    rtol: float = 0.0
    kappa: float | None = None  # the condition number at the worst point, where it was needed
    details: list = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.nonfinite == 0 and self.worst <= self.rtol

    def record(self, err, where: str):
        """``err`` is (scaled error, kappa or None), as scaled_error returns it."""
        err, kappa = err
        self.points += 1
        if not np.isfinite(err):
            self.nonfinite += 1
        if err > self.worst or (np.isnan(err) and not np.isnan(self.worst)):
            self.worst = float(err) if np.isfinite(err) else float("inf")
            self.where = where
            self.kappa = kappa


def _fmt(v) -> str:
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    v = float(v)
    if v == int(v) and abs(v) < 1e5:
        return str(int(v))
    return f"{v:.3g}"


def _where(point: dict, order) -> str:
    return ", ".join(f"{n}={_fmt(point[n])}" for n in order if n in point)


def _mp(v):
    if isinstance(v, (list, tuple, np.ndarray)):
        return [mpmath.mpf(float(x)) for x in v]
    return mpmath.mpf(float(v))


def scaled_error(got: float, truth, sens, dtype) -> tuple[float, float | None]:
    """(|got - truth| / max(|truth|, S), kappa = S / |truth|); inf for nan/inf.

    ``sens`` (S, the sensitivity) may be a callable, evaluated only when the relative error
    alone is over the bound; kappa is None where it was not needed."""
    if not np.isfinite(got):
        return float("inf"), None
    rtol = RTOL[dtype]
    err = abs(mpmath.mpf(float(got)) - truth)
    tiny = mpmath.mpf(float(np.finfo(dtype).tiny))
    if truth != 0 and err <= rtol * abs(truth):
        return float(err / max(abs(truth), tiny)), None
    if callable(sens):
        sens = sens()
    kappa = float(sens / abs(truth)) if truth != 0 else float("inf")
    return float(err / max(abs(truth), sens, tiny)), kappa


def _valid(kernel, point_arrays: dict) -> bool:
    try:
        arrays = kernel._arrays({n: point_arrays[n] for n in kernel.inputs})
        kernel._check_shapes(arrays, False)
        kernel._validate(arrays, False)
        return True
    except ValueError:
        return False


def measure(d, dtype=np.float64, max_points=None, details=False) -> list[Result]:
    """Every kernel of ``d`` (nll, loss, and the gradient of each in each predicted
    input) over the extreme grid in ``dtype``; one Result per kernel."""
    dtype = np.dtype(dtype).type
    rtol = RTOL[dtype]
    oracle = Oracle(d)
    names = list(d.inputs)
    points = grid(d, dtype, max_points=max_points or MAX_POINTS)
    # The grid as the kernel sees it (rounded to dtype), and the exact values of those numbers.
    arrays = as_arrays(points, names, dtype)
    exact_points = [{n: _mp(arrays[n][i]) for n in names} for i in range(len(points))]
    shown = [{n: arrays[n][i].tolist() for n in names} for i in range(len(points))]

    kernels = {t: symlik.compile(d, target=t, reduction="sum") for t in ("nll", "loss")}
    valid = [
        i for i in range(len(points)) if _valid(kernels["nll"], {n: arrays[n][i : i + 1] for n in names})
    ]
    if not valid:
        return []
    cols = {n: arrays[n][valid] for n in names}
    pts = [exact_points[i] for i in valid]
    where = [_where(shown[i], names) for i in valid]
    index_targets = d.spec.support.kind == "onehot"
    label_cols = np.argmax(cols["y"], axis=-1) if index_targets else None

    results = []
    for target, kernel in kernels.items():
        args = {n: cols[n] for n in kernel.inputs}
        with np.errstate(all="ignore"):
            values = [kernel.elementwise(**args)]
            grads = [kernel.grad(**args)]
            if index_targets:
                values.append(kernel.elementwise(**{**args, "y": label_cols}))
                grads.append(kernel.grad(**{**args, "y": label_cols}))
        value_fn = (lambda t: lambda v: oracle.value(t, v))(target)

        # The value.
        res = Result(d.slug, target, DTYPE_NAMES[dtype], rtol=rtol)
        for i, p in enumerate(pts):
            digits = start_digits(p)
            truth = converged(lambda: value_fn(p), digits, zero_digits=ZERO_DIGITS)
            if not mpmath.isfinite(truth) or abs(truth) > np.finfo(dtype).max:
                res.skipped += 1
                continue
            mag = _lazy(lambda: converged(lambda: sensitivity(value_fn, p), digits))
            for out in values:
                res.record(scaled_error(out[i], truth, mag, dtype), where[i])
        results.append(res)

        # The gradient in each predicted input (each component of an event input).
        kinks = (d.loss.expr if target == "loss" else d.nll).has(*_KINKS)
        for gi, name in enumerate(n for n in d.predicted_inputs if n in kernel.inputs):
            res = Result(d.slug, f"d {target} / d {name}", DTYPE_NAMES[dtype], rtol=rtol)
            for i, p in enumerate(pts):
                digits = start_digits(p)
                for comp_name, comp in oracle.components(name):
                    direction = _direction(d, name, p[name] if comp is None else p[name][comp])
                    truth = slope_truth(value_fn, p, comp_name, comp, direction, digits)
                    if kinks and direction == 0:
                        left = converged(lambda: derivative(value_fn, p, comp_name, comp, -1), digits)
                        right = converged(lambda: derivative(value_fn, p, comp_name, comp, 1), digits)
                        if not (mpmath.isfinite(left) and mpmath.isfinite(right)) or abs(left - right) > 1e-30 * (1 + abs(left)):
                            res.skipped += 1
                            continue
                    if not mpmath.isfinite(truth) or abs(truth) > np.finfo(dtype).max:
                        res.skipped += 1
                        continue
                    slope_fn = (lambda c, i, dn: lambda v: derivative(value_fn, v, c, i, dn))(comp_name, comp, direction)
                    mag = _lazy(lambda: converged(lambda: sensitivity(slope_fn, p), digits))
                    for g in grads:
                        got = g[gi][i] if comp is None else g[gi][i][comp]
                        res.record(scaled_error(got, truth, mag, dtype), where[i])
            results.append(res)
    return results


def slope_truth(value_fn, point: dict, name: str, index, direction: int, digits: int):
    """The exact slope of ``value_fn`` in ``point[name]`` (component ``index``), settled like a value:
    a slope of 0 only at ZERO_DIGITS. A zero-inflated NB's slope in n at pi = 1e-15, y = 0 is
    1.8e-287, and its finite differences are 0 at 75 and at 150 digits alike."""
    return converged(lambda: derivative(value_fn, point, name, index, direction), digits, zero_digits=ZERO_DIGITS)


def _lazy(fn):
    """fn, evaluated at most once, on demand."""
    cache = []

    def get():
        if not cache:
            cache.append(fn())
        return cache[0]

    return get


def _direction(d, name, value) -> int:
    """One-sided differences at the closed edge of a parameter's interval."""
    spec = d.spec
    if name not in spec.param_names:
        return 0
    return spec.param(name).constraint.inward(value)


__all__ = ["measure", "Result", "RTOL", "scaled_error"]
