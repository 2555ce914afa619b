"""Compile once: the kernel cache in memory and on disk, and what a warm start imports."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symlik
from symlik.compiler import cache

ROOT = Path(__file__).resolve().parent.parent
SEED = """
import json, sys
import numpy as np
import symlik
x = np.array([0.0, 1.0, -2.0]); y = np.array([0.5, 1.0, 1.0])
L = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
out = [
    float(symlik.compile("normal")(x, y)),
    float(symlik.compile("laplace")(x, y)),
    float(symlik.compile("bernoulli", link="logit")(x, np.array([0, 1, 1]))),
    float(symlik.compile("categorical", link="softmax")(L, np.array([2, 1]))),
]
print(json.dumps({"values": out, "modules": sorted(m for m in sys.modules if m.split(".")[0] in
      ("sympy", "scipy", "numba", "torch", "jax", "dask", "cupy", "mpmath"))}))
"""


def _python(code, cache_dir, **env):
    env = {**os.environ, "SYMLIK_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_symlik_alone_imports_no_heavy_library(tmp_path):
    code = ("import json, sys, symlik; print(json.dumps({'modules': sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sympy', 'scipy', 'numba', 'torch', 'jax', 'dask', 'cupy', 'mpmath', 'numpy'))}))")
    assert _python(code, tmp_path)["modules"] == []


def test_warm_cache_compiles_and_runs_the_seed_losses_without_sympy(tmp_path):
    cold = _python(SEED, tmp_path)
    assert "sympy" in cold["modules"]  # the first process derived
    warm = _python(SEED, tmp_path)
    assert warm["modules"] == []  # no sympy, scipy or optional backend
    x, y = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 1.0])
    labels = np.array([0, 1, 1])
    L = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    want = [
        np.mean((y - x) ** 2),
        np.mean(np.abs(y - x)),
        np.mean(labels * np.logaddexp(0, -x) + (1 - labels) * np.logaddexp(0, x)),
        np.mean(np.log(np.exp(L).sum(-1)) - L[[0, 1], [2, 1]]),
    ]
    np.testing.assert_allclose(warm["values"], want, rtol=1e-14)
    np.testing.assert_allclose(cold["values"], want, rtol=1e-14)


def test_cache_directory_is_private_and_holds_source_not_pickles(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path))
    cache.clear()
    k = symlik.compile("laplace", reduction="sum")
    folder = cache.directory()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    entries = list(folder.iterdir())
    assert entries and all(p.suffix == ".json" for p in entries)
    entry = json.loads(entries[0].read_text())
    assert entry["source"] == k.source and "def dense" in entry["source"]
    assert stat.S_IMODE(entries[0].stat().st_mode) & 0o077 == 0


def test_memory_cache_skips_the_derivation(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path))
    cache.clear()
    symlik.compile("normal")
    import symlik.compiler.plan as plan

    monkeypatch.setattr(plan, "make_plan", lambda *a, **k: pytest.fail("derived again"))
    k = symlik.compile("normal")
    assert k(np.zeros(2), np.ones(2)) == 1.0
    assert k.derivation.loss.name == "mse"  # derived lazily when asked for


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_directory_others_can_write_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path))
    cache.clear()
    k = symlik.compile("normal", reduction="sum")
    folder = cache.directory()
    entry = next(folder.iterdir())
    # Someone else's code in a world-writable cache must never run.
    data = json.loads(entry.read_text())
    data["source"] = data["source"].replace("return", "return 12345.0 + 0 *")
    entry.write_text(json.dumps(data))
    folder.chmod(0o777)
    cache.clear()
    try:
        assert cache.directory() is None
        assert symlik.compile("normal", reduction="sum")(np.zeros(2), np.ones(2)) == 2.0
    finally:
        folder.chmod(0o700)
    del k


def test_corrupt_entries_are_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path))
    cache.clear()
    symlik.compile("laplace")
    for entry in cache.directory().iterdir():
        entry.write_text("{not json")
    cache.clear()
    assert symlik.compile("laplace")(np.zeros(2), np.ones(2)) == 1.0


def test_keys_differ_by_request_and_custom_densities_are_not_disk_cached():
    a = cache.request_of("normal", target="loss", backend="numpy", reduction="mean", fixed=None, predict=None, link=None, options=None)
    b = cache.request_of("normal", target="nll", backend="numpy", reduction="mean", fixed=None, predict=None, link=None, options=None)
    assert cache.key_of(a) != cache.key_of(b)
    import sympy as sp

    y, m = sp.symbols("y m", real=True)
    spec = symlik.custom("mine", density=sp.exp(-(y - m) ** 2 / 2) / sp.sqrt(2 * sp.pi), observed=y, params={m: "real"})
    assert cache.request_of(spec, target="loss") is None
    assert symlik.compile(spec, predict=("m",))(np.zeros(2), np.ones(2)) == 1.0


INFORMATION = """
import json, sys
import numpy as np
import symlik
mu = np.array([0.0, 1.0]); sigma = np.array([1.0, 2.0]); y = np.array([0.5, -1.0])
k = symlik.compile("normal", predict=("mu", "sigma"), target="fisher", reduction="none")
s = symlik.compile("normal", target="score", reduction="none")
print(json.dumps({"fisher": k(mu, sigma).tolist(), "score": s(mu, y, sigma).tolist(), "repr": repr(k),
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("sympy", "scipy", "mpmath"))}))
"""


def test_information_targets_are_cached_like_losses(tmp_path):
    cold = _python(INFORMATION, tmp_path)
    assert "sympy" in cold["modules"]
    warm = _python(INFORMATION, tmp_path)  # a fresh process: a disk-cache hit, no derivation
    assert warm["modules"] == []
    sigma = np.array([1.0, 2.0])
    want = np.zeros((2, 2, 2))
    want[:, 0, 0], want[:, 1, 1] = 1 / sigma**2, 2 / sigma**2  # the normal's Fisher information in (mu, sigma)
    np.testing.assert_allclose(warm["fisher"], want, rtol=1e-15)
    np.testing.assert_allclose(warm["score"], (np.array([0.5, -1.0]) - [0.0, 1.0]) / sigma**2, rtol=1e-15)
    assert warm == {**cold, "modules": []}
