"""The book reuses what has not changed (issue 16): a figure whose key is unchanged is not redrawn,
and pdflatex does not run when no file it reads has changed."""

from __future__ import annotations

from book_fakes import fake_book

from symlik.apps import derivations


def _fake_book(monkeypatch, tmp_path):
    return fake_book(monkeypatch, figures=("normal",))


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


def test_the_one_pool_build_has_every_derivation_once_and_a_chapter_per_distribution():
    # derive --all --format pdf, cold, runs derivations/ and the chapters in one pool, a distribution
    # per task: it must hold exactly the tasks of derive --all, plus one chapter per distribution
    # that names that distribution's variants and where to draw their figures.
    from symlik.apps.catalog import combinations

    apart = [task for unit in derivations.work_units() for task in unit]
    together = [task for unit in derivations.work_units("figs", with_chapters=True) for task in unit]
    assert sorted(map(repr, apart)) == sorted(repr(t) for t in together if t[0] != "chapter")
    chapters = [args for section, _, args in together if section == "chapter"]
    expected = {}
    for combo in combinations():
        expected.setdefault(combo[0], []).append(combo)
    assert {name: combos for name, combos, _ in chapters} == expected
    assert {into for _, _, into in chapters} == {"figs"}
    for unit in derivations.work_units("figs", with_chapters=True):
        names = {args[0] for section, _, args in unit if section in ("catalog", "chapter")}
        assert len(names) <= 1  # a unit never mixes distributions: its derivations serve its chapter
