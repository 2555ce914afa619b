from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Geometric(Distribution):
    r"""Geometric distribution: the number of trials y up to and including the first success.

    .. math:: p(y \mid p) = (1 - p)^{y - 1} p, \quad y \in \{1, 2, 3, \dots\}

    The support starts at 1, as in scipy's ``geom``. Its negative
    log-likelihood, -log p - (y - 1) log(1 - p), is a binary cross-entropy only
    with a weight y that depends on the observation, so no familiar loss fits.

    >>> import symlik
    >>> symlik.derive("geometric").loss.name is None
    True
    """

    name = "geometric"
    title = "Geometric"
    params = (Param("p", C.unit_interval, doc="success probability of each trial"),)
    support = C.Support("discrete", 1, None)
    predict = ("p",)
    links = ("logit",)
    references = ("W. Feller, An Introduction to Probability Theory and Its Applications, vol. 1, 3rd ed. (1968), sec. VI.8.",)

    def density(self, y, p):
        return (1 - p) ** (y - 1) * p

    def scipy_logpdf(self, y, p):
        from scipy import stats

        return stats.geom.logpmf(y, p)
