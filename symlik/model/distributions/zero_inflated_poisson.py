import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class ZeroInflatedPoisson(Distribution):
    r"""Zero-inflated Poisson: a structural zero with probability ``pi``, else a Poisson count with mean ``rate``.

    .. math::
        p(y \mid \pi, \lambda) = \begin{cases}
            \pi + (1 - \pi)\, e^{-\lambda} & y = 0 \\
            (1 - \pi)\, \lambda^{y} e^{-\lambda} / y! & y = 1, 2, \dots
        \end{cases}

    A zero can come from either source, so log p(0) is the log of a sum,
    written as log(e^{log pi} + e^{log(1 - pi) - lambda}) and computed by
    logaddexp: it subtracts the larger exponent first, so it stays finite
    when both terms underflow (pi = 0 and lambda > 745) and never cancels.
    ``link="logit"`` puts the network's logit on ``pi`` (log pi = -softplus(-z));
    ``link="log"`` puts a log-rate on ``rate``.

    >>> import symlik
    >>> d = symlik.derive("zero_inflated_poisson", link="logit")
    >>> d.loss.name is None, d.inputs
    (True, ('logits', 'rate', 'y'))
    """

    name = "zero_inflated_poisson"
    title = "Zero-inflated Poisson"
    params = (
        Param("pi", C.unit_interval, doc="probability of a structural zero"),
        Param("rate", C.positive, doc="mean of the Poisson component (scipy mu)"),
    )
    support = C.Support("discrete", 0, None)
    predict = ("pi", "rate")
    links = ("logit", "log")
    variants = ({"predict": ("rate",)},)  # its own NLL: zero inflation is not a Poisson NLL plus a constant
    references = (
        "D. Lambert, Zero-inflated Poisson regression, with an application to defects in manufacturing, "
        "Technometrics 34 (1992) 1-14.",
        "A. C. Cameron, P. K. Trivedi, Regression Analysis of Count Data, 2nd ed. (2013), sec. 4.6.",
    )

    def log_density(self, y, pi, rate):
        # log(pi + (1 - pi) e^-rate) as logaddexp of the logs of its two terms: no underflow, no cancellation
        return sp.Piecewise(
            (logaddexp(sp.log(pi), sp.log(1 - pi) - rate), sp.Eq(y, 0)),
            (sp.log(1 - pi) + y * sp.log(rate) - rate - sp.log(sp.factorial(y)), True),
        )

    def density(self, y, pi, rate):
        return sp.Piecewise(
            (pi + (1 - pi) * sp.exp(-rate), sp.Eq(y, 0)),
            ((1 - pi) * rate**y * sp.exp(-rate) / sp.factorial(y), True),
        )

    def scipy_logpdf(self, y, pi, rate):
        # scipy has no zero-inflated Poisson: the mixture written out with scipy.stats.poisson's pieces.
        import numpy as np
        from scipy import stats

        y, pi, rate = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, pi, rate)))
        with np.errstate(divide="ignore"):
            zero = np.logaddexp(np.log(pi), np.log1p(-pi) + stats.poisson.logpmf(0, rate))
            return np.where(y == 0, zero, np.log1p(-pi) + stats.poisson.logpmf(y, rate))
