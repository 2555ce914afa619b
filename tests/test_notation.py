"""The layers that derive write no LaTeX: their steps are data (reasons of prose and SymPy
expressions, left-hand sides as expressions), and the display names live in one table,
symlik/core/notation.py, which symlik.render's printers read (issue 11, items 2 and 4).

The scan reads every string literal of symlik.core, .model, .losses, .analysis and
.derivation with ``ast`` and fails on a backslash or a dollar sign (LaTeX, or inline
math of the legacy ``$...$`` reasons) outside docstrings and the places listed below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sympy as sp

from symlik.core.notation import FORMS, TERMS, form, term
from symlik.render.printing import latex, text

PACKAGES = ("core", "model", "losses", "analysis", "derivation")
ROOT = Path(__file__).resolve().parent.parent / "symlik"

# file (relative to symlik/) -> why it may hold LaTeX
ALLOWED = {
    "core/notation.py": "the notation table itself",
    "model/links.py": "a link's display is part of the link object (forward, inverse, display, domain)",
    # The stable special functions print their own LaTeX: the compiler, below symlik.render,
    # prints a kernel's formula (Kernel._repr_markdown_, the plan's cached "formula") with
    # SymPy's own printer, which can only find it on the class.
    "core/functions.py": "the stable special functions' _latex, read by the compiler's sp.latex",
}


def _docstrings(tree) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def latex_literals(path: Path) -> list[str]:
    """'file:line: literal' for each string literal with a backslash or a dollar sign, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return [
        f"{path.relative_to(ROOT) if ROOT in path.parents else path.name}:{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        and ("\\" in node.value or "$" in node.value)
    ]


def test_the_layers_that_derive_write_no_latex():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if str(path.relative_to(ROOT)) not in ALLOWED:
                found += latex_literals(path)
    assert not found, "LaTeX outside the notation table:\n" + "\n".join(found)


def test_the_scan_finds_latex_and_skips_docstrings(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('"""A docstring with \\\\frac and $x$."""\nX = r"\\ell_i"\nY = "$x$"\nZ = "plain"\n')
    found = latex_literals(probe)
    assert [f.split(": ", 1)[1] for f in found] == ["'\\\\ell_i'", "'$x$'"]


def test_every_allowed_file_exists():
    for name in ALLOWED:
        assert (ROOT / name).is_file(), name


@pytest.mark.parametrize("key", sorted(TERMS))
def test_every_term_prints_from_the_table(key):
    assert latex(term(key)) == TERMS[key].latex
    assert text(term(key)) == TERMS[key].text


def test_a_form_fills_its_template_with_the_printed_arguments():
    mu, lam = sp.Symbol("mu"), sp.Symbol("lam")
    assert latex(form("fisher", mu)) == r"\mathcal{I}(\mu)"
    assert text(form("fisher", mu)) == "I(μ)"
    assert latex(form("best_constant", lam)) == r"\hat{\lambda}_{\text{const}}"
    assert latex(form("moment", mu**2)) == r"\mathbb{E}[\mu^{2}]"
    assert text(sp.Eq(form("fisher", mu), form("expected_neg_hessian", mu), evaluate=False)) == "I(μ) = E[-d2 log p / d μ^2]"
    assert set(FORMS) >= {"loss_i", "score", "hessian", "fisher", "normaliser_of", "vae_loss"}


def test_an_unknown_name_is_an_error():
    with pytest.raises(KeyError):
        term("no_such_term")
    with pytest.raises(KeyError):
        form("no_such_form", sp.Symbol("x"))


def test_a_step_is_data():
    from symlik.core.step import Step, reason

    with pytest.raises(TypeError):
        Step("t", sp.Symbol("x"), reason("why"), r"\ell_i")
    with pytest.raises(TypeError):
        Step("t", sp.Symbol("x"), "a string reason with $x$")


def test_a_function_argument_prints_in_textbook_order_whatever_sympy_cached():
    # besseli evaluates its order into canonical form (-2 + D/2); rebuilt evaluated, the
    # printed order then depended on what SymPy's cache held, and derivations/ differed
    # between a fresh process and one that had built the same Bessel function before.
    D, x = sp.symbols("D x", positive=True)
    expr = sp.besseli(D / 2 - 2, x)
    sp.core.cache.clear_cache()
    fresh = latex(expr)
    sp.besseli(sp.Add(-2, D / 2), x)  # the canonical object, now in the cache
    assert latex(expr) == fresh
    assert text(expr) == "besseli(D/2 - 2, x)"
