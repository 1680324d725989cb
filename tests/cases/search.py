"""Cases for fitted hyper-parameter searches, measured through their refitted
``best_estimator_``: grid, randomized and successive-halving searches over
linear, neighbour, pipeline, boosting and classifier families."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (enables the class)
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from tests.cases import Case

SEARCH = "sklearn.model_selection._search.BaseSearchCV"


def data(n=48, p=3, *, m=7, seed=0):
    """Gaussian design, a smooth nonlinear signal plus noise, held-out inputs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X_test = rng.normal(size=(m, p))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.3 * rng.normal(size=n)
    return X, y, X_test


def _fitted(search, seed=0):
    def make():
        X, y, X_test = data(seed=seed)
        return search.fit(X, y), X, y, X_test

    return make


def _classifier_search():
    X, y, X_test = data(seed=4)
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    search = GridSearchCV(
        KNeighborsClassifier(), {"n_neighbors": [3, 7], "weights": ["uniform", "distance"]}, cv=3
    )
    return search.fit(X, labels), X, np.eye(3)[labels], X_test


def _proba(est, X):
    return est.predict_proba(X)


# The folds follow the row order, so refitting on permuted rows may select another
# configuration: none of these cases is permutable.
CASES = [
    Case(
        "grid-search-ridge",
        SEARCH,
        _fitted(GridSearchCV(Ridge(), {"alpha": [0.01, 1.0, 30.0]}, cv=3)),
        permutable=False,
    ),
    Case(
        "randomized-search-knn",
        SEARCH,
        _fitted(
            RandomizedSearchCV(
                KNeighborsRegressor(),
                {"n_neighbors": list(range(2, 12)), "weights": ["uniform", "distance"]},
                n_iter=5,
                cv=3,
                random_state=0,
            ),
            seed=1,
        ),
        permutable=False,
    ),
    Case(
        "grid-search-pipeline",
        SEARCH,
        _fitted(
            GridSearchCV(
                make_pipeline(StandardScaler(), PolynomialFeatures(), Ridge()),
                {"polynomialfeatures__degree": [1, 2], "ridge__alpha": [0.1, 10.0]},
                cv=3,
            ),
            seed=2,
        ),
        permutable=False,
    ),
    Case(
        "grid-search-boosting-staged",
        SEARCH,
        _fitted(
            GridSearchCV(
                GradientBoostingRegressor(n_estimators=6, max_leaf_nodes=4, random_state=0),
                {"learning_rate": [0.1, 0.5]},
                cv=3,
            ),
            seed=3,
        ),
        permutable=False,
    ),
    Case(
        "halving-grid-search-ridge",
        SEARCH,
        _fitted(
            HalvingGridSearchCV(Ridge(), {"alpha": [0.01, 0.3, 3.0, 30.0]}, cv=3, random_state=0),
            seed=5,
        ),
        permutable=False,
    ),
    Case(
        "grid-search-knn-classifier", SEARCH, _classifier_search, predict=_proba, permutable=False
    ),
]
