"""symlik plot: a loss and its gradient, or residual losses compared, as a figure file."""

from __future__ import annotations

from pathlib import Path

from symlik.apps import plot
from symlik.apps.commands import CommandError
from symlik.apps.commands.derive import option_pairs
from symlik.apps.files import check_output_file
from symlik.derivation import derive


def _check_figure_path(path: Path) -> None:
    if path.suffix.lower() not in plot.FORMATS:
        raise CommandError(f"-o must end in {', '.join(plot.FORMATS)}; got {str(path)!r}")
    check_output_file(path)


def run(args) -> int:
    if args.compare and (args.name or args.predict or args.link or args.option):
        raise CommandError("give a NAME or --compare LOSS..., not both")
    if args.compare:
        out = args.output or Path("compare.png")
        _check_figure_path(out)
        fig = plot.compare_figure(args.compare)
    else:
        if not args.name:
            raise CommandError("plot needs a NAME or --compare LOSS... (see `symlik list`)")
        d = derive(args.name, predict=args.predict, link=args.link, options=dict(option_pairs(args.option)) or None)
        out = args.output or Path(f"{d.slug}.png")
        _check_figure_path(out)
        fig = plot.loss_figure(d)
    plot.save(fig, out)
    print(f"wrote {out}")
    return 0
