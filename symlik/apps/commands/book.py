"""symlik derive --all --format pdf: derivations/ as usual, then the typeset book symlik.pdf,
all staged together: --out ends up fully old or fully new."""

from __future__ import annotations

from symlik.apps.commands import CommandError, derive
from symlik.apps.derivations import build_book_and_derivations
from symlik.apps.files import check_output_directory


def run(args) -> int:
    if args.name:
        raise CommandError("give a NAME or --all, not both")
    check_output_directory(derive.out_directory(args))  # before minutes of deriving
    pdf, outputs = build_book_and_derivations(derive.out_directory(args), use_cache=not args.no_cache)
    derive.report(args, outputs)
    print(f"wrote {pdf}")
    return 0
