"""Dask arrays give lazy results that match the NumPy kernel, on a dask.distributed cluster."""

import numpy as np
import pytest

import symlik

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_losses_over_chunked_arrays_on_a_local_cluster(client):
    rng = np.random.default_rng(0)
    mu, y = rng.normal(size=1000), rng.normal(size=1000)
    L, c = rng.normal(size=(600, 5)), rng.integers(0, 5, 600)
    k = symlik.compile("normal")
    lazy = k(da.from_array(mu, chunks=256), da.from_array(y, chunks=256))
    assert isinstance(lazy, da.Array)  # nothing computed yet
    np.testing.assert_allclose(lazy.compute(), np.mean((y - mu) ** 2), rtol=1e-13)
    kc = symlik.compile("categorical", link="softmax")
    lazy = kc(da.from_array(L, chunks=(128, 2)), da.from_array(c, chunks=128))  # the class axis is split: rejoined
    np.testing.assert_allclose(lazy.compute(), kc(L, c), rtol=1e-13)
    kn = symlik.compile("normal", target="nll", reduction="none")
    lazy = kn(da.from_array(mu, chunks=300), y, 2.0)  # mixed dask / NumPy / scalar inputs
    assert lazy.shape == (1000,)
    from scipy import stats

    np.testing.assert_allclose(lazy.compute(), -stats.norm.logpdf(y, mu, 2.0), rtol=1e-13)


def test_fused_backend_runs_per_block(client):
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    z, labels = rng.normal(size=2000), (rng.random(2000) < 0.5).astype(float)
    k = symlik.compile("bernoulli", link="logit", backend="fused")
    got = k(da.from_array(z, chunks=500), da.from_array(labels, chunks=500)).compute()
    np.testing.assert_allclose(got, np.mean(labels * np.logaddexp(0, -z) + (1 - labels) * np.logaddexp(0, z)), rtol=1e-13)


def test_bad_values_raise_when_computed(client):
    k = symlik.compile("normal", target="nll")
    lazy = k(da.from_array(np.zeros(10), chunks=5), np.zeros(10), -1.0)
    with pytest.raises(symlik.ConstraintError, match="sigma must be > 0"):
        lazy.compute()


def test_kernels_pickle_by_request_for_process_workers():
    import pickle

    k = symlik.compile("bernoulli", link="logit", reduction="sum")
    k2 = pickle.loads(pickle.dumps(k))
    z, y = np.array([0.0, 2.0]), np.array([1.0, 0.0])
    assert k2.reduction == "sum" and k2(z, y) == k(z, y)
