import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class BetaBinomial(Distribution):
    r"""Beta-binomial distribution: a binomial count whose success probability is Beta(a, b).

    .. math::
        p(y \mid n, a, b) = \binom{n}{y} \frac{B(y + a,\, n - y + b)}{B(a, b)},
        \quad y \in \{0, \dots, n\}

    The over-dispersed binomial: mean n a / (a + b). The network predicts both
    shape parameters; no familiar loss fits, so the loss is the NLL less
    -log C(n, y), written with log-beta (log-gamma) terms in the kernel.

    >>> import symlik
    >>> symlik.derive("beta_binomial").predict
    ('a', 'b')
    """

    name = "beta_binomial"
    title = "Beta-binomial"
    params = (
        Param("n", C.positive_integer, doc="number of trials (scipy n)"),
        Param("a", C.positive, doc="first shape of the Beta prior on p (scipy a)"),
        Param("b", C.positive, doc="second shape of the Beta prior on p (scipy b)"),
    )
    support = C.Support("discrete", 0, "n")
    predict = ("a", "b")
    references = (
        "D. A. Williams, The analysis of binary responses from toxicological experiments involving "
        "reproduction and teratogenicity, Biometrics 31 (1975) 949-952.",
        "N. L. Johnson, A. W. Kemp, S. Kotz, Univariate Discrete Distributions, 3rd ed. (2005), sec. 6.7.2.",
    )

    def density(self, y, n, a, b):
        return sp.binomial(n, y) * sp.beta(y + a, n - y + b) / sp.beta(a, b)

    def scipy_logpdf(self, y, n, a, b):
        from scipy import stats

        return stats.betabinom.logpmf(y, n, a, b)
