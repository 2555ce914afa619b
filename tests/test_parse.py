"""The whitelist formula parser: what it accepts, and hostile input it must refuse.

The oracle for accepted formulas is the same expression built by hand from
SymPy constructors. Hostile strings must raise ParseError (one line, naming
the offending token), must not run code, and must return promptly.
"""

import builtins
import subprocess
import sys

import pytest
import sympy as sp

from symlik import SymlikError
from symlik.model.parse import MAX_DEPTH, MAX_LENGTH, ParseError, parse_expression

y, m = sp.symbols("y m", real=True)
b = sp.Symbol("b", positive=True)
NAMES = {"y": y, "m": m, "b": b}


@pytest.mark.parametrize(
    "text,want",
    [
        ("exp(-abs(y - m)/b)/(2*b)", sp.exp(-sp.Abs(y - m) / b) / (2 * b)),
        ("exp(-(y - m)**2 / (2*b**2)) / sqrt(2*pi*b**2)", sp.exp(-((y - m) ** 2) / (2 * b**2)) / sp.sqrt(2 * sp.pi * b**2)),
        ("0.1*y + 1e-3", sp.Rational(1, 10) * y + sp.Rational(1, 1000)),  # exact decimals, not binary floats
        ("-y + +m", -y + m),
        ("log(y, 2) + gamma(b) + erf(y) + cosh(m) + tanh(y)", sp.log(y, 2) + sp.gamma(b) + sp.erf(y) + sp.cosh(m) + sp.tanh(y)),
        ("b**y * exp(-b) / factorial(y)", b**y * sp.exp(-b) / sp.factorial(y)),
        ("E**y * pi", sp.E**y * sp.pi),
        ("  y  ", y),
    ],
)
def test_accepted_formulas_match_hand_built_sympy(text, want):
    got = parse_expression(text, NAMES)
    assert sp.simplify(got - want) == 0


HOSTILE = [
    ("__import__('os')", "__import__"),
    ("__import__('os').system('touch /tmp/symlik-pwned')", "__import__"),
    ("().__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("lambda: 0", "lambda"),
    ("y.__dict__", "attribute access"),
    ("y.real", "attribute access"),
    ("exp(y).func", "attribute access"),
    ("y[0]", "subscript"),
    ("[y for y in (1,)]", "comprehension"),
    ("(y for y in (1,))", "generator"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("getattr(y, 'x')", "unknown function 'getattr'"),
    ("foo(y)", "unknown function 'foo'"),
    ("z + 1", "unknown name 'z'"),
    ("exp(y, base=2)", "keyword"),
    ("exp(*[y])", "starred"),
    ("'abc'", "not a number"),
    ("b'abc'", "not a number"),
    ("1j", "not a number"),
    ("y if m else b", "conditional"),
    ("y < m", "comparison"),
    ("y and m", "boolean"),
    ("y ^ 2", "'^'"),
    ("y // 2", "'//'"),
    ("y % 2", "'%'"),
    ("~y", "'~'"),
    ("(y := 1)", "assignment"),
    ("{y: 1}", "dict"),
    ("y; import os", "not a valid formula"),
    ("import os", "not a valid formula"),
    ("exp", "is a function"),
    ("exp(y)(1)", "named functions"),
    ("9**9**9**9", "too large"),
    ("2**100000", "too large"),
    ("gamma(10**6)", "gamma of a number larger"),
    ("factorial(10**5)", "factorial of a number larger"),
    ("1" * 40, "longer than"),
    ("1e999", "not finite"),
    ("1/0", "division by zero"),
    ("y\n+1", "control character"),
    ("σ + y", "ASCII"),
    ("", "empty"),
    ("x" * (MAX_LENGTH + 1), "characters long"),
    ("(" * 500 + "y" + ")" * 500, "nested"),
    ("-" * 1500 + "y", "nested"),
    ("exp(" * 100 + "y" + ")" * 100, "nested"),
    ("y" + "+y" * 900, None),  # long but flat: accepted (a sum of 901 terms)
]


@pytest.mark.parametrize("text,needle", HOSTILE, ids=[repr(t[:25]) for t, _ in HOSTILE])
def test_hostile_input_is_refused_with_one_line(text, needle):
    if needle is None:
        assert parse_expression(text, NAMES) == 901 * y
        return
    with pytest.raises(ParseError) as info:
        parse_expression(text, NAMES, what="density")
    message = str(info.value)
    assert needle in message
    assert "\n" not in message
    assert message.startswith("density")
    assert isinstance(info.value, SymlikError) and isinstance(info.value, ValueError)


def test_depth_limit_is_what_the_message_says():
    ok = "(" * MAX_DEPTH + "y" + ")" * MAX_DEPTH
    assert parse_expression(ok, NAMES) == y
    with pytest.raises(ParseError, match="nested"):
        parse_expression("(" * (MAX_DEPTH + 1) + "y" + ")" * (MAX_DEPTH + 1), NAMES)


def test_parser_never_calls_eval_sympify_or_parse_expr(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("user text reached an evaluating function")

    import sympy.parsing.sympy_parser as sympy_parser

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(sp, "sympify", forbidden)
    monkeypatch.setattr(sympy_parser, "parse_expr", forbidden)
    got = parse_expression("exp(-abs(y - m)/b)/(2*b)", NAMES)
    assert got.has(sp.Abs)
    with pytest.raises(ParseError):
        parse_expression("__import__('os').system('true')", NAMES)


def test_hostile_text_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    attack = f"__import__('os').system('touch {marker}')"
    with pytest.raises(ParseError):
        parse_expression(attack, NAMES)
    import symlik

    with pytest.raises(ParseError):
        symlik.custom("evil", density=attack, params={"m": "real"})
    assert not marker.exists()


def test_names_are_only_the_declared_ones():
    # a name SymPy would know (Symbol, S, oo...) is still unknown here
    for name in ("Symbol", "S", "Integer", "os", "sys", "builtins"):
        with pytest.raises(ParseError, match="unknown name"):
            parse_expression(f"{name} + y", NAMES)


CLI_HOSTILE = [
    "__import__('os').system('echo pwned')",
    "().__class__",
    "lambda: 0",
    "y.__dict__",
    "(" * 300 + "y" + ")" * 300,
    "y" * 5000,
    "frobnicate(y)",
]


@pytest.mark.parametrize("text", CLI_HOSTILE, ids=range(len(CLI_HOSTILE)))
def test_cli_refuses_hostile_density_in_one_line(text):
    r = subprocess.run(
        [sys.executable, "-m", "symlik.apps.cli", "derive", "--density", text, "--param", "m:real"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "pwned" not in r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("symlik: error: density")
