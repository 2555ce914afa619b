"""The one presentation hook: ``to_latex()``, ``to_markdown()``, ``to_text()`` and Jupyter's
``_repr_*_`` methods of a Derivation or a Document.

Rendering sits above the layers that make derivations (render/ reads their
data; they never render). These methods are a convenience for users, so they
import the renderer when called, the way SymPy's ``Printable`` imports its
printers. This module is the only place below render/ that imports it: the
import-linter contract (.importlinter) names it as the one allowed exception,
and tests/test_layers.py allows its function-local imports and no others.
"""

from __future__ import annotations


class Presentable:
    """Mixin: typeset this object through symlik.render (imported on first use)."""

    def to_latex(self) -> str:
        from symlik.render import present

        return present(self, "latex")

    def to_markdown(self) -> str:
        from symlik.render import present

        return present(self, "markdown")

    def to_text(self) -> str:
        from symlik.render import present

        return present(self, "text")

    def _repr_latex_(self) -> str:
        """Jupyter: the derivation's display math (when the front end prefers LaTeX)."""
        from symlik.render import present

        return present(self, "display")

    def _repr_markdown_(self) -> str:
        """Jupyter: the whole derivation, reasons and math, as Markdown with $$ math."""
        return self.to_markdown()

    def _repr_html_(self) -> str:
        """Jupyter front ends that show HTML but not LaTeX or Markdown: headings, reasons, and the
        math as LaTeX in \\[ \\] (typeset where the front end has MathJax or KaTeX)."""
        from symlik.render import present

        return present(self, "html")



class ShownAsDocument:
    """Mixin: an object that builds a Document (``document()``: a KL divergence, an implied
    density) is typeset, and shown in Jupyter, as that Document."""

    def to_latex(self) -> str:
        return self.document().to_latex()

    def to_markdown(self) -> str:
        return self.document().to_markdown()

    def to_text(self) -> str:
        return self.document().to_text()

    def _repr_markdown_(self) -> str:
        return self.document()._repr_markdown_()

def reason_text(why, derivation=None) -> str:
    """A reason in plain text, its math named as in ``derivation``'s steps (an OptimalConstant's
    ``statement``): the renderer typesets it, imported when called, as above."""
    from symlik.render import reason_text as render_reason_text

    return render_reason_text(why, derivation)
