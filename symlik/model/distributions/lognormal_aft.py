import numpy as np
import sympy as sp

from symlik.core.functions import Log1mExp, LogNdtr
from symlik.model.distributions._aft import AcceleratedFailureTime

# Below this d (1 + |m|) an interval's normal mass is its midpoint density times its width, to 1e-16
NARROW = sp.Rational(1, 1000)


class LogNormalAFT(AcceleratedFailureTime):
    r"""Log-normal accelerated failure time model: log T = ``mu`` + ``sigma`` Z with Z standard normal (XGBoost's ``survival:aft``, ``normal``).

    .. math::
        z_l = \frac{\log y - \mu}{\sigma},\ z_u = \frac{\log u - \mu}{\sigma}, \qquad
        p(y, u \mid \mu, \sigma) = \begin{cases}
            \varphi(z_l) / (\sigma y) & y = u \text{ (exact time)} \\
            1 - \Phi(z_l) & u = \infty \text{ (right-censored)} \\
            \Phi(z_u) & y = 0 \text{ (left-censored)} \\
            \Phi(z_u) - \Phi(z_l) & 0 < y < u < \infty \text{ (interval)}
        \end{cases}

    T is log-normal with s = sigma and scale e^mu (scipy's lognorm). The observation is an
    interval [y, u] (XGBoost's label_lower_bound, label_upper_bound); y = 0 with u = inf has
    mass 1. The censored masses are computed by log Phi (scipy's log_ndtr), finite far into
    either tail. The interval's log(Phi(z_u) - Phi(z_l)) is taken from the tail both bounds lie in,
    log Phi(z_u) + log(1 - e^{log Phi(z_l) - log Phi(z_u)}) (and its mirror image), or across 0 as
    log(1 - Phi(z_l) - Phi(-z_u)); on a narrow interval (d (1 + |m|) < 1e-3, d = z_u - z_l =
    log1p((u - y)/y)/sigma, m the midpoint) the difference of two log Phi would cancel, and
    the mass is phi(m) d (1 + (m^2 - 1) d^2/24), the midpoint rule with its first correction
    (the next term is below 1e-16 there).

    >>> import symlik
    >>> d = symlik.derive("lognormal_aft")
    >>> d.loss.name is None, d.inputs
    (True, ('mu', 'y', 'sigma', 'upper'))
    """

    name = "lognormal_aft"
    title = "Log-normal accelerated failure time"
    references = (
        "J. D. Kalbfleisch, R. L. Prentice, The Statistical Analysis of Failure Time Data, 2nd ed. (2002), sec. 2.2.",
        "A. Barnwal, H. Cho, T. Hocking, Survival regression with accelerated failure time model in XGBoost, J. Comput. Graph. Stat. 31 (2022) 1292-1302.",
    )

    def log_pdf(self, z):
        return -(z**2) / 2 - sp.log(2 * sp.pi) / 2

    def cdf(self, z):
        return (1 + sp.erf(z / sp.sqrt(2))) / 2

    def sf(self, z):
        return (1 - sp.erf(z / sp.sqrt(2))) / 2

    def log_sf(self, z):
        # log(1 - Phi(z)) = log Phi(-z): finite where 1 - Phi(z) underflows (z > 38)
        return LogNdtr(-z)

    def log_cdf(self, z):
        return LogNdtr(z)

    def log_mass(self, zl, zu, d):
        m = (zl + zu) / 2
        return sp.Piecewise(
            # narrow: log Phi(zl) - log Phi(zu) would cancel; the midpoint rule's error term is below 1e-16 here
            (self.log_pdf(m) + sp.log(d) + sp.log(1 + (m**2 - 1) * d**2 / 24), d * (1 + sp.Abs(m)) < NARROW),
            # both bounds in the lower tail: Phi(zu) (1 - Phi(zl)/Phi(zu)), each factor by its log
            (LogNdtr(zu) + Log1mExp(LogNdtr(zl) - LogNdtr(zu)), zu <= 0),
            # both in the upper tail: the mass is Phi(-zl) - Phi(-zu), the lower tail again by symmetry
            (LogNdtr(-zl) + Log1mExp(LogNdtr(-zu) - LogNdtr(-zl)), zl >= 0),
            # across 0: 1 - Phi(zl) - Phi(-zu), both below 1/2, so nothing cancels (log1p once compiled)
            (sp.log(1 - sp.exp(LogNdtr(zl)) - sp.exp(LogNdtr(-zu))), True),
        )

    def scipy_dist(self, mu, sigma):
        from scipy import stats

        return stats.lognorm(s=sigma, scale=np.exp(mu))
