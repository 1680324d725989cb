"""Smoothers of gradient boosting, histogram boosting and VotingRegressor ensembles.

Oracles:

* a plain brute-force implementation of the boosting recurrence written here
  (Buhlmann & Yu 2003; Curth, Jeffares & van der Schaar 2023): dense
  ``n x n`` leaf-averaging matrices built from leaf equality,
  ``S_t = S_{t-1} + lr L_t (I - S_{t-1})`` step by step, with leaf memberships
  taken from scikit-learn's public ``apply`` (gradient boosting) or a plain
  traversal of the fitted nodes (histogram boosting);
* closed forms for one round and for unsplittable trees;
* scikit-learn's own ``staged_predict``;
* the exact values, for the random-probe estimates (within 3 standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

import effcomplexity as ec
import effcomplexity.smoothers.boosting  # noqa: F401  (registration)
from effcomplexity.smoothers import get_smoother
from tests.cases.boosting import curth_booster, data

GDF = "generalized_degrees_of_freedom"


@pytest.fixture(autouse=True, scope="module")
def _one_openmp_thread():
    """Histogram boosting parallelises tiny fits with OpenMP; one thread is faster here."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _close(actual, expected, rtol=1e-10):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# -- brute force -----------------------------------------------------------------------


def _hgb_leaf(predictor, rows, binned: bool) -> np.ndarray:
    """Leaf node of every row, walking the fitted nodes one comparison at a time."""
    nodes = predictor.nodes
    out = np.empty(len(rows), dtype=int)
    for i, x in enumerate(rows):
        node = 0
        while not nodes["is_leaf"][node]:
            feature = nodes["feature_idx"][node]
            threshold = nodes["bin_threshold"][node] if binned else nodes["num_threshold"][node]
            node = nodes["left"][node] if x[feature] <= threshold else nodes["right"][node]
        out[i] = node
    return out


def _leaves(est, X_train, X_eval):
    """Per round: leaves of the training rows as fitted, and of the evaluation rows."""
    if isinstance(est, GradientBoostingRegressor):
        trees = est.estimators_[:, 0]
        return [(tree.apply(X_train), tree.apply(X_eval)) for tree in trees]
    binned = est._bin_mapper.transform(X_train)  # the model's own binning of its inputs
    return [
        (_hgb_leaf(p, binned, binned=True), _hgb_leaf(p, X_eval, binned=False))
        for (p,) in est._predictors
    ]


def _brute_force(est, X_train, X_eval) -> list[np.ndarray]:
    """Dense ``S_t(X_eval)`` after every round, by the recurrence with n x n matrices."""
    n = len(X_train)
    if isinstance(est, GradientBoostingRegressor):
        intercept = not (isinstance(est.init_, str) or est.init_.strategy == "constant")
        l2 = 0.0
    else:
        intercept, l2 = True, est.l2_regularization
    S = np.full((n, n), 1.0 / n) if intercept else np.zeros((n, n))
    S_eval = np.full((len(X_eval), n), 1.0 / n) if intercept else np.zeros((len(X_eval), n))
    stages = []
    for fit, ev in _leaves(est, X_train, X_eval):
        same = (fit[:, None] == fit[None, :]).astype(float)
        same_eval = (ev[:, None] == fit[None, :]).astype(float)
        L = same / (same.sum(axis=1) + l2)[:, None]
        L_eval = same_eval / (same_eval.sum(axis=1) + l2)[:, None]
        if len(np.unique(fit)) == 1 and isinstance(est, HistGradientBoostingRegressor):
            # scikit-learn keeps a histogram tree that could not split at the value 0.
            L, L_eval = 0 * L, 0 * L_eval
        residual = np.eye(n) - S
        S_eval = S_eval + est.learning_rate * L_eval @ residual
        S = S + est.learning_rate * L @ residual
        stages.append(S_eval)
    return stages


def _p(S: np.ndarray, n: int) -> float:
    return n / S.shape[0] * float(np.sum(S**2))


def _voting_brute_force(vote, X_train, X_eval) -> list[np.ndarray]:
    """Stage t of an equally weighted ensemble: the mean of the members' S_t."""
    per_member = [_brute_force(member, X_train, X_eval) for member in vote.estimators_]
    return [np.mean(stage, axis=0) for stage in zip(*per_member, strict=True)]


MODELS = {
    "gb-zero": lambda: GradientBoostingRegressor(
        n_estimators=12, max_depth=2, learning_rate=0.5, init="zero", random_state=0
    ),
    "gb-mean-leaf-nodes": lambda: GradientBoostingRegressor(
        n_estimators=10, max_leaf_nodes=5, learning_rate=0.3, random_state=0
    ),
    "gb-dummy-zero-sqrt": lambda: GradientBoostingRegressor(
        n_estimators=12,
        max_leaf_nodes=4,
        learning_rate=0.85,
        max_features="sqrt",
        init=DummyRegressor(strategy="constant", constant=0.0),
        random_state=0,
    ),
    "gb-dummy-mean-deep": lambda: GradientBoostingRegressor(
        n_estimators=5,
        max_depth=None,
        min_samples_leaf=2,
        learning_rate=0.2,
        init=DummyRegressor(strategy="mean"),
        random_state=0,
    ),
    # Learning rates above 2 make 2 lr - lr^2 negative: the Gram identity's other branch.
    "gb-learning-rate-2.5": lambda: GradientBoostingRegressor(
        n_estimators=3, max_depth=2, learning_rate=2.5, random_state=0
    ),
    "hgb": lambda: HistGradientBoostingRegressor(
        max_iter=10, max_leaf_nodes=6, min_samples_leaf=5, learning_rate=0.3, random_state=0
    ),
    "hgb-l2": lambda: HistGradientBoostingRegressor(
        max_iter=8, max_leaf_nodes=12, min_samples_leaf=3, l2_regularization=3.0, random_state=0
    ),
}


@pytest.fixture(params=["factors", "dense", None])
def route(request):
    """Each exact path forced (leaf factors, dense recursion), or chosen by cost."""
    return request.param


def _smoother(est, X, route):
    smoother = get_smoother(est, X)
    # The private switch the exact norms and traces read; None lets the cost model choose.
    smoother._exact_path = route
    return smoother


@pytest.mark.parametrize("name", sorted(MODELS))
def test_staged_p_matches_brute_force(name, route):
    X, y, X_test = data(n=80, m=20)
    est = MODELS[name]().fit(X, y)
    n = len(X)
    expected_train = [_p(S, n) for S in _brute_force(est, X, X)]
    expected_test = [_p(S, n) for S in _brute_force(est, X, X_test)]
    smoother = _smoother(est, X, route)
    _close(ec.staged_effective_parameters(smoother, X, method="exact"), expected_train)
    _close(ec.staged_effective_parameters(smoother, X, X_test, method="exact"), expected_test)
    _close(ec.effective_parameters(smoother, X, X_test, method="exact"), expected_test[-1])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_matrix_and_trace_match_brute_force(name, route):
    X, y, X_test = data(n=60, m=10, seed=3)
    est = MODELS[name]().fit(X, y)
    S_train, S_test = _brute_force(est, X, X)[-1], _brute_force(est, X, X_test)[-1]
    smoother = _smoother(est, X, route)
    _close(smoother.matrix(X_test), S_test)
    _close(ec.degrees_of_freedom(smoother, X), np.trace(S_train))


def test_ensemble_of_boosters_matches_brute_force():
    """Curth et al.'s ensemble of boosters: stage t averages every member after t rounds."""
    X, y, X_test = data(n=80, m=20, seed=1)
    vote = VotingRegressor([(f"gb{s}", curth_booster(s, n_rounds=6)) for s in (1, 2, 3)])
    vote.fit(X, y)
    n = len(X)
    expected_train = [_p(S, n) for S in _voting_brute_force(vote, X, X)]
    expected_test = [_p(S, n) for S in _voting_brute_force(vote, X, X_test)]
    _close(ec.staged_effective_parameters(vote, X), expected_train)
    _close(ec.staged_effective_parameters(vote, X, X_test), expected_test)


def test_weighted_voting_matches_brute_force():
    X, y, X_test = data(n=60, m=10, seed=2)
    vote = VotingRegressor(
        [("a", MODELS["gb-zero"]()), ("b", MODELS["hgb"]()), ("c", MODELS["gb-mean-leaf-nodes"]())],
        weights=[1.0, 3.0, 0.5],
    ).fit(X, y)
    finals = [_brute_force(member, X, X_test)[-1] for member in vote.estimators_]
    expected = (1.0 * finals[0] + 3.0 * finals[1] + 0.5 * finals[2]) / 4.5
    assert not get_smoother(vote, X).supports_staged  # 12, 10 and 10 rounds
    _close(ec.smoother_matrix(vote, X, X_test), expected)
    _close(ec.effective_parameters(vote, X, X_test), _p(expected, len(X)))


# -- closed forms ----------------------------------------------------------------------


@pytest.mark.parametrize("learning_rate", [0.3, 1.0])
def test_one_round_closed_forms(learning_rate):
    """One round, K leaves (projection L): from zero, S = lr L and p_train = lr^2 K;
    from the mean J, S = (1 - lr) J + lr L and p_train = 1 - lr^2 + lr^2 K."""
    X, y, _ = data(n=50)
    params = dict(n_estimators=1, max_leaf_nodes=6, learning_rate=learning_rate)
    zero = GradientBoostingRegressor(init="zero", **params).fit(X, y)
    mean = GradientBoostingRegressor(**params).fit(X, y)
    K = zero.estimators_[0, 0].tree_.n_leaves
    assert ec.effective_parameters(zero, X) == pytest.approx(learning_rate**2 * K, rel=1e-12)
    K = mean.estimators_[0, 0].tree_.n_leaves
    assert ec.effective_parameters(mean, X) == pytest.approx(
        1 - learning_rate**2 + learning_rate**2 * K, rel=1e-12
    )


def test_unsplittable_histogram_trees_give_the_mean():
    """Trees that cannot split keep the value 0: the model is the mean, S = 11^T / n,
    and p-hat = 1 on any inputs at every stage."""
    X, y, X_test = data(n=30, m=7)
    est = HistGradientBoostingRegressor(max_iter=3, min_samples_leaf=20).fit(X, y)
    np.testing.assert_allclose(ec.smoother_matrix(est, X, X_test), np.full((7, 30), 1 / 30))
    np.testing.assert_allclose(ec.staged_effective_parameters(est, X, X_test), np.ones(3))


# -- staged predictions ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_staged_smooth_equals_staged_predict(name):
    X, y, X_test = data(n=80, m=20)
    est = MODELS[name]().fit(X, y)
    smoother = get_smoother(est, X)
    # Histogram boosting computes residuals in float32 (about 1e-8 relative).
    rtol = 1e-10 if isinstance(est, GradientBoostingRegressor) else 1e-6
    for X_eval, rows in ((None, X), (X_test, X_test)):
        staged = list(smoother.staged_smooth(y, X_eval))
        expected = list(est.staged_predict(rows))
        assert len(staged) == len(expected) == smoother.n_stages()
        for ours, theirs in zip(staged, expected, strict=True):
            _close(ours, theirs, rtol=rtol)


def test_staged_smooth_of_booster_ensemble_averages_members():
    X, y, X_test = data(n=60, m=10, seed=4)
    vote = VotingRegressor([(f"gb{s}", curth_booster(s)) for s in (1, 2)]).fit(X, y)
    expected = np.mean([list(m.staged_predict(X_test)) for m in vote.estimators_], axis=0)
    staged = np.array(list(get_smoother(vote, X).staged_smooth(y, X_test)))
    _close(staged, expected)
    _close(staged[-1], vote.predict(X_test))


def test_staged_smooth_yields_a_new_array_every_round():
    X, y, _ = data(n=40)
    est = MODELS["gb-zero"]().fit(X, y)
    stages = list(get_smoother(est, X).staged_smooth(y[:, None]))
    assert not np.shares_memory(stages[0], stages[-1])
    assert stages[0].shape == (40, 1)


# -- random probes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gb-zero", "gb-dummy-mean-deep", "hgb-l2"])
def test_probe_estimates_are_unbiased(name):
    X, y, X_test = data(n=80, m=20, seed=5)
    est = MODELS[name]().fit(X, y)
    for X_eval in (None, X_test):
        exact = ec.effective_parameters(est, X, X_eval, method="exact")
        estimate, se = ec.effective_parameters(
            est, X, X_eval, method="probe", n_probes=200, random_state=0, return_std=True
        )
        assert se > 0
        assert abs(estimate - exact) <= 3 * se


def test_staged_probe_estimates_are_unbiased():
    X, y, X_test = data(n=80, m=20, seed=6)
    vote = VotingRegressor([(f"gb{s}", curth_booster(s)) for s in (1, 2)]).fit(X, y)
    exact = ec.staged_effective_parameters(vote, X, X_test, method="exact")
    estimate, se = ec.staged_effective_parameters(
        vote, X, X_test, method="probe", n_probes=200, random_state=1, return_std=True
    )
    assert np.all(np.abs(estimate - exact) <= 3 * se)


# -- bad input -------------------------------------------------------------------------


def _fit(est, n=50, **fit_params):
    X, y, _ = data(n=n)
    return est.fit(X, y, **fit_params), X


@pytest.mark.parametrize(
    "est, match",
    [
        (GradientBoostingRegressor(n_estimators=3, subsample=0.5), "subsample"),
        (GradientBoostingRegressor(n_estimators=3, loss="absolute_error"), "loss"),
        (GradientBoostingRegressor(n_estimators=3, loss="huber"), "loss"),
        (GradientBoostingRegressor(n_estimators=3, loss="quantile"), "loss"),
        (GradientBoostingRegressor(n_estimators=30, n_iter_no_change=2), "n_iter_no_change"),
        (GradientBoostingRegressor(n_estimators=3, init=DummyRegressor(strategy="median")), "init"),
        (
            GradientBoostingRegressor(
                n_estimators=3, init=DummyRegressor(strategy="quantile", quantile=0.3)
            ),
            "init",
        ),
        (
            GradientBoostingRegressor(
                n_estimators=3, init=DummyRegressor(strategy="constant", constant=1.5)
            ),
            "init",
        ),
        (GradientBoostingRegressor(n_estimators=3, init=LinearRegression()), "init"),
        (HistGradientBoostingRegressor(max_iter=3, loss="absolute_error"), "loss"),
        (HistGradientBoostingRegressor(max_iter=3, loss="quantile", quantile=0.3), "loss"),
        (HistGradientBoostingRegressor(max_iter=3, monotonic_cst=[1, 0, 0, 0]), "monotonic"),
        (
            HistGradientBoostingRegressor(
                max_iter=20, early_stopping=True, validation_fraction=0.2, n_iter_no_change=2
            ),
            "validation split",
        ),
    ],
)
def test_unsupported_configurations_point_to_gdf(est, match):
    fitted, X = _fit(est)
    with pytest.raises(ValueError, match=match) as err:
        get_smoother(fitted, X)
    assert GDF in str(err.value)


def test_sample_weights_point_to_gdf():
    est, X = _fit(
        GradientBoostingRegressor(n_estimators=3), sample_weight=np.linspace(0.5, 2.0, 50)
    )
    with pytest.raises(ValueError, match="sample weights") as err:
        get_smoother(est, X)
    assert GDF in str(err.value)


@pytest.mark.parametrize(
    "classifier",
    [GradientBoostingClassifier(n_estimators=3), HistGradientBoostingClassifier(max_iter=3)],
)
def test_classifier_boosters_point_to_gdf(classifier):
    X, y, _ = data(n=50)
    classifier.fit(X, y > np.median(y))
    with pytest.raises(TypeError, match="log-loss") as err:
        ec.effective_parameters(classifier, X)
    assert GDF in str(err.value)


def test_unsupported_member_of_an_ensemble_points_to_gdf():
    X, y, _ = data(n=50)
    vote = VotingRegressor(
        [("ok", MODELS["gb-zero"]()), ("bad", GradientBoostingRegressor(subsample=0.5))]
    ).fit(X, y)
    with pytest.raises(ValueError, match="subsample") as err:
        ec.effective_parameters(vote, X)
    assert GDF in str(err.value)


@pytest.mark.parametrize("name", ["gb-zero", "hgb"])
def test_training_inputs_must_match(name):
    X, y, _ = data(n=50)
    est = MODELS[name]().fit(X, y)
    with pytest.raises(ValueError, match="rows"):
        get_smoother(est, X[:-1])
    shifted = X + np.random.default_rng(0).normal(size=X.shape)
    with pytest.raises(ValueError, match="leaf sizes"):
        get_smoother(est, shifted)


def test_ensemble_with_unequal_rounds_has_no_stages():
    X, y, _ = data(n=50)
    vote = VotingRegressor([("a", curth_booster(1, 4)), ("b", curth_booster(2, 6))]).fit(X, y)
    smoother = get_smoother(vote, X)
    assert not smoother.supports_staged
    with pytest.raises(TypeError, match="equal numbers of stages"):
        smoother.n_stages()
    with pytest.raises(TypeError, match="no stages"):
        ec.staged_effective_parameters(vote, X)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_staged_degrees_of_freedom_match_brute_force(name, route):
    """tr(S_t) of every round against the traces of the brute-force matrices above."""
    X, y, _ = data(n=70, m=5, seed=4)
    est = MODELS[name]().fit(X, y)
    expected = [np.trace(S) for S in _brute_force(est, X, X)]
    _close(ec.staged_degrees_of_freedom(_smoother(est, X, route), X, method="exact"), expected)
    _close(ec.staged_degrees_of_freedom(est, X)[-1], ec.degrees_of_freedom(est, X))


def test_staged_degrees_of_freedom_probes_are_unbiased():
    """Over 200 probe seeds the mean estimate of every round is within 4 standard errors
    of the brute-force trace (the spread across seeds gives the standard error)."""
    X, y, _ = data(n=60, m=5, seed=7)
    est = curth_booster(3).fit(X, y)
    expected = np.array([np.trace(S) for S in _brute_force(est, X, X)])
    runs = np.array(
        [
            ec.staged_degrees_of_freedom(est, X, method="probe", n_probes=8, random_state=s)
            for s in range(200)
        ]
    )
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(runs.mean(axis=0) - expected) <= 4 * se)
    _, reported = ec.staged_degrees_of_freedom(
        est, X, method="probe", n_probes=8, random_state=0, return_std=True
    )
    assert np.all(reported > 0)


def test_staged_degrees_of_freedom_need_stages():
    X, y, _ = data(n=30, m=5)
    with pytest.raises(TypeError, match="has no stages"):
        ec.staged_degrees_of_freedom(LinearRegression().fit(X, y), X)
    with pytest.raises(ValueError, match="method must be one of"):
        ec.staged_degrees_of_freedom(curth_booster(0).fit(X, y), X, method="dense")


# -- choice of the exact path ------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "n_rounds", "chosen"),
    [
        # 120 rounds of 8 leaves on 30 rows: 960 leaves, far more than rows.
        (30, 120, "dense"),
        # 6 rounds of 8 leaves on 200 rows: fewer leaves than rows.
        (200, 6, "factors"),
    ],
)
def test_both_sides_of_the_path_switch_match_brute_force(n, n_rounds, chosen):
    """Each side of the cost-model switch, forced and chosen, against the brute force."""
    X, y, X_test = data(n=n, m=12, seed=5)
    est = GradientBoostingRegressor(
        n_estimators=n_rounds, max_leaf_nodes=8, learning_rate=0.1, init="zero", random_state=0
    ).fit(X, y)
    train, test = _brute_force(est, X, X), _brute_force(est, X, X_test)
    assert get_smoother(est, X)._path(n) == chosen
    for route in ("factors", "dense", None):
        smoother = _smoother(est, X, route)
        _close(ec.staged_effective_parameters(smoother, X), [_p(S, n) for S in train])
        _close(ec.staged_effective_parameters(smoother, X, X_test), [_p(S, n) for S in test])
        _close(ec.staged_degrees_of_freedom(smoother, X), [np.trace(S) for S in train])
        _close(smoother.staged_row_norms_sq(X_test), [np.sum(S**2, axis=1) for S in test])


def test_unknown_forced_path_is_refused():
    X, y, _ = data(n=30, m=5)
    smoother = _smoother(curth_booster(0).fit(X, y), X, "sparse")
    with pytest.raises(ValueError, match="_exact_path must be one of"):
        smoother.staged_row_norms_sq()


def test_auto_is_exact_where_exact_is_cheaper_than_probes():
    """``method="auto"`` returns the exact values (zero standard errors) at this size."""
    X, y, X_test = data(n=60, m=10, seed=6)
    est = curth_booster(1).fit(X, y)
    expected = [_p(S, 60) for S in _brute_force(est, X, X_test)]
    values, std = ec.staged_effective_parameters(est, X, X_test, return_std=True)
    _close(values, expected)
    assert np.all(std == 0)
    df, df_std = ec.staged_degrees_of_freedom(est, X, return_std=True)
    _close(df, [np.trace(S) for S in _brute_force(est, X, X)])
    assert np.all(df_std == 0)


def test_staged_trace_of_booster_ensemble_is_the_mean_of_the_members():
    """Oracle: the trace of the averaged brute-force matrices, every stage."""
    X, y, _ = data(n=50, m=5, seed=8)
    vote = VotingRegressor([(f"gb{s}", curth_booster(s, n_rounds=5)) for s in (1, 2)]).fit(X, y)
    expected = [np.trace(S) for S in _voting_brute_force(vote, X, X)]
    _close(ec.staged_degrees_of_freedom(vote, X, method="exact"), expected)


def test_leaf_factors_run_on_one_blas_thread(monkeypatch):
    """Oracle: threadpoolctl's own report of the BLAS thread counts, read inside
    the triangular inversion of the leaf-factor engine and after it: one thread
    inside, the caller's two restored after."""
    from scipy.linalg import lapack
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    seen = []
    original = lapack.dtrtri

    def recording_dtrtri(*args, **kwargs):
        seen.append(blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(lapack, "dtrtri", recording_dtrtri)
    X, y = data(120, 4, seed=3)[:2]
    booster = GradientBoostingRegressor(n_estimators=30, max_leaf_nodes=6, init="zero").fit(X, y)
    smoother = get_smoother(booster, X, y_train=y)
    smoother._exact_path = "factors"
    with threadpool_limits(limits=2, user_api="blas"):
        ec.staged_effective_parameters(smoother, X, method="exact")
        after = blas_threads()
    assert seen == [{1}]
    assert after == {2}
