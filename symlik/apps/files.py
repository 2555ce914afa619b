"""Write output all or nothing: a directory is either fully old or fully new, a file never half
written, and nothing is left behind by a failure, Ctrl-C or a full disk.

A directory of outputs is staged in a sibling directory (a copy of the old one with the new
files written over it), then swapped in with two renames; if the second rename fails the old
directory is renamed back. A single file is written beside its target and renamed over it.
Files get the user's umask, like any file the user creates (mkstemp would make them 0600).

``staged_directory`` gives the staging directory itself to code that writes many files into
it by other means (the book's figures and pdflatex, the site's MkDocs build) and swaps it in
when that code finishes. ``check_output_directory`` and ``check_output_file`` say in one line
why an output path cannot be written, before any work is done. An output directory that is, or
contains, the current directory is refused: swapping it would leave this process and the
user's shell in a deleted directory.
"""

from __future__ import annotations

import contextlib
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


def _holds_cwd(directory: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current directory was deleted: nothing to strand
        return False
    directory = directory.resolve()
    return cwd == directory or directory in cwd.parents


def check_output_directory(out: Path, what: str = "--out") -> None:
    """Raise OutputError unless ``out`` can be (re)placed as a directory of outputs."""
    out = Path(out)
    if _holds_cwd(out):
        raise OutputError(f"{what} {str(out)!r} is (or contains) the current directory, which the output would "
                          f"replace: give another directory, or run from outside it")
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
    with staged_directory(root) as staging:
        write_into(staging, {Path(path).absolute().relative_to(root): text for path, text in files.items()})


def write_into(staging: Path, files: dict) -> None:
    """Write ``files`` ({path relative to ``staging``: text}) into a staging directory; a failure is
    one OutputError naming the file."""
    try:
        for rel, text in files.items():
            target = Path(staging) / rel
            if target.is_dir():
                raise OutputError(f"cannot write {str(rel)!r}: a directory of that name is in the way")
            target.unlink(missing_ok=True)  # a new file, never a write through a link the copy kept
            _write(target, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write the output to {str(staging)!r}: {exc.strerror or exc}"
                          + (f" ({exc.filename})" if exc.filename else "")) from None


@contextlib.contextmanager
def staged_directory(root: Path, keep_old: bool = True):
    """Yield a staging directory beside ``root`` (a copy of it when ``keep_old`` and it exists,
    else empty) and swap it in for ``root`` when the block ends; if the block raises (Ctrl-C
    included) the staging directory is removed and ``root`` stays as it was.

    The copy is a real copy, not hard links: code that writes into the staging directory (a
    figure, pdflatex's log) may then rewrite a file in place without touching the old one."""
    root = Path(root).absolute()
    if _holds_cwd(root):
        raise OutputError(f"{str(root)!r} is (or contains) the current directory: it cannot be swapped for a new one")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.staging-"))
    try:
        try:
            if keep_old and root.is_dir():
                shutil.copytree(root, staging, symlinks=True, dirs_exist_ok=True)
            if root.is_dir():
                shutil.copymode(root, staging)
            else:
                os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it 0700
        except OSError as exc:
            raise OutputError(f"cannot stage the output beside {str(root)!r}: {exc.strerror or exc}") from None
        yield staging
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
