import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class GeneralizedNormal(Distribution):
    r"""Generalized normal (exponential power) distribution: location ``mu``, scale ``alpha``, shape ``beta``.

    .. math::
        p(y \mid \mu, \alpha, \beta) = \frac{\beta}{2 \alpha \Gamma(1/\beta)}
            \exp\!\left(-\left(\frac{|y - \mu|}{\alpha}\right)^{\beta}\right)

    Predicting ``mu`` gives the L^p loss |r|^beta with scale alpha^-beta;
    beta = 2 is the normal (MSE) and beta = 1 the Laplace (MAE).

    >>> import symlik
    >>> d = symlik.derive("generalized_normal")
    >>> d.loss.name, d.loss.inner
    ('lp', {'beta': beta})
    """

    name = "generalized_normal"
    title = "Generalized normal"
    params = (
        Param("mu", C.real, doc="location (scipy loc)"),
        Param("alpha", C.positive, doc="scale (scipy scale)"),
        Param("beta", C.positive, doc="shape: the power of |y - mu| (scipy beta)"),
    )
    support = C.reals
    predict = ("mu",)
    references = (
        "S. Nadarajah, A generalized normal distribution, Journal of Applied Statistics 32 (2005) 685-694.",
        "G. E. P. Box, G. C. Tiao, Bayesian Inference in Statistical Analysis (1973), sec. 3.2.",
    )

    def density(self, y, mu, alpha, beta):
        return beta / (2 * alpha * sp.gamma(1 / beta)) * sp.exp(-((sp.Abs(y - mu) / alpha) ** beta))

    def scipy_logpdf(self, y, mu, alpha, beta):
        from scipy import stats

        return stats.gennorm.logpdf(y, beta, loc=mu, scale=alpha)
