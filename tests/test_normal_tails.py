"""Custom densities written with erf, erfc or a normal CDF compile through the stable forms
(log Phi, log erfc, log1mexp, log expm1): a skew-normal keeps every digit deep in its lower
tail on every backend, against mpmath at 50 digits; and the lowered forms the backends without
a routine print (symlik.core.functions.basic) are as accurate as the NumPy routines."""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
import sympy as sp

import symlik
from symlik.compiler import _numpy_runtime
from symlik.compiler.codegen import SymlikNumPyPrinter
from symlik.core.functions import InverseMills, LogErfc, Log1mExp, LogExpm1, LogNdtr, basic
from symlik.rewrite.rules import stabilize

mpmath.mp.dps = 50
y, m, a = sp.symbols("y m a", real=True)
x = sp.Symbol("x", real=True)
NORMAL = sp.exp(-((y - m) ** 2) / 2) / sp.sqrt(2 * sp.pi)
# The skew-normal density 2 phi(r) Phi(a r), r = y - m, written three ways a user might.
FORMS = {
    "erf": NORMAL * (1 + sp.erf(a * (y - m) / sp.sqrt(2))),
    "erfc": NORMAL * sp.erfc(-a * (y - m) / sp.sqrt(2)),
    "cdf": 2 * NORMAL * (sp.erf(a * (y - m) / sp.sqrt(2)) / 2 + sp.Rational(1, 2)),
}
SLOPES = np.array([-7.0, -8.0, -9.0, -20.0, -40.0, 0.5, 3.0, 10.0])


def skew_normal_nll(r, alpha):
    """-log(2 phi(r) Phi(alpha r)) in mpmath (the density's definition, not the code's form)."""
    r, alpha = mpmath.mpf(r), mpmath.mpf(alpha)
    return -(mpmath.log(2) + mpmath.log(mpmath.npdf(r)) + mpmath.log(mpmath.ncdf(alpha * r)))


def skew_normal_dnll_dm(r, alpha):
    return mpmath.diff(lambda mm: skew_normal_nll(r - mm, alpha), 0)


@functools.lru_cache(maxsize=None)  # one spec per form, shared by the tests
def _spec(form):
    # check=False: that the skew-normal integrates to 1 is textbook (Azzalini 1985), not under test here.
    return symlik.custom(f"skew_normal_{form}", density=FORMS[form], observed=y, params={m: "real", a: "real"}, check=False)


def _relative(got, want):
    return np.array([abs((g - float(w)) / float(w)) for g, w in zip(got, want)])


@pytest.mark.parametrize("form", sorted(FORMS))
def test_skew_normal_nll_keeps_every_digit_in_the_lower_tail(form):
    k = symlik.compile(_spec(form), target="nll", predict=("m",), reduction="none")
    n = len(SLOPES)
    got = np.asarray(k(np.zeros(n), np.ones(n), SLOPES))
    want = [skew_normal_nll(1, s) for s in SLOPES]
    assert np.all(np.isfinite(got))
    assert np.all(_relative(got, want) <= 1e-12), (_relative(got, want), k.source)


def test_the_erfc_form_is_never_two_minus_erfc():
    # SymPy evaluates erfc(-u) to 2 - erfc(u), whose log is log(0) once erfc(u) rounds to 2.
    assert sp.erfc(-x) == 2 - sp.erfc(x)
    out = stabilize(sp.log(sp.erfc(-x)))
    assert out == LogErfc(-x) and not out.has(sp.erfc)
    with np.errstate(all="ignore"):
        assert not np.isfinite(np.log(2 - _numpy_runtime._erfc(-30.0)))  # the form it must not take


def test_skew_normal_gradient_in_the_lower_tail():
    k = symlik.compile(_spec("erf"), target="grad", predict=("m",), reduction="none")
    n = len(SLOPES)
    got = np.asarray(k(np.zeros(n), np.ones(n), SLOPES)).reshape(n)
    want = [skew_normal_dnll_dm(1, s) for s in SLOPES]
    assert np.all(_relative(got, want) <= 1e-10), _relative(got, want)


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_skew_normal_on_the_other_backends(backend):
    pytest.importorskip({"fused": "numba", "torch": "torch"}[backend])
    k = symlik.compile(_spec("erfc"), target="nll", predict=("m",), reduction="none", backend=backend)
    n = len(SLOPES)
    got = np.asarray(k(np.zeros(n), np.ones(n), SLOPES), dtype=float)
    want = [skew_normal_nll(1, s) for s in SLOPES]
    assert np.all(_relative(got, want) <= 1e-12), _relative(got, want)


def _lowered(expr):
    """The lowered form (what fused/CUDA print), through the NumPy printer, as a function of x."""
    ns = dict(_numpy_runtime.NAMESPACE)
    exec(f"def f(x):\n    return {SymlikNumPyPrinter().doprint(basic(expr))}\n", ns)  # noqa: S102 - the printer's output
    return ns["f"]


LOWERED = [
    (LogNdtr(x), [-60.0, -40.0, -20.0, -9.0, -1.0, 0.0, 3.0, 8.0], lambda v: mpmath.log(mpmath.ncdf(v))),
    (LogErfc(x), [-30.0, -3.0, -1e-10, 1e-10, 0.3, 5.0, 24.0, 30.0, 1e3], lambda v: mpmath.log(mpmath.erfc(v))),
    (Log1mExp(x), [-1e-20, -1e-5, -0.5, -1.0, -40.0], lambda v: mpmath.log(-mpmath.expm1(v))),
    (LogExpm1(x), [1e-20, 1e-5, 0.5, 2.0, 40.0, 800.0], lambda v: mpmath.log(mpmath.expm1(v))),
    # phi/Phi on both sides of the switch at -35 and where phi and Phi both underflow (about -x there)
    (InverseMills(x), [-1e16, -1e8, -1e3, -60.0, -35.0001, -35.0, -34.999, -30.0, -5.0, -1.0, 0.0, 1.0, 5.0, 30.0],
     lambda v: mpmath.npdf(v) / mpmath.ncdf(v)),
]


@pytest.mark.parametrize("expr, points, oracle", LOWERED, ids=lambda c: str(c) if isinstance(c, sp.Basic) else "")
def test_routine_and_lowered_form_against_mpmath(expr, points, oracle):
    routine = _numpy_runtime.NAMESPACE[_numpy_runtime.PRINTED_AS[type(expr).__name__]]
    lowered = _lowered(expr)
    for v in points:
        want = oracle(mpmath.mpf(v))
        for f in (routine, lowered):
            with np.errstate(all="ignore"):
                got = float(f(np.float64(v)))
            assert abs(got - want) <= 1e-13 * abs(want), (expr, v, got, mpmath.nstr(want, 17))


@pytest.mark.parametrize("f", [LogNdtr, LogErfc, Log1mExp, LogExpm1, InverseMills])
def test_derivative_matches_the_exact_formula(f):
    v = sp.Rational(-3, 10) if f is Log1mExp else sp.Rational(7, 10)
    got = sp.N(f(x).diff(x).subs(x, v), 30)
    want = sp.N(f(x).rewrite("exact").diff(x).subs(x, v), 30)
    assert abs(got - want) < 1e-25


@pytest.mark.parametrize("v", [-1e16, -1e8, -40.0])
def test_derivative_of_log_phi_is_finite_where_phi_and_Phi_underflow(v):
    # e^{-x^2/2 - log Phi(x)}, the form it replaced, subtracts two numbers of size x^2/2 whose
    # difference is log(-x): at -1e16 that is below their rounding, and the exponent came out as inf
    got = _lowered(LogNdtr(x).diff(x))(np.float64(v))
    want = mpmath.npdf(v) / mpmath.ncdf(v)
    assert abs(got - want) <= 1e-14 * want


def test_lowering_keeps_a_kept_function_inside_a_lowered_one():
    # A backend with its own log Phi (torch, JAX, the fused runtime) keeps it inside log(1 - e^x);
    # SymPy's rewrite is deep, and lowered it to erfc forms that torch has no routine for
    inner = LogNdtr(x) - LogNdtr(y)
    out = basic(Log1mExp(inner), keep=(LogNdtr,))
    assert not out.has(Log1mExp, sp.erfc, sp.erf) and out.has(LogNdtr)
    want = mpmath.log(1 - mpmath.ncdf(-3) / mpmath.ncdf(-1))
    assert abs(sp.N(out.subs({x: -3, y: -1}), 30) - want) < 1e-25
