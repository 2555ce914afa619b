"""Loss options without torch: the math they derive, the steps they render, the errors.

Numbers here come from hand-written NumPy closed forms (torch's documented
formulas, typed in independently); tests/test_torch_parity.py compares with
torch itself.
"""

import numpy as np
import pytest
import sympy as sp
from scipy import special

import symlik
from symlik.core.algebra import is_zero, split_sum
from symlik.core.functions import exact

RNG = np.random.default_rng(0)
Z = RNG.normal(0, 3, (10, 4))
Y = RNG.integers(0, 4, 10)
ALPHA = RNG.uniform(0.5, 2, 4)


def log_softmax(z):
    return z - special.logsumexp(z, axis=-1, keepdims=True)


def smoothed_ce(z, y, eps, alpha):
    """-sum_k alpha_k q_k log p_k with q = (1 - eps) onehot(y) + eps / C: torch's documented formula."""
    q = (1 - eps) * np.eye(z.shape[-1])[y] + eps / z.shape[-1]
    return -(alpha * q * log_softmax(z)).sum(-1)


def test_label_smoothing_and_class_weights_by_hand():
    k = symlik.compile("categorical", link="softmax", reduction="none", label_smoothing=0.25, class_weight=ALPHA)
    np.testing.assert_allclose(k(Z, Y), smoothed_ce(Z, Y, 0.25, ALPHA), rtol=1e-13)
    np.testing.assert_allclose(k(Z, np.eye(4)[Y]), smoothed_ce(Z, Y, 0.25, ALPHA), rtol=1e-13)
    mean = symlik.compile("categorical", link="softmax", label_smoothing=0.25, class_weight=ALPHA)
    assert mean(Z, Y) == pytest.approx(smoothed_ce(Z, Y, 0.25, ALPHA).sum() / ALPHA[Y].sum(), rel=1e-13)


def test_label_smoothing_on_probabilities():
    k = symlik.compile("categorical", reduction="none", label_smoothing=0.1)
    p = special.softmax(Z, -1)
    np.testing.assert_allclose(k(p, Y), smoothed_ce(Z, Y, 0.1, 1.0), rtol=1e-12)


def test_ignore_index_drops_rows_from_sum_and_count():
    y = Y.copy()
    y[:3] = 7  # an index outside [0, C) is fine when it is the one ignored
    k = symlik.compile("categorical", link="softmax", ignore_index=7)
    kept = -log_softmax(Z)[np.arange(10), y.clip(0, 3)][3:]
    assert k(Z, y) == pytest.approx(kept.mean(), rel=1e-13)
    none = symlik.compile("categorical", link="softmax", ignore_index=7, reduction="none")(Z, y)
    assert np.all(none[:3] == 0)
    with np.errstate(invalid="raise"):  # 0/0 is computed quietly, as torch returns nan without a warning
        assert np.isnan(k(Z, np.full(10, 7)))


def test_pos_weight_and_weight_by_hand():
    z, y, w = RNG.normal(0, 4, 20), RNG.uniform(0, 1, 20), RNG.uniform(0, 2, 20)
    k = symlik.compile("bernoulli", link="logit", pos_weight=2.5, soft_targets=True)
    want = w * (2.5 * y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    assert k(z, y, weight=w) == pytest.approx(want.mean(), rel=1e-13)


def test_gaussian_eps_and_full_by_hand():
    mu, sigma, y = RNG.normal(size=8), np.array([0, 1e-4, 0.1, 0.5, 1, 2, 3, 4.0]), RNG.normal(size=8)
    var = np.maximum(sigma**2, 0.01)
    want = 0.5 * (np.log(var) + (y - mu) ** 2 / var) + 0.5 * np.log(2 * np.pi)
    k = symlik.compile("normal", predict=("mu", "sigma"), reduction="none", eps=0.01, full=True)
    np.testing.assert_allclose(k(mu, sigma, y), want, rtol=1e-13)


def test_per_sample_weight_on_a_plain_kernel():
    mu, y, w = RNG.normal(size=6), RNG.normal(size=6), RNG.uniform(size=6)
    k = symlik.compile("normal")
    assert k(mu, y, weight=w) == pytest.approx(np.mean(w * (y - mu) ** 2), rel=1e-14)
    assert k(mu, y, weight=w).dtype == np.float64
    assert k(mu.astype(np.float32), y.astype(np.float32), weight=w).dtype == np.float32
    with pytest.raises(symlik.SymlikError, match=r"weight of shape \(3,\) must broadcast"):
        k(mu, y, weight=np.ones(3))
    with pytest.raises(symlik.ConstraintError, match="weight must be finite"):
        k(mu, y, weight=np.full(6, np.nan))


# -- symbolic: the derivation shows each option --------------------------------------------------


def test_label_smoothing_is_derived_as_cross_entropy_against_the_smoothed_target():
    d = symlik.derive("categorical", link="softmax").with_options(label_smoothing=0.1)
    titles = [s.title for s in d.steps]
    assert "Smooth the labels (label_smoothing = 0.1)" in titles
    assert "Cross-entropy against the smoothed target" in titles
    split = next(s for s in d.steps if s.title == "Split the smoothed loss").expr
    smoothed = next(s for s in d.steps if s.title == "Cross-entropy against the smoothed target").expr
    # the split is the same expression: (1 - eps) CE + eps/C sum(-log p)
    assert is_zero(split_sum(sp.expand(split_sum(sp.expand(split - smoothed)))))
    assert d.identity_holds()


@pytest.mark.parametrize(
    "spec,kwargs,options,titles",
    [
        ("categorical", {"link": "softmax"}, {"class_weight": np.ones(3), "ignore_index": -100},
         ["Weight the classes (class_weight)", "Reduce over the observations"]),
        ("bernoulli", {"link": "logit"}, {"pos_weight": 2.0, "soft_targets": True},
         ["Soft targets", "Weight the positive term (pos_weight)", "The weighted loss in the logits"]),
        ("normal", {"predict": ("mu", "sigma")}, {"eps": 1e-6, "full": True},
         ["Clamp the variance (eps = 1e-06)", "The clamped loss", "Keep the constant"]),
    ],
)
def test_options_render_as_steps(spec, kwargs, options, titles):
    d = symlik.derive(spec, **kwargs).with_options(**options)
    got = [s.title for s in d.steps]
    for title in titles:
        assert title in got
    assert d.identity_holds()
    text, md, tex = d.to_text(), d.to_markdown(), d.to_latex()
    for title in titles:
        assert title in text and title in md
    assert tex.count(r"\begin{align*}") == 1


def test_reduce_step_shows_torch_denominator():
    d = symlik.derive("categorical", link="softmax").with_options(class_weight=np.ones(3), ignore_index=-100)
    tex = d.to_latex().split("Reduce over the observations")[1]
    assert r"\frac{\sum_{i=1}^{n}" in tex and r"{\alpha}_{y_{i}}" in tex and r"\mathbb{1}\left[{y}_{i} \neq -100\right]" in tex
    assert r"$0/0 = \text{nan}$" in tex
    plain = symlik.derive("normal").with_options(reduction="sum").steps[-1]
    assert isinstance(plain.expr, sp.Sum)


def test_gaussian_clamp_step_is_max_of_variance_and_eps():
    d = symlik.derive("normal", predict=("mu", "sigma")).with_options(eps=1e-3)
    sigma, eps = d.symbols["sigma"], d.symbols["eps"]
    assert d.loss.expr.has(sp.Max(sigma**2, eps))
    clamp = d.to_text().split("Clamp the variance")[1]
    assert "straight-through" in clamp.split("\n")[1]  # torch's gradient quirk, in the step's reason


def test_pos_weight_loss_in_logits_is_the_weighted_likelihood():
    d = symlik.derive("bernoulli", link="logit").with_options(pos_weight=3.0)
    z, y, w = d.symbols["logits"], d.symbols["y"], d.symbols["pos_weight"]
    p = 1 / (1 + sp.exp(-z))
    weighted = -(w * y * sp.log(p) + (1 - y) * sp.log(1 - p))
    assert sp.simplify(sp.expand_log(exact(d.loss.expr) - weighted, force=True)) == 0


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,kwargs,options,message",
    [
        ("normal", {}, {"label_smoothing": 0.1}, "option label_smoothing applies to cross_entropy, not to mse"),
        ("bernoulli", {"link": "logit"}, {"eps": 1e-6}, "option eps applies to gaussian_nll and poisson_nll"),
        ("categorical", {"link": "softmax"}, {"lable_smoothing": 0.1}, "unknown loss option 'lable_smoothing'; did you mean 'label_smoothing'"),
        ("categorical", {"link": "softmax"}, {"label_smoothing": 1.5}, r"label_smoothing must be in \[0.0, 1.0\]"),
        ("categorical", {"link": "softmax"}, {"ignore_index": 1.5}, "ignore_index must be an integer"),
        ("categorical", {"link": "softmax"}, {"class_weight": [1.0, -1.0]}, "class_weight must be >= 0 and finite"),
        ("categorical", {"link": "softmax"}, {"weight": [1.0, 2.0]}, r"weight is not a compile option; per-sample weights are given at call time"),
        ("bernoulli", {"link": "logit"}, {"pos_weight": np.nan}, "pos_weight must be >= 0 and finite"),
        ("bernoulli", {"link": "logit"}, {"soft_targets": 1}, "soft_targets must be True or False"),
        ("normal", {"predict": ("mu", "sigma")}, {"eps": 0.0}, "eps must be > 0"),
    ],
)
def test_option_errors_name_the_option(spec, kwargs, options, message):
    with pytest.raises(symlik.SymlikError, match=message):
        symlik.compile(spec, **kwargs, **options)


def test_bad_option_values_at_call_time():
    k = symlik.compile("categorical", link="softmax", class_weight=np.ones(3))
    with pytest.raises(symlik.SymlikError, match="event sizes"):
        k(Z, Y)  # 4 classes, 3 weights
    kb = symlik.compile("bernoulli", link="logit")
    with pytest.raises(symlik.ConstraintError, match=r"y must lie in the support \{0, ..., 1\}"):
        kb(np.zeros(2), np.array([0.5, 1.0]))
    ks = symlik.compile("bernoulli", link="logit", soft_targets=True)
    with pytest.raises(symlik.ConstraintError, match=r"y must lie in \[0, 1\] \(soft targets\)"):
        ks(np.zeros(2), np.array([0.5, 1.5]))


def test_options_do_not_leak_between_kernels():
    a = symlik.compile("categorical", link="softmax", reduction="none", label_smoothing=0.1)
    b = symlik.compile("categorical", link="softmax", reduction="none", label_smoothing=0.4)
    np.testing.assert_allclose(a(Z, Y), smoothed_ce(Z, Y, 0.1, 1.0), rtol=1e-13)
    np.testing.assert_allclose(b(Z, Y), smoothed_ce(Z, Y, 0.4, 1.0), rtol=1e-13)
    assert "Smooth the labels (label_smoothing = 0.4)" in [s.title for s in b.derivation.steps]
    assert "Smooth the labels (label_smoothing = 0.1)" in [s.title for s in a.derivation.steps]


def test_float32_stays_float32_with_options():
    z, y = Z.astype(np.float32), Y
    for opts in ({"label_smoothing": 0.1}, {"class_weight": ALPHA}, {"ignore_index": 0}):
        k = symlik.compile("categorical", link="softmax", **opts)
        assert k(z, y).dtype == np.float32
        assert k.elementwise(z, y).dtype == np.float32
