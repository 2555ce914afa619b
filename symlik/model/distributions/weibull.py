import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Weibull(Distribution):
    r"""Weibull distribution with shape ``k`` and scale ``lam``.

    .. math::
        p(y \mid k, \lambda) = \frac{k}{\lambda} \left(\frac{y}{\lambda}\right)^{k - 1}
            \exp\!\left(-\left(\frac{y}{\lambda}\right)^{k}\right), \qquad y > 0

    Predicting ``lam`` gives k log(lam) + (y/lam)^k: no familiar loss, so
    symlik keeps the NLL (the time-to-event loss of Weibull survival models).

    >>> import symlik
    >>> symlik.derive("weibull").loss.name is None
    True
    """

    name = "weibull"
    title = "Weibull"
    proper_noun = True
    params = (
        Param("k", C.positive, doc="shape (scipy c)"),
        Param("lam", C.positive, doc="scale (scipy scale)"),
    )
    # closed at 0 where k = 1: the density is finite there (scipy: weibull_min.logpdf(0, 1) = 0)
    support = C.Support("continuous", 0, None, open_lower=True, lower_closed_if=(("k", 1.0),))
    predict = ("lam",)
    variants = ({"predict": ("k", "lam")},)
    references = (
        "W. Weibull, A statistical distribution function of wide applicability, J. Appl. Mech. 18 (1951) 293-297.",
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1 (1994), ch. 21.",
    )

    def density(self, y, k, lam):
        return k / lam * (y / lam) ** (k - 1) * sp.exp(-((y / lam) ** k))

    def log_density(self, y, k, lam):
        # (k - 1) log y kept whole (not (k - 1)(log y - log lam)), so that it compiles to xlogy: finite at y = 0, k = 1
        return sp.log(k) - k * sp.log(lam) + (k - 1) * sp.log(y) - (y / lam) ** k

    def scipy_logpdf(self, y, k, lam):
        from scipy import stats

        return stats.weibull_min.logpdf(y, c=k, scale=lam)
