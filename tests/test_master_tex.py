"""derivations/symlik.tex compiles on its own (issue 16): everything it inputs is in derivations/."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import needs_pdflatex

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"


def _inputs(path: Path, seen=None) -> set[Path]:
    """Every file ``path`` \\input s, followed recursively."""
    seen = set() if seen is None else seen
    for name in re.findall(r"\\input\{([^}]+)\}", path.read_text(encoding="utf-8")):
        target = DERIVATIONS / (name if name.endswith(".tex") else f"{name}.tex")
        assert target.exists(), f"{path.name} inputs {name}, which `symlik derive --all` does not write"
        if target not in seen:
            seen.add(target)
            _inputs(target, seen)
    return seen


def test_the_master_inputs_only_files_derive_all_writes():
    inputs = _inputs(DERIVATIONS / "symlik.tex")
    assert DERIVATIONS / "index.tex" in inputs and DERIVATIONS / "normal.tex" in inputs


@pytest.mark.slow
@needs_pdflatex
def test_the_master_compiles_on_its_own(tmp_path):
    copy = tmp_path / "derivations"
    shutil.copytree(DERIVATIONS, copy)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "symlik.tex"], cwd=copy,
                       capture_output=True, text=True, errors="replace", timeout=300)
    errors = [line for line in r.stdout.splitlines() if line.startswith("! ")]
    assert r.returncode == 0 and not errors, errors[:3]
    assert (copy / "symlik.pdf").read_bytes().startswith(b"%PDF")
