import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class SkewNormal(Distribution):
    r"""Skew-normal distribution with location ``mu``, scale ``sigma`` and shape (skewness) ``alpha``.

    .. math::
        p(y \mid \mu, \sigma, \alpha) = \frac{2}{\sigma}\, \varphi(z)\, \Phi(\alpha z)
            = \frac{1}{\sigma \sqrt{2\pi}} e^{-z^2/2} \left(1 + \operatorname{erf}\frac{\alpha z}{\sqrt 2}\right),
        \qquad z = \frac{y - \mu}{\sigma}

    alpha = 0 is the normal distribution; alpha > 0 skews to the right. The NLL
    is the Gaussian's plus -log Phi(alpha z), the term that tilts the density.
    The kernel computes that term as log Phi (scipy's log_ndtr) rather than
    log(1 + erf(.)), which is log 0 = -inf once erf rounds to -1 (alpha z < -8.3):
    log Phi stays finite and exact, about -(alpha z)^2 / 2, far into the tail.

    >>> import symlik
    >>> d = symlik.derive("skew_normal")
    >>> d.loss.name is None, d.inputs
    (True, ('mu', 'y', 'sigma', 'alpha'))
    """

    name = "skew_normal"
    title = "Skew-normal"
    params = (
        Param("mu", C.real, doc="location (scipy loc); the mean only when alpha = 0"),
        Param("sigma", C.positive, doc="scale (scipy scale)"),
        Param("alpha", C.real, doc="shape: the skewness (scipy a); 0 is the normal"),
    )
    support = C.reals
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma", "alpha")},)
    references = (
        "A. Azzalini, A class of distributions which includes the normal ones, Scand. J. Statist. 12 (1985) 171-178.",
        "A. Azzalini, The Skew-Normal and Related Families (2014), ch. 2.",
    )

    def density(self, y, mu, sigma, alpha):
        z = (y - mu) / sigma
        # 2 Phi(alpha z) = 1 + erf(alpha z / sqrt 2): the compiler turns its log into log Phi (log_ndtr)
        return sp.exp(-(z**2) / 2) / (sigma * sp.sqrt(2 * sp.pi)) * (1 + sp.erf(alpha * z / sp.sqrt(2)))

    def scipy_logpdf(self, y, mu, sigma, alpha):
        from scipy import stats

        return stats.skewnorm.logpdf(y, alpha, loc=mu, scale=sigma)
