"""Accelerated failure time entries (weibull_aft, lognormal_aft, loglogistic_aft): XGBoost's survival:aft.

Oracles, none of them symlik: scipy.stats' weibull_min / lognorm / fisk (logpdf for exact times,
logsf / logcdf for censored ones, the difference of two cdfs for intervals), mpmath at 50 digits
where float64 formulas fail (deep tails, intervals one ulp wide) and for the gradients there,
and XGBoost's own aft-nloglik metric and survival:aft objective.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

import symlik
from harness import as_backend_array

INF = math.inf
# name -> (XGBoost's aft_loss_distribution, scipy's law of T at (mu, sigma), F(z) and f(z) in mpmath)
MODELS = {
    "weibull_aft": (
        "extreme",
        lambda mu, s: stats.weibull_min(c=1 / s, scale=np.exp(mu)),
        lambda z: -mp.expm1(-mp.exp(z)),
        lambda z: mp.exp(z - mp.exp(z)),
    ),
    "lognormal_aft": (
        "normal",
        lambda mu, s: stats.lognorm(s=s, scale=np.exp(mu)),
        lambda z: mp.ncdf(z),
        lambda z: mp.npdf(z),
    ),
    "loglogistic_aft": (
        "logistic",
        lambda mu, s: stats.fisk(c=1 / s, scale=np.exp(mu)),
        lambda z: 1 / (1 + mp.exp(-z)),
        lambda z: mp.exp(z) / (1 + mp.exp(z)) ** 2,
    ),
}
NAMES = sorted(MODELS)


def _nll(name, target="nll", **kw):
    return symlik.compile(name, target=target, predict=("mu", "sigma"), reduction="none", **kw)


def _mixed_rows(rng, n=40):
    """y, upper for n rows: exact, right-censored, left-censored and interval, a quarter each."""
    t = rng.lognormal(0.0, 0.8, n)
    y, upper = t.copy(), t.copy()
    kind = np.arange(n) % 4
    upper[kind == 1] = INF
    y[kind == 2] = 0.0
    upper[kind == 3] = t[kind == 3] * rng.uniform(1.1, 3.0, (kind == 3).sum())
    return y, upper, kind


def _mp_nll(name, y, upper, mu, sigma):
    """-log p at the working precision (callers set 50 digits) from the definitions: f(z)/(sigma t) for an exact time, F(zu) - F(zl) otherwise."""
    _, _, F, f = MODELS[name]
    y, mu, sigma = mp.mpf(y), mp.mpf(mu), mp.mpf(sigma)
    zl = (mp.log(y) - mu) / sigma if y > 0 else -mp.inf
    if upper == y:
        return -mp.log(f(zl) / (sigma * y))
    # 1 - F(z) without 1 - (a number next to 1): F(-z) for the two symmetric laws, e^{-e^z} for the extreme one
    S = (lambda z: mp.exp(-mp.exp(z))) if name == "weibull_aft" else (lambda z: F(-z))
    if upper == INF:
        return -mp.log(S(zl))
    zu = (mp.log(mp.mpf(upper)) - mu) / sigma
    if zl > 0:  # above the median, where F is next to 1: the mass as a difference of survival functions
        return -mp.log(S(zl) - S(zu))
    if zu > 0:  # across it: 1 minus both tails, whose sum may be far below 50 digits
        return -mp.log1p(-(F(zl) if y > 0 else 0) - S(zu))
    return -mp.log(F(zu) - (F(zl) if y > 0 else 0))


# ---------------------------------------------------------------------------
# scipy.stats at moderate values, the four kinds of row mixed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_kind_of_row_matches_scipy(name):
    rng = np.random.default_rng(3)
    y, upper, kind = _mixed_rows(rng)
    mu, sigma = rng.normal(0.0, 0.5, y.size), rng.uniform(0.4, 1.6, y.size)
    law = MODELS[name][1](mu, sigma)
    with np.errstate(divide="ignore"):
        want = -np.select(
            [kind == 0, kind == 1, kind == 2],
            [law.logpdf(y), law.logsf(y), law.logcdf(upper)],
            np.log(law.cdf(upper) - law.cdf(y)),
        )
    got = _nll(name)(mu=mu, sigma=sigma, y=y, upper=upper)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_an_interval_from_zero_to_infinity_costs_nothing(name):
    got = _nll(name)(mu=np.array([0.5, -3.0]), sigma=np.array([0.7, 2.0]), y=np.zeros(2), upper=np.full(2, INF))
    assert np.array_equal(got, np.zeros(2))
    grad = _nll(name, target="grad")(mu=np.array([0.5, -3.0]), sigma=np.array([0.7, 2.0]), y=np.zeros(2), upper=np.full(2, INF))
    assert np.array_equal(np.asarray(grad), np.zeros_like(np.asarray(grad)))


# ---------------------------------------------------------------------------
# mpmath at 50 digits at the extremes
# ---------------------------------------------------------------------------

SIGMA = 0.5
ULP = 2.0**-52


def _extreme_rows():
    """(y, upper) at mu = 0, sigma = 1/2: z = 2 log t, so t = e^(z/2) puts a bound at z."""
    rows = []
    for z in (-60.0, -8.0, 0.0, 8.0, 60.0):
        t = math.exp(z * SIGMA)
        rows += [(t, t), (t, INF), (0.0, t), (t, t * (1 + ULP)), (t, t * (1 + 1e-9)), (t, t * 1.5)]
    # wide intervals across the median: the mass is within 1e-15 of 1, the NLL tiny
    rows += [(math.exp(-20.0 * SIGMA), math.exp(20.0 * SIGMA)), (math.exp(-3.0 * SIGMA), math.exp(40.0 * SIGMA))]
    return rows


def _relative_errors(name):
    rows = _extreme_rows()
    y, upper = (np.array(c) for c in zip(*rows))
    mu, sigma = np.zeros(y.size), np.full(y.size, SIGMA)
    got = _nll(name)(mu=mu, sigma=sigma, y=y, upper=upper)
    out = []
    for g, (a, b) in zip(got, rows):
        with mp.workdps(50):
            want = _mp_nll(name, a, b, 0.0, SIGMA)
        # where the Weibull's e^z passes float64's range the NLL is beyond it too
        if abs(want) > 1e300:
            assert g == INF
            continue
        out.append(float(abs(mp.mpf(g) - want) / max(abs(want), mp.mpf(1e-300))))
    return np.array(out), rows


@pytest.mark.parametrize("name", NAMES)
def test_extremes_agree_with_mpmath(name):
    errors, rows = _relative_errors(name)
    worst = int(np.argmax(errors))
    assert errors.max() < 1e-13, (rows[worst], errors.max())


def _mp_grad(name, y, upper, mu, sigma):
    with mp.workdps(50):
        return [mp.diff(lambda m: _mp_nll(name, y, upper, m, sigma), mp.mpf(mu)),
                mp.diff(lambda s: _mp_nll(name, y, upper, mu, s), mp.mpf(sigma))]


@pytest.mark.parametrize("name", NAMES)
def test_gradients_are_finite_and_exact_for_every_kind_of_row(name):
    # No branch sees another's infinite bound: the gradient holds no inf * 0 (nan) at upper = inf or y = 0.
    rows = [(1.3, 1.3), (1.3, INF), (0.0, 1.3), (1.3, 2.9), (40.0, INF), (0.0, 1e-6), (2.0, 2.0 * (1 + 1e-9))]
    y, upper = (np.array(c) for c in zip(*rows))
    mu, sigma = np.full(y.size, 0.2), np.full(y.size, 0.7)
    grad = np.asarray(_nll(name, target="grad")(mu=mu, sigma=sigma, y=y, upper=upper))
    assert np.all(np.isfinite(grad))
    for i, (a, b) in enumerate(rows):
        want = _mp_grad(name, a, b, 0.2, 0.7)
        np.testing.assert_allclose(grad[i], [float(w) for w in want], rtol=1e-7, err_msg=str(rows[i]))


# (y, upper, mu, sigma): one-ulp intervals 1e8 and 1e16 scales above the mean. The two log Phi of
# the bounds are -5e15 and -5e31 and differ by about 1.6 and 2.2e8: that difference was below their
# rounding (at 1e16 the mass came out as 0 and the NLL as inf); it is now w m + log(phi/Phi) terms
FAR_INTERVALS = [
    (math.e, float(np.nextafter(math.e, INF)), 0.0, 1e-8),
    (1.0, float(np.nextafter(1.0, INF)), -1e8, 1e-8),
    (math.e, float(np.nextafter(math.e, INF)), 2.0, 1e-8),
]


def test_lognormal_interval_far_above_the_mean_keeps_its_digits():
    y, upper, mu, sigma = (np.array(c) for c in zip(*FAR_INTERVALS))
    nll = _nll("lognormal_aft")(mu=mu, sigma=sigma, y=y, upper=upper)
    grad = np.asarray(_nll("lognormal_aft", target="grad")(mu=mu, sigma=sigma, y=y, upper=upper))
    for i, (a, b, m, s) in enumerate(FAR_INTERVALS):
        with mp.workdps(60):
            want = _mp_nll("lognormal_aft", a, b, m, s)
            want_grad = [mp.diff(lambda t: _mp_nll("lognormal_aft", a, b, t, s), mp.mpf(m)),
                         mp.diff(lambda t: _mp_nll("lognormal_aft", a, b, m, t), mp.mpf(s))]
        assert abs(nll[i] - want) <= 1e-13 * abs(want), (FAR_INTERVALS[i], nll[i], want)
        np.testing.assert_allclose(grad[i], [float(w) for w in want_grad], rtol=1e-9, err_msg=str(FAR_INTERVALS[i]))


# (y, upper, mu, sigma): intervals whose upper end is so many scales above the mean that e^zu
# overflows (zu = 2072, 1e16) or nearly does (zu = 700): the mass is S(zl), and the gradient's
# interval term x/expm1(-x), x = e^zl - e^zu = -inf, was -inf/inf = nan where its limit is 0
WEIBULL_FAR_UPPER = [(1.0, 1e9, 0.0, 0.01), (3.0, 1e300, 0.0, 0.5), (1e-7, 1e8, -1e-8, 1e-8), (2.0, 5.0, 0.3, 0.002)]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.slow),  # numba: 22 s to compile
                                     "torch", pytest.param("jax", marks=pytest.mark.slow)])
def test_weibull_interval_gradient_where_the_upper_end_overflows(backend):
    if backend == "fused":
        pytest.importorskip("numba")
    elif backend in ("torch", "jax"):
        pytest.importorskip(backend)
    y, upper, mu, sigma = (np.array(c) for c in zip(*WEIBULL_FAR_UPPER))
    kernel = _nll("weibull_aft", target="grad", backend=backend)
    grad = np.asarray(kernel(**{n: as_backend_array(backend, v) for n, v in
                                dict(mu=mu, sigma=sigma, y=y, upper=upper).items()}))
    assert np.all(np.isfinite(grad)), grad
    for i, (a, b, m, s) in enumerate(WEIBULL_FAR_UPPER):
        # S(zu) = exp(-e^zu) is below exp(-e^300) at every point (mpmath cannot even form e^(e^(1.8e9))),
        # so the NLL is -log S(zl) = e^zl: gradient -e^zl/sigma and -zl e^zl/sigma, at 50 digits
        with mp.workdps(50):
            zl = (mp.log(a) - m) / s
            want = [float(-mp.exp(zl) / s), float(-zl * mp.exp(zl) / s)]
        np.testing.assert_allclose(grad[i], want, rtol=1e-9, atol=1e-300, err_msg=f"{backend} {WEIBULL_FAR_UPPER[i]}")


# ---------------------------------------------------------------------------
# XGBoost's survival:aft
# ---------------------------------------------------------------------------


def _dmatrix(xgb, X, y, upper, margin=None):
    d = xgb.DMatrix(X, label=y)
    d.set_float_info("label_lower_bound", y)
    d.set_float_info("label_upper_bound", upper)
    if margin is not None:
        d.set_base_margin(margin)
    return d


def _aft_params(name, sigma):
    return {"objective": "survival:aft", "eval_metric": "aft-nloglik", "aft_loss_distribution": MODELS[name][0],
            "aft_loss_distribution_scale": sigma}


def _xgb_mean_nll(xgb, bst, params, d):
    bst.set_param(params)  # after 0 rounds the metric has not yet read aft_loss_distribution_scale
    return float(bst.eval(d).split(":")[1])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sigma", [0.5, 1.25])
def test_mean_nll_matches_xgboost_aft_nloglik(name, sigma):
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(11)
    y, upper, _ = _mixed_rows(rng, 80)
    # float32 values, which XGBoost stores, so both sides see the same numbers
    y, upper = y.astype(np.float32).astype(float), upper.astype(np.float32).astype(float)
    eta = rng.normal(0.0, 0.4, y.size).astype(np.float32).astype(float)
    d = _dmatrix(xgb, np.zeros((y.size, 1)), y, upper, eta)
    params = _aft_params(name, sigma)
    bst = xgb.train(params, d, num_boost_round=0)
    want = _xgb_mean_nll(xgb, bst, params, d)
    got = _nll(name)(mu=eta, sigma=np.full(y.size, sigma), y=y, upper=upper).mean()
    assert got == pytest.approx(want, rel=1e-6)


def _survival_data(rng, n=600, sigma=0.75):
    """X, y, upper: log T linear in X with logistic noise, a third right-censored before the event."""
    X = rng.normal(size=(n, 3))
    eta = 1.0 + 0.6 * X[:, 0] - 0.4 * X[:, 1]
    t = np.exp(eta + sigma * rng.logistic(size=n)).astype(np.float32).astype(float)
    y, upper = t.copy(), t.copy()
    upper[::3] = INF
    y[::3] = (t[::3] * rng.uniform(0.3, 1.0, n)[::3]).astype(np.float32)
    return X, y, upper


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_boosting_with_the_symlik_objective_matches_xgboost_survival_aft(name):
    # Both boosters are judged by the true held-out NLL (symlik's kernel). XGBoost's own aft-nloglik
    # is no judge here: it caps each row's cost at -log(1e-12) = 27.6, and a Weibull fitted to
    # logistic noise has rows far beyond that (its metric read 2.8 where the NLL is 8.5).
    xgb = pytest.importorskip("xgboost")
    from symlik import xgboost as symlik_xgboost

    sigma, n_train = 0.75, 400
    X, y, upper = _survival_data(np.random.default_rng(5), sigma=sigma)
    n = y.size
    obj = symlik_xgboost.objective(name, fixed={"sigma": sigma}, censoring={"upper": "label_upper_bound"},
                                   hessian="exact_clipped")
    margin0 = np.full(n, float(np.log(np.median(y[upper == y]))))
    train, test = slice(0, n_train), slice(n_train, None)
    dtrain = _dmatrix(xgb, X[train], y[train], upper[train], margin0[train])
    dtest = _dmatrix(xgb, X[test], y[test], upper[test], margin0[test])
    tree = {"max_depth": 3, "eta": 0.1, "min_child_weight": 0.0, "lambda": 1.0}

    def held_out(booster):
        mu = booster.predict(dtest, output_margin=True)
        return _nll(name)(mu=mu, sigma=np.full(n - n_train, sigma), y=y[test], upper=upper[test]).mean()

    def xgboost_clipped(predt, d):  # XGBoost's survival:aft clips g to [-15, 15] and h to [1e-16, 15]
        grad, hess = obj(predt, d)
        return np.clip(grad, -15.0, 15.0), np.clip(hess, 1e-16, 15.0)

    theirs = xgb.train({**_aft_params(name, sigma), **tree}, dtrain, 30)
    ours = xgb.train({**obj.params, **tree}, dtrain, 30, obj=obj)
    ours_clipped = xgb.train({**obj.params, **tree}, dtrain, 30, obj=xgboost_clipped)
    start = _nll(name)(mu=margin0[test], sigma=np.full(n - n_train, sigma), y=y[test], upper=upper[test]).mean()
    assert held_out(ours) < start - 0.05  # it learned
    # the exact Newton steps do at least as well as XGBoost's clipped ones (Weibull: 8.11 against 8.48)
    assert held_out(ours) <= held_out(theirs) * 1.001
    # and with XGBoost's clipping, symlik's gradient and Hessian grow XGBoost's own model (not the
    # Weibull's: XGBoost replaces its extreme-value gradient by a limit where the pdf underflows)
    if name != "weibull_aft":
        np.testing.assert_allclose(ours_clipped.predict(dtest, output_margin=True),
                                   theirs.predict(dtest, output_margin=True), atol=1e-5)


# ---------------------------------------------------------------------------
# inputs, and the derivation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_bad_bounds_are_refused_by_name(name):
    k = _nll(name)
    ok = dict(mu=np.zeros(1), sigma=np.ones(1))
    with pytest.raises(symlik.SymlikError, match="y must lie in the support"):
        k(**ok, y=np.array([2.0]), upper=np.array([1.0]))
    with pytest.raises(symlik.SymlikError, match="upper must be > 0"):
        k(**ok, y=np.array([0.0]), upper=np.array([-1.0]))
    with pytest.raises(symlik.SymlikError, match="upper must"):
        k(**ok, y=np.array([1.0]), upper=np.array([np.nan]))
    with pytest.raises(symlik.SymlikError, match="y must"):
        k(**ok, y=np.array([INF]), upper=np.array([INF]))


@pytest.mark.parametrize("name", NAMES)
def test_the_derivation_shows_four_kinds_of_observation(name):
    d = symlik.derive(name)
    assert d.loss.name is None
    text = d.to_text()
    assert "upper" in text and "oo" in text or "inf" in text
    import sympy as sp

    assert len(d.nll.atoms(sp.Piecewise)) >= 1
    outer = max(d.nll.atoms(sp.Piecewise), key=lambda p: len(p.args))
    assert len(outer.args) == 5  # exact, nothing known, right-censored, left-censored, interval


@pytest.mark.parametrize("name", NAMES)
def test_fisher_information_is_declined_for_the_censoring_it_would_need(name):
    # E[-H] over a censored observation depends on how the intervals arise, which the model does not say:
    # declined at once with that reason, not after an integral runs out its time budget
    with pytest.raises(symlik.SymlikError, match="censoring mechanism"):
        symlik.derive(name).fisher()


def test_the_objective_reads_the_times_from_the_bounds_alone_as_survival_aft_does():
    # XGBoost's survival:aft takes a DMatrix with label_lower_bound and label_upper_bound only; so does symlik's
    xgb = pytest.importorskip("xgboost")
    from symlik import xgboost as symlik_xgboost

    X, y, upper = _survival_data(np.random.default_rng(2), n=30)
    obj = symlik_xgboost.objective("lognormal_aft", fixed={"sigma": 0.8}, censoring={"upper": "label_upper_bound"})
    bounds_only = xgb.DMatrix(X)
    bounds_only.set_float_info("label_lower_bound", y)
    bounds_only.set_float_info("label_upper_bound", upper)
    margin = np.linspace(-1.0, 2.0, y.size)
    got = obj(margin, bounds_only)
    want = obj(margin, _dmatrix(xgb, X, y, upper))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert np.allclose(obj.base_margin(bounds_only), obj.base_margin(_dmatrix(xgb, X, y, upper)))
    with pytest.raises(symlik.SymlikError, match="neither a label nor a label_lower_bound"):
        obj(margin, xgb.DMatrix(X))
