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


# ---------------------------------------------------------------------------
# Quoted formulas (reasons branch: the reasons of the loss options, the VAE,
# the analysis steps and the Huber and custom normalisers). A reason quotes
# these as a reader writes them, which is not how SymPy would print the same
# expression (|r| \le \delta, not |{r}| \leq \delta; E_q[...] with no integral):
# each is a named symbol, so the reason stays data and the renderer typesets it.
# ---------------------------------------------------------------------------

QUOTED: dict[str, tuple[str, str]] = {}  # name -> (plain text, LaTeX); filled by quoted()


class Quoted(sp.Symbol):
    """A formula a reason quotes: a symbol named after its QUOTED entry, printed as that entry."""

    def _latex(self, printer):
        return QUOTED[self.name][1]

    def _sympystr(self, printer):
        return QUOTED[self.name][0]

    def _pretty(self, printer):
        return printer._print(sp.Symbol(QUOTED[self.name][0]))


def quoted(name: str, text: str, latex: str) -> Quoted:
    """Register ``name`` in QUOTED and return its symbol (a name is registered once)."""
    if QUOTED.setdefault(name, (text, latex)) != (text, latex):
        raise ValueError(f"quoted formula {name!r} is already registered with another form")
    return Quoted(name)


# Huber's normaliser (model/distributions/huber.py).
HUBER_UNNORMALISED = quoted("huber_unnormalised", "e^(-rho(r))", r"e^{-\rho(r)}")
HUBER_CORE = quoted("huber_core", "|r| <= delta", r"|r| \le \delta")
HUBER_TAILS = quoted("huber_tails", "2/delta e^(-delta^2/2)", r"\frac{2}{\delta} e^{-\delta^2/2}")

# Smooth L1 beside Huber (losses/robust_huber.py).
NLL_IS_SCALED_SMOOTH_L1 = quoted(
    "nll_is_scaled_smooth_l1", "NLL = n * scale * delta * SmoothL1 + constant",
    r"\operatorname{NLL} = n \cdot \text{scale} \cdot \delta \cdot \operatorname{SmoothL1} + \text{constant}",
)
SCALE_TIMES_DELTA = quoted("scale_times_delta", "scale * delta", r"\text{scale} \cdot \delta")
DELTA_TO_ZERO = quoted("delta_to_zero", "delta -> 0", r"\delta \to 0")
DELTA_TO_INFINITY = quoted("delta_to_infinity", "delta -> oo", r"\delta \to \infty")
HALF_MSE = quoted("half_mse", "MSE/2", r"\operatorname{MSE}/2")


class Moment(sp.Function):
    """E[g(y)], a moment a reason lists (written with brackets, as the reasons quote it)."""

    nargs = 1

    def _latex(self, printer):
        return r"\mathbb{E}[%s]" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "E[%s]" % printer._print(self.args[0])


# KL divergences (analysis/divergence.py).
LOG_RATIO = quoted("log_ratio", "log p(y) - log q(y)", r"\log p(y) - \log q(y)")
MEAN_OF_ONE_HOT = quoted("mean_of_one_hot", "E[y_k]", r"\mathbb{E}[y_{k}]")
