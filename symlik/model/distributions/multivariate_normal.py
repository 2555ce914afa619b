import numpy as np
import sympy as sp

from symlik.core.errors import SymlikError
from symlik.model import constraints as C
from symlik.model.distributions.base import Distribution, Param

DIMENSIONS = ("3", "2", "4")  # the first is the default


def tril_names(D: int, diagonal: str = "positive") -> tuple[str, ...]:
    """The scale_tril entries of a D-dimensional normal, row by row: L_11, L_21, L_22, L_31, ...
    (the diagonal ones as log_L_11, ... where ``diagonal`` is "log")."""
    prefix = "log_" if diagonal == "log" else ""
    return tuple(f"{prefix if i == j else ''}L_{i}{j}" for i in range(1, D + 1) for j in range(1, i + 1))


def position(name: str) -> tuple[int, int]:
    """(i, j), 1-based, of the entry ``name`` (L_21 -> (2, 1), log_L_11 -> (1, 1))."""
    i, j = name[-2:]
    return int(i), int(j)


def _tril_params(D: int, diagonal: str) -> tuple[Param, ...]:
    out = []
    for name in tril_names(D, diagonal):
        i, j = position(name)
        where = f"scale_tril[..., {i - 1}, {j - 1}]"
        if i != j:
            out.append(Param(name, C.real, doc=f"{where} (below the diagonal)"))
        elif diagonal == "log":
            out.append(Param(name, C.real, doc=f"log {where} (the diagonal's log: unconstrained)"))
        else:
            out.append(Param(name, C.positive, doc=f"{where} (the diagonal, > 0)"))
    return tuple(out)


def whitened(r, L, D: int) -> list:
    """z = L^-1 r by forward substitution, z_i = (r_i - sum_{j<i} L_ij z_j) / L_ii: one division
    per row by a diagonal entry, never an explicit inverse (nor the covariance L L^T, whose
    condition number is the square of L's)."""
    z = []
    for i in range(1, D + 1):
        z.append((r[i] - sp.Add(*(L[i, j] * z[j - 1] for j in range(1, i)))) / L[i, i])
    return z


class MultivariateNormal(Distribution):
    r"""Multivariate normal over the last axis, with its covariance given by a Cholesky factor L (scale_tril).

    D = 3 (default), 2 or 4 dimensions, mean ``mu`` and covariance Sigma = L L^T, L
    lower-triangular with a positive diagonal, as
    torch.distributions.MultivariateNormal(loc, scale_tril=L).

    ``y`` and ``mu`` have shape ``[..., D]``; the factor enters as its D(D+1)/2 lower-triangular
    entries, each a kernel input of shape ``[...]``: ``L_ij`` is ``scale_tril[..., i-1, j-1]``
    (``L_11, L_21, L_22`` for D = 2). ``MultivariateNormal.tril_inputs(scale_tril)`` splits a
    ``[..., D, D]`` array into them. The option ``dim`` fixes D (default 3): the quadratic form
    is written out by forward substitution, one row of L at a time.

    .. math::
        -\log p(y \mid \mu, L) = \frac{1}{2} \sum_{i=1}^{D} z_i^2 + \sum_{i=1}^{D} \log L_{ii}
            + \frac{D}{2} \log(2\pi), \qquad
        z_i = \frac{y_i - \mu_i - \sum_{j<i} L_{ij} z_j}{L_{ii}}

    z = L^{-1}(y - mu) comes from forward substitution and log det Sigma = 2 sum log L_ii from
    the diagonal, so the kernel never forms Sigma, its inverse or its determinant: it stays
    finite and accurate for diagonal entries from 1e-8 to 1e8, where Sigma's condition number
    (1e32) is beyond float64. A network that predicts the factor can output it unconstrained
    with ``options={"diagonal": "log"}``: the diagonal inputs are then ``log_L_11, log_L_22, ...``
    (log L_ii, any real), log det L is their sum exactly, and 1/L_ii is e^(-log L_ii). (The generic
    per-parameter ``link={"L_11": "log", ...}`` gives the same NLL, but substitutes into the
    expanded quadratic form, which cancels where y and mu are large and close: use the option.)

    >>> import symlik
    >>> d = symlik.derive("multivariate_normal")
    >>> d.inputs
    ('mu', 'y', 'L_11', 'L_21', 'L_22', 'L_31', 'L_32', 'L_33')
    >>> d.loss.name is None
    True
    """

    name = "multivariate_normal"
    title = "Multivariate normal"
    params = (Param("mu", C.real, event=True, doc="mean vector over the last axis (torch loc)"), *_tril_params(3, "positive"))
    support = C.Support("reals_vector")
    predict = ("mu",)
    options = {"dim": DIMENSIONS, "diagonal": ("positive", "log")}
    variants = (
        {"predict": ("mu", *tril_names(3))},
    )
    references = (
        "C. M. Bishop, Pattern Recognition and Machine Learning (2006), sec. 2.3.",
        "G. H. Golub, C. F. Van Loan, Matrix Computations, 4th ed. (2013), sec. 4.2 (Cholesky) and 3.1 (forward substitution).",
    )

    @property
    def dim(self) -> int:
        """D, the event size (fixed by the option ``dim``)."""
        return int(self.chosen.get("dim", DIMENSIONS[0]))

    @property
    def fixed_event_size(self) -> int:
        """The last axis of ``y`` and ``mu`` has exactly this many entries."""
        return self.dim

    @property
    def diagonal(self) -> str:
        return self.chosen.get("diagonal", "positive")

    def latex_name(self, name: str) -> str:
        if name.startswith("L_") or name.startswith("log_L_"):  # L_21 -> L_{21}; log_L_11 -> \log L_{11}
            i, j = position(name)
            # braced, so that an observation's index can follow: {L_{21}}_{i}
            entry = sp.Symbol(f"L_{{{i}{j}}}")
            return "{" + sp.latex(sp.log(entry) if name.startswith("log_") else entry) + "}"
        return super().latex_name(name)

    def effective_params(self):
        return (self.params[0], *_tril_params(self.dim, self.diagonal))

    def _parts(self, entries: dict):
        """(z = L^-1 (y - mu) entry by entry, log L_ii for each i)."""
        D = self.dim
        y, mu = self.base("y"), self.base("mu")
        r = {i: y[i] - mu[i] for i in range(1, D + 1)}
        L = {position(name): value for name, value in entries.items()}
        if self.diagonal == "log":
            # L_ii = e^(log L_ii); log L_ii is the input itself, exact (no log of an exp)
            logs = [L[i, i] for i in range(1, D + 1)]
            L.update({(i, i): sp.exp(logs[i - 1]) for i in range(1, D + 1)})
        else:
            # log det L = sum log L_ii: a sum of logs of the diagonal, never the log of their
            # product (1e-8^4 underflows) nor of det(Sigma)
            logs = [sp.log(L[i, i]) for i in range(1, D + 1)]
        return whitened(r, L, D), logs

    def log_density(self, y, mu, **entries):
        z, logs = self._parts(entries)
        return -sp.Add(*(zi**2 for zi in z)) / 2 - sp.Add(*logs) - sp.Rational(self.dim, 2) * sp.log(2 * sp.pi)

    def density(self, y, mu, **entries):
        z, logs = self._parts(entries)
        # 1 / prod L_ii: the diagonal itself, or e^(-log L_ii) where the inputs are its logs
        normaliser = sp.Mul(*(sp.exp(-v) if not isinstance(v, sp.log) else 1 / v.args[0] for v in logs))
        return sp.exp(-sp.Add(*(zi**2 for zi in z)) / 2) * normaliser / (2 * sp.pi) ** sp.Rational(self.dim, 2)

    # ---- arrays ------------------------------------------------------------
    @classmethod
    def tril_inputs(cls, scale_tril) -> dict:
        """``{"L_11": scale_tril[..., 0, 0], "L_21": ..., ...}`` from a ``[..., D, D]`` array
        (torch's scale_tril): the keyword inputs of a kernel. Entries above the diagonal are ignored."""
        a = scale_tril
        D = a.shape[-1] if a.ndim else 0
        if a.ndim < 2 or a.shape[-2] != D or str(D) not in DIMENSIONS:
            raise SymlikError(f"scale_tril must have shape [..., D, D] with D in {', '.join(DIMENSIONS)}; got {tuple(a.shape)}")
        return {name: a[..., i - 1, j - 1] for name in tril_names(D) for i, j in [position(name)]}

    def scipy_logpdf(self, y, mu, **entries):
        from scipy import linalg

        D = self.dim
        y, mu = np.broadcast_arrays(np.asarray(y, float), np.asarray(mu, float))
        obs = y.shape[:-1]
        L = np.zeros((*obs, D, D))
        for name, value in entries.items():
            i, j = position(name)
            value = np.broadcast_to(np.asarray(value, float), obs)
            L[..., i - 1, j - 1] = np.exp(value) if name.startswith("log_") else value
        flat_r, flat_L = (y - mu).reshape(-1, D), L.reshape(-1, D, D)
        # scipy's triangular solve per row (scipy.stats.multivariate_normal would form L L^T, whose
        # condition number is the square of L's)
        quad = np.array([np.sum(linalg.solve_triangular(Li, ri, lower=True) ** 2) for Li, ri in zip(flat_L, flat_r)])
        logdet = sum(np.asarray(v, float) if n.startswith("log_") else np.log(v) for n, v in entries.items() if position(n)[0] == position(n)[1])
        logdet = np.broadcast_to(logdet, obs).reshape(-1)
        return (-0.5 * quad - logdet - 0.5 * D * np.log(2 * np.pi)).reshape(obs)
