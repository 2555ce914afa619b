"""Rendering: every format for every entry; the LaTeX compiles with pdflatex."""

import subprocess

import pytest
from conftest import needs_pdflatex

import symlik

PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath,amssymb}
\usepackage[margin=2cm]{geometry}
\begin{document}
"""


def test_every_format_renders(derivation):
    tex = derivation.to_latex()
    assert tex.count(r"\begin{align*}") == 1 and tex.count(r"\end{align*}") == 1
    md = derivation.to_markdown()
    assert md.count("$$") % 2 == 0 and md.count("$$") >= 2 * len(derivation.steps)
    text = derivation.to_text()
    assert "Proven identity" in text
    for step in derivation.steps:
        assert step.title in text and step.title in md


def test_markdown_and_text_show_the_loss_name():
    d = symlik.derive("laplace")
    assert "mae" in d.to_markdown() and "mae" in d.to_text()


def test_jupyter_repr():
    d = symlik.derive("normal")
    assert d._repr_latex_().startswith("$$")


@needs_pdflatex
def test_all_latex_compiles(tmp_path):
    from symlik.catalog import all_derivations

    body = "\n".join(r"\section*{%s}" % d.slug + "\n" + d.to_latex() for d in all_derivations())
    (tmp_path / "all.tex").write_text(PREAMBLE + body + "\n\\end{document}\n")
    r = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "all.tex"], cwd=tmp_path, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout[-3000:]
    assert (tmp_path / "all.pdf").exists()


def test_jupyter_markdown_repr_is_the_markdown_rendering():
    d = symlik.derive("bernoulli", link="logit")
    assert d._repr_markdown_() == d.to_markdown()


def test_kernel_repr_shows_inputs_backend_and_formula():
    k = symlik.compile("normal", predict=("mu", "sigma"))
    text = repr(k)
    assert "(mu, sigma, y)" in text and "backend=numpy" in text and "log(sigma**2)/2" in text and "(-mu + y)**2" in text
    md = k._repr_markdown_()
    assert "`mu, sigma, y`" in md and "backend `numpy`" in md and md.count("$$") == 2
