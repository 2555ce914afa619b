"""Link functions: what a network outputs (a pre-activation) -> the parameter.

A link is one object that holds everything symlik knows about it, so that no
code branches on a link's name (a new link is one entry here):

- ``domain``: the constraint of the parameters it maps onto;
- ``forward`` (theta -> z) and ``inverse`` (z -> theta), as SymPy forms;
- ``log_inverse`` / ``log1m_inverse``: the *log* of the inverse, written in the
  form a careful human would use (log sigmoid(z) = -log(1 + e^-z)). Templates
  are written in log p and log(1 - p), so substituting these logs directly keeps
  the derivation readable and never forms log(1/(1 + e^-z)) at all;
- ``display``: theta = g^-1(z) as LaTeX;
- numeric forms for oracles and tests (``numeric_forward``, ``numeric_inverse``
  with NumPy/SciPy, ``precise_inverse`` with mpmath), written from the
  definition and independent of the SymPy forms the kernels are compiled from;
- the values tests, figures and the accuracy grid try (``draw``, ``moderate``,
  ``edge_values``, ``extremes``, ``plot_halfwidth``, ``axis_label``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy as np
import sympy as sp

from symlik.core.errors import UnknownNameError
from symlik.core.functions import EVENT_J, LogSumExp, Sigmoid, Softplus
from symlik.model import constraints as C


@dataclass(frozen=True)
class Link:
    name: str
    domain: C.Constraint  # the range of the inverse: the values a parameter takes through this link
    input_name: Callable[[str], str]  # parameter name -> the kernel input's name ("logits", "log_rate")
    forward: Callable  # theta -> z (SymPy); for event links z_k up to a constant shared by all k
    inverse: Callable  # z -> theta (for event links: (z_base, k, K) -> theta_k)
    display: str  # g^-1(z) in LaTeX
    log_inverse: Callable | None = None
    log1m_inverse: Callable | None = None
    event: bool = False  # z and theta are vectors on the last axis
    description: str = ""
    numeric_forward: Callable | None = None  # theta -> z on arrays
    numeric_inverse: Callable | None = None  # z -> theta on arrays (the last axis for event links)
    precise_inverse: Callable | None = None  # z -> theta in mpmath (a list for event links)
    spread: float = 1.0  # standard deviation of random pre-activations in tests
    moderate: float = 1.0  # |z| below which theta stays moderate (property tests draw there)
    plot_halfwidth: float = 3.0  # figures show z in [-plot_halfwidth, plot_halfwidth]
    axis_label: Callable[[str], str] = lambda param: "pre-activation"  # noqa: E731
    edge_values: dict | None = None  # {"float64" | "float32": extreme z values} for assert_loss_matches
    grid_values: Callable | None = None  # dtype -> extreme z values (rows for event links), accuracy grid
    # Any parameter whose constraint it fits may take it (link={"sigma": "log"}), not only the
    # parameters whose distribution lists it in ``links`` (those are also shown by `derive --all`).
    per_parameter: bool = False

    def latex_inverse(self) -> str:
        return self.display

    def fits(self, constraint: C.Constraint) -> bool:
        """The link fits a parameter when every value it gives is valid (its range lies within the
        constraint) and it reaches every valid value but the edges (the range's closure holds the
        constraint): log's (0, inf) fits a rate > 0 and a rate >= 0, whose 0 is reached as z -> -inf,
        but not a probability in [0, 1]."""
        return self.domain.within(constraint) and constraint.within(self.domain.closure())

    def draw(self, rng, shape) -> np.ndarray:
        """Random pre-activations (their spread keeps theta away from the edges)."""
        return rng.normal(0.0, self.spread, shape)

    def extremes(self, dtype) -> list:
        """Pre-activations past where the inverse under- or overflows, for the accuracy grid."""
        if self.grid_values is None:
            raise NotImplementedError(f"no extreme grid for the {self.name} link")
        return self.grid_values(np.dtype(dtype))


def _big(dtype) -> float:
    """The largest |z| the accuracy grid tries: past exp's range in float32 and sigmoid's in float64."""
    return 1e3 if dtype == np.float64 else 80.0


def _expit(z):
    from scipy import special

    return special.expit(z)


def _logit(p):
    from scipy import special

    return special.logit(p)


def _softmax_array(z):
    from scipy import special

    return special.softmax(z, axis=-1)


def _softmax_mp(zs):
    top = max(zs)  # shifted by the largest, so no exp overflows
    e = [mpmath.exp(v - top) for v in zs]
    total = mpmath.fsum(e)
    return [v / total for v in e]


identity = Link(
    "identity",
    C.real,
    lambda p: p,
    forward=lambda theta: theta,
    inverse=lambda z: z,
    display="z",
    description="theta = z",
    numeric_forward=lambda theta: theta,
    numeric_inverse=lambda z: z,
    precise_inverse=lambda z: z,
)

logit = Link(
    "logit",
    C.open_unit_interval,  # sigmoid's range: 0 and 1 are reached only in the limit
    lambda p: "logits",
    forward=lambda theta: sp.log(theta / (1 - theta)),
    inverse=lambda z: Sigmoid(z),
    display=r"\sigma(z)",
    # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
    log_inverse=lambda z: -Softplus(-z),
    log1m_inverse=lambda z: -Softplus(z),
    description="p = sigmoid(z); the network outputs logits z",
    numeric_forward=_logit,
    numeric_inverse=_expit,
    precise_inverse=lambda z: 1 / (1 + mpmath.exp(-z)),
    spread=3.0,
    moderate=20.0,  # sigmoid(20) is within 2e-9 of 1
    plot_halfwidth=6.0,
    axis_label=lambda param: "logit",
    # Logits reach +-1e3 in float64 and +-100 in float32, past where sigmoid underflows
    # (float32: about -88 to -104).
    edge_values={
        "float64": (0.0, 1.0, -1.0, 10.0, -10.0, 30.0, -30.0, 100.0, -100.0, 700.0, -700.0, 1000.0, -1000.0),
        "float32": (0.0, 1.0, -1.0, 10.0, -10.0, 30.0, -30.0, 80.0, -80.0, 100.0, -100.0),
    },
    grid_values=lambda dtype: [-_big(dtype), -30.0, -1e-8, 0.0, 1e-8, 30.0, _big(dtype)],
)

log = Link(
    "log",
    C.positive,
    lambda p: f"log_{p}",
    forward=sp.log,
    inverse=lambda z: sp.exp(z),
    display=r"e^{z}",
    log_inverse=lambda z: z,
    description="theta = exp(z); the network outputs the log of the parameter",
    numeric_forward=np.log,
    numeric_inverse=np.exp,
    precise_inverse=mpmath.exp,
    spread=2.0,
    moderate=5.0,  # rates up to e^5, about 150
    axis_label=lambda param: "log-rate" if param in ("rate", "lam") else "log-parameter",
    edge_values={
        "float64": (0.0, 1.0, -1.0, 10.0, -10.0, 50.0, -50.0, 300.0, -300.0),
        "float32": (0.0, 1.0, -1.0, 10.0, -10.0, 40.0, -40.0),
    },
    # exp overflows past 709 in float64 and 88 in float32
    grid_values=lambda dtype: [-_big(dtype), -30.0, -1.0, 0.0, 1.0, 30.0, 700.0 if dtype == np.float64 else 80.0],
    per_parameter=True,
)


def _softplus_array(z):
    # log(1 + e^z) as logaddexp(0, z): no overflow for large z, no rounding to 0 of e^z for small z
    return np.logaddexp(0.0, z)


def _inverse_softplus_array(theta):
    # z = log(e^theta - 1) = theta + log(1 - e^-theta): expm1 keeps it exact for small theta
    theta = np.asarray(theta, dtype=float)
    return theta + np.log(-np.expm1(-theta))


softplus = Link(
    "softplus",
    C.positive,
    lambda p: f"softplus_inv_{p}",
    forward=lambda theta: sp.log(sp.exp(theta) - 1),
    inverse=lambda z: Softplus(z),
    display=r"\log\left(1 + e^{z}\right)",
    # no log_inverse: log softplus(z) has no simpler form; the kernels keep softplus(z) itself
    description="theta = softplus(z) = log(1 + e^z); grows linearly, unlike exp, so large z cannot overflow",
    numeric_forward=_inverse_softplus_array,
    numeric_inverse=_softplus_array,
    precise_inverse=lambda z: mpmath.log1p(mpmath.exp(z)),
    spread=2.0,
    moderate=5.0,
    axis_label=lambda param: "softplus pre-activation",
    edge_values={
        "float64": (0.0, 1.0, -1.0, 10.0, -10.0, 30.0, -30.0, 300.0, 1e6),
        "float32": (0.0, 1.0, -1.0, 10.0, -10.0, 30.0, 1e4),
    },
    grid_values=lambda dtype: [-30.0, -1.0, 0.0, 1.0, 30.0, 1e6 if dtype == np.float64 else 1e4],
    per_parameter=True,
)


def _softmax(zbase, k, K):
    return sp.exp(zbase[k]) / sp.Sum(sp.exp(zbase[EVENT_J]), (EVENT_J, 1, K))


softmax = Link(
    "softmax",
    C.simplex,
    lambda p: "logits",
    forward=sp.log,  # z_k = log p_k, up to a constant shared by all k
    inverse=_softmax,
    display=r"\operatorname{softmax}(z)",
    # log softmax(z)_k = z_k - logsumexp(z)
    log_inverse=lambda zbase, k, K: zbase[k] - LogSumExp(zbase, K),
    event=True,
    description="p = softmax(z) over the last axis; the network outputs logits z",
    numeric_forward=np.log,
    numeric_inverse=_softmax_array,
    precise_inverse=_softmax_mp,
    spread=3.0,
    moderate=20.0,
    edge_values=logit.edge_values,
    # Rows of three logits: one dominant, all equally tiny, a near tie, and small differences.
    grid_values=lambda dtype: [
        [_big(dtype), -_big(dtype), 0.0],
        [-_big(dtype), -_big(dtype), -_big(dtype)],
        [_big(dtype), _big(dtype) - 1, -_big(dtype)],
        [0.0, 0.0, _big(dtype)],
        [1e-8, 0.0, -1e-8],
        [30.0, 0.0, -30.0],
    ],
)

LINKS = {l.name: l for l in (identity, logit, log, softplus, softmax)}


def get(name: str | None) -> Link:
    """The link called ``name``; no link (None) is the identity."""
    if name is None:
        return identity
    if name not in LINKS:
        raise UnknownNameError("link", name, LINKS)
    return LINKS[name]
