"""The one notation table: how every named symbol and quantity of a derivation is displayed.

Code that derives builds SymPy expressions from the objects below and never
formats; symlik.render's printers look each one up here, for LaTeX and for
plain text. Three kinds of object:

* an ordinary ``sp.Symbol`` keeps its own name (``Symbol("lam")``); ``SYMBOLS``
  says how a name is shown where SymPy's default is not right (lam -> λ).
  ``symbol_display(name)`` is the lookup (it also reads ``lam_p`` as λ_p).
* ``term(key)``: a named quantity with no arguments, e.g. ``term("nll")``
  (NLL), ``term("scale")``; shown as ``TERMS[key]``.
* ``form(key, *args)``: a named form applied to expressions, e.g.
  ``form("likelihood", mu, sigma)`` (𝓛(μ, σ)), ``form("log_of", x)`` (log x),
  ``form("sub", name, i)`` (name_i); shown by the templates ``FORMS[key]``.
* ``OperatorName(name)``: an operator named by data (a loss template's
  ``latex_name``, e.g. MSE), upright.

Example, a reason and a left-hand side (see symlik.core.step)::

    NLL = term("nll")
    reason("so ", sp.Eq(NLL, n * term("scale")), " is minimised")
    Step(title, expr, why, lhs=form("nll_of", mu))

To add notation, add an entry to the section of ``SYMBOLS``, ``TERMS`` or
``FORMS`` it belongs to (one entry a line, so that additions merge cleanly).
The observation index and count are defined here too (OBS, N_OBS).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

OBS = sp.Symbol("i", integer=True, positive=True)  # the observation index
N_OBS = sp.Symbol("n", integer=True, positive=True)  # the number of observations


@dataclass(frozen=True)
class Display:
    """How one name is shown: ``latex`` and ``text`` (Unicode plain text).

    For a form these are ``str.format`` templates over the printed arguments:
    ``{0}``, ``{1}``, ... one argument; ``{args}`` all of them (joined by ", ");
    ``{tail}`` all but the first (joined by ", " in LaTeX and "," in text).
    """

    latex: str
    text: str


# ---------------------------------------------------------------------------
# Symbols: a symbol's name -> its display, where SymPy's default is not right.
# ---------------------------------------------------------------------------
SYMBOLS: dict[str, Display] = {
    # distribution parameters
    "lam": Display(r"\lambda", "λ"),
    "rate": Display(r"\lambda", "λ"),
    # parameters that loss options add (see derivation/options.py)
    "class_weight": Display(r"\alpha", "α"),
    "pos_weight": Display("w_{+}", "w₊"),
    "label_smoothing": Display(r"\varepsilon", "ε"),
    "eps": Display(r"\epsilon", "ε"),
    # documents (KL divergences, the VAE)
    "xhat": Display(r"\hat{x}", "x̂"),
    "ell": Display(r"\ell", "ℓ"),
    # a template's inner parameter named by a word is set upright
    "total": Display(r"\mathrm{total}", "total"),
}


def symbol_display(name: str) -> Display | None:
    """The display of a symbol called ``name``; None where SymPy's own is right.
    A name with a suffix whose base is in the table reads as a subscript: lam_p -> λ_p."""
    if name in SYMBOLS:
        return SYMBOLS[name]
    base, _, suffix = name.partition("_")
    if suffix and base in SYMBOLS:
        shown = SYMBOLS[base]
        return Display(f"{shown.latex}_{{{suffix}}}", f"{shown.text}_{suffix}")
    return None


# ---------------------------------------------------------------------------
# Terms: named quantities without arguments.
# ---------------------------------------------------------------------------
TERMS: dict[str, Display] = {
    # the loss derivation (derivation/passes)
    "nll": Display(r"\operatorname{NLL}", "NLL"),
    "neg_log_p": Display(r"-\log p", "-log p"),
    "scale": Display(r"\text{scale}", "scale"),
    "loss": Display(r"\text{loss}", "loss"),
    "offset": Display(r"\text{offset}", "offset"),
    "constant": Display(r"\text{constant}", "constant"),
    "const": Display(r"\text{const}", "const"),
}


# ---------------------------------------------------------------------------
# Forms: named forms applied to arguments.
# ---------------------------------------------------------------------------
FORMS: dict[str, Display] = {
    # generic notation
    "log_of": Display(r"\log {0}", "log {0}"),  # log x, without brackets, as a textbook writes it
    "sub": Display("{0}_{{{tail}}}", "{0}_{tail}"),  # a subscript on a named quantity: scale_i
    "sum_over": Display(r"\sum_{{{0}}} {1}", "Σ_{0} {1}"),  # a sum over an index, no limits written
    "cdot": Display(r"{args}", "{args}"),  # a product written with a dot (separator: see SEPARATORS)
    "thin": Display(r"{args}", "{args}"),  # a product written with a thin space
    "equals_positive": Display("{0} = {1} > 0", "{0} = {1} > 0"),  # a named quantity, its value, its sign
    "partial": Display(r"\frac{{\partial {0}}}{{\partial {1}}}", "d {0} / d {1}"),
    # the loss derivation (derivation/passes)
    "likelihood": Display(r"\mathcal{{L}}({args})", "L({args})"),
    "nll_of": Display(r"\operatorname{{NLL}}({args})", "NLL({args})"),
    "softmax_of": Display(r"\operatorname{{softmax}}({args})", "softmax({args})"),
    "mean_loss": Display(r"\frac{{1}}{{{0}}}\sum_{{i}} \ell_i", "mean loss"),  # over {0} observations
    "summed_losses": Display(r"\sum_i \ell_i({0})", "sum_i loss_i({0})"),
}

# The forms whose arguments are joined by a separator rather than ", " (LaTeX, text).
SEPARATORS: dict[str, tuple[str, str]] = {
    "cdot": (r" \cdot ", " · "),
    "thin": (r" \, ", " "),
}


class Term(sp.Symbol):
    """A named quantity (``TERMS[key]``); made by ``term(key)``. Not an ordinary symbol: the
    substitutions that index observations (y -> y_i) leave it alone."""

    def __new__(cls, key: str):
        if key not in TERMS:
            raise KeyError(f"no term {key!r} in symlik.core.notation.TERMS")
        return super().__new__(cls, key)

    @property
    def key(self) -> str:
        return self.name


def term(key: str) -> Term:
    """The named quantity ``key`` of ``TERMS``."""
    return Term(key)


class FormBase(sp.Function):
    """A named form applied to arguments (``FORMS[key]``); made by ``form(key, *args)``."""

    key: str = ""


@lru_cache(maxsize=None)
def _form_class(key: str) -> type:
    if key not in FORMS:
        raise KeyError(f"no form {key!r} in symlik.core.notation.FORMS")
    return type(f"Form_{key}", (FormBase,), {"key": key})


def form(key: str, *args) -> FormBase:
    """The form ``key`` of ``FORMS`` applied to ``args`` (SymPy expressions), unevaluated."""
    return _form_class(key)(*args, evaluate=False)


class OperatorName(sp.Symbol):
    """An upright operator named by data, e.g. a loss template's name: MSE."""


class Shown(sp.Symbol):
    """A symbol that prints as given LaTeX / text: for named quantities such as ELBO or E_q[...].

    Prefer a ``term`` in ``TERMS``: it keeps the display in this table."""

    _shown: dict = {}

    def __new__(cls, text: str, latex: str):
        obj = super().__new__(cls, text)
        cls._shown[text] = latex
        return obj

    def _latex(self, printer):
        return self._shown.get(self.name, self.name)
