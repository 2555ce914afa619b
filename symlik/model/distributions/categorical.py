import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Categorical(Distribution):
    r"""Categorical distribution over C classes with probability vector ``p``.

    The event is on the last axis: ``p`` has shape ``[..., C]``; targets are
    class indices (shape ``[...]``) or one-hot / probability vectors
    (shape ``[..., C]``).

    .. math:: p(y \mid p) = \prod_{k=1}^{C} p_k^{y_k}

    Its negative log-likelihood is the cross-entropy; with ``link="softmax"``
    the network outputs logits and the kernel uses logsumexp.

    >>> import symlik
    >>> symlik.derive("categorical", link="softmax").loss.name
    'cross_entropy'
    """

    name = "categorical"
    title = "Categorical"
    params = (Param("p", C.simplex, event=True, doc="class probabilities over the last axis"),)
    support = C.Support("onehot")
    predict = ("p",)
    links = ("softmax",)
    event_size = "C"
    references = ("K. P. Murphy, Probabilistic Machine Learning: An Introduction (2022), sec. 2.5 and 10.3.",)

    def density(self, y, p):
        return sp.Product(p**y, (self.index, 1, self.K))

    def scipy_logpdf(self, y, p):
        from scipy import stats

        y = np.asarray(y)
        if y.shape != np.shape(p):  # class indices -> one-hot
            y = np.eye(np.shape(p)[-1], dtype=int)[y]
        return stats.multinomial.logpmf(y, 1, p)
