"""derivations/ is committed; a test fails when it is stale."""

from pathlib import Path

import pytest
import sympy as sp

from symlik.apps.derivations import derive_all_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # derives the whole catalog afresh: about a minute
def test_derivations_are_up_to_date():
    # `symlik derive --all` starts with SymPy's cache empty; so does this, whatever the tests
    # before it in this worker built (test_notation checks the printer ignores the cache)
    sp.core.cache.clear_cache()
    files, _ = derive_all_files(ROOT / "derivations")
    stale = [p.name for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"derivations/ is stale; run `symlik derive --all`: {stale}"
