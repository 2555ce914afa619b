"""What ``symlik list`` and ``symlik derive`` print and write, cached on disk.

A warm ``symlik derive normal`` reads one JSON file and imports no SymPy. An
entry is keyed by its kind (the command), the request (the arguments that
decide the output, as plain JSON data: a custom density is keyed by its text,
which is only ever parsed, never evaluated), symlik's version and a hash of
symlik's source files, so an edited checkout never serves stale output.
Entries hold text and JSON only, never pickles, in a private folder of the user
cache directory (symlik.core.diskcache: an entry that is corrupt, or that
someone else owns or could have written, is ignored). Only successful outputs
are stored; errors are raised afresh every time. An entry whose value does not have the shape
its kind produces (SHAPES: valid JSON of the wrong shape, a file name that would leave the
output directory) is discarded and computed again, never half used.

``--no-cache`` or ``SYMLIK_NO_CACHE=1`` bypasses the cache: nothing is read or written.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path, PurePosixPath

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


def _text(value) -> bool:
    return isinstance(value, str)


def _relative_name(name) -> bool:
    """A file name the outputs may write: relative, below the output directory, no backslash."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "." not in path.parts


def _files(value) -> bool:
    return isinstance(value, dict) and all(_relative_name(k) and _text(v) for k, v in value.items())


def _all_outputs(value) -> bool:
    rows = value.get("rows") if isinstance(value, dict) else None
    return (isinstance(value, dict) and _files(value.get("files")) and isinstance(rows, list)
            and all(isinstance(row, list) and all(_text(cell) for cell in row) for row in rows))


def _combination(value) -> bool:
    """[name, predict, link, options] of a catalog derivation, as the book keeps it."""
    return (isinstance(value, list) and len(value) == 4 and _text(value[0])
            and isinstance(value[1], list) and all(_text(p) for p in value[1])
            and (value[2] is None or _text(value[2]))
            and isinstance(value[3], dict) and all(_text(v) for v in value[3].values()))


def _book_outputs(value) -> bool:
    figures = value.get("figures") if isinstance(value, dict) else None
    return (isinstance(value, dict) and _files(value.get("sources")) and isinstance(figures, dict)
            and all(_relative_name(slug) and "/" not in slug and _combination(c) for slug, c in figures.items()))


# The shape of each kind's value. Checked on every read, shallowly: a value nested deeper than
# these shapes fails the check at once (the JSON parser itself refuses what would recurse too deep).
SHAPES = {"list": _text, "derive": _text, "derive --all": _all_outputs, "book": _book_outputs}


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
    path = folder / f"{key}.json"
    entry = diskcache.read_json(path)
    if isinstance(entry, dict) and entry.get("key") == key and SHAPES[kind](entry.get("value")):
        return entry["value"]
    if path.exists():  # corrupt, of the wrong shape, or someone else's: computed again
        diskcache.discard(path)
    return None


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
