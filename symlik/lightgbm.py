"""Any likelihood as a LightGBM objective: ``params["objective"] = objective(...)``.

>>> obj = symlik.lightgbm.objective("gamma", link="log")                    # doctest: +SKIP
>>> train = lightgbm.Dataset(X, y, init_score=obj.init_score(y))            # doctest: +SKIP
>>> booster = lightgbm.train({**obj.params, "objective": obj}, train, 20,
...                          feval=obj.metric)                             # doctest: +SKIP

The raw score is the link's pre-activation, one column per predicted
parameter (``[n, P]``, with ``num_class = P``, which ``obj.params`` sets).
Labels and weights come from the Dataset. lightgbm itself is imported by the
caller only (``pip install symlik[boost]``).
"""

from __future__ import annotations

import numpy as np

from symlik.boosting.objective import BoostingObjective


class LightGBMObjective:
    """``(preds, train_data) -> (grad, hess)`` for LightGBM's callable ``objective``."""

    def __init__(self, core: BoostingObjective) -> None:
        self.core = core

    @property
    def params(self) -> dict:
        """The parameters this objective needs: one raw score per predicted parameter, and
        LightGBM's own metric off (``feval=obj.metric`` reports the NLL)."""
        out = {"metric": "None"}
        if self.core.n_outputs > 1:
            out["num_class"] = self.core.n_outputs
        return out

    def __call__(self, preds, train_data):
        grad, hess = self.core.grad_hess(preds, train_data.get_label(), train_data.get_weight())
        shape = np.shape(preds)
        return np.reshape(grad, shape), np.reshape(hess, shape)

    def init_score(self, y, weight=None) -> np.ndarray:
        """The best constant raw score for every observation (``[n]`` or ``[n, P]``), for
        ``Dataset(init_score=...)``."""
        return self.core.init_margins(y, weight)

    def metric(self, preds, eval_data):
        """``feval``: the (weighted) mean NLL, lower is better."""
        return "nll", self.core.mean_nll(preds, eval_data.get_label(), eval_data.get_weight()), False

    def __getattr__(self, name):
        if name == "core":
            raise AttributeError(name)
        return getattr(self.core, name)


def objective(spec, predict=None, link=None, hessian="exact", *, fixed=None, backend="numpy",
              num_class=None) -> LightGBMObjective:
    """The NLL of ``spec`` as a LightGBM objective; arguments as ``symlik.xgboost.objective``. For a
    softmax head, ``hessian="multiclass"`` is LightGBM's own surrogate K/(K - 1) p (1 - p)."""
    return LightGBMObjective(BoostingObjective(spec, predict, link, hessian, fixed=fixed, backend=backend,
                                               num_class=num_class))


__all__ = ["objective", "LightGBMObjective"]
