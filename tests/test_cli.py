"""The CLI, run as a user runs it: in a subprocess."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test starts with an empty cache of its own, never the user's."""
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("SYMLIK_NO_CACHE", raising=False)


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symlik.apps.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_list_prints_the_catalog():
    r = run("list")
    assert r.returncode == 0
    import symlik

    for name in symlik.names():
        assert f"\n{name} " in r.stdout


@pytest.mark.slow  # derives the whole catalog: about a minute
def test_derive_all_writes_files_and_summary(tmp_path):
    r = run("derive", "--all", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "distribution" in r.stdout and "binary_cross_entropy" in r.stdout
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "index.md" in files and "index.tex" in files
    assert "normal.tex" in files and "normal.md" in files and "bernoulli-logit.md" in files
    # From the cache, the same summary and byte-identical files; and derivations/ is what both write.
    warm = run("derive", "--all", "--out", str(tmp_path / "warm"))
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == r.stdout.replace(str(tmp_path / "out"), str(tmp_path / "warm"))
    for name in files:
        assert (tmp_path / "warm" / name).read_bytes() == (tmp_path / "out" / name).read_bytes() \
            == (ROOT / "derivations" / name).read_bytes()


@pytest.mark.parametrize("fmt,marker", [("latex", r"\begin{align*}"), ("markdown", "$$"), ("text", "Proven identity")])
def test_derive_one_in_each_format(fmt, marker):
    r = run("derive", "normal", "--predict", "mu", "sigma", "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert marker in r.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (("derive", "normall"), "did you mean 'normal'"),
        (("derive", "normal", "--link", "logit"), "link"),
        (("derive", "normal", "--predict", "nu"), "unknown parameter"),
        (("derive", "normal", "--format", "pdfx"), "invalid choice"),
        (("derive",), "NAME or --all"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_without_traceback(args, needle):
    r = run(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert needle in r.stderr


def test_failed_derive_all_writes_nothing(tmp_path, monkeypatch):
    # An unwritable target: nothing may be left half-written.
    out = tmp_path / "blocked"
    out.write_text("a file, not a directory")
    r = run("derive", "--all", "--out", str(out))
    assert r.returncode != 0
    assert out.read_text() == "a file, not a directory"


def test_no_command_prints_help():
    r = run()
    assert r.returncode == 0 and "derive" in r.stdout and "usage" in r.stdout


def test_console_script_is_installed():
    import shutil

    # The script sits beside the interpreter in a virtual environment, or on PATH.
    beside = Path(sys.executable).parent / "symlik"
    exe = str(beside) if beside.exists() else shutil.which("symlik")
    if exe is None:
        pytest.skip("symlik is not installed as a console script in this environment")
    r = subprocess.run([exe, "list"], capture_output=True, text=True)
    assert r.returncode == 0
