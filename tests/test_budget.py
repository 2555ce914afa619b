"""One time budget for a user's density (issue 17), in child processes started by spawn.

The densities are the ones that hung before: the numeric normalisation check of
exp(-cosh(y - m))*(2 + sin(exp(y)))/7 ran for more than 400 s. With a budget of a few
seconds each must end in one line naming the stage that ran out. The children are started by
spawn (SYMLIK_START_METHOD=spawn), the only start method on Windows, so that path is tested
on Linux too.
"""

import os
import subprocess
import sys
import time

import pytest
import sympy as sp

import symlik
from symlik.core import budget

HANGS = "exp(-cosh(y - m))*(2 + sin(exp(y)))/7"


@pytest.fixture
def spawn(monkeypatch):
    monkeypatch.setenv("SYMLIK_START_METHOD", "spawn")


def test_custom_stops_at_the_budget_and_names_the_stage(spawn):
    started = time.monotonic()
    with pytest.raises(symlik.BudgetExceeded, match="ran out while checking the density") as info:
        symlik.custom("slow", density=HANGS, params={"m": "real"}, time_budget=3)
    assert "\n" not in str(info.value) and "3 s" in str(info.value)
    assert time.monotonic() - started < 120  # stopped, not the 400 s it took before


def test_a_valid_density_is_unchanged_under_spawn(spawn):
    spec = symlik.custom("lap", density="exp(-abs(y - m)/b)/(2*b)", params={"m": "real", "b": "positive"}, time_budget=120)
    assert symlik.derive(spec).loss.name == "mae"


def test_a_child_that_runs_past_the_budget_is_stopped_naming_its_stage(spawn):
    with pytest.raises(budget.BudgetExceeded, match="ran out while sleeping"):
        with budget.time_budget(1), budget.stage("sleeping"):
            budget.run_in_child(time.sleep, 60)


def test_errors_in_the_child_come_back_as_themselves(spawn):
    with budget.time_budget(60):
        with pytest.raises(symlik.ParseError, match="unknown name 'z'"):
            budget.run_in_child(symlik.parse_expression, "z + 1", {})


def test_an_inner_budget_cannot_outlast_an_outer_one():
    with budget.time_budget(1):
        with budget.time_budget(100):
            assert budget.remaining() <= 1


@pytest.mark.parametrize("value", ["inf", "nan", "-3", "soon"])
def test_budget_setting_must_be_finite(value, monkeypatch):
    monkeypatch.setenv("SYMLIK_TIME_BUDGET", value)
    with pytest.raises(symlik.SymlikError, match="SYMLIK_TIME_BUDGET") as info:
        symlik.custom("g", density="exp(-(y - m)**2/2)/sqrt(2*pi)", params={"m": "real"})
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_cli_density_stops_at_the_budget_in_one_line(tmp_path):
    env = {**os.environ, "SYMLIK_START_METHOD": "spawn", "SYMLIK_TIME_BUDGET": "12", "SYMLIK_CACHE_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "symlik.apps.cli", "derive", "--density", HANGS, "--param", "m:real"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "time budget of 12 s ran out while checking the density" in lines[0], r.stderr


# Matching this NLL against every template makes SymPy expand a polynomial of high degree:
# minutes of simplification inside one call, which nothing can interrupt from inside.
SLOW_MATCH = "exp(-(y-m)**2/2 - ((y-m)**3 + m**5*y**7)**16/(1+m**2)**9)"


@pytest.mark.slow  # 4-6 s: in the slow suite, to keep README's test command under 5 minutes
def test_derive_of_a_custom_density_is_stopped_at_the_budget_under_spawn(spawn, monkeypatch):
    monkeypatch.setenv("SYMLIK_TIME_BUDGET", "4")
    spec = symlik.custom("slow_match", density=SLOW_MATCH, params={"m": "real"}, check=False)
    started = time.monotonic()
    # the stage it stops in follows the matcher's speed (proving, or writing the steps once the
    # profile check skips a simplify): what matters is one line, at the budget
    with pytest.raises(symlik.BudgetExceeded, match="ran out while (proving which loss|writing the derivation's steps)") as info:
        symlik.derive(spec)
    assert "\n" not in str(info.value) and "4 s" in str(info.value)
    assert time.monotonic() - started < 60  # killed at the budget, not left to finish its minutes


@pytest.mark.slow  # 3.5 s: a spawned child imports symlik and SymPy afresh
def test_derive_of_a_custom_density_in_a_child_returns_the_same_derivation(spawn):
    # The oracle is the Laplace density's known identity: -log p = (1/b) |y - m| + log(2b).
    spec = symlik.custom("lap_child", density="exp(-abs(y - m)/b)/(2*b)", params={"m": "real", "b": "positive"},
                         time_budget=120)
    d = symlik.derive(spec)
    assert d.spec is spec and d.loss.name == "mae"
    y, m, b = spec.y, spec.symbol("m"), spec.symbol("b")
    assert sp.simplify(d.scale - 1 / b) == 0 and sp.simplify(d.offset - sp.log(2 * b)) == 0
    assert sp.simplify(d.nll - (sp.Abs(y - m) / b + sp.log(2 * b))) == 0
    assert "Identify the loss: mean absolute error" in d.to_text()
