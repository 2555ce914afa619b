import numpy as np
import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param

# The mixture's parameters, one group of K each: the network's head in this order.
_GROUPS = (
    ("w", C.real, "mixture logit of component {k} (the weights are softmax(w))"),
    ("mu", C.real, "mean of component {k}"),
    ("sigma", C.positive, "standard deviation of component {k}"),
)


def _log_sum_exp(terms):
    """log sum_k e^{t_k} as nested logaddexp: each subtracts the larger exponent first, so the sum
    neither overflows (t_k = 1e3) nor rounds to log 0 (every t_k = -5e5)."""
    out = terms[0]
    for t in terms[1:]:
        out = logaddexp(out, t)
    return out


class GaussianMixture(Distribution):
    r"""Mixture of K normal components with mixture logits ``w``, means ``mu`` and scales ``sigma``: the
    mixture-density-network head.

    .. math::
        p(y \mid w, \mu, \sigma) = \sum_{k=1}^{K} \pi_k\, \frac{1}{\sigma_k \sqrt{2\pi}}
            \exp\!\left(-\frac{(y - \mu_k)^2}{2\sigma_k^2}\right),
        \qquad \pi_k = \frac{e^{w_k}}{\sum_{j=1}^{K} e^{w_j}}

    K is fixed by the option ``K`` (2, 3 or 4), and each component has its own
    scalar parameters ``w1, ..., wK``, ``mu1, ..., muK``, ``sigma1, ..., sigmaK``,
    all predicted (Bishop's mixture density network outputs 3K numbers per
    observation). The log-density is the log-sum-exp of
    a_k = log softmax(w)_k + log N(y | mu_k, sigma_k) over the components,
    written as logsumexp(w_k - log sigma_k - (y - mu_k)^2 / (2 sigma_k^2))
    - logsumexp(w) - log(2 pi)/2 and computed by nested logaddexp: finite and
    exact when y is 1e3 standard deviations from every mean (each e^{a_k}
    underflows) and for logits of +-1e3 (e^{w_k} overflows). scipy has no
    mixture: the oracle sums scipy.stats.norm.logpdf by scipy.special.logsumexp.

    >>> import symlik
    >>> d = symlik.derive("gaussian_mixture")
    >>> d.loss.name is None, d.inputs
    (True, ('w1', 'w2', 'mu1', 'mu2', 'sigma1', 'sigma2', 'y'))
    """

    name = "gaussian_mixture"
    title = "Gaussian mixture"
    proper_noun = True
    options = {"K": ("2", "3", "4")}
    params = tuple(Param(f"{g}{k}", c, doc=doc.format(k=k)) for k in (1, 2) for g, c, doc in _GROUPS)
    support = C.reals
    variants = ({"options": {"K": "3"}}, {"options": {"K": "4"}})
    # read by symlik.analysis.information, which then declines instead of simplifying 3K x 3K derivatives
    no_closed_form_information = (
        "E[-H] over y is an integral of ratios of sums of normal densities, which has no closed form "
        "(it is computed by numerical integration)"
    )
    references = (
        "C. M. Bishop, Mixture density networks, Technical report NCRG/94/004, Aston University (1994).",
        "C. M. Bishop, Pattern Recognition and Machine Learning (2006), sec. 5.6 and 9.2.",
    )

    def __init__(self, **options):
        K = options.get("K")
        if isinstance(K, int) and not isinstance(K, bool):  # K=3 as well as K="3"
            options["K"] = str(K)
        super().__init__(**options)

    @property
    def n_components(self) -> int:
        return int(self.chosen.get("K", self.options["K"][0]))

    def effective_params(self):
        ks = range(1, self.n_components + 1)
        return tuple(Param(f"{g}{k}", c, doc=doc.format(k=k)) for g, c, doc in _GROUPS for k in ks)

    @property
    def predict(self):
        return self.param_names

    def _components(self, params):
        ks = range(1, self.n_components + 1)
        return [params[f"w{k}"] for k in ks], [params[f"mu{k}"] for k in ks], [params[f"sigma{k}"] for k in ks]

    def density(self, y, **params):
        w, mu, sigma = self._components(params)
        return sum(
            sp.exp(wk) * sp.exp(-((y - mk) ** 2) / (2 * sk**2)) / (sk * sp.sqrt(2 * sp.pi)) for wk, mk, sk in zip(w, mu, sigma)
        ) / sum(sp.exp(wk) for wk in w)

    def log_density(self, y, **params):
        w, mu, sigma = self._components(params)
        # log sum_k softmax(w)_k N(y | mu_k, sigma_k) as two log-sum-exps (logaddexp): neither the
        # weights e^{w_k} nor the densities are ever formed, so nothing overflows or underflows
        terms = [wk - sp.log(sk) - (y - mk) ** 2 / (2 * sk**2) for wk, mk, sk in zip(w, mu, sigma)]
        return _log_sum_exp(terms) - _log_sum_exp(w) - sp.log(2 * sp.pi) / 2

    def scipy_logpdf(self, y, **params):
        # scipy has no normal mixture: log softmax(w) + norm.logpdf, summed by scipy.special.logsumexp.
        from scipy import stats
        from scipy.special import log_softmax, logsumexp

        K = self.n_components
        arrays = np.broadcast_arrays(y, *(np.asarray(params[f"{g}{k}"], float) for g, _, _ in _GROUPS for k in range(1, K + 1)))
        y, rest = arrays[0], np.stack(arrays[1:], axis=-1)
        w, mu, sigma = rest[..., :K], rest[..., K : 2 * K], rest[..., 2 * K :]
        return logsumexp(log_softmax(w, axis=-1) + stats.norm.logpdf(y[..., None], mu, sigma), axis=-1)
