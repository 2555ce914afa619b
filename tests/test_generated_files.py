"""derivations/ is committed; a test fails when it is stale."""

from pathlib import Path

from symlik.apps.derivations import derive_all_files

ROOT = Path(__file__).resolve().parents[1]


def test_derivations_are_up_to_date():
    files, _ = derive_all_files(ROOT / "derivations")
    stale = [p.name for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"derivations/ is stale; run `symlik derive --all`: {stale}"
