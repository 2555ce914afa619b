"""Write output all or nothing: a directory is either fully old or fully new, a file never half
written, and nothing is left behind by a failure, Ctrl-C or a full disk.

A directory of outputs is staged in a sibling directory (a copy of the old one with the new
files written over it), then swapped in with two renames; if the second rename fails the old
directory is renamed back. A single file is written beside its target and renamed over it.
Files get the user's umask, like any file the user creates (mkstemp would make them 0600).

``check_output_directory`` and ``check_output_file`` say in one line why an output path cannot
be written, before any work is done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from symlik.core.errors import SymlikError


class OutputError(SymlikError):
    """An output path that cannot be written; the message names the path and the reason."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_writable(directory: Path, what: str, shown: Path) -> None:
    """Create and remove a directory in ``directory``: the one test that is true for root, for
    read-only mounts and for /proc alike (os.access is not)."""
    if not directory.is_dir():
        raise OutputError(f"{what} {str(shown)!r}: {str(directory)!r} is not a directory")
    try:
        probe = tempfile.mkdtemp(dir=directory, prefix=".symlik-probe-")
        os.rmdir(probe)
    except OSError as exc:
        raise OutputError(f"{what} {str(shown)!r} cannot be written: {exc.strerror or exc}") from None


def check_output_directory(out: Path, what: str = "--out") -> None:
    """Raise OutputError unless ``out`` can be (re)placed as a directory of outputs."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{what} {str(out)!r} is a file, not a directory")
    # Staging happens beside ``out``, so its parent (or the nearest existing ancestor) must be writable.
    _probe_writable(_nearest_existing(out.absolute().parent), what, out)
    if out.is_dir():
        _probe_writable(out, what, out)


def check_output_file(path: Path, what: str = "-o") -> None:
    """Raise OutputError unless ``path`` can be written as a file."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {str(path)!r} is a directory, not a file")
    _probe_writable(_nearest_existing(path.absolute().parent), what, path)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # open() applies the umask
        fh.write(data)


def write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` beside it, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _root(files: dict[Path, str]) -> Path:
    return Path(os.path.commonpath([str(Path(p).absolute().parent) for p in files]))


def write_all_or_nothing(files: dict[Path, str], root: Path | None = None) -> None:
    """Write ``files`` ({path: text}, all under ``root``; default their common directory) so that
    ``root`` is either fully old or fully new: stage a copy of it with the files written over it,
    then swap the copy in. On any failure (including Ctrl-C) the staging copy is removed and the
    old directory stays as it was; the error is one line naming the file."""
    if not files:
        return
    root = Path(root).absolute() if root is not None else _root(files)
    if Path.cwd() == root or root in Path.cwd().parents:
        # Renaming the working directory away would strand this process in the old one: write
        # file by file instead (each file still whole).
        for path, text in files.items():
            write_file(Path(path), text.encode("utf-8"))
        return
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.staging-"))
    try:
        try:
            if root.is_dir():
                shutil.copytree(root, staging, symlinks=True, dirs_exist_ok=True)
                shutil.copymode(root, staging)
            else:
                os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it 0700
            for path, text in files.items():
                target = staging / Path(path).absolute().relative_to(root)
                if target.is_dir():
                    raise OutputError(f"cannot write {str(path)!r}: a directory of that name is in the way")
                _write(target, text.encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot write the output to {str(root)!r}: {exc.strerror or exc}"
                              + (f" ({exc.filename})" if exc.filename else "")) from None
        _swap(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, root: Path) -> None:
    """Put ``staging`` where ``root`` is. Two renames; if the second fails the first is undone."""
    if not root.exists():
        os.rename(staging, root)
        return
    old = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.old-"))
    os.rmdir(old)  # a free name beside root (rename needs the target absent or empty)
    os.rename(root, old)
    try:
        os.rename(staging, root)
    except BaseException:
        os.rename(old, root)
        raise
    shutil.rmtree(old, ignore_errors=True)
