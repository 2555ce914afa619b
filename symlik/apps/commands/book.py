"""symlik derive --all --format pdf: derivations/ as usual, then the typeset book symlik.pdf,
all staged together: --out ends up fully old or fully new."""

from __future__ import annotations

from symlik.apps.commands import derive
from symlik.apps.derivations import build_book


def run(args) -> int:
    outputs = derive.all_outputs(args)  # checks --out first
    pdf = build_book(derive.out_directory(args), use_cache=not args.no_cache, files=outputs["files"])
    derive.report(args, outputs)
    print(f"wrote {pdf}")
    return 0
