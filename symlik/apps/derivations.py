"""derivations/: every derivation of the catalog rendered as LaTeX and Markdown, with an index.

``symlik derive --all`` writes what ``all_outputs`` returns. The work is split into
units (a catalog derivation with its explained form, if any; or the KL/VAE documents),
rendered in worker processes on every core the process may use; the files and the
index come out in the same order, byte for byte, whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import sympy as sp

from symlik.analysis.divergence import catalog_pairs
import symlik
from symlik.apps import output_cache
from symlik.apps.book import (BOOK_DIR, FIGURE_DIR, MASTER, build_pdf, catalog_row_tex, chapter_tex,
                              derivations_master_tex, draw_compare_figure, draw_loss_figure, intro_tex, master_tex)
from symlik.apps.catalog import combinations
from symlik.apps.files import check_output_directory, staged_directory, write_into
from symlik.apps.progress import progress
from symlik.core import diskcache
from symlik.core.errors import SymlikError
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
# derivations/ has three sections: the catalog, the explained derivations, the documents.
# A task is (section, position in it, arguments); a unit is the tasks one worker process
# does together, as plain data. An explained derivation rides with the catalog derivation
# it extends, so the worker derives once. render_unit returns, for each task, (section,
# position, piece) with piece = {"files": {name: text}, "index_md": line, "index_tex": line}
# plus, for the catalog, the summary "row" and the book "chapter".
SECTIONS = ("catalog", "explained", "documents")


def work_units(chapters_into: str | None = None, with_chapters: bool = False) -> list[list[tuple]]:
    """The units of `derive --all`. ``with_chapters``: one unit per distribution, which also
    writes its book chapter and draws its figures into ``chapters_into`` (the derivations are
    made once, for both; see ``derivations_and_book``)."""
    available = set(names())
    explained = {entry: i for i, entry in enumerate(EXPLAINED) if entry[0] in available}
    units = [[("documents", 0, None)]]  # the slowest unit first, so no worker is left with it at the end
    by_name: dict[str, list] = {}
    for i, (name, predict, link, options) in enumerate(combinations()):
        unit = [("catalog", i, (name, predict, link, options))]
        extends = (name, predict, link)
        if not options and extends in explained:
            unit.append(("explained", explained.pop(extends), extends))
        if with_chapters:
            by_name.setdefault(name, []).extend(unit)
        else:
            units.append(unit)
    if with_chapters:
        grouped = []
        for k, (name, combos) in enumerate(_by_name().items()):
            grouped.append(by_name[name] + [("chapter", k, (name, combos, chapters_into))])
        units += sorted(grouped, key=lambda unit: -len(unit))  # the most variants first
    units += [[("explained", i, entry)] for entry, i in explained.items()]
    return units


def _by_name() -> dict[str, list]:
    """The catalog's combinations by distribution, in catalog order: a chapter of the book each."""
    by_name: dict[str, list] = {}
    for combo in combinations():
        by_name.setdefault(combo[0], []).append(combo)
    return by_name


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


def render_unit(unit: list[tuple]) -> list[tuple]:
    out = []
    for section, position, arguments in unit:
        if section == "catalog":
            out.append((section, position, _catalog_piece(*arguments)))
        elif section == "explained":
            out.append((section, position, _explained_piece(*arguments)))
        elif section == "chapter":
            out.append((section, position, _chapter(arguments)))
        else:
            out += [(section, i, _document_piece(doc)) for i, doc in enumerate(documents())]
    return out


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _start_method() -> str:
    # fork starts a worker with what this process has imported (SymPy, the catalog) at no
    # cost; it is safe on Linux while this process runs a single thread (as the CLI does). On
    # macOS and Windows fork is unsafe or missing: spawn starts a fresh interpreter there.
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _unit_name(unit: list[tuple]) -> str:
    section, _, arguments = unit[0]
    if section == "documents":
        return "KL divergences and the VAE"
    if unit[-1][0] == "chapter":
        return f"{arguments[0]} (and its chapter)"
    name, predict, link = arguments[:3]
    return " ".join([name, *(predict or ()), *([link] if link else [])])


def render_units(units: list[list[tuple]], workers: int | None = None) -> list[tuple]:
    """Every (section, position, piece) of ``units``; in ``workers`` processes (default: one per core).
    Each finished unit is reported on stderr (symlik.apps.progress)."""
    workers = min(workers or _usable_cores(), len(units))
    done: dict[int, list[tuple]] = {}
    with progress("derive --all", len(units)) as report:
        if workers <= 1:
            for i, unit in enumerate(units):
                done[i] = render_unit(unit)
                report.advance(_unit_name(unit))
        else:
            context = multiprocessing.get_context(_start_method())
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(render_unit, unit): i for i, unit in enumerate(units)}
                for future in as_completed(futures):
                    done[futures[future]] = future.result()
                    report.advance(_unit_name(units[futures[future]]))
    return [piece for i in range(len(units)) for piece in done[i]]


def all_outputs(request: dict | None = None, workers: int | None = None) -> dict:
    """What `symlik derive --all` writes and prints: {"files": {name: text}, "rows": summary rows}."""
    return _assemble_all(render_units(work_units(), workers))


def derivations_and_book(figures_into: Path, workers: int | None = None) -> tuple[dict, dict]:
    """`derive --all`'s outputs and the book's (``book_outputs``), in one pool: each distribution's
    task derives its variants once for its files, its chapter and its figures (drawn into
    ``figures_into``). Separately, the chapters derived everything a second time."""
    pieces = render_units(work_units(str(figures_into), with_chapters=True), workers)
    chapters = {piece["name"]: piece for section, _, piece in pieces if section == "chapter"}
    return _assemble_all([p for p in pieces if p[0] != "chapter"]), _assemble_book(_by_name(), chapters)


def _assemble_all(rendered: list[tuple]) -> dict:
    pieces: dict[str, list] = {section: [] for section in SECTIONS}
    for section, position, piece in rendered:
        pieces[section].append((position, piece))
    for section in SECTIONS:
        pieces[section] = [piece for _, piece in sorted(pieces[section], key=lambda pair: pair[0])]
    files: dict[str, str] = {}
    index_md = ["# symlik derivations", "", "Generated by `symlik derive --all`; do not edit by hand.", ""]
    index_md += ["| distribution | predict | link | loss | scale | files |", "|---|---|---|---|---|---|"]
    index_tex = ["% Generated by `symlik derive --all`; do not edit by hand."]
    headings = {
        "catalog": [],
        "explained": ["", "## Beyond the loss: score, Fisher information, best constant", "",
                      "| derivation | Fisher information | best constant | files |", "|---|---|---|---|"],
        "documents": ["", "## KL divergences and the VAE objective", "", "| derivation | result | files |",
                      "|---|---|---|"],
    }
    for section in SECTIONS:
        index_md += headings[section]
        for piece in pieces[section]:
            files.update(piece["files"])
            index_md.append(piece["index_md"])
            index_tex.append(piece["index_tex"])
    files["index.md"] = "\n".join(index_md) + "\n"
    files["index.tex"] = "\n".join(index_tex) + "\n"
    files[MASTER] = derivations_master_tex()  # compiles alone: it inputs only what is written here
    rows = [list(SUMMARY_HEADER)] + [list(piece["row"]) for piece in pieces["catalog"]]
    return {"files": files, "rows": rows}


def derive_all_files(out: Path, workers: int | None = None) -> tuple[dict[Path, str], list[list[str]]]:
    """Every derivation rendered, plus an index, as {out/name: text}; and the summary rows."""
    outputs = all_outputs(workers=workers)
    return {out / name: text for name, text in outputs["files"].items()}, outputs["rows"]


def _chapter(job: tuple) -> dict:
    """One chapter of the book, in a worker: ``job`` is (distribution name, its combinations,
    the folder to draw its figures into or None). Drawing them here, beside the chapter, uses
    the derivations the chapter made: a separate figure task derives them again (0.5 s each)."""
    name, combos, figures_into = job
    ds = [derive(n, predict=predict, link=link, options=options or None) for n, predict, link, options in combos]
    if figures_into is not None:
        for d in ds:
            draw_loss_figure(d, Path(figures_into))
    return {"name": name, "text": chapter_tex(name, ds), "rows": [catalog_row_tex(d) for d in ds],
            "figures": {d.slug: [n, list(predict or ()), link, dict(options or {})]
                        for d, (n, predict, link, options) in zip(ds, combos)}}


def book_outputs(request: dict | None = None, workers: int | None = None, figures_into: Path | None = None) -> dict:
    """What the book writes besides its figures, as text (so the output cache can keep it):
    {"sources": {relative path: text} with the master, "figures": {slug: combination}}.
    The chapters are written in parallel, one distribution per task; with ``figures_into``,
    each task draws its distribution's figures there too."""
    by_name = _by_name()
    into = None if figures_into is None else str(figures_into)
    jobs = [(name, combos, into) for name, combos in by_name.items()]
    workers = min(workers or _usable_cores(), len(jobs))
    done: dict[str, dict] = {}
    with progress("book chapters and their figures" if into else "book chapters", len(jobs)) as report:
        if workers <= 1:
            for job in jobs:
                done[job[0]] = _chapter(job)
                report.advance(job[0])
        else:
            context = multiprocessing.get_context(_start_method())
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                # the distributions with the most variants first, so that no worker starts a long one last
                by_size = sorted(jobs, key=lambda job: -len(job[1]))
                for future in as_completed([pool.submit(_chapter, job) for job in by_size]):
                    chapter = future.result()
                    done[chapter["name"]] = chapter
                    report.advance(chapter["name"])
    return _assemble_book(by_name, done)


def _assemble_book(by_name: dict, done: dict) -> dict:
    chapters = [done[name] for name in by_name]  # in catalog order, whatever finished first
    sources = {f"{BOOK_DIR}/intro.tex": intro_tex([row for c in chapters for row in c["rows"]])}
    sources.update({f"{BOOK_DIR}/{c['name']}.tex": c["text"] for c in chapters})
    sources[MASTER] = master_tex(list(by_name))  # the book's master, with its chapters
    return {"sources": sources, "figures": {slug: combo for c in chapters for slug, combo in c["figures"].items()}}


# A figure (or the PDF) is redrawn only when what it is made from has changed: its key is symlik's
# code hash with the figure's name (the PDF's, a hash of every file pdflatex reads). The keys of
# what is in ``out`` are kept in a stamp file beside it.
STAMPS = ".symlik-book.json"


def _stamps(out: Path) -> dict:
    try:
        return json.loads((out / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _figure_key(name: str) -> str:
    return diskcache.key_of({"figure": name, "code": diskcache.code_hash(), "version": symlik.__version__})


def _pdf_key(out: Path) -> str:
    h = hashlib.sha256()
    for path in sorted([*out.glob("*.tex"), *(out / "book").glob("*.tex"), *(out / FIGURE_DIR).glob("*.pdf")]):
        h.update(str(path.relative_to(out)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _draw(job: tuple) -> str:
    """One figure, in a worker: ``job`` is (slug or "compare", combination or None, directory)."""
    slug, combo, directory = job
    if combo is None:
        draw_compare_figure(Path(directory))
    else:
        name, predict, link, options = combo
        draw_loss_figure(derive(name, predict=tuple(predict) or None, link=link, options=options or None), Path(directory))
    return slug


def _draw_all(jobs: list[tuple], workers: int | None = None) -> None:
    workers = min(workers or _usable_cores(), len(jobs))
    with progress("book figures", len(jobs)) as report:
        if workers <= 1:
            for job in jobs:
                report.advance(_draw(job))
            return
        context = multiprocessing.get_context(_start_method())
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for future in as_completed([pool.submit(_draw, job) for job in jobs]):
                report.advance(future.result())


def build_book(out: Path, use_cache: bool = True, files: dict[str, str] | None = None) -> Path:
    """The chapters and figures of the book, then pdflatex: ``out/symlik.pdf``, with ``files``
    ({name: text}, derivations/) written beside them. Chapters come from the output cache when
    symlik has not changed; figures whose key is unchanged are kept; pdflatex runs only when a
    file it reads has changed (or the PDF is missing).

    Everything is done in a staging copy of ``out`` that is swapped in at the end, so ``out`` is
    fully old or fully new whatever fails (pdflatex, a figure, Ctrl-C); the copy keeps the old
    figures, PDF and stamps, so what is unchanged is reused as when writing in place."""
    files = files or {}
    return _build(Path(out), use_cache, files, lambda directory: (book_outputs({}, figures_into=directory), files))


def build_book_and_derivations(out: Path, use_cache: bool = True) -> tuple[Path, dict]:
    """`derive --all --format pdf`: derivations/ (``all_outputs``) and the book, as ``build_book``;
    returns the PDF's path and derive --all's outputs. When neither is cached, both come from one
    pool (``derivations_and_book``), which derives each variant once instead of twice."""
    cached = output_cache.load("derive --all", {}) if use_cache else None
    if cached is not None or (use_cache and output_cache.load("book", {}) is not None):
        derived = cached or output_cache.produce("derive --all", {}, use_cache=use_cache)
        return build_book(out, use_cache, derived["files"]), derived
    found: dict = {}

    def together(directory: Path) -> tuple[dict, dict[str, str]]:
        found["all"], book = derivations_and_book(directory)
        if use_cache:
            output_cache.store("derive --all", {}, found["all"])
        return book, found["all"]["files"]

    return _build(Path(out), use_cache, None, together), found["all"]


def _build(out: Path, use_cache: bool, files: dict[str, str] | None, compute) -> Path:
    """``build_book``'s work. ``compute(figure folder)`` gives (the book's outputs, derivations/'s
    files) when the chapters are not cached, and draws every chapter's figures into the folder;
    ``files`` are derivations/'s files when they are."""
    check_output_directory(out)
    with staged_directory(out) as stage:
        directory = stage / FIGURE_DIR
        directory.mkdir(parents=True, exist_ok=True)
        outputs = output_cache.load("book", {}) if use_cache else None
        drawn: set = set()
        if outputs is None:  # no chapters to reuse: each chapter's task draws its figures as well
            outputs, files = compute(directory)
            drawn = set(outputs["figures"])
            if use_cache:
                output_cache.store("book", {}, outputs)
        # the book's master replaces the one of derivations/ (it inputs the chapters)
        write_into(stage, {**(files or {}), **outputs["sources"]})
        stamps = _stamps(stage) if use_cache else {}
        figures = {**{slug: combo for slug, combo in outputs["figures"].items()}, "compare": None}
        jobs = [(slug, combo, str(directory)) for slug, combo in figures.items() if slug not in drawn and (
                stamps.get(slug) != _figure_key(slug) or not (directory / f"{slug}.pdf").exists())]
        if jobs:
            _draw_all(jobs)
        stamps.update({slug: _figure_key(slug) for slug in figures})
        key = _pdf_key(stage)
        if stamps.get(MASTER) != key or not (stage / "symlik.pdf").exists():
            _typeset(stage, out)
            stamps[MASTER] = key
        write_into(stage, {STAMPS: json.dumps(stamps, sort_keys=True, indent=1) + "\n"})
    return out / "symlik.pdf"


def _typeset(stage: Path, out: Path) -> None:
    """pdflatex in the staging directory. When it fails, the staging directory goes and ``out``
    stays old: its log is kept in the temporary directory and the error names that copy."""
    try:
        build_pdf(stage)
    except SymlikError as exc:
        log = stage / "symlik.log"
        if not log.exists():
            raise
        fd, kept = tempfile.mkstemp(prefix="symlik-pdflatex-", suffix=".log")
        with os.fdopen(fd, "wb") as fh:
            fh.write(log.read_bytes())
        raise SymlikError(str(exc).replace(str(log), kept).replace(str(stage), str(out))) from None
