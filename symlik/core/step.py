"""Step and its reason: one line of a derivation, as data (the renderers typeset it).

A reason is prose and math in reading order: a tuple of ``str`` fragments
(plain prose, no markup) and ``Math`` fragments (a SymPy expression). The
layers that derive never write LaTeX; symlik.render typesets each ``Math``
with the display names of symlik.core.notation, as LaTeX, Markdown or text.
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
    """One line of the argument: ``lhs = expr``, with a one-line reason ``why``.

    ``why`` is a reason (a tuple of ``str`` and ``Math``; see ``reason``).
    """

    title: str
    expr: sp.Expr
    why: tuple | str
    lhs: str | None = None  # LaTeX of the left-hand side
    lhs_text: str | None = None  # plain-text left-hand side
