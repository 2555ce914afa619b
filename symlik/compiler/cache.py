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
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

FORMAT = 1  # bump when the entry layout changes
_memory: dict[str, tuple[str, dict]] = {}  # key -> (source, meta)


@lru_cache(maxsize=None)
def code_hash() -> str:
    """Hash of every symlik source file: entries from other code never match."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


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
    """The cache directory (created 0700), or None when there is none we may trust."""
    if os.environ.get("SYMLIK_DISK_CACHE", "1") == "0":
        return None
    base = os.environ.get("SYMLIK_CACHE_DIR")
    if base:
        path = Path(base)
    else:
        try:
            from platformdirs import user_cache_dir

            path = Path(user_cache_dir("symlik", appauthor=False))
        except ImportError:
            xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            path = Path(xdg) / "symlik"
    path = path / f"kernels-{FORMAT}"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    # Entries are executed as code: trust only a directory that nobody else can write.
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    return path


def load(key: str) -> tuple[str, dict] | None:
    if key in _memory:
        return _memory[key]
    folder = directory()
    if folder is None:
        return None
    try:
        with open(folder / f"{key}.json", encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    _memory[key] = (entry["source"], entry["meta"])
    return _memory[key]


def store(key: str, source: str, meta: dict) -> None:
    _memory[key] = (source, meta)
    folder = directory()
    if folder is None:
        return
    text = json.dumps({"key": key, "source": source, "meta": meta})
    try:  # write to a private temporary file, then rename: readers never see half an entry
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def clear(memory: bool = True, disk: bool = False) -> None:
    if memory:
        _memory.clear()
    if disk and (folder := directory()) is not None:
        for entry in folder.glob("*.json"):
            entry.unlink()
