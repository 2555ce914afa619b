"""Write a set of files all or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_all_or_nothing(files: dict[Path, str]) -> None:
    """Stage every file beside its target first, then rename each into place: a failure while
    staging leaves nothing behind, and no reader ever sees half a file."""
    staged = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            staged.append((tmp, path))
    except BaseException:
        for tmp, _ in staged:
            os.unlink(tmp)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
