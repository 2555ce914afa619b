import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Binomial(Distribution):
    r"""Binomial distribution: the number of successes y in ``n`` trials of probability ``p``.

    .. math:: p(y \mid n, p) = \binom{n}{y} p^{y} (1 - p)^{n - y}, \quad y \in \{0, \dots, n\}

    Its negative log-likelihood is n times the binary cross-entropy of the
    observed frequency y/n against p, plus -log C(n, y): the matcher solves the
    rescaling n from the coefficients of log p and log(1 - p). With
    ``link="logit"`` the kernel is BCE-with-logits on y/n. ``n`` may differ
    from one observation to the next.

    >>> import symlik
    >>> d = symlik.derive("binomial")
    >>> d.loss.name, str(d.scale)
    ('binary_cross_entropy', 'n')
    """

    name = "binomial"
    title = "Binomial"
    params = (
        Param("n", C.positive_integer, doc="number of trials (scipy n)"),
        Param("p", C.unit_interval, doc="success probability of each trial"),
    )
    support = C.Support("discrete", 0, "n")
    predict = ("p",)
    links = ("logit",)
    references = (
        "A. Agresti, Categorical Data Analysis, 3rd ed. (2013), sec. 1.2 and 5.1.",
        "P. McCullagh, J. A. Nelder, Generalized Linear Models, 2nd ed. (1989), ch. 4.",
    )

    def density(self, y, n, p):
        return sp.binomial(n, y) * p**y * (1 - p) ** (n - y)

    def scipy_logpdf(self, y, n, p):
        from scipy import stats

        return stats.binom.logpmf(y, n, p)
