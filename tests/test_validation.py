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
