"""The book reuses what has not changed (issue 16): a figure whose key is unchanged is not redrawn,
and pdflatex does not run when no file it reads has changed."""

from __future__ import annotations

from pathlib import Path

from symlik.apps import derivations, output_cache


def _fake_book(monkeypatch, tmp_path):
    calls = {"figures": [], "pdflatex": 0}
    outputs = {"sources": {"symlik.tex": "\\input{book/intro}\n", "book/intro.tex": "intro\n"},
               "figures": {"normal": ["normal", [], None, {}]}}
    monkeypatch.setattr(output_cache, "produce", lambda kind, request, use_cache=True: outputs)

    def draw_all(jobs, workers=None):
        for slug, _, directory in jobs:
            (Path(directory) / f"{slug}.pdf").write_bytes(b"%PDF-1.5 " + slug.encode())
            calls["figures"].append(slug)

    def pdflatex(out):
        calls["pdflatex"] += 1
        (Path(out) / "symlik.pdf").write_bytes(b"%PDF-1.5")
        return Path(out) / "symlik.pdf", ""

    monkeypatch.setattr(derivations, "_draw_all", draw_all)
    monkeypatch.setattr(derivations, "build_pdf", pdflatex)
    return calls, outputs


def test_nothing_changed_nothing_redone(monkeypatch, tmp_path):
    calls, _ = _fake_book(monkeypatch, tmp_path)
    derivations.build_book(tmp_path)
    assert sorted(calls["figures"]) == ["compare", "normal"] and calls["pdflatex"] == 1
    derivations.build_book(tmp_path)
    assert sorted(calls["figures"]) == ["compare", "normal"] and calls["pdflatex"] == 1  # nothing redone


def test_a_changed_chapter_reruns_pdflatex_only(monkeypatch, tmp_path):
    calls, outputs = _fake_book(monkeypatch, tmp_path)
    derivations.build_book(tmp_path)
    outputs["sources"]["book/intro.tex"] = "a new intro\n"
    derivations.build_book(tmp_path)
    assert calls["pdflatex"] == 2 and len(calls["figures"]) == 2


def test_a_missing_figure_or_a_code_change_redraws(monkeypatch, tmp_path):
    calls, _ = _fake_book(monkeypatch, tmp_path)
    derivations.build_book(tmp_path)
    (tmp_path / "figures" / "normal.pdf").unlink()
    derivations.build_book(tmp_path)
    assert calls["figures"][2:] == ["normal"]
    monkeypatch.setattr(derivations.diskcache, "code_hash", lambda: "edited")
    derivations.build_book(tmp_path)
    assert sorted(calls["figures"][3:]) == ["compare", "normal"]


def test_no_cache_redoes_everything(monkeypatch, tmp_path):
    calls, _ = _fake_book(monkeypatch, tmp_path)
    derivations.build_book(tmp_path)
    derivations.build_book(tmp_path, use_cache=False)
    assert len(calls["figures"]) == 4 and calls["pdflatex"] == 2
