"""Cases for the boosting families: gradient boosting, histogram boosting, and
VotingRegressor ensembles of boosters and of mixed members."""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

import effcomplexity.smoothers.boosting  # noqa: F401  (registration)
from tests.cases import Case


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


GB = _name(GradientBoostingRegressor)
HGB = _name(HistGradientBoostingRegressor)
VOTING = _name(VotingRegressor)


def data(n=100, p=4, *, m=15, seed=0):
    """Inputs on a Gaussian design, a nonlinear signal plus noise, held-out inputs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X_test = rng.normal(size=(m, p))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2] + 0.3 * rng.normal(size=n) + 1.0
    return X, y, X_test


def _fitted(estimator, seed=0, **kw):
    X, y, X_test = data(seed=seed, **kw)
    # Histogram boosting parallelises tiny fits with OpenMP; one thread is faster here.
    with threadpool_limits(limits=1, user_api="openmp"):
        estimator.fit(X, y)
    return estimator, X, y, X_test


def _gb(**params):
    return lambda: _fitted(GradientBoostingRegressor(random_state=0, **params))


def _hgb(seed=0, n=100, **params):
    return lambda: _fitted(HistGradientBoostingRegressor(random_state=0, **params), seed, n=n)


def curth_booster(seed: int, n_rounds: int = 8) -> GradientBoostingRegressor:
    """Curth et al.'s booster (max_features="sqrt", init="zero", lr 0.85), small."""
    return GradientBoostingRegressor(
        n_estimators=n_rounds,
        max_leaf_nodes=4,
        learning_rate=0.85,
        max_features="sqrt",
        init="zero",
        subsample=1.0,
        random_state=seed,
    )


def _voting_boosters():
    members = [(f"gb{seed}", curth_booster(seed)) for seed in (1, 2, 3)]
    return _fitted(VotingRegressor(members), seed=1)


def _voting_mixed():
    members = [
        ("gb", GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0)),
        ("hgb", HistGradientBoostingRegressor(max_iter=6, min_samples_leaf=10, random_state=0)),
        ("dropped", "drop"),
        ("ridge", Ridge(alpha=2.0)),
    ]
    return _fitted(VotingRegressor(members, weights=[2.0, 1.0, 7.0, 0.5]), seed=2)


CASES = [
    # Gradient boosting, leaf-factor route (total leaves <= n).
    Case("gb-init-zero", GB, _gb(n_estimators=15, max_depth=2, learning_rate=0.5, init="zero")),
    Case("gb-init-mean", GB, _gb(n_estimators=12, max_leaf_nodes=5, learning_rate=0.3)),
    Case(
        "gb-init-dummy-mean",
        GB,
        _gb(n_estimators=10, max_depth=1, init=DummyRegressor(strategy="mean")),
    ),
    Case(
        "gb-init-dummy-zero-sqrt-features",
        GB,
        _gb(
            n_estimators=15,
            max_leaf_nodes=4,
            learning_rate=0.85,
            max_features="sqrt",
            init=DummyRegressor(strategy="constant", constant=0.0),
        ),
    ),
    # With learning rate 1 or deep trees, residuals in small leaves tie exactly, and
    # summation order (hence row order) decides between equally good splits.
    Case(
        "gb-learning-rate-1",
        GB,
        _gb(n_estimators=6, max_depth=3, learning_rate=1.0),
        permutable=False,
    ),
    # Deep trees: more leaves than training rows, exact norms by replay.
    Case(
        "gb-deep-replay",
        GB,
        _gb(n_estimators=6, max_depth=None, min_samples_leaf=2, learning_rate=0.2),
        permutable=False,
    ),
    Case("hgb", HGB, _hgb(max_iter=10, max_leaf_nodes=6, min_samples_leaf=5, learning_rate=0.3)),
    Case(
        "hgb-l2-regularization",
        HGB,
        _hgb(max_iter=10, max_leaf_nodes=6, min_samples_leaf=5, l2_regularization=3.0),
    ),
    Case(
        "hgb-constraints-replay",
        HGB,
        _hgb(
            max_iter=8,
            max_leaf_nodes=15,
            min_samples_leaf=3,
            max_features=0.5,
            interaction_cst=[[0, 1], [2, 3]],
            l2_regularization=1.0,
        ),
    ),
    Case(
        "hgb-early-stopping-on-training-loss",
        HGB,
        _hgb(max_iter=8, min_samples_leaf=8, early_stopping=True, validation_fraction=None),
    ),
    Case("hgb-unsplittable-root", HGB, _hgb(max_iter=4, n=30, min_samples_leaf=20)),
    Case("voting-boosters", VOTING, _voting_boosters),
    Case("voting-mixed-weighted", VOTING, _voting_mixed),
]
