"""Family-specific bad input: each case raises a clear error.

The checks every family shares (unfitted estimators, widths, non-finite and
1-D inputs, label rows) run over the whole registry in ``tests/test_common.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import effcomplexity as ec
from effcomplexity._validation import (
    TrainingMismatchError,
    check_feature_names,
    check_sample_weight,
)
from effcomplexity.models import MinNormLeastSquares
from effcomplexity.smoothers import get_smoother
from tests.cases.linear import data


def _fit(estimator):
    X, y, X_test = data(20, 4, seed=1)
    return estimator.fit(X, y), X, y, X_test


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (KNeighborsRegressor(n_neighbors=3), "fitted on 20 training rows"),
        (KernelRidge(alpha=1.0), "fitted on 20 training rows"),
        (MinNormLeastSquares(), "fitted on 20 training rows"),
        (LinearRegression(), "singular values of its centred design differ"),
        (make_pipeline(StandardScaler(), KNeighborsRegressor(3)), "fitted on 20 training rows"),
    ],
    ids=["knn", "kernel-ridge", "min-norm", "ols", "pipeline-knn"],
)
def test_training_rows_differ(estimator, message):
    """Where the model records its training set, other rows raise ValueError."""
    est, X, _, _ = _fit(estimator)
    with pytest.raises(ValueError, match=f"^X_train does not match the training set .*{message}"):
        ec.smoother_matrix(est, X[:15])


@pytest.mark.parametrize(
    "estimator",
    [KernelRidge(alpha=1.0), MinNormLeastSquares(), MinNormLeastSquares(fit_intercept=False)],
    ids=["kernel-ridge", "min-norm", "min-norm-no-intercept"],
)
def test_reordered_training_rows(estimator):
    """Same size, other order: the stored inputs (or the stored SVD) tell."""
    est, X, _, _ = _fit(estimator)
    with pytest.raises(ValueError, match="^X_train does not match the training set"):
        ec.smoother_matrix(est, X[::-1])


def test_linear_regression_other_design_same_shape():
    """LinearRegression records the singular values of its design: another
    design of the same shape raises ValueError."""
    est, X, _, _ = _fit(LinearRegression())
    with pytest.raises(ValueError, match="singular values"):
        ec.smoother_matrix(est, 2.0 * X)


def test_unregistered_estimator_names_supported_types():
    """An unregistered type raises TypeError listing the supported types and
    how to register a new family."""
    est, X, _, _ = _fit(Lasso())
    with pytest.raises(TypeError, match="No smoother is registered for Lasso") as info:
        ec.effective_parameters(est, X)
    for name in ("LinearRegression", "Ridge", "KNeighborsRegressor", "register_smoother"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    "estimator",
    [
        LinearRegression(positive=True),
        Ridge(positive=True),
        Ridge(positive=True, solver="lbfgs"),
    ],
    ids=["ols", "ridge", "ridge-lbfgs"],
)
def test_positive_constraint_is_rejected(estimator):
    """Non-negative least squares or ridge (and hence Ridge's lbfgs solver)
    is not a linear smoother: ValueError."""
    est, X, _, _ = _fit(estimator)
    with pytest.raises(ValueError, match="positive=True.*not a linear smoother"):
        ec.smoother_matrix(est, X)


@pytest.mark.parametrize(
    "estimator", [Ridge(alpha=[1.0, 2.0]), KernelRidge(alpha=[1.0, 2.0])], ids=["ridge", "kr"]
)
def test_per_target_alphas_that_differ(estimator):
    """Different penalties per target mean different smoothers: ValueError."""
    X, y, _ = data(20, 4, n_targets=2)
    est = estimator.fit(X, y)
    with pytest.raises(ValueError, match="different alpha per target"):
        ec.smoother_matrix(est, X)


def test_pipeline_ending_in_passthrough():
    """A pipeline without a final model raises TypeError."""
    X, y, _ = data(20, 4)
    pipe = make_pipeline(StandardScaler(), "passthrough").fit(X, y)
    with pytest.raises(TypeError, match="final step is 'passthrough'"):
        ec.smoother_matrix(pipe, X)


# -- the shared checks of training inputs -------------------------------------------


def test_feature_names_checked_like_scikit_learn():
    X, y, _ = data(20, 3, seed=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    ridge = Ridge().fit(frame, y)
    check_feature_names(frame, ridge, name="X_train")  # same columns: no error
    check_feature_names(X, ridge, name="X_train")  # arrays carry no names to compare
    with pytest.raises(TrainingMismatchError, match=r"unseen \['z'\], missing \['a'\]"):
        check_feature_names(frame.rename(columns={"a": "z"}), ridge, name="X_train")
    with pytest.raises(ValueError, match=r"another order .* X\[list\(model.feature_names_in_\)\]"):
        check_feature_names(frame[["c", "b", "a"]], ridge, name="X")
    # Oracle: scikit-learn refuses the same frame.
    with pytest.raises(ValueError, match="feature names"):
        ridge.predict(frame[["c", "b", "a"]])
    assert np.isfinite(ec.effective_parameters(ridge, frame))


def test_sample_weight_validation():
    assert check_sample_weight(None, 4) is None
    np.testing.assert_array_equal(check_sample_weight(2.0, 3), [2.0, 2.0, 2.0])
    for bad, message in (
        (np.ones(5), "one per training row"),
        (np.ones((4, 1)), "one per training row"),
        ([1.0, np.nan, 1.0, 1.0], "finite and non-negative"),
        ([1.0, -1.0, 1.0, 1.0], "finite and non-negative"),
        (np.zeros(4), "positive sum"),
    ):
        with pytest.raises(ValueError, match=message):
            check_sample_weight(bad, 4)


def test_a_smoother_built_without_weights_refuses_them():
    ridge, X, y, _ = _fit(Ridge(alpha=1.0))
    smoother = get_smoother(ridge, X)
    with pytest.raises(ValueError, match="other sample weights"):
        ec.effective_parameters(smoother, X, sample_weight=np.ones(len(y)))


def test_y_train_of_the_wrong_length_or_shape():
    ridge, X, y, _ = _fit(Ridge(alpha=1.0))
    with pytest.raises(ValueError, match="y_train has 19 rows, but X_train has 20"):
        ec.effective_parameters(ridge, X, y_train=y[:-1])
    with pytest.raises(ValueError, match="y_train contains NaN"):
        ec.effective_parameters(ridge, X, y_train=np.full(len(y), np.nan))
    with pytest.raises(ValueError, match="predicts shape"):
        ec.effective_parameters(ridge, X, y_train=np.column_stack([y, y]))


class _DuckMean:
    """The scikit-learn estimator API (fit, predict, get_params) without its base classes."""

    def get_params(self, deep=True):
        return {}

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_duck_typed_estimators_are_checked_by_their_fitted_attributes():
    """No scikit-learn tags needed: a fitted duck-typed estimator is measured
    (closed form: the mean has S = 1/n, p_train = 1), an unfitted one raises
    NotFittedError."""
    from sklearn.exceptions import NotFittedError

    @ec.register_smoother(_DuckMean)
    def mean_smoother(estimator, X_train, X):
        return np.full((len(X), len(X_train)), 1.0 / len(X_train))

    try:
        X = np.arange(12.0).reshape(6, 2)
        assert ec.effective_parameters(_DuckMean().fit(X, X[:, 0]), X) == pytest.approx(1.0)
        with pytest.raises(NotFittedError, match="_DuckMean instance is not fitted"):
            ec.effective_parameters(_DuckMean(), X)
    finally:
        ec.unregister_smoother(_DuckMean)
