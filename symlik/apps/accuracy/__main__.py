"""python -m symlik.apps.accuracy [--check] [--out docs/accuracy.md]: regenerate (or check) the accuracy table."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from symlik.apps.accuracy import DOC, measure_all, parse, render, same_measurement
from symlik.apps.accuracy.custom import user_derivations


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m symlik.apps.accuracy", description=__doc__)
    p.add_argument("--out", type=Path, default=Path(DOC), help=f"where the table goes (default {DOC})")
    p.add_argument("--check", action="store_true", help="compare with the file instead of writing it; exit 1 if stale")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes measuring the catalog (default: one per core)")
    args = p.parse_args(argv)
    progress = None if args.quiet else (lambda slug: print(f"measuring {slug}", file=sys.stderr))
    text = render(measure_all(progress=progress, jobs=args.jobs), measure_all(progress=progress, derivations=user_derivations()))
    if args.check:
        old = parse(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
        new = parse(text)
        stale = sorted(k for k in set(old) | set(new) if k not in old or k not in new or not same_measurement(old[k], new[k]))
        for k in stale:
            print(f"stale: {k[0]} {k[1]}: file {old.get(k)} vs measured {new.get(k)}", file=sys.stderr)
        return 1 if stale else 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)  # all or nothing
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
