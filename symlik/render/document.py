"""A worked derivation that is not a loss (a KL divergence, the VAE objective) -> Markdown / LaTeX / text.

A ``Document`` is a title, an introduction, summary rows and ordered
``Step``s; the renderers mirror those for a loss derivation (``latex.py``,
``markdown.py``, ``text.py``) so every file in derivations/ reads alike.
"""

from __future__ import annotations


import sympy as sp

from symlik.model.distributions.base import LATEX_NAMES
from symlik.core.document import Document
from symlik.render.latex import escape
from symlik.render.prose import inline_latex as prose_inline_latex
from symlik.render.prose import prose_latex, prose_markdown, prose_text


_EXTRA_NAMES = {"xhat": r"\hat{x}", "ell": r"\ell"}


def _latex_name(name: str) -> str | None:
    """lam -> \\lambda, and with a suffix lam_p -> \\lambda_{p}; None where SymPy's default is right."""
    if name in _EXTRA_NAMES:
        return _EXTRA_NAMES[name]
    if name in LATEX_NAMES and LATEX_NAMES[name] != name:
        return LATEX_NAMES[name]
    base, _, suffix = name.partition("_")
    if suffix and base in LATEX_NAMES and LATEX_NAMES[base] != base:
        return f"{LATEX_NAMES[base]}_{{{suffix}}}"
    return None


def _names(expr) -> dict:
    return {s: _latex_name(s.name) for s in expr.atoms(sp.Symbol) if _latex_name(s.name)}


def latex(expr) -> str:
    return sp.latex(expr, symbol_names=_names(expr), order="none")


def inline(expr) -> str:
    """``expr`` as inline math for a reason, its symbols named as in the steps (xhat -> \\hat{x})."""
    return "$%s$" % inline_latex(expr)


def inline_latex(expr) -> str:
    """The LaTeX inside ``inline(expr)``."""
    return prose_inline_latex(expr, _names(expr))


_RELATIONS = ("\\approx", "\\geq", "\\leq", "~", ">=", "<=")


def _joined(lhs: str | None, body: str) -> str:
    """lhs = body, unless the lhs already ends in a relation (approximately, at least...)."""
    if not lhs:
        return body
    return f"{lhs} {body}" if lhs.rstrip().endswith(_RELATIONS) else f"{lhs} = {body}"


def render_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", doc.intro, ""]
    if doc.summary:
        out += ["| | |", "|---|---|"]
        out += [f"| {k} | `{v}` |" for k, v in doc.summary]
        out.append("")
    for number, step in enumerate(doc.steps, 1):
        out += [f"## {number}. {step.title}", "", prose_markdown(step.why, _names), "", "$$"]
        out.append(_joined(step.lhs, latex(step.expr)))
        out += ["$$", ""]
    return "\n".join(out)


def render_latex(doc: Document) -> str:
    lines = [f"% symlik derivation: {doc.title}", r"\begin{align*}"]
    lines.append(r"\intertext{%s}" % escape(doc.intro))
    for number, step in enumerate(doc.steps, 1):
        lines.append(r"\intertext{\textbf{%d. %s.} %s}" % (number, escape(step.title, True), prose_latex(step.why, lambda t: escape(t, True), _names)))
        lhs = step.lhs or ""
        relation = next((r for r in _RELATIONS if lhs.rstrip().endswith(r)), None)
        if relation:
            lines.append(r"%s &%s %s \\" % (lhs.rstrip()[: -len(relation)], relation, latex(step.expr)))
        else:
            lines.append(r"%s &= %s \\" % (lhs, latex(step.expr)))
    lines[-1] = lines[-1].rstrip(" \\")
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


def render_text(doc: Document) -> str:
    out = [doc.title, "=" * len(doc.title), doc.intro, ""]
    for key, value in doc.summary:
        out.append(f"{key:>12}: {value}")
    if doc.summary:
        out.append("")
    for number, step in enumerate(doc.steps, 1):
        out += [f"{number}. {step.title}", f"   {prose_text(step.why, _names)}", ""]
        lhs = step.lhs_text or ""
        lhs = lhs if not lhs or lhs.rstrip().endswith(_RELATIONS) else lhs + " ="
        body = sp.pretty(step.expr, use_unicode=True, wrap_line=False).splitlines()
        pad = " " * (len(lhs) + 4)
        mid = len(body) // 2
        out += [("   " + lhs + " " if j == mid else pad) + line for j, line in enumerate(body)]
        out.append("")
    return "\n".join(out) + "\n"
