import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class BetaMeanPrecision(Distribution):
    r"""Beta distribution on (0, 1) by its mean ``mu`` and precision ``phi`` (beta regression).

    .. math::
        p(y \mid \mu, \phi) = \frac{\Gamma(\phi)}{\Gamma(\mu\phi)\, \Gamma((1 - \mu)\phi)}
            y^{\mu\phi - 1} (1 - y)^{(1 - \mu)\phi - 1}, \qquad 0 < y < 1

    The shapes are a = mu phi and b = (1 - mu) phi, so the mean is mu and the
    variance mu (1 - mu) / (1 + phi): phi is a precision. This is Ferrari and
    Cribari-Neto's parametrisation, with a logit link on ``mu`` (``link="logit"``)
    and a log link on ``phi``. No familiar loss fits; the loss is its own NLL.

    >>> import symlik
    >>> d = symlik.derive("beta_mean_precision", link="logit")
    >>> d.loss.name is None, d.inputs
    (True, ('logits', 'y', 'phi'))
    """

    name = "beta_mean_precision"
    title = "Beta (mean and precision)"
    params = (
        Param("mu", C.open_unit_interval, doc="mean; scipy a = mu phi"),
        Param("phi", C.positive, doc="precision; scipy b = (1 - mu) phi; variance mu (1 - mu) / (1 + phi)"),
    )
    support = C.Support("continuous", 0, 1, open_lower=True, open_upper=True)
    predict = ("mu",)
    # logit on mu; a log link on phi needs a per-parameter link (link={"mu": "logit", "phi": "log"})
    links = ("logit",)
    variants = ({"predict": ("mu", "phi")}, {"predict": ("mu", "phi"), "link": "logit"})
    references = (
        "S. Ferrari, F. Cribari-Neto, Beta regression for modelling rates and proportions, J. Appl. Stat. 31 (2004) 799-815.",
        "F. Cribari-Neto, A. Zeileis, Beta regression in R, J. Stat. Softw. 34 (2010) 1-24.",
    )

    def density(self, y, mu, phi):
        a, b = mu * phi, (1 - mu) * phi
        return sp.gamma(phi) / (sp.gamma(a) * sp.gamma(b)) * y ** (a - 1) * (1 - y) ** (b - 1)

    def scipy_logpdf(self, y, mu, phi):
        from scipy import stats

        return stats.beta.logpdf(y, mu * phi, (1 - mu) * phi)
