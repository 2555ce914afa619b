"""symlik's objective in xgboost.dask on a dask.distributed LocalCluster: the trees it grows
match those of the single-process xgboost.train with the same objective and data."""

from __future__ import annotations

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")
pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
xgb_dask = pytest.importorskip("xgboost.dask")
import symlik.xgboost as symlik_xgboost  # noqa: E402 - after the skips


@pytest.mark.slow
@pytest.mark.parametrize("n_workers", [1, 2])
def test_xgboost_dask_matches_single_process(n_workers):
    import dask.array as da

    rng = np.random.default_rng(3)
    n = 4000
    # Fewer distinct feature values than bins: the histogram cuts are then every value, whether
    # sketched on one machine or merged across workers, so both grow the same trees.
    X = np.round(rng.normal(size=(n, 4)), 1)
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2)).astype(float)
    obj = symlik_xgboost.objective("negative_binomial", predict=("n", "p"), link={"n": "log", "p": "logit"})
    margin = obj.base_margin(y)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "seed": 0, "max_delta_step": 0.0, "nthread": 1,
              **obj.params}
    single = xgb.train(params, xgb.DMatrix(X, y, base_margin=margin), 10, obj=obj)
    expected = single.predict(xgb.DMatrix(X, base_margin=margin), output_margin=True)

    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        chunks = n // n_workers
        dX, dy = da.from_array(X, chunks=(chunks, 4)), da.from_array(y, chunks=chunks)
        dmargin = da.from_array(margin, chunks=(chunks, margin.shape[1]))
        dtrain = xgb_dask.DaskDMatrix(client, dX, dy, base_margin=dmargin)
        booster = xgb_dask.train(client, params, dtrain, 10, obj=obj)["booster"]
    got = booster.predict(xgb.DMatrix(X, base_margin=margin), output_margin=True)
    # Both are float32 margins; the histograms are all-reduced across workers, so the splits agree
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
