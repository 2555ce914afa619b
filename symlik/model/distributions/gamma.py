import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Gamma(Distribution):
    r"""Gamma distribution parametrised by its mean ``mu`` and shape ``k`` (as in a GLM).

    .. math::
        p(y \mid \mu, k) = \frac{1}{\Gamma(k)} \left(\frac{k}{\mu}\right)^{k} y^{k - 1}
            \exp\!\left(-\frac{k y}{\mu}\right), \qquad y > 0

    Predicting ``mu`` gives the gamma deviance 2 (y/mu - log(y/mu) - 1)
    with scale k/2 (the dispersion is 1/k). In scipy's parametrisation,
    a = k and scale = mu / k.

    >>> import symlik
    >>> d = symlik.derive("gamma")
    >>> d.loss.name, d.scale
    ('gamma_deviance', k/2)
    """

    name = "gamma"
    title = "Gamma"
    params = (
        Param("mu", C.positive, doc="mean (scipy scale = mu / k)"),
        Param("k", C.positive, doc="shape (scipy a); the variance is mu^2 / k"),
    )
    # closed at 0 where k = 1: the density is finite there (scipy: gamma.logpdf(0, 1) = 0)
    support = C.Support("continuous", 0, None, open_lower=True, lower_closed_if=(("k", 1.0),))
    predict = ("mu",)
    links = ("log",)
    variants = ({"predict": ("mu", "k")},)
    references = (
        "P. McCullagh, J. A. Nelder, Generalized Linear Models, 2nd ed. (1989), ch. 8.",
        "scikit-learn, sklearn.metrics.mean_gamma_deviance.",
    )

    def density(self, y, mu, k):
        return (k / mu) ** k * y ** (k - 1) * sp.exp(-k * y / mu) / sp.gamma(k)

    def scipy_logpdf(self, y, mu, k):
        from scipy import stats

        return stats.gamma.logpdf(y, a=k, scale=mu / k)
