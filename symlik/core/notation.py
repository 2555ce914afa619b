"""Notation shared by every derivation: the observation index and count."""

from __future__ import annotations

import sympy as sp

OBS = sp.Symbol("i", integer=True, positive=True)  # the observation index
N_OBS = sp.Symbol("n", integer=True, positive=True)  # the number of observations


class Shown(sp.Symbol):
    """A symbol that prints as given LaTeX / text: for named quantities such as ELBO or E_q[...]."""

    _shown: dict = {}

    def __new__(cls, text: str, latex: str):
        obj = super().__new__(cls, text)
        cls._shown[text] = latex
        return obj

    def _latex(self, printer):
        return self._shown.get(self.name, self.name)
