"""Derivations cross process boundaries unchanged (issue 17: derive runs a user's density in a
child process under the time budget, and spawn pickles everything it sends)."""

from __future__ import annotations

import pickle

import pytest
import sympy as sp

import symlik
from symlik.core import pickling
from symlik.core.functions import loss_symbol


def test_an_unevaluated_expression_stays_unevaluated():
    x = sp.Symbol("x", real=True)
    shown = sp.Add(sp.log(sp.exp(x), evaluate=False), -x, evaluate=False)
    assert pickle.loads(pickle.dumps(shown)) == 0  # plain pickle evaluates it again: this is why
    back = pickling.loads(pickling.dumps(shown))
    assert back.args == shown.args and sp.srepr(back) == sp.srepr(shown)


def test_a_loss_symbol_is_one_expression_per_name():
    y, mu = sp.symbols("y mu")
    assert loss_symbol("MSE", y, mu) == loss_symbol("MSE", y, mu)
    assert pickle.loads(pickle.dumps(loss_symbol("MSE", y, mu))) == loss_symbol("MSE", y, mu)


CUSTOM = [
    {"density": "exp(-abs(y - m)/b)/(2*b)", "params": {"m": "real", "b": "positive"}},
    {"density": "exp(-(y - m)**2/2)", "params": {"m": "real"}, "normalize": True},
    {"log_density": "-(y - m)**2/2 - log(2*pi)/2", "params": {"m": "real"}},
]


@pytest.mark.parametrize("arguments", CUSTOM, ids=["laplace", "normalised", "log_density"])
def test_a_custom_density_pickles_and_derives_the_same(arguments):
    spec = symlik.custom("mine", **arguments)
    back = pickle.loads(pickle.dumps(spec))
    assert back.density_expr() == spec.density_expr() and back.predict == spec.predict
    assert getattr(back, "normaliser", None) == getattr(spec, "normaliser", None)
    d, d_back = symlik.derive(spec), symlik.derive(back)
    assert (d_back.nll, d_back.scale, d_back.offset, d_back.loss.name) == (d.nll, d.scale, d.offset, d.loss.name)


@pytest.mark.parametrize("name, options", [("normal", {}), ("bernoulli", {"link": "logit"}),
                                           ("categorical", {"link": "softmax"}), ("poisson", {"link": "log"})])
def test_a_derivation_comes_back_with_every_step_as_derived(name, options):
    d = symlik.derive(name, **options)
    back = pickling.loads(pickling.dumps(d))
    assert back.steps == d.steps and back.loss.template is d.loss.template
    assert back.to_text() == d.to_text() and back.to_latex() == d.to_latex()
