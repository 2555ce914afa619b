"""User densities in three forms (SymPy, string, sympy.stats): supports, normalisation,
identification and kernels, against scipy.stats and mpmath."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import stats

import symlik
from symlik import ConstraintError, SymlikError
from symlik.model.custom import support_from_text
from symlik.model import constraints as C
from symlik.model.normalisation import DensityError

LAPLACE = "exp(-abs(y - m)/b)/(2*b)"


def test_string_density_is_identified_by_proof():
    spec = symlik.custom("mine", density=LAPLACE, observed="y", params={"m": "real", "b": "positive"})
    d = symlik.derive(spec, predict=("m",))
    assert d.loss.name == "mae"
    assert sp.simplify(d.scale - 1 / d.symbols["b"]) == 0
    assert d.identity_holds()


def test_string_gaussian_in_disguise_is_mse():
    spec = symlik.custom("g", density="exp(-(t - c)**2/8)/sqrt(8*pi)", observed="t", params={"c": "real"})
    d = symlik.derive(spec)
    assert (d.loss.name, d.scale) == ("mse", sp.Rational(1, 8))


def test_log_density_string():
    spec = symlik.custom("g", log_density="-(y - m)**2/2 - log(2*pi)/2", params={"m": "real"})
    assert symlik.derive(spec).loss.name == "mse"


def test_custom_kernel_matches_scipy():
    spec = symlik.custom("mine", density=LAPLACE, params={"m": "real", "b": "positive"})
    k = symlik.compile(spec, target="nll", reduction="none")
    rng = np.random.default_rng(3)
    m, y, b = rng.normal(size=50), rng.normal(size=50) * 3, rng.lognormal(size=50)
    np.testing.assert_allclose(k(m, y, b), -stats.laplace.logpdf(y, loc=m, scale=b), rtol=1e-12)
    with pytest.raises(ConstraintError, match="b must be > 0"):
        k(m, y, -b)


def test_discrete_string_density_sums_to_one_and_matches_scipy():
    spec = symlik.custom(
        "counts", density="lam**y*exp(-lam)/factorial(y)", params={"lam": "positive"}, support="nonnegative_integer"
    )
    d = symlik.derive(spec)
    nll = sp.lambdify([d.symbols["lam"], d.y], d.nll, modules=["scipy", "numpy"])
    y = np.arange(0, 40.0)
    np.testing.assert_allclose(nll(3.7, y), -stats.poisson.logpmf(y, 3.7), rtol=1e-10)


def test_not_normalised_says_what_it_integrates_to():
    with pytest.raises(DensityError, match=r"integrates to 2, not 1") as info:
        symlik.custom("half", density="exp(-abs(y - m))", params={"m": "real"})
    assert "normalize=True" in str(info.value)
    with pytest.raises(DensityError, match=r"sums to 2, not 1"):
        symlik.custom("coin", density="p**y*(1 - p)**(1 - y)*2", params={"p": "unit_interval"}, support="binary")


def test_normalize_derives_the_gamma_constant():
    spec = symlik.custom("gen", density="exp(-abs(y - m)**p)", params={"m": "real", "p": "positive"}, normalize=True)
    p = spec.symbol("p")
    # textbook: int exp(-|u|^p) du = 2 Gamma(1 + 1/p)
    assert sp.simplify(spec.normaliser - 2 * sp.gamma(1 + 1 / p)) == 0
    for pv in (0.7, 1.5, 3.0):  # and numerically, by mpmath
        assert float(spec.normaliser.subs(p, pv)) == pytest.approx(
            float(mpmath.quad(lambda u: mpmath.exp(-abs(u) ** pv), [-mpmath.inf, 0, mpmath.inf])), rel=1e-10
        )
    d = symlik.derive(spec)
    titles = [s.title for s in d.steps]
    assert titles.index("Normalise the density") == titles.index("Substitute the gen density") + 1
    assert r"\Gamma" in d.to_latex()
    assert d.offset.has(sp.gamma)  # the constant is in the NLL's offset, not the loss


def test_negative_density_is_refused():
    with pytest.raises(DensityError, match="negative at y="):
        symlik.custom("bad", density="(y - m)*exp(-(y - m)**2/2)/sqrt(2*pi)", params={"m": "real"})


def test_density_without_finite_normaliser_is_refused():
    with pytest.raises(DensityError, match="no finite normaliser"):
        symlik.custom("bad", density="exp(y - m)", params={"m": "real"})
    with pytest.raises(DensityError, match="no finite normaliser"):
        symlik.custom("bad", density="1/(b*(1 + abs(y)))", params={"b": "positive"})


@pytest.mark.slow  # 4-6 s: in the slow suite, to keep README's test command under 5 minutes
def test_numeric_normalisation_where_sympy_cannot_integrate(monkeypatch):
    # int exp(-cosh(u)) du = 2 K_0(1); SymPy finds no closed form, mpmath checks it.
    monkeypatch.setenv("SYMLIK_SYMBOLIC_TIMEOUT", "1")
    y, m = sp.symbols("y m", real=True)
    good = sp.exp(-sp.cosh(y - m)) / (2 * sp.besselk(0, 1))
    spec = symlik.custom("hyp", density=good, observed=y, params={m: "real"})
    assert symlik.derive(spec).loss.name is None
    with pytest.raises(DensityError, match="integrates to about 0.84"):
        symlik.custom("hyp", density=sp.exp(-sp.cosh(y - m)), observed=y, params={m: "real"})


@pytest.mark.parametrize(
    "support,want",
    [
        (sp.Interval(0, sp.oo), C.Support("continuous", 0, None)),
        (sp.Interval.open(0, 1), C.Support("continuous", 0, 1, open_lower=True, open_upper=True)),
        (sp.Range(0, 6), C.Support("discrete", 0, 5)),
        ({0, 1, 2}, C.Support("discrete", 0, 2)),
        (range(1, 4), C.Support("discrete", 1, 3)),
        (sp.Naturals0, C.Support("discrete", 0, None)),
        (sp.Reals, C.reals),
    ],
)
def test_supports_as_sets(support, want):
    from symlik.model.custom import _support

    assert _support(support, ()) == want


@pytest.mark.parametrize(
    "text,want",
    [
        ("positive", C.positive_reals),
        ("[0, 1]", C.Support("continuous", 0, 1)),
        ("(0, inf)", C.Support("continuous", 0, None, open_lower=True)),
        ("(-inf, 2]", C.Support("continuous", None, 2)),
        ("{0, 1, 2}", C.Support("discrete", 0, 2)),
        ("{0, ..., 10}", C.Support("discrete", 0, 10)),
        ("{1, 2, ...}", C.Support("discrete", 1, None)),
        ("[0, n]", C.Support("continuous", 0, "n")),
    ],
)
def test_supports_as_text(text, want):
    assert support_from_text(text, ("n",)) == want


@pytest.mark.parametrize("bad", ["{0, 2, 5}", "[0, __import__('os')]", "somewhere", "{0.5, 1}"])
def test_bad_supports_are_refused(bad):
    with pytest.raises(SymlikError):
        support_from_text(bad, ())


def test_bad_custom_arguments():
    with pytest.raises(SymlikError, match="undeclared symbol"):
        symlik.custom("x", density=sp.Symbol("y") * sp.Symbol("q"), params={"m": "real"})
    with pytest.raises(SymlikError, match="unknown constraint of parameter m"):
        symlik.custom("x", density=LAPLACE, params={"m": "reel", "b": "positive"})
    with pytest.raises(SymlikError, match="simplex"):
        symlik.custom("x", density=LAPLACE, params={"m": "simplex", "b": "positive"})
    with pytest.raises(SymlikError, match="exactly one"):
        symlik.custom("x", params={"m": "real"})
    with pytest.raises(SymlikError, match="clashes"):
        symlik.custom("x", density="exp(-y)", params={"y": "real"})


def test_from_sympy_stats_normal_and_its_constraints():
    stats_ = pytest.importorskip("sympy.stats")
    m, s = sp.symbols("m s")  # no assumptions: the constraint comes from Normal's own check
    spec = symlik.from_sympy_stats(stats_.Normal("Y", m, s))
    assert spec.param("s").constraint == C.positive
    assert spec.param("m").constraint == C.real
    d = symlik.derive(spec)
    assert d.loss.name == "mse"
    assert sp.simplify(d.scale - 1 / (2 * d.symbols["s"] ** 2)) == 0


def test_from_sympy_stats_bernoulli_and_laplace():
    stats_ = pytest.importorskip("sympy.stats")
    p = sp.Symbol("p")
    spec = symlik.from_sympy_stats(stats_.Bernoulli("Y", p))
    assert spec.param("p").constraint == C.unit_interval
    assert symlik.derive(spec).loss.name == "binary_cross_entropy"
    k = symlik.compile(spec, target="nll", reduction="none")
    y, pv = np.array([0, 1, 1, 0]), np.array([0.2, 0.3, 0.9, 0.5])
    np.testing.assert_allclose(k(pv, y), -stats.bernoulli.logpmf(y, pv), rtol=1e-12)
    mu, b = sp.symbols("mu b")
    assert symlik.derive(symlik.from_sympy_stats(stats_.Laplace("Y", mu, b))).loss.name == "mae"


def test_from_sympy_stats_rejects_non_random_variables():
    with pytest.raises(SymlikError, match="sympy.stats random variable"):
        symlik.from_sympy_stats(sp.Symbol("x"))


def run(*args):
    return subprocess.run([sys.executable, "-m", "symlik.apps.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_derives_a_string_density():
    r = run("derive", "--density", LAPLACE, "--param", "m:real", "--param", "b:positive", "--predict", "m")
    assert r.returncode == 0, r.stderr
    assert "mae" in r.stdout and "Proven identity" in r.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (("--param", "m"), "NAME:CONSTRAINT"),
        (("--param", "m:reel"), "unknown constraint"),
        (("--param", "m:real", "--support", "{0, 2}"), "consecutive"),
        (("--param", "q:real"), "unknown name 'm'"),
    ],
)
def test_cli_density_errors_are_one_line(args, needle):
    r = run("derive", "--density", "exp(-abs(y - m))/2", *args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert needle in r.stderr


def test_simplex_parameter_in_a_vector_density():
    # A categorical written by hand (other names): identified as cross-entropy by proof.
    t, q = sp.IndexedBase("t"), sp.IndexedBase("q")
    j, M = sp.Symbol("j", integer=True, positive=True), sp.Symbol("M", integer=True, positive=True)
    spec = symlik.custom("classes", density=sp.Product(q[j] ** t[j], (j, 1, M)), observed=t, params={q: "simplex"})
    d = symlik.derive(spec)
    assert (d.loss.name, d.scale) == ("cross_entropy", 1)
    k = symlik.compile(spec, target="nll", reduction="none")
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = np.array([2, 0])
    np.testing.assert_allclose(k(p, labels), -np.log(p[[0, 1], labels]), rtol=1e-12)
    assert sp.simplify(d.chance_loss() - sp.log(M)) == 0
    with pytest.raises(DensityError, match="sums to 2"):
        symlik.custom("classes", density=2 * sp.Product(q[j] ** t[j], (j, 1, M)), observed=t, params={q: "simplex"})
    with pytest.raises(SymlikError, match="strings cannot index"):
        symlik.custom("classes", density="q**t", observed=t, params={q: "simplex"})
