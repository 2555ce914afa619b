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

# The VAE objective (derivation/vae.py): the quantities its steps show, and the formulas its reasons quote.
ELBO_EXPECTATION = Shown("E_q[log p(x | z)]", r"\mathbb{E}_{q_{\phi}(z \mid x)}\left[\log p_{\theta}(x \mid z)\right]")
ELBO_NEG_EXPECTATION = Shown("E_q[-log p(x | z)]", r"\mathbb{E}_{q_{\phi}(z \mid x)}\left[-\log p_{\theta}(x \mid z)\right]")
ELBO_KL = Shown("KL(q(z | x) || p(z))", r"\operatorname{KL}\left(q_{\phi}(z \mid x) \,\middle\|\, p(z)\right)")
ONE_SAMPLE_NLL = Shown("-log p(x | z~)", r"-\log p_{\theta}\left(x \mid \tilde{z}\right)")
ENCODER = quoted("encoder", "q(z | x)", r"q(z \mid x)")
ELBO_BOUND = quoted(
    "elbo_bound", "log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z))",
    r"\log p(x) \geq \mathbb{E}_{q}[\log p(x \mid z)] - \operatorname{KL}(q(z \mid x) \,\|\, p(z))",
)
GAUSSIAN_ENCODER = quoted("gaussian_encoder", "q(z | x) = N(mu, diag sigma^2)",
                          r"q(z \mid x) = \mathcal{N}(\mu, \operatorname{diag} \sigma^{2})")
STANDARD_NORMAL = quoted("standard_normal", "N(0, I)", r"\mathcal{N}(0, I)")
STANDARD_NORMAL_KL = quoted(
    "standard_normal_kl", "1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)",
    r"\frac{1}{2} \sum_{j} (\mu_{j}^{2} + \sigma_{j}^{2} - 1 - \log \sigma_{j}^{2})",
)
REPARAMETERISATION = quoted("reparameterisation", "z = mu + sigma * epsilon", r"z = \mu + \sigma \odot \epsilon")
STANDARD_NOISE = quoted("standard_noise", "epsilon ~ N(0, I)", r"\epsilon \sim \mathcal{N}(0, I)")
GAUSSIAN_DECODER = quoted("gaussian_decoder", "p(x | z) = N(xhat(z), sigma_x^2 I)",
                          r"p(x \mid z) = \mathcal{N}(\hat{x}(z), \sigma_{x}^{2} I)")
BERNOULLI_DECODER = quoted(
    "bernoulli_decoder", "p(x | z) = prod_k Bernoulli(x_k | sigma(ell_k))",
    r"p(x \mid z) = \prod_{k} \operatorname{Bernoulli}(x_{k} \mid \sigma(\ell_{k}))",
)
GAUSSIAN_DECODER_CONSTANT = quoted("gaussian_decoder_constant", "D/2 log(2 pi sigma_x^2)",
                                   r"\frac{D}{2} \log(2 \pi \sigma_{x}^{2})")


class Grouped(sp.Function):
    """(a, b, ...): quantities a reason names together, in brackets."""

    def _latex(self, printer):
        return "(%s)" % ", ".join(printer._print(a) for a in self.args)

    def _sympystr(self, printer):
        return "(%s)" % ", ".join(printer._print(a) for a in self.args)


class Distributed(sp.Function):
    """y ~ p(y | theta): a quantity drawn from a distribution (its density as the second argument)."""

    nargs = 2

    def _latex(self, printer):
        return r"%s \sim %s" % (printer._print(self.args[0]), printer._print(self.args[1]))

    def _sympystr(self, printer):
        return "%s ~ %s" % (printer._print(self.args[0]), printer._print(self.args[1]))


class SquaredSensitivity(sp.Function):
    """(d theta / d z)^2, the chain rule's factor between the information about theta and about z."""

    nargs = 2

    def _latex(self, printer):
        return r"(\partial %s / \partial %s)^{2}" % (printer._print(self.args[0]), printer._print(self.args[1]))

    def _sympystr(self, printer):
        return "(d%s/d%s)^2" % (printer._print(self.args[0]), printer._print(self.args[1]))


class Listed(sp.Function):
    """a, b, ...: quantities a reason names together, with no brackets."""

    def _latex(self, printer):
        return ", ".join(printer._print(a) for a in self.args)

    def _sympystr(self, printer):
        return ", ".join(printer._print(a) for a in self.args)

# Loss options (derivation/options.py).
SMOOTHED_EXPECTATION = quoted("smoothed_expectation", "-E_(c ~ q_i) log p_ic", r"-\mathbb{E}_{c \sim q_{i}} \log p_{ic}")
CLASS_WEIGHTED_TERM = quoted("class_weighted_term", "alpha_(y_i) (-log p_(i, y_i))",
                             r"\alpha_{y_{i}} (-\log p_{i, y_{i}})")
LOG_SOFTMAX = quoted("log_softmax", "log softmax(z)_k = z_k - log sum_j e^(z_j)",
                     r"\log \operatorname{softmax}(z)_{k} = z_{k} - \log \sum_{j} e^{z_{j}}")
STABLE_CROSS_ENTROPY = quoted("stable_cross_entropy", "A (log sum_j e^(z_j) - x)", r"A (\log \sum_{j} e^{z_{j}} - x)")
CLASS_MASS = quoted("class_mass", "A = sum_k c_k", r"A = \sum_{k} c_{k}")
SOFT_TARGET_CROSS_ENTROPY = quoted("soft_target_cross_entropy", "H(Bernoulli(y), Bernoulli(p))",
                                   r"H(\operatorname{Bernoulli}(y), \operatorname{Bernoulli}(p))")
LOG_SIGMOID = quoted("log_sigmoid", "log sigma(z)", r"\log \sigma(z)")
LOG_ONE_MINUS_SIGMOID = quoted("log_one_minus_sigmoid", "log(1 - sigma(z))", r"\log(1 - \sigma(z))")
LOG_FACTORIAL_ZERO_ONE = quoted("log_factorial_zero_one", "log 0! = log 1! = 0", r"\log 0! = \log 1! = 0")
TARGET_CLASS_WEIGHT = quoted("target_class_weight", "sum_i alpha_(y_i)", r"\sum_{i} \alpha_{y_{i}}")
ZERO_OVER_ZERO = quoted("zero_over_zero", "0/0 = nan", r"0/0 = \text{nan}")
