import numpy as np
import sympy as sp

from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param


class VonMisesFisher(Distribution):
    r"""Von Mises-Fisher distribution of a unit vector on the sphere S^(D-1), with mean direction ``mu`` and concentration ``kappa``.

    The event is on the last axis: ``mu`` and ``y`` have shape ``[..., D]`` and
    are unit vectors (Euclidean norm 1); ``kappa`` has shape ``[...]``. The
    dimension D is read from the last axis, so the normaliser's Bessel order
    D/2 - 1 is symbolic.

    .. math::
        p(y \mid \mu, \kappa) = \frac{\kappa^{D/2 - 1}}{(2\pi)^{D/2} I_{D/2-1}(\kappa)}
            \exp\left(\kappa \sum_{k=1}^{D} \mu_k y_k\right)

    I_nu is the modified Bessel function of the first kind of order nu. With
    ``kappa`` fixed, predicting ``mu`` gives the cosine-similarity loss
    1 - mu . y (the cosine-similarity head of an embedding model) with scale
    kappa. D = 2 is the von Mises distribution of the angle between mu and y.
    The kernel computes log I_nu(kappa) as log(ive(nu, kappa)) + kappa (and from
    its ascending series near kappa = 0, where the sphere's uniform
    distribution is the limit), finite for kappa from 1e-8 to 1e4 and beyond.

    >>> import symlik
    >>> d = symlik.derive("von_mises_fisher")
    >>> d.loss.name, d.scale
    ('cosine_similarity', kappa)
    """

    name = "von_mises_fisher"
    title = "von Mises-Fisher"
    proper_noun = True
    params = (
        Param("mu", C.unit_sphere, event=True, doc="mean direction, a unit vector over the last axis (scipy mu)"),
        Param("kappa", C.positive, doc="concentration (scipy kappa)"),
    )
    support = C.Support("unit_sphere")
    predict = ("mu",)
    variants = ({"predict": ("mu", "kappa")},)
    references = (
        "K. V. Mardia, P. E. Jupp, Directional Statistics (2000), sec. 9.3.2.",
        (
            "S. Kumar, Y. Tsvetkov, Von Mises-Fisher Loss for Training Sequence to Sequence Models "
            "with Continuous Outputs, ICLR 2019."
        ),
    )

    def density(self, y, mu, kappa):
        D, k = self.K, self.index
        nu = D / 2 - 1
        normaliser = kappa**nu / ((2 * sp.pi) ** (D / 2) * sp.besseli(nu, kappa))
        return normaliser * sp.Product(sp.exp(kappa * mu * y), (k, 1, D))

    def scipy_logpdf(self, y, mu, kappa):
        from scipy import stats

        # scipy's vonmises_fisher takes one mu and one kappa at a time.
        y, mu = np.broadcast_arrays(np.asarray(y, float), np.asarray(mu, float))
        kappa = np.broadcast_to(np.asarray(kappa, float), y.shape[:-1])
        flat_y, flat_mu, flat_kappa = y.reshape(-1, y.shape[-1]), mu.reshape(-1, mu.shape[-1]), kappa.reshape(-1)
        out = [stats.vonmises_fisher(m, kk).logpdf(row) for row, m, kk in zip(flat_y, flat_mu, flat_kappa)]
        return np.reshape(out, y.shape[:-1])
