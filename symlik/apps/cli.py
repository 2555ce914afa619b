"""The ``symlik`` command: its arguments, and which command module runs them.

    symlik list
    symlik derive NAME [--predict mu sigma] [--link logit] [--option sigma=per_dim] [--format latex|markdown|text] [--explain]
    symlik derive --density "exp(-abs(y - m)/b)/(2*b)" --param m:real --param b:positive [--predict m] [--support ...]
    symlik derive --all [--out derivations/] [--format pdf]
    symlik plot NAME [--predict mu sigma] [--link logit] [-o loss.png|svg|pdf]
    symlik plot --compare mse mae huber_loss log_cosh cauchy [-o compare.svg]
    symlik implied LOSS [--inner tau=0.3] [--format latex|markdown|text]
    symlik implied --formula "abs(y - m)/b" --param m:real --param b:positive [--predict m] [--support real]
    symlik bench [--n N] [--dtype float64 float32] [--loss mse ...] [--backend numpy fused ...] [--json]

A --density formula is parsed by a whitelist (symlik.model.parse), never evaluated.
What `list` and `derive` print and write is cached on disk (symlik.apps.output_cache);
``--no-cache`` or ``SYMLIK_NO_CACHE=1`` bypasses the cache.

Errors print one line (``symlik: error: ...``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from symlik.apps import commands
from symlik.apps.commands import CommandError
from symlik.core.errors import SymlikError

FORMATS = ("text", "latex", "markdown")
ALL_FORMATS = ("pdf",)  # with --all: also typeset the book


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise CommandError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


# Shown by `symlik --help`; tests/test_documented_commands.py runs each line.
EXAMPLES = """examples:
  symlik list
  symlik derive normal --predict mu sigma --format latex
  symlik derive bernoulli --link logit --explain
  symlik derive --density "exp(-abs(y - m)/b)/(2*b)" --param m:real --param b:positive --predict m
  symlik plot bernoulli --link logit -o bce.svg
  symlik plot --compare mse mae huber_loss log_cosh cauchy -o robust.png
  symlik derive --all --out derivations
"""


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symlik", description="Turn a probability model into a loss function, and show the work.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    d.add_argument("--no-cache", action="store_true",
                   help="derive afresh: neither read nor write the cache of derivations (also SYMLIK_NO_CACHE=1)")
    pl = sub.add_parser("plot", help="plot a loss and its gradient (needs matplotlib)")
    pl.add_argument("name", nargs="?", help="catalog name (see `symlik list`)")
    pl.add_argument("--compare", nargs="+", metavar="LOSS", help="residual losses to compare, e.g. mse mae huber_loss log_cosh cauchy (options in brackets: "
                    "huber_loss[delta=2])")
    pl.add_argument("--predict", nargs="+", metavar="PARAM", help="parameters the network predicts")
    pl.add_argument("--link", help="link function: logit, softmax or log")
    pl.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="distribution option")
    pl.add_argument("-o", "--output", type=Path, default=None, help="output file: .png, .svg or .pdf")
    im = sub.add_parser("implied", help="the density a loss implies, exp(-loss)/Z(theta), and whether it is an NLL")
    im.add_argument("loss", nargs="?", help="a loss template: mse, mae, pinball, huber, log_cosh, cauchy, focal, poly1, ...")
    im.add_argument("--formula", help="your own loss l(y, theta) as a formula (never evaluated)")
    im.add_argument("--param", action="append", default=[], metavar="NAME:CONSTRAINT", help="a parameter of --formula")
    im.add_argument("--predict", nargs="+", metavar="PARAM", help="with --formula: the predicted parameters")
    im.add_argument("--support", help="where y lives: real, positive, binary, nonnegative_integer, onehot")
    im.add_argument("--inner", action="append", default=[], metavar="KEY=VALUE", help="a template's inner parameter value")
    im.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    b = sub.add_parser("bench", help="time each loss in each implementation against hand-written peers")
    b.add_argument("--n", type=_positive_int, default=10**7, help="elements per input (default 10^7)")
    b.add_argument("--dtype", nargs="+", choices=("float64", "float32"), default=["float64", "float32"])
    b.add_argument("--loss", nargs="+", metavar="LOSS", help="only these losses (default: all)")
    b.add_argument("--backend", nargs="+", metavar="BACKEND", help="symlik backends to time (default: every installed one)")
    b.add_argument("--sizes", nargs="+", type=_positive_int, metavar="N",
                   help="a sweep over N, e.g. 32 256 4096 10000000 (instead of --n)")
    b.add_argument("--mode", nargs="+", choices=("forward", "forward+backward"), default=["forward"],
                   help="time the loss, or the loss and its gradient (default: forward)")
    b.add_argument("--peer", nargs="+", choices=("numpy", "torch", "torch.compile", "jax.jit"),
                   help="peers to time (default: each whose library is installed)")
    b.add_argument("--repeat", type=_positive_int, default=7, help="timed calls per implementation (min/median/max)")
    b.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def _command(args) -> str:
    # The book needs the renderer, pdflatex and matplotlib; it is a command of its own.
    if args.command == "derive" and args.all and args.format == "pdf":
        return "book"
    return args.command


def main(argv=None) -> int:
    try:
        p = parser()
        args = p.parse_args(argv)
        if args.command is None:
            p.print_help()
            return 0
        return commands.run(_command(args), args)
    except (CommandError, SymlikError) as exc:
        print(f"symlik: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("symlik: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
