"""A bounded fuzz of the formula parser and the CLI (issue 17): every string is accepted or
refused in one clean line, within a per-case time limit, and none runs as code.

The long campaign is ``python tests/fuzzing.py --cases 20000 --cli-cases 100``.
"""

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

import fuzzing  # noqa: E402  (conftest puts tests/ on sys.path)

FUZZ = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@settings(FUZZ, max_examples=300)
@given(fuzzing.hostile_text)
def test_parser_accepts_or_refuses_cleanly(text):
    outcome = fuzzing.classify(text, seconds=10.0)
    assert outcome in ("accepted", "clean"), (outcome, text)
    assert not fuzzing.SENTINEL.exists(), text


@pytest.mark.slow
@settings(FUZZ, max_examples=8)
@given(fuzzing.formulas)
def test_cli_accepts_or_refuses_cleanly(text):
    outcome = fuzzing.classify_cli(text, seconds=120.0)
    assert outcome in ("accepted", "clean"), (outcome, text)
    assert not fuzzing.SENTINEL.exists(), text
