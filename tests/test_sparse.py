"""scipy.sparse inputs: where the family takes them, S and p equal those of the
dense array (oracle: the same model fitted and measured on the dense array, and
the sparse-fitted model's own predictions); elsewhere one TypeError naming the
conversion."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.ensemble import (
    BaggingRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

import effcomplexity as ec

# Iterative ridge solvers on sparse inputs, converged so the closed form is the fit.
_RIDGE = {"alpha": 1.0, "tol": 1e-12}


def _sparse_data(seed=0, n=60, p=8, m=9):
    """Gaussian inputs with about 60% of the entries exactly zero."""
    rng = np.random.default_rng(seed)
    X, X_test = rng.normal(size=(n, p)), rng.normal(size=(m, p))
    X[rng.uniform(size=X.shape) < 0.6] = 0.0
    X_test[rng.uniform(size=X_test.shape) < 0.6] = 0.0
    y = X[:, 0] + np.sin(X[:, 1]) + 0.3 * rng.normal(size=n)
    return X, y, X_test


ESTIMATORS = [
    LinearRegression(),
    LinearRegression(fit_intercept=False),
    Ridge(**_RIDGE),
    Ridge(fit_intercept=False, **_RIDGE),
    KernelRidge(alpha=0.5, kernel="rbf"),
    KNeighborsRegressor(n_neighbors=4),
    DecisionTreeRegressor(max_depth=4, random_state=0),
    RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0),
    GradientBoostingRegressor(n_estimators=5, random_state=0),
    BaggingRegressor(KNeighborsRegressor(n_neighbors=3), n_estimators=3, random_state=0),
    VotingRegressor([("ridge", Ridge(**_RIDGE)), ("knn", KNeighborsRegressor(n_neighbors=3))]),
    GridSearchCV(KNeighborsRegressor(), {"n_neighbors": [3, 6]}, cv=3),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("to_sparse", [sp.csr_array, sp.csc_matrix], ids=["csr", "csc"])
def test_sparse_inputs_give_the_dense_smoother(estimator, to_sparse):
    """Oracles: S(X) @ y == predict of the model fitted on sparse inputs; S, p_train
    and p_test equal those of the model fitted and measured on dense arrays."""
    X, y, X_test = _sparse_data()
    Xs, Xs_test = to_sparse(X), to_sparse(X_test)
    fitted_sparse = clone(estimator).fit(Xs, y)
    fitted_dense = clone(estimator).fit(X, y)
    S = ec.smoother_matrix(fitted_sparse, Xs, Xs_test, y_train=y)
    np.testing.assert_allclose(S @ y, fitted_sparse.predict(Xs_test), rtol=0, atol=1e-8)
    np.testing.assert_allclose(S, ec.smoother_matrix(fitted_dense, X, X_test), rtol=0, atol=1e-9)
    for X_eval, Xs_eval in ((None, None), (X_test, Xs_test)):
        assert ec.effective_parameters(fitted_sparse, Xs, Xs_eval) == pytest.approx(
            ec.effective_parameters(fitted_dense, X, X_eval), rel=1e-9
        )


def test_sparse_classifier_gives_predict_proba():
    """Oracle: predict_proba of a k-NN classifier fitted on CSR inputs."""
    X, y, X_test = _sparse_data(seed=1)
    labels = (y > np.median(y)).astype(int)
    knn = KNeighborsClassifier(n_neighbors=5).fit(sp.csr_array(X), labels)
    S = ec.smoother_matrix(knn, sp.csr_array(X), sp.csr_array(X_test), y_train=labels)
    np.testing.assert_allclose(S @ np.eye(2)[labels], knn.predict_proba(sp.csr_array(X_test)))


def test_sparse_training_inputs_are_still_checked():
    """A k-NN fit stores its sparse inputs: other rows raise TrainingMismatchError."""
    X, y, _ = _sparse_data(seed=2)
    knn = KNeighborsRegressor(n_neighbors=3).fit(sp.csr_array(X), y)
    with pytest.raises(ec.TrainingMismatchError, match="differs from the inputs"):
        ec.smoother_matrix(knn, sp.csr_array(X[::-1]))


def test_families_without_sparse_inputs_name_the_conversion():
    """Histogram boosting (and statsmodels designs) do not take sparse inputs:
    TypeError naming .toarray()."""
    X, y, X_test = _sparse_data(seed=3)
    hgb = HistGradientBoostingRegressor(max_iter=3).fit(X, y)
    with pytest.raises(TypeError, match=r"X is a scipy.sparse matrix \(csr\).*X.toarray\(\)"):
        ec.smoother_matrix(hgb, X, sp.csr_array(X_test))
    with pytest.raises(TypeError, match=r"X_train is a scipy.sparse matrix .*X_train.toarray"):
        ec.effective_parameters(hgb, sp.csr_array(X))


def test_statsmodels_and_pipelines_name_the_conversion():
    """statsmodels designs and pipelines: the same TypeError naming .toarray()."""
    import statsmodels.api as sm
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    X, y, X_test = _sparse_data(seed=4)
    design = sm.add_constant(X)
    results = sm.OLS(y, design).fit()
    with pytest.raises(
        TypeError, match=r"X is a scipy.sparse matrix .*RegressionResults.*X.toarray\(\)"
    ):
        ec.smoother_matrix(results, design, sp.csr_array(sm.add_constant(X_test)))
    pipe = make_pipeline(MaxAbsScaler(), Ridge()).fit(sp.csr_array(X), y)
    with pytest.raises(TypeError, match=r"X_train is a scipy.sparse matrix .*Pipeline"):
        ec.effective_parameters(pipe, sp.csr_array(X))
