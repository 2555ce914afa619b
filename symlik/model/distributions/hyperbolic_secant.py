import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class HyperbolicSecant(Distribution):
    r"""Hyperbolic secant distribution with location ``mu`` and scale ``s`` (scipy's ``hypsecant``).

    .. math::
        p(y \mid \mu, s) = \frac{1}{\pi s} \operatorname{sech}\!\left(\frac{y - \mu}{s}\right)

    Predicting ``mu`` gives the log-cosh loss of r/s with scale 1: log-cosh
    regression is maximum likelihood under this density.

    >>> import symlik
    >>> d = symlik.derive("hyperbolic_secant")
    >>> d.loss.name, d.loss.inner, d.scale
    ('log_cosh', {'c': s}, 1)
    """

    name = "hyperbolic_secant"
    title = "Hyperbolic secant"
    params = (
        Param("mu", C.real, doc="location (scipy loc)"),
        Param("s", C.positive, doc="scale (scipy scale); the standard deviation is s pi / 2"),
    )
    support = C.reals
    predict = ("mu",)
    references = (
        "W. D. Baten, The probability law for the sum of n independent variables, each subject to the law "
        "(1/(2h)) sech(pi x/(2h)), Bull. AMS 40 (1934) 284-290.",
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 2 (1995), ch. 23.",
    )

    def density(self, y, mu, s):
        return 1 / (sp.pi * s * sp.cosh((y - mu) / s))

    def scipy_logpdf(self, y, mu, s):
        from scipy import stats

        return stats.hypsecant.logpdf(y, loc=mu, scale=s)
