"""The ``symlik`` command.

    symlik list
    symlik derive NAME [--predict mu sigma] [--link logit] [--option sigma=per_dim] [--format latex|markdown|text] [--explain]
    symlik derive --density "exp(-abs(y - m)/b)/(2*b)" --param m:real --param b:positive [--predict m] [--support ...]
    symlik derive --all [--out derivations/] [--format pdf]
    symlik plot NAME [--predict mu sigma] [--link logit] [-o loss.png|svg|pdf]
    symlik plot --compare mse mae log_cosh cauchy [-o compare.svg]
    symlik bench [--n N] [--dtype float64 float32] [--loss mse ...] [--backend numpy fused ...] [--json]

A --density formula is parsed by a whitelist (symlik.model.parse), never evaluated.

Errors print one line (``symlik: error: ...``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

FORMATS = ("text", "latex", "markdown")
ALL_FORMATS = ("pdf",)  # with --all: also typeset the book


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise _CliError(message)


class _CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symlik", description="Turn a probability model into a loss function, and show the work.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("list", help="list the catalog")
    d = sub.add_parser("derive", help="derive, identify and render a loss")
    d.add_argument("name", nargs="?", help="catalog name (see `symlik list`)")
    d.add_argument("--all", action="store_true", help="derive every catalog entry, link and variant")
    d.add_argument("--predict", nargs="+", metavar="PARAM", help="parameters the network predicts")
    d.add_argument("--link", help="link function: logit, softmax or log")
    d.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="distribution option")
    d.add_argument("--format", choices=FORMATS + ALL_FORMATS, default=None,
                   help="output format (default: text); with --all, pdf also builds the book symlik.pdf")
    d.add_argument("--out", type=Path, default=None, help="with --all: directory for .tex/.md files")
    d.add_argument("--density", help="your own density as a formula in y and the --param names (never evaluated)")
    d.add_argument("--log-density", help="your own log-density, instead of --density")
    d.add_argument("--param", action="append", default=[], metavar="NAME:CONSTRAINT", help="a parameter of --density")
    d.add_argument("--observed", default="y", help="with --density: the name of the observation (default y)")
    d.add_argument("--support", help="with --density: a name, an interval like [0, inf) or integers like {0, ..., 10}")
    d.add_argument("--normalize", action="store_true", help="with --density: divide by the derived normaliser")
    d.add_argument("--explain", action="store_true", help="append the score, Fisher information and best constant")
    pl = sub.add_parser("plot", help="plot a loss and its gradient (needs matplotlib)")
    pl.add_argument("name", nargs="?", help="catalog name (see `symlik list`)")
    pl.add_argument("--compare", nargs="+", metavar="LOSS", help="residual losses to compare, e.g. mse mae cauchy")
    pl.add_argument("--predict", nargs="+", metavar="PARAM", help="parameters the network predicts")
    pl.add_argument("--link", help="link function: logit, softmax or log")
    pl.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="distribution option")
    pl.add_argument("-o", "--output", type=Path, default=None, help="output file: .png, .svg or .pdf")
    b = sub.add_parser("bench", help="time each loss in each implementation against hand-written peers")
    b.add_argument("--n", type=_positive_int, default=10**7, help="elements per input (default 10^7)")
    b.add_argument("--dtype", nargs="+", choices=("float64", "float32"), default=["float64", "float32"])
    b.add_argument("--loss", nargs="+", metavar="LOSS", help="only these losses (default: all)")
    b.add_argument("--backend", nargs="+", metavar="BACKEND", help="symlik backends to time (default: every installed one)")
    b.add_argument("--repeat", type=_positive_int, default=7, help="timed calls per implementation (median)")
    b.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _cmd_bench(args) -> None:
    import json

    from symlik.apps import bench
    from symlik.compiler import BACKENDS
    from symlik.core.errors import UnknownNameError

    known = [c.name for c in bench.available_cases()]
    for name in args.loss or ():
        if name not in known:
            raise UnknownNameError("loss", name, known)
    for name in args.backend or ():
        if name not in BACKENDS:
            raise UnknownNameError("backend", name, BACKENDS)
    result = bench.run(n=args.n, dtypes=args.dtype, losses=args.loss, backends=args.backend, repeat=args.repeat,
                       progress=bench.progress_bar())
    print(json.dumps(result, indent=1) if args.json else bench.table(result))


def _options(pairs):
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise _CliError(f"--option must be KEY=VALUE; got {pair!r}")
        key, value = pair.split("=", 1)
        out[key] = value
    return out


def _custom_spec(args):
    """A Distribution from --density / --log-density and --param NAME:CONSTRAINT."""
    from symlik.model.custom import custom, support_from_text

    params = {}
    for pair in args.param:
        if ":" not in pair:
            raise _CliError(f"--param must be NAME:CONSTRAINT (e.g. b:positive); got {pair!r}")
        name, constraint = (part.strip() for part in pair.split(":", 1))
        if name in params:
            raise _CliError(f"--param {name} is given twice")
        params[name] = constraint
    if not params:
        raise _CliError("--density needs at least one --param NAME:CONSTRAINT")
    support = support_from_text(args.support, params) if args.support else None
    return custom(
        "custom", density=args.density, log_density=args.log_density, observed=args.observed,
        params=params, support=support, predict=args.predict, normalize=args.normalize,
    )


def _cmd_list() -> str:
    import symlik
    from symlik.model.distributions import get

    rows = [("name", "parameters", "support", "predicts", "links")]
    for name in symlik.names():
        spec = get(name)
        params = ", ".join(f"{p.name} ({p.constraint})" for p in spec.params)
        rows.append((name, params, spec.support.describe(), ", ".join(spec.predict), ", ".join(spec.links) or "-"))
    return _table(rows)


def _table(rows) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _write_atomically(files: dict[Path, str]) -> None:
    """Write all files or none: render everything first, then rename into place."""
    staged = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            staged.append((tmp, path))
    except BaseException:
        for tmp, _ in staged:
            os.unlink(tmp)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)


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


def _one_line(expr) -> str:
    """An expression for a Markdown table cell: one line, pipes escaped."""
    import sympy as sp

    if expr is None:
        return "-"
    text = sp.sstr(expr.tolist() if isinstance(expr, sp.MatrixBase) else expr)
    return " ".join(text.split()).replace("|", r"\|")


def explained_derivations():
    from symlik.derivation import derive
    from symlik.model.distributions import names

    available = set(names())
    for name, predict, link in EXPLAINED:
        if name in available:
            yield derive(name, predict=predict, link=link).explained()


def documents():
    """The worked derivations that are not losses: KL divergences and the VAE objective."""
    from symlik.analysis.divergence import catalog_pairs
    from symlik.derivation.vae import DECODERS, vae_document

    yield from catalog_pairs()
    for decoder in DECODERS:
        yield vae_document(decoder)


def derive_all_files(out: Path) -> tuple[dict[Path, str], list[tuple]]:
    """Every derivation rendered, plus an index; and the summary rows."""
    import sympy as sp

    from symlik.apps.catalog import all_derivations

    files: dict[Path, str] = {}
    rows = [("distribution", "predict", "link", "loss", "scale")]
    index_md = ["# symlik derivations", "", "Generated by `symlik derive --all`; do not edit by hand.", ""]
    index_md += ["| distribution | predict | link | loss | scale | files |", "|---|---|---|---|---|---|"]
    index_tex = ["% Generated by `symlik derive --all`; do not edit by hand."]
    derivations = list(all_derivations())
    for d in derivations:
        files[out / f"{d.slug}.tex"] = d.to_latex()
        files[out / f"{d.slug}.md"] = d.to_markdown()
        loss = d.loss.name or "(own NLL)"
        row = (d.spec.label, ", ".join(d.predict), d.link or "-", loss, sp.sstr(d.scale))
        rows.append(row)
        index_md.append(f"| {' | '.join(row)} | [md]({d.slug}.md), [tex]({d.slug}.tex) |")
        index_tex.append(r"\input{%s}" % d.slug)
    index_md += ["", "## Beyond the loss: score, Fisher information, best constant", ""]
    index_md += ["| derivation | Fisher information | best constant | files |", "|---|---|---|---|"]
    for d in explained_derivations():
        slug = f"{d.slug}-explained"
        files[out / f"{slug}.tex"] = d.to_latex()
        files[out / f"{slug}.md"] = d.to_markdown()
        fisher = next((s.expr for s in d.steps if s.title == "The Fisher information"), None)
        best = next((s.expr for s in d.steps if s.title == "The best constant prediction"), None)
        cells = [_one_line(x) for x in (fisher, best)]
        index_md.append(f"| {d.spec.label} ({', '.join(d.predict)}{', ' + d.link if d.link else ''}) | `{cells[0]}` | `{cells[1]}` | [md]({slug}.md), [tex]({slug}.tex) |")
        index_tex.append(r"\input{%s}" % slug)
    index_md += ["", "## KL divergences and the VAE objective", "", "| derivation | result | files |", "|---|---|---|"]
    for doc in documents():
        files[out / f"{doc.slug}.tex"] = doc.to_latex()
        files[out / f"{doc.slug}.md"] = doc.to_markdown()
        result = _one_line(doc.result)
        index_md.append(f"| {doc.title} | `{result}` | [md]({doc.slug}.md), [tex]({doc.slug}.tex) |")
        index_tex.append(r"\input{%s}" % doc.slug)
    files[out / "index.md"] = "\n".join(index_md) + "\n"
    files[out / "index.tex"] = "\n".join(index_tex) + "\n"
    from symlik.apps.book import MASTER, grouped, master_tex

    files[out / MASTER] = master_tex(list(grouped(derivations)))
    return files, rows


def build_book(out: Path) -> Path:
    """The chapters and figures of the book, then pdflatex: ``out/symlik.pdf``."""

    from symlik.apps.catalog import all_derivations
    from symlik.apps.book import FIGURE_DIR, book_figures, book_sources, build_pdf

    derivations = list(all_derivations())
    _write_atomically({out / rel: text for rel, text in book_sources(derivations).items()})
    (out / FIGURE_DIR).mkdir(parents=True, exist_ok=True)
    book_figures(derivations, out / FIGURE_DIR)
    pdf, _ = build_pdf(out)
    return pdf


def _cmd_plot(args) -> int:
    from symlik.apps import plot

    if args.compare and (args.name or args.predict or args.link or args.option):
        raise _CliError("give a NAME or --compare LOSS..., not both")
    if args.compare:
        out = args.output or Path("compare.png")
        _check_figure_path(out)
        fig = plot.compare_figure(args.compare)
    else:
        if not args.name:
            raise _CliError("plot needs a NAME or --compare LOSS... (see `symlik list`)")
        import symlik

        d = symlik.derive(args.name, predict=args.predict, link=args.link, options=_options(args.option) or None)
        out = args.output or Path(f"{d.slug}.png")
        _check_figure_path(out)
        fig = plot.loss_figure(d)
    plot.save(fig, out)
    print(f"wrote {out}")
    return 0


def _check_figure_path(path: Path) -> None:
    from symlik.apps.plot import FORMATS

    if path.suffix.lower() not in FORMATS:
        raise _CliError(f"-o must end in {', '.join(FORMATS)}; got {str(path)!r}")


def main(argv=None) -> int:
    from symlik.core.errors import SymlikError

    try:
        args = _parser().parse_args(argv)
        if args.command == "list":
            print(_cmd_list())
            return 0
        if args.command == "bench":
            _cmd_bench(args)
            return 0
        if args.command == "derive":
            if args.all:
                if args.name:
                    raise _CliError("give a NAME or --all, not both")
                out = args.out or Path("derivations")
                files, rows = derive_all_files(out)
                _write_atomically(files)
                print(_table(rows))
                print(f"\nwrote {len(files)} files to {out}/")
                if args.format == "pdf":
                    print(f"wrote {build_book(out)}")
                return 0
            own = args.density is not None or args.log_density is not None
            if own and args.name:
                raise _CliError("give a NAME or --density, not both")
            if not own and (args.param or args.support or args.normalize):
                raise _CliError("--param, --support and --normalize go with --density")
            if not args.name and not own:
                raise _CliError("derive needs a NAME or --all, or --density (see `symlik list`)")
            if args.out:
                raise _CliError("--out goes with --all")
            import symlik

            fmt = args.format or "text"
            if fmt in ALL_FORMATS:
                raise _CliError(f"--format {fmt} goes with --all (it typesets the whole catalog as a book)")
            spec = _custom_spec(args) if own else args.name
            d = symlik.derive(spec, predict=args.predict, link=args.link, options=_options(args.option) or None)
            if args.explain:
                d = d.explained()
            print({"text": d.to_text, "latex": d.to_latex, "markdown": d.to_markdown}[fmt](), end="")
            return 0
        if args.command == "plot":
            return _cmd_plot(args)
        _parser().print_help()
        return 0
    except (_CliError, SymlikError) as exc:
        print(f"symlik: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("symlik: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
