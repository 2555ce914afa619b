import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Multinomial(Distribution):
    r"""Multinomial distribution: counts y over C classes from ``n`` draws with probabilities ``p``.

    The event is on the last axis: ``p`` and ``y`` have shape ``[..., C]``, and
    each count vector sums to ``n`` (shape ``[...]``, which may differ from one
    observation to the next).

    .. math::
        p(y \mid n, p) = \frac{n!}{\prod_{k=1}^{C} y_k!} \prod_{k=1}^{C} p_k^{y_k},
        \quad \sum_{k=1}^{C} y_k = n

    Its negative log-likelihood is n times the cross-entropy of the observed
    frequencies y/n against p, plus the log multinomial coefficient: the matcher
    reads the total n off that coefficient. With ``link="softmax"`` the network
    outputs logits and the kernel uses logsumexp.

    >>> import symlik
    >>> d = symlik.derive("multinomial", link="softmax")
    >>> d.loss.name, str(d.scale)
    ('cross_entropy', 'n')
    """

    name = "multinomial"
    title = "Multinomial"
    params = (
        Param("n", C.positive_integer, doc="number of draws, the total of each count vector (scipy n)"),
        Param("p", C.simplex, event=True, doc="class probabilities over the last axis"),
    )
    support = C.Support("counts_vector", upper="n")
    predict = ("p",)
    links = ("softmax",)
    event_size = "C"
    references = (
        "A. Agresti, Categorical Data Analysis, 3rd ed. (2013), sec. 1.2.2 and 8.1.",
        "K. P. Murphy, Probabilistic Machine Learning: An Introduction (2022), sec. 2.5.",
    )

    def density(self, y, n, p):
        return sp.factorial(n) * sp.Product(p**y / sp.factorial(y), (self.index, 1, self.K))

    def scipy_logpdf(self, y, n, p):
        from scipy import stats

        return stats.multinomial.logpmf(y, np.asarray(n), p)
