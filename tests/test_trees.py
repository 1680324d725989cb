"""Tree, forest, extra-trees and bagging smoothers against independent oracles.

Oracles:
* single trees: the closed forms p_train = number of leaves and
  p_test = n/m sum_j 1/N(leaf(x_j)) (Curth, Jeffares & van der Schaar 2023), with leaf sizes
  counted from the estimator's public ``apply``;
* ensembles: a plain brute-force smoother written below, one dense per-tree
  matrix built row by row from ``apply``, ``estimators_samples_`` and
  ``estimators_features_``, averaged over trees (Curth, Jeffares & van
  der Schaar 2023, random forest weights);
* staged predictions: cumulative means of the members' own ``predict``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    BaggingRegressor,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import effcomplexity as ec
from effcomplexity import staged_predictions
from effcomplexity.smoothers import get_smoother, trees
from tests.cases.trees import classification_data, regression_data

TOL = 1e-10


# -- the brute-force oracle ---------------------------------------------------------
def _members(est, n_train):
    """(tree, feature indices, in-bag row indices) of every member, from public attributes."""
    n_features = est.n_features_in_
    if isinstance(est, (DecisionTreeRegressor, DecisionTreeClassifier)):
        return [(est, np.arange(n_features), np.arange(n_train))]
    features = getattr(est, "estimators_features_", [np.arange(n_features)] * len(est))
    return list(zip(est.estimators_, features, est.estimators_samples_, strict=True))


def brute_force_tree_matrices(est, X_train, X):
    """Dense (m, n) smoother of every member, looping over evaluation rows."""
    n = len(X_train)
    matrices = []
    for tree, features, in_bag in _members(est, n):
        counts = np.zeros(n)
        for i in in_bag:
            counts[i] += 1
        leaf_train = tree.apply(X_train[:, features])
        leaf_eval = tree.apply(X[:, features])
        S = np.zeros((len(X), n))
        for j in range(len(X)):
            weights = counts * (leaf_train == leaf_eval[j])
            S[j] = weights / weights.sum()
        matrices.append(S)
    return matrices


def brute_force_p_hat(est, X_train, X):
    """p-hat after every number of trees: n/m * ||mean of the first t matrices||_F^2."""
    matrices = brute_force_tree_matrices(est, X_train, X)
    n, m = len(X_train), len(X)
    cumulative = np.cumsum(matrices, axis=0) / np.arange(1, len(matrices) + 1)[:, None, None]
    return n / m * (cumulative**2).sum(axis=(1, 2)), cumulative[-1]


# -- fitted ensembles -----------------------------------------------------------
def _forest_bootstrap():
    X, y, X_test = regression_data(80, 4, m=25, seed=10)
    return RandomForestRegressor(n_estimators=7, max_leaf_nodes=9, random_state=1).fit(X, y)


def _forest_no_bootstrap_full_depth():
    X, y, X_test = regression_data(80, 4, m=25, seed=11)
    est = RandomForestRegressor(
        n_estimators=7, max_features="sqrt", bootstrap=False, random_state=2
    )
    return est.fit(X, y)


def _forest_max_samples():
    X, y, X_test = regression_data(80, 4, m=25, seed=12)
    est = RandomForestRegressor(n_estimators=6, max_samples=0.4, max_depth=4, random_state=3)
    return est.fit(X, y)


def _extra_trees_bootstrap_multi_output():
    X, y, X_test = regression_data(80, 4, m=25, n_targets=2, seed=13)
    est = ExtraTreesRegressor(n_estimators=6, bootstrap=True, min_samples_leaf=2, random_state=4)
    return est.fit(X, y)


def _bagging_features():
    X, y, X_test = regression_data(80, 5, m=25, seed=14)
    est = BaggingRegressor(
        DecisionTreeRegressor(max_leaf_nodes=12),
        n_estimators=6,
        max_features=0.6,
        bootstrap_features=True,
        random_state=5,
    )
    return est.fit(X, y)


def _bagging_subsample():
    X, y, X_test = regression_data(80, 5, m=25, seed=15)
    est = BaggingRegressor(
        DecisionTreeRegressor(), n_estimators=5, max_samples=0.6, bootstrap=False, random_state=6
    )
    return est.fit(X, y)


def _forest_classifier():
    X, labels, one_hot, X_test = classification_data(80, 4, m=25, seed=16)
    return RandomForestClassifier(n_estimators=6, max_depth=5, random_state=7).fit(X, labels)


ENSEMBLES = {
    "forest-bootstrap": (_forest_bootstrap, dict(n=80, p=4, seed=10)),
    "forest-no-bootstrap-full-depth": (_forest_no_bootstrap_full_depth, dict(n=80, p=4, seed=11)),
    "forest-max-samples": (_forest_max_samples, dict(n=80, p=4, seed=12)),
    "extra-trees-bootstrap-multi-output": (
        _extra_trees_bootstrap_multi_output,
        dict(n=80, p=4, seed=13),
    ),
    "bagging-bootstrap-features": (_bagging_features, dict(n=80, p=5, seed=14)),
    "bagging-subsample": (_bagging_subsample, dict(n=80, p=5, seed=15)),
    "forest-classifier": (_forest_classifier, dict(n=80, p=4, seed=16)),
}


@pytest.fixture(scope="module", params=list(ENSEMBLES), ids=list(ENSEMBLES))
def ensemble(request):
    make, kw = ENSEMBLES[request.param]
    X_train, _, X_test = regression_data(kw["n"], kw["p"], m=25, seed=kw["seed"])
    est = make()
    p_train, S_train = brute_force_p_hat(est, X_train, X_train)
    p_test, S_test = brute_force_p_hat(est, X_train, X_test)
    return est, X_train, X_test, p_train, p_test, S_train, S_test


# The exact norms take the contingency route or the sparse route (product for
# the last stage, accumulation for all stages) by operation counts; force each.
ROUTES = {
    "contingency": {"pair": 0.0, "table": 0.0},
    "sparse": {"product": 0.0, "accumulate": 0.0, "zero": 0.0},
}


@pytest.fixture(params=list(ROUTES))
def route(request, monkeypatch):
    for key, value in ROUTES[request.param].items():
        monkeypatch.setitem(trees._COST, key, value)
    return request.param


# -- single trees: closed forms --------------------------------------------------
def _leaf_sizes(tree, X_train, X):
    """Training rows in the leaf of every row of X, counted from the public apply."""
    train_leaves = tree.apply(X_train)
    return np.array([np.sum(train_leaves == leaf) for leaf in tree.apply(X)])


@pytest.mark.parametrize(
    "params", [dict(max_leaf_nodes=7), dict(max_depth=3), dict(), dict(min_samples_leaf=6)]
)
def test_single_tree_closed_forms(params):
    X, y, X_test = regression_data(90, 3, m=30, seed=20)
    tree = DecisionTreeRegressor(random_state=0, **params).fit(X, y)
    n, m = len(X), len(X_test)
    # closed forms: p_train = number of leaves, p_test = n/m sum_j 1/N(leaf(x_j))
    assert ec.effective_parameters(tree, X) == pytest.approx(tree.get_n_leaves(), abs=TOL)
    expected_test = n / m * np.sum(1.0 / _leaf_sizes(tree, X, X_test))
    assert ec.effective_parameters(tree, X, X_test) == pytest.approx(expected_test, abs=TOL)
    # a tree's smoother is a projection: tr(S) = tr(S S^T) = number of leaves
    assert ec.degrees_of_freedom(tree, X) == pytest.approx(tree.get_n_leaves(), abs=TOL)
    np.testing.assert_allclose(
        get_smoother(tree, X).row_norms_sq(X_test), 1.0 / _leaf_sizes(tree, X, X_test), atol=TOL
    )


def test_classification_tree_closed_forms_and_proba():
    X, labels, one_hot, X_test = classification_data(90, 3, m=30, seed=21)
    tree = DecisionTreeClassifier(max_leaf_nodes=9, random_state=0).fit(X, labels)
    n, m = len(X), len(X_test)
    assert ec.effective_parameters(tree, X) == pytest.approx(9.0, abs=TOL)
    expected_test = n / m * np.sum(1.0 / _leaf_sizes(tree, X, X_test))
    assert ec.effective_parameters(tree, X, X_test) == pytest.approx(expected_test, abs=TOL)
    # predict_proba = leaf class frequencies = the smoother applied to one-hot labels
    np.testing.assert_allclose(
        ec.smooth(tree, X, one_hot, X_test), tree.predict_proba(X_test), atol=TOL
    )


# -- ensembles: brute force -------------------------------------------------------
def test_ensemble_matrix_matches_brute_force(ensemble):
    est, X_train, X_test, _, _, S_train, S_test = ensemble
    np.testing.assert_allclose(ec.smoother_matrix(est, X_train), S_train, atol=TOL)
    np.testing.assert_allclose(ec.smoother_matrix(est, X_train, X_test), S_test, atol=TOL)


def test_ensemble_p_hat_matches_brute_force(ensemble, route):
    est, X_train, X_test, p_train, p_test, _, _ = ensemble
    assert ec.effective_parameters(est, X_train) == pytest.approx(p_train[-1], abs=TOL)
    assert ec.effective_parameters(est, X_train, X_test) == pytest.approx(p_test[-1], abs=TOL)


def test_ensemble_staged_p_hat_matches_brute_force(ensemble, route):
    est, X_train, X_test, p_train, p_test, _, _ = ensemble
    np.testing.assert_allclose(
        ec.staged_effective_parameters(est, X_train), p_train, rtol=0, atol=TOL
    )
    staged_test = ec.staged_effective_parameters(est, X_train, X_test)
    np.testing.assert_allclose(staged_test, p_test, rtol=0, atol=TOL)
    # the last stage is the whole ensemble
    assert staged_test[-1] == pytest.approx(ec.effective_parameters(est, X_train, X_test), abs=TOL)


def test_ensemble_row_norms_and_trace_match_brute_force(ensemble, route):
    est, X_train, X_test, _, _, S_train, S_test = ensemble
    smoother = get_smoother(est, X_train)
    np.testing.assert_allclose(smoother.row_norms_sq(), (S_train**2).sum(axis=1), atol=TOL)
    np.testing.assert_allclose(smoother.row_norms_sq(X_test), (S_test**2).sum(axis=1), atol=TOL)
    assert smoother.trace() == pytest.approx(np.trace(S_train), abs=TOL)


def test_forest_trace_is_mean_leaf_count():
    est = _forest_bootstrap()
    X_train, _, _ = regression_data(80, 4, m=25, seed=10)
    # each tree's S_b has trace = its number of leaves, with or without bootstrap weights
    mean_leaves = np.mean([tree.get_n_leaves() for tree in est.estimators_])
    assert ec.degrees_of_freedom(est, X_train) == pytest.approx(mean_leaves, abs=TOL)


def test_probe_path_is_the_exact_product(ensemble):
    est, X_train, X_test, _, _, _, S_test = ensemble
    Z = np.random.default_rng(0).normal(size=(len(X_train), 4))
    np.testing.assert_allclose(ec.smooth(est, X_train, Z, X_test), S_test @ Z, atol=TOL)
    staged = list(get_smoother(est, X_train).staged_smooth(Z, X_test))
    matrices = brute_force_tree_matrices(est, X_train, X_test)
    for t, SZ in enumerate(staged, start=1):
        np.testing.assert_allclose(SZ, np.mean(matrices[:t], axis=0) @ Z, atol=TOL)


def test_probe_estimates_are_unbiased(ensemble):
    est, X_train, X_test, p_train, p_test, _, _ = ensemble
    for X, exact in ((None, p_train), (X_test, p_test)):
        value, std = ec.effective_parameters(
            est, X_train, X, method="probe", n_probes=200, random_state=0, return_std=True
        )
        # (Rademacher probes are exact, std 0, when S = I: full-depth trees on training rows)
        assert abs(value - exact[-1]) <= 3 * std + TOL
        values, stds = ec.staged_effective_parameters(
            est, X_train, X, method="probe", n_probes=200, random_state=0, return_std=True
        )
        assert np.all(np.abs(values - exact) <= 3 * stds + TOL)


def test_staged_predictions_are_cumulative_member_means(ensemble):
    est, X_train, X_test, _, _, _, _ = ensemble
    y = np.random.default_rng(3).normal(size=len(X_train))
    members = _members(est, len(X_train))
    if isinstance(est, RandomForestClassifier):
        _, labels, y, _ = classification_data(80, 4, m=25, seed=16)
        per_member = [tree.predict_proba(X_test) for tree, _, _ in members]
        final = est.predict_proba(X_test)
    else:
        # refit-free oracle: each member's smoother applied to y, from the brute force
        matrices = brute_force_tree_matrices(est, X_train, X_test)
        per_member = [S @ y for S in matrices]
        final = np.mean(per_member, axis=0)
    expected = np.cumsum(per_member, axis=0) / np.arange(1, len(members) + 1).reshape(
        (-1,) + (1,) * (np.ndim(per_member) - 1)
    )
    staged = staged_predictions(est, X_train, y, X_test)
    assert staged.shape == expected.shape
    np.testing.assert_allclose(staged, expected, atol=TOL)
    np.testing.assert_allclose(staged[-1], final, atol=TOL)


def test_staged_predictions_follow_member_predict():
    X, y, X_test = regression_data(70, 3, m=20, seed=30)
    est = RandomForestRegressor(n_estimators=6, max_depth=4, random_state=0).fit(X, y)
    per_tree = np.array([tree.predict(X_test) for tree in est.estimators_])
    expected = np.cumsum(per_tree, axis=0) / np.arange(1, 7)[:, None]
    np.testing.assert_allclose(staged_predictions(est, X, y, X_test), expected, atol=TOL)
    np.testing.assert_allclose(staged_predictions(est, X, y)[-1], est.predict(X), atol=TOL)


def test_staged_predictions_multi_output():
    X, Y, X_test = regression_data(70, 3, m=20, n_targets=2, seed=32)
    est = ExtraTreesRegressor(n_estimators=4, bootstrap=True, max_depth=5, random_state=0)
    est.fit(X, Y)
    staged = staged_predictions(est, X, Y, X_test)
    assert staged.shape == (4, 20, 2)
    # oracle: running means of the members' own multi-output predictions
    per_tree = np.array([tree.predict(X_test) for tree in est.estimators_])
    expected = np.cumsum(per_tree, axis=0) / np.arange(1, 5)[:, None, None]
    np.testing.assert_allclose(staged, expected, atol=TOL)


def test_routes_agree_at_a_size_where_both_apply():
    X, y, X_test = regression_data(300, 5, m=60, seed=31)
    est = RandomForestRegressor(n_estimators=12, max_leaf_nodes=25, random_state=0).fit(X, y)
    smoother = get_smoother(est, X)
    leaves = smoother._eval_leaves(X_test)
    contingency = smoother._staged_norms_contingency(leaves)
    np.testing.assert_allclose(smoother._staged_norms_accumulate(leaves), contingency, atol=TOL)
    np.testing.assert_allclose(smoother._norms_product(leaves), contingency[-1], atol=TOL)


def test_tiny_blocks_give_the_same_values(ensemble, route, monkeypatch):
    est, X_train, X_test, p_train, p_test, _, _ = ensemble
    # temporaries split into many blocks of trees, evaluation rows and products
    monkeypatch.setattr(trees, "_BLOCK_ENTRIES", 50)
    monkeypatch.setattr(trees, "_ACCUMULATOR_ENTRIES", 100)
    np.testing.assert_allclose(
        ec.staged_effective_parameters(est, X_train), p_train, rtol=0, atol=TOL
    )
    np.testing.assert_allclose(
        ec.staged_effective_parameters(est, X_train, X_test), p_test, rtol=0, atol=TOL
    )
    assert ec.effective_parameters(est, X_train, X_test) == pytest.approx(p_test[-1], abs=TOL)


# -- bad input ----------------------------------------------------------------------
def test_wrong_row_count_raises():
    X, y, X_test = regression_data(60, 3, seed=40)
    models = [
        DecisionTreeRegressor(max_depth=3).fit(X, y),
        RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y),
        RandomForestRegressor(n_estimators=3, bootstrap=False, random_state=0).fit(X, y),
        RandomForestRegressor(n_estimators=3, max_samples=20, random_state=0).fit(X, y),
        BaggingRegressor(DecisionTreeRegressor(), n_estimators=3, random_state=0).fit(X, y),
    ]
    for model in models:
        for X_bad in (X[:-1], np.vstack([X, X[:2]])):
            with pytest.raises(ValueError, match="rows"):
                ec.effective_parameters(model, X_bad)


def test_other_training_inputs_raise():
    X, y, _ = regression_data(60, 3, seed=41)
    X_other, _, _ = regression_data(60, 3, seed=42)
    for model in (
        DecisionTreeRegressor(max_leaf_nodes=6).fit(X, y),
        RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y),
    ):
        with pytest.raises(ValueError, match="leaf sizes"):
            ec.smoother_matrix(model, X_other)


def test_wrong_width_and_non_finite_raise():
    X, y, X_test = regression_data(60, 3, seed=43)
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        ec.effective_parameters(forest, X[:, :2])
    with pytest.raises(ValueError, match="features"):
        ec.effective_parameters(forest, X, X_test[:, :2])
    X_nan = X_test.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError):
        ec.smooth(forest, X, y, X_nan)


def test_unfitted_raises():
    X, y, _ = regression_data(30, 3, seed=44)
    for model in (
        DecisionTreeRegressor(),
        RandomForestRegressor(),
        BaggingRegressor(DecisionTreeRegressor()),
    ):
        with pytest.raises(NotFittedError):
            ec.effective_parameters(model, X)


def test_weighted_fits_raise():
    X, y, _ = regression_data(60, 3, seed=45)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    tree = DecisionTreeRegressor(max_depth=3).fit(X, y, sample_weight=weights)
    forest = RandomForestRegressor(n_estimators=3, bootstrap=False, random_state=0)
    forest.fit(X, y, sample_weight=weights)
    _, labels, _, _ = classification_data(60, 3, seed=45)
    balanced = DecisionTreeClassifier(max_depth=3, class_weight={0: 1.0, 1: 3.0, 2: 1.0})
    balanced.fit(X, labels)
    for model in (tree, forest, balanced):
        with pytest.raises(ValueError, match="sample_weight"):
            ec.effective_parameters(model, X)


def test_non_mean_leaves_raise():
    X, y, _ = regression_data(60, 3, seed=46)
    median_tree = DecisionTreeRegressor(criterion="absolute_error", max_depth=3).fit(X, y)
    monotone = DecisionTreeRegressor(max_depth=3, monotonic_cst=[1, 0, 0]).fit(X, y)
    for model in (median_tree, monotone):
        with pytest.raises(ValueError, match="generalized_degrees_of_freedom"):
            ec.effective_parameters(model, X)


def test_bagging_of_other_members_leaves_the_tree_path():
    """Bagged k-NN is measured by the general bagging smoother (tests/test_bagging.py)."""
    X, y, _ = regression_data(60, 3, seed=47)
    bagged_knn = BaggingRegressor(KNeighborsRegressor(), n_estimators=3, random_state=0)
    smoother = ec.get_smoother(bagged_knn.fit(X, y), X)
    assert not isinstance(smoother, trees.BaggedTreesSmoother)


def test_single_tree_has_no_stages():
    X, y, _ = regression_data(40, 3, seed=48)
    tree = DecisionTreeRegressor(max_depth=3).fit(X, y)
    with pytest.raises(TypeError, match="stages"):
        ec.staged_effective_parameters(tree, X)
    with pytest.raises(TypeError, match="stages"):
        staged_predictions(tree, X, y)
    with pytest.raises(ValueError, match="rows"):
        forest = RandomForestRegressor(n_estimators=2, random_state=0).fit(X, y)
        staged_predictions(forest, X, y[:-1])


@pytest.mark.parametrize("bootstrap", [False, True])
def test_staged_degrees_of_freedom_of_a_forest_count_leaves(bootstrap):
    """tr(S) of one tree is its number of leaves (a leaf's weights on its own rows sum
    to one, bootstrap multiplicities or not), so stage t is the mean over trees 1..t."""
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(90, 3)), rng.normal(size=90)
    forest = RandomForestRegressor(
        n_estimators=6, max_leaf_nodes=12, bootstrap=bootstrap, random_state=0
    ).fit(X, y)
    leaves = np.array([tree.get_n_leaves() for tree in forest.estimators_], dtype=float)
    expected = np.cumsum(leaves) / np.arange(1, 7)
    np.testing.assert_allclose(ec.staged_degrees_of_freedom(forest, X), expected, rtol=1e-12)
    dense = [np.trace(S) for S in staged_predictions(forest, X, np.eye(90))]
    np.testing.assert_allclose(dense, expected, rtol=1e-12)
