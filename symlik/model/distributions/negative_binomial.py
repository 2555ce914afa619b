import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class NegativeBinomial(Distribution):
    r"""Negative binomial distribution: the number of failures y before the ``n``-th success.

    .. math::
        p(y \mid n, p) = \frac{\Gamma(y + n)}{\Gamma(n)\, y!}\, p^{n} (1 - p)^{y},
        \quad y \in \{0, 1, 2, \dots\}

    ``n`` may be any positive real (scipy's ``nbinom`` convention), which makes
    it the over-dispersed alternative to the Poisson (mean n (1 - p) / p).
    Predicting ``p`` gives -n log p - y log(1 - p): a binary cross-entropy only
    with a weight n + y that depends on the observation, so no familiar loss
    fits and the loss is its own NLL. Predicting ``n`` too brings in the
    log-gamma terms.

    >>> import symlik
    >>> symlik.derive("negative_binomial").loss.name is None
    True
    """

    name = "negative_binomial"
    title = "Negative binomial"
    params = (
        Param("n", C.positive, doc="number of successes (scipy n; any positive real)"),
        Param("p", C.unit_interval, doc="success probability of each trial"),
    )
    support = C.Support("discrete", 0, None)
    predict = ("p",)
    links = ("logit",)
    variants = ({"predict": ("n", "p")},)
    references = (
        "J. M. Hilbe, Negative Binomial Regression, 2nd ed. (2011), ch. 8.",
        "A. C. Cameron, P. K. Trivedi, Regression Analysis of Count Data, 2nd ed. (2013), sec. 3.3.",
    )

    def density(self, y, n, p):
        return sp.gamma(y + n) / (sp.gamma(n) * sp.factorial(y)) * p**n * (1 - p) ** y

    def scipy_logpdf(self, y, n, p):
        from scipy import stats

        return stats.nbinom.logpmf(y, n, p)
