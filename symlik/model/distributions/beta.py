import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Beta(Distribution):
    r"""Beta distribution on (0, 1) with shape parameters ``a`` and ``b``.

    .. math::
        p(y \mid a, b) = \frac{\Gamma(a + b)}{\Gamma(a) \Gamma(b)} y^{a - 1} (1 - y)^{b - 1}, \qquad 0 < y < 1

    Predicting both shapes gives an NLL with log-gamma terms that no
    familiar loss has: symlik keeps it (the loss of beta regression and of
    a beta-distributed output head).

    >>> import symlik
    >>> symlik.derive("beta").loss.name is None
    True
    """

    name = "beta"
    title = "Beta"
    params = (
        Param("a", C.positive, doc="first shape (scipy a)"),
        Param("b", C.positive, doc="second shape (scipy b)"),
    )
    # closed at 0 where a = 1 and at 1 where b = 1: the density is finite there (scipy: beta.logpdf(0, 1, .5) = -log 2)
    support = C.Support("continuous", 0, 1, open_lower=True, open_upper=True, lower_closed_if=(("a", 1.0),),
                        upper_closed_if=(("b", 1.0),))
    predict = ("a", "b")
    references = (
        "N. L. Johnson, S. Kotz, N. Balakrishnan, Continuous Univariate Distributions, vol. 2 (1995), ch. 25.",
        "S. Ferrari, F. Cribari-Neto, Beta regression for modelling rates and proportions, J. Appl. Stat. 31 (2004) 799-815.",
    )

    def density(self, y, a, b):
        return sp.gamma(a + b) / (sp.gamma(a) * sp.gamma(b)) * y ** (a - 1) * (1 - y) ** (b - 1)

    def scipy_logpdf(self, y, a, b):
        from scipy import stats

        return stats.beta.logpdf(y, a, b)
