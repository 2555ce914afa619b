import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Laplace(Distribution):
    r"""Laplace (double exponential) distribution with location ``mu`` and scale ``b``.

    .. math::
        p(y \mid \mu, b) = \frac{1}{2b} \exp\!\left(-\frac{|y - \mu|}{b}\right)

    Predicting ``mu`` gives the mean absolute error with scale 1/b; the best
    constant prediction is the median.

    >>> import symlik
    >>> symlik.derive("laplace").loss.name
    'mae'
    """

    name = "laplace"
    title = "Laplace"
    proper_noun = True
    params = (
        Param("mu", C.real, doc="location (scipy loc)"),
        Param("b", C.positive, doc="scale (scipy scale)"),
    )
    support = C.reals
    predict = ("mu",)
    references = ("S. Kotz, T. J. Kozubowski, K. Podgorski, The Laplace Distribution and Generalizations (2001).",)

    def density(self, y, mu, b):
        return sp.exp(-sp.Abs(y - mu) / b) / (2 * b)

    def scipy_logpdf(self, y, mu, b):
        from scipy import stats

        return stats.laplace.logpdf(y, loc=mu, scale=b)
