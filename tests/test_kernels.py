"""Numeric: kernels against scipy.stats and hand-written closed forms."""

import numpy as np
import pytest
import sympy as sp
from harness import assert_nll_matches_scipy, kernel_args, random_inputs
from scipy import special, stats

import symlik
from symlik.model import links


def test_nll_kernel_matches_scipy(derivation):
    assert_nll_matches_scipy(derivation, "numpy", rtol=1e-12)


def test_scale_offset_identity_numerically(derivation):
    d = derivation
    rng = np.random.default_rng(7)
    params, y = random_inputs(d.spec, rng)
    if d.link:
        pytest.skip("identity in the link's input is checked symbolically; here the parameter space")
    k_nll = symlik.compile(d, target="nll", reduction="none")
    k_loss = symlik.compile(d, target="loss", reduction="none")
    nll, loss = k_nll(**kernel_args(k_nll, params, y)), k_loss(**kernel_args(k_loss, params, y))
    if d.offset.has(sp.Sum):
        pytest.skip("per-dimension offsets are checked symbolically")
    values = {**params, "y": y}  # offsets may hold the target: log y! for a Poisson
    if d.spec.is_event:
        values[d.spec.event_size] = y.shape[-1]
    symbols = sorted(d.scale.free_symbols | d.offset.free_symbols, key=str)
    # SciPy's printer evaluates factorials, binomial coefficients, gamma and beta functions.
    modules = ["scipy", "numpy"]
    scale = sp.lambdify(symbols, d.scale, modules)(*[values[str(s)] for s in symbols])
    offset = sp.lambdify(symbols, d.offset, modules)(*[values[str(s)] for s in symbols])
    np.testing.assert_allclose(nll, scale * loss + offset, rtol=1e-12)


# Hand-written NumPy closed forms of the canonical losses (not generated).
def _mse(mu, y):
    return (y - mu) ** 2


def _mae(mu, y):
    return np.abs(y - mu)


def _bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _bce_logits(z, y):
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def _ce(p, y):
    return -(y * np.log(p)).sum(-1)


def _ce_logits(z, y):
    return -(y * special.log_softmax(z, axis=-1)).sum(-1)


def _gaussian_nll(mu, sigma, y):
    var = sigma**2
    return 0.5 * (np.log(var) + (y - mu) ** 2 / var)


def _sq_l2(mu, y):
    return ((y - mu) ** 2).sum(-1)


CLOSED = {
    ("normal", None, None): _mse,
    ("laplace", None, None): _mae,
    ("bernoulli", None, None): _bce,
    ("bernoulli", None, "logit"): _bce_logits,
    ("categorical", None, None): _ce,
    ("categorical", None, "softmax"): _ce_logits,
    ("normal", ("mu", "sigma"), None): _gaussian_nll,
    ("diag_normal", None, None): _sq_l2,
}


@pytest.mark.parametrize("key", list(CLOSED), ids=lambda k: "-".join(str(x) for x in k if x))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_canonical_loss_matches_closed_form(key, reduction):
    name, predict, link = key
    d = symlik.derive(name, predict=predict, link=link)
    rng = np.random.default_rng(3)
    params, y = random_inputs(d.spec, rng)
    if link:  # the network's pre-activations replace the parameter
        params = {links.get(link).input_name(d.spec.link_param(link)): links.get(link).draw(rng, y.shape)}
    k = symlik.compile(d, reduction=reduction)
    args = [params[n] for n in k.inputs if n != "y"]
    got = k(*args[: len(d.predict)], y, *args[len(d.predict) :])
    want = CLOSED[key](*[params[n] for n in k.inputs if n != "y"], y)
    want = {"none": want, "mean": np.mean(want), "sum": np.sum(want)}[reduction]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_class_index_targets_match_one_hot():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 7))
    idx = rng.integers(0, 7, 50)
    for link in (None, "softmax"):
        inp = z if link else special.softmax(z, -1)
        k = symlik.compile("categorical", link=link, reduction="none")
        np.testing.assert_allclose(k(inp, idx), k(inp, np.eye(7)[idx]), rtol=1e-13)
        np.testing.assert_allclose(k(inp, idx), -stats.multinomial.logpmf(np.eye(7)[idx], 1, special.softmax(z, -1)), rtol=1e-12)


def test_fixed_and_keyword_inputs():
    rng = np.random.default_rng(0)
    mu, y = rng.normal(size=20), rng.normal(size=20)
    k = symlik.compile("normal", target="nll", fixed={"sigma": 2.0})
    assert k.inputs == ("mu", "y")
    want = -stats.norm.logpdf(y, mu, 2.0).mean()
    assert k(mu, y) == pytest.approx(want, rel=1e-13)
    assert k(y=y, mu=mu) == pytest.approx(want, rel=1e-13)
    k2 = symlik.compile("normal", target="nll")
    assert k2.inputs == ("mu", "y", "sigma")
    assert k2(mu, y, 2.0) == pytest.approx(want, rel=1e-13)
    assert "def " in k2.source and "sigma" in k2.source


def test_uniform_prediction_cross_entropy_is_log_C():
    # From the notes: the expected CE of a uniform prediction over C classes is log C.
    for C, expected in ((10, 2.302585092994046), (1000, 6.907755278982137)):
        k = symlik.compile("categorical", link="softmax")
        rng = np.random.default_rng(C)
        labels = rng.integers(0, C, 100)
        assert k(np.zeros((100, C)), labels) == pytest.approx(expected, rel=1e-14)
        assert np.log(C) == pytest.approx(expected, rel=1e-15)


def test_float32_stays_float32():
    k = symlik.compile("normal", reduction="none")
    out = k(np.ones(4, np.float32), np.zeros(4, np.float32))
    assert out.dtype == np.float32
    assert symlik.compile("normal")(np.ones(4, np.float32), np.zeros(4, np.float32)).dtype == np.float32
