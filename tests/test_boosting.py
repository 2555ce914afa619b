"""symlik's objectives in XGBoost and LightGBM: parity with each library's built-in objective
(identical hyperparameters and initial margins on both sides; the built-in is the oracle),
and distributional boosting that recovers known parameters."""

from __future__ import annotations

import numpy as np
import pytest

import symlik

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
import symlik.lightgbm as symlik_lightgbm  # noqa: E402 - after the skips: needs nothing, but tests do
import symlik.xgboost as symlik_xgboost  # noqa: E402

N = 2000
ROUNDS = 20


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 4))
    eta = 0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2
    return rng, X, eta


def _labels(kind, rng, eta):
    if kind == "normal":
        return eta + rng.normal(size=eta.size)
    if kind == "bernoulli":
        return (rng.random(eta.size) < 1 / (1 + np.exp(-eta))).astype(float)
    if kind == "poisson":
        return rng.poisson(np.exp(eta)).astype(float)
    if kind == "gamma":
        return rng.gamma(2.0, np.exp(eta) / 2.0)
    if kind == "tweedie":
        counts = rng.poisson(np.exp(eta))
        return np.array([rng.gamma(2.0, 0.5, c).sum() for c in counts])
    if kind == "pseudohuber":
        return eta + rng.standard_t(3.0, eta.size)
    raise AssertionError(kind)


def _close(builtin, ours):
    # 1e-6 relative to max(|margin|, 1): XGBoost's margins are float32, whose rounding near 0
    # is a relative error of about 1e-7 of the margin's scale, not of the margin itself.
    scale = np.maximum(np.abs(builtin), 1.0)
    assert np.max(np.abs(builtin - ours) / scale) <= 1e-6


XGB = [
    # builtin objective, label kind, symlik model, extra booster parameters
    ("reg:squarederror", "normal", dict(spec="normal", fixed={"sigma": 1.0}), {}),
    ("binary:logistic", "bernoulli", dict(spec="bernoulli", link="logit"), {}),
    # count:poisson's Hessian is exp(z + max_delta_step): with max_delta_step = 0 it is the exact one
    ("count:poisson", "poisson", dict(spec="poisson", link="log"), {}),
    # reg:gamma is the gamma NLL with shape 1 (grad 1 - y e^-z, hess y e^-z)
    ("reg:gamma", "gamma", dict(spec="gamma", link="log", fixed={"k": 1.0}), {}),
    ("reg:tweedie", "tweedie", dict(spec="tweedie", link="log", fixed={"power": 1.5, "phi": 1.0}), {"tweedie_variance_power": 1.5}),
]


def _skip_missing(spec):
    if spec not in symlik.names():
        pytest.skip(f"{spec} is not in the catalog yet")


@pytest.mark.parametrize("builtin, kind, model, extra", XGB, ids=[c[0] for c in XGB])
def test_xgboost_reproduces_builtin_objective(data, builtin, kind, model, extra):
    _skip_missing(model["spec"])
    rng, X, eta = data
    y = _labels(kind, rng, eta)
    obj = symlik_xgboost.objective(**model)
    margin = obj.base_margin(y)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0, "max_delta_step": 0.0,
              "lambda": 1.0, "min_child_weight": 1e-3, **extra}
    ours_data, theirs_data = xgb.DMatrix(X, y, base_margin=margin), xgb.DMatrix(X, y, base_margin=margin)
    theirs = xgb.train({**params, "objective": builtin}, theirs_data, ROUNDS)
    ours = xgb.train({**params, **obj.params}, ours_data, ROUNDS, obj=obj)
    _close(theirs.predict(theirs_data, output_margin=True), ours.predict(ours_data, output_margin=True))


def test_xgboost_pseudohuber_as_a_custom_density(data):
    """reg:pseudohubererror is the NLL of p(y) proportional to exp(-d^2 (sqrt(1 + (y - m)^2/d^2) - 1))."""
    import sympy as sp

    rng, X, eta = data
    y = _labels("pseudohuber", rng, eta)
    yy, m = sp.symbols("y m", real=True)
    delta = 1
    # The normaliser, 2 d e^(d^2) K_1(d^2), is constant in m: it changes neither gradient nor Hessian.
    spec = symlik.custom("pseudo_huber", log_density=-(delta**2) * (sp.sqrt(1 + (yy - m) ** 2 / delta**2) - 1)
                         - sp.log(2 * delta * sp.exp(delta**2) * sp.besselk(1, delta**2)),
                         observed=yy, params={m: "real"}, check=False)
    obj = symlik_xgboost.objective(spec)
    margin = np.full(y.size, 0.5)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0, "max_delta_step": 0.0,
              "min_child_weight": 1e-3}
    ours_data, theirs_data = xgb.DMatrix(X, y, base_margin=margin), xgb.DMatrix(X, y, base_margin=margin)
    theirs = xgb.train({**params, "objective": "reg:pseudohubererror", "huber_slope": float(delta)}, theirs_data, ROUNDS)
    ours = xgb.train({**params, **obj.params}, ours_data, ROUNDS, obj=obj)
    _close(theirs.predict(theirs_data, output_margin=True), ours.predict(ours_data, output_margin=True))


LGB = [
    ("regression", "normal", dict(spec="normal", fixed={"sigma": 1.0}), {}),
    ("binary", "bernoulli", dict(spec="bernoulli", link="logit"), {}),
    # poisson's Hessian is exp(z + poisson_max_delta_step), which must be > 0: 1e-12 is exp(z) to 1e-12
    ("poisson", "poisson", dict(spec="poisson", link="log"), {"poisson_max_delta_step": 1e-12}),
    ("gamma", "gamma", dict(spec="gamma", link="log", fixed={"k": 1.0}), {}),
    ("tweedie", "tweedie", dict(spec="tweedie", link="log", fixed={"power": 1.5, "phi": 1.0}), {"tweedie_variance_power": 1.5}),
]


@pytest.mark.parametrize("builtin, kind, model, extra", LGB, ids=[c[0] for c in LGB])
def test_lightgbm_reproduces_builtin_objective(data, builtin, kind, model, extra):
    _skip_missing(model["spec"])
    rng, X, eta = data
    y = _labels(kind, rng, eta)
    obj = symlik_lightgbm.objective(**model)
    init = obj.init_score(y)
    params = {"num_leaves": 8, "learning_rate": 0.3, "num_threads": 1, "deterministic": True, "verbose": -1,
              "seed": 0, "min_data_in_leaf": 20, "min_sum_hessian_in_leaf": 1e-3, **extra}
    theirs = lgb.train({**params, "objective": builtin}, lgb.Dataset(X, y, init_score=init), ROUNDS)
    ours = lgb.train({**params, **obj.params, "objective": obj}, lgb.Dataset(X, y, init_score=init), ROUNDS)
    _close(theirs.predict(X, raw_score=True) + init, ours.predict(X, raw_score=True) + init)


def test_weights_reach_the_objective(data):
    rng, X, eta = data
    y = _labels("poisson", rng, eta)
    w = rng.uniform(0.2, 3.0, y.size)
    obj = symlik_xgboost.objective("poisson", link="log")
    margin = obj.base_margin(y, w)
    np.testing.assert_allclose(margin, np.log(np.sum(w * y) / np.sum(w)), rtol=1e-12)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0, "max_delta_step": 0.0}
    ours_data = xgb.DMatrix(X, y, weight=w, base_margin=margin)
    theirs_data = xgb.DMatrix(X, y, weight=w, base_margin=margin)
    theirs = xgb.train({**params, "objective": "count:poisson"}, theirs_data, ROUNDS)
    ours = xgb.train({**params, **obj.params}, ours_data, ROUNDS, obj=obj)
    _close(theirs.predict(theirs_data, output_margin=True), ours.predict(ours_data, output_margin=True))


def test_metric_is_the_mean_nll(data):
    import scipy.stats as st

    rng, X, eta = data
    y = _labels("poisson", rng, eta)
    obj = symlik_xgboost.objective("poisson", link="log")
    dm = xgb.DMatrix(X, y)
    name, value = obj.metric(eta, dm)
    assert name == "nll"
    np.testing.assert_allclose(value, -np.mean(st.poisson.logpmf(y, np.exp(eta))), rtol=1e-12)


# ---- distributional boosting: several parameters, one margin column each ----------------------------

RECOVERY = [
    # model, truth as functions of x0, a sampler of y given the true parameters, the parameters from margins
    ("normal", dict(predict=("mu", "sigma"), link={"sigma": "log"}),
     lambda x: (1.0 + x, 0.5 * np.exp(0.3 * x)), lambda r, p: r.normal(p[0], p[1]), lambda m: (m[:, 0], np.exp(m[:, 1]))),
    ("student_t", dict(predict=("mu", "sigma"), link={"sigma": "log"}, fixed={"nu": 5.0}, hessian="exact_clipped"),
     lambda x: (1.0 + x, 0.5 * np.exp(0.3 * x)), lambda r, p: p[0] + p[1] * r.standard_t(5.0, p[0].size),
     lambda m: (m[:, 0], np.exp(m[:, 1]))),
    ("gamma", dict(predict=("mu", "k"), link={"mu": "log", "k": "log"}),
     lambda x: (np.exp(0.5 * x), 3.0 + 0 * x), lambda r, p: r.gamma(p[1], p[0] / p[1]), lambda m: (np.exp(m[:, 0]), np.exp(m[:, 1]))),
    # symlik's negative binomial (n successes, probability p): mean n (1 - p) / p
    ("negative_binomial", dict(predict=("n", "p"), link={"n": "log", "p": "logit"}),
     lambda x: (2.0 + 0 * x, 1 / (1 + np.exp(-(0.5 * x)))), lambda r, p: r.negative_binomial(p[0], p[1]).astype(float),
     lambda m: (np.exp(m[:, 0]), 1 / (1 + np.exp(-m[:, 1])))),
    # beta regression (Ferrari and Cribari-Neto): mean mu through the logit, precision phi through the log.
    ("beta_mean_precision", dict(predict=("mu", "phi"), link={"mu": "logit", "phi": "log"}),
     lambda x: (1 / (1 + np.exp(-(0.5 + x))), 10.0 * np.exp(0.3 * x)),
     lambda r, p: r.beta(p[0] * p[1], (1 - p[0]) * p[1]),
     lambda m: (1 / (1 + np.exp(-m[:, 0])), np.exp(m[:, 1]))),
    # a structural zero with probability pi (logit), else a Poisson count with mean rate (log)
    ("zero_inflated_poisson", dict(predict=("pi", "rate"), link={"pi": "logit", "rate": "log"}),
     lambda x: (1 / (1 + np.exp(-(-0.8 + x))), np.exp(1.0 + 0.5 * x)),
     lambda r, p: np.where(r.random(p[0].size) < p[0], 0.0, r.poisson(p[1])).astype(float),
     lambda m: (1 / (1 + np.exp(-m[:, 0])), np.exp(m[:, 1]))),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs, truth, sample, params_of", RECOVERY,
                         ids=[c[0] for c in RECOVERY])
def test_distributional_boosting_recovers_parameters(name, kwargs, truth, sample, params_of):
    rng = np.random.default_rng(5)
    n = 20000
    X = rng.uniform(-1, 1, size=(n, 2))
    true = truth(X[:, 0])
    y = sample(rng, true)
    obj = symlik_xgboost.objective(name, **kwargs)
    dtrain = xgb.DMatrix(X, y, base_margin=obj.base_margin(y))
    params = {"tree_method": "hist", "max_depth": 2, "eta": 0.1, "nthread": 2, "seed": 0, "min_child_weight": 1.0,
              "lambda": 1.0, **obj.params}
    booster = xgb.train(params, dtrain, 300, obj=obj)
    # The truth depends on x0 only; x1 is noise the trees may still split on, so the fitted
    # parameters are read as a partial dependence, averaged over x1's range (at x1 = 0 alone a
    # Student-t scale read 10% high in one run while its average over x1 was within 1%).
    x0, x1 = np.linspace(-0.8, 0.8, 9), np.linspace(-0.95, 0.95, 39)
    grid = np.column_stack([np.repeat(x0, x1.size), np.tile(x1, x0.size)])
    dgrid = xgb.DMatrix(grid, base_margin=np.tile(obj.base_margin(y)[:1], (grid.shape[0], 1)))
    each = params_of(booster.predict(dgrid, output_margin=True).reshape(grid.shape[0], -1))
    fitted = [np.asarray(p).reshape(x0.size, x1.size).mean(axis=1) for p in each]
    expected = truth(x0)
    # Within sampling error: 300 rounds of depth-2 trees on 20,000 draws fit each parameter at a
    # point to about 10% (a gamma shape k = 3 varied 2.6 to 3.6 across the grid in one run); the
    # average over the grid is held to 5%.
    for f, e in zip(fitted, expected):
        np.testing.assert_allclose(f, e, rtol=0.2, atol=0.05)
        assert abs(np.mean(f) - np.mean(e)) <= 0.05 * np.mean(np.abs(e)) + 0.02


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.slow)])  # (numba's compile: 3 s)
def test_xgboost_reproduces_multi_softprob(data, backend):
    """A softmax head with XGBoost's surrogate Hessian 2 p (1 - p) reproduces multi:softprob,
    on the NumPy backend and in the fused one-pass loop."""
    if backend == "fused":
        pytest.importorskip("numba")
    rng, X, eta = data
    logits = np.stack([eta, -0.3 * X[:, 2], 0.4 * X[:, 3]], 1)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = (rng.random(N)[:, None] > np.cumsum(p, 1)).sum(1).astype(float)  # one draw per row
    obj = symlik_xgboost.objective("categorical", link="softmax", hessian="softprob", num_class=3, backend=backend)
    margin = obj.base_margin(y)
    freq = np.bincount(y.astype(int), minlength=3) / N
    np.testing.assert_allclose(np.exp(margin[0]) / np.exp(margin[0]).sum(), freq, rtol=1e-9)  # log class frequencies
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0, "max_delta_step": 0.0,
              "lambda": 1.0, "min_child_weight": 1e-3}
    ours_data, theirs_data = xgb.DMatrix(X, y, base_margin=margin), xgb.DMatrix(X, y, base_margin=margin)
    theirs = xgb.train({**params, "objective": "multi:softprob", "num_class": 3}, theirs_data, ROUNDS)
    ours = xgb.train({**params, **obj.params}, ours_data, ROUNDS, obj=obj)
    margins = ours.predict(ours_data, output_margin=True)
    _close(theirs.predict(theirs_data, output_margin=True), margins)
    from scipy.special import log_softmax

    name, value = obj.metric(margins, ours_data)
    assert name == "nll" and value == pytest.approx(-np.mean(log_softmax(margins, axis=1)[np.arange(N), y.astype(int)]), rel=1e-12)


def test_censoring_bounds_come_from_the_dmatrix(data):
    """The Tobit model's censoring point c, per observation, read from the DMatrix's
    label_lower_bound: the same model as c fixed where c is one value, and the kernel's own
    gradient and Hessian at each row's c where it varies."""
    rng, X, eta = data
    latent = eta + 0.7 * rng.normal(size=N)
    model = dict(predict=("mu", "sigma"), link={"sigma": "log"})
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0, "lambda": 1.0,
              "min_child_weight": 1e-3}
    c = np.zeros(N)
    y = np.maximum(latent, c)
    by_rows = symlik_xgboost.objective("censored_normal", censoring={"c": "label_lower_bound"}, **model)
    by_fixed = symlik_xgboost.objective("censored_normal", fixed={"c": 0.0}, **model)
    rows_data = xgb.DMatrix(X, y)
    rows_data.set_float_info("label_lower_bound", c)
    margin = by_rows.base_margin(rows_data)
    # the same optimum; the fixed model starts Newton's steps from its solved constant, this one from 0
    np.testing.assert_allclose(margin, by_fixed.base_margin(y), rtol=1e-7)
    rows_data.set_base_margin(margin.ravel())
    fixed_data = xgb.DMatrix(X, y, base_margin=margin)
    ours = xgb.train({**params, **by_rows.params}, rows_data, ROUNDS, obj=by_rows)
    theirs = xgb.train({**params, **by_fixed.params}, fixed_data, ROUNDS, obj=by_fixed)
    np.testing.assert_array_equal(ours.predict(rows_data, output_margin=True), theirs.predict(fixed_data, output_margin=True))

    c = rng.uniform(-1.0, 0.5, N)  # a bound per observation
    y = np.maximum(latent, c)
    varying = xgb.DMatrix(X, y)
    varying.set_float_info("label_lower_bound", c)
    predt = np.column_stack([eta, np.full(N, np.log(0.7))])
    grad, hess = by_rows(predt, varying)
    kernel = symlik.compile("censored_normal", target="grad_hess", **model)
    # the DMatrix keeps labels and bounds in float32: the kernel at those values
    want_g, want_h = kernel(predt[:, 0], predt[:, 1], varying.get_label().astype(np.float64),
                            varying.get_float_info("label_lower_bound").astype(np.float64))
    np.testing.assert_allclose(grad, want_g, rtol=1e-14)
    np.testing.assert_allclose(hess, want_h, rtol=1e-14)
    with pytest.raises(symlik.SymlikError, match="label_lower_bound"):
        by_rows(predt, xgb.DMatrix(X, y))


def test_lightgbm_reproduces_multiclass(data):
    """A softmax head with LightGBM's own surrogate Hessian K/(K - 1) p (1 - p) reproduces its
    built-in multiclass objective."""
    rng, X, eta = data
    logits = np.stack([eta, -0.3 * X[:, 2], 0.4 * X[:, 3]], 1)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = (rng.random(N)[:, None] > np.cumsum(p, 1)).sum(1).astype(float)
    obj = symlik_lightgbm.objective("categorical", link="softmax", hessian="multiclass", num_class=3)
    init = obj.init_score(y)
    params = {"num_leaves": 8, "learning_rate": 0.3, "num_threads": 1, "deterministic": True, "verbose": -1,
              "seed": 0, "min_data_in_leaf": 20, "min_sum_hessian_in_leaf": 1e-3}
    theirs = lgb.train({**params, "objective": "multiclass", "num_class": 3}, lgb.Dataset(X, y, init_score=init), ROUNDS)
    ours = lgb.train({**params, **obj.params, "objective": obj}, lgb.Dataset(X, y, init_score=init), ROUNDS)
    _close(theirs.predict(X, raw_score=True) + init, ours.predict(X, raw_score=True) + init)
