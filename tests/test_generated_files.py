"""derivations/ is committed; a test fails when it is stale."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Derived in a fresh interpreter (SymPy's cache empty, as for `symlik derive --all`) under whatever hash
# seed it draws: the output must not depend on it. (It did: the display gradient's factor order followed
# the order of a set of functions; passes.gradient.textbook_fraction now takes them in sorted order.)
_DERIVE = """
import json, sys
from pathlib import Path
from symlik.apps.derivations import derive_all_files
files, _ = derive_all_files(Path(sys.argv[1]))
print(json.dumps({str(p): text for p, text in files.items()}))
"""


@pytest.mark.slow  # derives the whole catalog afresh: about a minute
def test_derivations_are_up_to_date():
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}, "SYMLIK_NO_CACHE": "1"}
    out = subprocess.run([sys.executable, "-c", _DERIVE, str(ROOT / "derivations")], env=env,
                         capture_output=True, text=True, check=True).stdout
    files = {Path(p): text for p, text in json.loads(out).items()}
    stale = [p.name for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"derivations/ is stale; run `symlik derive --all --out derivations`: {stale}"
