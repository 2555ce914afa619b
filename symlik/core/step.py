"""Step and its reason: one line of a derivation, as data (the renderers typeset it).

A reason is prose and math in reading order: a tuple of ``str`` fragments
(plain prose, no markup) and ``Math`` fragments (a SymPy expression). The
layers that derive never write LaTeX; symlik.render typesets each ``Math``
with the display names of symlik.core.notation, as LaTeX, Markdown or text.

Writing a step::

    from symlik.core.notation import N_OBS, form, term
    from symlik.core.step import Step, reason

    Step(
        "Negate",
        -sp.Sum(sp.log(density_i), (OBS, 1, N_OBS)),
        reason("Training minimises over the ", N_OBS, " observations, so negate."),
        lhs=form("nll_of", mu),            # an expression, shown with the notation's names
    )
    Step(title, expr, why, lhs=estimate, relation="≈")   # lhs ≈ expr
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import sympy as sp


@dataclass(frozen=True)
class Math:
    """Inline math in a reason: ``expr``, typeset by the renderer."""

    expr: sp.Basic


Fragment = Union[str, Math]


def listed(items) -> list:
    """Items for a reason, separated by commas: [a, ", ", b, ", ", c]."""
    out: list = []
    for item in items:
        out += [", ", item] if out else [item]
    return out


def reason(*parts) -> tuple:
    """A reason from fragments: strings stay prose, anything else becomes ``Math``; empty
    strings are dropped and neighbouring strings joined."""
    out: list = []
    for part in parts:
        if isinstance(part, tuple):  # a reason spliced into another
            for inner in part:
                _append(out, inner)
        else:
            _append(out, part)
    return tuple(out)


def _append(out: list, part) -> None:
    if isinstance(part, str):
        if not part:
            return
        if out and isinstance(out[-1], str):
            out[-1] += part
            return
        out.append(part)
    else:
        out.append(part if isinstance(part, Math) else Math(sp.sympify(part, strict=True)))


@dataclass(frozen=True)
class Step:
    """One line of the argument: ``lhs = expr`` (or ``lhs ≈ expr``, ...), with a one-line reason ``why``.

    ``why`` is a reason (a tuple of ``str`` and ``Math``; see ``reason``). ``lhs`` is a
    SymPy expression (or None: the expression stands alone). ``relation`` joins the two
    sides: one of ``RELATIONS``.
    """

    title: str
    expr: sp.Expr
    why: tuple
    lhs: sp.Basic | None = None
    relation: str = "="

    def __post_init__(self):
        if isinstance(self.why, str) or isinstance(self.lhs, str):
            raise TypeError("a step is data: why is a reason (see reason()), lhs an expression, not text")
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {', '.join(RELATIONS)}; got {self.relation!r}")


# How a step's two sides may be related (the renderers typeset each).
RELATIONS = ("=", "≈", "≥", "≤")
