"""derivations/: every derivation of the catalog rendered as LaTeX and Markdown, with an index.

``symlik derive --all`` writes what ``all_outputs`` returns. The work is split into
units (one catalog derivation, one explained derivation, or the KL/VAE documents),
rendered in worker processes on every core the process may use; the files and the
index come out in the same order, byte for byte, whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sympy as sp

from symlik.analysis.divergence import catalog_pairs
from symlik.apps.book import FIGURE_DIR, MASTER, book_figures, book_sources, build_pdf, master_tex
from symlik.apps.catalog import all_derivations, combinations
from symlik.apps.files import write_all_or_nothing
from symlik.derivation import derive
from symlik.derivation.vae import DECODERS, vae_document
from symlik.model.distributions import names

# Derivations rendered with their extra steps (symlik.analysis.information, symlik.analysis.baseline):
# (name, predict, link), each kept when the distribution is in the catalog.
EXPLAINED = (
    ("normal", None, None),
    ("normal", ("mu", "sigma"), None),
    ("laplace", None, None),
    ("bernoulli", None, None),
    ("bernoulli", None, "logit"),
    ("categorical", None, "softmax"),
    ("poisson", None, None),
    ("poisson", None, "log"),
)
SUMMARY_HEADER = ("distribution", "predict", "link", "loss", "scale")


def _one_line(expr) -> str:
    """An expression for a Markdown table cell: one line, pipes escaped."""
    if expr is None:
        return "-"
    text = sp.sstr(expr.tolist() if isinstance(expr, sp.MatrixBase) else expr)
    return " ".join(text.split()).replace("|", r"\|")


def explained_derivations():
    available = set(names())
    for name, predict, link in EXPLAINED:
        if name in available:
            yield derive(name, predict=predict, link=link).explained()


def documents():
    """The worked derivations that are not losses: KL divergences and the VAE objective."""
    yield from catalog_pairs()
    for decoder in DECODERS:
        yield vae_document(decoder)


# -- the units of work ---------------------------------------------------------------
# A unit is (kind, arguments), plain data a worker process receives; render_unit returns,
# as plain data, the pieces it adds: {"files": {name: text}, "index_md": line,
# "index_tex": line}, plus the summary "row" and the book "chapter" of a catalog derivation.


def work_units() -> list[tuple]:
    available = set(names())
    units = [("catalog", combination) for combination in combinations()]
    units += [("explained", entry) for entry in EXPLAINED if entry[0] in available]
    units.append(("documents", None))
    return units


def _files(slug: str, rendered) -> dict[str, str]:
    return {f"{slug}.tex": rendered.to_latex(), f"{slug}.md": rendered.to_markdown()}


def _catalog_piece(name, predict, link, options) -> dict:
    d = derive(name, predict=predict, link=link, options=options or None)
    loss = d.loss.name or "(own NLL)"
    row = (d.spec.label, ", ".join(d.predict), d.link or "-", loss, sp.sstr(d.scale))
    return {"files": _files(d.slug, d), "row": row, "chapter": d.spec.name,
            "index_md": f"| {' | '.join(row)} | [md]({d.slug}.md), [tex]({d.slug}.tex) |",
            "index_tex": r"\input{%s}" % d.slug}


def _explained_piece(name, predict, link) -> dict:
    d = derive(name, predict=predict, link=link).explained()
    slug = f"{d.slug}-explained"
    fisher = next((s.expr for s in d.steps if s.title == "The Fisher information"), None)
    best = next((s.expr for s in d.steps if s.title == "The best constant prediction"), None)
    cells = [_one_line(x) for x in (fisher, best)]
    label = f"{d.spec.label} ({', '.join(d.predict)}{', ' + d.link if d.link else ''})"
    return {"files": _files(slug, d),
            "index_md": f"| {label} | `{cells[0]}` | `{cells[1]}` | [md]({slug}.md), [tex]({slug}.tex) |",
            "index_tex": r"\input{%s}" % slug}


def _document_piece(doc) -> dict:
    return {"files": _files(doc.slug, doc),
            "index_md": f"| {doc.title} | `{_one_line(doc.result)}` | [md]({doc.slug}.md), [tex]({doc.slug}.tex) |",
            "index_tex": r"\input{%s}" % doc.slug}


def render_unit(unit: tuple) -> list[dict]:
    kind, arguments = unit
    if kind == "catalog":
        return [_catalog_piece(*arguments)]
    if kind == "explained":
        return [_explained_piece(*arguments)]
    return [_document_piece(doc) for doc in documents()]


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def render_units(units: list[tuple], workers: int | None = None) -> list[list[dict]]:
    """render_unit of each unit, in the order given; in ``workers`` processes (default: one per core)."""
    workers = min(workers or _usable_cores(), len(units))
    if workers <= 1:
        return [render_unit(u) for u in units]
    # "spawn" starts a fresh interpreter on every platform (fork is unsafe on macOS). The
    # slowest unit (the documents) goes first, so no worker is left with it at the end.
    order = sorted(range(len(units)), key=lambda i: units[i][0] != "documents")
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {i: pool.submit(render_unit, units[i]) for i in order}
        return [futures[i].result() for i in range(len(units))]


def all_outputs(request: dict | None = None, workers: int | None = None) -> dict:
    """What `symlik derive --all` writes and prints: {"files": {name: text}, "rows": summary rows}."""
    units = work_units()
    pieces: dict[str, list[dict]] = {"catalog": [], "explained": [], "documents": []}
    for (kind, _), rendered in zip(units, render_units(units, workers)):
        pieces[kind] += rendered
    files: dict[str, str] = {}
    index_md = ["# symlik derivations", "", "Generated by `symlik derive --all`; do not edit by hand.", ""]
    index_md += ["| distribution | predict | link | loss | scale | files |", "|---|---|---|---|---|---|"]
    index_tex = ["% Generated by `symlik derive --all`; do not edit by hand."]
    sections = {
        "catalog": [],
        "explained": ["", "## Beyond the loss: score, Fisher information, best constant", "",
                      "| derivation | Fisher information | best constant | files |", "|---|---|---|---|"],
        "documents": ["", "## KL divergences and the VAE objective", "", "| derivation | result | files |",
                      "|---|---|---|"],
    }
    for kind, heading in sections.items():
        index_md += heading
        for piece in pieces[kind]:
            files.update(piece["files"])
            index_md.append(piece["index_md"])
            index_tex.append(piece["index_tex"])
    files["index.md"] = "\n".join(index_md) + "\n"
    files["index.tex"] = "\n".join(index_tex) + "\n"
    chapters = list(dict.fromkeys(piece["chapter"] for piece in pieces["catalog"]))  # in catalog order
    files[MASTER] = master_tex(chapters)
    rows = [list(SUMMARY_HEADER)] + [list(piece["row"]) for piece in pieces["catalog"]]
    return {"files": files, "rows": rows}


def derive_all_files(out: Path, workers: int | None = None) -> tuple[dict[Path, str], list[list[str]]]:
    """Every derivation rendered, plus an index, as {out/name: text}; and the summary rows."""
    outputs = all_outputs(workers=workers)
    return {out / name: text for name, text in outputs["files"].items()}, outputs["rows"]


def build_book(out: Path) -> Path:
    """The chapters and figures of the book, then pdflatex: ``out/symlik.pdf``."""
    derivations = list(all_derivations())
    write_all_or_nothing({out / rel: text for rel, text in book_sources(derivations).items()})
    (out / FIGURE_DIR).mkdir(parents=True, exist_ok=True)
    book_figures(derivations, out / FIGURE_DIR)
    pdf, _ = build_pdf(out)
    return pdf
