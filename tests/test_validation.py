"""Bad input gets a ValueError naming the argument and the rule it broke."""

import subprocess
import sys

import numpy as np
import pytest

import symlik


def test_unknown_name_suggests_close_names():
    with pytest.raises(symlik.SymlikError, match="did you mean 'normal'"):
        symlik.get("normla")
    with pytest.raises(ValueError):
        symlik.derive("nope")


@pytest.mark.parametrize(
    "name,kwargs,args,message",
    [
        ("normal", {"target": "nll"}, (np.zeros(3), np.zeros(3), np.array([1.0, 0.0, 1.0])), r"sigma must be > 0"),
        ("bernoulli", {}, (np.array([1.2]), np.array([1])), r"p must lie in \[0, 1\]"),
        ("bernoulli", {}, (np.array([0.5]), np.array([2])), r"y must lie in the support"),
        ("categorical", {}, (np.full((2, 3), 1 / 3), np.array([0, 3])), r"y must be a class index in \[0, C\)"),
        ("categorical", {}, (np.full((2, 3), 0.5), np.array([0, 1])), r"p must be nonnegative and sum to 1"),
        ("normal", {}, (np.zeros(3), np.zeros(4)), r"mu of shape \(3,\) and y of shape \(4,\) do not match"),
        ("diag_normal", {}, (np.zeros((2, 3)), np.zeros((2, 4))), r"event sizes"),
    ],
)
def test_constraint_errors(name, kwargs, args, message):
    k = symlik.compile(name, **kwargs)
    with pytest.raises(ValueError, match=message):
        k(*args)


def test_validate_false_skips_array_checks():
    k = symlik.compile("normal", target="nll", validate=False)
    with np.errstate(all="ignore"):
        out = k(np.zeros(2), np.zeros(2), np.array([1.0, -1.0]))
    assert np.isnan(out) or np.isfinite(out)  # no exception: the caller opted out


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"target": "entropy"}, "unknown target"),
        ({"reduction": "avg"}, "unknown reduction"),
        ({"backend": "fortran"}, "unknown backend"),
        ({"fixed": {"sigma": 0.0}, "target": "nll"}, "sigma must be > 0"),
        ({"fixed": {"nu": 1.0}}, "unknown fixed parameter"),
        ({"fixed": {"mu": 1.0}}, "predicted"),
        ({"predict": ("mu", "mu")}, "must not repeat"),
        ({"link": "softmax"}, "not accepted"),
    ],
)
def test_symbolic_misuse_always_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        symlik.compile("normal", **kwargs)


def test_kernel_call_errors_name_the_input():
    k = symlik.compile("normal")
    with pytest.raises(ValueError, match="missing input"):
        k(np.zeros(2))
    with pytest.raises(ValueError, match="unexpected input 'sigma'"):
        k(np.zeros(2), np.zeros(2), sigma=1.0)
    with pytest.raises(ValueError, match="given twice"):
        k(np.zeros(2), np.zeros(2), mu=np.zeros(2))


def test_import_symlik_does_not_import_sympy():
    code = "import sys, symlik; symlik.names(); print(any(m in sys.modules for m in ('sympy', 'scipy', 'torch', 'cupy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# The shortcut that skips a check's entry-by-entry mask (two reductions, min and max) may only
# say "valid" where the mask finds nothing: every constraint, on arrays at and beyond its edges.
_EDGE_VALUES = [0.0, 1.0, -1.0, 0.5, 1e-300, -1e-300, 2.0, 1e308, -1e308, np.inf, -np.inf, np.nan, 3.0, 1 - 1e-16]


@pytest.mark.parametrize("name", ["real", "positive", "nonnegative", "unit_interval", "open_unit_interval",
                                  "positive_integer", "nonnegative_integer"])
def test_the_quick_check_never_passes_what_the_full_check_refuses(name):
    from symlik.model import constraints as C

    constraint = getattr(C, name)
    rng = np.random.default_rng(7)
    seen = {True: 0, False: 0}
    for _ in range(400):
        values = rng.choice(_EDGE_VALUES, size=int(rng.integers(1, 5)))
        with np.errstate(over="ignore"):  # 1e308 in float32 is inf: one more edge
            as_float32 = values.astype(np.float32)
        finite = values[np.isfinite(values) & (np.abs(values) < 1e18)]
        for a in (values, as_float32, np.round(finite).astype(np.int64)):
            if a.size == 0:
                continue
            quick = constraint.quick_ok(a)
            seen[quick] += 1
            if quick:
                assert not np.any(constraint.violations(a)), (name, a)
    assert seen[True] and seen[False]  # both answers were reached


@pytest.mark.parametrize("support", ["reals", "positive_reals"])
def test_the_quick_support_check_never_passes_what_the_full_check_refuses(support):
    from symlik.compiler.checks import support_check
    from symlik.model import constraints as C

    check, _ = support_check(getattr(C, support))
    rng = np.random.default_rng(8)
    seen = {True: 0, False: 0}
    for _ in range(400):
        y = rng.choice(_EDGE_VALUES, size=int(rng.integers(1, 5)))
        quick = check.quick_ok(y)
        seen[quick] += 1
        if quick:
            assert not np.any(check(y, {})), (support, y)
    assert seen[True] and seen[False]
