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
