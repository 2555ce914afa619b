import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class DiagNormal(Distribution):
    r"""Multivariate normal with diagonal covariance over the last axis (D dimensions).

    ``sigma="shared"`` (default) is N(mu, sigma^2 I), the decoder often
    assumed in a VAE, whose NLL is the squared L2 norm ||y - mu||^2 with
    scale 1/(2 sigma^2). ``sigma="per_dim"`` gives one sigma per dimension
    (the Gaussian decoder in Kingma & Welling's ELBO): a weighted squared
    error that no familiar loss fits.

    .. math::
        p(y \mid \mu, \sigma) = \prod_{k=1}^{D}
            \frac{1}{\sqrt{2\pi\sigma_k^2}} \exp\!\left(-\frac{(y_k - \mu_k)^2}{2\sigma_k^2}\right)

    >>> import symlik
    >>> symlik.derive("diag_normal").loss.name
    'mse'
    """

    name = "diag_normal"
    title = "Diagonal normal"
    params = (
        Param("mu", C.real, event=True, doc="mean vector over the last axis"),
        Param("sigma", C.positive, doc="standard deviation (shared) or one per dimension"),
    )
    support = C.Support("reals_vector")
    predict = ("mu",)
    options = {"sigma": ("shared", "per_dim")}
    variants = ({"options": {"sigma": "per_dim"}},)
    references = (
        "D. P. Kingma, M. Welling, Auto-Encoding Variational Bayes, ICLR 2014, appendix C.2.",
    )

    def effective_params(self):
        if self.chosen.get("sigma") == "per_dim":
            return (self.params[0], Param("sigma", C.positive, event=True, doc="standard deviation per dimension"))
        return self.params

    def density(self, y, mu, sigma):
        return sp.Product(
            sp.exp(-((y - mu) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2), (self.index, 1, self.K)
        )

    def scipy_logpdf(self, y, mu, sigma):
        from scipy import stats

        sigma = np.asarray(sigma)
        if sigma.ndim and sigma.shape[-1:] != np.shape(mu)[-1:]:
            sigma = sigma[..., None]
        return stats.norm.logpdf(y, loc=mu, scale=sigma).sum(axis=-1)
