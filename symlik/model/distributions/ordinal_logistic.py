import numpy as np
import sympy as sp

from symlik.core.functions import Log1mExp, Sigmoid, Softplus
from symlik.core.step import Step, reason
from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class OrdinalLogistic(Distribution):
    r"""Ordinal logistic regression (proportional odds, cumulative logit) over K ordered classes, location ``eta``.

    .. math::
        P(y \le k \mid \eta) = \sigma(\theta_{k+1} - \eta), \qquad
        p(y = k \mid \eta) = \sigma(\theta_{k+1} - \eta) - \sigma(\theta_{k} - \eta),
        \quad k = 0, \dots, K - 1,

    with sigma(t) = 1/(1 + e^{-t}), theta_0 = -inf and theta_K = +inf. The
    K - 1 thresholds must increase; they are written as theta1 (free) and
    theta_k = theta_{k-1} + e^{delta_k}, so every real delta2, ..., delta{K-1}
    gives strictly increasing thresholds and an optimiser needs no constraint
    (statsmodels' OrderedModel orders them the same way). K is an option
    ("3", "4" or "5"; default 3) rather than an event axis, so that each
    threshold is an ordinary scalar parameter with its own name (``theta1``,
    ``delta2``, ...) that can be fixed, passed per observation, or predicted
    like any other. y is the class index 0, ..., K - 1.

    The end classes are log sigma terms, computed as -softplus(.) (finite for
    every eta). A middle class is a difference of two sigmoids, which cancels
    when both are near 0 or 1 or the gap is tiny; it is rewritten exactly as
    sigma(b) sigma(-a) (1 - e^{a - b}) with b - a = e^{delta}, whose log
    -softplus(-b) - softplus(a) + log(1 - e^{-e^{delta}}) has no cancellation
    (the last term by log1mexp).

    >>> import symlik
    >>> d = symlik.derive("ordinal_logistic")
    >>> d.loss.name is None, d.inputs
    (True, ('eta', 'y', 'theta1', 'delta2'))
    """

    name = "ordinal_logistic"
    title = "Ordinal logistic"
    params = (
        Param("eta", C.real, doc="latent location (the linear predictor)"),
        Param("theta1", C.real, doc="the first (lowest) threshold"),
        Param("delta2", C.real, doc="log of the gap between thresholds 1 and 2"),
    )
    support = C.Support("discrete", 0, 2)
    predict = ("eta",)
    options = {"K": ("3", "4", "5")}
    variants = ({"options": {"K": "5"}}, {"predict": ("eta", "theta1", "delta2")})
    # read by symlik.analysis.information: the expectation is a finite sum over the K classes, but
    # sp.simplify of that sum ran 98 s at K = 3 (minutes at K = 5), which stalled the book
    no_closed_form_information = (
        "its expected Hessian is a finite sum over the K classes of products of sigmoids, which SymPy "
        "does not simplify in reasonable time (98 s at K = 3), so it is not derived here"
    )
    references = (
        "P. McCullagh, Regression models for ordinal data, J. R. Statist. Soc. B 42 (1980) 109-142.",
        "A. Agresti, Analysis of Ordinal Categorical Data, 2nd ed. (2010), ch. 3.",
    )

    def __init__(self, **options):
        if type(options.get("K")) is int:  # K=4 means K="4": one spelling of each option value in the caches
            options["K"] = str(options["K"])
        super().__init__(**options)
        # The number of classes fixes the support and the parameters: one instance attribute each.
        self.n_classes = int(self.chosen["K"])
        self.support = C.Support("discrete", 0, self.n_classes - 1)

    def effective_params(self):
        gaps = tuple(
            Param(f"delta{k}", C.real, doc=f"log of the gap between thresholds {k - 1} and {k}") for k in range(2, self.n_classes)
        )
        return (*self.params[:2], *gaps)

    def thresholds(self, theta1, *deltas) -> list:
        """theta1, ..., theta_{K-1}: theta_k = theta_{k-1} + e^{delta_k}, ordered for any real deltas."""
        out = [theta1]
        for delta in deltas:
            out.append(out[-1] + sp.exp(delta))
        return out

    def log_density(self, y, eta, theta1, **gaps):
        deltas = [gaps[f"delta{k}"] for k in range(2, self.n_classes)]
        theta = self.thresholds(theta1, *deltas)
        last = self.n_classes - 1
        # log sigma(t) = -softplus(-t): finite for every t, where log(1/(1 + e^-t)) overflows at t < -709
        pieces = [(-Softplus(eta - theta[0]), sp.Eq(y, 0))]
        for k in range(1, last):
            # log(sigma(B) - sigma(A)) = log sigma(B) + log sigma(-A) + log(1 - e^(A - B)), A - B = -e^delta:
            # no difference of nearly equal sigmoids, and log1mexp keeps a tiny gap e^delta
            pieces.append(
                (-Softplus(eta - theta[k]) - Softplus(theta[k - 1] - eta) + Log1mExp(-sp.exp(deltas[k - 1])), sp.Eq(y, k))
            )
        pieces.append((-Softplus(theta[-1] - eta), True))
        return sp.Piecewise(*pieces)

    def density(self, y, eta, theta1, **gaps):
        deltas = [gaps[f"delta{k}"] for k in range(2, self.n_classes)]
        theta = self.thresholds(theta1, *deltas)
        cdf = [1 / (1 + sp.exp(eta - t)) for t in theta]  # P(y <= k) = sigma(theta_{k+1} - eta), written out
        pieces = [(cdf[0], sp.Eq(y, 0))]
        for k in range(1, self.n_classes - 1):
            pieces.append((cdf[k] - cdf[k - 1], sp.Eq(y, k)))
        pieces.append((1 - cdf[-1], True))
        return sp.Piecewise(*pieces)

    def density_steps(self):
        k, j = (sp.Symbol(n, integer=True, positive=True) for n in "kj")
        delta, theta = (sp.IndexedBase(n, real=True) for n in ("delta", "theta"))
        a, b, t = sp.symbols("a b t", real=True)
        ordered = Step(
            "Order the thresholds",
            sp.Symbol("theta1", real=True) + sp.Sum(sp.exp(delta[j]), (j, 2, k)),
            reason(
                "The thresholds must increase. Each is the one before plus a positive gap, ",
                sp.Eq(theta[k], theta[k - 1] + sp.exp(delta[k]), evaluate=False),
                ", so every real ", delta[k], " gives ordered thresholds and the optimiser needs no constraint; "
                "the density above is written with these thresholds.",
            ),
            lhs=theta[k],
        )
        product = Step(
            "Write each difference of sigmoids as a product",
            Sigmoid(b) * Sigmoid(-a) * (1 - sp.exp(a - b)),
            reason(
                "Over the common denominator both sides are ", (sp.exp(-a) - sp.exp(-b)) / ((1 + sp.exp(-a)) * (1 + sp.exp(-b))),
                ". A middle class has ", sp.Eq(b - a, sp.exp(delta[k]), evaluate=False), ", so its log is ",
                sp.log(Sigmoid(b)) + sp.log(Sigmoid(-a)) + sp.log(1 - sp.exp(-sp.exp(delta[k]))),
                ", a sum with no difference of nearly equal numbers; each ",
                sp.Eq(sp.log(Sigmoid(t)), -sp.log(1 + sp.exp(-t)), evaluate=False), ", where ",
                sp.Eq(Sigmoid(t), 1 / (1 + sp.exp(-t)), evaluate=False), ".",
            ),
            lhs=Sigmoid(b) - Sigmoid(a),
        )
        return (ordered, product)

    def scipy_logpdf(self, y, eta, theta1, **gaps):
        # scipy has no ordinal logit: each class's log-probability from scipy.special.log_expit, a middle
        # class as log(F(b) - F(a)) = log F(b) + log1p(-F(a)/F(b)), or by the survival functions where
        # both cuts lie above eta (there F is near 1 and its difference cancels; S = 1 - F does not).
        from scipy.special import log_expit

        deltas = [gaps[f"delta{k}"] for k in range(2, self.n_classes)]
        y, eta, theta1, *deltas = np.broadcast_arrays(*(np.asarray(v, float) for v in (y, eta, theta1, *deltas)))
        cuts = [theta1]
        for d in deltas:
            cuts.append(cuts[-1] + np.exp(d))
        last = self.n_classes - 1
        out = np.full(y.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.where(y == 0, log_expit(cuts[0] - eta), out)
            out = np.where(y == last, log_expit(eta - cuts[-1]), out)
            for k in range(1, last):
                a, b = cuts[k - 1], cuts[k]
                by_cdf = log_expit(b - eta) + np.log1p(-np.exp(log_expit(a - eta) - log_expit(b - eta)))
                by_sf = log_expit(eta - a) + np.log1p(-np.exp(log_expit(eta - b) - log_expit(eta - a)))
                out = np.where(y == k, np.where(a > eta, by_sf, by_cdf), out)
        return out
