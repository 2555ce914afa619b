"""The cache of what `symlik list` and `symlik derive` print: a warm run prints exactly what a
cold one did and imports no SymPy; entries are JSON; another version, other code, a corrupt
entry or one that someone else could have written is never served."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import symlik
from symlik.apps import output_cache
from symlik.apps.cli import parser
from symlik.apps.commands.derive import request
from symlik.core import diskcache

ROOT = Path(__file__).resolve().parents[1]
# Runs the CLI in a fresh process and reports, after its output, whether SymPy was imported.
RUN = "import sys; from symlik.apps.cli import main; rc = main(sys.argv[1:]); print('\\nSYMPY', 'sympy' in sys.modules); sys.exit(rc)"
NORMAL_HETERO = ("derive", "normal", "--predict", "mu", "sigma", "--format", "latex")
LAPLACE_DENSITY = ("derive", "--density", "exp(-abs(y - m)/b)/(2*b)", "--param", "m:real", "--param", "b:positive",
                   "--predict", "m")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SYMLIK_NO_CACHE", raising=False)
    return tmp_path


def cli(*args, **env):
    """(stdout, imported sympy?) of `symlik ARGS` in a fresh process."""
    r = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert r.returncode == 0, r.stderr
    out, _, flag = r.stdout.rpartition("\nSYMPY ")
    return out, flag.strip() == "True"


def entries(cache_dir):
    return sorted((cache_dir / f"outputs-{output_cache.FORMAT}").glob("*.json"))


def request_of(*args):
    return request(parser().parse_args(list(args)))


# (the two 3-to-4-s subprocess runs of a derivation with --explain and of a density run in the slow suite)
@pytest.mark.parametrize("args", [NORMAL_HETERO, pytest.param(("derive", "poisson", "--link", "log", "--explain"), marks=pytest.mark.slow),
                                  pytest.param(LAPLACE_DENSITY, marks=pytest.mark.slow), ("list",)])
def test_a_warm_run_prints_what_a_fresh_derivation_prints_without_sympy(cache_dir, args):
    cold, cold_sympy = cli(*args)
    made = entries(cache_dir)
    warm, warm_sympy = cli(*args)
    # a --density is derived in a child process (under the time budget), so SymPy is not in the
    # parent even when cold; that the cold run derived shows in the entry it stored
    assert (cold_sympy or (args is LAPLACE_DENSITY and made)) and not warm_sympy
    assert warm == cold
    uncached, _ = cli(*args, SYMLIK_NO_CACHE="1")  # the oracle: derived afresh, no cache involved
    assert warm == uncached


@pytest.mark.slow  # five cold derivations in subprocesses: 14 s
def test_the_request_decides_the_entry(cache_dir):
    """A warm cache never answers one request with another's output."""
    normal, _ = cli("derive", "normal")
    laplace, _ = cli("derive", "laplace")
    hetero, _ = cli("derive", "normal", "--predict", "mu", "sigma")
    # A density keyed by its text: changing the text changes the output.
    own, _ = cli(*LAPLACE_DENSITY)
    gaussian = ("derive", "--density", "exp(-(y - m)**2/2)/sqrt(2*pi)", "--param", "m:real", "--predict", "m")
    own_gaussian, _ = cli(*gaussian)
    assert len({normal, laplace, hetero, own, own_gaussian}) == 5
    assert "mse" in own_gaussian and "mae" in own
    assert len(entries(cache_dir)) == 5


def test_entries_are_json_text_never_pickles(cache_dir):
    cli(*NORMAL_HETERO)
    cli("list")
    files = list((cache_dir / f"outputs-{output_cache.FORMAT}").iterdir())
    assert len(files) == 2 and all(p.suffix == ".json" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not data.startswith(b"\x80")  # a pickle's protocol marker
        entry = json.loads(data)
        assert isinstance(entry["value"], str)
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700


def test_another_version_or_other_code_misses(cache_dir, monkeypatch):
    request = request_of(*NORMAL_HETERO)
    output_cache.store("derive", request, "stored")
    assert output_cache.load("derive", request) == "stored"
    monkeypatch.setattr(symlik, "__version__", "0.0.0-other")
    assert output_cache.load("derive", request) is None
    monkeypatch.undo()
    monkeypatch.setenv("SYMLIK_CACHE_DIR", str(cache_dir))
    assert output_cache.load("derive", request) == "stored"
    monkeypatch.setattr(diskcache, "code_hash", lambda: "edited-source")
    assert output_cache.load("derive", request) is None


def test_the_source_hash_changes_with_any_source_file(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(diskcache, "_PACKAGE", tmp_path)
    diskcache.code_hash.cache_clear()
    try:
        before = diskcache.code_hash()
        (tmp_path / "a.py").write_text("x = 2\n")
        diskcache.code_hash.cache_clear()
        assert diskcache.code_hash() != before
    finally:
        diskcache.code_hash.cache_clear()


def _forge(cache_dir, args, value):
    """Plant an entry that answers ``args`` with ``value`` (as if someone had written it)."""
    request = request_of(*args)
    key = output_cache.key_of("derive", request)
    path = cache_dir / f"outputs-{output_cache.FORMAT}" / f"{key}.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "value": value}))
    path.chmod(0o600)
    return path


def test_a_corrupt_entry_is_ignored(cache_dir):
    cold, _ = cli(*NORMAL_HETERO)
    (entry,) = entries(cache_dir)
    entry.write_text('{"key": "trunc')
    again, derived = cli(*NORMAL_HETERO)
    assert again == cold and derived
    assert json.loads(entry.read_text())["value"] == cold  # and rewritten whole


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and permissions")
def test_an_entry_others_could_have_written_is_not_trusted(cache_dir):
    truth, _ = cli(*NORMAL_HETERO, SYMLIK_NO_CACHE="1")
    forged = _forge(cache_dir, NORMAL_HETERO, "forged\n")
    assert cli(*NORMAL_HETERO)[0] == "forged\n"  # the planted entry is well formed and ours: served
    forged.chmod(0o666)
    assert cli(*NORMAL_HETERO)[0] == truth


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and permissions")
def test_an_entry_someone_else_owns_is_not_trusted(cache_dir, monkeypatch):
    forged = _forge(cache_dir, NORMAL_HETERO, "forged\n")
    request = request_of(*NORMAL_HETERO)
    assert output_cache.load("derive", request) == "forged\n"
    monkeypatch.setattr(os, "getuid", lambda: forged.stat().st_uid + 1)  # as seen by another user
    assert output_cache.load("derive", request) is None
    assert diskcache.read_json(forged) is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and permissions")
def test_a_folder_others_can_write_is_not_used(cache_dir):
    truth, _ = cli(*NORMAL_HETERO, SYMLIK_NO_CACHE="1")
    forged = _forge(cache_dir, NORMAL_HETERO, "forged\n")
    forged.parent.chmod(0o777)
    try:
        assert cli(*NORMAL_HETERO)[0] == truth
    finally:
        forged.parent.chmod(0o700)


def test_no_cache_neither_reads_nor_writes(cache_dir):
    truth, _ = cli(*NORMAL_HETERO, SYMLIK_NO_CACHE="1")
    assert entries(cache_dir) == []
    forged = _forge(cache_dir, NORMAL_HETERO, "forged\n")
    out, derived = cli(*NORMAL_HETERO, "--no-cache")
    assert out == truth and derived
    assert cli(*NORMAL_HETERO, SYMLIK_NO_CACHE="1")[0] == truth
    assert json.loads(forged.read_text())["value"] == "forged\n"
    assert entries(cache_dir) == [forged]


def test_errors_are_not_cached(cache_dir):
    r = subprocess.run([sys.executable, "-m", "symlik.apps.cli", "derive", "normall"], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "did you mean 'normal'" in r.stderr
    assert entries(cache_dir) == []
