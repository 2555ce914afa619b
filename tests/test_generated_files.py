"""derivations/ is committed; a test fails when it is stale."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Derived in a fresh interpreter with a fixed hash seed: `symlik derive --all` starts with SymPy's
# cache empty, and the factor order of the 4-component mixture's gradients depends on the order of
# a set (Python's string hashing), so two seeds can print the same gradient two ways.
# derivations/ is written the same way: PYTHONHASHSEED=0 symlik derive --all --out derivations.
_DERIVE = """
import json, sys
from pathlib import Path
from symlik.apps.derivations import derive_all_files
files, _ = derive_all_files(Path(sys.argv[1]))
print(json.dumps({str(p): text for p, text in files.items()}))
"""


@pytest.mark.slow  # derives the whole catalog afresh: about a minute
def test_derivations_are_up_to_date():
    env = {**os.environ, "PYTHONHASHSEED": "0", "SYMLIK_NO_CACHE": "1"}
    out = subprocess.run([sys.executable, "-c", _DERIVE, str(ROOT / "derivations")], env=env,
                         capture_output=True, text=True, check=True).stdout
    files = {Path(p): text for p, text in json.loads(out).items()}
    stale = [p.name for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"derivations/ is stale; run `PYTHONHASHSEED=0 symlik derive --all --out derivations`: {stale}"
