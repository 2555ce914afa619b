"""Derivation -> Markdown with ``$$ ... $$`` display math (KaTeX / MathJax friendly)."""

from __future__ import annotations

from .common import identity_latex, latex, summary_rows


def render(d) -> str:
    loss = d.loss.name or "no familiar loss (its own NLL)"
    out = [f"# {d.spec.title}: {', '.join(d.predict)}" + (f" with the {d.link} link" if d.link else ""), ""]
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
        out.append(step.why)
        out.append("")
        out.append("$$")
        out.append(f"{step.lhs + ' = ' if step.lhs else ''}{latex(d, step.expr)}")
        out.append("$$")
        out.append("")
    out.append("## Proven identity")
    out.append("")
    out.append("$$")
    out.append(identity_latex(d))
    out.append("$$")
    out.append("")
    return "\n".join(out)
