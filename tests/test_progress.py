"""Long commands report progress on stderr: plain lines when stderr is not a terminal (issue 16)."""

from __future__ import annotations

import io

from symlik.apps import derivations
from symlik.apps.progress import progress


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()  # not a terminal
    with progress("derive --all", 3, stream=stream) as report:
        for name in ("normal", "bernoulli logit", "poisson"):
            report.advance(name)
    assert stream.getvalue().splitlines() == [
        "symlik: derive --all 1/3 normal",
        "symlik: derive --all 2/3 bernoulli logit",
        "symlik: derive --all 3/3 poisson",
    ]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal_and_no_lines():
    stream = _Terminal()
    with progress("derive --all", 2, stream=stream) as report:
        report.advance("normal")
        report.advance("poisson")
    assert "symlik: derive --all 1/2" not in stream.getvalue()  # the bar, not the plain lines


def test_derive_all_reports_each_unit_on_stderr(capsys, monkeypatch):
    units = derivations.work_units()[1:4]  # three catalog derivations, in this process
    pieces = derivations.render_units(units, workers=1)
    err = capsys.readouterr().err.splitlines()
    assert [line.split()[3] for line in err] == ["1/3", "2/3", "3/3"]
    assert all(line.startswith("symlik: derive --all ") for line in err)
    assert {section for section, _, _ in pieces} <= {"catalog", "explained"} and pieces
