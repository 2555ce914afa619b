"""Derivation -> plain text (Unicode pretty-printing), for terminals."""

from __future__ import annotations

import sympy as sp

from symlik.render import printing
from symlik.render.common import display_names, identity_text, lhs_text, summary_rows
from symlik.render.prose import prose_text

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _as_named_functions(expr):
    """Special functions as a reader writes them: besseli(0, kappa) -> I₀(kappa), for display only."""
    return expr.replace(
        lambda e: isinstance(e, sp.besseli) and e.args[0].is_Integer,
        lambda e: sp.Function("I" + str(e.args[0]).translate(_SUBSCRIPTS))(e.args[1]),
    )


def _pretty(expr) -> str:
    return printing.pretty(_as_named_functions(expr))


def render(d) -> str:
    out = [f"{d.spec.title}: predict {', '.join(d.predict)}" + (f", link {d.link_label}" if d.link else "")]
    out.append("=" * len(out[0]))
    for key, value in summary_rows(d):
        out.append(f"{key:>12}: {value}")
    out.append("")
    for number, step in enumerate(d.steps, 1):
        out.append(f"{number}. {step.title}")
        out.append(f"   {prose_text(step.why, lambda e: display_names(d, e))}")
        lhs = lhs_text(step)
        lhs = f"{lhs} {step.relation}" if lhs else ""
        body = _pretty(step.expr).splitlines()
        out.append("")
        pad = " " * (len(lhs) + 4)
        mid = len(body) // 2
        for j, line in enumerate(body):
            out.append(("   " + lhs + " " if j == mid else pad) + line)
        out.append("")
    out.append("Proven identity (per observation):")
    out.append(f"   {identity_text(d)}")
    return "\n".join(out) + "\n"
