import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Rayleigh(Distribution):
    r"""Rayleigh distribution with scale ``sigma``: the length of a 2-D vector of N(0, sigma^2) components.

    .. math::
        p(y \mid \sigma) = \frac{y}{\sigma^2} \exp\!\left(-\frac{y^2}{2\sigma^2}\right), \qquad y \ge 0

    Predicting ``sigma`` gives 2 log(sigma) + y^2/(2 sigma^2) (plus a
    constant): no familiar loss, so symlik keeps the NLL.

    >>> import symlik
    >>> symlik.derive("rayleigh").loss.name is None
    True
    """

    name = "rayleigh"
    title = "Rayleigh"
    proper_noun = True
    params = (Param("sigma", C.positive, doc="scale (scipy scale)"),)
    support = C.Support("continuous", 0, None)
    predict = ("sigma",)
    references = (
        "Lord Rayleigh, On the resultant of a large number of vibrations of the same pitch and of arbitrary "
        "phase, Phil. Mag. 10 (1880) 73-78.",
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1 (1994), ch. 18.",
    )

    def density(self, y, sigma):
        return y / sigma**2 * sp.exp(-(y**2) / (2 * sigma**2))

    def scipy_logpdf(self, y, sigma):
        from scipy import stats

        return stats.rayleigh.logpdf(y, scale=sigma)
