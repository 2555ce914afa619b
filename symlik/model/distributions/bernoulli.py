from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Bernoulli(Distribution):
    r"""Bernoulli distribution over {0, 1} with success probability ``p``.

    .. math:: p(y \mid p) = p^{y} (1 - p)^{1 - y}

    Its negative log-likelihood is binary cross-entropy; with
    ``link="logit"`` the network outputs logits and the kernel is the stable
    ``BCEWithLogits`` form log(1 + e^z) - y z.

    >>> import symlik
    >>> symlik.derive("bernoulli", link="logit").loss.name
    'binary_cross_entropy'
    """

    name = "bernoulli"
    title = "Bernoulli"
    params = (Param("p", C.unit_interval, doc="probability of y = 1"),)
    support = C.Support("discrete", 0, 1)
    predict = ("p",)
    links = ("logit",)
    references = ("K. P. Murphy, Probabilistic Machine Learning: An Introduction (2022), sec. 10.2.",)

    def density(self, y, p):
        return p**y * (1 - p) ** (1 - y)

    def scipy_logpdf(self, y, p):
        from scipy import stats

        return stats.bernoulli.logpmf(y, p)
