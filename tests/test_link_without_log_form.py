"""A link that declares no log form (softplus: log log(1 + e^z) has no simpler form), defined here
only, goes through the derivation and compiles on NumPy and torch. Found by adding a softplus link
for docs/architecture.md's count: the link pass called log_inverse unconditionally, the NumPy
printer dropped the parentheses of max(z, 0) - (y log softplus(z) - log y!), and the torch
printer passed an int to torch.maximum."""

import numpy as np
import pytest
import sympy as sp
from scipy.special import gammaln

import symlik
from symlik.core.functions import Softplus
from symlik.model import constraints as C
from symlik.model import links

SOFTPLUS = links.Link(
    "softplus_for_test",
    C.positive,
    lambda p: f"softplus_{p}",
    forward=lambda theta: sp.log(sp.exp(theta) - 1),
    inverse=Softplus,
    display=r"\log(1 + e^{z})",
    numeric_forward=lambda theta: np.log(np.expm1(theta)),
    numeric_inverse=lambda z: np.logaddexp(0.0, z),
)
Z = np.array([-30.0, -1.0, 0.0, 2.0, 40.0, 700.0])
Y = np.array([0.0, 1.0, 3.0, 1.0, 7.0, 5.0])


@pytest.fixture
def poisson_with_softplus(monkeypatch):
    monkeypatch.setitem(links.LINKS, SOFTPLUS.name, SOFTPLUS)
    monkeypatch.setattr(type(symlik.get("poisson")), "links", ("log", SOFTPLUS.name))
    return symlik.derive("poisson", link=SOFTPLUS.name)


def _closed_form(z, y):
    rate = np.logaddexp(0.0, z)  # softplus, from its definition
    return rate - y * np.log(rate) + gammaln(y + 1)


def test_the_link_step_names_the_inverse_and_no_log_identity(poisson_with_softplus):
    d = poisson_with_softplus
    assert d.loss.name == "poisson_nll" and d.identity_holds()
    assert any(step.title == f"Apply the {SOFTPLUS.name} link" for step in d.steps)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.slow)])  # (numba's compile: 3 s)
def test_nll_matches_the_closed_form(poisson_with_softplus, backend):
    k = symlik.compile(poisson_with_softplus, target="nll", reduction="none", backend=backend)
    np.testing.assert_allclose(k(Z, Y), _closed_form(Z, Y), rtol=1e-13, atol=0)


def test_torch_nll_matches_the_closed_form(poisson_with_softplus):
    torch = pytest.importorskip("torch")
    k = symlik.compile(poisson_with_softplus, target="nll", reduction="none", backend="torch")
    got = k(torch.tensor(Z), torch.tensor(Y)).numpy()
    np.testing.assert_allclose(got, _closed_form(Z, Y), rtol=1e-13, atol=0)
