"""symlik's disk caches: where they live, who may have written them, how an entry is written.

Both caches (compiled kernels, symlik.compiler.cache; rendered derivations,
symlik.apps.derivation_cache) keep JSON files, never pickles, in a folder of
the user cache directory: ``SYMLIK_CACHE_DIR``, else platformdirs' user cache
dir, else ``$XDG_CACHE_HOME/symlik``, else ``~/.cache/symlik``. A folder is
created private (0700) and trusted only while it belongs to the user and
nobody else can write it; an entry is read only when the user owns it and
nobody else can write it. Anything else is ignored, not trusted: a cache that
someone else could have written is no cache at all.

Entries are written to a private temporary file and renamed into place, so a
reader never sees half an entry. The key of an entry includes ``code_hash()``,
a hash of every symlik source file, so an edited checkout never serves what
other code produced.

This module imports only the standard library (and platformdirs when present).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # symlik/


@lru_cache(maxsize=None)
def code_hash() -> str:
    """Hash of every symlik source file: entries made by other code never match."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def key_of(data: dict) -> str:
    """A file-name-safe key for a JSON-able request (sorted, so argument order does not matter)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def base_directory() -> Path:
    base = os.environ.get("SYMLIK_CACHE_DIR")
    if base:
        return Path(base)
    try:
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("symlik", appauthor=False))
    except ImportError:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(xdg) / "symlik"


def _ours(info: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (always true where there are no uids)."""
    if not hasattr(os, "getuid"):
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def private_directory(name: str) -> Path | None:
    """``base_directory()/name``, created 0700; None when it cannot be made or when it, or the
    directory holding it, is not ours alone (whoever can write the parent can swap the folder)."""
    path = base_directory() / name
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info, parent = os.lstat(path), os.stat(path.parent)
    except OSError:
        return None
    return path if stat.S_ISDIR(info.st_mode) and _ours(info) and _ours(parent) else None


def read_json(path: Path):
    """The JSON value in ``path``, or None when it is missing, unreadable, corrupt, nested too
    deeply for the parser, or not ours."""
    try:
        with open(path, encoding="utf-8") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or not _ours(info):
                return None
            return json.load(fh)
    except (OSError, ValueError, RecursionError):  # ValueError covers bad JSON and bad UTF-8
        return None


def discard(path: Path) -> None:
    """Remove a cache entry that cannot be used, so that it is rebuilt (never raises)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def digest(*parts: str) -> str:
    """A hash of ``parts`` that an entry stores beside them and is checked against on reading."""
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part.encode("utf-8", "surrogatepass")).digest())
    return h.hexdigest()


def write_json(path: Path, value) -> bool:
    """Write ``value`` as JSON to ``path`` atomically (private temporary file, then rename).

    A cache that cannot be written is only slower, so failure is reported, not raised."""
    text = json.dumps(value)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
