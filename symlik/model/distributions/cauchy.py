import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Cauchy(Distribution):
    r"""Cauchy (Lorentz) distribution with location ``mu`` and scale ``gamma``.

    .. math::
        p(y \mid \mu, \gamma) = \frac{1}{\pi \gamma \left(1 + \frac{(y - \mu)^2}{\gamma^2}\right)}

    Predicting ``mu`` gives the Cauchy (Lorentzian) loss log(1 + r^2/gamma^2)
    with scale 1. It is Student's t with nu = 1: the matcher tells the two
    apart by the power of (1 + r^2/c) in the density, which it reads off the
    NLL (a power of 1 is Cauchy).

    >>> import symlik
    >>> d = symlik.derive("cauchy")
    >>> d.loss.name, d.loss.inner, d.scale
    ('cauchy', {'gamma': gamma}, 1)
    """

    name = "cauchy"
    title = "Cauchy"
    proper_noun = True
    params = (
        Param("mu", C.real, doc="location (scipy loc)"),
        Param("gamma", C.positive, doc="scale: half width at half maximum (scipy scale)"),
    )
    support = C.reals
    predict = ("mu",)
    references = (
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1 (1994), ch. 16.",
        "J. T. Barron, A General and Adaptive Robust Loss Function, CVPR 2019 (the Cauchy/Lorentzian case).",
    )

    def density(self, y, mu, gamma):
        return 1 / (sp.pi * gamma * (1 + (y - mu) ** 2 / gamma**2))

    def scipy_logpdf(self, y, mu, gamma):
        from scipy import stats

        return stats.cauchy.logpdf(y, loc=mu, scale=gamma)
