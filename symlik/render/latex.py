"""Derivation -> LaTeX: one ``align*`` environment (amsmath) with \\intertext reasons.

Long right-hand sides break across lines at the structure of the expression
(render/breaking.py), so that a derivation pasted into a paper stays inside
the margins.
"""

from __future__ import annotations

from symlik.render.breaking import DEFAULT_BUDGET, broken, estimate_width, pack, pieces
from symlik.render.common import RELATION_LATEX, display_names, identity_parts, latex, lhs_latex
from symlik.render.prose import prose_latex

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}
# Abbreviations whose full stop does not end a sentence (TeX would put a sentence space after it).
_ABBREVIATIONS = ("i.i.d.", "e.g.", "i.e.", "cf.")


def escape(text: str, breakable: bool = False) -> str:
    """Plain text -> LaTeX text mode. ``breakable``: a line may break after an underscore
    (log_input=False is one word to TeX and would stick out of the margin)."""
    out = "".join(_ESCAPES.get(c, c) for c in text)
    if breakable:
        out = out.replace(r"\_", r"\_\allowbreak{}")
    for abbreviation in _ABBREVIATIONS:
        out = out.replace(abbreviation + " ", abbreviation + "\\ ")
    return out


def aligned_lines(lhs: str, rhs_lines: list[str], relation: str = "=") -> list[str]:
    """``lhs &= first`` then ``&\\quad more`` for each continuation line (no trailing ``\\\\``);
    ``relation``: one of core.step.RELATIONS."""
    out = [r"%s &%s %s" % (lhs, RELATION_LATEX[relation], rhs_lines[0])]
    out += [r"&\quad %s" % line for line in rhs_lines[1:]]
    return out


def step_lines(d, step, budget: float = DEFAULT_BUDGET, column: float = 0.0) -> list[str]:
    """``column``: the widest left-hand side of the align. Its continuation lines start after that
    column, not after this step's own left-hand side, so they get only the rest of the budget."""
    lhs = lhs_latex(step, lambda e: display_names(d, e))
    column = max(column, estimate_width(lhs))
    rhs = broken(step.expr, lambda e: latex(d, e), budget - column, first=2)
    return aligned_lines(lhs, rhs, step.relation)


def _lhs_column(d) -> float:
    return max((estimate_width(lhs_latex(s, lambda e: display_names(d, e))) for s in d.steps), default=0.0)


def identity_lines(d, budget: float = DEFAULT_BUDGET) -> list[str]:
    """-log p = scale * (loss) + offset, broken like a step."""
    lhs = r"-\log p"
    parts = identity_parts(d, lambda e: pieces(e, lambda x: latex(d, x), budget - 4))
    return aligned_lines(lhs, pack(parts, budget, first=estimate_width(lhs) + 2))


def render(d, budget: float = DEFAULT_BUDGET) -> str:
    lines = [f"% symlik derivation: {d.spec.label}, predict={', '.join(d.predict)}, link={d.link_label or 'identity'}"]
    column = _lhs_column(d)
    for number, step in enumerate(d.steps, 1):
        reason = r"\textbf{%d. %s.} %s" % (number, escape(step.title, True), prose_latex(step.why, lambda t: escape(t, True), lambda e: display_names(d, e)))
        if number == 1:  # before the environment: an \intertext on its first row leaves a blank line
            lines += [r"\noindent " + reason, r"\begin{align*}"]
        else:
            lines.append(r"\intertext{%s}" % reason)
        lines += [line + r" \\" for line in step_lines(d, step, budget, column)]
    lines.append(r"\intertext{\textbf{Proven identity} (per observation).}")
    identity = identity_lines(d, budget)
    lines += [line + r" \\" for line in identity[:-1]] + identity[-1:]
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


def render_display(d, budget: float = DEFAULT_BUDGET) -> str:
    """For Jupyter: the display-math lines only."""
    body = []
    for step in d.steps:
        body += step_lines(d, step, budget)
    return "$$\\begin{aligned}" + " \\\\ ".join(body) + r"\end{aligned}$$"
