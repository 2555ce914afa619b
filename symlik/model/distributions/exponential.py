import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Exponential(Distribution):
    r"""Exponential distribution with rate ``rate`` (mean 1/rate).

    .. math:: p(y \mid \lambda) = \lambda e^{-\lambda y}, \qquad y \ge 0

    The NLL, rate * y - log(rate), is no familiar loss: symlik says so and
    keeps it. With ``link="log"`` the network outputs z = log(rate) and the
    loss is y e^z - z (the exponential / survival-time NLL).

    >>> import symlik
    >>> symlik.derive("exponential").loss.name is None
    True
    """

    name = "exponential"
    title = "Exponential"
    params = (Param("rate", C.positive, doc="rate (scipy scale = 1/rate)"),)
    support = C.Support("continuous", 0, None)
    predict = ("rate",)
    links = ("log",)
    references = ("N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1 (1994), ch. 19.",)

    def density(self, y, rate):
        return rate * sp.exp(-rate * y)

    def scipy_logpdf(self, y, rate):
        from scipy import stats

        return stats.expon.logpdf(y, scale=1 / rate)
