import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Normal(Distribution):
    r"""Normal (Gaussian) distribution with mean ``mu`` and standard deviation ``sigma``.

    .. math::
        p(y \mid \mu, \sigma) = \frac{1}{\sqrt{2\pi\sigma^2}}
            \exp\!\left(-\frac{(y - \mu)^2}{2\sigma^2}\right)

    Predicting ``mu`` with ``sigma`` fixed gives the mean squared error with
    scale 1/(2 sigma^2); predicting both gives torch's ``GaussianNLLLoss``.

    >>> import symlik
    >>> symlik.derive("normal").loss.name
    'mse'
    """

    name = "normal"
    title = "Normal"
    params = (
        Param("mu", C.real, doc="mean (scipy loc)"),
        Param("sigma", C.positive, doc="standard deviation (scipy scale)"),
    )
    support = C.reals
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma")},)
    references = (
        "C. M. Bishop, Pattern Recognition and Machine Learning (2006), sec. 1.2.5 and 3.1.1.",
        "S. J. D. Prince, Understanding Deep Learning (2023), ch. 5.3.",
    )

    def density(self, y, mu, sigma):
        return sp.exp(-((y - mu) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)

    def scipy_logpdf(self, y, mu, sigma):
        from scipy import stats

        return stats.norm.logpdf(y, loc=mu, scale=sigma)
