import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Dirichlet(Distribution):
    r"""Dirichlet distribution over the probability simplex with concentrations ``alpha``.

    The event is on the last axis: ``alpha`` and ``y`` have shape ``[..., D]``,
    and each y is a probability vector.

    .. math::
        p(y \mid \alpha) = \frac{\Gamma\left(\sum_{k=1}^{D} \alpha_k\right)}{\prod_{k=1}^{D} \Gamma(\alpha_k)}
            \prod_{k=1}^{D} y_k^{\alpha_k - 1}

    Predicting ``alpha`` (as when a network outputs the concentrations of a
    distribution over class probabilities) gives a loss that no familiar one
    fits: the NLL itself, with log-gamma terms that the kernel computes
    directly (never the gamma function, which overflows).

    >>> import symlik
    >>> symlik.derive("dirichlet").loss.name is None
    True
    """

    name = "dirichlet"
    title = "Dirichlet"
    params = (Param("alpha", C.positive, event=True, doc="concentration of each component over the last axis"),)
    support = C.Support("simplex")
    predict = ("alpha",)
    references = (
        "B. A. Frigyik, A. Kapila, M. R. Gupta, Introduction to the Dirichlet Distribution and "
        "Related Processes, UWEE Technical Report 2010-0006 (2010).",
        "M. Sensoy, L. Kaplan, M. Kandemir, Evidential Deep Learning to Quantify Classification "
        "Uncertainty, NeurIPS 2018.",
    )

    def density(self, y, alpha):
        k, K = self.index, self.K
        total = sp.Sum(alpha, (k, 1, K))  # the alpha given (alpha_p[k] in a KL), not always the default alpha[k]
        return sp.gamma(total) * sp.Product(y ** (alpha - 1) / sp.gamma(alpha), (k, 1, K))

    def scipy_logpdf(self, y, alpha):
        from scipy import stats

        # scipy's dirichlet takes one alpha vector at a time.
        y, alpha = np.broadcast_arrays(np.asarray(y, float), np.asarray(alpha, float))
        flat_y, flat_alpha = y.reshape(-1, y.shape[-1]), alpha.reshape(-1, alpha.shape[-1])
        out = [stats.dirichlet.logpdf(row_y, row_alpha) for row_y, row_alpha in zip(flat_y, flat_alpha)]
        return np.reshape(out, y.shape[:-1])
