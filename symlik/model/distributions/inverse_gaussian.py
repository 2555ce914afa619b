import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class InverseGaussian(Distribution):
    r"""Inverse Gaussian (Wald) distribution with mean ``mu`` and shape ``lam``.

    .. math::
        p(y \mid \mu, \lambda) = \sqrt{\frac{\lambda}{2\pi y^3}}
            \exp\!\left(-\frac{\lambda (y - \mu)^2}{2 \mu^2 y}\right), \qquad y > 0

    Predicting ``mu`` gives the inverse Gaussian deviance (y - mu)^2/(y mu^2)
    with scale lam/2. In scipy's parametrisation, invgauss(mu/lam, scale=lam).

    >>> import symlik
    >>> d = symlik.derive("inverse_gaussian")
    >>> d.loss.name, d.scale
    ('inverse_gaussian_deviance', lam/2)
    """

    name = "inverse_gaussian"
    title = "Inverse Gaussian"
    params = (
        Param("mu", C.positive, doc="mean"),
        Param("lam", C.positive, doc="shape; the variance is mu^3 / lam"),
    )
    support = C.positive_reals
    predict = ("mu",)
    references = (
        "R. S. Chhikara, J. L. Folks, The Inverse Gaussian Distribution (1989).",
        "P. McCullagh, J. A. Nelder, Generalized Linear Models, 2nd ed. (1989), sec. 2.2 (the unit deviance).",
    )

    def density(self, y, mu, lam):
        return sp.sqrt(lam / (2 * sp.pi * y**3)) * sp.exp(-lam * (y - mu) ** 2 / (2 * mu**2 * y))

    def scipy_logpdf(self, y, mu, lam):
        from scipy import stats

        return stats.invgauss.logpdf(y, mu / lam, scale=lam)
