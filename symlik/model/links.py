"""Link functions: what a network outputs (a pre-activation) -> the parameter.

Each link carries the inverse map and the *log* of it, written in the form
a careful human would use (log sigmoid(z) = -log(1 + e^-z)). Templates are
written in log p and log(1 - p), so substituting these logs directly keeps
the derivation readable and never forms log(1/(1 + e^-z)) at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from symlik.core.functions import EVENT_J, LogSumExp, Sigmoid, Softplus


@dataclass(frozen=True)
class Link:
    name: str
    constraint: str  # the parameter constraint this link maps onto
    input_name: Callable[[str], str]
    inverse: Callable  # z -> theta (for event links: (z_base, k, K) -> theta_k)
    log_inverse: Callable | None = None
    log1m_inverse: Callable | None = None
    event: bool = False
    description: str = ""

    def latex_inverse(self) -> str:
        return {"logit": r"\sigma(z)", "log": r"e^{z}", "softmax": r"\operatorname{softmax}(z)"}.get(
            self.name, self.name
        )


identity = Link("identity", "real", lambda p: p, lambda z: z, description="theta = z")

logit = Link(
    "logit",
    "unit_interval",
    lambda p: "logits",
    inverse=lambda z: Sigmoid(z),
    # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
    log_inverse=lambda z: -Softplus(-z),
    log1m_inverse=lambda z: -Softplus(z),
    description="p = sigmoid(z); the network outputs logits z",
)

log = Link(
    "log",
    "positive",
    lambda p: f"log_{p}",
    inverse=lambda z: sp.exp(z),
    log_inverse=lambda z: z,
    description="theta = exp(z); the network outputs the log of the parameter",
)


def _softmax(zbase, k, K):
    return sp.exp(zbase[k]) / sp.Sum(sp.exp(zbase[EVENT_J]), (EVENT_J, 1, K))


softmax = Link(
    "softmax",
    "simplex",
    lambda p: "logits",
    inverse=_softmax,
    # log softmax(z)_k = z_k - logsumexp(z)
    log_inverse=lambda zbase, k, K: zbase[k] - LogSumExp(zbase, K),
    event=True,
    description="p = softmax(z) over the last axis; the network outputs logits z",
)

LINKS = {l.name: l for l in (identity, logit, log, softmax)}
