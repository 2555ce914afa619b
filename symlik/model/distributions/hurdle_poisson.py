import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class HurdlePoisson(Distribution):
    r"""Hurdle Poisson: zero with probability ``pi``, else a zero-truncated Poisson count with parameter ``rate``.

    .. math::
        p(y \mid \pi, \lambda) = \begin{cases}
            \pi & y = 0 \\
            (1 - \pi)\, \dfrac{\lambda^{y} e^{-\lambda}}{y!\,(1 - e^{-\lambda})} & y = 1, 2, \dots
        \end{cases}

    Unlike the zero-inflated Poisson, every zero comes from the hurdle, so the
    two parts separate: -log pi for a zero, and for a positive count the
    zero-truncated Poisson NLL plus -log(1 - pi). The truncation's
    log(1 - e^{-lambda}) is compiled as log(-expm1(-lambda)) for lambda < log 2,
    where 1 - e^{-lambda} cancels (the log1mexp rewrite), and as
    log1p(-e^{-lambda}) beyond.

    >>> import symlik
    >>> d = symlik.derive("hurdle_poisson", link="log")
    >>> d.loss.name is None, d.inputs
    (True, ('pi', 'log_rate', 'y'))
    """

    name = "hurdle_poisson"
    title = "Hurdle Poisson"
    params = (
        Param("pi", C.unit_interval, doc="probability of a zero, P(y = 0)"),
        Param("rate", C.positive, doc="parameter of the zero-truncated Poisson (the untruncated mean)"),
    )
    support = C.Support("discrete", 0, None)
    predict = ("pi", "rate")
    links = ("logit", "log")
    references = (
        "J. Mullahy, Specification and testing of some modified count data models, J. Econometrics 33 (1986) 341-365.",
        "A. C. Cameron, P. K. Trivedi, Regression Analysis of Count Data, 2nd ed. (2013), sec. 4.5.",
    )

    def log_density(self, y, pi, rate):
        return sp.Piecewise(
            (sp.log(pi), sp.Eq(y, 0)),
            (sp.log(1 - pi) + y * sp.log(rate) - rate - sp.log(sp.factorial(y)) - sp.log(1 - sp.exp(-rate)), True),
        )

    def density(self, y, pi, rate):
        truncated = rate**y * sp.exp(-rate) / (sp.factorial(y) * (1 - sp.exp(-rate)))
        return sp.Piecewise((pi, sp.Eq(y, 0)), ((1 - pi) * truncated, True))

    def scipy_logpdf(self, y, pi, rate):
        # scipy has no hurdle Poisson: the zero-truncated Poisson from scipy.stats.poisson's logpmf and survival function.
        import numpy as np
        from scipy import stats

        y, pi, rate = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, pi, rate)))
        with np.errstate(divide="ignore"):
            positive = np.log1p(-pi) + stats.poisson.logpmf(y, rate) - stats.poisson.logsf(0, rate)
            return np.where(y == 0, np.log(pi), positive)
