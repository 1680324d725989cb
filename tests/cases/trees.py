"""Cases for the tree families: single trees, random forests, extra trees and
bagged trees, as regressors (single- and multi-output) and classifiers
(``predict_proba`` against one-hot labels)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeRegressor

import effcomplexity.smoothers.trees  # noqa: F401  (registers the tree families)
from tests.cases import Case


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


TREE_REGRESSOR = _name(DecisionTreeRegressor)
TREE_CLASSIFIER = _name(DecisionTreeClassifier)
FOREST_REGRESSOR = _name(RandomForestRegressor)
FOREST_CLASSIFIER = _name(RandomForestClassifier)
EXTRA_REGRESSOR = _name(ExtraTreesRegressor)
EXTRA_CLASSIFIER = _name(ExtraTreesClassifier)
BAGGING_REGRESSOR = _name(BaggingRegressor)
BAGGING_CLASSIFIER = _name(BaggingClassifier)


def regression_data(n=60, p=4, *, m=9, n_targets=None, seed=0):
    """Uniform inputs, a non-linear signal plus noise, and held-out inputs."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, p))
    X_test = rng.uniform(-1.0, 1.0, size=(m, p))
    signal = np.sin(3.0 * X[:, 0]) + X[:, 1] ** 2
    if n_targets is None:
        return X, signal + 0.3 * rng.normal(size=n), X_test
    y = np.column_stack([signal + k * X[:, 2] for k in range(n_targets)])
    return X, y + 0.3 * rng.normal(size=y.shape), X_test


def classification_data(n=60, p=4, *, m=9, n_classes=3, seed=0):
    """Labels from thresholds of a noisy score, with their one-hot matrix."""
    X, score, X_test = regression_data(n, p, m=m, seed=seed)
    labels = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, labels, np.eye(n_classes)[labels], X_test


def _regressor(estimator, **data_kw):
    def make():
        X, y, X_test = regression_data(**data_kw)
        return estimator.fit(X, y), X, y, X_test

    return make


def _classifier(estimator, **data_kw):
    def make():
        X, labels, one_hot, X_test = classification_data(**data_kw)
        return estimator.fit(X, labels), X, one_hot, X_test

    return make


def _poisson_tree():
    X, y, X_test = regression_data(seed=6)
    est = DecisionTreeRegressor(criterion="poisson", max_depth=4, random_state=0)
    return est.fit(X, np.exp(y)), X, np.exp(y), X_test


def _multi_output_classifier():
    X, labels, one_hot, X_test = classification_data(seed=4)
    second = (X[:, 3] > 0).astype(int)
    est = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    est.fit(X, np.column_stack([labels, second]))
    return est, X, np.hstack([one_hot, np.eye(2)[second]]), X_test


def _proba(est, X):
    return est.predict_proba(X)


def _stacked_proba(est, X):
    return np.hstack(est.predict_proba(X))


CASES = [
    # single trees: closed-form leaf means
    Case(
        "tree-max-leaf-nodes",
        TREE_REGRESSOR,
        _regressor(DecisionTreeRegressor(max_leaf_nodes=8, random_state=0)),
    ),
    Case(
        "tree-max-depth",
        TREE_REGRESSOR,
        _regressor(DecisionTreeRegressor(max_depth=3, random_state=0)),
    ),
    Case("tree-full-depth", TREE_REGRESSOR, _regressor(DecisionTreeRegressor(random_state=0))),
    Case(
        "tree-min-samples-leaf-multi-output",
        TREE_REGRESSOR,
        _regressor(DecisionTreeRegressor(min_samples_leaf=5, random_state=0), n_targets=3, seed=1),
    ),
    Case("tree-poisson", TREE_REGRESSOR, _poisson_tree),
    Case(
        "extra-tree-single",
        TREE_REGRESSOR,
        _regressor(ExtraTreeRegressor(max_depth=5, random_state=0), seed=2),
        permutable=False,
    ),
    Case(
        "tree-classifier-proba",
        TREE_CLASSIFIER,
        _classifier(DecisionTreeClassifier(max_leaf_nodes=6, random_state=0)),
        predict=_proba,
    ),
    Case(
        "tree-classifier-full-depth",
        TREE_CLASSIFIER,
        _classifier(DecisionTreeClassifier(random_state=0), n_classes=4, seed=3),
        predict=_proba,
    ),
    # random forests: bootstrap multiplicities from estimators_samples_
    Case(
        "forest-bootstrap",
        FOREST_REGRESSOR,
        _regressor(RandomForestRegressor(n_estimators=8, max_leaf_nodes=10, random_state=0)),
        permutable=False,
    ),
    Case(
        "forest-no-bootstrap-sqrt",
        FOREST_REGRESSOR,
        _regressor(
            RandomForestRegressor(
                n_estimators=8, max_features="sqrt", bootstrap=False, random_state=0
            )
        ),
        permutable=False,
    ),
    Case(
        "forest-max-samples-fraction",
        FOREST_REGRESSOR,
        _regressor(
            RandomForestRegressor(n_estimators=6, max_samples=0.5, max_depth=4, random_state=0)
        ),
        permutable=False,
    ),
    Case(
        "forest-max-samples-int-full-depth",
        FOREST_REGRESSOR,
        _regressor(RandomForestRegressor(n_estimators=6, max_samples=25, random_state=0)),
        permutable=False,
    ),
    Case(
        "forest-multi-output",
        FOREST_REGRESSOR,
        _regressor(
            RandomForestRegressor(n_estimators=5, min_samples_leaf=3, random_state=0),
            n_targets=2,
            seed=1,
        ),
        permutable=False,
    ),
    Case(
        "forest-classifier-proba",
        FOREST_CLASSIFIER,
        _classifier(RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0)),
        predict=_proba,
        permutable=False,
    ),
    Case(
        "forest-classifier-multi-output",
        FOREST_CLASSIFIER,
        _multi_output_classifier,
        predict=_stacked_proba,
        permutable=False,
    ),
    # extra trees: random thresholds, bootstrap off by default
    Case(
        "extra-trees",
        EXTRA_REGRESSOR,
        _regressor(ExtraTreesRegressor(n_estimators=6, max_leaf_nodes=12, random_state=0)),
        permutable=False,
    ),
    Case(
        "extra-trees-bootstrap-max-samples",
        EXTRA_REGRESSOR,
        _regressor(
            ExtraTreesRegressor(
                n_estimators=6, bootstrap=True, max_samples=0.7, max_depth=5, random_state=0
            ),
            n_targets=2,
        ),
        permutable=False,
    ),
    Case(
        "extra-trees-classifier-proba",
        EXTRA_CLASSIFIER,
        _classifier(ExtraTreesClassifier(n_estimators=5, max_depth=5, random_state=0)),
        predict=_proba,
        permutable=False,
    ),
    # bagging: sample multiplicities and feature subsets of every member
    Case(
        "bagging-trees",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(
                DecisionTreeRegressor(max_leaf_nodes=8), n_estimators=6, random_state=0
            )
        ),
        permutable=False,
    ),
    Case(
        "bagging-max-features",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(
                DecisionTreeRegressor(max_depth=4),
                n_estimators=6,
                max_features=0.5,
                random_state=0,
            )
        ),
        permutable=False,
    ),
    Case(
        "bagging-bootstrap-features",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(
                DecisionTreeRegressor(),
                n_estimators=5,
                max_features=0.75,
                bootstrap_features=True,
                random_state=0,
            )
        ),
        permutable=False,
    ),
    Case(
        "bagging-subsample-no-bootstrap-multi-output",
        BAGGING_REGRESSOR,
        _regressor(
            BaggingRegressor(
                ExtraTreeRegressor(max_depth=4),
                n_estimators=5,
                max_samples=0.7,
                bootstrap=False,
                random_state=0,
            ),
            n_targets=2,
            seed=5,
        ),
        permutable=False,
    ),
    Case(
        "bagging-classifier-proba",
        BAGGING_CLASSIFIER,
        _classifier(
            BaggingClassifier(
                DecisionTreeClassifier(max_depth=3),
                n_estimators=5,
                max_features=0.75,
                random_state=0,
            )
        ),
        predict=_proba,
        permutable=False,
    ),
]
