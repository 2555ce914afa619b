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


# -- reasons: prose with inline $math$ -------------------------------------------------
def test_inline_math_in_a_reason_becomes_plain_text():
    from symlik.render.prose import prose_text

    assert prose_text(r"softplus: $\log(1 + e^{-z})$ at $\sigma^2$") == "softplus: log(1 + e^(-z)) at σ^2"
    assert prose_text(r"scale $\frac{1}{2\sigma^2}$, $p(y \mid \theta)$") == "scale 1/(2σ^2), p(y | θ)"
    assert prose_text("no math, 100% text") == "no math, 100% text"


def test_inline_math_stays_math_in_latex_and_the_prose_is_escaped():
    from symlik.render.latex import escape
    from symlik.render.prose import prose_latex

    assert prose_latex(r"50% of $\sigma_k^2$ & more", escape) == r"50\% of $\sigma_k^2$ \& more"


def test_an_unpaired_dollar_is_an_error():
    from symlik.render.prose import prose_text

    with pytest.raises(ValueError, match=r"unpaired \$"):
        prose_text("costs $5")


def test_every_reason_of_the_catalog_reads_as_plain_text(derivation):
    from symlik.render.prose import prose_text

    reasons = [prose_text(step.why) for step in derivation.steps]
    assert all(r in derivation.to_text() for r in reasons)
    leftovers = [r for r in reasons if any(mark in r for mark in ("\\", "$", "{", "}"))]
    assert not leftovers
