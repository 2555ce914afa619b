"""Any likelihood as a gradient-boosting objective (XGBoost, LightGBM).

``objective.BoostingObjective`` holds what both libraries need: the compiled
``grad_hess`` and NLL kernels of one model, the best constant prediction (the
initial margin) and the mean NLL (the eval metric). ``symlik.xgboost`` and
``symlik.lightgbm`` adapt it to each library's callable signatures.
"""
