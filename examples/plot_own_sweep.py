"""
Your own double-descent sweep, and its verdict
==============================================

Nothing in the analysis is tied to the built-in sweeps: any loop that fits
models of growing size and writes one row per fit, in the results-table
format, can be judged. Here: minimum-norm least squares on the first
:math:`p` of 400 Gaussian features, with coefficients that decay along the
features (Hastie et al., 2022). Test error falls while the first features
bring signal, peaks where :math:`p` reaches the :math:`n = 50` training
points, and falls again. :func:`effcomplexity.analysis.illusion_test` asks
whether that second descent survives when the x-axis is the effective number
of parameters on the test inputs, :math:`\\hat p_{test}`, instead of the raw
feature count.
"""

# %%
# The loop
# --------
# One row per seed and size: ``seed``, ``axis`` (the raw axis that grows),
# the raw count ``n_params``, the errors and the measures.
import numpy as np
import pandas as pd

import effcomplexity as ec
from effcomplexity import analysis, plotting
from effcomplexity.models import MinNormLeastSquares

n_train, n_test, n_total = 50, 200, 400
beta = 2.0 / np.arange(1, n_total + 1) ** 0.75
rows = []
for seed in range(3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, n_total))
    y = X @ beta + rng.normal(scale=0.5, size=len(X))
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    for p in (1, 2, 4, 7, 12, 20, 30, 40, 46, 54, 60, 80, 120, 200, 400):
        Xp_train, Xp_test = X_train[:, :p], X_test[:, :p]
        model = MinNormLeastSquares(fit_intercept=False).fit(Xp_train, y_train)
        rows.append(
            {
                "seed": seed,
                "axis": "n_features",
                "n_features": p,
                "n_params": p,
                "n_train": n_train,
                "train_mse": np.mean((model.predict(Xp_train) - y_train) ** 2),
                "test_mse": np.mean((model.predict(Xp_test) - y_test) ** 2),
                "p_train": ec.effective_parameters(model, Xp_train, y_train=y_train),
                "p_test": ec.effective_parameters(model, Xp_train, Xp_test, y_train=y_train),
            }
        )
table = pd.DataFrame(rows)
table.groupby("n_features")[["test_mse", "p_train", "p_test"]].mean().round(2).T

# %%
# :math:`\hat p_{train}` stops at :math:`n` once the model interpolates, while
# :math:`\hat p_{test}` peaks there and falls: past the threshold the
# minimum-norm fit spreads its weight over more features and smooths more.
#
# The verdict
# -----------
# One row per measure: against the raw count the test MSE is a double
# descent; against :math:`\hat p_{test}` the second descent runs back towards
# lower complexity ("folds back").
verdicts = analysis.illusion_test(table, error="test_mse", measures=["n_params", "p_test"])
verdicts[["measure", "verdict", "n_descents", "peak_location"]]

# %%
# One panel per measure, each titled with its verdict.
fig = plotting.verdict_grid(table, ["n_params", "p_test"], error="test_mse", verdicts=verdicts)
