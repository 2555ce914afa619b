"""A worked derivation that is not a loss (a KL divergence, the VAE objective) -> Markdown / LaTeX / text.

A ``Document`` is a title, an introduction, summary rows and ordered
``Step``s; the renderers mirror those for a loss derivation (``latex.py``,
``markdown.py``, ``text.py``) so every file in derivations/ reads alike.
"""

from __future__ import annotations


from symlik.core.document import Document
from symlik.render import printing
from symlik.render.common import RELATION_LATEX, lhs_latex, lhs_text
from symlik.render.latex import escape
from symlik.render.prose import prose_latex, prose_markdown, prose_text


def latex(expr) -> str:
    return printing.latex(expr)


def _no_names(expr) -> dict:
    return {}


def _joined(step, body: str) -> str:
    """lhs = body (or lhs \\approx body, ...); the body alone without an lhs."""
    lhs = lhs_latex(step)
    if not lhs:
        return body
    return f"{lhs} {RELATION_LATEX[step.relation]} {body}"


def _aligned(step, body: str) -> str:
    """lhs &= body (or lhs &\\approx body, ...), a row of an align*."""
    lhs = lhs_latex(step)
    return r"%s &%s %s" % (lhs, RELATION_LATEX[step.relation], body)


def render_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", doc.intro, ""]
    if doc.summary:
        out += ["| | |", "|---|---|"]
        out += [f"| {k} | `{v}` |" for k, v in doc.summary]
        out.append("")
    for number, step in enumerate(doc.steps, 1):
        out += [f"## {number}. {step.title}", "", prose_markdown(step.why, _no_names), "", "$$"]
        out.append(_joined(step, latex(step.expr)))
        out += ["$$", ""]
    return "\n".join(out)


def render_latex(doc: Document) -> str:
    lines = [f"% symlik derivation: {doc.title}", r"\begin{align*}"]
    lines.append(r"\intertext{%s}" % escape(doc.intro))
    for number, step in enumerate(doc.steps, 1):
        lines.append(r"\intertext{\textbf{%d. %s.} %s}" % (number, escape(step.title, True), prose_latex(step.why, lambda t: escape(t, True), _no_names)))
        lines.append(_aligned(step, latex(step.expr)) + r" \\")
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
        out += [f"{number}. {step.title}", f"   {prose_text(step.why, _no_names)}", ""]
        lhs = lhs_text(step)
        if lhs:
            lhs = f"{lhs} {step.relation}"
        body = printing.pretty(step.expr).splitlines()
        pad = " " * (len(lhs) + 4)
        mid = len(body) // 2
        out += [("   " + lhs + " " if j == mid else pad) + line for j, line in enumerate(body)]
        out.append("")
    return "\n".join(out) + "\n"
