"""von Mises: its support is one period of a circle, its Fisher information is kappa I1/I0 and
its best constant is the circular mean (issue 16), each checked against scipy numerically."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

import symlik
from symlik.apps.cli import main

stats = pytest.importorskip("scipy.stats")
from scipy import integrate, special  # noqa: E402


def test_list_gives_one_period_as_the_support(capsys):
    assert main(["list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("von_mises"))
    assert "circle [-pi, pi)" in line and "(-inf, inf)" not in line


def test_the_density_integrates_to_one_over_the_period():
    spec = symlik.get("von_mises")
    total, _ = integrate.quad(lambda y: np.exp(stats.vonmises.logpdf(y, 2.0, loc=0.7)), -np.pi, np.pi)
    assert total == pytest.approx(1.0, rel=1e-10)
    assert "circle" in spec.support.describe()


def test_any_angle_is_still_a_valid_observation():
    y = np.array([-10.0, 0.5, 7.0])  # outside one period: the density is periodic
    k = symlik.compile("von_mises", target="nll", fixed={"kappa": 2.0}, reduction="none")
    np.testing.assert_allclose(k(np.zeros(3), y), -stats.vonmises.logpdf(y, 2.0), rtol=1e-12)


@pytest.mark.parametrize("kappa", [0.3, 2.0, 15.0])
def test_fisher_information_is_kappa_i1_over_i0(kappa):
    d = symlik.derive("von_mises")
    fisher = float(d.fisher()[0, 0].subs(d.spec.symbol("kappa"), kappa).evalf(30))
    assert fisher == pytest.approx(kappa * special.i1(kappa) / special.i0(kappa), rel=1e-12)
    # independently: the variance of the score, by quadrature over one period of scipy's density
    mu, h = 0.4, 1e-5
    score = lambda y: (stats.vonmises.logpdf(y, kappa, loc=mu + h) - stats.vonmises.logpdf(y, kappa, loc=mu - h)) / (2 * h)  # noqa: E731
    second, _ = integrate.quad(lambda y: score(y) ** 2 * stats.vonmises.pdf(y, kappa, loc=mu), mu - np.pi, mu + np.pi)
    assert fisher == pytest.approx(second, rel=1e-6)


def test_explain_prints_the_fisher_information_not_nan(capsys):
    assert main(["derive", "von_mises", "--explain", "--no-cache"]) == 0
    out = capsys.readouterr().out
    fisher = out[out.index("The Fisher information"):out.index("The best constant")]
    assert "nan" not in fisher and "I₁(κ)" in fisher and "I₀(κ)" in fisher


def _evaluate(expr, data):
    value = expr.subs({s: len(data) for s in expr.free_symbols if s.name == "n"}).doit()
    value = value.xreplace({a: sp.Float(data[int(a.indices[0]) - 1]) for a in value.atoms(sp.Indexed)})
    return float(value)


@pytest.mark.parametrize("loc", [0.3, 3.0, -2.9])  # near +-pi the arithmetic mean of the angles is wrong
def test_best_constant_is_the_circular_mean(loc):
    d = symlik.derive("von_mises")
    best = d.optimal_constant()
    assert best.solved
    data = stats.vonmises.rvs(4.0, loc=loc, size=25, random_state=np.random.default_rng(7))
    got = _evaluate(best.values["mu"], data)
    expected = stats.circmean(data, high=np.pi, low=-np.pi)
    assert np.angle(np.exp(1j * (got - expected))) == pytest.approx(0.0, abs=1e-12)
    # and it minimises the summed NLL over a fine grid of constants
    grid = np.linspace(-np.pi, np.pi, 20001)
    nll = -stats.vonmises.logpdf(data[None, :], 4.0, loc=grid[:, None]).sum(axis=1)
    assert abs(np.angle(np.exp(1j * (grid[np.argmin(nll)] - got)))) < 1e-3


@pytest.mark.parametrize("kappa, offset", [(1e8, 1e-8), (1e8, 0.0), (1e3, 0.3), (30.0, 1.0), (29.5, 1.0), (2.0, -2.0), (1e-8, 0.5)])
def test_gradient_in_kappa_keeps_its_digits_where_the_ratio_is_near_one(kappa, offset):
    # d nll / d kappa = I1(kappa)/I0(kappa) - cos(y - mu). At kappa = 1e8 the ratio is 1 - 5e-9, and
    # written as ratio - 1 - cosm1 its rounding (1e-16) left 8 digits (2.4e-8 relative). Now the
    # shortfall I1/I0 - 1 is one function (its asymptotic series from kappa = 30). Oracle: mpmath, 60 digits.
    d = symlik.derive("von_mises", predict=("mu", "kappa"))
    kernel = symlik.compile(d, target="nll", reduction="sum")
    mu, y = 0.25, 0.25 + offset
    with mpmath.workdps(60):
        k = mpmath.mpf(kappa)
        want = mpmath.besseli(1, k) / mpmath.besseli(0, k) - mpmath.cos(mpmath.mpf(y) - mpmath.mpf(mu))
    grads = kernel.grad(mu=np.array([mu]), kappa=np.array([kappa]), y=np.array([y]))
    assert float(grads[1][0]) == pytest.approx(float(want), rel=2e-14, abs=0)


def test_the_ratio_shortfall_differentiates_as_its_exact_form():
    from symlik.core.functions import BesselRatioDeficit, exact

    x = sp.Symbol("x", positive=True)
    for point in (sp.Rational(3, 10), sp.Integer(7), sp.Integer(45)):
        got = exact(sp.diff(BesselRatioDeficit(x), x)).subs(x, point).evalf(40)
        want = sp.diff(BesselRatioDeficit(x).rewrite("exact"), x).subs(x, point).evalf(40)
        assert abs(got - want) < sp.Float("1e-30"), (point, got, want)
