"""The book, the site and `--out .` all or nothing (issue 17): whatever fails while the book is
built (a figure, pdflatex, Ctrl-C) leaves --out fully old with nothing beside it, and unchanged
figures are still reused; MkDocs builds into a staging directory swapped in only on success; an
output directory that holds the current directory is refused in one line."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from book_fakes import fake_book

from symlik.apps import derivations, output_cache
from symlik.apps.cli import main
from symlik.apps.files import OutputError, check_output_directory, write_all_or_nothing

ROOT = Path(__file__).resolve().parents[1]


def _snapshot(root):
    return {p.relative_to(root): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _fake_book(monkeypatch, fail=None):
    return fake_book(monkeypatch, figures=("normal", "poisson"), fail=fail)


@pytest.fixture
def old_book(tmp_path, monkeypatch):
    """A built book in tmp_path/out, then made recognisably old; the next intro differs, so
    pdflatex must run again."""
    out = tmp_path / "out"
    _fake_book(monkeypatch)
    derivations.build_book(out, files={"normal.md": "old derivation\n"})
    for p in out.rglob("*"):
        if p.is_file() and p.name != derivations.STAMPS:
            p.write_bytes(b"old " + p.name.encode())
    return out


@pytest.mark.parametrize("fail", ["figure", "pdflatex", "ctrl-c"])
def test_a_failure_while_building_the_book_leaves_out_fully_old(old_book, monkeypatch, fail):
    monkeypatch.setattr(derivations.diskcache, "code_hash", lambda: "edited")  # every figure is redrawn
    _, outputs = _fake_book(monkeypatch, fail)
    outputs["sources"]["book/intro.tex"] = "a new intro\n"
    before = _snapshot(old_book)
    with pytest.raises(KeyboardInterrupt if fail == "ctrl-c" else Exception):
        derivations.build_book(old_book, files={"normal.md": "new derivation\n"})
    assert _snapshot(old_book) == before
    assert sorted(p.name for p in old_book.parent.iterdir()) == ["out"]  # no staging directory left


def test_a_failed_pdflatex_names_a_log_that_still_exists(old_book, monkeypatch):
    _, outputs = _fake_book(monkeypatch, "pdflatex")
    outputs["sources"]["book/intro.tex"] = "a new intro\n"
    with pytest.raises(derivations.SymlikError) as info:
        derivations.build_book(old_book)
    log = Path(str(info.value).split("see ")[1].rstrip(")"))
    assert log.read_text() == "! Undefined control sequence.\n"
    assert ".staging-" not in str(info.value)
    log.unlink()


def test_a_successful_book_replaces_out_and_reuses_unchanged_figures(old_book, monkeypatch):
    calls, outputs = _fake_book(monkeypatch)
    outputs["sources"]["book/intro.tex"] = "a new intro\n"
    derivations.build_book(old_book, files={"normal.md": "new derivation\n"})
    assert calls["figures"] == []  # unchanged keys: the old figures were carried into the stage
    assert (old_book / "figures" / "normal.pdf").read_bytes() == b"old normal.pdf"
    assert (old_book / "book" / "intro.tex").read_text() == "a new intro\n"
    assert (old_book / "normal.md").read_text() == "new derivation\n"
    assert (old_book / "symlik.pdf").read_bytes() == b"%PDF-1.5 new" and calls["pdflatex"] == 1
    assert sorted(p.name for p in old_book.parent.iterdir()) == ["out"]


@pytest.mark.parametrize("out", ["/proc/x", "FILE", "."])
def test_the_book_refuses_a_bad_out_in_one_line_before_any_work(out, tmp_path, monkeypatch, capsys):
    if out == "/proc/x" and not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    if out == "FILE":
        out = str(tmp_path / "file")
        (tmp_path / "file").write_text("x")
    monkeypatch.chdir(tmp_path)

    def no_work(*args, **kwargs):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(output_cache, "produce", no_work)
    assert main(["derive", "--all", "--format", "pdf", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symlik: error: --out") and "\n" not in err


@pytest.mark.parametrize("out", [".", ".."])
def test_derive_all_refuses_an_out_that_holds_the_current_directory(out, tmp_path, monkeypatch, capsys):
    (tmp_path / "derivations").mkdir()
    monkeypatch.chdir(tmp_path / "derivations")
    monkeypatch.setattr(output_cache, "produce", lambda *a, **k: pytest.fail("derived before checking --out"))
    assert main(["derive", "--all", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "current directory" in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derivations"]


def test_writing_into_the_current_directory_is_refused_not_half_done(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="current directory"):
        check_output_directory(Path("."))
    with pytest.raises(OutputError, match="current directory"):
        write_all_or_nothing({tmp_path / "a.md": "a\n"})
    assert list(tmp_path.iterdir()) == []


# -- the site ---------------------------------------------------------------------------
def _hooks():
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("symlik_mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(hooks, site_dir, outcome):
    """What `mkdocs build` does with the hooks' staging: startup, config, write, then post_build
    and shutdown (success), build_error (a failure), or shutdown alone (Ctrl-C)."""
    hooks.on_startup(command="build", dirty=False)
    config = {"site_dir": str(site_dir)}
    hooks._stage_site(config)
    assert Path(config["site_dir"]) != site_dir and Path(config["site_dir"]).parent == site_dir.parent
    (Path(config["site_dir"]) / "index.html").write_text("new\n")
    if outcome == "ok":
        hooks.on_post_build(config=config)
    elif outcome == "strict":  # strict mode's warnings abort after post_build
        hooks.on_post_build(config=config)
        hooks.on_build_error(error=RuntimeError("Aborted with 1 warnings in strict mode!"))
    elif outcome == "error":
        hooks.on_build_error(error=RuntimeError("a page failed"))
    hooks.on_shutdown()


@pytest.mark.parametrize("outcome", ["ok", "strict", "error", "ctrl-c"])
def test_the_site_is_swapped_in_only_when_the_build_succeeds(tmp_path, outcome):
    hooks = _hooks()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("old\n")
    (site / "stale.html").write_text("old\n")
    _build(hooks, site, outcome)
    expected = {"index.html": "new\n"} if outcome == "ok" else {"index.html": "old\n", "stale.html": "old\n"}
    assert {p.name: p.read_text() for p in site.iterdir()} == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_the_site_refuses_a_bad_site_dir_before_any_work(tmp_path):
    hooks = _hooks()
    from mkdocs.exceptions import PluginError

    (tmp_path / "file").write_text("x")
    hooks.on_startup(command="build", dirty=False)
    with pytest.raises(PluginError, match="site_dir .* is a file"):
        hooks._stage_site({"site_dir": str(tmp_path / "file")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
