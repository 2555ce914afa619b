from functools import lru_cache

import sympy as sp

from symlik.core.notation import form, term
from symlik.core.step import Step, reason
from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


def rho(r, delta):
    """Huber's rho: r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond (continuous slope)."""
    return sp.Piecewise((r**2 / 2, sp.Abs(r) <= delta), (delta * (sp.Abs(r) - delta / 2), True))


@lru_cache(maxsize=None)
def normaliser(delta):
    """Z(delta) = integral of exp(-rho(r)) over the real line, integrated by SymPy.

    sqrt(2 pi) erf(delta / sqrt 2) from the Gaussian core plus 2 e^{-delta^2/2} / delta
    from the two exponential tails.
    """
    r = sp.Dummy("r", real=True)
    return sp.simplify(sp.integrate(sp.exp(-rho(r, delta)), (r, -sp.oo, sp.oo)))


class Huber(Distribution):
    r"""Huber's least-favourable distribution: a Gaussian core with Laplace tails.

    .. math::
        p(y \mid \mu, \delta) = \frac{e^{-\rho_\delta(y - \mu)}}{Z(\delta)}, \quad
        \rho_\delta(r) = \begin{cases} r^2/2 & |r| \le \delta \\
                                       \delta(|r| - \delta/2) & |r| > \delta \end{cases}, \quad
        Z(\delta) = \sqrt{2\pi}\,\operatorname{erf}(\delta/\sqrt{2}) + \frac{2}{\delta} e^{-\delta^2/2}

    The normaliser is not typed in: SymPy integrates exp(-rho) over the real
    line (``normaliser``). Predicting ``mu`` gives torch's ``huber_loss(delta)``
    with scale 1; ``smooth_l1_loss(beta=delta)`` is that loss divided by delta.
    As delta -> oo it is the standard normal (MSE/2); as delta -> 0 the tails
    dominate and the loss tends to delta |r| (MAE, scaled).

    >>> import symlik
    >>> d = symlik.derive("huber")
    >>> d.loss.name, d.loss.inner
    ('huber_loss', {'delta': delta})
    """

    name = "huber"
    title = "Huber"
    params = (
        Param("mu", C.real, doc="location (the centre of the Gaussian core)"),
        Param("delta", C.positive, doc="where the quadratic core turns linear, in units of the residual"),
    )
    support = C.reals
    predict = ("mu",)
    references = (
        "P. J. Huber, Robust Estimation of a Location Parameter, Ann. Math. Statist. 35 (1964), sec. 4.",
        "PyTorch documentation, torch.nn.HuberLoss and torch.nn.SmoothL1Loss.",
    )

    def density(self, y, mu, delta):
        return sp.exp(-rho(y - mu, delta)) / normaliser(delta)

    def density_steps(self):
        """The normaliser, derived: shown after the density is substituted."""
        delta = self.symbol("delta")
        r = sp.Symbol("r", real=True)
        integral = sp.Integral(sp.exp(-rho(r, delta)), (r, -sp.oo, sp.oo))
        return (
            Step(
                "Normalise the density",
                sp.Eq(integral, normaliser(delta), evaluate=False),
                reason(
                    term("density"), " is proportional to ", term("huber_unnormalised"), "; SymPy integrates the Gaussian "
                    "core over ", term("huber_core"), " (an erf) and the two exponential tails beyond it (", term("huber_tails"), ").",
                ),
                form("normaliser_of", delta),
            ),
        )

    def scipy_logpdf(self, y, mu, delta):
        # Independent of SymPy's integral: scipy's huber and a numerical quadrature of exp(-huber).
        import numpy as np
        from scipy import integrate, special

        y, mu, delta = np.broadcast_arrays(np.asarray(y, float), np.asarray(mu, float), np.asarray(delta, float))
        log_z = {}
        for d in np.unique(delta):
            core, _ = integrate.quad(lambda r: np.exp(-special.huber(d, r)), -d, d, epsabs=0, epsrel=1e-13)
            tails, _ = integrate.quad(lambda r: np.exp(-special.huber(d, r)), d, np.inf, epsabs=0, epsrel=1e-13)
            log_z[d] = np.log(core + 2 * tails)
        return -special.huber(delta, y - mu) - np.vectorize(log_z.get)(delta)
