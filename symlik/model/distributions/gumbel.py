import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Gumbel(Distribution):
    r"""Gumbel (type I extreme value, for maxima) distribution with location ``mu`` and scale ``beta``.

    .. math::
        p(y \mid \mu, \beta) = \frac{1}{\beta}
            \exp\!\left(-\frac{y - \mu}{\beta} - e^{-(y - \mu)/\beta}\right)

    Its NLL, (y - mu)/beta + exp(-(y - mu)/beta), is asymmetric and no
    familiar loss: symlik keeps it as its own NLL.

    >>> import symlik
    >>> symlik.derive("gumbel").loss.name is None
    True
    """

    name = "gumbel"
    title = "Gumbel"
    proper_noun = True
    params = (
        Param("mu", C.real, doc="location: the mode (scipy loc)"),
        Param("beta", C.positive, doc="scale (scipy scale)"),
    )
    support = C.reals
    predict = ("mu",)
    references = (
        "E. J. Gumbel, Statistics of Extremes (1958).",
        "S. Coles, An Introduction to Statistical Modeling of Extreme Values (2001), ch. 3.",
    )

    def density(self, y, mu, beta):
        z = (y - mu) / beta
        return sp.exp(-z - sp.exp(-z)) / beta

    def scipy_logpdf(self, y, mu, beta):
        from scipy import stats

        return stats.gumbel_r.logpdf(y, loc=mu, scale=beta)
