"""symlik derive: one derivation rendered as text, LaTeX or Markdown, or the whole catalog
written as files (--all).

This module checks the arguments and turns them into a request (plain data); the work
is done by symlik.apps.rendering and symlik.apps.derivations, through the output cache,
so a cached request imports neither them nor SymPy.
"""

from __future__ import annotations

from pathlib import Path

from symlik.apps import output_cache
from symlik.core import budget
from symlik.apps.commands import CommandError
from symlik.apps.files import check_output_directory, write_all_or_nothing
from symlik.apps.tables import text_table

DEFAULT_OUT = Path("derivations")


def option_pairs(pairs) -> list[list[str]]:
    """--option KEY=VALUE arguments as [key, value] pairs, in the order given."""
    out = []
    for pair in pairs:
        if "=" not in pair:
            raise CommandError(f"--option must be KEY=VALUE; got {pair!r}")
        out.append(pair.split("=", 1))
    return out


def param_pairs(pairs) -> list[list[str]]:
    """--param NAME:CONSTRAINT arguments as [name, constraint] pairs, in the order given."""
    out, seen = [], set()
    for pair in pairs:
        if ":" not in pair:
            raise CommandError(f"--param must be NAME:CONSTRAINT (e.g. b:positive); got {pair!r}")
        name, constraint = (part.strip() for part in pair.split(":", 1))
        if name in seen:
            raise CommandError(f"--param {name} is given twice")
        seen.add(name)
        out.append([name, constraint])
    if not out:
        raise CommandError("--density needs at least one --param NAME:CONSTRAINT")
    return out


def request(args) -> dict:
    """What decides the output of `symlik derive NAME|--density ...`, as plain data."""
    own = args.density is not None or args.log_density is not None
    if own and args.name:
        raise CommandError("give a NAME or --density, not both")
    if not own and (args.param or args.support or args.normalize):
        raise CommandError("--param, --support and --normalize go with --density")
    if not args.name and not own:
        raise CommandError("derive needs a NAME or --all, or --density (see `symlik list`)")
    if args.out:
        raise CommandError("--out goes with --all")
    fmt = args.format or "text"
    if fmt not in ("text", "latex", "markdown"):
        raise CommandError(f"--format {fmt} goes with --all (it typesets the whole catalog as a book)")
    density = None
    if own:
        density = {"density": args.density, "log_density": args.log_density, "params": param_pairs(args.param),
                   "observed": args.observed, "support": args.support, "normalize": args.normalize}
    return {"name": args.name, "density": density, "predict": args.predict, "link": args.link,
            "options": option_pairs(args.option), "format": fmt, "explain": args.explain}


def out_directory(args) -> Path:
    return args.out or DEFAULT_OUT


def all_outputs(args) -> dict:
    """`symlik derive --all`'s {"files": {name: text}, "rows": summary}, after --out is checked."""
    if args.name:
        raise CommandError("give a NAME or --all, not both")
    check_output_directory(out_directory(args))  # before minutes of deriving
    return output_cache.produce("derive --all", {}, use_cache=not args.no_cache)


def report(args, outputs: dict) -> None:
    print(text_table(outputs["rows"]))
    print(f"\nwrote {len(outputs['files'])} files to {out_directory(args)}/")


def write_all(args) -> None:
    """`symlik derive --all`: every file of derivations/ written to --out, and the summary printed."""
    outputs = all_outputs(args)
    out = out_directory(args)
    write_all_or_nothing({out / name: text for name, text in outputs["files"].items()}, root=out)
    report(args, outputs)


def _produce(req: dict, use_cache: bool) -> str:
    return output_cache.produce("derive", req, use_cache=use_cache)


def run(args) -> int:
    if args.all:
        write_all(args)
        return 0
    req = request(args)
    use_cache = not args.no_cache
    if req["density"] is None:
        text = _produce(req, use_cache)
    elif use_cache and isinstance(cached := output_cache.load("derive", req), str):
        text = cached  # a warm hit needs neither SymPy nor a child process
    else:
        # The user's own density: parse, check, derive, match and render under one time budget, in
        # a child process that is stopped when it runs out (SymPy cannot be interrupted from inside).
        with budget.time_budget(), budget.stage("handling the density"):
            text = budget.run_in_child(_produce, req, use_cache)
    print(text, end="")
    return 0
