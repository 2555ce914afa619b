import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class LogNormal(Distribution):
    r"""Log-normal distribution: log y is normal with mean ``mu`` and standard deviation ``sigma``.

    .. math::
        p(y \mid \mu, \sigma) = \frac{1}{y \sqrt{2\pi\sigma^2}}
            \exp\!\left(-\frac{(\log y - \mu)^2}{2\sigma^2}\right), \qquad y > 0

    Predicting ``mu`` gives the squared error on the log scale,
    (log y - mu)^2, with scale 1/(2 sigma^2).

    >>> import symlik
    >>> symlik.derive("lognormal").loss.name
    'mse_log'
    """

    name = "lognormal"
    title = "Log-normal"
    params = (
        Param("mu", C.real, doc="mean of log y (scipy scale = exp(mu))"),
        Param("sigma", C.positive, doc="standard deviation of log y (scipy s)"),
    )
    support = C.positive_reals
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma")},)
    references = (
        "E. L. Crow, K. Shimizu (eds.), Lognormal Distributions: Theory and Applications (1988).",
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1 (1994), ch. 14.",
    )

    def density(self, y, mu, sigma):
        return sp.exp(-((sp.log(y) - mu) ** 2) / (2 * sigma**2)) / (y * sp.sqrt(2 * sp.pi * sigma**2))

    def scipy_logpdf(self, y, mu, sigma):
        from scipy import stats

        return stats.lognorm.logpdf(y, s=sigma, scale=np.exp(mu))
