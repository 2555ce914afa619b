"""All-or-nothing output (issue 17): a directory is fully old or fully new after any failure,
nothing is left beside it, and files get the user's umask."""

import errno
import os
import stat
import subprocess
import sys

import pytest

from symlik.apps import files
from symlik.apps.cli import main
from symlik.apps.files import OutputError, check_output_directory, check_output_file, write_all_or_nothing, write_file


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _snapshot(root):
    return {p.relative_to(root): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def old_out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(5):
        (out / f"f{i}.md").write_text(f"old {i}\n")
    (out / "mine.txt").write_text("not ours\n")
    return out


def _new_files(out, n=5):
    return {out / f"f{i}.md": f"new {i}\n" for i in range(n)} | {out / "sub" / "g.tex": "new g\n"}


def test_new_directory_gets_every_file_with_the_umask(tmp_path, umask_022):
    out = tmp_path / "fresh"
    write_all_or_nothing(_new_files(out))
    assert (out / "f3.md").read_text() == "new 3\n" and (out / "sub" / "g.tex").read_text() == "new g\n"
    assert stat.S_IMODE((out / "f0.md").stat().st_mode) == 0o644
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh"]


def test_existing_directory_is_updated_and_keeps_other_files(old_out, umask_022):
    old_out.chmod(0o750)
    write_all_or_nothing(_new_files(old_out))
    assert all((old_out / f"f{i}.md").read_text() == f"new {i}\n" for i in range(5))
    assert (old_out / "mine.txt").read_text() == "not ours\n"
    assert stat.S_IMODE(old_out.stat().st_mode) == 0o750
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]


def test_a_directory_in_the_way_leaves_everything_old(old_out):
    (old_out / "f4.md").unlink()
    (old_out / "f4.md").mkdir()  # as `mkdir out/index.md` in the issue: the last file cannot be written
    before = _snapshot(old_out)
    with pytest.raises(OutputError, match="f4.md") as info:
        write_all_or_nothing(_new_files(old_out))
    assert "\n" not in str(info.value)
    assert _snapshot(old_out) == before
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]  # no staging or .tmp left


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")])
def test_ctrl_c_or_a_full_disk_while_writing_leaves_everything_old(old_out, monkeypatch, failure):
    real, calls = files._write, []

    def failing(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise failure
        real(path, data)

    monkeypatch.setattr(files, "_write", failing)
    before = _snapshot(old_out)
    with pytest.raises(KeyboardInterrupt if isinstance(failure, KeyboardInterrupt) else OutputError):
        write_all_or_nothing(_new_files(old_out))
    assert _snapshot(old_out) == before
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]


def test_a_failed_swap_is_rolled_back(old_out, monkeypatch):
    real, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == 2:  # the staging copy onto out
            raise OSError(errno.EIO, "I/O error")
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    before = _snapshot(old_out)
    with pytest.raises(OSError):
        write_all_or_nothing(_new_files(old_out))
    assert _snapshot(old_out) == before
    assert sorted(p.name for p in old_out.parent.iterdir()) == ["out"]


def test_single_file_gets_the_umask_and_no_tmp_is_left(tmp_path, umask_022):
    path = write_file(tmp_path / "fig.svg", b"<svg/>")
    assert path.read_bytes() == b"<svg/>" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["fig.svg"]


def test_bad_output_paths_are_refused_before_any_work(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_directory(a_file)
    with pytest.raises(OutputError, match="not a directory"):
        check_output_directory(tmp_path / "a_file" / "below")
    with pytest.raises(OutputError, match="is a directory"):
        check_output_file(tmp_path)
    if os.path.isdir("/proc/self"):
        with pytest.raises(OutputError, match="cannot be written"):
            check_output_directory("/proc/x")


@pytest.mark.parametrize("out", ["/proc/x", "FILE"])
def test_derive_all_refuses_a_bad_out_in_one_line_before_deriving(out, tmp_path, capsys):
    if out == "/proc/x" and not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    if out == "FILE":
        out = str(tmp_path / "file")
        (tmp_path / "file").write_text("x")
    assert main(["derive", "--all", "--no-cache", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symlik: error: --out") and "\n" not in err


def test_bench_refuses_more_memory_than_exists(capsys):
    assert main(["bench", "--n", "10000000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "GiB" in err and "\n" not in err


@pytest.mark.slow
def test_derive_all_with_a_directory_in_the_way_leaves_out_fully_old(tmp_path):
    env = {**os.environ, "SYMLIK_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "symlik.apps.cli", "derive", "--all", "--out", str(out)]
    assert subprocess.run(cli, capture_output=True, env=env).returncode == 0
    for p in out.iterdir():
        p.write_text("old\n")
    (out / "index.md").unlink()
    (out / "index.md").mkdir()
    before = _snapshot(out)
    r = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "index.md" in r.stderr
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]
