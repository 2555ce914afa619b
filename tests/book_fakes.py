"""build_book with its chapters, figures and pdflatex replaced by cheap stand-ins, for the tests of
what the book reuses (test_book_reuse) and of its all-or-nothing output (test_output_staging)."""

from __future__ import annotations

from pathlib import Path

from symlik.apps import derivations, output_cache


def fake_book(monkeypatch, figures=("normal",), fail=None):
    """Returns (calls, outputs): calls counts the figures drawn and the pdflatex runs; outputs are the
    chapters, served as if cached (a test edits them to stand for a change). ``fail`` names the step
    that raises: ``figure`` after one figure is drawn, ``pdflatex``, ``ctrl-c``."""
    calls = {"figures": [], "pdflatex": 0}
    outputs = {"sources": {"symlik.tex": "\\input{book/intro}\n", "book/intro.tex": "intro\n"},
               "figures": {slug: [slug, [], None, {}] for slug in figures}}
    monkeypatch.setattr(output_cache, "produce", lambda kind, request, use_cache=True: outputs)

    def draw_all(jobs, workers=None):
        for slug, _, directory in jobs:
            (Path(directory) / f"{slug}.pdf").write_bytes(b"%PDF-1.5 new " + slug.encode())
            calls["figures"].append(slug)
            if fail == "figure":
                raise RuntimeError("matplotlib failed")

    def pdflatex(out):
        calls["pdflatex"] += 1
        (Path(out) / "symlik.log").write_text("! Undefined control sequence.\n")
        if fail == "pdflatex":
            raise derivations.SymlikError(f"pdflatex failed (see {Path(out) / 'symlik.log'})")
        if fail == "ctrl-c":
            raise KeyboardInterrupt
        (Path(out) / "symlik.pdf").write_bytes(b"%PDF-1.5 new")
        return Path(out) / "symlik.pdf", ""

    def chapters(request=None, workers=None, figures_into=None):  # not cached: each chapter draws its figures
        draw_all([(slug, combo, str(figures_into)) for slug, combo in outputs["figures"].items()])
        return outputs

    monkeypatch.setattr(derivations, "_draw_all", draw_all)
    monkeypatch.setattr(derivations, "build_pdf", pdflatex)
    monkeypatch.setattr(output_cache, "load", lambda kind, request: outputs if kind == "book" else None)
    monkeypatch.setattr(derivations, "book_outputs", chapters)
    return calls, outputs
