import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class VonMises(Distribution):
    r"""Von Mises (circular normal) distribution of an angle, with mean direction ``mu`` and concentration ``kappa``.

    .. math::
        p(y \mid \mu, \kappa) = \frac{e^{\kappa \cos(y - \mu)}}{2\pi I_0(\kappa)}

    I_0 is the modified Bessel function of the first kind of order 0. The
    density is 2 pi periodic in y (angles in radians). Predicting ``mu``
    gives the cosine loss 1 - cos(y - mu) with scale kappa; for large kappa
    it is (y - mu)^2/2 near the mode, the Gaussian's MSE.

    >>> import symlik
    >>> d = symlik.derive("von_mises")
    >>> d.loss.name, d.scale
    ('cosine', kappa)
    """

    name = "von_mises"
    title = "von Mises"
    proper_noun = True
    params = (
        Param("mu", C.real, doc="mean direction in radians (scipy loc)"),
        Param("kappa", C.positive, doc="concentration (scipy kappa)"),
    )
    support = C.circle  # any angle is valid; the density integrates to 1 over one period
    predict = ("mu",)
    variants = ({"predict": ("mu", "kappa")},)
    references = (
        "K. V. Mardia, P. E. Jupp, Directional Statistics (2000), sec. 3.5.4.",
        "N. I. Fisher, Statistical Analysis of Circular Data (1993), sec. 3.3.6.",
    )

    def density(self, y, mu, kappa):
        return sp.exp(kappa * sp.cos(y - mu)) / (2 * sp.pi * sp.besseli(0, kappa))

    def known_expectations(self, y, mu, kappa):
        # Mardia & Jupp (2000), eq. 3.5.27: the mean resultant length is A(kappa) = I1(kappa)/I0(kappa);
        # the density is symmetric about mu, so the sine moment vanishes.
        return {sp.cos(y - mu): sp.besseli(1, kappa) / sp.besseli(0, kappa), sp.sin(y - mu): sp.S.Zero}

    def scipy_logpdf(self, y, mu, kappa):
        from scipy import stats

        return stats.vonmises.logpdf(y, kappa, loc=mu)
