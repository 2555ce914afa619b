"""Losses of count data: the Poisson NLL, and cross-entropies on a rescaled target.

A binomial count y out of n trials is a Bernoulli frequency y/n observed n
times, so its NLL is n * BCE(y/n, p) plus log C(n, y); a multinomial count
vector is n * CE(y/n, p) plus its log multinomial coefficient. The total n
is an inner parameter of these templates that ``calibrate`` *solves* from
the NLL (never reads off a name): from the coefficients of log p and
log(1 - p) for BCE, and from the multinomial coefficient for CE. The
matcher then proves the identity as for any other template.
"""

from __future__ import annotations

import sympy as sp

from symlik.core.algebra import expand_logs, free_of, sum_parts
from symlik.losses.templates import Template, TorchForm

poisson_nll = Template(
    "poisson_nll",
    "Poisson negative log-likelihood (torch's PoissonNLLLoss, log_input=False)",
    ("rate",),
    lambda y, rate: rate - y * sp.log(rate),
    "PoissonNLL",
    torch="poisson_nll_loss (log_input=False; with link='log', log_input=True: exp(z) - y z)",
    doc="rate - y log(rate)",
    torch_form=TorchForm(
        ("eps", "full", "log_input", "exact"), zero_allowed={"eps": "be >= 0 (log(rate + eps) is finite at 0)"}
    ),
)


def _log_coefficients(nll, q, *logs):
    """The coefficients of each log in ``logs`` in ``nll``, which must be linear in them
    and otherwise free of ``q``; None when it is not of that form."""
    marks = [sp.Dummy() for _ in logs]
    expr = sp.expand(expand_logs(nll)).xreplace(dict(zip(logs, marks)))
    coeffs = [sp.expand(sp.diff(expr, m)) for m in marks]
    rest = sp.expand(expr - sum(c * m for c, m in zip(coeffs, marks)))
    if any(c.has(q, *marks) for c in coeffs) or rest.has(q):
        return None
    return coeffs


def _calibrate_bce_total(nll, y, predicted):
    """-a log p - b log(1 - p) is (a + b) * BCE(a / (a + b), p): the target is y/t with
    t = y (a + b) / a. Only a t free of y and of the predictions is a rescaling."""
    for q in predicted:
        coeffs = _log_coefficients(nll, q, sp.log(q), sp.log(1 - q))
        if coeffs is None:
            continue
        a, b = (-c for c in coeffs)
        if a == 0 or b == 0:
            continue
        total = sp.simplify(y * (a + b) / a)
        if total != 1 and free_of(total, [y, *predicted]):
            yield {"total": total}


binary_cross_entropy_rescaled = Template(
    "binary_cross_entropy",
    "binary cross-entropy on the observed frequency y/n",
    ("prob",),
    lambda y, p, total: -(y / total * sp.log(p) + (1 - y / total) * sp.log(1 - p)),
    "BCE",
    inner=("total",),
    calibrate=_calibrate_bce_total,
    torch="binary_cross_entropy(p, y / n) (or _with_logits), weighted by n",
    doc="-(y/n log p + (1 - y/n) log(1 - p))",
    extra={"target": lambda y, total: y / total},
)


def _log_factorial_argument(term):
    """T when ``term`` is log(T!), log Gamma(T + 1) or loggamma(T + 1); else None."""
    if isinstance(term, sp.log) and isinstance(term.args[0], sp.factorial):
        return term.args[0].args[0]
    if isinstance(term, sp.log) and isinstance(term.args[0], sp.gamma):
        return term.args[0].args[0] - 1
    if isinstance(term, sp.loggamma):
        return term.args[0] - 1
    return None


def _calibrate_ce_total(nll, y, predicted):
    """-sum_k a_k log p_k is t * CE(a/t, p) for any t; the target a/t is a distribution
    only for t = sum_k a_k. The NLL says what that sum is when its normaliser is the
    multinomial coefficient T! / prod_k a_k!, which exists only when sum_k a_k = T."""
    k = y.indices[0] if isinstance(y, sp.Indexed) else None
    if k is None:
        return
    summand, rest = sum_parts(nll, k)
    for q in predicted:
        coeffs = _log_coefficients(summand, q, sp.log(q))
        if coeffs is None:
            continue
        a = -coeffs[0]
        per_component = {_log_factorial_argument(t) for t in sp.Add.make_args(sp.expand(summand))}
        if a not in per_component:  # needs + log(a_k!) in the summand
            continue
        for t in sp.Add.make_args(sp.expand(rest)):
            total = _log_factorial_argument(-t)  # needs - log(T!) outside the sum
            if total is not None and free_of(total, [k, y, *predicted]) and total != 1:
                yield {"total": total}


cross_entropy_rescaled = Template(
    "cross_entropy",
    "cross-entropy on the observed frequencies y/n",
    ("prob",),
    lambda y, p, total: -(y / total) * sp.log(p),
    "CE",
    event=True,
    inner=("total",),
    calibrate=_calibrate_ce_total,
    torch="cross_entropy(logits, y / n) with probability targets, weighted by n",
    doc="-sum_k (y_k/n) log p_k",
    extra={"target": lambda y, total: y / total},
)

SCALAR = (poisson_nll, binary_cross_entropy_rescaled)
EVENT = (cross_entropy_rescaled,)
