"""symlik bench: time each loss in each implementation against hand-written peers."""

from __future__ import annotations

import json
import os

from symlik.apps import bench
from symlik.apps.commands import CommandError
from symlik.compiler import BACKENDS
from symlik.core.errors import UnknownNameError


# Peak bytes per element, counted generously: up to 3 inputs drawn in float64 and cast, the
# kernel's temporaries and output, and the torch peer's copies.
BYTES_PER_ELEMENT = 12 * 8


def available_memory() -> int | None:
    """Bytes of memory available now (Linux' MemAvailable), else physical memory, else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(n: int) -> None:
    """Refuse, in one line, an --n whose arrays cannot fit (instead of a MemoryError traceback)."""
    need, have = n * BYTES_PER_ELEMENT, available_memory()
    if have is not None and need > have:
        raise CommandError(f"--n {n} needs about {need / 2**30:.3g} GiB of memory; {have / 2**30:.3g} GiB are available")


def run(args) -> int:
    check_memory(args.n)
    known = [c.name for c in bench.available_cases()]
    for name in args.loss or ():
        if name not in known:
            raise UnknownNameError("loss", name, known)
    for name in args.backend or ():
        if name not in BACKENDS:
            raise UnknownNameError("backend", name, BACKENDS)
    result = bench.run(n=args.n, dtypes=args.dtype, losses=args.loss, backends=args.backend, repeat=args.repeat,
                       progress=bench.progress_bar(), sizes=args.sizes, modes=args.mode, peers=args.peer)
    print(json.dumps(result, indent=1) if args.json else bench.table(result))
    return 0
