import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class Poisson(Distribution):
    r"""Poisson distribution over the counts {0, 1, 2, ...} with mean ``rate``.

    .. math:: p(y \mid \lambda) = \frac{\lambda^{y} e^{-\lambda}}{y!}

    Its negative log-likelihood is the Poisson NLL, lambda - y log lambda, plus
    log y! (free of the prediction, computed as gammaln(y + 1) so that it stays
    finite past y = 170). With ``link="log"`` the network outputs z = log lambda
    and the loss is exp(z) - y z, torch's ``poisson_nll_loss(log_input=True)``.

    >>> import symlik
    >>> d = symlik.derive("poisson", link="log")
    >>> d.loss.name, d.inputs
    ('poisson_nll', ('log_rate', 'y'))
    """

    name = "poisson"
    title = "Poisson"
    # rate = 0 is allowed: all mass on y = 0 (scipy: poisson.logpmf(0, 0) = 0, logpmf(1, 0) = -inf)
    params = (Param("rate", C.nonnegative, doc="mean number of events (scipy mu); 0 puts all mass on y = 0"),)
    support = C.Support("discrete", 0, None)
    predict = ("rate",)
    links = ("log",)
    references = (
        "P. McCullagh, J. A. Nelder, Generalized Linear Models, 2nd ed. (1989), sec. 6.2.",
        "PyTorch documentation, torch.nn.PoissonNLLLoss.",
    )

    def density(self, y, rate):
        return rate**y * sp.exp(-rate) / sp.factorial(y)

    def scipy_logpdf(self, y, rate):
        from scipy import stats

        return stats.poisson.logpmf(y, mu=rate)
