"""Generated kernels emit no RuntimeWarning where the value they compute is finite (issue 16).

Every catalog kernel (nll and loss, value and gradient, float64 and float32) runs at each valid
point of the accuracy grid, one point at a time, with NumPy's floating-point warnings turned into
errors. A point whose value is infinite (p = 0 in a geometric NLL: the likelihood is 0) may warn
about the log of 0; a finite value reached through an intermediate inf or nan may not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symlik
from symlik.apps.accuracy.grid import as_arrays, grid

from conftest import ALL, _id


def _calls(kernel):
    yield "value", kernel
    yield "gradient", kernel.grad


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("combo", ALL, ids=[_id(c) for c in ALL])
def test_no_runtime_warning_where_the_value_is_finite(combo, dtype):
    name, predict, link, options = combo
    d = symlik.derive(name, predict=predict, link=link, options=options or None)
    names = list(d.inputs)
    points = grid(d, dtype, max_points=400)
    arrays = as_arrays(points, names, dtype)
    failures = []
    for target in ("nll", "loss"):
        kernel = symlik.compile(d, target=target, reduction="none")
        for i in range(len(points)):
            args = {n: arrays[n][i : i + 1] for n in kernel.inputs}
            for what, fn in _calls(kernel):
                with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
                    warnings.simplefilter("always")
                    try:
                        out = fn(**args)
                    except ValueError:  # not a valid point (the kernel validates its input)
                        break
                values = np.concatenate([np.ravel(np.asarray(o, dtype=float)) for o in (out if isinstance(out, tuple) else (out,))])
                if caught and np.isfinite(values).all():
                    failures.append(f"{target} {what} at {({n: a.tolist() for n, a in args.items()})}: {caught[0].message}")
    assert not failures, "\n".join(failures[:5])
