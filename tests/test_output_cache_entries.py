"""The output cache discards what it cannot use (issue 17): an entry that is valid JSON of the
wrong shape, names a file outside the output directory, or is nested too deeply is thrown away
and computed again (no KeyError, TypeError or RecursionError), as the kernel cache does."""

from __future__ import annotations

import json
import os

import pytest

from symlik.apps import output_cache

# Stand-in producers (named in output_cache.PRODUCERS by this module's name): what they return
# is written here by hand, so a served value can be told from a recomputed one.
CALLS: list[str] = []
LISTING = "name  parameters\nnormal  mu, sigma\n"
ALL = {"files": {"normal.md": "# Normal\n", "index.md": "| normal |\n"},
       "rows": [["distribution", "loss"], ["normal", "mse"]]}
BOOK = {"sources": {"symlik.tex": "\\input{book/intro}\n", "book/intro.tex": "intro\n"},
        "figures": {"normal": ["normal", ["mu"], None, {}], "diag_normal": ["diag_normal", [], None, {"sigma": "per_dim"}]}}


def produce_listing(request):
    CALLS.append("list")
    return LISTING


def produce_all(request):
    CALLS.append("derive --all")
    return ALL


def produce_book(request):
    CALLS.append("book")
    return BOOK


GOOD = {"list": LISTING, "derive --all": ALL, "book": BOOK}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    base = tmp_path / "cache"
    base.mkdir(mode=0o700)
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(base))
    monkeypatch.delenv("SYMLIK_NO_CACHE", raising=False)
    for kind, function in (("list", "produce_listing"), ("derive --all", "produce_all"), ("book", "produce_book")):
        monkeypatch.setitem(output_cache.PRODUCERS, kind, (__name__, function))
    CALLS.clear()
    return output_cache.directory()


def _entry_path(kind):
    return output_cache.directory() / f"{output_cache.key_of(kind, {})}.json"


def _write(kind, text):
    path = _entry_path(kind)
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    os.chmod(path, 0o600)


def _entry(kind, value):
    return json.dumps({"key": output_cache.key_of(kind, {}), "value": value})


BROKEN = {
    # every kind
    "not json": ("list", "{"),
    "not utf-8": ("list", b"\xff\xfe{}"),
    "a list": ("list", "[]"),
    "no value": ("list", json.dumps({"key": "set below"})),
    "another key": ("list", json.dumps({"key": "0" * 64, "value": LISTING})),
    "deeply nested entry": ("derive --all", "[" * 200_000 + "]" * 200_000),
    "deeply nested value": ("derive --all", '{"key": "K", "value": ' + "[" * 900 + "]" * 900 + "}"),
    # `symlik list` / `symlik derive NAME`: text
    "listing not text": ("list", _entry("list", ["normal"])),
    # `symlik derive --all`
    "all: a string": ("derive --all", _entry("derive --all", "files")),
    "all: no files": ("derive --all", _entry("derive --all", {"rows": ALL["rows"]})),
    "all: no rows": ("derive --all", _entry("derive --all", {"files": ALL["files"]})),
    "all: files a list": ("derive --all", _entry("derive --all", {**ALL, "files": [["a.md", "x"]]})),
    "all: file text a number": ("derive --all", _entry("derive --all", {**ALL, "files": {"a.md": 1}})),
    "all: rows of numbers": ("derive --all", _entry("derive --all", {**ALL, "rows": [[1, 2]]})),
    "all: a row not a list": ("derive --all", _entry("derive --all", {**ALL, "rows": ["normal"]})),
    "all: a name above --out": ("derive --all", _entry("derive --all", {**ALL, "files": {"../escape.md": "x"}})),
    "all: an absolute name": ("derive --all", _entry("derive --all", {**ALL, "files": {"/tmp/escape.md": "x"}})),
    "all: a nested value in a file": ("derive --all", _entry("derive --all", {**ALL, "files": {"a.md": [[["x"]]]}})),
    # the book
    "book: no figures": ("book", _entry("book", {"sources": BOOK["sources"]})),
    "book: sources a string": ("book", _entry("book", {**BOOK, "sources": "symlik.tex"})),
    "book: a figure of 3 fields": ("book", _entry("book", {**BOOK, "figures": {"normal": ["normal", [], None]}})),
    "book: predict not a list": ("book", _entry("book", {**BOOK, "figures": {"normal": ["normal", "mu", None, {}]}})),
    "book: options a list": ("book", _entry("book", {**BOOK, "figures": {"normal": ["normal", [], None, []]}})),
    "book: a figure slug with a slash": ("book", _entry("book", {**BOOK, "figures": {"../x": BOOK["figures"]["normal"]}})),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_bad_entry_is_discarded_and_computed_again(cache, case):
    kind, text = BROKEN[case]
    _write(kind, text.replace('"K"', json.dumps(output_cache.key_of(kind, {})))
           .replace('"set below"', json.dumps(output_cache.key_of(kind, {}))) if isinstance(text, str) else text)
    assert output_cache.load(kind, {}) is None
    assert not _entry_path(kind).exists()  # discarded, not left to fail every later run
    assert output_cache.produce(kind, {}) == GOOD[kind]
    assert CALLS == [kind]
    assert output_cache.produce(kind, {}) == GOOD[kind] and CALLS == [kind]  # stored again, and served


@pytest.mark.parametrize("kind", list(GOOD))
def test_a_good_entry_is_served(cache, kind):
    _write(kind, _entry(kind, GOOD[kind]))
    assert output_cache.produce(kind, {}) == GOOD[kind] and CALLS == []


def test_derive_all_recovers_from_a_wrong_shape_entry(cache, tmp_path, capsys):
    from symlik.apps.cli import main

    _write("derive --all", _entry("derive --all", {"files": ALL["files"]}))  # no rows: KeyError before
    assert main(["derive", "--all", "--out", str(tmp_path / "out")]) == 0
    assert {p.name: p.read_text() for p in (tmp_path / "out").iterdir()} == ALL["files"]
    assert "mse" in capsys.readouterr().out
