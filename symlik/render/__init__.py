"""Derivation / Document -> LaTeX / Markdown / text. Rendering never derives and never compiles."""

from __future__ import annotations

from symlik.core.document import Document
from symlik.render import document, latex, markdown, text
from symlik.render.common import display_names
from symlik.render.prose import prose_text


def present(obj, form: str) -> str | None:
    """``obj`` (a Derivation or a Document) typeset as ``form``: "latex", "markdown", "text",
    or "display" (the display math alone, for Jupyter; None for a Document, which has none)."""
    if isinstance(obj, Document):
        renderers = {"latex": document.render_latex, "markdown": document.render_markdown, "text": document.render_text}
        return renderers[form](obj) if form in renderers else None
    renderers = {"latex": latex.render, "markdown": markdown.render, "text": text.render, "display": latex.render_display}
    return renderers[form](obj)


def reason_text(why, derivation=None) -> str:
    """A reason (prose and Math) as plain text, its math named as in ``derivation``'s steps."""
    return prose_text(why, (lambda expr: display_names(derivation, expr)) if derivation is not None else None)
