"""What every renderer needs: symbol names for display and the summary lines."""

from __future__ import annotations

import sympy as sp

from symlik.model.distributions.base import LATEX_NAMES
from symlik.render import prose


def display_names(d, expr) -> dict:
    """Symbol -> LaTeX name: link inputs show as z, 'lam' as lambda."""
    return symbol_names(expr, {n for n in d.predicted_inputs if n not in d.predict})


def symbol_names(expr, link_inputs=()) -> dict:
    """Symbol -> LaTeX name, for an expression whose link inputs (by name) show as z."""
    names = {}
    for s in expr.atoms(sp.Symbol):
        if s.name in link_inputs:
            names[s] = "z"
        elif s.name in LATEX_NAMES and LATEX_NAMES[s.name] != s.name:
            names[s] = LATEX_NAMES[s.name]
    return names


def latex(d, expr) -> str:
    return sp.latex(expr, symbol_names=display_names(d, expr), order="none")


def inline(d, expr) -> str:
    """``expr`` as inline math for a reason (``$...$``), its symbols named as in the steps."""
    return prose.inline(expr, display_names(d, expr))


def inline_latex(d, expr) -> str:
    """The LaTeX inside ``inline(d, expr)``, for a reason that writes its own ``$...$`` around it."""
    return prose.inline_latex(expr, display_names(d, expr))


def summary_rows(d) -> list[tuple[str, str]]:
    rows = [
        ("distribution", d.spec.label),
        ("predict", ", ".join(d.predict)),
        ("link", d.link or "identity"),
        ("loss", _loss_name(d)),
        ("scale", sp.sstr(d.scale)),
        ("offset", sp.sstr(d.offset)),
        ("inputs", ", ".join(d.inputs)),
    ]
    return rows


def _loss_name(d) -> str:
    """The loss's name with the inner parameters the matcher solved for: pinball (tau = tau)."""
    if d.loss.name is None:
        return "none (its own NLL)"
    inner = ", ".join(f"{k} = {sp.sstr(v)}" for k, v in d.loss.inner.items())
    return f"{d.loss.name} ({inner})" if inner else d.loss.name


def _plus(text: str) -> str:
    """' + offset', or ' - offset' when the offset's text starts with a minus."""
    return f" - {text[1:].lstrip()}" if text.startswith("-") else f" + {text}"


def identity_text(d) -> str:
    """The proven identity in plain text, per observation."""
    scale = sp.sstr(d.scale)
    if isinstance(d.scale, sp.Add):
        scale = f"({scale})"
    return f"-log p = {scale} * ({sp.sstr(d.loss.expr)}){_plus(sp.sstr(d.offset))}"

def _scale_latex(d) -> str:
    scale = latex(d, d.scale)
    return r"\left(%s\right)" % scale if isinstance(d.scale, sp.Add) else scale


def identity_parts(d, pieces_of) -> list[str]:
    """The right-hand side of -log p = scale * (loss) + offset, as breakable pieces.

    ``pieces_of(expr)`` cuts an expression into pieces (render/breaking.py).
    """
    loss = pieces_of(d.loss.expr)
    if d.scale == 1:  # no "1 \cdot (...)"
        parts = list(loss)
    elif len(loss) == 1:
        parts = [r"%s \cdot \left(%s\right)" % (_scale_latex(d), loss[0])]
    else:
        parts = list(loss)
        parts[0] = r"%s \cdot \biggl(%s" % (_scale_latex(d), parts[0])
        parts[-1] = parts[-1] + r"\biggr)"
    if d.offset != 0:
        offset = pieces_of(d.offset)
        first = offset[0]
        offset[0] = first if first.lstrip().startswith("-") else "+ " + first
        parts += offset
    return parts


def identity_latex(d) -> str:
    """The proven identity, per observation, on one line: nll = scale * loss + offset."""
    return r"-\log p = " + " ".join(identity_parts(d, lambda e: [latex(d, e)]))
