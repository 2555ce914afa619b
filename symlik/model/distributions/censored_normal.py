import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class CensoredNormal(Distribution):
    r"""Normal distribution with location ``mu`` and scale ``sigma``, left-censored at ``c`` (the Tobit model).

    .. math::
        p(y \mid \mu, \sigma, c) = \begin{cases}
            \Phi\!\left(\frac{c - \mu}{\sigma}\right) & y \le c \text{ (on the support: } y = c) \\
            \frac{1}{\sigma}\, \varphi\!\left(\frac{y - \mu}{\sigma}\right) & y > c
        \end{cases}

    An observation at the bound stands for every latent value at or below it,
    so it contributes the probability mass Phi((c - mu)/sigma) instead of a
    density: a mixed discrete/continuous likelihood. That mass is written
    (1 + erf(.))/2, and the kernel computes its log as log Phi (scipy's
    log_ndtr), finite far into the tail where Phi underflows (c - mu < -38 sigma).

    >>> import symlik
    >>> d = symlik.derive("censored_normal")
    >>> d.loss.name is None, d.inputs
    (True, ('mu', 'y', 'sigma', 'c'))
    """

    name = "censored_normal"
    title = "Censored normal (Tobit)"
    params = (
        Param("mu", C.real, doc="location of the latent normal (scipy loc)"),
        Param("sigma", C.positive, doc="scale of the latent normal (scipy scale)"),
        Param("c", C.real, doc="censoring bound: y = c stands for every latent value <= c"),
    )
    support = C.Support("continuous", "c", None, masses=("lower",))
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma")},)
    references = (
        "J. Tobin, Estimation of relationships for limited dependent variables, Econometrica 26 (1958) 24-36.",
        "T. Amemiya, Tobit models: a survey, J. Econometrics 24 (1984) 3-61.",
    )

    def log_density(self, y, mu, sigma, c):
        z = (y - mu) / sigma
        return sp.Piecewise(
            # y <= c is y = c on the support, written as a set of positive measure: a proof cannot ignore it
            (sp.log((1 + sp.erf((c - mu) / (sigma * sp.sqrt(2)))) / 2), y <= c),
            (-(z**2) / 2 - sp.log(sigma) - sp.log(2 * sp.pi) / 2, True),
        )

    def density(self, y, mu, sigma, c):
        z = (y - mu) / sigma
        return sp.Piecewise(
            ((1 + sp.erf((c - mu) / (sigma * sp.sqrt(2)))) / 2, y <= c),
            (sp.exp(-(z**2) / 2) / (sigma * sp.sqrt(2 * sp.pi)), True),
        )

    def scipy_logpdf(self, y, mu, sigma, c):
        # scipy has no Tobit model: the censored mass by norm.logcdf, the rest by norm.logpdf.
        from scipy import stats

        y, mu, sigma, c = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, mu, sigma, c)))
        return np.where(y <= c, stats.norm.logcdf(c, mu, sigma), stats.norm.logpdf(y, mu, sigma))
