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
