"""What the three accelerated failure time (AFT) entries share: weibull_aft, lognormal_aft, loglogistic_aft.

The registry skips modules whose name starts with an underscore, so this one is no catalog entry.

An AFT model writes a survival time T as log T = mu + sigma Z, with Z of a fixed standard law
(extreme value, normal, logistic: XGBoost's ``aft_loss_distribution``). An observation is an
interval [y, upper] known to hold T: y = upper is an exact time (a density), upper = inf a
right-censored one, y = 0 a left-censored one, anything else an interval (a probability mass).
Each kind is its own Piecewise branch, so that no branch meets log 0 or an infinite bound and
no gradient holds inf * 0.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symlik.core.functions import Log1pPositive
from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class AcceleratedFailureTime(Distribution):
    """Base of the three AFT entries. A subclass gives the standard law of Z: ``log_pdf(z)``,
    ``cdf(z)`` and ``sf(z)`` (plain forms, shown in the derivation), ``log_cdf(z)``, ``log_sf(z)``
    and ``log_mass(zl, zu, d)`` = log(F(zu) - F(zl)) with d = zu - zl (stable forms, computed),
    and ``scipy_dist(mu, sigma)``, the same law of T frozen in scipy.stats (the test oracle)."""

    params = (
        Param("mu", C.real, doc="location of log T (XGBoost's prediction, the margin)"),
        Param("sigma", C.positive, doc="scale of log T (XGBoost's aft_loss_distribution_scale)"),
        Param("upper", C.positive_or_inf, doc="upper end of the interval holding T: y for an exact time, inf if right-censored"),
    )
    support = C.Support("continuous", 0, "upper")
    predict = ("mu",)
    variants = ({"predict": ("mu", "sigma")},)
    # read by symlik.analysis.information: the score and Hessian are derived, the expectation is not
    no_expected_information = (
        "a censored observation's expected information is an expectation over the censoring mechanism "
        "as well, which the model leaves unspecified (each row brings its own interval)"
    )

    def _pieces(self, y, mu, sigma, upper, *, stable: bool):
        zl = (sp.log(y) - mu) / sigma
        zu = (sp.log(upper) - mu) / sigma
        if stable:
            # zu - zl as log1p of the relative width: one ulp wide, log(upper) - log(y) would round to 0 or 2 ulps;
            # Log1pPositive, since the width overflows where y is subnormal (its log is then log(upper - y) - log y)
            d = Log1pPositive((upper - y) / y) / sigma
            exact = self.log_pdf(zl) - sp.log(sigma) - sp.log(y)
            return exact, self.log_sf(zl), self.log_cdf(zu), self.log_mass(zl, zu, d), sp.Integer(0)
        exact = sp.exp(self.log_pdf(zl)) / (sigma * y)
        return exact, self.sf(zl), self.cdf(zu), self.cdf(zu) - self.cdf(zl), sp.Integer(1)

    def _branches(self, pieces, y, upper):
        exact, right, left, interval, everything = pieces
        return sp.Piecewise(
            # y >= upper is y = upper on the support, an exact time; written as an inequality like the Tobit's bound
            (exact, y >= upper),
            # [0, inf] says nothing: mass 1, its own branch since log y = -inf meets inf in the others. Written as
            # one relation, y + 1/upper <= 0 (both terms are >= 0): y <= 0 and upper = inf is an And, which not every backend prints
            (everything, y + 1 / upper <= 0),
            (right, sp.Eq(upper, sp.oo)),
            (left, y <= 0),
            (interval, True),
        )

    def density(self, y, mu, sigma, upper):
        return self._branches(self._pieces(y, mu, sigma, upper, stable=False), y, upper)

    def log_density(self, y, mu, sigma, upper):
        return self._branches(self._pieces(y, mu, sigma, upper, stable=True), y, upper)

    def scipy_logpdf(self, y, mu, sigma, upper):
        # The same four cases from scipy.stats' frozen law of T: logpdf, logsf, logcdf, and the
        # interval's mass as log(sf(y) - sf(upper)) or log(cdf(upper) - cdf(y)), whichever subtracts smaller numbers.
        y, mu, sigma, upper = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, mu, sigma, upper)))
        dist = self.scipy_dist(mu, sigma)
        with np.errstate(all="ignore"):
            sf_l, sf_u, cdf_l, cdf_u = dist.logsf(y), dist.logsf(upper), dist.logcdf(y), dist.logcdf(upper)
            by_sf = sf_l + np.log1p(-np.exp(sf_u - sf_l))
            by_cdf = cdf_u + np.log1p(-np.exp(cdf_l - cdf_u))
            interval = np.where(cdf_u > np.log(0.5), by_sf, by_cdf)
            return np.select(
                [y >= upper, (y <= 0) & np.isposinf(upper), np.isposinf(upper), y <= 0],
                [dist.logpdf(y), 0.0, sf_l, cdf_u],
                interval,
            )
