"""What every renderer of a Derivation needs: its symbols' display names, left-hand sides and summary lines."""

from __future__ import annotations

import sympy as sp

from symlik.core.algebra import tidy_logs
from symlik.core.step import Step
from symlik.render import printing

# A step's relation between its two sides, in LaTeX (core.step.RELATIONS).
RELATION_LATEX = {"=": "=", "≈": r"\approx", "≥": r"\geq", "≤": r"\leq"}


def display_names(d, expr) -> dict:
    """Symbol -> LaTeX, where this derivation shows a symbol its own way: a link's input
    (logits, log_lam) is written z. Every other name comes from the notation table."""
    shown = {z: p for z, p in zip(d.predicted_inputs, d.predict) if z != p}
    # a parameter named with a subscript (the multivariate normal's L_21, log_L_11) as its distribution writes it
    spec = getattr(d, "spec", None)  # (the passes' tests hand in only the predicted names)
    own = {s: spec.latex_name(s.name) for s in expr.atoms(sp.Symbol)
           if spec is not None and "_" in s.name and s.name in spec.param_names}
    if len(shown) > 1:  # a link per parameter: z_mu, z_sigma tell the network's outputs apart
        return {**own, **{s: r"z_{%s}" % d.spec.latex_name(shown[s.name]) for s in expr.atoms(sp.Symbol) if s.name in shown}}
    return {**own, **{s: "z" for s in expr.atoms(sp.Symbol) if s.name in shown}}


def latex(d, expr) -> str:
    """Display LaTeX of ``expr``, its symbols named as in the derivation."""
    return printing.latex(expr, display_names(d, expr))


def lhs_latex(step: Step, names_of=lambda e: {}) -> str:
    """The LaTeX of a step's left-hand side ("" for none)."""
    return "" if step.lhs is None else printing.latex(step.lhs, names_of(step.lhs))


def lhs_text(step: Step) -> str:
    """The plain text of a step's left-hand side ("" for none)."""
    return "" if step.lhs is None else printing.text(step.lhs)


def shown_offset(d) -> sp.Expr:
    """The offset as a reader expects it: rational multiples of logs under one log,
    log(sigma) + log(2)/2 + log(pi)/2 -> log(2*pi*sigma**2)/2 (exactly equal)."""
    return tidy_logs(d.offset)


def summary_rows(d) -> list[tuple[str, str]]:
    rows = [
        ("distribution", d.spec.label),
        ("predict", ", ".join(d.predict)),
        ("link", d.link_label or "identity"),
        ("loss", _loss_name(d)),
        ("scale", sp.sstr(d.scale)),
        ("offset", sp.sstr(shown_offset(d))),
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
    scale = printing.text(d.scale)
    if isinstance(d.scale, sp.Add):
        scale = f"({scale})"
    return f"-log p = {scale} * ({printing.text(d.loss.expr)}){_plus(printing.text(shown_offset(d)))}"

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
        offset = pieces_of(shown_offset(d))
        first = offset[0]
        offset[0] = first if first.lstrip().startswith("-") else "+ " + first
        parts += offset
    return parts
