"""Step: one line of a derivation, as data (the renderers typeset it)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True)
class Step:
    """One line of the argument: ``lhs = expr``, with a one-line reason ``why``."""

    title: str
    expr: sp.Expr
    why: str
    lhs: str | None = None  # LaTeX of the left-hand side
    lhs_text: str | None = None  # plain-text left-hand side
