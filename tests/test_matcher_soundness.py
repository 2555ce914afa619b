"""The matcher refuses a proof whose offset depends on the predictions (issue 14).

A zero-inflated Poisson predicting only the rate was once "proven" to be
poisson_nll with offset -log(pi e^rate - pi + 1) at y = 0: the case split
treated y = 0 as a null set, which it is not for a count. These tests hold the
matcher to the contract: the offset is free of the predictions, and the
identity nll = scale * loss + offset holds at the edge of a discrete support.
"""

import numpy as np
import pytest
import sympy as sp

import symlik
from symlik.core.algebra import cases, expand_logs
from symlik.core.functions import exact
from symlik.losses import matcher
from symlik.model import links

from conftest import ALL, _id


def test_zero_inflated_poisson_predicting_the_rate_is_not_poisson_nll():
    d = symlik.derive("zero_inflated_poisson", predict=("rate",))
    assert d.loss.name is None  # its own NLL
    rate = d.symbols["rate"]
    assert not d.offset.has(rate)
    # At y = 0, -log(pi + (1 - pi) e^-rate) is not rate - 0 log rate + const: a hand-written check.
    pi = 0.3
    zero_nll = [-np.log(pi + (1 - pi) * np.exp(-r)) for r in (0.5, 2.0)]
    assert not np.isclose(zero_nll[0] - 0.5, zero_nll[1] - 2.0)


def test_matcher_refuses_poisson_nll_for_the_zero_inflated_rate():
    spec = symlik.get("zero_inflated_poisson")
    y, pi, rate = spec.y, spec.symbol("pi"), spec.symbol("rate")
    nll = -expand_logs(spec.log_density(y, pi=pi, rate=rate))  # as the pipeline writes it
    assert matcher.identify_scalar(nll, y, (rate,)) is None


def test_a_count_equal_to_zero_is_a_case_of_its_own():
    a, b = sp.symbols("a b")
    count = sp.Symbol("y", integer=True, nonnegative=True)
    real = sp.Symbol("x", real=True)
    on_count = cases([sp.Piecewise((a, sp.Eq(count, 0)), (b, True))])
    assert sorted(map(str, (e for (e,) in on_count))) == ["a", "b", "b"]  # y = 0, y > 0, y < 0
    on_real = cases([sp.Piecewise((a, sp.Eq(real, 0)), (b, True))])
    assert [e for (e,) in on_real] == [b, b]  # x = 0 is a null set for a real x


SCALAR = [c for c in ALL if not symlik.get(c[0], **(c[3] or {})).is_event]


def _draw(d, name, rng):
    """A valid value of input ``name``: a link's pre-activation or a parameter."""
    if name in d.predicted_inputs and name not in d.predict:
        return float(links.get(d.link).draw(rng, ()))
    return float(d.spec.param(name).constraint.draw(rng, ()))


def _targets(spec, rng):
    """y at the lower edge of a discrete support and next to it, or random continuous values."""
    s = spec.support
    if s.discrete:
        lo = 0 if s.lower is None or isinstance(s.lower, str) else int(s.lower)
        return [lo, lo + 1, lo + 3]
    return [float(v) for v in rng.lognormal(0.0, 0.5, 2)] if s.lower is not None else [0.7, -1.3]


@pytest.mark.parametrize("combo", SCALAR, ids=[_id(c) for c in SCALAR])
def test_offset_is_constant_in_the_predictions_numerically(combo):
    """nll - scale * loss, evaluated at two draws of the predictions: the same number (the proof's claim,
    checked by evaluation at y on the edge of the support, independently of the symbolic proof)."""
    name, predict, link, options = combo
    d = symlik.derive(name, predict=predict, link=link, options=options or None)
    rng = np.random.default_rng(14)
    residual = exact(d.nll - d.scale * d.loss.expr)
    others = {d.symbols[n]: _draw(d, n, rng) for n in d.inputs if n != "y" and n not in d.predicted_inputs}
    bounds = [b for b in (d.spec.support.lower, d.spec.support.upper) if isinstance(b, str)]
    for y in _targets(d.spec, rng):
        if bounds:  # a bound read from a parameter (binomial's n): y within it
            others.update({d.symbols[b]: max(float(others.get(d.symbols[b], 0)), y + 3) for b in bounds})
        values = []
        for _ in range(2):
            point = {**others, d.symbols["y"]: y, **{d.symbols[n]: _draw(d, n, rng) for n in d.predicted_inputs}}
            values.append(complex(sp.N(residual.xreplace(point), 30)))
        assert values[0] == pytest.approx(values[1], rel=1e-10, abs=1e-10), (y, values)
