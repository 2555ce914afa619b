"""What ``symlik list`` and ``symlik derive`` print and write, cached on disk.

A warm ``symlik derive normal`` reads one JSON file and imports no SymPy. An
entry is keyed by its kind (the command), the request (the arguments that
decide the output, as plain JSON data: a custom density is keyed by its text,
which is only ever parsed, never evaluated), symlik's version and a hash of
symlik's source files, so an edited checkout never serves stale output.
Entries hold text and JSON only, never pickles, in a private folder of the user
cache directory (symlik.core.diskcache: an entry that is corrupt, or that
someone else owns or could have written, is ignored). Only successful outputs
are stored; errors are raised afresh every time.

``--no-cache`` or ``SYMLIK_NO_CACHE=1`` bypasses the cache: nothing is read or written.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path

import symlik
from symlik.core import diskcache

FORMAT = 1  # bump when the layout of an entry or of a value changes

# What computes each kind of entry on a miss: (module, function of the request). A table of
# names, resolved with importlib only on a miss, so that a hit never imports the modules that
# derive and render (and with them SymPy).
PRODUCERS = {
    "list": ("symlik.apps.catalog", "catalog_listing"),
    "derive": ("symlik.apps.rendering", "render_request"),
    "derive --all": ("symlik.apps.derivations", "all_outputs"),
    "book": ("symlik.apps.derivations", "book_outputs"),
}


def bypassed() -> bool:
    return os.environ.get("SYMLIK_NO_CACHE", "") not in ("", "0")


def directory() -> Path | None:
    return None if bypassed() else diskcache.private_directory(f"outputs-{FORMAT}")


def key_of(kind: str, request: dict) -> str:
    return diskcache.key_of({"format": FORMAT, "version": symlik.__version__, "code": diskcache.code_hash(),
                             "kind": kind, "request": request})


def load(kind: str, request: dict):
    """The cached value, or None on a miss (values are never None)."""
    folder = directory()
    if folder is None:
        return None
    key = key_of(kind, request)
    entry = diskcache.read_json(folder / f"{key}.json")
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry.get("value")


def store(kind: str, request: dict, value) -> None:
    folder = directory()
    if folder is not None:
        key = key_of(kind, request)
        diskcache.write_json(folder / f"{key}.json", {"key": key, "value": value})


def produce(kind: str, request: dict, *, use_cache: bool = True):
    """The output for ``request``: from the cache, else computed by PRODUCERS[kind] and stored."""
    if use_cache and (value := load(kind, request)) is not None:
        return value
    module, function = PRODUCERS[kind]
    value = getattr(import_module(module), function)(request)
    if use_cache:
        store(kind, request, value)
    return value
