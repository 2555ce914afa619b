"""Any likelihood as an XGBoost objective: ``xgboost.train(params, dtrain, obj=objective(...))``.

>>> obj = symlik.xgboost.objective("poisson", link="log")          # doctest: +SKIP
>>> dtrain = xgboost.DMatrix(X, y, base_margin=obj.base_margin(y))  # doctest: +SKIP
>>> booster = xgboost.train({**obj.params, "max_depth": 3}, dtrain, 20, obj=obj,
...                         custom_metric=obj.metric)               # doctest: +SKIP

The margin is the link's pre-activation, one column per predicted parameter
(``[n, P]``, with ``num_target = P``, which ``obj.params`` sets). Labels and
weights come from the DMatrix. xgboost itself is imported by the caller only:
this module never imports it (``pip install symlik[boost]``).
"""

from __future__ import annotations

import numpy as np

from symlik.boosting.objective import BoostingObjective
from symlik.core.errors import SymlikError


class XGBoostObjective:
    """``(predt, dtrain) -> (grad, hess)`` for ``xgboost.train(obj=...)``; see ``objective``."""

    def __init__(self, core: BoostingObjective, censoring: dict | None = None) -> None:
        self.core = core
        self.censoring = dict(censoring or {})  # parameter -> DMatrix float field, e.g. {"c": "label_lower_bound"}

    def _rows(self, dmatrix) -> dict:
        """The per-observation parameters, read from the DMatrix's fields (censoring bounds)."""
        rows = {}
        for name, field in self.censoring.items():
            values = dmatrix.get_float_info(field)
            if values.size != dmatrix.num_row():
                raise SymlikError(f"censoring input {name} reads the DMatrix's {field}, which is not set "
                                  f"(set_float_info({field!r}, ...))")
            rows[name] = values
        return rows

    def _labels(self, dmatrix) -> np.ndarray:
        """The targets: the DMatrix's label, or for an interval-censored objective (one that reads
        label_upper_bound) its label_lower_bound, which is all survival:aft asks a DMatrix for."""
        y = dmatrix.get_label()
        if y.size == dmatrix.num_row():
            return y
        if "label_upper_bound" in self.censoring.values():
            lower = dmatrix.get_float_info("label_lower_bound")
            if lower.size == dmatrix.num_row():
                return lower
            raise SymlikError("the DMatrix has neither a label nor a label_lower_bound: set one "
                              "(set_float_info('label_lower_bound', ...), as for XGBoost's survival:aft)")
        raise SymlikError("the DMatrix has no label: pass label= to DMatrix (or call set_label)")

    @property
    def params(self) -> dict:
        """The booster parameters this objective needs: one output per predicted parameter,
        and XGBoost's default metric off (it would judge the margin as a squared error)."""
        out = {"disable_default_eval_metric": 1}
        if self.core.classes:
            out["num_class"] = self.core.n_outputs
        elif self.core.n_outputs > 1:
            out["num_target"] = self.core.n_outputs
        return out

    def __call__(self, predt, dtrain):
        grad, hess = self.core.grad_hess(predt, self._labels(dtrain), dtrain.get_weight(), self._rows(dtrain))
        shape = np.shape(predt)
        return np.reshape(grad, shape), np.reshape(hess, shape)

    def base_margin(self, y, weight=None) -> np.ndarray:
        """The best constant margin for every observation (``[n]`` or ``[n, P]``), for
        ``DMatrix(base_margin=...)``; ``y`` may be a DMatrix (its label and weight)."""
        rows = None
        if hasattr(y, "get_label"):
            rows = self._rows(y)
            y, weight = self._labels(y), y.get_weight()
        elif self.censoring:
            raise SymlikError("with censoring inputs, pass the DMatrix to base_margin (its bounds are read from it)")
        return self.core.init_margins(y, weight, rows)

    def metric(self, predt, dmatrix):
        """``custom_metric``: the (weighted) mean NLL, named ``nll``."""
        return "nll", self.core.mean_nll(predt, self._labels(dmatrix), dmatrix.get_weight(), self._rows(dmatrix))

    def __getattr__(self, name):
        if name == "core":
            raise AttributeError(name)
        return getattr(self.core, name)


def objective(spec, predict=None, link=None, hessian="exact", *, fixed=None, backend="numpy",
              num_class=None, censoring=None) -> XGBoostObjective:
    """The NLL of ``spec`` as an XGBoost objective.

    ``spec``, ``predict``, ``link`` (a name, or one per predicted parameter) and ``fixed``
    are ``symlik.compile``'s; ``hessian`` is ``"exact"``, ``"fisher"`` (the expected
    Hessian, never negative) or ``"exact_clipped"``; ``backend`` ``"numpy"`` or ``"fused"``.
    A softmax head (``"categorical", link="softmax"``) needs ``num_class``; its labels are class
    indices and ``hessian="softprob"`` is ``multi:softprob``'s surrogate 2 p (1 - p).
    ``censoring`` maps a parameter given per observation to the DMatrix field that holds it,
    as XGBoost keeps censoring bounds: ``{"c": "label_lower_bound"}`` for the Tobit model's
    censoring point (``censored_normal``).
    """
    censoring = dict(censoring or {})
    core = BoostingObjective(spec, predict, link, hessian, fixed=fixed, backend=backend, num_class=num_class,
                             rows=tuple(censoring))
    return XGBoostObjective(core, censoring)


__all__ = ["objective", "XGBoostObjective"]
