import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class StudentT(Distribution):
    r"""Student's t distribution with location ``mu``, scale ``sigma`` and ``nu`` degrees of freedom.

    .. math::
        p(y \mid \mu, \sigma, \nu) =
            \frac{\Gamma\!\left(\frac{\nu + 1}{2}\right)}{\Gamma\!\left(\frac{\nu}{2}\right)\sqrt{\pi \nu \sigma^2}}
            \left(1 + \frac{(y - \mu)^2}{\nu \sigma^2}\right)^{-\frac{\nu + 1}{2}}

    Predicting ``mu`` gives the robust loss log(1 + r^2 / (nu sigma^2)) with
    scale (nu + 1)/2: quadratic near r = 0, logarithmic in the tails, so an
    outlier costs little. As nu -> infinity it tends to the Gaussian's MSE.

    >>> import symlik
    >>> d = symlik.derive("student_t")
    >>> d.loss.name, d.loss.inner, d.scale
    ('student_t', {'c': nu*sigma**2}, nu/2 + 1/2)
    """

    name = "student_t"
    title = "Student's t"
    proper_noun = True
    params = (
        Param("mu", C.real, doc="location (scipy loc)"),
        Param("sigma", C.positive, doc="scale (scipy scale)"),
        Param("nu", C.positive, doc="degrees of freedom (scipy df)"),
    )
    support = C.reals
    predict = ("mu",)
    # nu predicted too (a learned tail weight): its log-gamma pair compiles to a stable difference
    variants = ({"predict": ("mu", "sigma")}, {"predict": ("mu", "sigma", "nu")})
    references = (
        "K. L. Lange, R. J. A. Little, J. M. G. Taylor, Robust statistical modeling using the t distribution, "
        "JASA 84 (1989) 881-896.",
        "K. P. Murphy, Probabilistic Machine Learning: An Introduction (2022), sec. 2.7.1 and 11.6.",
    )

    def density(self, y, mu, sigma, nu):
        return (
            sp.gamma((nu + 1) / 2)
            / (sp.gamma(nu / 2) * sp.sqrt(sp.pi * nu * sigma**2))
            * (1 + (y - mu) ** 2 / (nu * sigma**2)) ** (-(nu + 1) / 2)
        )

    def scipy_logpdf(self, y, mu, sigma, nu):
        from scipy import stats

        return stats.t.logpdf(y, df=nu, loc=mu, scale=sigma)
