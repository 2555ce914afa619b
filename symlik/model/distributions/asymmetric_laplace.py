import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class AsymmetricLaplace(Distribution):
    r"""Asymmetric Laplace distribution with location ``mu``, scale ``b`` and quantile level ``tau``.

    .. math::
        p(y \mid \mu, b, \tau) = \frac{\tau (1 - \tau)}{b}
            \exp\!\left(-\frac{\rho_\tau(y - \mu)}{b}\right),
        \qquad
        \rho_\tau(r) = \begin{cases} \tau r & r \ge 0 \\ (\tau - 1) r & r < 0 \end{cases}

    ``mu`` is the ``tau``-quantile of y, so predicting ``mu`` gives the
    pinball (quantile) loss at ``tau`` with scale 1/b: quantile regression is
    maximum likelihood under this density. In scipy's parametrisation,
    kappa = sqrt(tau / (1 - tau)) and scale = b / sqrt(tau (1 - tau)).

    >>> import symlik
    >>> d = symlik.derive("asymmetric_laplace")
    >>> d.loss.name, d.loss.inner
    ('pinball', {'tau': tau})
    """

    name = "asymmetric_laplace"
    title = "Asymmetric Laplace"
    params = (
        Param("mu", C.real, doc="location: the tau-quantile of y (scipy loc)"),
        Param("b", C.positive, doc="scale"),
        Param("tau", C.open_unit_interval, doc="quantile level in (0, 1)"),
    )
    support = C.reals
    predict = ("mu",)
    variants = ({"predict": ("mu", "b")},)
    references = (
        "K. Yu, R. A. Moyeed, Bayesian quantile regression, Statistics & Probability Letters 54 (2001) 437-447.",
        "R. Koenker, G. Bassett, Regression quantiles, Econometrica 46 (1978) 33-50.",
    )

    def density(self, y, mu, b, tau):
        r = y - mu
        check = sp.Piecewise((tau * r, y >= mu), ((tau - 1) * r, True))
        return tau * (1 - tau) / b * sp.exp(-check / b)

    def scipy_logpdf(self, y, mu, b, tau):
        from scipy import stats

        kappa = np.sqrt(tau / (1 - tau))
        return stats.laplace_asymmetric.logpdf(y, kappa, loc=mu, scale=b / np.sqrt(tau * (1 - tau)))
