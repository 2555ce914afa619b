"""Kernel source shown as math (latexify): the math shown computes what the kernel computes.

The oracle for the rewrite is the kernel itself: the rewritten source
(log1p -> log(1 + x), logsumexp -> log sum exp, ...) is evaluated one
observation at a time with plain math and must match the vectorised kernel.
The LaTeX is checked against hand-written golden strings.
"""

import math

import numpy as np
import pytest
from scipy import special
from harness import kernel_args, random_inputs

import symlik

latexify = pytest.importorskip("latexify")

from symlik.render.kernel_math import kernel_latex, math_source, source_latex  # noqa: E402

MATH = {"log": math.log, "exp": math.exp, "abs": abs, "max": max, "min": min, "sum": sum, "range": range,
        "gamma": math.gamma, "sqrt": math.sqrt, "cosh": math.cosh, "pi": math.pi,
        "cos": math.cos, "sin": math.sin, "i0": lambda x: float(np.i0(x)), "erfc": math.erfc,
        "iv": lambda nu, x: float(special.iv(nu, x)), "infty": math.inf}  # np.inf reads as infty (a right-censored bound)


def _evaluate(text, fname, size_name, size, args):
    namespace = dict(MATH)
    namespace[size_name] = size
    exec(compile(text, "<math>", "exec"), namespace)  # our own rewritten source, not user text
    return namespace[fname](**args)


def test_the_math_shown_computes_what_the_kernel_computes(derivation):
    k = symlik.compile(derivation, reduction="none")
    rng = np.random.default_rng(0)
    params, y = random_inputs(derivation.spec, rng, n=6, event_size=4)
    for name in derivation.predicted_inputs:  # a link input (logits): any real pre-activation
        if name not in params:
            params[name] = rng.normal(0.0, 3.0, np.shape(params[derivation.predict[0]]))
    kwargs = kernel_args(k, params, y)
    expected = k(**kwargs)
    text = math_source(k.source, k.event_inputs)
    size = derivation.spec.event_size
    for i in range(len(expected)):
        one = {n: (v[i] if np.ndim(v) and np.shape(v)[0] == len(expected) else v) for n, v in kwargs.items()}
        one = {n: (list(v) if np.ndim(v) else float(v)) for n, v in one.items()}
        got = _evaluate(text, "dense", size, 4, one)
        assert got == pytest.approx(float(expected[i]), rel=1e-9, abs=1e-12)
    if "def index" in text:  # class-index targets: y is the class
        classes = np.argmax(y, axis=-1)
        expected = k(**{**kwargs, "y": classes})
        for i in range(len(expected)):
            one = {n: list(v[i]) if n != "y" else int(classes[i]) for n, v in kwargs.items()}
            assert _evaluate(text, "index", size, 4, one) == pytest.approx(float(expected[i]), rel=1e-9)


def test_every_kernel_reads_as_math(derivation):
    shown = kernel_latex(symlik.compile(derivation))
    for tex in shown.values():
        assert tex.startswith(r"\ell(")
        assert r"\mathrm{np}" not in tex and "np." not in tex  # no module prefixes
        assert r"\_" not in tex.split("=", 1)[1]  # no private helper names like \_xlogy


def test_golden_bce_with_logits():
    tex = kernel_latex(symlik.compile("bernoulli", link="logit"))["dense"]
    # y softplus(-z) + (1 - y) softplus(z): each weight exact at 0, so z = +-inf gives the limit.
    assert tex == (
        r"\ell(z, y) = y \cdot \log \mathopen{}\left( 1 + \exp \mathopen{}\left( -z \mathclose{}\right) \mathclose{}\right)"
        r" + \mathopen{}\left( 1 - y \mathclose{}\right) \log \mathopen{}\left( 1 + \exp z \mathclose{}\right)"
    )


def test_golden_cross_entropy_with_class_indices():
    shown = kernel_latex(symlik.compile("categorical", link="softmax"))
    assert shown["index"] == r"\ell(z, y) = \log \sum_{j = 0}^{C - 1} \mathopen{}\left({\exp z_{j}}\mathclose{}\right) - z_{y}"
    # a probability target: sum_k y_k (-log softmax(z)_k), a sum of terms >= 0 (no cancellation)
    assert shown["dense"] == (
        r"\ell(z, y) = \sum_{k = 0}^{C - 1} \mathopen{}\left({y_{k} \cdot \mathopen{}\left( \log \sum_{j = 0}^{C - 1}"
        r" \mathopen{}\left({\exp z_{j}}\mathclose{}\right) - z_{k} \mathclose{}\right)}\mathclose{}\right)"
    )


def test_golden_gaussian_nll():
    tex = kernel_latex(symlik.compile("normal", predict=("mu", "sigma")))["dense"]
    # torch's GaussianNLLLoss, (log var + (y - mu)^2 / var) / 2 with var = sigma^2, as the kernel
    # computes it: log sigma (sigma^2 underflows at sigma = 1e-23 in float32) and ((y - mu)/sigma)^2
    # ((y - mu)^2 overflows first).
    assert tex == (
        r"\ell(\mu, \sigma, y) = \log \sigma + \frac{1}{2} \cdot"
        r" \mathopen{}\left( \frac{y - \mu}{\sigma} \mathclose{}\right)^{2}"
    )


SOURCE = """def dense(x, y, a, b):
    return np.log1p(-x) + np.logaddexp(0, y) + scipy.special.gammaln(a) + betaln(a, b) + _xlogy(x, b) + np.expm1(x) + _mystery(a)
"""


def test_special_functions_expand_to_math():
    tex = source_latex(SOURCE)["dense"]
    assert r"\log \mathopen{}\left( 1 - x \mathclose{}\right)" in tex  # log1p(-x)
    assert r"\log \mathopen{}\left( 1 + \exp y \mathclose{}\right)" in tex  # logaddexp(0, y)
    assert r"\log \Gamma \mathopen{}\left( a \mathclose{}\right)" in tex  # gammaln(a)
    assert r"\Gamma \mathopen{}\left( a + b \mathclose{}\right)" in tex  # betaln(a, b)
    assert r"x \cdot \log b" in tex  # xlogy
    assert r"\operatorname{mystery}" in tex  # an unknown helper: its bare name, as an operator
    assert "mathrm{np}" not in tex and "special" not in tex


def test_special_function_rewrites_keep_the_value():
    from scipy import special

    text = math_source(SOURCE)
    namespace = dict(MATH, mystery=lambda a: 0.0)
    exec(compile(text, "<math>", "exec"), namespace)
    x, y, a, b = 0.3, -2.0, 2.5, 1.5
    expected = (np.log1p(-x) + np.logaddexp(0, y) + special.gammaln(a) + special.betaln(a, b)
                + x * np.log(b) + np.expm1(x))
    assert namespace["dense"](x, y, a, b) == pytest.approx(expected, rel=1e-12)


SADDLE_SOURCE = """
def dense(y, n, p, z, rate, mu, k):
    return (_neg_log_poisson(y, rate), _neg_log_poisson_log(y, z), _neg_log_binomial(y, n, p),
            _neg_log_binomial_logit(y, n, z), _neg_log_neg_binomial(y, n, p),
            _neg_log_neg_binomial_logit(y, n, z), _neg_log_gamma(y, mu, k), _neg_log_gamma_log(y, z, k),
            _neg_log_beta(p, mu, k), _neg_log_beta_logit(p, z, k))
"""


def test_saddle_point_helpers_show_the_negative_log_densities():
    # The runtime evaluates these NLLs in saddle-point form; the math shown must be the density's
    # own -log p. Oracle: scipy.stats at the same parameters (p = sigmoid(z) for the logit forms,
    # mu = e^z for the log forms; scipy's nbinom counts failures y with success chance p).
    from scipy import stats

    text = math_source(SADDLE_SOURCE)
    assert "_neg_log" not in text and "saddle" not in text
    namespace = dict(MATH)
    exec(compile(text, "<math>", "exec"), namespace)
    y, n, p, z, rate, mu, k = 3.0, 7.0, 0.3, 0.4, 2.5, 1.7, 2.2
    s = 1 / (1 + math.exp(-z))
    want = (-stats.poisson.logpmf(y, rate), -stats.poisson.logpmf(y, math.exp(z)), -stats.binom.logpmf(y, n, p),
            -stats.binom.logpmf(y, n, s), -stats.nbinom.logpmf(y, n, p), -stats.nbinom.logpmf(y, n, s),
            -stats.gamma.logpdf(y, k, scale=mu / k), -stats.gamma.logpdf(y, k, scale=math.exp(z) / k),
            -stats.beta.logpdf(p, mu, k), -stats.beta.logpdf(p, k * s, k * (1 - s)))
    got = namespace["dense"](y, n, p, z, rate, mu, k)
    np.testing.assert_allclose(got, want, rtol=1e-12)
