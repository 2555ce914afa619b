import sympy as sp

from symlik.core.functions import LogNdtr
from symlik.model import constraints as C
from symlik.model.distributions._normal_mass import is_narrow, log_midpoint_series, wide_branches
from symlik.model.distributions.base import Distribution, Param


class TruncatedNormal(Distribution):
    r"""Normal distribution with location ``mu`` and scale ``sigma``, truncated to the interval [``a``, ``b``].

    .. math::
        p(y \mid \mu, \sigma, a, b) = \frac{\varphi(z)}{\sigma\,(\Phi(\beta) - \Phi(\alpha))},
        \qquad z = \frac{y - \mu}{\sigma},\ \alpha = \frac{a - \mu}{\sigma},\ \beta = \frac{b - \mu}{\sigma},
        \quad a \le y \le b

    The bounds are inputs (fixed, or one per observation; a < b). The NLL is the
    Gaussian's plus log(Phi(beta) - Phi(alpha)), the log of the mass the
    interval keeps. That difference cancels to 0 when both bounds lie far in
    one tail (a = 10, b = 11: both Phi round to 1), so it is written with
    log Phi (scipy's log_ndtr) and log(1 - e^x): in the lower tail
    log Phi(beta) + log(1 - Phi(alpha)/Phi(beta)), the quotient's log taken as
    w m + log(phi(beta)/Phi(beta)) - log(phi(alpha)/Phi(alpha)) (w the standardised
    width, m the midpoint: no difference of two numbers of size m^2/2), in the upper
    tail the same with -beta and -alpha (the mass is symmetric), and across 0 as
    log(1 - Phi(alpha) - Phi(-beta)), where neither term exceeds 1/2. On a
    narrow interval (w below 1/100 and below 1/(100 |m|)) the density is nearly
    uniform: e^{(m^2 - z^2)/2} / (b - a) divided by the midpoint series
    1 + (m^2 - 1) w^2/24 + ... of the mass, with m^2 - z^2 as (m - z)(m + z).

    >>> import symlik
    >>> d = symlik.derive("truncated_normal")
    >>> d.loss.name is None, d.inputs
    (True, ('mu', 'y', 'sigma', 'a', 'b'))
    """

    name = "truncated_normal"
    title = "Truncated normal"
    params = (
        Param("mu", C.real, doc="location of the untruncated normal (scipy loc)"),
        Param("sigma", C.positive, doc="scale of the untruncated normal (scipy scale)"),
        Param("a", C.real_or_minus_inf, doc="lower bound, -inf for none; scipy a = (a - mu) / sigma"),
        Param("b", C.real_or_inf, doc="upper bound, above a, inf for none; scipy b = (b - mu) / sigma"),
    )
    support = C.Support("continuous", "a", "b")
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma")},)
    # read by symlik.analysis.information: tidying the Hessian of the branched log-mass ran for
    # over 10 minutes in the book
    no_closed_form_information = (
        "its expected Hessian needs the first two moments of the truncated normal through the "
        "branched stable form of log(Phi(beta) - Phi(alpha)), which SymPy does not simplify in reasonable time"
    )
    references = (
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 1, 2nd ed. (1994), sec. 10.1.",
        "M. Maechler, Accurately computing log(1 - exp(-|a|)), Rmpfr vignette (2012).",
    )

    def density(self, y, mu, sigma, a, b):
        def Phi(x):
            return (1 + sp.erf(x / sp.sqrt(2))) / 2

        z = (y - mu) / sigma
        mass = Phi((b - mu) / sigma) - Phi((a - mu) / sigma)
        return sp.exp(-(z**2) / 2) / (sigma * sp.sqrt(2 * sp.pi) * mass)

    def log_density(self, y, mu, sigma, a, b):
        z, alpha, beta = (y - mu) / sigma, (a - mu) / sigma, (b - mu) / sigma
        w, m = (b - a) / sigma, (a + b - 2 * mu) / (2 * sigma)
        gaussian = -(z**2) / 2 - sp.log(sigma) - sp.log(2 * sp.pi) / 2
        # On a narrow interval the density is nearly uniform, 1/(b - a): phi(z)/(sigma phi(m) w) is
        # e^{(m^2 - z^2)/2}/(b - a) exactly, with m^2 - z^2 as (m - z)(m + z) and m - z = ((a + b)/2 - y)/sigma.
        # Written as the Gaussian's terms minus the mass's, z^2/2 and m^2/2 cancel (to 5e-8 at mu = 1e8) and
        # so do log sigma and log(w) = log(b - a) - log sigma (their sigma-gradients, 1/sigma each, to 1e7 relative).
        narrow = ((a + b - 2 * y) / (2 * sigma)) * ((a + b + 2 * y - 4 * mu) / (2 * sigma)) / 2 - sp.log(b - a) \
            - log_midpoint_series(w, m)
        return sp.Piecewise(
            # an infinite bound leaves one tail's mass (or all of it): its own branch, where the formulas
            # below would meet inf - inf and 0 * inf (nan) in the gradient
            (gaussian, sp.And(sp.Eq(a, -sp.oo), sp.Eq(b, sp.oo))),
            (gaussian - LogNdtr(-alpha), sp.Eq(b, sp.oo)),
            (gaussian - LogNdtr(beta), sp.Eq(a, -sp.oo)),
            (narrow, is_narrow(w, m)),
            *[(gaussian - log_mass, condition) for log_mass, condition in wide_branches(alpha, beta, w)],
        )

    def scipy_logpdf(self, y, mu, sigma, a, b):
        from scipy import stats

        return stats.truncnorm.logpdf(y, (a - mu) / sigma, (b - mu) / sigma, loc=mu, scale=sigma)
