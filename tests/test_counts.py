"""Count and simplex distributions (issue 3): binomial, poisson, negative_binomial,
geometric, beta_binomial, multinomial, dirichlet.

The conformance harness already checks every NLL kernel against scipy.stats;
here: the identifications against the issue's table, the canonical losses
against hand-written NumPy closed forms (and torch where installed),
validation, and the log-gamma helper against mpmath.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp
from harness import random_inputs
from scipy import special, stats

import symlik
from symlik.model import links

# The issue's table: (name, predict, link) -> (loss name, scale); None is "its own NLL".
TABLE = {
    ("binomial", None, None): ("binary_cross_entropy", "n"),
    ("binomial", None, "logit"): ("binary_cross_entropy", "n"),
    ("poisson", None, None): ("poisson_nll", "1"),
    ("poisson", None, "log"): ("poisson_nll", "1"),
    ("negative_binomial", None, None): (None, "1"),
    ("negative_binomial", None, "logit"): (None, "1"),
    ("negative_binomial", ("n", "p"), None): (None, "1"),
    ("geometric", None, None): (None, "1"),
    ("geometric", None, "logit"): (None, "1"),
    ("beta_binomial", None, None): (None, "1"),
    ("multinomial", None, None): ("cross_entropy", "n"),
    ("multinomial", None, "softmax"): ("cross_entropy", "n"),
    ("dirichlet", None, None): (None, "1"),
}


def _key_id(key):
    return "-".join(x if isinstance(x, str) else "+".join(x) for x in key if x)


@pytest.mark.parametrize("key", list(TABLE), ids=_key_id)
def test_identification_matches_the_issue_table(key):
    name, predict, link = key
    d = symlik.derive(name, predict=predict, link=link)
    want_name, want_scale = TABLE[key]
    assert d.loss.name == want_name
    assert d.scale == sp.sympify(want_scale, locals={"n": d.symbols.get("n")})
    assert d.identity_holds()


@pytest.mark.parametrize("name", ["binomial", "multinomial"])
def test_the_rescaled_target_is_y_over_n(name):
    d = symlik.derive(name)
    assert d.loss.inner == {"total": d.symbols["n"]}
    # Shown per observation: the loss of y_i / n_i, weighted by n_i.
    assert r"\operatorname{%s}\left(\frac{{y}_{i}}{{n}_{i}}, {\theta}_{i}\right) {n}_{i}" % d.loss.template.latex_name in d.to_latex()


def test_binomial_loss_is_bce_on_the_frequency():
    d = symlik.derive("binomial")
    y, n, p = d.y, d.symbols["n"], d.symbols["p"]
    t = y / n
    assert sp.simplify(d.loss.expr - (-(t * sp.log(p) + (1 - t) * sp.log(1 - p)))) == 0
    assert sp.simplify(d.offset + sp.log(sp.binomial(n, y))) == 0


def test_poisson_with_log_link_is_torchs_log_input_form():
    d = symlik.derive("poisson", link="log")
    z = d.symbols["log_rate"]
    assert sp.expand(d.loss.expr - (sp.exp(z) - d.y * z)) == 0
    assert d.inputs == ("log_rate", "y")


def test_observation_count_is_not_confused_with_the_trials():
    # The binomial has its own n, so the derivation counts observations with N.
    d = symlik.derive("binomial")
    first = d.steps[0].expr
    assert first.limits[0][2] == sp.Symbol("N", integer=True, positive=True)
    assert "the $N$ observations" in d.to_markdown()
    assert symlik.derive("poisson").steps[0].expr.limits[0][2] == sp.Symbol("n", integer=True, positive=True)


def test_calibration_is_computed_not_looked_up():
    # A binomial typed in by hand, other names: identified by the proof, total m.
    x = sp.Symbol("x")
    m, q = sp.symbols("m q")
    density = sp.binomial(m, x) * q**x * (1 - q) ** (m - x)
    spec = symlik.custom("trials", density=density, observed=x, params={m: "positive_integer", q: "unit_interval"},
                         support="nonnegative_integer", predict=("q",))
    d = symlik.derive(spec, predict=("q",))
    assert d.loss.name == "binary_cross_entropy"
    assert d.scale == d.symbols["m"]
    # Coefficients whose ratio depends on y (a geometric in disguise) are no rescaling.
    geo = symlik.custom("waits", density=(1 - q) ** (x - 1) * q, observed=x, params={q: "unit_interval"},
                        support="positive_integer")
    assert symlik.derive(geo).loss.name is None


# ---------------------------------------------------------------------------
# Canonical losses against hand-written NumPy closed forms.
# ---------------------------------------------------------------------------


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _log_softmax(z):
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


CLOSED = {
    # BCE of the frequency y/n against p.
    ("binomial", None, None): lambda a: -((a["y"] / a["n"]) * np.log(a["p"]) + (1 - a["y"] / a["n"]) * np.log1p(-a["p"])),
    # BCE-with-logits on y/n, as torch writes it.
    ("binomial", None, "logit"): lambda a: np.maximum(a["logits"], 0) - a["logits"] * a["y"] / a["n"]
    + np.log1p(np.exp(-np.abs(a["logits"]))),
    ("poisson", None, None): lambda a: a["rate"] - a["y"] * np.log(a["rate"]),
    # torch.nn.functional.poisson_nll_loss(log_input=True): exp(input) - target * input.
    ("poisson", None, "log"): lambda a: np.exp(a["log_rate"]) - a["y"] * a["log_rate"],
    ("negative_binomial", None, None): lambda a: -(a["n"] * np.log(a["p"]) + a["y"] * np.log1p(-a["p"])),
    # -n log sigmoid(z) - y log(1 - sigmoid(z)) = n softplus(-z) + y softplus(z).
    ("negative_binomial", None, "logit"): lambda a: a["n"] * _softplus(-a["logits"]) + a["y"] * _softplus(a["logits"]),
    ("negative_binomial", ("n", "p"), None): lambda a: -(
        special.gammaln(a["y"] + a["n"]) - special.gammaln(a["n"]) + a["n"] * np.log(a["p"]) + a["y"] * np.log1p(-a["p"])
    ),
    ("geometric", None, None): lambda a: -np.log(a["p"]) - (a["y"] - 1) * np.log1p(-a["p"]),
    ("geometric", None, "logit"): lambda a: _softplus(-a["logits"]) + (a["y"] - 1) * _softplus(a["logits"]),
    ("beta_binomial", None, None): lambda a: special.betaln(a["a"], a["b"])
    - special.betaln(a["y"] + a["a"], a["n"] - a["y"] + a["b"]),
    ("multinomial", None, None): lambda a: -((a["y"] / a["n"][:, None]) * np.log(a["p"])).sum(-1),
    ("multinomial", None, "softmax"): lambda a: -((a["y"] / a["n"][:, None]) * _log_softmax(a["logits"])).sum(-1),
    ("dirichlet", None, None): lambda a: special.gammaln(a["alpha"]).sum(-1)
    - special.gammaln(a["alpha"].sum(-1))
    - ((a["alpha"] - 1) * np.log(a["y"])).sum(-1),
}


def _inputs(d, rng):
    params, y = random_inputs(d.spec, rng)
    values = {**params, "y": y}
    if d.link:  # random pre-activations, one per target (a row of them for softmax)
        link = links.get(d.link)
        values[link.input_name(d.spec.link_param(d.link))] = link.draw(rng, y.shape)
    return values


@pytest.mark.parametrize("key", list(CLOSED), ids=_key_id)
def test_canonical_loss_matches_closed_form(key):
    name, predict, link = key
    d = symlik.derive(name, predict=predict, link=link)
    values = _inputs(d, np.random.default_rng(11))
    k = symlik.compile(d, target="loss", reduction="none")
    got = k(**{n: values[n] for n in k.inputs})
    np.testing.assert_allclose(got, CLOSED[key](values), rtol=1e-12, atol=1e-13)


def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731

    z, y = rng.normal(0, 2, 200), rng.poisson(3.0, 200)
    got = symlik.compile("poisson", link="log", reduction="none")(z, y)
    np.testing.assert_allclose(got, F.poisson_nll_loss(t(z), t(y), log_input=True, reduction="none").numpy(), rtol=1e-12)
    rate = np.exp(z)
    got = symlik.compile("poisson", reduction="none")(rate, y)
    want = F.poisson_nll_loss(t(rate), t(y), log_input=False, eps=0.0, reduction="none").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)

    n = rng.integers(1, 30, 200)
    y = rng.binomial(n, 0.3)
    got = symlik.compile("binomial", link="logit", reduction="none")(z, y, n)
    want = F.binary_cross_entropy_with_logits(t(z), t(y / n), reduction="none").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)

    logits = rng.normal(0, 2, (200, 6))
    counts = rng.multinomial(n, np.full(6, 1 / 6))
    got = symlik.compile("multinomial", link="softmax", reduction="none")(logits, counts, n)
    want = F.cross_entropy(t(logits), t(counts / n[:, None]), reduction="none").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_scale_times_loss_plus_offset_is_the_scipy_nll():
    # n * BCE(y/n, p) - log C(n, y) is the binomial NLL; n * CE(y/n, p) + log-coefficient the multinomial one.
    rng = np.random.default_rng(2)
    n = rng.integers(1, 50, 100)
    p = rng.uniform(0.01, 0.99, 100)
    y = rng.binomial(n, p)
    loss = symlik.compile("binomial", reduction="none")(p, y, n)
    np.testing.assert_allclose(n * loss - np.log(special.comb(n, y)), -stats.binom.logpmf(y, n, p), rtol=1e-11)
    probs = rng.dirichlet(np.ones(4), 100)
    counts = rng.multinomial(n, probs)
    loss = symlik.compile("multinomial", reduction="none")(probs, counts, n)
    log_coefficient = special.gammaln(n + 1) - special.gammaln(counts + 1).sum(-1)
    np.testing.assert_allclose(n * loss - log_coefficient, -stats.multinomial.logpmf(counts, n, probs), rtol=1e-11)


# ---------------------------------------------------------------------------
# Stability: large counts and extreme inputs.
# ---------------------------------------------------------------------------


def test_log_factorials_stay_finite_past_170():
    # Gamma(171) overflows; the NLL kernels use log-gamma directly.
    y = np.array([0, 170, 171, 1000, 10**6])
    rate = y + 0.5
    k = symlik.compile("poisson", target="nll", reduction="none")
    got = k(rate, y)
    assert np.all(np.isfinite(got))
    # scipy's logpmf cancels at y = 1e6 (1.8e-10 relative off); mpmath at 50 digits is the oracle there.
    np.testing.assert_allclose(got[:-1], -stats.poisson.logpmf(y[:-1], rate[:-1]), rtol=1e-12)
    with mpmath.workdps(50):
        want = [float(mpmath.mpf(r) - int(v) * mpmath.log(mpmath.mpf(r)) + mpmath.loggamma(int(v) + 1)) for r, v in zip(rate, y)]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    n = np.array([200, 5000])
    got = symlik.compile("binomial", target="nll", reduction="none")(np.array([0.5, 0.01]), np.array([100, 60]), n)
    np.testing.assert_allclose(got, -stats.binom.logpmf([100, 60], n, [0.5, 0.01]), rtol=1e-12)
    for name in ("binomial", "poisson", "multinomial", "dirichlet", "negative_binomial", "beta_binomial"):
        source = symlik.compile(name, target="nll").source
        # The log-gamma family (gammaln, betaln, log binomial, the saddle-point forms), never Gamma or a factorial.
        assert any(f in source for f in ("_gammaln(", "_betaln(", "_log_binomial(", "_neg_log_"))  # _neg_log_*: saddle-point forms
        assert "factorial" not in source and "gamma(" not in source.replace("_gammaln(", "")


def test_certain_predictions_cost_nothing():
    kb = symlik.compile("binomial", reduction="none")
    np.testing.assert_array_equal(kb(np.array([0.0, 1.0]), np.array([0, 7]), np.array([5, 7])), [0.0, 0.0])
    km = symlik.compile("multinomial", reduction="none")
    np.testing.assert_array_equal(km(np.array([[1.0, 0.0, 0.0]]), np.array([[4, 0, 0]]), np.array([4])), [0.0])
    kp = symlik.compile("poisson", reduction="none")
    assert kp(np.array([2.0]), np.array([0]))[0] == 2.0  # 0 * log(rate) is 0, not nan


@pytest.mark.parametrize("bound", [30.0, 1000.0])
def test_binomial_with_logits_at_extreme_logits(bound):
    mpmath.mp.dps = 50
    z = np.array([-bound, -bound / 2, -1e-3, 0.0, 1e-3, bound / 2, bound])
    n = np.full(z.shape, 7)
    k = symlik.compile("binomial", link="logit", reduction="none")
    for count in (0, 3, 7):
        y = np.full(z.shape, count)
        got = k(z, y, n)
        want = [float(mpmath.log1p(mpmath.exp(mpmath.mpf(v))) - mpmath.mpf(count) / 7 * mpmath.mpf(v)) for v in z]
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15 * bound)


# ---------------------------------------------------------------------------
# Validation: each bad input names the argument and the rule.
# ---------------------------------------------------------------------------

P3 = np.full((2, 3), 1 / 3)


@pytest.mark.parametrize(
    "name,args,message",
    [
        ("poisson", (np.array([1.0]), np.array([2.5])), r"y must lie in the support \{0, \.\.\., inf\}"),
        ("poisson", (np.array([1.0]), np.array([-1])), r"y must lie in the support"),
        ("poisson", (np.array([-1.0]), np.array([1])), r"rate must be >= 0"),  # rate = 0 is allowed (issue 14)
        ("poisson", (np.array([1.0, 2.0]), np.array([1, 2, 3])), r"rate of shape \(2,\) and y of shape \(3,\) do not match"),
        ("binomial", (np.array([1.2]), np.array([1]), np.array([3])), r"p must lie in \[0, 1\]"),
        ("binomial", (np.array([0.2]), np.array([4]), np.array([3])), r"y must lie in the support \{0, \.\.\., n\}"),
        ("binomial", (np.array([0.2]), np.array([1]), np.array([2.5])), r"n must be an integer >= 1"),
        ("binomial", (np.array([0.2, 0.3]), np.array([1, 1]), np.array([3, 3, 3])), r"n of shape \(3,\) does not fit the observations' shape \(2,\)"),
        ("negative_binomial", (np.array([0.5]), np.array([1]), np.array([0.0])), r"n must be > 0"),
        ("geometric", (np.array([0.5]), np.array([0])), r"y must lie in the support \{1, \.\.\., inf\}"),
        ("beta_binomial", (np.array([1.0]), np.array([1.0]), np.array([6]), np.array([5])), r"y must lie in the support"),
        ("multinomial", (P3, np.array([[1, 1, 1], [1, 1, 2]]), np.array([3, 3])), r"y must be nonnegative integer counts summing to n"),
        ("multinomial", (P3, np.array([[1.5, 0.5, 1], [1, 1, 1]]), np.array([3, 3])), r"y must be nonnegative integer counts"),
        ("multinomial", (P3, np.array([[4, -1, 0], [1, 1, 1]]), np.array([3, 3])), r"y must be nonnegative integer counts"),
        ("multinomial", (np.full((2, 3), 0.5), np.array([[1, 1, 1], [1, 1, 1]]), np.array([3, 3])), r"p must be nonnegative and sum to 1"),
        ("multinomial", (P3, np.array([[1, 1, 1, 0], [1, 1, 1, 0]]), np.array([3, 3])), r"event sizes"),
        ("dirichlet", (np.ones((2, 3)), np.full((2, 3), 0.5)), r"y must lie on the probability simplex"),
        ("dirichlet", (np.zeros((2, 3)), np.full((2, 3), 1 / 3)), r"alpha must be > 0"),
    ],
)
def test_bad_input_names_the_argument_and_rule(name, args, message):
    k = symlik.compile(name, target="nll")
    with pytest.raises(ValueError, match=message):
        k(*args)


def test_a_fixed_total_bounds_the_support():
    k = symlik.compile("binomial", fixed={"n": 10})
    assert k.inputs == ("p", "y")
    with pytest.raises(ValueError, match=r"y must lie in the support \{0, \.\.\., n\}"):
        k(np.array([0.5]), np.array([11]))
    with pytest.raises(ValueError, match=r"fixed n must be an integer >= 1"):
        symlik.compile("binomial", fixed={"n": 2.5})


def test_validate_false_skips_array_checks():
    k = symlik.compile("poisson", target="nll", validate=False, reduction="none")
    out = k(np.array([1.0]), np.array([2.5]))  # a count of 2.5: no check, just the formula
    np.testing.assert_allclose(out, 1.0 + special.gammaln(3.5))
    km = symlik.compile("multinomial", validate=False, reduction="none")
    km(P3, np.array([[1, 1, 1], [1, 1, 2]]), np.array([3, 3]))  # would fail validation


# ---------------------------------------------------------------------------
# The log-gamma helper the kernels call.
# ---------------------------------------------------------------------------

GAMMALN_POINTS = [1e-8, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 2.0, 2.5, 7.3, 33.0, 170.5, 171.0, 1000.0, 1e5, 1e10]


def test_numpy_gammaln_fallback_against_mpmath():
    from symlik.compiler._numpy_runtime import _gammaln_numpy

    mpmath.mp.dps = 40
    x = np.array(GAMMALN_POINTS)
    want = np.array([float(mpmath.loggamma(mpmath.mpf(v))) for v in x])
    got = _gammaln_numpy(x)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_runtime_gammaln_uses_scipy_when_installed():
    from symlik.compiler._numpy_runtime import _gammaln

    x = np.array(GAMMALN_POINTS)
    np.testing.assert_array_equal(_gammaln(x), special.gammaln(x))
    assert _gammaln(np.float32(3.5)).dtype == np.float32


@pytest.mark.parametrize("y", [0.0, 3.0, 1e6])
def test_negative_binomial_in_n_keeps_its_digits_at_a_tiny_n(y):
    # At n = 1e-8, log Gamma(n) and psi(n) are 18.4 and -1e8: the loss's log Gamma(n) - log Gamma(n + y)
    # and the gradient's psi(n) - psi(n + y) are each one function now, not a difference that rounds
    # what stands beside it (-n log p = 6.9e-9 at y = 0 kept 7 digits; -log p beside -1e8 kept 8).
    # Oracle: mpmath at 50 digits.
    d = symlik.derive("negative_binomial", predict=("n", "p"))
    n, p = 1e-8, 0.5
    args = {"n": np.array([n]), "p": np.array([p]), "y": np.array([y])}
    with mpmath.workdps(50):
        mn, mp_, my = mpmath.mpf(n), mpmath.mpf(p), mpmath.mpf(y)
        loss = -mn * mpmath.log(mp_) - my * mpmath.log(1 - mp_) + mpmath.loggamma(mn) - mpmath.loggamma(mn + my)
        slope = -mpmath.log(mp_) + mpmath.digamma(mn) - mpmath.digamma(mn + my)
        nll = loss + mpmath.loggamma(my + 1)
    for target, want in (("loss", loss), ("nll", nll)):
        kernel = symlik.compile(d, target=target, reduction="sum")
        assert float(kernel(**args)) == pytest.approx(float(want), rel=1e-14, abs=0), target
        assert float(kernel.grad(**args)[0][0]) == pytest.approx(float(slope), rel=1e-14, abs=0), target
