"""
Registering a new smoother
==========================

Every measure of the package works on any model that predicts with weights
on the training labels, once the model's smoother is registered. Here
Nadaraya-Watson regression, a Gaussian-weighted average of the training
labels, becomes a family with :func:`effcomplexity.register_smoother`: only
the smoother matrix :math:`S(X)`, whose rows are the weights
:math:`s(x)`, has to be written.
"""

# %%
# The estimator
# -------------
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

import effcomplexity as ec
from effcomplexity import plotting


class KernelAverage(RegressorMixin, BaseEstimator):
    """Nadaraya-Watson regression with a Gaussian kernel of width ``bandwidth``."""

    def __init__(self, bandwidth=1.0):
        self.bandwidth = bandwidth

    def weights(self, X):
        sq_dist = ((X[:, None, :] - self.X_fit_[None, :, :]) ** 2).sum(axis=-1)
        W = np.exp(-sq_dist / (2 * self.bandwidth**2))
        return W / W.sum(axis=1, keepdims=True)

    def fit(self, X, y):
        self.X_fit_, self.y_fit_ = np.asarray(X, float), np.asarray(y, float)
        self.n_features_in_ = self.X_fit_.shape[1]
        return self

    def predict(self, X):
        return self.weights(np.asarray(X, float)) @ self.y_fit_


# %%
# Its smoother
# ------------
# ``_matrix(X)`` returns :math:`S(X)`; ``X`` is None for the training inputs.
@ec.register_smoother(KernelAverage)
class KernelAverageSmoother(ec.Smoother):
    def _matrix(self, X):
        return self.estimator.weights(self.X_train if X is None else X)


# %%
# The package checks the one invariant that matters, :math:`S(X) y = \hat f(X)`,
# whenever ``y_train`` is given: a smoother that does not reproduce the
# model's own predictions raises instead of returning a wrong number.
rng = np.random.default_rng(0)
X = rng.uniform(-3, 3, size=(300, 1))
y = np.sin(2 * X[:, 0]) + rng.normal(scale=0.3, size=300)
X_train, X_test, y_train, y_test = X[:100], X[100:], y[:100], y[100:]
model = KernelAverage(bandwidth=0.3).fit(X_train, y_train)
print("p_train =", round(ec.effective_parameters(model, X_train, y_train=y_train), 2))
print("p_test  =", round(ec.effective_parameters(model, X_train, X_test, y_train=y_train), 2))

# %%
# Complexity as the bandwidth shrinks
# -----------------------------------
# A narrower kernel averages fewer labels: more effective parameters, a
# smaller training error, and the classic U in test error.
rows = []
for bandwidth in (3.0, 1.5, 0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125):
    model = KernelAverage(bandwidth=bandwidth).fit(X_train, y_train)
    rows.append(
        {
            "seed": 0,
            "inverse_bandwidth": 1 / bandwidth,
            "train_mse": np.mean((model.predict(X_train) - y_train) ** 2),
            "test_mse": np.mean((model.predict(X_test) - y_test) ** 2),
            "p_train": ec.effective_parameters(model, X_train, y_train=y_train),
            "p_test": ec.effective_parameters(model, X_train, X_test, y_train=y_train),
        }
    )
table = pd.DataFrame(rows)
table.round(3)

# %%
# Errors on the left axis, effective parameters on the right.
fig = plotting.training_curves(
    table, x="inverse_bandwidth", errors=["train_mse", "test_mse"], measures=["p_train", "p_test"]
)

# %%
# Registration is global; :func:`effcomplexity.unregister_smoother` undoes it.
ec.unregister_smoother(KernelAverage)
