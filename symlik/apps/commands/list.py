"""symlik list: the catalog, one distribution a line."""

from __future__ import annotations

from symlik.apps import output_cache


def run(args) -> int:
    print(output_cache.produce("list", {}))
    return 0
