"""Derivation / Document -> LaTeX / Markdown / text. Rendering never derives and never compiles."""

from __future__ import annotations

from html import escape as escape_html

from symlik.core.document import Document
from symlik.render import document, html, latex, markdown, text
from symlik.render.common import display_names
from symlik.render.prose import prose_text


def present(obj, form: str) -> str | None:
    """``obj`` (a Derivation or a Document) typeset as ``form``: "latex", "markdown", "text",
    "display" (the display math alone, for Jupyter; None for a Document, which has none) or
    "html" (for Jupyter front ends that show HTML; a Document's is its Markdown in a <pre>)."""
    if isinstance(obj, Document):
        renderers = {"latex": document.render_latex, "markdown": document.render_markdown, "text": document.render_text}
        if form == "html":
            return f"<pre>{escape_html(document.render_markdown(obj))}</pre>"
        return renderers[form](obj) if form in renderers else None
    renderers = {"latex": latex.render, "markdown": markdown.render, "text": text.render, "display": latex.render_display,
                 "html": html.render}
    return renderers[form](obj)


def reason_text(why, derivation=None) -> str:
    """A reason (prose and Math) as plain text, its math named as in ``derivation``'s steps."""
    return prose_text(why, (lambda expr: display_names(derivation, expr)) if derivation is not None else None)
