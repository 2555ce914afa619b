"""Derivation -> HTML, for notebook front ends that show HTML but not LaTeX or Markdown reprs.

The structure is markdown.render's (title, summary table, one section per step, the proven
identity); the math is LaTeX between \\[ \\] and \\( \\), which MathJax or KaTeX typeset where
the front end has them, and which reads as LaTeX source where it has not.
"""

from __future__ import annotations

import html
import re

from symlik.render.breaking import estimate_width, pack, pieces
from symlik.render.common import display_names, identity_parts, latex, summary_rows
from symlik.render.latex import aligned_lines
from symlik.render.markdown import formula
from symlik.render.prose import prose_markdown

_INLINE_MATH = re.compile(r"\$([^$]+)\$")
_CODE = re.compile(r"`([^`]+)`")


def _math_block(markdown_display: str) -> str:
    """``$$ ... $$`` (markdown.display's output) as an HTML display-math block."""
    body = markdown_display.strip().removeprefix("$$").removesuffix("$$").strip()
    return f'<div class="symlik-math">\\[{html.escape(body)}\\]</div>'


def _prose(markdown_text: str) -> str:
    escaped = html.escape(markdown_text)
    escaped = _INLINE_MATH.sub(lambda m: f"\\({m.group(1)}\\)", escaped)
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)


def render(d) -> str:
    title = f"{d.spec.title}: {', '.join(d.predict)}" + (f" with the {d.link} link" if d.link else "")
    out = ['<div class="symlik-derivation">', f"<h3>{html.escape(title)}</h3>", "<table>"]
    for key, value in summary_rows(d):
        out.append(f"<tr><th>{html.escape(key)}</th><td><code>{html.escape(str(value))}</code></td></tr>")
    out.append("</table>")
    for number, step in enumerate(d.steps, 1):
        out.append(f"<h4>{number}. {html.escape(step.title)}</h4>")
        out.append(f"<p>{_prose(prose_markdown(step.why, lambda e: display_names(d, e)))}</p>")
        out.append(_math_block(formula(d, step)))
    out.append("<h4>Proven identity</h4>")
    parts = identity_parts(d, lambda e: pieces(e, lambda x: latex(d, x)))
    lines = aligned_lines(r"-\log p", pack(parts, first=estimate_width(r"-\log p") + 2))
    body = lines[0] if len(lines) == 1 else "\\begin{aligned}" + " \\\\ ".join(lines) + "\\end{aligned}"
    out.append(f'<div class="symlik-math">\\[{html.escape(body.replace(" &= ", " = ", 1) if len(lines) == 1 else body)}\\]</div>')
    out.append("</div>")
    return "\n".join(out)
