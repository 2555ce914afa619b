"""The library-neutral part of a boosting objective: grad_hess on a margin, the initial margin, the metric.

A boosting library keeps one raw score per observation and output (its *margin*,
``[n]`` or ``[n, P]``): the link's pre-activations, one column per predicted
parameter in ``predict`` order. Each round it asks for the gradient and the
Hessian of the loss in the margin; here they are the NLL's, compiled by
``symlik.compile(target="grad_hess")``, so every catalog likelihood (and every
custom density) is an objective.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symlik.compiler import compile as compile_kernel
from symlik.core.errors import SymlikError
from symlik.core.notation import N_OBS


class BoostingObjective:
    """The NLL of ``spec`` as a boosting objective.

    Parameters
    ----------
    spec, predict, link, fixed
        As for ``symlik.compile``: ``link`` may give one link per predicted parameter.
    hessian : {"exact", "fisher", "exact_clipped"}
        The second derivative each round uses. ``"fisher"`` (the expected Hessian) is
        never negative, which non-convex NLLs (Student-t) need.
    backend : {"numpy", "fused"}
        ``"fused"`` (numba) computes gradient and Hessian in one multithreaded pass.
    """

    def __init__(self, spec, predict=None, link=None, hessian="exact", *, fixed=None, backend="numpy", num_class=None,
                 rows=()):
        self.grad_hess_kernel = compile_kernel(spec, target="grad_hess", predict=predict, link=link, hessian=hessian,
                                               fixed=fixed, backend=backend)
        self.nll_kernel = compile_kernel(spec, target="nll", predict=predict, link=link, fixed=fixed, reduction="none")
        self.derivation = self.nll_kernel.derivation
        self.inputs = self.derivation.predicted_inputs  # one margin column each, in this order
        # A softmax head (categorical with link="softmax") keeps one margin column per class and
        # takes class indices as labels, as XGBoost's multi:softprob does.
        self.classes = self.derivation.spec.is_event
        if self.classes and (num_class is None or int(num_class) < 2):
            raise SymlikError(f"a softmax head needs num_class= (2 or more classes); got {num_class!r}")
        if self.classes and len(self.inputs) != 1:
            raise SymlikError("a softmax head takes its logits as the only predicted input")
        self.n_outputs = int(num_class) if self.classes else len(self.inputs)
        self.fixed = dict(fixed or {})
        # Parameters given per observation with the labels (a censoring bound c, read by the
        # XGBoost adapter from the DMatrix's label_lower_bound): passed to every kernel call.
        self.rows = tuple(rows)
        unknown = [n for n in self.rows if n not in self.nll_kernel.inputs or n in (*self.inputs, "y")]
        if unknown:
            raise SymlikError(f"per-observation inputs must be parameters of {self.derivation.spec.label} that are "
                              f"neither predicted nor the target; got {', '.join(unknown)}")
        extra = [n for n in self.nll_kernel.inputs if n not in (*self.inputs, "y", *self.rows)]
        if extra:
            raise SymlikError(f"give every parameter that is neither predicted nor the target in fixed=; missing {', '.join(extra)}")

    # -- the margin ----------------------------------------------------------------
    def columns(self, margin) -> list:
        """The margin as one array per predicted input (``[n]`` or ``[n, P]`` -> P arrays of ``[n]``;
        a softmax head's ``[n, K]`` logits stay one array)."""
        m = np.asarray(margin, dtype=np.float64)
        if self.classes:
            if m.ndim == 1 and m.size % self.n_outputs == 0:
                m = m.reshape(-1, self.n_outputs)
            if m.ndim != 2 or m.shape[1] != self.n_outputs:
                raise SymlikError(f"margin must be [n, {self.n_outputs}] (one column per class); got shape {m.shape}")
            return [m]
        if self.n_outputs == 1:
            if m.ndim == 2 and m.shape[1] == 1:
                m = m[:, 0]
            if m.ndim != 1:
                raise SymlikError(f"margin must be [n] (one output); got shape {m.shape}")
            return [m]
        if m.ndim == 1 and m.size % self.n_outputs == 0:  # a flat margin, row by row
            m = m.reshape(-1, self.n_outputs)
        if m.ndim != 2 or m.shape[1] != self.n_outputs:
            raise SymlikError(f"margin must be [n, {self.n_outputs}] ({', '.join(self.inputs)}); got shape {m.shape}")
        return [m[:, j] for j in range(self.n_outputs)]

    def labels(self, y) -> np.ndarray:
        """Labels as the kernels take them: class indices (integers) for a softmax head."""
        if not self.classes:
            return np.asarray(y, dtype=np.float64)
        y = np.asarray(y)
        labels = y.astype(np.int64)
        if np.any(labels != y):
            raise SymlikError("labels of a softmax head must be class indices 0, 1, ..., num_class - 1")
        return labels

    def _row_values(self, rows) -> dict:
        rows = dict(rows or {})
        missing = [n for n in self.rows if n not in rows]
        if missing:
            raise SymlikError(f"per-observation input(s) {', '.join(missing)} not given")
        return {n: np.asarray(rows[n], dtype=np.float64) for n in self.rows}

    def grad_hess(self, margin, y, weight=None, rows=None):
        """(grad, hess) of the (weighted) NLL in the margin, each shaped like the margin; ``rows``
        gives the per-observation inputs ({name: [n]})."""
        grad, hess = self.grad_hess_kernel(*self.columns(margin), self.labels(y), **self._row_values(rows),
                                           weight=None if weight is None or np.size(weight) == 0 else weight)
        return grad, hess

    def mean_nll(self, margin, y, weight=None, rows=None) -> float:
        """The (weighted) mean NLL: the eval metric."""
        values = self.nll_kernel(*self.columns(margin), self.labels(y), **self._row_values(rows))
        if weight is None or np.size(weight) == 0:
            return float(np.mean(values))
        w = np.asarray(weight, dtype=np.float64)
        return float(np.sum(w * values) / np.sum(w))

    # -- the initial margin --------------------------------------------------------------
    def init_margin(self, y, weight=None, rows=None, *, newton_steps: int = 50) -> np.ndarray:
        """The best constant margin (``[P]``): ``Derivation.optimal_constant()`` evaluated on
        the data where SymPy solved it, then refined (or found) by Newton steps on the mean
        NLL with its own gradient and Hessian."""
        y = np.asarray(y, dtype=np.float64)
        w = np.ones_like(y) if weight is None or np.size(weight) == 0 else np.asarray(weight, dtype=np.float64)
        # a softmax head starts from equal logits; Newton's steps reach the log class frequencies
        start = None if self.classes or self.rows else self._solved_constant(y, w)
        c = np.zeros(self.n_outputs) if start is None else start
        for _ in range(newton_steps):
            grad, hess = self.grad_hess(np.tile(c, (y.size, 1)) if self.n_outputs > 1 else np.full(y.size, c[0]), y, w, rows)
            g = np.atleast_1d(np.sum(grad, axis=0))
            h = np.maximum(np.atleast_1d(np.sum(hess, axis=0)), 1e-12 * np.sum(w))
            step = np.clip(g / h, -1.0, 1.0)  # damped: far from the optimum the Hessian can mislead
            c = c - step
            if np.all(np.abs(step) < 1e-12 * (1 + np.abs(c))):
                break
        return c

    def _solved_constant(self, y, w):
        oc = self.derivation.optimal_constant()
        if oc.inputs is None:
            return None
        values = []
        for name in self.inputs:
            expr = oc.inputs.get(name)
            if expr is None:
                return None
            value = _evaluate_over_data(expr, y, w, self.fixed)
            if value is None or not np.isfinite(value):
                return None
            values.append(value)
        return np.array(values)

    def init_margins(self, y, weight=None, rows=None) -> np.ndarray:
        """The initial margin repeated for every observation: ``[n]`` or ``[n, P]``, for
        XGBoost's ``base_margin`` and LightGBM's ``init_score``."""
        c = self.init_margin(y, weight, rows)
        n = np.size(y)
        return np.full(n, c[0]) if self.n_outputs == 1 else np.tile(c, (n, 1))


def _evaluate_over_data(expr, y, w, fixed) -> float | None:
    """A statement over the data (sums over y_i, the count n) evaluated on arrays, weighted:
    sum_i g(y_i) -> sum_i w_i g(y_i) and n -> sum_i w_i."""
    t = sp.Dummy("t")
    replacements = {}
    for s in expr.atoms(sp.Sum):
        (i, _, _), body = s.limits[0], s.function
        summand = body.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name == "y", lambda e: t)
        if summand.free_symbols - {t}:
            return None
        f = sp.lambdify(t, summand, "numpy")
        replacements[s] = sp.Float(float(np.sum(w * np.broadcast_to(f(y), y.shape))), 30)
    value = expr.xreplace(replacements)
    value = value.subs({N_OBS: sp.Float(float(np.sum(w)), 30), **{sp.Symbol(k): v for k, v in fixed.items()}})
    value = value.subs({s: fixed[s.name] for s in value.free_symbols if s.name in fixed})
    if value.free_symbols:
        return None
    try:
        return float(value)
    except TypeError:  # complex (a log of a negative): no usable constant
        return None
