"""symlik derive --all --format pdf: derivations/ as usual, then the typeset book symlik.pdf."""

from __future__ import annotations

from symlik.apps.commands import derive
from symlik.apps.derivations import build_book


def run(args) -> int:
    derive.write_all(args)
    print(f"wrote {build_book(derive.out_directory(args), use_cache=not args.no_cache)}")
    return 0
