"""A VotingRegressor staged over its members: stage m is the average of the first m.

Oracles: each partial VotingRegressor (the first m members, their weights) fitted
in this test and its own predict; and, for members linear in the labels with fixed
hyper-parameters, the smoother built by brute force, one column per unit label
vector e_j refitted.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor, VotingRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

import effcomplexity as ec
from tests.cases.linear import data

LINEAR_MEMBERS = [
    ("ridge", Ridge(alpha=2.0)),
    ("knn", KNeighborsRegressor(n_neighbors=3, weights="distance")),
    ("krr", KernelRidge(alpha=0.5, kernel="rbf", gamma=0.3)),
    ("knn7", KNeighborsRegressor(n_neighbors=7)),
]


def _partial(members, weights, m):
    """The VotingRegressor of the first m members, built as a user would."""
    return VotingRegressor(
        [(name, clone(est)) for name, est in members[:m]],
        weights=None if weights is None else weights[:m],
    )


def _brute_force_smoother(estimator, X_train, X):
    """Column j of S(X) is the prediction of the model refitted on e_j."""
    n = len(X_train)
    return np.column_stack(
        [clone(estimator).fit(X_train, np.eye(n)[j]).predict(X) for j in range(n)]
    )


@pytest.mark.parametrize("weights", [None, [3.0, 1.0, 0.5, 2.0]])
def test_linear_members_match_brute_force(weights):
    """Oracle: brute-force smoother of every partial ensemble: p_train, p_test,
    tr(S) and the partial ensemble's predictions, per stage."""
    X, y, X_test = data(30, 3, m=8, seed=31)
    vote = VotingRegressor(LINEAR_MEMBERS, weights=weights).fit(X, y)
    by_member = ec.staged_over_members(vote, X, y_train=y)
    assert by_member.n_stages() == 4
    p_train = ec.staged_effective_parameters(by_member, None)
    p_test = ec.staged_effective_parameters(by_member, None, X_test)
    df = ec.staged_degrees_of_freedom(by_member, None)
    staged = ec.staged_predictions(by_member, None, y, X_test)
    for m in range(1, 5):
        partial = _partial(LINEAR_MEMBERS, weights, m)
        S_train = _brute_force_smoother(partial, X, X)
        S_test = _brute_force_smoother(partial, X, X_test)
        assert p_train[m - 1] == pytest.approx((S_train**2).sum(), rel=1e-8)
        assert p_test[m - 1] == pytest.approx(30 / 8 * (S_test**2).sum(), rel=1e-8)
        assert df[m - 1] == pytest.approx(np.trace(S_train), rel=1e-8)
        np.testing.assert_allclose(
            staged[m - 1], partial.fit(X, y).predict(X_test), rtol=0, atol=1e-8
        )


def test_tree_members_match_partial_ensembles():
    """Oracle: each partial VotingRegressor of trees, a forest and a booster,
    fitted here; its predict and the measures of its own smoother, per stage."""
    X, y, X_test = data(40, 3, m=9, seed=32)
    members = [
        ("tree", DecisionTreeRegressor(max_leaf_nodes=6, random_state=0)),
        ("forest", RandomForestRegressor(n_estimators=4, max_depth=3, random_state=1)),
        ("gb", GradientBoostingRegressor(n_estimators=5, max_leaf_nodes=4, random_state=2)),
    ]
    vote = VotingRegressor(members).fit(X, y)
    by_member = ec.staged_over_members(vote, X, y_train=y)
    p_test = ec.staged_effective_parameters(by_member, None, X_test)
    staged = ec.staged_predictions(by_member, None, y, X_test)
    for m in range(1, 4):
        partial = _partial(members, None, m).fit(X, y)
        np.testing.assert_allclose(staged[m - 1], partial.predict(X_test), rtol=0, atol=1e-8)
        S = ec.smoother_matrix(partial, X, X_test)
        np.testing.assert_allclose(S @ y, partial.predict(X_test), rtol=0, atol=1e-8)
        assert p_test[m - 1] == pytest.approx(40 / 9 * (S**2).sum(), rel=1e-8)
    assert p_test[-1] == pytest.approx(ec.effective_parameters(vote, X, X_test), rel=1e-10)


def test_probe_route_agrees_with_exact():
    """Oracle: the exact staged values; random probes agree within 5 standard errors."""
    X, y, X_test = data(30, 3, m=8, seed=33)
    vote = VotingRegressor(LINEAR_MEMBERS).fit(X, y)
    by_member = ec.staged_over_members(vote, X)
    exact = ec.staged_effective_parameters(by_member, None, X_test, method="exact")
    probes, std = ec.staged_effective_parameters(
        by_member, None, X_test, method="probe", n_probes=400, random_state=0, return_std=True
    )
    assert np.all(np.abs(probes - exact) <= 5 * std + 1e-12)


def test_dropped_members_are_skipped():
    X, y, X_test = data(25, 2, seed=34)
    members = [("a", Ridge(alpha=1.0)), ("b", "drop"), ("c", KNeighborsRegressor(n_neighbors=4))]
    vote = VotingRegressor(members, weights=[1.0, 5.0, 2.0]).fit(X, y)
    staged = ec.staged_predictions(ec.staged_over_members(vote, X), None, y, X_test)
    assert staged.shape == (2, len(X_test))
    kept = VotingRegressor([members[0], members[2]], weights=[1.0, 2.0]).fit(X, y)
    np.testing.assert_allclose(staged[-1], kept.predict(X_test), rtol=0, atol=1e-8)
    np.testing.assert_allclose(staged[0], Ridge(alpha=1.0).fit(X, y).predict(X_test), atol=1e-8)


def test_refusals():
    X, y, _ = data(20, 2, seed=35)
    with pytest.raises(TypeError, match="takes a fitted VotingRegressor, not Ridge"):
        ec.staged_over_members(Ridge().fit(X, y), X)
    vote = VotingRegressor(
        [("a", Ridge()), ("b", KNeighborsRegressor(n_neighbors=2))], weights=[0.0, 1.0]
    ).fit(X, y)
    with pytest.raises(ValueError, match="first member .* has voting weight 0"):
        ec.staged_over_members(vote, X)
    vote = VotingRegressor([("a", Ridge()), ("b", KNeighborsRegressor(n_neighbors=2))]).fit(X, y)
    with pytest.raises(ec.TrainingMismatchError):
        ec.staged_over_members(vote, X, y_train=y[::-1])
