"""
Effective parameters of a fitted forest
=======================================

A random forest is a linear smoother: each prediction is a weighted average
of the training labels, the weights given by the leaves the input falls in.
:func:`effcomplexity.effective_parameters` reads those weights off the fitted
trees and reports Curth et al.'s :math:`\\hat p`, on the training inputs
(:math:`\\hat p_{train}`) and on new inputs (:math:`\\hat p_{test}`).
:func:`effcomplexity.staged_effective_parameters` gives both for every number
of trees in one pass, the forest's ensemble axis :math:`P_{ens}`.
"""

# %%
# Fit a forest on a small regression problem
# ------------------------------------------
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

import effcomplexity as ec
from effcomplexity import plotting

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(300, 4))
y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + rng.normal(scale=0.3, size=300)
X_train, X_test, y_train, y_test = X[:200], X[200:], y[:200], y[200:]

forest = RandomForestRegressor(
    n_estimators=30, max_leaf_nodes=20, bootstrap=False, max_features=0.5, random_state=0
).fit(X_train, y_train)

p_train = ec.effective_parameters(forest, X_train, y_train=y_train)
p_test = ec.effective_parameters(forest, X_train, X_test, y_train=y_train)
print(f"p_train = {p_train:.1f}, p_test = {p_test:.1f} (of {len(X_train)} training points)")

# %%
# The smoother reproduces the forest's own predictions, which is what makes
# the measure trustworthy:
S = ec.smoother_matrix(forest, X_train, X_test, y_train=y_train)
print("max |S y - predict|:", np.abs(S @ y_train - forest.predict(X_test)).max())

# %%
# Effective parameters as trees are added
# ---------------------------------------
# One row per tree count, in the results-table format every figure reads:
# ``seed``, ``axis`` (the raw axis that grows), ``n_params`` (leaves in
# total) and the measures.
n_trees = np.arange(1, forest.n_estimators + 1)
staged_train = ec.staged_effective_parameters(forest, X_train, y_train=y_train)
staged_test = ec.staged_effective_parameters(forest, X_train, X_test, y_train=y_train)
members = forest.estimators_
pred_train = np.cumsum([t.predict(X_train) for t in members], axis=0) / n_trees[:, None]
pred_test = np.cumsum([t.predict(X_test) for t in members], axis=0) / n_trees[:, None]
table = pd.DataFrame(
    {
        "seed": 0,
        "axis": "P_ens",
        "P_ens": n_trees,
        "n_params": n_trees * 20,
        "p_train": staged_train,
        "p_test": staged_test,
        "train_mse": ((pred_train - y_train) ** 2).mean(axis=1),
        "test_mse": ((pred_test - y_test) ** 2).mean(axis=1),
    }
)
table.tail()

# %%
# :math:`\hat p_{train}` and :math:`\hat p_{test}` both *fall* as trees are
# averaged: more trees smooth more, although the raw count of leaves grows.
fig = plotting.measures_along_path(table, ["p_train", "p_test"])
