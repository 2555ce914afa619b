import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class HalfNormal(Distribution):
    r"""Half-normal distribution: |X| for X ~ N(0, sigma^2).

    .. math::
        p(y \mid \sigma) = \frac{\sqrt{2}}{\sigma \sqrt{\pi}} \exp\!\left(-\frac{y^2}{2\sigma^2}\right),
            \qquad y \ge 0

    Predicting ``sigma`` gives log(sigma) + y^2/(2 sigma^2) (plus a
    constant): no familiar loss, so symlik keeps the NLL.

    >>> import symlik
    >>> symlik.derive("half_normal").loss.name is None
    True
    """

    name = "half_normal"
    title = "Half-normal"
    params = (Param("sigma", C.positive, doc="scale: the standard deviation of the folded normal (scipy scale)"),)
    support = C.Support("continuous", 0, None)
    predict = ("sigma",)
    references = ("N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1 (1994), ch. 13.",)

    def density(self, y, sigma):
        return sp.sqrt(2) / (sigma * sp.sqrt(sp.pi)) * sp.exp(-(y**2) / (2 * sigma**2))

    def scipy_logpdf(self, y, sigma):
        from scipy import stats

        return stats.halfnorm.logpdf(y, scale=sigma)
