"""Rendering: every format for every entry; the LaTeX compiles with pdflatex."""

import subprocess

import pytest
from conftest import needs_pdflatex

import symlik

PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath,amssymb,graphicx}
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


@pytest.mark.slow  # 20 s of pdflatex; the book's test (slow too) compiles every derivation as well
@needs_pdflatex
def test_all_latex_compiles(tmp_path):
    from symlik.apps.catalog import all_derivations

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


def _beyond_the_catalog():
    """Derivations and documents whose reasons the catalog fixture does not reach."""
    import numpy as np

    from symlik.apps.derivations import documents

    explained = [symlik.derive("normal", predict=("mu", "sigma")).explained(), symlik.derive("laplace").explained(),
                 symlik.derive("bernoulli", link="logit").explained(), symlik.derive("categorical", link="softmax").explained()]
    options = [
        symlik.derive("categorical", link="softmax").with_options(label_smoothing=0.1, class_weight=np.ones(3), ignore_index=0),
        symlik.derive("bernoulli", link="logit").with_options(pos_weight=2.0),
        symlik.derive("bernoulli").with_options(soft_targets=True),
        symlik.derive("normal", predict=("mu", "sigma")).with_options(eps=1e-6, full=True),
        symlik.derive("poisson").with_options(eps=1e-8, full=True),
        symlik.derive("poisson").with_options(exact=True),
    ]
    return [*explained, *options, *documents()]


@pytest.mark.slow  # derives the custom and KL documents: 25 s
def test_every_reason_beyond_the_catalog_reads_as_plain_text():
    from symlik.core.document import Document
    from symlik.render import reason_text

    for d in _beyond_the_catalog():
        # A reason's math is named as in its derivation's steps; a document uses the notation alone.
        reasons = [reason_text(step.why, None if isinstance(d, Document) else d) for step in d.steps]
        assert all(r in d.to_text() for r in reasons), d.slug
        assert not [r for r in reasons if any(mark in r for mark in ("\\", "$", "{", "}"))], d.slug


@needs_pdflatex
@pytest.mark.slow  # pdflatex on the documents beyond the catalog: 17 s
def test_latex_beyond_the_catalog_compiles_and_fits(tmp_path):
    """The reasons' inline math is valid LaTeX, and long formulas in a reason break at the margin."""
    body = "\n".join(r"\section*{%d}" % n + "\n" + d.to_latex() for n, d in enumerate(_beyond_the_catalog()))
    (tmp_path / "more.tex").write_text(PREAMBLE + body + "\n\\end{document}\n")
    r = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "more.tex"], cwd=tmp_path, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout[-3000:]
    assert "Overfull \\hbox" not in (tmp_path / "more.log").read_text(encoding="latin-1")


def test_sympy_latex_in_a_reason_reads_as_plain_text():
    import sympy as sp

    from symlik.render.prose import inline, prose_text

    y, mu, gamma, z = sp.symbols("y mu gamma z", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    y_i, mu_i = sp.IndexedBase("y")[i], sp.IndexedBase("mu")[i]
    assert prose_text(inline(1 / (2 * sigma**2))) == "1/(2 σ^2)"
    assert prose_text(inline(sp.log(1 + (y - mu) ** 2 / gamma**2))) == "log(1 + (y - μ)^2/γ^2)"
    assert prose_text(inline((y_i - mu_i) ** 2)) == "(y_i - μ_i)^2"  # not (-μ_i + y_i)^2
    assert prose_text(inline(sp.Sum(y_i, (i, 1, sp.Symbol("n"))) / sp.Symbol("n"))) == "(Σ_(i=1)^n y_i)/n"
    assert prose_text(inline(sp.log(sp.cosh(z)) - z)) == "log(cosh(z)) - z"  # positive terms first
    k, C = sp.Symbol("k", integer=True, positive=True), sp.Symbol("C", integer=True, positive=True)
    double = sp.Sum(sp.IndexedBase("y")[i, k], (i, 1, sp.Symbol("n")), (k, 1, C))  # SymPy writes \substack
    assert prose_text(inline(double)) == "Σ_(1 ≤ i ≤ n, 1 ≤ k ≤ C) y_(i,k)"
    lam = sp.Symbol("lam", positive=True)
    assert prose_text(inline(lam / 2, {lam: r"\lambda"})) == "λ/2"


def test_a_piecewise_in_a_reason_is_one_line():
    import sympy as sp

    from symlik.render.prose import inline, prose_text

    r, beta = sp.Symbol("r", real=True), sp.Symbol("beta", positive=True)
    shown = inline(sp.Piecewise((r**2 / (2 * beta), sp.Abs(r) < beta), (sp.Abs(r) - beta / 2, True)))
    assert "cases" not in shown
    text = prose_text(shown)
    assert text.startswith("r^2/(2 β) if |r| < β, ") and text.endswith(" otherwise")


def test_inline_math_from_sympy_has_no_unbreakable_groups():
    """\\left( \\right) and SymPy's braces around a function's argument would each make one box
    TeX cannot break at the end of a line."""
    import sympy as sp

    from symlik.render.prose import inline

    y, mu, c = sp.symbols("y mu c", real=True)
    shown = inline(sp.log(1 + sp.cosh((y - mu) / c) ** 2) + sp.Abs(y - mu))
    assert r"\left" not in shown and r"\right" not in shown and "{(" not in shown


def _reason(d, title_start):
    """The reason of the step whose title starts so, typeset as LaTeX (the prose unescaped)."""
    from symlik.render.common import display_names
    from symlik.render.prose import prose_latex

    why = next(s.why for s in d.steps if s.title.startswith(title_start))
    return prose_latex(why, lambda t: t, lambda e: display_names(d, e))


def test_the_link_reason_states_only_its_own_identities():
    from symlik.render.prose import prose_text

    logit = _reason(symlik.derive("bernoulli", link="logit"), "Apply the logit link")
    softmax = _reason(symlik.derive("categorical", link="softmax"), "Apply the softmax link")
    log = _reason(symlik.derive("poisson", link="log"), "Apply the log link")
    assert "softmax" not in logit and "log σ(z) = -log(1 + e^(-z))" in prose_text(logit)
    assert "log(1 - σ(z)) = -log(1 + e^z)" in prose_text(logit)
    assert r"\sigma" not in softmax and "log softmax(z)_k = " in prose_text(softmax)
    assert r"\sigma" not in log and "softmax" not in log and "λ = e^z" in prose_text(log) and "log λ = z" in prose_text(log)


def test_the_identify_reason_typesets_the_template_and_the_scale():
    from symlik.render.prose import prose_text

    normal = _reason(symlik.derive("normal"), "Identify the loss")
    assert r"\frac{1}{2 \sigma^{2}}" in normal and "sigma**2" not in normal
    assert "of (y_i - μ_i)^2:" in prose_text(normal) and "scale = 1/(2 σ^2) > 0" in prose_text(normal)
    t = prose_text(_reason(symlik.derive("student_t"), "Identify the loss"))
    assert "log(1 + (y_i - μ_i)^2/c)" in t and "(c = ν σ^2)" in t  # the template's inner c, then its value
    binomial = prose_text(_reason(symlik.derive("binomial"), "Identify the loss"))
    assert "scale_i = n_i > 0" in binomial


def test_every_symlik_function_prints_a_power_of_itself():
    # SymPy prints f(x)^k through f._latex(printer, exp=k); a Hessian squares XExp and others
    import inspect

    import sympy as sp

    from symlik.core import functions

    x = sp.Symbol("x", positive=True)
    for cls in vars(functions).values():
        if not (isinstance(cls, type) and issubclass(cls, sp.Function) and cls.__module__ == functions.__name__):
            continue
        if "_latex" not in cls.__dict__ or cls is functions.LossSymbol:
            continue
        params = inspect.signature(cls._latex).parameters
        assert "exp" in params, cls.__name__
        n = min(cls.nargs) if isinstance(cls.nargs, sp.FiniteSet) else 2  # (Naturals0: any count)
        f = cls(*[x + i for i in range(max(int(n), 1))], evaluate=False)
        text = sp.latex(f**3)
        assert text.endswith("^{3}") and "exp" not in text, (cls.__name__, text)
