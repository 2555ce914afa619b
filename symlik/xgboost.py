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


class XGBoostObjective:
    """``(predt, dtrain) -> (grad, hess)`` for ``xgboost.train(obj=...)``; see ``objective``."""

    def __init__(self, core: BoostingObjective) -> None:
        self.core = core

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
        grad, hess = self.core.grad_hess(predt, dtrain.get_label(), dtrain.get_weight())
        shape = np.shape(predt)
        return np.reshape(grad, shape), np.reshape(hess, shape)

    def base_margin(self, y, weight=None) -> np.ndarray:
        """The best constant margin for every observation (``[n]`` or ``[n, P]``), for
        ``DMatrix(base_margin=...)``; ``y`` may be a DMatrix (its label and weight)."""
        if hasattr(y, "get_label"):
            y, weight = y.get_label(), y.get_weight()
        return self.core.init_margins(y, weight)

    def metric(self, predt, dmatrix):
        """``custom_metric``: the (weighted) mean NLL, named ``nll``."""
        return "nll", self.core.mean_nll(predt, dmatrix.get_label(), dmatrix.get_weight())

    def __getattr__(self, name):
        if name == "core":
            raise AttributeError(name)
        return getattr(self.core, name)


def objective(spec, predict=None, link=None, hessian="exact", *, fixed=None, backend="numpy",
              num_class=None) -> XGBoostObjective:
    """The NLL of ``spec`` as an XGBoost objective.

    ``spec``, ``predict``, ``link`` (a name, or one per predicted parameter) and ``fixed``
    are ``symlik.compile``'s; ``hessian`` is ``"exact"``, ``"fisher"`` (the expected
    Hessian, never negative) or ``"exact_clipped"``; ``backend`` ``"numpy"`` or ``"fused"``.
    A softmax head (``"categorical", link="softmax"``) needs ``num_class``; its labels are class
    indices and ``hessian="softprob"`` is ``multi:softprob``'s surrogate 2 p (1 - p).
    """
    return XGBoostObjective(BoostingObjective(spec, predict, link, hessian, fixed=fixed, backend=backend,
                                              num_class=num_class))


__all__ = ["objective", "XGBoostObjective"]
