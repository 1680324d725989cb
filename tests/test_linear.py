"""Least squares, ridge, kernel ridge and pipeline smoothers against closed forms.

Oracles are named in each test: statsmodels' leverages, numpy's pseudo-inverse,
the ridge trace formulas of Hastie, Tibshirani & Friedman (2009, eq. 3.50) with singular values from
numpy, and hat matrices written out with ``np.linalg.solve``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.compose import ColumnTransformer
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.metrics.pairwise import laplacian_kernel, rbf_kernel
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler, TargetEncoder

import effcomplexity as ec
from effcomplexity.models import MinNormLeastSquares
from effcomplexity.smoothers import get_smoother
from tests.cases.linear import data

KINDS = ("trace", "variance", "residual")


def _centre(X):
    return X - X.mean(axis=0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ols_degrees_of_freedom_equal_p(fit_intercept):
    """Closed form: S is a projection of rank p (+1), so tr S = tr SS^T =
    tr(2S - SS^T) = p_train = p (+1) (Hastie & Tibshirani 1990)."""
    X, y, _ = data(40, 6)
    ols = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    expected = 6 + int(fit_intercept)
    for kind in KINDS:
        assert ec.degrees_of_freedom(ols, X, kind=kind) == pytest.approx(expected, abs=1e-10)
    assert ec.effective_parameters(ols, X) == pytest.approx(expected, abs=1e-10)


def test_ols_hat_diagonal_matches_statsmodels():
    """Oracle: statsmodels OLSInfluence(...).hat_matrix_diag of the same design
    with a constant column."""
    from statsmodels.stats.outliers_influence import OLSInfluence

    X, y, _ = data(40, 4, seed=3)
    ols = LinearRegression().fit(X, y)
    leverage = OLSInfluence(sm.OLS(y, sm.add_constant(X)).fit()).hat_matrix_diag
    np.testing.assert_allclose(np.diag(ec.smoother_matrix(ols, X)), leverage, atol=1e-12)


@pytest.mark.parametrize("estimator", [LinearRegression(), MinNormLeastSquares()])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_min_norm_past_threshold_interpolates(estimator, fit_intercept):
    """Closed form: with p >= n the min-norm fit interpolates, S_train = I and
    p_train = tr S = n."""
    X, y, _ = data(15, 40, seed=1)
    est = estimator.set_params(fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ec.smoother_matrix(est, X), np.eye(15), atol=1e-10)
    assert ec.effective_parameters(est, X) == pytest.approx(15, abs=1e-9)
    assert ec.degrees_of_freedom(est, X) == pytest.approx(15, abs=1e-9)


@pytest.mark.parametrize("estimator", [LinearRegression, MinNormLeastSquares])
def test_min_norm_test_weights_match_pinv(estimator):
    """Oracle: numpy's pseudo-inverse, S_X = X_test pinv(X_train) without an
    intercept, and n/m ||S_X||_F^2 for p_test."""
    X, y, X_test = data(15, 40, m=9, seed=2)
    est = estimator(fit_intercept=False).fit(X, y)
    S_brute = X_test @ np.linalg.pinv(X)
    np.testing.assert_allclose(ec.smoother_matrix(est, X, X_test), S_brute, atol=1e-10)
    p_test = 15 / 9 * np.sum(S_brute**2)
    assert ec.effective_parameters(est, X, X_test) == pytest.approx(p_test, rel=1e-9)


def _pinv_smoother(X, X_eval, fit_intercept):
    """Oracle: the dense min-norm smoother from numpy's pseudo-inverse,
    J + (X_eval - x_bar) pinv(X_c) (I - J) with an intercept, X_eval pinv(X) without."""
    if not fit_intercept:
        return X_eval @ np.linalg.pinv(X)
    n = X.shape[0]
    offset = X.mean(axis=0)
    centring = np.eye(n) - 1.0 / n
    return 1.0 / n + (X_eval - offset) @ np.linalg.pinv(X - offset) @ centring


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("n", "p"), [(50, 12), (20, 70)])
def test_min_norm_gram_and_svd_smoothers_match_pinv(n, p, fit_intercept):
    """Oracle: the dense smoother from numpy's pseudo-inverse. The Gram-route and
    SVD-route smoothers give its matrices, row norms, p_train, p_test, trace
    and smoothed labels (the models' own predictions)."""
    X, y, X_test = data(n, p, m=9, seed=11)
    models = {
        solver: MinNormLeastSquares(fit_intercept=fit_intercept, solver=solver).fit(X, y)
        for solver in ("auto", "svd")
    }
    assert models["auto"].solver_ == "gram"
    S_train, S_test = (_pinv_smoother(X, Z, fit_intercept) for Z in (X, X_test))
    for model in models.values():
        smoother = get_smoother(model, X, y_train=y)
        np.testing.assert_allclose(smoother.matrix(), S_train, atol=1e-10)
        np.testing.assert_allclose(smoother.matrix(X_test), S_test, atol=1e-10)
        assert ec.effective_parameters(smoother, X) == pytest.approx(np.sum(S_train**2), rel=1e-9)
        assert ec.effective_parameters(smoother, X, X_test) == pytest.approx(
            n / 9 * np.sum(S_test**2), rel=1e-9
        )
        assert ec.degrees_of_freedom(smoother, X) == pytest.approx(np.trace(S_train), rel=1e-9)
        np.testing.assert_allclose(ec.smooth(smoother, X, y, X_test), model.predict(X_test))
        np.testing.assert_allclose(ec.smooth(smoother, X, y), model.predict(X), atol=1e-9)


@pytest.mark.parametrize(("n", "p", "fit_intercept"), [(40, 10, True), (10, 40, False)])
def test_min_norm_qr_smoother_matches_pinv(n, p, fit_intercept):
    """Oracle: the dense smoother from numpy's pseudo-inverse, for a design
    (singular values 1 to 1e-6) that the fit solves through QR."""
    from tests.test_models import ill_conditioned

    X, y, X_test = ill_conditioned(n, p, seed=1)
    model = MinNormLeastSquares(fit_intercept=fit_intercept).fit(X, y)
    assert model.solver_ == "qr"
    smoother = get_smoother(model, X, y_train=y)
    S_test = _pinv_smoother(X, X_test, fit_intercept)
    np.testing.assert_allclose(smoother.matrix(X_test), S_test, atol=1e-7 * np.abs(S_test).max())
    assert ec.effective_parameters(smoother, X, X_test) == pytest.approx(
        n / 5 * np.sum(S_test**2), rel=1e-7
    )
    # Closed form: p_train is the rank, plus one for the intercept.
    assert ec.effective_parameters(smoother, X) == pytest.approx(
        min(n, p) + fit_intercept, rel=1e-9
    )
    np.testing.assert_allclose(ec.smooth(smoother, X, y, X_test), model.predict(X_test))


@pytest.mark.parametrize("p", [12, 70])
def test_min_norm_gram_smoother_rejects_reordered_rows(p):
    """Closed form: the Gram matrix X^T X does not change when rows are
    reordered, but the product the Gram-route fit keeps does, so the smoother
    refuses the reordered X_train."""
    X, y, _ = data(50 if p == 12 else 20, p, seed=12)
    model = MinNormLeastSquares().fit(X, y)
    assert model.solver_ == "gram"
    with pytest.raises(ValueError, match="fixed vector"):
        get_smoother(model, X[::-1])


def test_linear_regression_rank_follows_sklearn_tol():
    """Oracle: scikit-learn's own rank_ (the lstsq cutoff tol * max singular
    value); a duplicated column gives rank p - 1 and tr S = rank + 1."""
    X, y, X_test = data(30, 4, seed=4)
    X, X_test = np.column_stack([X, X[:, 0]]), np.column_stack([X_test, X_test[:, 0]])
    ols = LinearRegression().fit(X, y)
    assert ols.rank_ == 4
    assert ec.degrees_of_freedom(ols, X) == pytest.approx(5, abs=1e-9)
    np.testing.assert_allclose(ec.smooth(ols, X, y, X_test), ols.predict(X_test), atol=1e-10)


@pytest.mark.parametrize("solver", ["svd", "cholesky", "lsqr", "sag"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_trace_closed_forms(solver, fit_intercept):
    """Closed form (Hastie, Tibshirani & Friedman 2009, eq. 3.50): with d the singular values of the
    (centred) design, tr S = sum d^2/(d^2+a) and tr SS^T = sum d^4/(d^2+a)^2,
    each +1 for an unpenalised intercept."""
    X, y, _ = data(30, 6, seed=5)
    alpha = 3.0
    ridge = Ridge(alpha=alpha, solver=solver, fit_intercept=fit_intercept, tol=1e-12).fit(X, y)
    d = np.linalg.svd(_centre(X) if fit_intercept else X, compute_uv=False)
    one = float(fit_intercept)
    trace = one + np.sum(d**2 / (d**2 + alpha))
    variance = one + np.sum(d**4 / (d**2 + alpha) ** 2)
    assert ec.degrees_of_freedom(ridge, X, kind="trace") == pytest.approx(trace, rel=1e-10)
    assert ec.degrees_of_freedom(ridge, X, kind="variance") == pytest.approx(variance, rel=1e-10)
    assert ec.degrees_of_freedom(ridge, X, kind="residual") == pytest.approx(
        2 * trace - variance, rel=1e-10
    )
    assert ec.effective_parameters(ridge, X) == pytest.approx(variance, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.01, 1.0, 100.0])
def test_ridge_df_inequality(alpha):
    """Closed form (Buja, Hastie & Tibshirani 1989): S symmetric with eigenvalues in
    [0, 1] gives tr SS^T <= tr S <= tr(2S - SS^T), strictly for 0 < alpha."""
    X, y, _ = data(25, 8, seed=6)
    ridge = Ridge(alpha=alpha).fit(X, y)
    trace, variance, residual = (ec.degrees_of_freedom(ridge, X, kind=k) for k in KINDS)
    assert variance < trace < residual


def test_ridge_test_weights_match_brute_force():
    """Oracle: the ridge hat matrix written out,
    S_X = 1/n + (X_test - mean) (Xc^T Xc + a I)^-1 Xc^T, solved with numpy."""
    X, y, X_test = data(30, 6, m=8, n_targets=2, seed=7)
    ridge = Ridge(alpha=[2.0, 2.0]).fit(X, y)
    Xc, mean = _centre(X), X.mean(axis=0)
    A = Xc.T @ Xc + 2.0 * np.eye(6)
    S_brute = 1 / 30 + (X_test - mean) @ np.linalg.solve(A, Xc.T)
    np.testing.assert_allclose(ec.smoother_matrix(ridge, X, X_test), S_brute, atol=1e-12)
    smoother = get_smoother(ridge, X)
    np.testing.assert_allclose(smoother.row_norms_sq(X_test), np.sum(S_brute**2, axis=1))


@pytest.mark.parametrize(
    ("kernel", "gram"),
    [
        ("rbf", lambda A, B: rbf_kernel(A, B, gamma=0.3)),
        ("laplacian", lambda A, B: laplacian_kernel(A, B, gamma=0.3)),
    ],
)
def test_kernel_ridge_matches_brute_force(kernel, gram):
    """Oracle: S_X = K(X_test, X) (K + a I)^-1 and tr S = sum l/(l + a) over
    the kernel's eigenvalues, with sklearn.metrics.pairwise kernels and numpy."""
    X, y, X_test = data(25, 3, seed=8)
    kr = KernelRidge(alpha=0.4, kernel=kernel, gamma=0.3).fit(X, y)
    K = gram(X, X)
    S_brute = np.linalg.solve(K + 0.4 * np.eye(25), gram(X_test, X).T).T
    np.testing.assert_allclose(ec.smoother_matrix(kr, X, X_test), S_brute, atol=1e-10)
    eigenvalues = np.linalg.eigvalsh(K)
    trace = np.sum(eigenvalues / (eigenvalues + 0.4))
    assert ec.degrees_of_freedom(kr, X) == pytest.approx(trace, rel=1e-10)


def test_pipeline_smoother_is_final_step_on_features():
    """Oracle: numpy's pseudo-inverse hat matrix of the expanded design
    poly(scale(X)), whose bias column plays the intercept."""
    X, y, X_test = data(40, 3, seed=9)
    pipe = make_pipeline(StandardScaler(), PolynomialFeatures(2), LinearRegression()).fit(X, y)
    scaler = StandardScaler().fit(X)
    poly = PolynomialFeatures(2).fit(scaler.transform(X))
    Z, Z_test = poly.transform(scaler.transform(X)), poly.transform(scaler.transform(X_test))
    np.testing.assert_allclose(
        ec.smoother_matrix(pipe, X, X_test), Z_test @ np.linalg.pinv(Z), atol=1e-10
    )
    assert ec.degrees_of_freedom(pipe, X) == pytest.approx(Z.shape[1], abs=1e-9)


def test_pipeline_accepts_dataframes_with_column_transformer():
    """Oracle: the pipeline's own predictions, S(X) @ y == predict(X), on a
    DataFrame with a categorical column that only a named-column
    transformer can read."""
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({"x": rng.normal(size=30), "group": rng.choice(["a", "b", "c"], size=30)})
    y = frame["x"].to_numpy() * 2 + (frame["group"] == "b").to_numpy()
    encode = ColumnTransformer(
        [("num", StandardScaler(), ["x"]), ("cat", OneHotEncoder(), ["group"])]
    )
    pipe = make_pipeline(encode, Ridge(alpha=0.5)).fit(frame, y)
    new = frame.iloc[:5]
    np.testing.assert_allclose(ec.smooth(pipe, frame, y, new), pipe.predict(new), atol=1e-10)
    assert ec.smoother_matrix(pipe, frame).shape == (30, 30)


def test_pipeline_with_label_dependent_step_is_rejected():
    """A target encoder makes the features depend on y: not a linear smoother."""
    rng = np.random.default_rng(11)
    X = rng.integers(0, 3, size=(40, 1))
    y = rng.normal(size=40)
    pipe = make_pipeline(TargetEncoder(target_type="continuous"), Ridge()).fit(X, y)
    with pytest.raises(TypeError, match="fitted on the labels"):
        ec.smoother_matrix(pipe, X)


def test_pipeline_with_unsupported_final_step_names_it():
    """An unregistered final step raises TypeError naming the supported types."""
    X, y, _ = data(20, 3)
    pipe = make_pipeline(StandardScaler(), Lasso()).fit(X, y)
    with pytest.raises(TypeError, match="final step 'lasso'.*Supported types"):
        ec.smoother_matrix(pipe, X)


def test_pipeline_delegates_cheap_norms():
    """The pipeline reports the final family's exact-norm cost."""
    X, y, _ = data(20, 3)
    assert get_smoother(make_pipeline(StandardScaler(), Ridge()).fit(X, y), X).exact_norms_are_cheap
    knn = make_pipeline(StandardScaler(), KNeighborsRegressor(3)).fit(X, y)
    assert get_smoother(knn, X).exact_norms_are_cheap


def test_pipeline_delegates_stages():
    """Oracle: the final step's own staged values on the transformed inputs."""
    pytest.importorskip("effcomplexity.smoothers.boosting")
    from sklearn.ensemble import GradientBoostingRegressor

    X, y, X_test = data(30, 3, seed=12)
    pipe = make_pipeline(
        StandardScaler(), GradientBoostingRegressor(n_estimators=4, max_depth=2, random_state=0)
    ).fit(X, y)
    scaler, booster = pipe[0], pipe[-1]
    direct = ec.staged_effective_parameters(booster, scaler.transform(X), scaler.transform(X_test))
    staged = ec.staged_effective_parameters(pipe, X, X_test)
    assert staged.shape == (get_smoother(pipe, X).n_stages(),)
    np.testing.assert_allclose(staged, direct)
