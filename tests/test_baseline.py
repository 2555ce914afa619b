"""The best constant prediction and the chance-level loss, against numerical minimisation
(scipy.optimize over sum_i NLL, with scipy.stats as the NLL) and hand-written values."""

import numpy as np
import pytest
import sympy as sp
from scipy import optimize, stats

import symlik
from symlik.analysis.baseline import SampleQuantile
from symlik.core.notation import N_OBS, OBS


def _evaluate(expr, data, k=None):
    """Evaluate an expression in sums over the data y_i (i = 1..n) at an array (n,) or (n, K)."""
    data = np.asarray(data, dtype=float)
    n = data.shape[0]
    kk = sp.Symbol("k", integer=True, positive=True)

    def ev(e, env):
        if isinstance(e, sp.Sum):
            (idx, lo, hi), *more = e.limits
            inner = sp.Sum(e.function, *more) if more else e.function
            return sum(ev(inner, {**env, idx: t}) for t in range(1, n + 1))
        if isinstance(e, sp.Indexed) and e.base.label.name == "y":
            row = data[env[e.indices[0]] - 1]
            return sp.Float(row if data.ndim == 1 else row[k])
        if e == N_OBS:
            return sp.Integer(n)
        if e == kk:
            return sp.Integer(k + 1)
        if not e.args:
            return e
        return e.func(*(ev(a, env) for a in e.args))

    return float(ev(expr, {}))


def test_normal_best_constant_is_the_mean():
    d = symlik.derive("normal")
    best = d.optimal_constant()
    y = sp.IndexedBase("y", real=True)
    assert sp.simplify(best.values["mu"] - sp.Sum(y[OBS], (OBS, 1, N_OBS)) / N_OBS) == 0
    assert "sample mean" in best.statement


def test_bernoulli_best_constant_is_the_proportion_of_ones_and_logit_of_it():
    best = symlik.derive("bernoulli", link="logit").optimal_constant()
    assert "proportion of ones" in best.statement
    data = np.array([1, 0, 1, 1, 0, 1, 1, 1.0])
    p_hat = _evaluate(best.values["p"], data)
    assert p_hat == pytest.approx(data.mean())
    z_hat = _evaluate(best.inputs["logits"], data)
    # numerical minimiser of the BCE-with-logits sum, by scipy
    z_num = optimize.minimize_scalar(lambda z: -stats.bernoulli.logpmf(data, 1 / (1 + np.exp(-z))).sum()).x
    assert z_hat == pytest.approx(z_num, abs=1e-5)


def test_categorical_best_constant_is_the_class_frequencies():
    best = symlik.derive("categorical", link="softmax").optimal_constant()
    y = np.eye(3)[[0, 2, 2, 1, 2, 0]]
    freqs = [_evaluate(best.values["p"], y, k) for k in range(3)]
    np.testing.assert_allclose(freqs, y.mean(axis=0))
    assert "class frequencies" in best.statement


def test_laplace_best_constant_is_the_median():
    best = symlik.derive("laplace").optimal_constant()
    assert best.kind == "quantile"
    value = best.values["mu"]
    assert isinstance(value, SampleQuantile) and value.args[1] == sp.Rational(1, 2)
    assert "median" in best.statement
    data = np.array([0.3, 5.0, -2.0, 1.1, 9.0])
    mu_num = optimize.minimize_scalar(lambda m: -stats.laplace.logpdf(data, loc=m).sum(), bounds=(-5, 10), method="bounded").x
    assert np.median(data) == pytest.approx(mu_num, abs=1e-4)


def test_poisson_and_gamma_best_constants_are_the_mean():
    rate = symlik.custom("counts", density="r**y*exp(-r)/factorial(y)", params={"r": "positive"}, support="nonnegative_integer")
    gamma = symlik.custom(
        "gam", density="(k/mu)**k*y**(k - 1)*exp(-k*y/mu)/gamma(k)", params={"mu": "positive", "k": "positive"},
        support="positive",
    )
    data = np.array([0.5, 3.0, 2.0, 7.0])
    for spec in (rate, gamma):
        best = symlik.derive(spec).optimal_constant()
        assert best.solved, best.statement
        assert _evaluate(next(iter(best.values.values())), data) == pytest.approx(data.mean())


def test_unsolvable_score_equation_is_said_plainly():
    spec = symlik.custom("cauchy", density="1/(pi*(1 + (y - m)**2))", params={"m": "real"})
    best = symlik.derive(spec).optimal_constant()
    assert not best.solved and best.values is None
    assert best.statement.startswith("SymPy cannot solve the score equation")


def test_chance_losses():
    C = sp.Symbol("C", integer=True, positive=True)
    assert sp.simplify(symlik.derive("categorical", link="softmax").chance_loss() - sp.log(C)) == 0
    assert sp.simplify(symlik.derive("categorical").chance_loss() - sp.log(C)) == 0
    assert sp.simplify(symlik.derive("bernoulli", link="logit").chance_loss() - sp.log(2)) == 0
    # bernoulli at p = 1/4: the mean BCE of that constant, by scipy
    data = np.array([1.0, 0.0, 1.0, 1.0])
    got = _evaluate(symlik.derive("bernoulli").chance_loss(p=sp.Rational(1, 4)), data)
    assert got == pytest.approx(-stats.bernoulli.logpmf(data, 0.25).mean())
    # mse at the best constant is the (population) sample variance
    data = np.array([1.0, 4.0, -2.0, 0.5])
    assert _evaluate(symlik.derive("normal").chance_loss(), data) == pytest.approx(np.var(data))
    with pytest.raises(symlik.SymlikError, match="predicted parameters"):
        symlik.derive("normal").chance_loss(sigma=1)


def test_rendered_derivation_says_mean_and_median():
    assert "sample mean" in symlik.derive("normal").explained().to_markdown()
    md = symlik.derive("laplace").explained().to_markdown()
    assert "sample median" in md and r"\operatorname{median}" in md


def test_chance_loss_refuses_text_and_runs_no_code(tmp_path):
    """A string is never evaluated: before, non-strict sympify ran it as Python."""
    sentinel = tmp_path / "ran"
    d = symlik.derive("normal")
    with pytest.raises(symlik.SymlikError, match="not text"):
        d.chance_loss(mu=f"__import__('pathlib').Path({str(sentinel)!r}).touch() or 0")
    assert not sentinel.exists()
    # Numbers still work: with mu = 0.5 and y = (1, 3) the mean squared error is (0.25 + 6.25)/2.
    loss = d.chance_loss(mu=0.5).subs(N_OBS, 2).doit()
    y = next(iter(loss.atoms(sp.IndexedBase)))
    assert float(loss.subs({y[1]: 1, y[2]: 3})) == pytest.approx(3.25)
