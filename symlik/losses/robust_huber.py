"""The Huber loss (torch's huber_loss), and smooth L1 as the same loss over delta.

    huber_delta(y, mu) = r^2 / 2                 if |r| <= delta
                         delta (|r| - delta / 2)  otherwise,        r = y - mu

Quadratic near 0 and linear in the tails, with a continuous slope. Its inner
parameter delta is *solved from the NLL*, never read off a name: in the NLL's
piecewise form, the quadratic branch has curvature s and the linear branch
slope s * delta (s the scale), so delta = slope / curvature.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.notation import form, term
from symlik.core.step import Step, reason
from symlik.losses.templates import Template


def huber(y, mu, delta):
    r = y - mu
    return sp.Piecewise((r**2 / 2, sp.Abs(r) <= delta), (delta * (sp.Abs(r) - delta / 2), True))


def smooth_l1(y, mu, beta):
    """torch's smooth_l1_loss(beta): r^2 / (2 beta) if |r| < beta, else |r| - beta / 2."""
    r = y - mu
    return sp.Piecewise((r**2 / (2 * beta), sp.Abs(r) < beta), (sp.Abs(r) - beta / 2, True))


def _calibrate(nll, y, predicted):
    """Candidate deltas: slope of a linear branch over curvature of a quadratic one."""
    if len(predicted) != 1:
        return
    theta = predicted[0]
    t = sp.Dummy("t", positive=True)  # the residual y - theta, taken > 0 so |t| = t
    seen = set()
    for piecewise in nll.atoms(sp.Piecewise):
        # only a polynomial branch can be the quadratic or the linear piece: the test is structural and
        # comes before expand, which took 45 s on the log-Phi branches of an interval-censored log-normal
        branches = [sp.expand(b) for b in (e.subs(y, theta + t) for e, _ in piecewise.args) if b.is_polynomial(t)]
        quadratic = [b for b in branches if sp.diff(b, t, 3) == 0 and sp.diff(b, t, 2) != 0]
        linear = [b for b in branches if sp.diff(b, t, 2) == 0 and sp.diff(b, t) != 0]
        for q in quadratic:
            for line in linear:
                delta = sp.simplify(sp.diff(line, t) / sp.diff(q, t, 2))
                if delta.is_positive and not delta.has(t, y, theta) and delta not in seen:
                    seen.add(delta)
                    yield {"delta": delta}


def _smooth_l1_aside(y_i, predicted_i, inner, scale):
    """The derivation step relating torch's smooth_l1_loss to this loss:
    a Step. tests/test_huber.py proves
    smooth_l1(beta=delta) == huber / delta branch by branch."""
    (mu_i,) = predicted_i
    delta = inner["delta"]
    r, beta = sp.Symbol("r", real=True), sp.Symbol("beta", positive=True)
    why = reason(
        "torch's smooth_l1_loss(beta) is ", smooth_l1(r, 0, beta), ", with ", sp.Eq(r, y_i - mu_i),
        ": huber_loss(delta=beta) divided by ", beta, ". So with ", sp.Eq(beta, delta), ", ", term("nll_is_scaled_smooth_l1"),
        " (", sp.Eq(term("scale_times_delta"), scale * delta), "): the same minimiser. As ", term("delta_to_zero"),
        ", smooth L1 tends to the MAE while Huber tends to ", sp.S.Zero, "; as ", term("delta_to_infinity"),
        ", Huber tends to ", term("half_mse"), ".",
    )
    return Step(
        "Smooth L1 is the same loss divided by delta",
        smooth_l1(y_i, mu_i, delta),
        why,
        # Short left-hand side: the relation to Huber is in the reason, and a long
        # lhs beside a cases block runs off a printed page.
        form("smooth_l1_with", delta),
    )


huber_loss = Template(
    "huber_loss",
    "Huber loss (torch's huber_loss; smooth_l1_loss is it divided by delta)",
    ("mean",),
    huber,
    "Huber",
    inner=("delta",),
    calibrate=_calibrate,
    torch="huber_loss(delta=delta); smooth_l1_loss(beta=delta) = huber_loss / delta",
    doc="r^2/2 if |r| <= delta else delta (|r| - delta/2), r = y - mu",
    extra={"aside": _smooth_l1_aside},
)

SCALAR = (huber_loss,)
