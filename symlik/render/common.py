"""What every renderer needs: symbol names for display and the summary lines."""

from __future__ import annotations

import sympy as sp

from ..distributions.base import LATEX_NAMES


def display_names(d, expr) -> dict:
    """Symbol -> LaTeX name: link inputs show as z, 'lam' as lambda."""
    link_inputs = {n for n in d.predicted_inputs if n not in d.predict}
    names = {}
    for s in expr.atoms(sp.Symbol):
        if s.name in link_inputs:
            names[s] = "z"
        elif s.name in LATEX_NAMES and LATEX_NAMES[s.name] != s.name:
            names[s] = LATEX_NAMES[s.name]
    return names


def latex(d, expr) -> str:
    return sp.latex(expr, symbol_names=display_names(d, expr), order="none")


def summary_rows(d) -> list[tuple[str, str]]:
    rows = [
        ("distribution", d.spec.label),
        ("predict", ", ".join(d.predict)),
        ("link", d.link or "identity"),
        ("loss", d.loss.name or "none (its own NLL)"),
        ("scale", sp.sstr(d.scale)),
        ("offset", sp.sstr(d.offset)),
        ("inputs", ", ".join(d.inputs)),
    ]
    return rows


def identity_latex(d) -> str:
    """The proven identity, per observation: nll = scale * loss + offset."""
    loss = latex(d, d.loss.expr)
    return r"-\log p = %s \cdot \left(%s\right) + %s" % (latex(d, d.scale), loss, latex(d, d.offset))
