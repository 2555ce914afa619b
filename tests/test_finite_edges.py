"""Kernels that once returned nan/inf at a point of the accuracy grid where the true value is
finite (issue 15's NONFINITE list), each checked at that point against mpmath (50 digits, from
the distribution's own density: symlik.apps.accuracy.oracle), with the cause in a comment."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import symlik
from symlik.apps.accuracy.oracle import Oracle, converged, derivative, start_digits
from symlik.apps.catalog import all_derivations
from symlik.model.distributions import names

# (slug, target, d/d which input (None: the value), point, dtype, relative tolerance, why it was not finite)
CASES = [
    ("zero-inflated-poisson", "nll", "pi", {"pi": 0.0, "rate": 1e-8, "y": 0}, np.float64, 1e-7,
     "1/(pi (1 + e^b/pi)) from logaddexp's derivative: 0 * inf at pi = 0"),
    ("zero-inflated-poisson", "nll", "pi", {"pi": 0.0, "rate": 1.0, "y": 0}, np.float64, 1e-14, "the same"),
    ("zero-inflated-poisson", "loss", "pi", {"pi": 1.0, "rate": 1.0, "y": 0}, np.float32, 1e-5,
     "(1 - pi)(1 + pi e^(rate - log(1 - pi))): 0 * inf at pi = 1 (exact in float32)"),
    ("zero-inflated-poisson", "nll", "rate", {"pi": 0.0, "rate": 1000.0, "y": 0}, np.float64, 1e-14,
     "pi e^rate as XExp at pi = 0, rate = 1000: 0 * inf"),
    ("zero-inflated-poisson-log", "nll", "pi", {"pi": 0.0, "log_rate": -1.0, "y": 0}, np.float64, 1e-14, "as above"),
    ("zero-inflated-poisson-log", "nll", "log_rate", {"pi": 0.0, "log_rate": 30.0, "y": 0}, np.float64, 1e-14, "as above"),
    ("zero-inflated-poisson-rate", "loss", "rate", {"pi": 0.0, "rate": 1e8, "y": 0}, np.float32, 1e-5, "as above"),
    ("zero-inflated-negative-binomial", "nll", "pi", {"pi": 0.0, "mu": 1e-8, "y": 0, "n": 1e-8}, np.float64, 1e-6,
     "as the zero-inflated Poisson's"),
    ("zero-inflated-negative-binomial", "nll", "mu", {"pi": 0.0, "mu": 1000.0, "y": 0, "n": 1e8}, np.float64, 1e-12,
     "as the zero-inflated Poisson's"),
    ("zero-inflated-negative-binomial-pi-mu-n", "nll", "n", {"pi": 0.0, "mu": 1000.0, "n": 1e8, "y": 0}, np.float64, 1e-6,
     "as the zero-inflated Poisson's"),
    ("zero-inflated-negative-binomial-log", "nll", None, {"pi": 0.0, "log_mu": -1000.0, "y": 1, "n": 1e-8}, np.float64, 1e-14,
     "log(1 + n e^-log_mu) with e^1000 = inf; softplus(log n - log_mu) is 982"),
    ("zero-inflated-negative-binomial-log", "nll", "log_mu", {"pi": 0.0, "log_mu": -1000.0, "y": 1, "n": 1e-8}, np.float64,
     1e-14, "inf/inf in the derivative of the same log; a sigmoid now"),
    ("zero-inflated-negative-binomial-log", "loss", None, {"pi": 0.0, "log_mu": -80.0, "y": 1e6, "n": 1e8}, np.float32, 1e-5,
     "n e^80 = 5.5e42 overflows float32"),
    ("beta-mean-precision-logit", "nll", None, {"logits": -1000.0, "y": 0.5, "phi": 1.0}, np.float64, 1e-14,
     "log Gamma(phi sigmoid(-1000)) = log Gamma(0) = inf"),
    ("beta-mean-precision-logit", "loss", "logits", {"logits": -1000.0, "y": 0.5, "phi": 1e8}, np.float64, 1e-14,
     "sigmoid(z) digamma(phi sigmoid(z)): 0 * inf"),
    ("beta-mean-precision-logit", "nll", "logits", {"logits": -80.0, "y": 1e-15, "phi": 1e-8}, np.float32, 1e-5,
     "phi sigmoid(-80) = 1.8e-43 is below float32's range"),
    ("beta-mean-precision-mu-phi-logit", "nll", "phi", {"logits": -1000.0, "phi": 1e-8, "y": 1e-15}, np.float64, 1e-12,
     "sigmoid(z) digamma(phi sigmoid(z)): 0 * inf"),
    ("student-t-mu-sigma-nu", "nll", "nu", {"mu": -1e8, "sigma": 1e-8, "nu": 1e-8, "y": -1e-8}, np.float32, 1e-5,
     "log1p(r^2/(nu sigma^2)) read through a common subexpression that had overflowed (1e40)"),
    ("student-t-mu-sigma-nu", "loss", "nu", {"mu": -1e8, "sigma": 1e-8, "nu": 1e8, "y": 1e8}, np.float32, 1e-5,
     "r^2 (nu + 1)/(nu^2 sigma^2 (1 + r^2/(nu sigma^2))): inf/inf"),
    ("weibull-k-lam", "nll", "k", {"k": 1e-8, "lam": 1e8, "y": 1e-38}, np.float32, 1e-5,
     "(y/lam)^k log(y/lam) with y/lam = 1e-46 = 0 in float32: log 0"),
]


def _derivation(slug):
    # only the entry the slug names is derived (its dashed name, the longest that fits), not the catalog before it
    dashed = {n.replace("_", "-"): n for n in names()}
    name = max((n for n in dashed if slug == n or slug.startswith(n + "-")), key=len)
    return next(d for d in all_derivations([dashed[name]]) if d.slug == slug)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}:{c[1]}:{c[2]}:{c[4].__name__}")
def test_finite_and_accurate_where_it_was_not(case):
    slug, target, name, point, dtype, rtol, _why = case
    d = _derivation(slug)
    kernel = symlik.compile(d, target=target, reduction="sum")
    args = {n: np.array([point[n]], dtype=dtype) for n in kernel.inputs}
    with np.errstate(all="ignore"):
        got = kernel.elementwise(**args)[0] if name is None else kernel.grad(**args)[kernel.inputs.index(name)][0]
    oracle = Oracle(d)
    exact = {n: mpmath.mpf(float(dtype(v))) for n, v in point.items()}  # the numbers the kernel saw
    value = lambda v: oracle.value(target, v)  # noqa: E731
    if name is None:
        truth = converged(lambda: value(exact), start_digits(exact))
    else:
        truth = converged(lambda: derivative(value, exact, name, None, 0), start_digits(exact))
    assert mpmath.isfinite(truth)
    assert np.isfinite(got), f"{slug} {target} d/d{name}: {got}"
    assert abs(mpmath.mpf(float(got)) - truth) <= rtol * abs(truth), (float(got), mpmath.nstr(truth, 17))


def test_xexp_is_zero_at_a_zero_factor():
    from symlik.compiler._numpy_runtime import NAMESPACE

    x_exp = NAMESPACE["_x_exp"]
    with np.errstate(all="ignore"):
        got = x_exp(np.array([1000.0, 1e8, -5.0, np.inf]), np.array([0.0, 0.0, 2.0, 0.0]))
    assert got[0] == 0 and got[1] == 0 and got[2] == pytest.approx(2 * np.exp(-5.0), rel=1e-15)
    assert np.isnan(got[3])  # 0 * e^inf has no value


def test_oracle_slope_survives_a_huge_value():
    # The hurdle Poisson's NLL at y = 1, log rate = 700 is e^700 = 1e304 plus -log(1 - pi): its slope
    # in pi, 1/(1 - pi) = 1e15, is below the last digit of 1e304 at the oracle's first precisions
    # (once read as 0, so a correct kernel was counted as nan/inf). By hand: 1/(1 - pi).
    d = _derivation("hurdle-poisson-log")
    oracle = Oracle(d)
    pi = mpmath.mpf(float(np.float64(1 - 1e-15)))
    point = {"pi": pi, "log_rate": mpmath.mpf(700), "y": mpmath.mpf(1)}
    got = converged(lambda: derivative(lambda v: oracle.value("nll", v), point, "pi", None, 0), start_digits(point))
    with mpmath.workdps(60):
        want = 1 / (1 - pi)
    assert abs(got - want) <= mpmath.mpf(10) ** -40 * want


@pytest.mark.parametrize("backend", ["fused", "torch", "jax"])
def test_xexp_is_zero_at_a_zero_factor_on_the_other_backends(backend):
    # The lowered XExp is 0 at a zero factor, as the NumPy runtime's. By hand: a gamma with k = 1
    # is an exponential, NLL y/mu + log mu = -1000 at y = 0, log mu = -1000 (y e^-log_mu was 0 * inf).
    pytest.importorskip({"fused": "numba"}.get(backend, backend))
    from harness import as_backend_array

    k = symlik.compile("gamma", link="log", target="nll", reduction="none", backend=backend)
    args = {"log_mu": np.array([-1000.0, 0.5]), "y": np.array([0.0, 1.0]), "k": np.array([1.0, 2.0])}
    got = np.asarray(k(**{n: as_backend_array(backend, v) for n, v in args.items()}))
    want = symlik.compile("gamma", link="log", target="nll", reduction="none")(**args)
    assert got[0] == -1000.0
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.slow  # 4-6 s: in the slow suite, to keep README's test command under 5 minutes
def test_zero_inflated_rate_gradient_at_pi_zero_on_the_fused_backend():
    # d/d rate of -log(pi + (1 - pi) e^-rate) at pi = 0, y = 0 is 1 (by hand); pi e^rate was 0 * inf.
    pytest.importorskip("numba")
    k = symlik.compile("zero_inflated_poisson", target="grad_hess", backend="fused", reduction="none")
    grad, hess = k(pi=np.array([0.0]), rate=np.array([1000.0]), y=np.array([0.0]))
    assert grad[0, 1] == 1.0 and hess[0, 1] == 0.0
