"""ordinal_logistic against oracles that share no code with symlik: a NumPy/scipy closed form
(differences of scipy.special.expit), mpmath at 50 significant digits (CDF differences at a working
precision high enough that they do not cancel), statsmodels' OrderedModel (which orders its
thresholds by the same exp increments) and torch autograd of the textbook formula."""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy.special import expit

import symlik
from symlik.core.errors import SymlikError

KS = (3, 4, 5)


def _deltas(K, values):
    return {f"delta{k}": v for k, v in zip(range(2, K), values)}


def _cuts_np(theta1, deltas):
    cuts = [np.asarray(theta1, float)]
    for d in deltas:
        cuts.append(cuts[-1] + np.exp(d))
    return cuts


def _logp_expit(y, eta, theta1, deltas):
    """log P(y) = log(expit(theta_{y+1} - eta) - expit(theta_y - eta)), written out; where both cuts lie
    below eta the same difference of survival functions expit(eta - theta) (whose values there are small)."""
    cuts = _cuts_np(theta1, deltas)
    inf = np.full_like(eta, np.inf)
    edges = np.stack([-inf, *(np.broadcast_to(c, eta.shape) for c in cuts), inf])  # theta_0 .. theta_K
    i = y.astype(int)[None]
    a, b = np.take_along_axis(edges, i, 0)[0], np.take_along_axis(edges, i + 1, 0)[0]
    by_cdf = expit(b - eta) - expit(a - eta)
    by_sf = expit(eta - a) - expit(eta - b)
    return np.log(np.where(a + b > 2 * eta, by_sf, by_cdf))


def _logp_mp(y, eta, theta1, deltas):
    """log P(y) at 50 digits: a difference of two logistic CDFs, at a working precision that covers the
    cancellation (e^-|eta| next to 1, or a gap of 1e-12 between two thresholds)."""
    extra = int(abs(float(eta)) / 2.3) + int(max([0.0, *(-float(d) for d in deltas)]) / 2.3) + 60
    with mp.workdps(50 + extra):
        cuts = [mp.mpf(theta1)]
        for d in deltas:
            cuts.append(cuts[-1] + mp.exp(mp.mpf(d)))
        F = [mp.mpf(0)] + [1 / (1 + mp.exp(mp.mpf(eta) - c)) for c in cuts] + [mp.mpf(1)]
        return F, mp.log(F[y + 1] - F[y])


def _nll_kernel(K, backend="numpy"):
    return symlik.compile("ordinal_logistic", target="nll", backend=backend, reduction="none", options={"K": str(K)})


@pytest.mark.parametrize("K", KS)
def test_nll_matches_expit_differences(K):
    rng = np.random.default_rng(K)
    n = 400
    eta, theta1 = rng.normal(0, 2, n), rng.normal(0, 1, n)
    deltas = [rng.normal(0, 1, n) for _ in range(K - 2)]
    y = rng.integers(0, K, n).astype(float)
    got = _nll_kernel(K)(eta, y, theta1, *deltas)
    want = -_logp_expit(y, eta, theta1, deltas)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
    # every class is reached, the end ones included
    assert set(np.unique(y)) == set(range(K))


EXTREME_ETA = (-800.0, -40.0, -1.0, 0.0, 0.7, 40.0, 800.0)
GAPS = (math.log(1e-12), -3.0, 0.0, 3.0)  # delta: a gap e^delta from 1e-12 to 20


@pytest.mark.parametrize("K", (3, 5))
def test_nll_at_extremes_against_mpmath(K):
    kernel = _nll_kernel(K)
    worst = 0.0
    for eta in EXTREME_ETA:
        for delta in GAPS:
            deltas = [delta] * (K - 2)
            for y in range(K):
                got = kernel(np.array([eta]), np.array([float(y)]), 0.25, *deltas)[0]
                want = -_logp_mp(y, eta, 0.25, deltas)[1]
                assert np.isfinite(got), (eta, delta, y)
                err = abs(got - float(want)) / max(abs(float(want)), 1e-300)
                # where the true NLL underflows to 0 (e^-800), the kernel's 0 is the nearest double
                if abs(float(want)) < 1e-300:
                    assert abs(got) < 1e-300
                    continue
                worst = max(worst, err)
    assert worst < 1e-13, worst


@pytest.mark.parametrize("backend", ["torch"])
def test_torch_nll_at_extremes_against_mpmath(backend):
    pytest.importorskip("torch")
    import torch

    kernel = symlik.compile("ordinal_logistic", target="nll", backend=backend, reduction="none", options={"K": "4"})
    rows = [(eta, d, y) for eta in EXTREME_ETA for d in GAPS for y in range(4)]
    eta = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    delta = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    y = torch.tensor([float(r[2]) for r in rows], dtype=torch.float64)
    got = kernel(eta, y, torch.tensor(-0.5, dtype=torch.float64), delta, delta).numpy()
    want = np.array([float(-_logp_mp(r[2], r[0], -0.5, [r[1], r[1]])[1]) for r in rows])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("K", KS)
def test_class_probabilities_sum_to_one(K):
    # the kernel's K log-probabilities, exponentiated and summed in mpmath; and the mpmath CDF telescopes
    kernel = _nll_kernel(K)
    rng = np.random.default_rng(10 + K)
    for eta, theta1 in [(0.3, -0.2), (40.0, 1.0), (-40.0, 0.5), (*rng.normal(0, 2, 2),)]:
        deltas = list(rng.normal(0, 1, K - 2))
        nll = kernel(np.full(K, eta), np.arange(K, dtype=float), theta1, *deltas)
        with mp.workdps(50):
            total = mp.fsum(mp.exp(-mp.mpf(v)) for v in nll)
        assert abs(total - 1) < 1e-14, (eta, total)
        with mp.workdps(200):
            exact = mp.fsum(mp.exp(_logp_mp(y, eta, theta1, deltas)[1]) for y in range(K))
            assert abs(exact - 1) < mp.mpf(10) ** -45


@pytest.mark.parametrize("K", KS)
def test_symbolic_nll_is_a_normalised_ordinal_logit(K):
    # the derived -log p itself, evaluated by mpmath at 50 digits: each class against the CDF difference
    import sympy as sp

    d = symlik.derive("ordinal_logistic", options={"K": str(K)})
    spec, symbols = d.spec, d.symbols
    eta, theta1, deltas = "-1.3", "0.4", ("0.2", "-1.1", "0.9")[: K - 2]
    point = {symbols["eta"]: sp.Rational(eta), symbols["theta1"]: sp.Rational(theta1)}
    point.update({symbols[f"delta{k}"]: sp.Rational(v) for k, v in zip(range(2, K), deltas)})
    with mp.workdps(60):
        for y in range(K):
            value = mp.mpf(str(sp.N(d.nll.xreplace({**point, symbols["y"]: y}), 60)))
            want = -_logp_mp(y, mp.mpf(eta), mp.mpf(theta1), [mp.mpf(v) for v in deltas])[1]
            assert abs(value - want) < mp.mpf(10) ** -45, (y, value, want)
    assert spec.support.upper == K - 1 and d.loss.name is None


def test_statsmodels_ordered_logit_loglike():
    pytest.importorskip("statsmodels")
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rng = np.random.default_rng(7)
    n, K = 300, 4
    x = rng.normal(size=(n, 2))
    y = rng.integers(0, K, n)
    beta, theta1, deltas = np.array([0.8, -0.5]), -0.7, [0.1, -0.4]
    model = OrderedModel(y, x, distr="logit")
    loglike = model.loglike(np.concatenate([beta, [theta1], deltas]))  # the same exp-increment thresholds
    nll = symlik.compile("ordinal_logistic", target="nll", reduction="sum", options={"K": str(K)})
    np.testing.assert_allclose(nll(x @ beta, y.astype(float), theta1, *deltas), -loglike, rtol=1e-12)


@pytest.mark.parametrize("K", KS)
def test_grad_against_torch_autograd(K):
    torch = pytest.importorskip("torch")
    predict = ("eta", "theta1", *(f"delta{k}" for k in range(2, K)))
    kernel = symlik.compile("ordinal_logistic", target="grad", predict=predict, reduction="none", options={"K": str(K)})
    rng = np.random.default_rng(20 + K)
    n = 200
    values = [rng.normal(0, 2, n), rng.normal(0, 1, n), *(rng.normal(0, 1, n) for _ in range(K - 2))]
    y = rng.integers(0, K, n)
    got = kernel(*values, y.astype(float))

    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    eta, theta1, *deltas = leaves
    cuts = [theta1]
    for d in deltas:
        cuts.append(cuts[-1] + torch.exp(d))
    inf = torch.full((n,), torch.inf, dtype=torch.float64)
    edges = torch.stack([-inf, *(c.expand(n) for c in cuts), inf])
    idx, rows = torch.as_tensor(y), torch.arange(n)
    a, b = edges[idx, rows], edges[idx + 1, rows]
    # the difference of CDFs, or of survival functions where both cuts lie below eta (no cancellation there)
    p = torch.where(a + b > 2 * eta, torch.sigmoid(eta - a) - torch.sigmoid(eta - b), torch.sigmoid(b - eta) - torch.sigmoid(a - eta))
    (-torch.log(p)).sum().backward()
    want = np.stack([leaf.grad.numpy() for leaf in leaves], axis=-1)
    np.testing.assert_allclose(np.asarray(got).reshape(n, len(predict)), want, rtol=1e-9, atol=1e-12)


def test_grad_finite_at_extremes():
    # d NLL / d eta at |eta| = 800 and a 1e-12 gap: finite, and against mpmath's derivative of the exact NLL
    kernel = symlik.compile("ordinal_logistic", target="grad", reduction="none")
    for eta in EXTREME_ETA:
        for delta in GAPS:
            for y in range(3):
                got = kernel(np.array([eta]), np.array([float(y)]), 0.25, delta)[0]
                F, _ = _logp_mp(y, eta, 0.25, [delta])
                with mp.workdps(500):  # dF(theta - eta)/d eta = -F (1 - F): the quotient rule on -log(F_b - F_a)
                    want = (F[y + 1] * (1 - F[y + 1]) - F[y] * (1 - F[y])) / (F[y + 1] - F[y])
                assert np.isfinite(got)
                assert abs(got - float(want)) <= 1e-12 * max(1.0, abs(float(want))), (eta, delta, y, got, want)


def test_thresholds_are_ordered_for_any_real_deltas():
    spec = symlik.get("ordinal_logistic", K="5")
    import sympy as sp

    cuts = spec.thresholds(sp.Symbol("t"), *sp.symbols("a b c", real=True))
    for lo, hi in zip(cuts, cuts[1:]):
        assert (hi - lo).is_positive  # e^delta > 0 for every real delta
    d = symlik.derive("ordinal_logistic")
    titles = [s.title for s in d.steps]
    assert "Order the thresholds" in titles and titles.index("Order the thresholds") < titles.index("Expand the logarithm")


def test_bad_inputs_and_options():
    nll = _nll_kernel(3)
    with pytest.raises(SymlikError, match="y"):
        nll(np.array([0.0]), np.array([3.0]), 0.0, 0.0)  # class 3 of K = 3
    with pytest.raises(SymlikError, match="y"):
        nll(np.array([0.0]), np.array([0.5]), 0.0, 0.0)
    with pytest.raises(SymlikError, match="option K"):
        symlik.get("ordinal_logistic", K="6")
    assert symlik.get("ordinal_logistic", K=4).param_names == ("eta", "theta1", "delta2", "delta3")
    with pytest.raises(SymlikError, match="delta3"):
        symlik.derive("ordinal_logistic", predict=("eta", "delta3"))  # K = 3 has one gap
