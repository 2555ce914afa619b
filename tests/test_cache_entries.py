"""A kernel cache that checks what it runs (issue 17): any entry that is unreadable, of the
wrong shape, nested too deeply, or whose source does not match its stored hash is discarded
and rebuilt; the kernel then agrees with the closed form of the normal NLL."""

import json
import os

import numpy as np
import pytest

import symlik
from symlik.compiler import cache

MU, Y = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, -3.0])
SIGMA = 2.0


def closed_form():
    # -log N(y | mu, sigma): written by hand, the oracle
    return 0.5 * ((Y - MU) / SIGMA) ** 2 + np.log(SIGMA) + 0.5 * np.log(2 * np.pi)


def compile_normal():
    return symlik.compile("normal", target="nll", fixed={"sigma": SIGMA}, reduction="none")


@pytest.fixture
def entry(tmp_path, monkeypatch):
    """The one disk entry of compile_normal(), in a private cache."""
    base = tmp_path / "cache"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(base))
    monkeypatch.delenv("SYMLIK_DISK_CACHE", raising=False)
    cache.clear(memory=True)
    compile_normal()
    (path,) = cache.directory().glob("*.json")
    cache.clear(memory=True)
    yield path
    cache.clear(memory=True)


def _valid(path):
    value = json.loads(path.read_text())
    return isinstance(value, dict) and "hash" in value and isinstance(value["source"], str)


def _rewrite(path, text):
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    os.chmod(path, 0o600)


def _broken(original: dict):
    key = original["key"]
    with_hash = lambda source, meta: {"key": key, "source": source, "meta": meta,  # noqa: E731
                                      "hash": cache._entry_hash(key, source, meta)}
    return {
        "not json": "{",
        "not utf-8": b"\xff\xfe{}",
        "a list": "[]",
        "a number": "7",
        "no source": json.dumps({"key": key, "meta": original["meta"]}),
        "source not text": json.dumps({**original, "source": 1}),
        "meta not a dict": json.dumps({**original, "meta": [1]}),
        "deeply nested": "[" * 200_000 + "]" * 200_000,
        "nested meta": json.dumps({**original, "meta": {"a": [[[[[[]]]]]]}}),
        # a correct hash does not make unusable content usable: it fails to load and is rebuilt
        "source that does not compile": json.dumps(with_hash("def dense(:\n", original["meta"])),
        "meta without its fields": json.dumps(with_hash(original["source"], {"x": 1})),
        # tampered: the source changed, the stored hash did not
        "tampered source": json.dumps({**original, "source": "def dense(*a, **k):\n    return 42.0\n"}),
        "no hash (format 1)": json.dumps({k: v for k, v in original.items() if k != "hash"}),
    }


@pytest.mark.parametrize("case", list(_broken({"key": "k", "source": "", "meta": {}})))
def test_a_bad_entry_is_discarded_and_rebuilt(entry, case):
    original = json.loads(entry.read_text())
    _rewrite(entry, _broken(original)[case])
    k = compile_normal()
    np.testing.assert_allclose(k(MU, Y), closed_form(), rtol=1e-12)
    assert _valid(entry)  # rebuilt in place
    cache.clear(memory=True)
    np.testing.assert_allclose(compile_normal()(MU, Y), closed_form(), rtol=1e-12)  # and served from disk


def test_a_good_entry_is_served_from_disk(entry):
    before = entry.stat().st_mtime_ns
    np.testing.assert_allclose(compile_normal()(MU, Y), closed_form(), rtol=1e-12)
    assert entry.stat().st_mtime_ns == before


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="no ownership on this platform")
def test_a_cache_whose_parent_others_can_write_is_not_used(entry):
    base = entry.parent.parent
    base.chmod(0o777)
    try:
        assert cache.directory() is None
        _rewrite(entry, json.dumps({**json.loads(entry.read_text()), "source": "def dense(*a):\n    return 42.0\n"}))
        np.testing.assert_allclose(compile_normal()(MU, Y), closed_form(), rtol=1e-12)
    finally:
        base.chmod(0o700)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="no ownership on this platform")
def test_an_entry_others_can_write_is_not_read(entry):
    entry.chmod(0o666)
    assert cache.load(json.loads(entry.read_text())["key"]) is None
