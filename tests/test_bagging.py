"""Bagging of families other than trees, staged over its members. Oracles: the
members' own predictions (their running average is stage t's prediction) and a
brute-force smoother from refits of every member on unit label vectors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import BaggingClassifier, BaggingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVR
from sklearn.utils.validation import has_fit_parameter

import effcomplexity as ec
from effcomplexity.smoothers.bagging import BaggingSmoother
from tests.cases.trees import regression_data


def _members_predictions(bag, X):
    """Each member's own predict on its columns, in estimators_ order."""
    return np.array(
        [m.predict(X[:, f]) for m, f in zip(bag.estimators_, bag.estimators_features_, strict=True)]
    )


def _brute_force_staged(bag, X_train, X):
    """S_t(X) column by column: every member refitted, as scikit-learn fits it, on
    the unit label vector e_i (a linear smoother maps e_i to column i of S)."""
    n = len(X_train)
    weighted = has_fit_parameter(bag.estimator_, "sample_weight")
    per_member = []
    for member, features, rows in zip(
        bag.estimators_, bag.estimators_features_, bag.estimators_samples_, strict=True
    ):
        S_b = np.zeros((len(X), n))
        for i in range(n):
            e = np.zeros(n)
            e[i] = 1.0
            if weighted:
                fit = clone(member).fit(
                    X_train[:, features], e, sample_weight=np.bincount(rows, minlength=n)
                )
            else:
                fit = clone(member).fit(X_train[rows][:, features], e[rows])
            S_b[:, i] = fit.predict(X[:, features])
        per_member.append(S_b)
    return np.cumsum(per_member, axis=0) / np.arange(1, len(per_member) + 1)[:, None, None]


@pytest.mark.parametrize(
    "base",
    [Ridge(alpha=0.5), LinearRegression(), KNeighborsRegressor(n_neighbors=4)],
    ids=["ridge-weighted-rows", "least-squares-weighted-rows", "knn-drawn-rows"],
)
@pytest.mark.parametrize("bootstrap", [True, False])
def test_staged_over_members_matches_members_and_brute_force(base, bootstrap):
    """Stage t == running mean of the first t members' predictions; S_t == the
    brute-force refit smoother; staged p == n/m sum of S_t^2 from brute force."""
    X, y, X_test = regression_data(n=30, p=3, seed=1)
    bag = BaggingRegressor(
        base, n_estimators=4, max_samples=0.8, max_features=2, bootstrap=bootstrap, random_state=0
    ).fit(X, y)
    smoother = ec.get_smoother(bag, X, y_train=y)
    assert isinstance(smoother, BaggingSmoother)
    members = _members_predictions(bag, X_test)
    running = np.cumsum(members, axis=0) / np.arange(1, 5)[:, None]
    staged = ec.staged_predictions(smoother, None, y, X_test)
    np.testing.assert_allclose(staged, running, rtol=0, atol=1e-10)
    brute = _brute_force_staged(bag, X, X_test)
    np.testing.assert_allclose(smoother.matrix(X_test), brute[-1], rtol=0, atol=1e-10)
    p = ec.staged_effective_parameters(smoother, None, X_test)
    np.testing.assert_allclose(p, 30 / len(X_test) * (brute**2).sum(axis=(1, 2)), rtol=1e-10)
    brute_train = _brute_force_staged(bag, X, X)
    traces = np.trace(brute_train, axis1=1, axis2=2)
    np.testing.assert_allclose(ec.staged_degrees_of_freedom(smoother, None), traces, rtol=1e-10)
    assert ec.effective_parameters(bag, X) == pytest.approx(np.sum(brute_train[-1] ** 2))


def test_repeated_rows_carry_the_weights_of_their_copies():
    """A 1-nearest-neighbour member fitted on drawn rows: each training row's
    weight in S(X_train) is its share of the copies. Closed form: with k = 1 and
    distinct inputs, S_b(x_i) puts weight 1 on row i when drawn, so the training
    diagonal of the ensemble is the fraction of members whose sample holds i."""
    X, y, _ = regression_data(n=25, p=2, seed=2)
    bag = BaggingRegressor(KNeighborsRegressor(n_neighbors=1), n_estimators=6, random_state=0)
    bag.fit(X, y)
    drawn = np.mean([np.isin(np.arange(25), rows) for rows in bag.estimators_samples_], axis=0)
    np.testing.assert_allclose(np.diag(ec.smoother_matrix(bag, X)), drawn, atol=1e-12)


def test_classifier_members_give_predict_proba():
    """Oracle: BaggingClassifier.predict_proba, S @ one-hot labels."""
    X, y, X_test = regression_data(n=40, p=3, seed=3)
    labels = (y > np.median(y)).astype(int)
    bag = BaggingClassifier(KNeighborsClassifier(n_neighbors=5), n_estimators=5, random_state=0)
    bag.fit(X, labels)
    S = ec.smoother_matrix(bag, X, X_test, y_train=labels)
    np.testing.assert_allclose(S @ np.eye(2)[labels], bag.predict_proba(X_test), atol=1e-12)


def test_unsupported_members_are_refused():
    """Members without a registered smoother: TypeError naming the ensemble."""
    X, y, _ = regression_data(n=30, p=2)
    bag = BaggingRegressor(SVR(), n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="members of BaggingRegressor are not supported"):
        ec.effective_parameters(bag, X)
