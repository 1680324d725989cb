"""Fitted hyper-parameter searches, measured through their refitted best estimator.

Oracles: the search's own predictions (S(X) @ y == predict(X)), and the smoother
built by brute force in this test, one column per unit label vector, by refitting
the chosen configuration on e_j.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (enables the class)
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

import effcomplexity as ec
from tests.cases.search import data


def _brute_force_smoother(estimator, X_train, X):
    """Column j of S(X) is the prediction of the configuration refitted on e_j."""
    n = len(X_train)
    return np.column_stack(
        [clone(estimator).fit(X_train, np.eye(n)[j]).predict(X) for j in range(n)]
    )


def _p(S, n):
    return n / S.shape[0] * float((S**2).sum())


SEARCHES = {
    "grid": lambda: GridSearchCV(Ridge(), {"alpha": [0.01, 1.0, 30.0]}, cv=3),
    "randomized": lambda: RandomizedSearchCV(
        Ridge(), {"alpha": np.logspace(-2, 2, 9)}, n_iter=4, cv=3, random_state=0
    ),
    "halving": lambda: HalvingGridSearchCV(
        Ridge(), {"alpha": [0.01, 0.3, 3.0, 30.0]}, cv=3, random_state=0
    ),
    "grid-pipeline": lambda: GridSearchCV(
        make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 10.0]}, cv=3
    ),
}


@pytest.mark.parametrize("kind", sorted(SEARCHES))
def test_search_matches_brute_force_and_predict(kind):
    """Oracle: brute-force columns of the refitted configuration; S @ y == predict."""
    X, y, X_test = data(seed=21)
    search = SEARCHES[kind]().fit(X, y)
    S_train = _brute_force_smoother(search.best_estimator_, X, X)
    S_test = _brute_force_smoother(search.best_estimator_, X, X_test)
    np.testing.assert_allclose(ec.smoother_matrix(search, X, X_test), S_test, atol=1e-8)
    np.testing.assert_allclose(ec.smooth(search, X, y, X_test), search.predict(X_test), atol=1e-8)
    assert ec.effective_parameters(search, X, y_train=y) == pytest.approx(_p(S_train, len(X)))
    assert ec.effective_parameters(search, X, X_test) == pytest.approx(_p(S_test, len(X)))
    assert ec.degrees_of_freedom(search, X) == pytest.approx(np.trace(S_train))


def test_search_logs_the_measured_estimator(caplog):
    X, y, _ = data(seed=22)
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3).fit(X, y)
    with caplog.at_level(logging.INFO, logger="effcomplexity.smoothers.search"):
        ec.effective_parameters(search, X)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(
        "GridSearchCV through its refitted best_estimator_, Ridge" in m
        and str(search.best_params_) in m
        for m in messages
    ), messages


def test_search_with_sample_weight():
    """Oracle: the search's weighted refit predicts S_w(X) @ y; without the
    weights the check against its predictions fails."""
    X, y, X_test = data(seed=23)
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=len(y))
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 3.0]}, cv=3).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(
        ec.smooth(search, X, y, X_test, sample_weight=w), search.predict(X_test), atol=1e-8
    )
    with pytest.raises(ec.TrainingMismatchError):
        ec.effective_parameters(search, X, y_train=y)


def test_refit_false_is_refused_with_what_to_do():
    X, y, _ = data(seed=24)
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3, refit=False).fit(X, y)
    with pytest.raises(TypeError, match=r"refit=False.*no refitted best_estimator_.*refit=True"):
        ec.effective_parameters(search, X)


def test_unfitted_search_raises_not_fitted():
    X, _, _ = data(seed=25)
    with pytest.raises(NotFittedError):
        ec.effective_parameters(GridSearchCV(Ridge(), {"alpha": [1.0]}), X)


def test_unsupported_best_estimator_names_it():
    X, y, _ = data(seed=26)
    search = GridSearchCV(SVR(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    with pytest.raises(TypeError, match="best estimator of GridSearchCV is not supported.*SVR"):
        ec.effective_parameters(search, X)


def test_x_train_is_checked_through_the_best_estimator():
    """The search is fitted on X; other rows are refused by the best estimator's check."""
    X, y, _ = data(seed=27)
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3).fit(X, y)
    with pytest.raises(ec.TrainingMismatchError):
        ec.effective_parameters(search, X[::-1], y_train=y)


def test_search_inside_a_pipeline_and_a_classifier_search():
    """Oracles: the pipeline's predict, and a classifier search's predict_proba;
    class labels are accepted as y_train (one-hot in classes_ order)."""
    X, y, X_test = data(seed=28)
    pipe = make_pipeline(StandardScaler(), GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=3))
    pipe.fit(X, y)
    np.testing.assert_allclose(ec.smooth(pipe, X, y, X_test), pipe.predict(X_test), atol=1e-8)
    labels = np.array(["low", "high"])[(y > np.median(y)).astype(int)]
    search = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3, 5, 9]}, cv=3)
    search.fit(X, labels)
    one_hot = (labels[:, None] == search.classes_[None, :]).astype(float)
    np.testing.assert_allclose(
        ec.smooth(search, X, one_hot, X_test), search.predict_proba(X_test), atol=1e-8
    )
    k = search.best_params_["n_neighbors"]
    assert ec.effective_parameters(search, X, y_train=labels) == pytest.approx(len(X) / k)
