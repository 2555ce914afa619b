import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Logistic(Distribution):
    r"""Logistic distribution with location ``mu`` and scale ``s``.

    .. math::
        p(y \mid \mu, s) = \frac{e^{-(y - \mu)/s}}{s \left(1 + e^{-(y - \mu)/s}\right)^2}
            = \frac{1}{4 s} \operatorname{sech}^2\!\left(\frac{y - \mu}{2 s}\right)

    Predicting ``mu`` gives the log-cosh loss of r/(2s) with scale 2:
    quadratic for small residuals, linear (like MAE) for large ones.

    >>> import symlik
    >>> d = symlik.derive("logistic")
    >>> d.loss.name, d.loss.inner, d.scale
    ('log_cosh', {'c': 2*s}, 2)
    """

    name = "logistic"
    title = "Logistic"
    params = (
        Param("mu", C.real, doc="location: mean and median (scipy loc)"),
        Param("s", C.positive, doc="scale (scipy scale); the standard deviation is s pi / sqrt(3)"),
    )
    support = C.reals
    predict = ("mu",)
    references = (
        "N. Balakrishnan (ed.), Handbook of the Logistic Distribution (1992).",
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 2 (1995), ch. 23.",
    )

    def density(self, y, mu, s):
        e = sp.exp(-(y - mu) / s)
        return e / (s * (1 + e) ** 2)

    def scipy_logpdf(self, y, mu, s):
        from scipy import stats

        return stats.logistic.logpdf(y, loc=mu, scale=s)
