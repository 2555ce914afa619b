"""Hypothesis strategies for hostile formula text, and the classifier of one outcome.

Shared by the bounded fuzz test (tests/test_fuzz.py) and the long campaign
(``python -m tests.fuzzing --cases N``), which reports strings tried, clean errors, crashes,
hangs and code executed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import strategies as st

from symlik.model.parse import FUNCTIONS

SENTINEL = Path(tempfile.gettempdir()) / f"symlik-fuzz-sentinel-{os.getpid()}"
# Text that creates SENTINEL if anything evaluates it as Python.
PAYLOADS = (
    f"__import__('os').system('touch {SENTINEL}')",
    f"open({str(SENTINEL)!r}, 'w')",
    f"exec(\"open({str(SENTINEL)!r}, 'w')\")",
    f"eval(\"open({str(SENTINEL)!r}, 'w')\")",
    f"().__class__.__base__.__subclasses__()",
    f"lambda: open({str(SENTINEL)!r}, 'w')",
)
NAMES = ("y", "m", "b", "pi", "E", "oo", "inf", "z", "os", "np", "__import__", "__builtins__", "True", "None")
BINARY = ("+", "-", "*", "/", "**", "^", "%", "//", "@", "<", "==", " and ", " if y else ", ",", " ")
UNARY = ("-", "+", "~", "not ")
SUFFIXES = (".real", ".__class__", "[0]", "(1)", ".func", "")
CALLEES = (*FUNCTIONS, "eval", "exec", "open", "getattr", "__import__", "print")

numbers = st.one_of(
    st.integers(-(10**40), 10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "1", "2", "10**8", "10**100", "9**9**9", "1e308", "1e-320", "0.1", "1j", "0x10", "1_000"]),
)
leaves = st.one_of(numbers, st.sampled_from(NAMES), st.sampled_from(PAYLOADS), st.sampled_from(["'s'", '"s"', "[]", "()"]))


def _extend(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map("".join),
        st.tuples(st.sampled_from(UNARY), children).map("".join),
        st.tuples(st.sampled_from(CALLEES), st.lists(children, min_size=0, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        children.map(lambda c: f"({c})"),
        st.tuples(children, st.sampled_from(SUFFIXES)).map("".join),
    )


formulas = st.recursive(leaves, _extend, max_leaves=12)
hostile_text = st.one_of(formulas, st.text(max_size=80), st.text(alphabet="()*+-/yme0123456789.^ ", max_size=60))


class TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise TimeLimit()


def classify(text: str, seconds: float = 5.0) -> str:
    """'accepted', 'clean' (a one-line ParseError/SymlikError), 'crash' (anything else) or 'hang'
    (ran past ``seconds``, on platforms with SIGALRM) for parse_expression(text)."""
    import sympy as sp

    from symlik.core.errors import SymlikError
    from symlik.model.parse import parse_expression

    names = {"y": sp.Symbol("y", real=True), "m": sp.Symbol("m", real=True), "b": sp.Symbol("b", positive=True)}
    timer = hasattr(signal, "SIGALRM")
    if timer:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        value = parse_expression(text, names, what="density")
        return "accepted" if isinstance(value, sp.Basic) else "crash"
    except TimeLimit:
        return "hang"
    except SymlikError as exc:
        return "clean" if "\n" not in str(exc) and str(exc) else "crash"
    except Exception:  # noqa: BLE001 - the point is to count them
        return "crash"
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)


def classify_cli(text: str, seconds: float = 60.0) -> str:
    """The same for `symlik derive --density TEXT --param m:real --param b:positive` in a fresh
    process (the whole pipeline, under a 10 s time budget): 'accepted', 'clean' (exit 2, one
    line), 'crash' or 'hang'."""
    import subprocess

    env = {**os.environ, "SYMLIK_NO_CACHE": "1", "SYMLIK_TIME_BUDGET": "10"}
    try:
        r = subprocess.run([sys.executable, "-m", "symlik.apps.cli", "derive", "--density", text, "--param", "m:real",
                            "--param", "b:positive"], capture_output=True, text=True, timeout=seconds, env=env)
    except subprocess.TimeoutExpired:
        return "hang"
    except ValueError:  # a NUL byte cannot be an argument at all
        return "clean"
    if r.returncode == 0:
        return "accepted"
    lines = r.stderr.strip().splitlines()
    return "clean" if r.returncode == 2 and len(lines) == 1 and lines[0].startswith("symlik: error:") else "crash"


def campaign(cases: int, cli_cases: int, seed: int) -> dict:
    from hypothesis import HealthCheck, given, settings

    counts = {"parser": {}, "cli": {}}
    examples = {"crash": [], "hang": []}
    started = time.monotonic()

    def record(where, text, outcome):
        counts[where][outcome] = counts[where].get(outcome, 0) + 1
        if outcome in examples and len(examples[outcome]) < 20:
            examples[outcome].append([where, text])

    common = dict(database=None, deadline=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))

    @settings(max_examples=cases, **common)
    @given(hostile_text)
    def parser_case(text):
        record("parser", text, classify(text))

    @settings(max_examples=max(cli_cases, 1), **common)
    @given(formulas)
    def cli_case(text):
        record("cli", text, classify_cli(text))

    import random

    random.seed(seed)
    parser_case()
    if cli_cases:
        cli_case()
    return {"counts": counts, "tried": {k: sum(v.values()) for k, v in counts.items()},
            "code_executed": int(SENTINEL.exists()), "examples": examples,
            "seconds": round(time.monotonic() - started, 1)}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="fuzz symlik's formula parser and CLI")
    p.add_argument("--cases", type=int, default=20000)
    p.add_argument("--cli-cases", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(json.dumps(campaign(a.cases, a.cli_cases, a.seed), indent=1))
