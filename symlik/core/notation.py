"""The one notation table: how every named symbol and quantity of a derivation is displayed.

Code that derives builds SymPy expressions from the objects below and never
formats; symlik.render's printers look each one up here, for LaTeX and for
plain text. Three kinds of object, one table each:

* an ordinary ``sp.Symbol`` keeps its own name (``Symbol("lam")``); ``SYMBOLS``
  says how a name is shown where SymPy's default is not right (lam -> λ).
  ``symbol_display(name)`` is the lookup (it also reads ``lam_p`` as λ_p).
* ``term(key)``: a named quantity or a quoted formula with no arguments, e.g.
  ``term("nll")`` (NLL), ``term("huber_core")`` (|r| ≤ δ, a formula a reason
  quotes as a reader writes it, not as SymPy would print it); shown as ``TERMS[key]``.
* ``form(key, *args)``: a named form applied to expressions, e.g.
  ``form("likelihood", mu, sigma)`` (𝓛(μ, σ)), ``form("log_of", x)`` (log x),
  ``form("moment", y**2)`` (E[y²]); shown by the templates ``FORMS[key]``.

(``OperatorName(name)`` is the one exception: an operator named by data, a loss
template's ``latex_name`` such as MSE, set upright.)

Example, a reason and a left-hand side (see symlik.core.step)::

    NLL = term("nll")
    reason("so ", sp.Eq(NLL, n * term("scale")), " is minimised")
    Step(title, expr, why, lhs=form("nll_of", mu))

To add notation: add one ``Display(latex, text)`` line to the section of
``SYMBOLS``, ``TERMS`` or ``FORMS`` it belongs to (sections are by topic, one
entry a line, so that additions merge cleanly), then build it with ``term`` or
``form``. A form's templates are ``str.format`` templates (see ``Display``), so a
literal brace is doubled: ``r"\\hat{{{0}}}"``. The observation index and count
are defined here too (OBS, N_OBS).
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
    # a probability parameter (Bernoulli, binomial, categorical, ...) is written theta, as Murphy
    # writes Ber(y | theta): p is the density, p(y | theta), and -d2 log p / d theta^2 is unambiguous
    "p": Display(r"\theta", "θ"),
    "rate": Display(r"\lambda", "λ"),
    "power": Display("p", "p"),  # the Tweedie variance power (sklearn's name for it)
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
# Terms: named quantities, and formulas a reason quotes, without arguments.
# ---------------------------------------------------------------------------
TERMS: dict[str, Display] = {
    # the loss derivation (derivation/passes)
    "nll": Display(r"\operatorname{NLL}", "NLL"),
    "neg_log_p": Display(r"-\log p", "-log p"),
    "density": Display("p", "p"),  # the density itself, apart from a parameter named p (written theta)
    "scale": Display(r"\text{scale}", "scale"),
    "loss": Display(r"\text{loss}", "loss"),
    "offset": Display(r"\text{offset}", "offset"),
    "constant": Display(r"\text{constant}", "constant"),
    "const": Display(r"\text{const}", "const"),
    # the best constant prediction (analysis/baseline.py)
    "chance_loss": Display(r"\ell_{\text{chance}}", "chance loss"),
    # Huber's normaliser (model/distributions/huber.py); smooth L1 beside Huber (losses/robust_huber.py)
    "huber_unnormalised": Display(r"e^{-\rho(r)}", "e^(-rho(r))"),
    "huber_core": Display(r"|r| \le \delta", "|r| <= delta"),
    "huber_tails": Display(r"\frac{2}{\delta} e^{-\delta^2/2}", "2/delta e^(-delta^2/2)"),
    "nll_is_scaled_smooth_l1": Display(r"\operatorname{NLL} = n \cdot \text{scale} \cdot \delta \cdot \operatorname{SmoothL1} + \text{constant}", "NLL = n * scale * delta * SmoothL1 + constant"),
    "scale_times_delta": Display(r"\text{scale} \cdot \delta", "scale * delta"),
    "delta_to_zero": Display(r"\delta \to 0", "delta -> 0"),
    "delta_to_infinity": Display(r"\delta \to \infty", "delta -> oo"),
    "half_mse": Display(r"\operatorname{MSE}/2", "MSE/2"),
    # KL divergences (analysis/divergence.py)
    "kl_p_q": Display(r"\operatorname{KL}\left(p \,\middle\|\, q\right)", "KL(p || q)"),
    "log_ratio": Display(r"\log p(y) - \log q(y)", "log p(y) - log q(y)"),
    "mean_of_one_hot": Display(r"\mathbb{E}[y_{k}]", "E[y_k]"),
    "log_p": Display(r"\log p", "log p"),
    "beta_integral": Display(
        r"\int_{0}^{\infty} \frac{t^{2m}}{(1 + t^{2})^{s}}\, dt = \frac{1}{2} B\left(m + \frac{1}{2}, s - m - \frac{1}{2}\right)",
        "∫₀^∞ t^(2m) (1 + t²)^(-s) dt = B(m + 1/2, s - m - 1/2)/2",
    ),
    "euler_integral": Display(r"\Gamma(s + 1) = \int_{0}^{\infty} t^{s} e^{-t}\, dt", "Γ(s + 1) = ∫ t^s e^(-t) dt"),
    "euler_integral_derivative": Display(r"\int_{0}^{\infty} t^{s} (\log t)^{n} e^{-t}\, dt = \frac{d^{n}}{ds^{n}} \Gamma(s + 1)", "∫ t^s (log t)^n e^(-t) dt = d^n/ds^n Γ(s + 1)"),
    "density_integrates_to_one": Display(r"\int p(y \mid \theta)\, dy = 1", "∫ p(y | θ) dy = 1"),
    "density_sums_to_one": Display(r"\sum_{y} p(y \mid \theta) = 1", "Σ_y p(y | θ) = 1"),
    # The VAE objective (derivation/vae.py): the quantities its steps show, the formulas its reasons quote
    "expected_log_decoder": Display(r"\mathbb{E}_{q_{\phi}(z \mid x)}\left[\log p_{\theta}(x \mid z)\right]", "E_q[log p(x | z)]"),
    "expected_neg_log_decoder": Display(r"\mathbb{E}_{q_{\phi}(z \mid x)}\left[-\log p_{\theta}(x \mid z)\right]", "E_q[-log p(x | z)]"),
    "kl_encoder_prior": Display(r"\operatorname{KL}\left(q_{\phi}(z \mid x) \,\middle\|\, p(z)\right)", "KL(q(z | x) || p(z))"),
    "one_sample_nll": Display(r"-\log p_{\theta}\left(x \mid \tilde{z}\right)", "-log p(x | z~)"),
    "encoder": Display(r"q(z \mid x)", "q(z | x)"),
    "elbo_bound": Display(r"\log p(x) \geq \mathbb{E}_{q}[\log p(x \mid z)] - \operatorname{KL}(q(z \mid x) \,\|\, p(z))", "log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z))"),
    "gaussian_encoder": Display(r"q(z \mid x) = \mathcal{N}(\mu, \operatorname{diag} \sigma^{2})", "q(z | x) = N(mu, diag sigma^2)"),
    "standard_normal": Display(r"\mathcal{N}(0, I)", "N(0, I)"),
    "standard_normal_kl": Display(r"\frac{1}{2} \sum_{j} (\mu_{j}^{2} + \sigma_{j}^{2} - 1 - \log \sigma_{j}^{2})", "1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)"),
    "reparameterisation": Display(r"z = \mu + \sigma \odot \epsilon", "z = mu + sigma * epsilon"),
    "standard_noise": Display(r"\epsilon \sim \mathcal{N}(0, I)", "epsilon ~ N(0, I)"),
    "gaussian_decoder": Display(r"p(x \mid z) = \mathcal{N}(\hat{x}(z), \sigma_{x}^{2} I)", "p(x | z) = N(xhat(z), sigma_x^2 I)"),
    "bernoulli_decoder": Display(r"p(x \mid z) = \prod_{k} \operatorname{Bernoulli}(x_{k} \mid \sigma(\ell_{k}))", "p(x | z) = prod_k Bernoulli(x_k | sigma(ell_k))"),
    "gaussian_decoder_constant": Display(r"\frac{D}{2} \log(2 \pi \sigma_{x}^{2})", "D/2 log(2 pi sigma_x^2)"),
    # Loss options (derivation/options.py)
    "smoothed_expectation": Display(r"-\mathbb{E}_{c \sim q_{i}} \log \theta_{ic}", "-E_(c ~ q_i) log θ_ic"),
    "class_weighted_term": Display(r"\alpha_{y_{i}} (-\log \theta_{i, y_{i}})", "alpha_(y_i) (-log θ_(i, y_i))"),
    "log_softmax": Display(r"\log \operatorname{softmax}(z)_{k} = z_{k} - \log \sum_{j} e^{z_{j}}", "log softmax(z)_k = z_k - log sum_j e^(z_j)"),
    "stable_cross_entropy": Display(r"A (\log \sum_{j} e^{z_{j}} - x)", "A (log sum_j e^(z_j) - x)"),
    "class_mass": Display(r"A = \sum_{k} c_{k}", "A = sum_k c_k"),
    "soft_target_cross_entropy": Display(r"H(\operatorname{Bernoulli}(y), \operatorname{Bernoulli}(\theta))", "H(Bernoulli(y), Bernoulli(θ))"),
    "log_sigmoid": Display(r"\log \sigma(z)", "log sigma(z)"),
    "log_one_minus_sigmoid": Display(r"\log(1 - \sigma(z))", "log(1 - sigma(z))"),
    "log_factorial_zero_one": Display(r"\log 0! = \log 1! = 0", "log 0! = log 1! = 0"),
    "target_class_weight": Display(r"\sum_{i} \alpha_{y_{i}}", "sum_i alpha_(y_i)"),
    "zero_over_zero": Display(r"0/0 = \text{nan}", "0/0 = nan"),
    # the VAE's left-hand sides
    "log_evidence": Display(r"\log p_{\theta}(x)", "log p(x)"),
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
    "grouped": Display("({args})", "({args})"),  # quantities a reason names together, in brackets
    "sized_group": Display(r"\left({args}\right)", "({args})"),  # the same, with brackets sized to the contents
    "listed": Display("{args}", "{args}"),  # quantities a reason names together, no brackets
    "moment": Display(r"\mathbb{{E}}[{0}]", "E[{0}]"),  # a moment a reason lists, E[g(y)]
    "real_line_integral": Display(r"\int_{{-\infty}}^{{\infty}} {0}\, dy", "∫ {0} dy over the real line"),
    "distributed": Display(r"{0} \sim {1}", "{0} ~ {1}"),  # y ~ p(y | theta): its density as {1}
    # the loss derivation (derivation/passes)
    "likelihood": Display(r"\mathcal{{L}}({args})", "L({args})"),
    "nll_of": Display(r"\operatorname{{NLL}}({args})", "NLL({args})"),
    "softmax_of": Display(r"\operatorname{{softmax}}({args})", "softmax({args})"),
    "mean_loss": Display(r"\frac{{1}}{{{0}}}\sum_{{i}} \ell_i", "mean loss"),  # over {0} observations
    "summed_losses": Display(r"\sum_i \ell_i({0})", "sum_i loss_i({0})"),
    # the densities' own steps (model/distributions/huber.py, model/custom.py)
    "normaliser_of": Display("Z({args})", "Z({args})"),
    # the density a loss implies (analysis/implied.py): the loss as a function of target and prediction
    "implied_loss": Display(r"\ell({args})", "ℓ({args})"),
    # smooth L1 beside Huber (losses/robust_huber.py): SmoothL1 with beta = {0}
    "smooth_l1_with": Display(r"\operatorname{{SmoothL1}}_{{\beta={0}}}", "SmoothL1_(beta={0})"),
    # loss options (derivation/options.py)
    "loss_i": Display(r"\ell_i({args})", "loss_i({args})"),  # the loss of observation i in the predictions
    "cross_entropy_of": Display("H({args})", "H({args})"),
    # score, Hessian, Fisher information (analysis/information.py), in the prediction {0}
    "score": Display(r"\frac{{\partial \log p(y \mid {0})}}{{\partial {0}}}", "d log p(y | {0}) / d {0}"),
    "hessian": Display(r"\frac{{\partial^{{2}} \log p(y \mid {0})}}{{\partial {0}^{{2}}}}", "d2 log p(y | {0}) / d {0}^2"),
    "fisher": Display(r"\mathcal{{I}}({0})", "I({0})"),
    "expected_neg_hessian": Display(r"\mathbb{{E}}_{{y}}\left[-\frac{{\partial^{{2}} \log p}}{{\partial {0}^{{2}}}}\right]", "E[-d2 log p / d {0}^2]"),
    "expected_squared_score": Display(r"\mathbb{{E}}_{{y}}\left[\left(\frac{{\partial \log p}}{{\partial {0}}}\right)^{{2}}\right]", "E[(d log p / d {0})^2]"),
    "squared_sensitivity": Display(r"(\partial {0} / \partial {1})^{{2}}", "(d{0}/d{1})^2"),  # the chain rule's factor
    # the best constant prediction (analysis/baseline.py)
    "best_constant": Display(r"\hat{{{0}}}_{{\text{{const}}}}", "best constant {0}"),
    "best_constant_per_class": Display(r"\hat{{{0}}}_{{k, \text{{const}}}}", "best constant {0}"),
    # the VAE objective (derivation/vae.py)
    "elbo_of": Display(r"\operatorname{{ELBO}}({args})", "ELBO({args})"),
    "vae_loss": Display(r"\mathcal{{L}}({args})", "L({args})"),
}

# The forms whose arguments are joined by a separator rather than ", " (LaTeX, text).
SEPARATORS: dict[str, tuple[str, str]] = {
    "cdot": (r" \cdot ", " · "),
    "thin": (r" \, ", " "),
}


class Term(sp.Symbol):
    """A named quantity (``TERMS[key]``); made by ``term(key)``. Not an ordinary symbol: the
    substitutions that index observations (y -> y_i) leave it alone. Its plain text is the
    table's, also where SymPy's own printers show it (``sp.pretty`` in the text renderer)."""

    def __new__(cls, key: str):
        if key not in TERMS:
            raise KeyError(f"no term {key!r} in symlik.core.notation.TERMS")
        return super().__new__(cls, key)

    @property
    def key(self) -> str:
        return self.name

    def _sympystr(self, printer):
        return TERMS[self.key].text

    def _pretty(self, printer):
        return printer._print(sp.Symbol(TERMS[self.key].text))


def term(key: str) -> Term:
    """The named quantity ``key`` of ``TERMS``."""
    return Term(key)


class FormBase(sp.Function):
    """A named form applied to arguments (``FORMS[key]``); made by ``form(key, *args)``."""

    key: str = ""

    def __reduce_ex__(self, protocol):
        # Its class is made on demand (_form_class), where pickle cannot find it by name: it
        # pickles as form(key, *args), which makes the class again in the other process.
        return form, (self.key, *self.args)


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
