import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class GEV(Distribution):
    r"""Generalised extreme value distribution (block maxima) with location ``mu``, scale ``sigma`` and shape ``xi``.

    .. math::
        p(y \mid \mu, \sigma, \xi) = \frac{1}{\sigma}\, t^{-1 - 1/\xi} e^{-t^{-1/\xi}},
        \qquad t = 1 + \xi\, \frac{y - \mu}{\sigma} > 0

    xi > 0 is the Frechet type (heavy upper tail, y > mu - sigma/xi), xi < 0 the
    reversed Weibull type (y < mu - sigma/xi), and xi = 0 the Gumbel limit
    e^{-z - e^{-z}} / sigma, its own branch. The support moves with the
    parameters: outside it the density is 0 and the NLL is +inf, the true
    value. scipy's genextreme writes the shape as c = -xi.

    >>> import symlik
    >>> d = symlik.derive("gev")
    >>> d.loss.name is None, d.inputs
    (True, ('mu', 'y', 'sigma', 'xi'))
    """

    name = "gev"
    title = "Generalised extreme value"
    params = (
        Param("mu", C.real, doc="location (scipy loc)"),
        Param("sigma", C.positive, doc="scale (scipy scale)"),
        Param("xi", C.real, doc="shape; scipy c = -xi; 0 is the Gumbel"),
    )
    support = C.reals  # narrowed by the parameters: 1 + xi (y - mu) / sigma > 0 (support_bounds)
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma", "xi")},)
    references = (
        "S. Coles, An Introduction to Statistical Modeling of Extreme Values (2001), sec. 3.1.3.",
        "A. F. Jenkinson, The frequency distribution of the annual maximum (or minimum) values of "
        "meteorological elements, Q. J. R. Meteorol. Soc. 81 (1955) 158-171.",
    )

    def density(self, y, mu, sigma, xi):
        z = (y - mu) / sigma
        t = 1 + xi * z
        return sp.Piecewise(
            (sp.exp(-z - sp.exp(-z)) / sigma, sp.Eq(xi, 0)),
            (t ** (-1 - 1 / xi) * sp.exp(-(t ** (-1 / xi))) / sigma, t > 0),
            (0, True),
        )

    def log_density(self, y, mu, sigma, xi):
        z = (y - mu) / sigma
        log_t = sp.log(1 + xi * z)
        return sp.Piecewise(
            (-sp.log(sigma) - z - sp.exp(-z), sp.Eq(xi, 0)),
            # t^(-1/xi) as e^(-log t / xi): log t = log1p(xi z) keeps the digits of a small xi z
            (-sp.log(sigma) - (1 + 1 / xi) * log_t - sp.exp(-log_t / xi), xi * z > -1),
            (-sp.oo, True),  # outside the support
        )

    def support_bounds(self, params):
        mu, sigma, xi = (np.asarray(params[p], float) for p in ("mu", "sigma", "xi"))
        with np.errstate(divide="ignore"):
            edge = mu - sigma / xi
        return np.where(xi > 0, edge, -np.inf), np.where(xi < 0, edge, np.inf)

    def scipy_logpdf(self, y, mu, sigma, xi):
        from scipy import stats

        return stats.genextreme.logpdf(y, -np.asarray(xi), loc=mu, scale=sigma)
