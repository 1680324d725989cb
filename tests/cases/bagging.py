"""Cases for bagging ensembles of families other than trees (least squares,
ridge, kernel ridge, neighbours), fitted on weighted rows or on drawn rows."""

from __future__ import annotations

from sklearn.ensemble import BaggingClassifier, BaggingRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from tests.cases import Case
from tests.cases.trees import BAGGING_CLASSIFIER, BAGGING_REGRESSOR, _classifier, _regressor


def _proba(est, X):
    return est.predict_proba(X)


CASES = [
    # Members that take sample_weight: all rows, in-bag multiplicities as weights.
    Case(
        "bagging-ridge",
        BAGGING_REGRESSOR,
        _regressor(BaggingRegressor(Ridge(alpha=0.5), n_estimators=5, random_state=0)),
        permutable=False,
    ),
    Case(
        "bagging-least-squares-max-features",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(LinearRegression(), n_estimators=4, max_features=0.5, random_state=1)
        ),
        permutable=False,
    ),
    Case(
        "bagging-kernel-ridge-subsample",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(
                KernelRidge(alpha=0.3, kernel="rbf"),
                n_estimators=4,
                max_samples=0.7,
                bootstrap=False,
                random_state=2,
            )
        ),
        permutable=False,
    ),
    # Members without sample_weight: fitted on the drawn rows, repeats included.
    Case(
        "bagging-knn",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(KNeighborsRegressor(n_neighbors=4), n_estimators=5, random_state=0)
        ),
        permutable=False,
    ),
    Case(
        "bagging-knn-bootstrap-features",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(
                KNeighborsRegressor(n_neighbors=3),
                n_estimators=4,
                max_features=0.75,
                bootstrap_features=True,
                random_state=3,
            )
        ),
        permutable=False,
    ),
    Case(
        "bagging-knn-classifier-proba",
        BAGGING_CLASSIFIER,
        _classifier(
            BaggingClassifier(KNeighborsClassifier(n_neighbors=5), n_estimators=4, random_state=0)
        ),
        predict=_proba,
        permutable=False,
    ),
]
