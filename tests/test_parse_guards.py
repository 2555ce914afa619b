"""Hostile formulas and names from issue 17: each ends in one clean line naming the rule it broke.

Each formula runs in a child process with a wall-clock limit, so a regression that hangs (a
coefficient power expanded digit by digit) fails here instead of hanging the suite.
"""

import subprocess
import sys
import warnings

import pytest
import sympy as sp

import symlik
from symlik.model.custom import GENERATED_CODE_NAMES
from symlik.model.parse import ParseError, parse_expression

y, m = sp.symbols("y m", real=True)
NAMES = {"y": y, "m": m}


@pytest.mark.parametrize(
    "text,rule",
    [
        ("(3*y)**(10**8)", "too large"),
        ("sqrt(3)**(10**8)", "too large"),
        ("(3*E)**(10**8)", "too large"),
        ("(3*y)**10000*exp(-y)", "too large"),
        ("(y/3)**(-10**8)", "too large"),
        ("(2*sqrt(5)*m)**5000", "too large"),
        ("factorial(oo/oo)*exp(-y)", "undefined"),
        ("lgamma(log(0, 0))", "undefined"),
        ("exp(-y)*(oo - oo)", "undefined"),
        ("log(0)*exp(-y)", "infinite"),
        ("tan(pi/2)*exp(-y)", "infinite"),
    ],
)
def test_hostile_numbers_end_in_one_line_naming_the_rule(text, rule):
    code = (
        "import sympy as sp, sys\n"
        "from symlik.model.parse import ParseError, parse_expression\n"
        "y, m = sp.symbols('y m', real=True)\n"
        "try:\n"
        f"    parse_expression({text!r}, {{'y': y, 'm': m}}, what='density')\n"
        "except ParseError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    message = out.stdout.strip()
    assert rule in message and message.startswith("density:") and "\n" not in message


def test_small_coefficient_powers_still_parse():
    # (3*y)**4 = 81*y**4, sqrt(2)**6 = 8: exact, as before
    assert parse_expression("(3*y)**4", NAMES) == 81 * y**4
    assert parse_expression("sqrt(2)**6", NAMES) == 8
    assert parse_expression("y**100000", NAMES) == y**100000  # a symbol's power expands nothing


def test_syntax_warning_is_not_printed():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail here
        with pytest.raises(ParseError, match="conditional expression"):
            parse_expression("1if y else 0", NAMES)


def _normal(name):
    return f"exp(-(y - {name})**2/2)/sqrt(2*pi)"


@pytest.mark.parametrize("name", ["np", "torch", "jnp", "math", "dense", "abs", "sum", "_m", "_stack"])
def test_parameter_names_that_shadow_generated_code_are_refused(name):
    with pytest.raises(symlik.SymlikError, match="generated code|underscore") as info:
        symlik.custom("g", density=_normal(name.lstrip("_") or "m"), params={name: "real"})
    assert "\n" not in str(info.value)


def test_non_ascii_names_are_refused_so_nfkc_cannot_merge_two_parameters():
    fullwidth_m = "\uff4d"  # NFKC folds it to "m"
    with pytest.raises(symlik.SymlikError, match="ASCII"):
        symlik.custom("g", density=_normal("m"), params={"m": "real", fullwidth_m: "real"})
    with pytest.raises(symlik.SymlikError, match="ASCII"):
        symlik.custom("g", density=_normal("m"), params={sp.Symbol("\u03bc", real=True): "real"})


def test_every_runtime_namespace_name_is_reserved():
    """The oracle is the backends' own namespaces: each public name in them must be refused."""
    from symlik.compiler import _numpy_runtime, torch_backend

    namespaces = [_numpy_runtime.NAMESPACE]
    if sys.modules.get("torch") is not None or _importable("torch"):
        namespaces.append(torch_backend._namespace())
    if _importable("jax"):
        from symlik.compiler import jax_backend

        namespaces.append(jax_backend._namespace())
    public = {name for ns in namespaces for name in ns if not name.startswith("_")}
    assert public <= GENERATED_CODE_NAMES, public - GENERATED_CODE_NAMES


def _importable(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_a_plain_name_still_compiles_and_matches_the_closed_form():
    import numpy as np

    spec = symlik.custom("g", density=_normal("loc"), params={"loc": "real"})
    k = symlik.compile(spec, target="nll", reduction="none")
    loc, obs = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    np.testing.assert_allclose(k(loc, obs), 0.5 * (obs - loc) ** 2 + 0.5 * np.log(2 * np.pi), rtol=1e-12)


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "soon"])
def test_symbolic_timeout_must_be_a_finite_number(value, monkeypatch):
    from symlik.core.expectation import within_budget

    monkeypatch.setenv("SYMLIK_SYMBOLIC_TIMEOUT", value)
    with pytest.raises(symlik.SymlikError, match="SYMLIK_SYMBOLIC_TIMEOUT") as info:
        within_budget(abs, -1)
    assert "\n" not in str(info.value)
