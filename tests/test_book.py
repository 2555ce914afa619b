"""The typeset book: pdflatex builds it with no error and no overfull box, and long formulas break.

The oracle for "fits on the page" is TeX itself: its log reports every overfull box.
"""

import re
import subprocess

import pytest
from conftest import needs_pdflatex

import symlik
from symlik.render.breaking import estimate_width, pieces
from symlik.apps.book import overfull_boxes, pdflatex_errors
from symlik.render.common import latex

PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage{amsmath,amssymb,graphicx}
\usepackage[a4paper,margin=2.5cm]{geometry}
\begin{document}
"""


def _student_t(predict):
    import sympy as sp

    y, m = sp.symbols("y m", real=True)
    s, nu = sp.symbols("sigma nu", positive=True)
    density = sp.gamma((nu + 1) / 2) / (sp.gamma(nu / 2) * sp.sqrt(nu * sp.pi) * s) * (
        1 + (y - m) ** 2 / (nu * s**2)
    ) ** (-(nu + 1) / 2)
    spec = symlik.custom("long_t", density=density, observed=y, params={m: "real", s: "positive", nu: "positive"})
    return symlik.derive(spec, predict=predict)


def _pdflatex(tmp_path, body):
    (tmp_path / "doc.tex").write_text(PREAMBLE + body + "\n\\end{document}\n")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                       capture_output=True, text=True, errors="replace")
    return r, (tmp_path / "doc.log").read_text(encoding="latin-1")


def test_long_step_is_cut_into_lines():
    d = _student_t(("m", "sigma", "nu"))
    tex = d.to_latex()
    assert r"&\quad" in tex  # at least one formula needed a second line
    for line in tex.splitlines():
        if "&" in line and not line.startswith(r"\intertext"):
            assert estimate_width(line.replace(r"\\", "")) < 90, line


def test_a_short_formula_stays_one_piece():
    d = symlik.derive("normal")
    assert pieces(d.loss.expr, lambda e: latex(d, e)) == [latex(d, d.loss.expr)]


@needs_pdflatex
@pytest.mark.slow  # pdflatex on the longest derivations: 13 s
def test_long_derivations_fit_the_page(tmp_path):
    """Without breaking, the Student-t steps run ~150pt into the margin; broken, TeX reports none."""
    body = "\n".join(_student_t(p).to_latex() for p in [("m",), ("m", "sigma"), ("m", "sigma", "nu")])
    r, log = _pdflatex(tmp_path, body)
    assert r.returncode == 0 and not pdflatex_errors(log), r.stdout[-2000:]
    assert not overfull_boxes(log), overfull_boxes(log)


@needs_pdflatex
def test_piecewise_steps_and_wide_left_sides_fit_the_page(tmp_path):
    """A gradient of a piecewise loss, -(cases)/N, ran 137pt into the margin (zero-inflated NB): its
    cases now break inside. A continuation line starts after the widest left-hand side of the align,
    not its own (the beta regression's ran 2.4pt over)."""
    ds = [symlik.derive("zero_inflated_negative_binomial"),
          symlik.derive("beta_mean_precision", predict=("mu", "phi"), link={"mu": "logit"})]
    tex = "\n".join(d.to_latex() for d in ds)
    assert r"\begin{aligned}[t]" in tex  # at least one case needed a second line
    r, log = _pdflatex(tmp_path, tex)
    assert r.returncode == 0 and not pdflatex_errors(log), r.stdout[-2000:]
    assert not overfull_boxes(log), overfull_boxes(log)


@needs_pdflatex
def test_width_estimate_tracks_tex(tmp_path):
    """estimate_width is within a factor of the width TeX measures, for the pieces breaking relies on."""
    items = []
    for d in [_student_t(("m", "sigma", "nu")), symlik.derive("categorical", link="softmax"),
              symlik.derive("normal", predict=("mu", "sigma"))]:
        for step in d.steps:
            items += pieces(step.expr, lambda e: latex(d, e), 25)
    items = [i.replace(r"\biggl(", "(").replace(r"\biggr)", ")") for i in dict.fromkeys(items)]
    body = [r"\newsavebox\piece"]
    body += [r"\sbox\piece{$\displaystyle %s$}\typeout{W:%d:\the\wd\piece}" % (t, n) for n, t in enumerate(items)]
    r, log = _pdflatex(tmp_path, "\n".join(body))
    widths = {int(a): float(b) for a, b in re.findall(r"W:(\d+):([\d.]+)pt", r.stdout)}
    assert len(widths) == len(items)
    ratios = [widths[n] / estimate_width(t) for n, t in enumerate(items) if estimate_width(t) > 3]
    # DEFAULT_BUDGET (70) assumes at most ~6pt per unit: 70 * 6pt fits a 453pt A4 text width.
    assert 3.5 < min(ratios) and max(ratios) < 6.2, (min(ratios), max(ratios))


def _has_book_packages():
    import shutil

    kpsewhich = shutil.which("kpsewhich")
    return kpsewhich is not None and all(
        subprocess.run([kpsewhich, f"{name}.sty"], capture_output=True).returncode == 0
        for name in ("lmodern", "booktabs", "listings", "xcolor", "microtype", "longtable", "hyperref")
    )


@needs_pdflatex
@pytest.mark.skipif(not _has_book_packages(), reason="the book needs lmodern and texlive-latex-recommended")
@pytest.mark.slow
def test_book_builds_without_errors_or_overfull_boxes(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("latexify")
    from symlik.apps.cli import main

    assert main(["derive", "--all", "--format", "pdf", "--out", str(tmp_path)]) == 0
    pdf = tmp_path / "symlik.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    log = (tmp_path / "symlik.log").read_text(encoding="utf-8")
    assert not pdflatex_errors(log)
    assert not overfull_boxes(log), overfull_boxes(log)
    assert not re.search(r"Reference .* undefined", log)  # every \hyperref in the catalog table resolves
    # every catalog entry has its section, figure and kernel in the book
    chapters = {p.stem: p.read_text() for p in (tmp_path / "book").glob("*.tex")}
    from symlik.apps.catalog import all_derivations

    for d in all_derivations():
        text = chapters[d.spec.name]
        assert r"\input{%s}" % d.slug in text and r"\symlikfigure{%s}" % d.slug in text
        assert (tmp_path / "figures" / f"{d.slug}.pdf").exists()
        assert "lstlisting" in text


def test_pdf_format_goes_with_all(capsys):
    from symlik.apps.cli import main

    assert main(["derive", "normal", "--format", "pdf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--all" in err
