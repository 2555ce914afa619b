"""symlik bench: time each loss in each implementation against hand-written peers."""

from __future__ import annotations

import json

from symlik.apps import bench
from symlik.compiler import BACKENDS
from symlik.core.errors import UnknownNameError


def run(args) -> int:
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
