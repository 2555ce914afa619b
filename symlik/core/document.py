"""A worked derivation that is not a loss (a KL divergence, the VAE objective), as data.

A ``Document`` is a title, an introduction, summary rows and ordered
``Step``s; symlik.render typesets it like a loss derivation, so every file in
derivations/ reads alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symlik.core.presentation import Presentable


@dataclass(frozen=True)
class Document(Presentable):
    slug: str
    title: str
    intro: str
    steps: tuple
    summary: tuple = ()  # (key, value) rows
    result: sp.Expr | None = None
    extra: dict = field(default_factory=dict)
