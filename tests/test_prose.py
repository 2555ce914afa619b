"""The derivations' prose says what is true of each derivation (issue 16). Expected sentences are
written by hand, and each is checked where it must appear and where it must not."""

from __future__ import annotations

import pytest

import symlik


def _text_of(d, title):
    text = d.to_text()
    start = text.index(title)
    return text[start : text.index("\n\n", start + len(title) + 1)]


@pytest.mark.parametrize("name, link", [("bernoulli", None), ("bernoulli", "logit"), ("categorical", "softmax")])
def test_one_term_separation_does_not_speak_of_a_second_term(name, link):
    d = symlik.derive(name, link=link)
    why = _text_of(d, "Separate the terms")
    assert "No term is free of the predictions" in why
    assert "only the second" not in why


def test_two_term_separation_names_the_constant_first():
    why = _text_of(symlik.derive("normal"), "Separate the terms")
    assert "The first term does not depend on the predictions; only the second changes as they change." in why


@pytest.mark.parametrize("name, has_exp", [("normal", True), ("laplace", True), ("poisson", True),
                                           ("bernoulli", False), ("categorical", False)])
def test_log_of_exp_is_mentioned_only_where_the_density_has_an_exponential(name, has_exp):
    why = _text_of(symlik.derive(name), "Expand the logarithm")
    assert ("log e^u = u" in why) == has_exp


def test_bernoulli_expansion_names_the_power_rule():
    why = _text_of(symlik.derive("bernoulli"), "Expand the logarithm")
    assert "The log of a product is the sum of the logs, and log a^b = b log a; this is the log-likelihood." in why


@pytest.mark.parametrize("name", ["normal", "bernoulli", "poisson"])
def test_the_likelihood_is_of_independent_observations_not_iid(name):
    d = symlik.derive(name)
    assert d.steps[0].title == "The likelihood of independent observations"
    assert "i.i.d" not in d.to_text()


@pytest.mark.parametrize("name, predict", [("normal", None), ("normal", ("mu", "sigma")), ("laplace", None)])
def test_the_text_renderer_prints_no_latex(name, predict):
    text = symlik.derive(name, predict=predict).to_text()
    assert "argmin over μ" in text
    assert "\\" not in text and "_{" not in text


def test_laplace_chance_loss_does_not_mix_indices():
    text = symlik.derive("laplace").explained().to_text()
    chance = text[text.index("The chance-level loss"):]
    assert "median(y) - y[j]" in chance and "y[i]" not in chance


def _gradient_line(d):
    """The right-hand side of the (one) gradient step, as LaTeX."""
    latex = d.to_latex()
    line = next(x for x in latex.splitlines() if x.startswith(r"\frac{\partial"))
    return line.split("&= ", 1)[1].removesuffix(r" \\")


# Each written by hand from the textbook derivative of the loss, over the n observations of the mean:
# BCE: d/dp [-y log p - (1 - y) log(1 - p)] = (p - y) / (p (1 - p));  MSE: d/dmu (y - mu)^2 = 2 (mu - y);
# Poisson: d/dlam (lam - y log lam) = (lam - y) / lam;  gamma deviance 2 (y/mu - log(y/mu) - 1): 2 (mu - y) / mu^2;
# CE with softmax: d/dz_k (LSE(z) - sum_k y_k z_k) = softmax(z)_k - y_k.  (p is written theta, as in Murphy.)
@pytest.mark.parametrize("name, link, expected", [
    ("bernoulli", None, r"\frac{{\theta}_{i} - {y}_{i}}{n {\theta}_{i} \left(1 - {\theta}_{i}\right)}"),
    ("normal", None, r"\frac{2 \left({\mu}_{i} - {y}_{i}\right)}{n}"),
    ("poisson", None, r"\frac{{\lambda}_{i} - {y}_{i}}{n {\lambda}_{i}}"),
    ("gamma", None, r"\frac{2 \left({\mu}_{i} - {y}_{i}\right)}{n {\mu}_{i}^{2}}"),
    ("categorical", "softmax", r"\frac{\operatorname{softmax}\left({z}_{i}\right)_{k} - {y}_{i,k}}{n}"),
])
def test_gradients_are_in_textbook_form(name, link, expected):
    assert _gradient_line(symlik.derive(name, link=link)) == expected


def test_bernoulli_gradient_in_text_is_one_fraction():
    text = symlik.derive("bernoulli").to_text()
    text = text[text.index("The gradient with respect to p"):text.index("Proven identity")]
    assert "θ[i] - y[i]" in text and "n⋅θ[i]⋅(1 - θ[i])" in text
    assert "-1 + " not in text


@pytest.mark.parametrize("render", ["to_latex", "to_markdown"])
def test_differences_print_target_first(render):
    out = getattr(symlik.derive("normal"), render)()
    assert r"\left({y}_{i} - {\mu}_{i}\right)^{2}" in out
    assert r"- {\mu}_{i} + {y}_{i}" not in out


def test_differences_print_target_first_in_text():
    text = symlik.derive("normal").to_text()
    assert "(y[i] - mu[i])" in text and "-mu[i] + y[i]" not in text


def test_normal_offset_is_one_log():
    d = symlik.derive("normal")
    assert r"\frac{\log{\left(2 \pi \sigma^{2} \right)}}{2}" in d.to_markdown().split("## Proven identity")[1]
    assert "offset: log(2*pi*sigma**2)/2" in d.to_text()
    assert "log(2)/2" not in d.to_text()


@pytest.mark.parametrize("name", ["bernoulli", "binomial", "categorical", "geometric"])
def test_the_density_and_the_probability_parameter_have_different_letters(name):
    latex = symlik.derive(name).to_latex()
    assert r"\mid {\theta}_{i}" in latex or r"{\theta}_{i}\right)" in latex
    assert r"{p}_{i}" not in latex and r"\mid p" not in latex
    assert r"p\left({y}_{i} \mid" in latex  # the density keeps its p


def test_bernoulli_fisher_names_theta_not_p():
    text = symlik.derive("bernoulli").explained().to_text()
    assert "I(θ) = E[-d2 log p / d θ^2]" in text
    assert "d p^2" not in text


def test_categorical_softmax_uses_one_letter_for_the_classes():
    latex = symlik.derive("categorical", link="softmax").to_latex()
    assert r"^{C}" in latex and r"^{K}" not in latex


def test_categorical_softmax_log_sum_exp_does_not_swallow_the_sum_after_it():
    latex = symlik.derive("categorical", link="softmax").to_latex()
    assert r"\left(\sum_{k=1}^{C} {y}_{i,k}\right) \log \sum_{j=1}^{C} e^{z_{i, j}}" in latex
    assert r"e^{z_{i, j}} \sum_{k" not in latex
