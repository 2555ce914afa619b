"""Derivation -> Markdown with ``$$ ... $$`` display math (KaTeX / MathJax friendly).

A formula too long for one line becomes an ``aligned`` block, broken at the
structure of the expression (render/breaking.py).
"""

from __future__ import annotations

from symlik.render.breaking import broken, estimate_width, pack, pieces
from symlik.render.common import RELATION_LATEX, display_names, identity_parts, latex, lhs_latex, summary_rows
from symlik.render.latex import aligned_lines
from symlik.render.prose import prose_markdown


def display(lines: list[str]) -> str:
    """``$$`` math from aligned lines (``lhs &= ...``); one line needs no ``aligned``."""
    if len(lines) == 1:
        line = lines[0].replace(" &= ", " = ", 1).replace("&= ", "= ", 1)
        for relation in RELATION_LATEX.values():  # lhs &\approx rhs -> lhs \approx rhs
            line = line.replace(f" &{relation} ", f" {relation} ", 1)
        return "$$\n" + line + "\n$$"
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$"


def formula(d, step) -> str:
    lhs = lhs_latex(step, lambda e: display_names(d, e))
    if not lhs:
        return display(broken(step.expr, lambda e: latex(d, e)))
    rhs = broken(step.expr, lambda e: latex(d, e), first=estimate_width(lhs) + 2)
    return display(aligned_lines(lhs, rhs, step.relation))


def render(d) -> str:
    loss = d.loss.name or "no familiar loss (its own NLL)"
    out = [f"# {d.spec.title}: {', '.join(d.predict)}" + (f" with the {d.link_label} link" if d.link else ""), ""]
    out.append(f"**Loss:** `{loss}`  ")
    out.append("")
    out.append("| | |")
    out.append("|---|---|")
    for key, value in summary_rows(d):
        out.append(f"| {key} | `{value}` |")
    out.append("")
    for number, step in enumerate(d.steps, 1):
        out.append(f"## {number}. {step.title}")
        out.append("")
        out.append(prose_markdown(step.why, lambda e: display_names(d, e)))
        out.append("")
        out.append(formula(d, step))
        out.append("")
    out.append("## Proven identity")
    out.append("")
    parts = identity_parts(d, lambda e: pieces(e, lambda x: latex(d, x)))
    out.append(display(aligned_lines(r"-\log p", pack(parts, first=estimate_width(r"-\log p") + 2))))
    out.append("")
    return "\n".join(out)
