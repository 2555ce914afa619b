"""Derivation -> LaTeX: one ``align*`` environment (amsmath) with \\intertext reasons."""

from __future__ import annotations

from .common import identity_latex, latex

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """Plain text -> LaTeX text mode."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def render(d) -> str:
    lines = [
        f"% symlik derivation: {d.spec.label}, predict={', '.join(d.predict)}, link={d.link or 'identity'}",
        r"\begin{align*}",
    ]
    for number, step in enumerate(d.steps, 1):
        lines.append(r"\intertext{\textbf{%d. %s.} %s}" % (number, escape(step.title), escape(step.why)))
        lhs = step.lhs or ""
        lines.append(r"%s &= %s \\" % (lhs, latex(d, step.expr)))
    lines.append(r"\intertext{\textbf{Proven identity} (per observation).}")
    lines.append(identity_latex(d).replace(" = ", " &= ", 1))
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


def render_display(d) -> str:
    """For Jupyter: the display-math lines only."""
    body = []
    for step in d.steps:
        body.append(r"%s &= %s" % (step.lhs or "", latex(d, step.expr)))
    return "$$\\begin{aligned}" + r" \\ ".join(body) + r"\end{aligned}$$"
