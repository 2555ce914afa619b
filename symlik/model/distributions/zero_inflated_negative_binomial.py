import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class ZeroInflatedNegativeBinomial(Distribution):
    r"""Zero-inflated negative binomial: a structural zero with probability ``pi``, else a negative binomial count.

    .. math::
        p(y \mid \pi, \mu, n) = \begin{cases}
            \pi + (1 - \pi) \left(\frac{n}{n + \mu}\right)^{n} & y = 0 \\
            (1 - \pi) \frac{\Gamma(y + n)}{\Gamma(n)\, y!} \left(\frac{n}{n + \mu}\right)^{n}
                \left(\frac{\mu}{n + \mu}\right)^{y} & y = 1, 2, \dots
        \end{cases}

    The count part is ``negative_binomial`` with n successes (scipy's ``n``,
    any positive real) and success probability p = n / (n + mu), written by
    its mean ``mu`` (a log link, as in a GLM) and ``n``, the dispersion:
    the variance is mu + mu^2 / n. log p(0) is computed by logaddexp, as in
    ``zero_inflated_poisson``.

    >>> import symlik
    >>> d = symlik.derive("zero_inflated_negative_binomial", link="log")
    >>> d.loss.name is None, d.inputs
    (True, ('pi', 'log_mu', 'y', 'n'))
    """

    name = "zero_inflated_negative_binomial"
    title = "Zero-inflated negative binomial"
    params = (
        Param("pi", C.unit_interval, doc="probability of a structural zero"),
        Param("mu", C.positive, doc="mean of the negative binomial component"),
        Param("n", C.positive, doc="dispersion: scipy nbinom's n (any positive real); variance mu + mu^2/n"),
    )
    support = C.Support("discrete", 0, None)
    predict = ("pi", "mu")
    links = ("logit", "log")
    variants = ({"predict": ("pi", "mu", "n")},)
    references = (
        "J. M. Hilbe, Negative Binomial Regression, 2nd ed. (2011), ch. 11.",
        "A. C. Cameron, P. K. Trivedi, Regression Analysis of Count Data, 2nd ed. (2013), sec. 4.6.",
    )

    def log_density(self, y, pi, mu, n):
        # log (n/(n + mu))^n and log (mu/(n + mu))^y as -n log(1 + mu/n) and -y log(1 + n/mu): a log1p of a
        # positive ratio each, where n log n - n log(n + mu) would cancel for mu << n
        log_zero_count = -n * sp.log(1 + mu / n)
        count = (
            sp.log(sp.gamma(y + n)) - sp.log(sp.gamma(n)) - sp.log(sp.factorial(y))
            + log_zero_count - y * sp.log(1 + n / mu)
        )
        # log(pi + (1 - pi) p0) as logaddexp of the logs of its two terms: no underflow, no cancellation
        return sp.Piecewise(
            (logaddexp(sp.log(pi), sp.log(1 - pi) + log_zero_count), sp.Eq(y, 0)),
            (sp.log(1 - pi) + count, True),
        )

    def density(self, y, pi, mu, n):
        count = sp.gamma(y + n) / (sp.gamma(n) * sp.factorial(y)) * (n / (n + mu)) ** n * (mu / (n + mu)) ** y
        return sp.Piecewise((pi + (1 - pi) * (n / (n + mu)) ** n, sp.Eq(y, 0)), ((1 - pi) * count, True))

    def scipy_logpdf(self, y, pi, mu, n):
        # scipy has no zero-inflated negative binomial: the mixture written out with scipy.stats.nbinom's pieces.
        import numpy as np
        from scipy import stats

        y, pi, mu, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, pi, mu, n)))
        p = n / (n + mu)
        with np.errstate(divide="ignore"):
            zero = np.logaddexp(np.log(pi), np.log1p(-pi) + stats.nbinom.logpmf(0, n, p))
            return np.where(y == 0, zero, np.log1p(-pi) + stats.nbinom.logpmf(y, n, p))
