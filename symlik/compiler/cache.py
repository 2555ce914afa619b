"""Compile once: kernels cached in memory and, as generated source, on disk.

A compile() request for a catalog distribution has a key: the request's
arguments plus a hash of symlik's own source files (so that any change to
the code invalidates every entry). The disk cache stores, per key, one JSON
file holding the generated source and the metadata a Kernel needs; never a
pickle. It lives under the user cache directory (``SYMLIK_CACHE_DIR``, else
platformdirs' user cache dir, else ``$XDG_CACHE_HOME/symlik``, else
``~/.cache/symlik``), in a directory only the user can read or write; a
directory that others could write is not trusted and is ignored.
``SYMLIK_DISK_CACHE=0`` turns the disk cache off.

This module imports neither SymPy nor any backend library, so a warm-cache
compile never loads the symbolic machinery.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from symlik.core.diskcache import code_hash, digest, discard, private_directory, read_json, write_json

FORMAT = 2  # bump when the entry layout changes (2: the entry holds a hash of its source)
_memory: dict[str, tuple[str, dict]] = {}  # key -> (source, meta)


def _plain(value):
    """A JSON-able copy of a request value, or raise TypeError."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if type(value).__module__ == "numpy":
        return _plain(value.tolist())
    raise TypeError(f"not cacheable: {type(value).__name__}")


def request_of(spec, **arguments) -> dict | None:
    """compile()'s arguments as plain data, or None when they cannot key a cache entry
    (a custom density, or a fixed value that is not plain numbers)."""
    if isinstance(spec, str):
        request = {"spec": spec, **arguments}
    else:  # a Distribution or a Derivation of a catalog entry: key it by what made it
        dist = getattr(spec, "spec", spec)
        if getattr(dist, "custom", True) or not hasattr(dist, "chosen"):
            return None
        if dist is not spec and (getattr(spec, "plain", None) is not None or getattr(spec, "extra_params", ())
                                 or getattr(spec, "loss_options", None)):
            return None  # a derivation rewritten with loss options: its own math, not its request's
        request = {"spec": dist.name, **arguments}
        request["options"] = {**(arguments.get("options") or {}), **dist.chosen} or None
        if dist is not spec:  # a Derivation: its predict and link are settled
            request["predict"], request["link"] = list(spec.predict), spec.link
    try:
        return _plain(request)
    except TypeError:
        return None


def key_of(request: dict) -> str:
    text = json.dumps({"format": FORMAT, "code": code_hash(), **request}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# -- the disk ----------------------------------------------------------------------
def directory() -> Path | None:
    """The cache directory (created 0700), or None when there is none we may trust.

    Entries are executed as code: symlik.core.diskcache trusts only a directory that nobody
    else can write."""
    if os.environ.get("SYMLIK_DISK_CACHE", "1") == "0":
        return None
    return private_directory(f"kernels-{FORMAT}")


def _entry_hash(key: str, source: str, meta: dict) -> str:
    return digest(key, source, json.dumps(meta, sort_keys=True))


def load(key: str) -> tuple[str, dict] | None:
    """The (source, meta) stored under ``key``, or None. The source is executed by the caller, so
    an entry is used only when it has the expected shape and its stored hash matches its key,
    source and metadata; any other entry (corrupt, hand-edited, truncated) is discarded."""
    if key in _memory:
        return _memory[key]
    folder = directory()
    if folder is None:
        return None
    path = folder / f"{key}.json"
    entry = read_json(path)
    if entry is None:
        if path.exists():
            discard(path)
        return None
    try:
        usable = (isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("source"), str)
                  and isinstance(entry.get("meta"), dict)
                  and entry.get("hash") == _entry_hash(key, entry["source"], entry["meta"]))
    except (TypeError, ValueError, RecursionError):  # meta that json cannot dump back
        usable = False
    if not usable:
        discard(path)
        return None
    _memory[key] = (entry["source"], entry["meta"])
    return _memory[key]


def forget(key: str) -> None:
    """Drop ``key`` from memory and disk: its entry could not be turned into a kernel."""
    _memory.pop(key, None)
    if (folder := directory()) is not None:
        discard(folder / f"{key}.json")


def store(key: str, source: str, meta: dict) -> None:
    _memory[key] = (source, meta)
    folder = directory()
    if folder is not None:
        write_json(folder / f"{key}.json", {"key": key, "source": source, "meta": meta,
                                            "hash": _entry_hash(key, source, meta)})


def clear(memory: bool = True, disk: bool = False) -> None:
    if memory:
        _memory.clear()
    if disk and (folder := directory()) is not None:
        for entry in folder.glob("*.json"):
            entry.unlink()
