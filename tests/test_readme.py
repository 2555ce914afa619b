"""README's promises: its commands are the ones CI runs, and its table is current."""

import re
from pathlib import Path

import pytest

from symlik.apps.catalog import END, START, loss_table_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"TEST_COMMAND='([^']+)'", ci).group(1)
    assert command in README


def test_readme_shows_the_main_job():
    assert re.search(r"\.venv/bin/symlik derive --all", README)


@pytest.mark.slow  # derives the whole catalog: 13 s of the fast suite's 5 minutes
def test_readme_loss_table_is_generated_from_the_registry():
    table = README.split(START, 1)[1].split(END, 1)[0]
    assert table.strip() == loss_table_markdown().strip(), "run `python -m symlik.apps.catalog`"
