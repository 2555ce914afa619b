"""Each pass of the derivation (symlik.derivation.passes), one step at a time, against golden LaTeX.

The golden strings are the textbook argument written out by hand: the
reason's prose and inline math, then the display line ``lhs &= rhs``, as the
LaTeX renderer prints them. Each pass runs alone on the prepared Context.
"""

import pytest

from symlik.derivation.passes import (
    expand, gradient, identify, likelihood, link, log_likelihood, minimiser, negate, separate, substitute,
)
from symlik.derivation.pipeline import prepare
from symlik.model.distributions import get
from symlik.render.common import display_names
from symlik.render.latex import step_lines
from symlik.render.prose import prose_latex


class _Names:
    """What the renderer's names read from a Derivation: its predicted inputs and predictions."""

    def __init__(self, context):
        self.predict = context.predict
        self.predicted_inputs = context.input_names


def _context(name, predict=None, link_name=None):
    spec = get(name)
    return prepare(spec, tuple(predict or spec.predict), link_name)


def rendered(context, step):
    """(reason, display line) of one step, as the LaTeX renderer typesets them (one line: no breaking)."""
    d = _Names(context)
    why = prose_latex(step.why, lambda t: t, lambda e: display_names(d, e))
    return why, " ".join(step_lines(d, step, budget=10_000))


NORMAL = ("normal",)
LOGIT = ("bernoulli", None, "logit")
SOFTMAX = ("categorical", None, "softmax")
BINOMIAL = ("binomial",)


@pytest.mark.parametrize(
    "case, line",
    [
        (NORMAL, r"\mathcal{L}(\mu) &= \prod_{i=1}^{n} p\left({y}_{i} \mid {\mu}_{i}, \sigma\right)"),
        (LOGIT, r"\mathcal{L}(\theta) &= \prod_{i=1}^{n} p\left({y}_{i} \mid {\theta}_{i}\right)"),
        # the binomial has its own n (trials), so the observations are counted by N; n_i is data
        (BINOMIAL, r"\mathcal{L}(\theta) &= \prod_{i=1}^{N} p\left({y}_{i} \mid {n}_{i}, {\theta}_{i}\right)"),
    ],
)
def test_likelihood(case, line):
    c = _context(*case)
    n = "N" if case is BINOMIAL else "n"
    why = f"Given the predictions, the ${n}$ observations are independent, so their joint density is a product."
    assert rendered(c, likelihood(c)) == (why, line)


def test_log_likelihood():
    c = _context(*NORMAL)
    why = "The logarithm is increasing, so it keeps the maximiser, and it turns the product into a sum."
    line = r"\log \mathcal{L}(\mu) &= \sum_{i=1}^{n} \log{\left(p\left({y}_{i} \mid {\mu}_{i}, \sigma\right) \right)}"
    assert rendered(c, log_likelihood(c)) == (why, line)


def test_negate():
    c = _context(*SOFTMAX)
    why = "Training minimises, so negate: the negative log-likelihood is the quantity to minimise."
    line = r"\operatorname{NLL}(\theta) &= - \sum_{i=1}^{n} \log{\left(p\left({y}_{i} \mid {\theta}_{i}\right) \right)}"
    assert rendered(c, negate(c)) == (why, line)


def test_substitute():
    c = _context(*LOGIT)
    (step,) = substitute(c)
    # p(y | p) = p^y (1 - p)^(1 - y)
    line = r"\operatorname{NLL}(\theta) &= - \sum_{i=1}^{n} \log{\left(\left(1 - {\theta}_{i}\right)^{1 - {y}_{i}} {\theta}_{i}^{{y}_{i}} \right)}"
    assert rendered(c, step) == (r"Write out $p(y \mid \theta)$ for the bernoulli distribution, its parameter p written $\theta$.", line)
    (step,) = substitute(_context(*NORMAL))
    assert rendered(c, step)[0] == r"Write out $p(y \mid \mu, \sigma)$ for the normal distribution."


def test_expand():
    c = _context(*NORMAL)
    # the density has a product, a square root and an exponential: each rule is named
    why = (r"The log of a product is the sum of the logs, $\log a^{b} = b \log a$, and $\log e^{u} = u$; "
           r"this is the log-likelihood.")
    # log N(y | mu, sigma) = -log(2 pi sigma^2)/2 - (y - mu)^2 / (2 sigma^2)
    line = (r"\log \mathcal{L}(\mu) &= \sum_{i=1}^{n} \left(- \frac{\log{\left(2 \pi \sigma^{2} \right)}}{2} "
            r"- \frac{\left({y}_{i} - {\mu}_{i}\right)^{2}}{2 \sigma^{2}}\right)")
    assert rendered(c, expand(c)) == (why, line)


def test_separate():
    c = _context(*NORMAL)
    why = "The first term does not depend on the predictions; only the second changes as they change."
    # n log(2 pi sigma^2)/2, free of mu, plus (1 / (2 sigma^2)) sum_i (y_i - mu_i)^2
    line = (r"\operatorname{NLL}(\mu) &= \frac{n \log{\left(2 \pi \sigma^{2} \right)}}{2} "
            r"+ \frac{\sum_{i=1}^{n} \left({y}_{i} - {\mu}_{i}\right)^{2}}{2 \sigma^{2}}")
    assert rendered(c, separate(c)) == (why, line)


PROVEN = (r"(proven: $-\log p - \text{scale} \cdot \text{loss} - \text{offset}$ simplifies to $0$, "
          "and the offset has zero derivative in every prediction).")


def test_identify_normal_is_mse_with_scale_one_over_two_sigma_squared():
    c = _context(*NORMAL)
    (step,) = identify(c)
    why = (r"With $\operatorname{MSE}$ the mean over the observations of $({y}_{i} - {\mu}_{i})^{2}$: "
           r"$\operatorname{NLL} = n \cdot \text{scale} \cdot \operatorname{MSE} + \text{constant}$, "
           r"with $\text{scale} = \frac{1}{2 \sigma^{2}} > 0$ " + PROVEN)
    line = (r"\operatorname{NLL}(\mu) &= \frac{n \log{\left(2 \pi \sigma^{2} \right)}}{2} "
            r"+ \frac{n \operatorname{MSE}\left({y}_{i}, {\mu}_{i}\right)}{2 \sigma^{2}}")
    assert rendered(c, step) == (why, line)


def test_identify_bernoulli_is_bce_with_scale_one():
    c = _context(*LOGIT)
    (step,) = identify(c)
    why = (r"With $\operatorname{BCE}$ the mean over the observations of "
           r"$- {y}_{i} \log({\theta}_{i}) - (1 - {y}_{i}) \log(1 - {\theta}_{i})$: "
           r"$\operatorname{NLL} = n \cdot \text{scale} \cdot \operatorname{BCE} + \text{constant}$, "
           r"with $\text{scale} = 1 > 0$ " + PROVEN)
    assert rendered(c, step) == (why, r"\operatorname{NLL}(\theta) &= n \operatorname{BCE}\left({y}_{i}, {\theta}_{i}\right)")


def test_identify_binomial_is_bce_on_y_over_n_weighted_by_n():
    c = _context(*BINOMIAL)
    (step,) = identify(c)
    why = (r"With $\operatorname{BCE}_{i}$ the loss of observation $i$, "
           r"$- (1 - \frac{{y}_{i}}{\mathrm{total}}) \log(1 - {\theta}_{i}) - \frac{{y}_{i} \log({\theta}_{i})}{\mathrm{total}}$: "
           r"$\operatorname{NLL} = \sum_{i} \text{scale}_{i} \, \operatorname{BCE}_{i} + \text{constant}$, "
           r"each observation weighted by $\text{scale}_{i} = {n}_{i} > 0$ " + PROVEN
           + r" The template's inner parameter ($\mathrm{total} = n$) was solved from the NLL itself, then proven.")
    line = (r"\operatorname{NLL}(\theta) &= \sum_{i=1}^{N} - \log{\left({\binom{{n}_{i}}{{y}_{i}}} \right)} "
            r"+ \sum_{i=1}^{N} \operatorname{BCE}\left(\frac{{y}_{i}}{{n}_{i}}, {\theta}_{i}\right) {n}_{i}")
    assert rendered(c, step) == (why, line)


def test_minimiser():
    c = _context(*SOFTMAX)
    why = ("A positive scale and an additive constant do not move the minimiser: the sum, the mean "
           "and the negative log-likelihood share the same argmin.")
    line = (r"\operatorname*{arg\,min}_{\theta} \operatorname{NLL} &= "
            r"\operatorname*{arg\,min}_{\theta} \operatorname{CE}\left({y}_{i}, {\theta}_{i}\right)")
    assert rendered(c, minimiser(c)) == (why, line)


def test_link_logit():
    c = _context(*LOGIT)
    # p = sigma(z); log sigma(z) = -log(1 + e^-z), log(1 - sigma(z)) = -log(1 + e^z)
    why = (r"The network outputs logits, written $z$, and $\theta = \sigma(z)$; the logs simplify, "
           r"$\log \sigma(z) = - \log(1 + e^{- z})$ and $\log(1 - \sigma(z)) = - \log(1 + e^{z})$, "
           "and never form the logarithm of a rounded probability.")
    line = r"\sum_i \ell_i(z) &= \sum_{i=1}^{n} \left(\log\left(1 + e^{{z}_{i}}\right) - {z}_{i} {y}_{i}\right)"
    assert rendered(c, link(c)) == (why, line)


def test_link_softmax():
    c = _context(*SOFTMAX)
    why = (r"The network outputs logits, written $z$, and $\theta = \operatorname{softmax}(z)$; the logs simplify, "
           r"$\log \operatorname{softmax}(z)_{k} = {z}_{k} - \log \sum_{j=1}^{C} e^{z_{j}}$, "
           "and never form the logarithm of a rounded probability.")
    assert rendered(c, link(c))[0] == why


def test_no_link_no_step():
    assert link(_context(*NORMAL)) is None


GRADIENT_WHY = ("Only observation $i$'s term depends on its own prediction, so the gradient of the mean is that "
                "term's derivative over ${n}$; the kernel's grad() computes it from the stable form of the loss.")


@pytest.mark.parametrize(
    "case, line",
    [
        # d/dmu (y - mu)^2 = 2 (mu - y)
        (NORMAL, r"\frac{\partial \operatorname{MSE}}{\partial \mu_{i}} &= \frac{2 \left({\mu}_{i} - {y}_{i}\right)}{n}"),
        # d/dz BCE(y, sigma(z)) = sigma(z) - y
        (LOGIT, r"\frac{\partial \operatorname{BCE}}{\partial z_{i}} &= \frac{\sigma\left({z}_{i}\right) - {y}_{i}}{n}"),
        # d/dz_k CE(y, softmax(z)) = softmax(z)_k - y_k
        (SOFTMAX, r"\frac{\partial \operatorname{CE}}{\partial z_{i, k}} &= "
                  r"\frac{\operatorname{softmax}\left({z}_{i}\right)_{k} - {y}_{i,k}}{n}"),
        # d/dp BCE(y/n, p) = (n p - y) / (n p (1 - p)), over N observations (p written theta)
        (BINOMIAL, r"\frac{\partial \operatorname{BCE}}{\partial \theta_{i}} &= "
                   r"\frac{{\theta}_{i} {n}_{i} - {y}_{i}}{N {\theta}_{i} {n}_{i} \left(1 - {\theta}_{i}\right)}"),
    ],
)
def test_gradient(case, line):
    c = _context(*case)
    (step,) = gradient(c)
    why = GRADIENT_WHY.replace("{n}", "N" if case is BINOMIAL else "n")
    assert rendered(c, step) == (why, line)
