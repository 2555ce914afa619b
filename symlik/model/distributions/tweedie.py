from functools import lru_cache

import sympy as sp

from symlik.core.functions import TweedieBase, TweedieLogBase, tweedie_log_series_mp
from symlik.core.step import Step, reason
from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param

# The compound Poisson-gamma range of the power: 1 < p < 2 (p = 1 is Poisson, p = 2 gamma).
POWER = C.Interval(
    "tweedie_power", "lie in (1, 2)", {"positive": True}, typical=1.5, several=(1.2, 1.5, 1.8),
    samples=(1.3, 1.5, 1.7), plot_range=(1.02, 1.98, 97), lower=1.0, upper=2.0, open_lower=True, open_upper=True,
)


@lru_cache(maxsize=None)
def quasi_likelihood(y, mu, power):
    """(Q, F): Q(y; mu) = integral from y to mu of (y - t) / V(t), V(t) = t^power, integrated by
    SymPy (for power other than 1 and 2); F is the antiderivative, so Q = F(mu) - F(y)."""
    t = sp.Dummy("t", positive=True)
    # (y - t) / t^p = y t^-p - t^(1-p): integrated term by term, each a power of t
    antiderivative = sp.integrate(sp.powsimp(sp.expand((y - t) / t**power)), t, conds="none")
    at_mu = antiderivative.subs(t, mu)
    at_y = sp.factor(sp.powsimp(sp.expand(antiderivative.subs(t, y))))  # y^(2-p) / ((1-p)(2-p))
    return sp.Add(at_mu, -at_y, evaluate=False), (at_mu, at_y)


def unit_deviance(y, mu, power):
    """d(y, mu) = -2 Q(y; mu) = 2 (y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p))."""
    _, (at_mu, at_y) = quasi_likelihood(y, mu, power)
    return 2 * (at_y - at_mu)


class Tweedie(Distribution):
    r"""Tweedie (compound Poisson-gamma) distribution with mean ``mu``, dispersion ``phi`` and power 1 < p < 2.

    .. math::
        p(y \mid \mu, \phi, p) = c_p(y, \phi) \exp\!\left(-\frac{d(y, \mu)}{2\phi}\right), \quad
        d(y, \mu) = -2 \int_y^\mu \frac{y - t}{t^p}\, dt
            = 2\left(\frac{y^{2-p}}{(1-p)(2-p)} - \frac{y \mu^{1-p}}{1-p} + \frac{\mu^{2-p}}{2-p}\right)

    The variance is phi mu^p. The unit deviance d is not typed in: SymPy
    integrates the quasi-likelihood of V(mu) = mu^p (``quasi_likelihood``),
    shown as steps. y = 0 has probability e^{-lambda},
    lambda = mu^{2-p} / (phi (2-p)) (c_p(0, phi) = 1); for y > 0, c_p is the
    Dunn-Smyth series, free of mu (``symlik.core.functions.TweedieLogBase``).
    Predicting ``mu`` gives sklearn's ``mean_tweedie_deviance(power=p)`` with
    scale 1/(2 phi); ``link="log"`` takes z = log mu. scipy has no Tweedie:
    the oracle sums the series in mpmath.

    >>> import symlik
    >>> d = symlik.derive("tweedie", link="log")
    >>> d.loss.name, d.scale, d.inputs
    ('tweedie_deviance', 1/(2*phi), ('log_mu', 'y', 'phi', 'power'))
    """

    name = "tweedie"
    title = "Tweedie"
    proper_noun = True
    params = (
        Param("mu", C.positive, doc="mean"),
        Param("phi", C.positive, doc="dispersion; the variance is phi mu^p"),
        Param("power", POWER, doc="variance power p in (1, 2) (sklearn's power)"),
    )
    support = C.Support("continuous", 0, None)  # y = 0 has positive probability: a point mass
    predict = ("mu",)
    links = ("log",)
    references = (
        "B. Jørgensen, Exponential dispersion models, J. R. Statist. Soc. B 49 (1987) 127-162.",
        "P. K. Dunn, G. K. Smyth, Series evaluation of Tweedie exponential dispersion model densities, "
        "Statistics and Computing 15 (2005) 267-280.",
        "scikit-learn, sklearn.metrics.mean_tweedie_deviance.",
    )

    def density(self, y, mu, phi, power):
        return TweedieBase(y, phi, power) * sp.exp(-unit_deviance(y, mu, power) / (2 * phi))

    def log_density(self, y, mu, phi, power):
        return TweedieLogBase(y, phi, power) - unit_deviance(y, mu, power) / (2 * phi)

    def density_steps(self):
        """The unit deviance, derived from the variance function: shown after the density."""
        y, mu, phi, power = (self.symbol(n) for n in ("y", "mu", "phi", "power"))
        t = sp.Symbol("t", positive=True)
        Q, _ = quasi_likelihood(y, mu, power)
        q, d = sp.Function("Q")(y, mu), sp.Function("d")(y, mu)
        return (
            Step(
                "Integrate the quasi-likelihood",
                sp.Eq(sp.Integral((y - t) / t**power, (t, y, mu)), Q, evaluate=False),
                reason(
                    "A Tweedie model is the exponential dispersion model with variance ", phi * mu**power,
                    ", variance function ", sp.Eq(sp.Function("V")(mu), mu**power, evaluate=False),
                    ". Its log-likelihood in ", mu, " is ", q / phi, " plus terms free of ", mu,
                    ", with the quasi-likelihood ", q, " the integral of (", y - t, ")/V(", t, ") from ", y,
                    " to ", mu, ", which SymPy integrates (for a power other than 1 and 2).",
                ),
                q,
            ),
            Step(
                "The unit deviance",
                unit_deviance(y, mu, power),
                reason(
                    "The deviance is ", sp.Eq(d, -2 * q, evaluate=False), ": zero at ", sp.Eq(mu, y),
                    " and positive elsewhere. The density is ", TweedieBase(y, phi, power), " times ",
                    sp.exp(-d / (2 * phi)), " (Jørgensen), where ", TweedieBase(y, phi, power),
                    " does not depend on ", mu, ": it is 1 at ", sp.Eq(y, 0),
                    " (the point mass ", sp.exp(-mu ** (2 - power) / (phi * (2 - power))),
                    ") and the Dunn-Smyth series for ", y > 0, ".",
                ),
                d,
            ),
        )

    def scipy_logpdf(self, y, mu, phi, power):
        # scipy has no Tweedie: the series summed term by term in mpmath at 40 digits (independent of the
        # NumPy routine's Stirling-form nodes), in the exponential-dispersion form of Dunn and Smyth:
        # log p = log a(y, phi) + (y theta - kappa) / phi, theta = mu^(1-p)/(1-p), kappa = mu^(2-p)/(2-p).
        import mpmath
        import numpy as np

        def one(y, mu, phi, p):
            with mpmath.workdps(40):
                y, mu, phi, p = (mpmath.mpf(float(v)) for v in (y, mu, phi, p))
                theta, kappa = mu ** (1 - p) / (1 - p), mu ** (2 - p) / (2 - p)
                log_a = tweedie_log_series_mp(y, phi, p) if y > 0 else 0  # a(0, phi) = 1: the point mass e^-kappa/phi
                return float(log_a + (y * theta - kappa) / phi)

        return np.vectorize(one, otypes=[float])(y, mu, phi, power)
