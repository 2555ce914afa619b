"""Derivation -> LaTeX: one ``align*`` environment (amsmath) with \\intertext reasons.

Long right-hand sides break across lines at the structure of the expression
(render/breaking.py), so that a derivation pasted into a paper stays inside
the margins. A piece that no break can narrow enough (a 4-component mixture's
gradient) is scaled down with graphicx's \\scalebox, and the file then says
that it needs graphicx.
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


# The widest left-hand side, as a share of the budget: a longer one (the argmin over a 4-component
# mixture's 12 parameters) is scaled down, or it would leave the right-hand sides no room.
_LHS_SHARE = 0.4
# The budget keeps lines about 10 estimated characters inside the page (455 pt of text at about
# 5.6 pt per character), for the estimate's error; only a row beyond that margin must shrink.
_MARGIN = 10
# estimate_width is within about 15% of TeX's width (it undercounts subscripted lists); a scaled
# row aims that far inside the page.
_SCALE_MARGIN = 0.85


def fitted(tex: str, room: float, margin: float = _MARGIN) -> str:
    """``tex`` as it is where it fits in ``room`` (and the margin), else scaled down to fit
    (graphicx's \\scalebox): a product that the breaker cannot cut (a mixture's gradient) must
    still stay within the page."""
    width = estimate_width(tex)
    if width <= room + margin:
        return tex
    return r"\scalebox{%.2f}{$\displaystyle %s$}" % (_SCALE_MARGIN * (room + margin) / width, tex)


def _lhs(d, step, budget: float) -> str:
    return fitted(lhs_latex(step, lambda e: display_names(d, e)), _LHS_SHARE * budget, margin=0)


def step_lines(d, step, budget: float = DEFAULT_BUDGET, column: float = 0.0, margin: float = _MARGIN) -> list[str]:
    """``column``: the widest left-hand side of the align. Its continuation lines start after that
    column, not after this step's own left-hand side, so they get only the rest of the budget.
    ``margin``: how far past the budget a row may run before it is scaled (``fitted``)."""
    lhs = _lhs(d, step, budget)
    column = max(column, _width(lhs))
    rhs = broken(step.expr, lambda e: latex(d, e), budget - column, first=2)
    room = budget - column - 2  # 2: the relation, or the \quad of a continuation line
    return aligned_lines(lhs, [fitted(line, room, margin) for line in rhs], step.relation)


def _width(tex: str) -> float:
    """The estimated width, a scaled box's at its scale."""
    if tex.startswith(r"\scalebox{"):
        factor = float(tex[len(r"\scalebox{") : tex.index("}")])
        return factor * estimate_width(tex[tex.index("}") + 1 :])
    return estimate_width(tex)


def _lhs_column(d, budget: float = DEFAULT_BUDGET) -> float:
    return max((_width(_lhs(d, s, budget)) for s in d.steps), default=0.0)


def identity_lines(d, budget: float = DEFAULT_BUDGET, column: float = 0.0, margin: float = _MARGIN) -> list[str]:
    """-log p = scale * (loss) + offset, broken like a step (``column``, ``margin``: as for step_lines)."""
    lhs = r"-\log p"
    column = max(column, estimate_width(lhs))
    parts = identity_parts(d, lambda e: pieces(e, lambda x: latex(d, x), budget - column - 4))
    room = budget - column - 2
    return aligned_lines(lhs, [fitted(line, room, margin) for line in pack(parts, room, first=0)])


def render(d, budget: float = DEFAULT_BUDGET) -> str:
    lines = _lines(d, budget, _MARGIN)
    if any(r"\scalebox{" in line for line in lines):
        # Rows too wide to break are dense (fractions in exponents, where estimate_width runs up to
        # 20% short): in such a derivation no row gets the margin's benefit of the doubt.
        lines = _lines(d, budget, 0)
        lines.insert(1, "% needs graphicx (\\usepackage{graphicx}) besides amsmath: rows too wide for the page are scaled")
    return "\n".join(lines) + "\n"


def _lines(d, budget: float, margin: float) -> list[str]:
    lines = [f"% symlik derivation: {d.spec.label}, predict={', '.join(d.predict)}, link={d.link_label or 'identity'}"]
    column = _lhs_column(d, budget)
    for number, step in enumerate(d.steps, 1):
        reason = r"\textbf{%d. %s.} %s" % (number, escape(step.title, True), prose_latex(step.why, lambda t: escape(t, True), lambda e: display_names(d, e)))
        if number == 1:  # before the environment: an \intertext on its first row leaves a blank line
            lines += [r"\noindent " + reason, r"\begin{align*}"]
        else:
            lines.append(r"\intertext{%s}" % reason)
        lines += [line + r" \\" for line in step_lines(d, step, budget, column, margin)]
    lines.append(r"\intertext{\textbf{Proven identity} (per observation).}")
    identity = identity_lines(d, budget, column, margin)
    lines += [line + r" \\" for line in identity[:-1]] + identity[-1:]
    lines.append(r"\end{align*}")
    return lines


def render_display(d, budget: float = DEFAULT_BUDGET) -> str:
    """For Jupyter: the display-math lines only."""
    body = []
    for step in d.steps:
        body += step_lines(d, step, budget)
    return "$$\\begin{aligned}" + " \\\\ ".join(body) + r"\end{aligned}$$"
