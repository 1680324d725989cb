"""Cases for the linear families: least squares, ridge, kernel ridge, k-NN,
pipelines, the package's own models, and statsmodels Gaussian linear results."""

from __future__ import annotations

from functools import partial

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from effcomplexity.models import MinNormLeastSquares, RandomFourierFeatures
from tests.cases import Case


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


LINEAR_REGRESSION = _name(LinearRegression)
RIDGE = _name(Ridge)
KERNEL_RIDGE = _name(KernelRidge)
KNN = _name(KNeighborsRegressor)
KNN_CLASSIFIER = _name(KNeighborsClassifier)
PIPELINE = "sklearn.pipeline.Pipeline"
MIN_NORM = "effcomplexity.models.least_squares.MinNormLeastSquares"
SM_REGRESSION = "statsmodels.regression.linear_model.RegressionResultsWrapper"
SM_GLMGAM = "statsmodels.gam.generalized_additive_model.GLMGamResultsWrapper"


def data(n=40, p=5, *, m=7, n_targets=None, seed=0):
    """Gaussian design, a linear signal plus noise, and held-out inputs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X_test = rng.normal(size=(m, p))
    shape = (p,) if n_targets is None else (p, n_targets)
    noise = rng.normal(size=(n,) if n_targets is None else (n, n_targets))
    y = X @ rng.normal(size=shape) + 0.5 * noise + 1.0
    return X, y, X_test


def _fitted(estimator, n=40, p=5, **kw):
    X, y, X_test = data(n, p, **kw)
    return estimator.fit(X, y), X, y, X_test


def _knn_exact_match():
    """Distance weights with test points equal to training points (one of
    them duplicated in the training set, so two neighbours share the weight)."""
    X, y, X_test = data(30, 3, seed=3)
    X[7] = X[2]
    X_test = np.vstack([X_test, X[2], X[11]])
    return KNeighborsRegressor(n_neighbors=4, weights="distance").fit(X, y), X, y, X_test


def _knn_classifier(estimator, *, n_classes=3, seed=0, exact_match=False):
    """Classes from quantiles of a noisy linear signal; labels are one-hot, so that
    the smoother applied to them is ``predict_proba``."""

    def make():
        X, y, X_test = data(36, 3, seed=seed)
        if exact_match:
            # Test points on training points, one of them duplicated in the training set.
            X[7] = X[2]
            X_test = np.vstack([X_test, X[2], X[11]])
        labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
        return estimator.fit(X, labels), X, np.eye(n_classes)[labels], X_test

    return make


def _knn_classifier_multi_output():
    X, y, X_test = data(36, 3, seed=8)
    first, second = (y > np.median(y)).astype(int), np.digitize(X[:, 1], [-0.5, 0.5])
    est = KNeighborsClassifier(n_neighbors=5, weights="distance")
    est.fit(X, np.column_stack([first, second]))
    return est, X, np.hstack([np.eye(2)[first], np.eye(3)[second]]), X_test


def _proba(est, X):
    return est.predict_proba(X)


def _stacked_proba(est, X):
    return np.hstack(est.predict_proba(X))


def _kernel_ridge_precomputed():
    X, y, X_test = data(30, 3, seed=4)
    K, K_test = rbf_kernel(X, gamma=0.3), rbf_kernel(X_test, X, gamma=0.3)
    return KernelRidge(alpha=0.3, kernel="precomputed").fit(K, y), K, y, K_test


def _rff_min_norm(n_features, include_bias):
    X, y, X_test = data(30, 4, seed=5)
    rff = RandomFourierFeatures(
        n_features=n_features, bandwidth=2.0, include_bias=include_bias, random_state=0
    )
    model = make_pipeline(rff, MinNormLeastSquares(fit_intercept=not include_bias))
    return model.fit(X, y), X, y, X_test


def _statsmodels_regression(weighted):
    import statsmodels.api as sm

    X, y, X_test = data(40, 3, seed=6)
    design, design_test = sm.add_constant(X), sm.add_constant(X_test)
    if weighted:
        weights = np.random.default_rng(7).uniform(0.2, 3.0, size=len(y))
        results = sm.WLS(y, design, weights=weights).fit()
    else:
        results = sm.OLS(y, design).fit()
    return results, design, y, design_test


def _statsmodels_glmgam(n_smooth):
    import statsmodels.api as sm
    from statsmodels.gam.api import BSplines, GLMGam

    rng = np.random.default_rng(8)
    n = 60
    x = rng.uniform(size=(n, n_smooth))
    linear = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = np.sin(6 * x[:, 0]) + linear[:, 1] + 0.2 * rng.normal(size=n)
    splines = BSplines(x, df=[8] * n_smooth, degree=[3] * n_smooth)
    results = GLMGam(
        y,
        linear,
        smoother=splines,
        alpha=[0.5 * (k + 1) for k in range(n_smooth)],
        family=sm.families.Gaussian(),
    ).fit()
    x_test = rng.uniform(0.05, 0.95, size=(6, n_smooth))
    linear_test = np.column_stack([np.ones(6), rng.normal(size=6)])
    design_test = np.column_stack([linear_test, splines.transform(x_test)])
    return results, results.model.exog, y, design_test


def _inverse_square_weights(distances):
    """A label-free callable: weights from the neighbour distances only."""
    return 1.0 / (1.0 + distances**2)


def _statsmodels_predict(results, X):
    return results.predict(X)


def _glmgam_predict(results, X):
    return results.predict(exog=X, transform=False)


_ITERATIVE = {"tol": 1e-13, "max_iter": 100_000}

CASES = [
    # Least squares
    Case("ols-intercept", LINEAR_REGRESSION, partial(_fitted, LinearRegression())),
    Case(
        "ols-no-intercept",
        LINEAR_REGRESSION,
        partial(_fitted, LinearRegression(fit_intercept=False)),
    ),
    Case(
        "ols-min-norm-p>n",
        LINEAR_REGRESSION,
        partial(_fitted, LinearRegression(), n=20, p=35),
    ),
    Case(
        "ols-min-norm-p>n-no-intercept",
        LINEAR_REGRESSION,
        partial(_fitted, LinearRegression(fit_intercept=False), n=20, p=35),
    ),
    Case(
        "ols-multi-output",
        LINEAR_REGRESSION,
        partial(_fitted, LinearRegression(), n_targets=3),
    ),
    # Ridge, every solver that allows positive=False
    *[
        Case(
            f"ridge-{solver}",
            RIDGE,
            partial(_fitted, Ridge(alpha=2.0, solver=solver, random_state=0, **_ITERATIVE)),
        )
        for solver in ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga")
    ],
    Case(
        "ridge-no-intercept",
        RIDGE,
        partial(_fitted, Ridge(alpha=0.7, fit_intercept=False)),
    ),
    Case(
        "ridge-sag-no-intercept",
        RIDGE,
        partial(
            _fitted,
            Ridge(alpha=1.5, solver="sag", fit_intercept=False, random_state=0, **_ITERATIVE),
        ),
    ),
    Case(
        "ridge-multi-output",
        RIDGE,
        partial(_fitted, Ridge(alpha=[3.0, 3.0]), n_targets=2),
    ),
    Case("ridge-p>n", RIDGE, partial(_fitted, Ridge(alpha=0.5), n=20, p=35)),
    # Kernel ridge
    *[
        Case(
            f"kernel-ridge-{kernel}",
            KERNEL_RIDGE,
            partial(_fitted, KernelRidge(alpha=0.5, kernel=kernel, gamma=0.2)),
        )
        for kernel in ("rbf", "laplacian", "linear")
    ],
    Case(
        "kernel-ridge-poly",
        KERNEL_RIDGE,
        partial(_fitted, KernelRidge(alpha=1.0, kernel="poly", degree=2, coef0=1.0)),
    ),
    Case(
        "kernel-ridge-multi-output",
        KERNEL_RIDGE,
        partial(_fitted, KernelRidge(alpha=0.5, kernel="rbf"), n_targets=2),
    ),
    Case(
        "kernel-ridge-precomputed",
        KERNEL_RIDGE,
        _kernel_ridge_precomputed,
        # Rows of a precomputed kernel cannot be permuted without its columns.
        permutable=False,
    ),
    # k-nearest neighbours
    Case(
        "knn-uniform",
        KNN,
        partial(_fitted, KNeighborsRegressor(n_neighbors=5), seed=1),
    ),
    Case(
        "knn-distance",
        KNN,
        partial(_fitted, KNeighborsRegressor(n_neighbors=3, weights="distance"), seed=2),
    ),
    Case(
        "knn-distance-exact-match",
        KNN,
        _knn_exact_match,
        # Duplicate training points tie; the tie-break follows the row order.
        permutable=False,
    ),
    Case(
        "knn-callable-weights",
        KNN,
        partial(_fitted, KNeighborsRegressor(n_neighbors=4, weights=_inverse_square_weights)),
    ),
    Case(
        "knn-multi-output",
        KNN,
        partial(_fitted, KNeighborsRegressor(n_neighbors=4), n_targets=2),
    ),
    # k-nearest-neighbour classifiers: S @ one-hot labels is predict_proba
    Case(
        "knn-classifier-uniform",
        KNN_CLASSIFIER,
        _knn_classifier(KNeighborsClassifier(n_neighbors=5)),
        predict=_proba,
    ),
    Case(
        "knn-classifier-uniform-brute",
        KNN_CLASSIFIER,
        _knn_classifier(KNeighborsClassifier(n_neighbors=4, algorithm="brute"), seed=1),
        predict=_proba,
    ),
    Case(
        "knn-classifier-distance",
        KNN_CLASSIFIER,
        _knn_classifier(KNeighborsClassifier(n_neighbors=3, weights="distance"), n_classes=4),
        predict=_proba,
    ),
    Case(
        "knn-classifier-distance-exact-match",
        KNN_CLASSIFIER,
        _knn_classifier(
            KNeighborsClassifier(n_neighbors=4, weights="distance"), seed=3, exact_match=True
        ),
        predict=_proba,
        # Duplicate training points tie; the tie-break follows the row order.
        permutable=False,
    ),
    Case(
        "knn-classifier-callable-weights",
        KNN_CLASSIFIER,
        _knn_classifier(KNeighborsClassifier(n_neighbors=4, weights=_inverse_square_weights)),
        predict=_proba,
    ),
    Case(
        "knn-classifier-multi-output",
        KNN_CLASSIFIER,
        _knn_classifier_multi_output,
        predict=_stacked_proba,
    ),
    # Pipelines
    Case(
        "pipeline-scaler-poly-ridge",
        PIPELINE,
        partial(_fitted, make_pipeline(StandardScaler(), PolynomialFeatures(2), Ridge(alpha=1.0))),
    ),
    Case(
        "pipeline-scaler-knn",
        PIPELINE,
        partial(_fitted, make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=4))),
    ),
    Case(
        "pipeline-pca-ols",
        PIPELINE,
        partial(_fitted, make_pipeline(PCA(n_components=3), LinearRegression())),
    ),
    Case(
        "pipeline-column-transformer-ridge",
        PIPELINE,
        partial(
            _fitted,
            make_pipeline(
                ColumnTransformer(
                    [("scale", StandardScaler(), [0, 1]), ("poly", PolynomialFeatures(2), [2, 3])],
                    remainder="passthrough",
                ),
                Ridge(alpha=1.0),
            ),
        ),
    ),
    Case("pipeline-rff-min-norm-p<n", PIPELINE, partial(_rff_min_norm, 12, False)),
    Case("pipeline-rff-min-norm-p>n-bias", PIPELINE, partial(_rff_min_norm, 80, True)),
    # The package's minimum-norm least squares
    Case("min-norm-p<n", MIN_NORM, partial(_fitted, MinNormLeastSquares())),
    Case("min-norm-p>n", MIN_NORM, partial(_fitted, MinNormLeastSquares(), n=20, p=35)),
    Case(
        "min-norm-p>n-no-intercept",
        MIN_NORM,
        partial(_fitted, MinNormLeastSquares(fit_intercept=False), n=20, p=35),
    ),
    Case(
        "min-norm-multi-output",
        MIN_NORM,
        partial(_fitted, MinNormLeastSquares(), n=20, p=35, n_targets=3),
    ),
    # statsmodels
    Case(
        "statsmodels-ols",
        SM_REGRESSION,
        partial(_statsmodels_regression, False),
        predict=_statsmodels_predict,
    ),
    Case(
        "statsmodels-wls",
        SM_REGRESSION,
        partial(_statsmodels_regression, True),
        predict=_statsmodels_predict,
    ),
    Case(
        "statsmodels-glmgam-1-smooth",
        SM_GLMGAM,
        partial(_statsmodels_glmgam, 1),
        predict=_glmgam_predict,
    ),
    Case(
        "statsmodels-glmgam-2-smooths",
        SM_GLMGAM,
        partial(_statsmodels_glmgam, 2),
        predict=_glmgam_predict,
    ),
]
