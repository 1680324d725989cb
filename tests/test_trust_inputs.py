"""Inputs the package cannot take on trust: training sets that are not the fit's,
fits the smoother does not describe, and weights scikit-learn does not record.

Each defect class has one test written as the failing case (a wrong number or an
unclear error before these checks existed) and, where a family can be measured
after all, the right answer next to it. Oracles: the estimator's own ``predict``
(and scikit-learn's own refusal of reordered DataFrame columns), and closed forms
written plainly here (weighted ridge and least squares hat matrices).

The last part walks every registered family (``tests/cases``) with a wrong-rows,
shuffled-rows, reordered-columns and NaN ``X_train``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import effcomplexity as ec
from effcomplexity._validation import PREDICTION_RTOL, TrainingMismatchError
from effcomplexity.smoothers import get_smoother
from tests.cases import all_cases, predictions

MISMATCH = "X_train does not match the training set"


def _data(n=60, p=4, *, m=9, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2] + 0.3 * rng.normal(size=n) + 1.0
    return X, y, rng.normal(size=(m, p))


def _weights(n, seed=1):
    w = np.random.default_rng(seed).uniform(0.2, 3.0, size=n)
    w[4] = 0.0  # a zero weight: the row is in the data but not in the fit
    return w


def _close(actual, expected, rtol=1e-8):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# -- 1. feature names: reordered or renamed DataFrame columns -----------------------

_DATAFRAME_MODELS = {
    "ridge": Ridge(alpha=1.0),
    "ols": LinearRegression(),
    "knn": KNeighborsRegressor(n_neighbors=4),
    "kernel-ridge": KernelRidge(alpha=0.5, kernel="rbf"),
    "tree": DecisionTreeRegressor(max_leaf_nodes=6, random_state=0),
    "forest": RandomForestRegressor(n_estimators=4, max_depth=3, random_state=0),
    "gb": GradientBoostingRegressor(n_estimators=5, max_depth=2, random_state=0),
    "hgb": HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=5, random_state=0),
    "pipeline": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
    "voting": VotingRegressor([("r", Ridge()), ("t", DecisionTreeRegressor(max_depth=2))]),
}


@pytest.mark.parametrize("name", sorted(_DATAFRAME_MODELS))
def test_dataframe_columns_must_be_those_of_the_fit(name):
    X, y, X_test = _data()
    columns = ["a", "b", "c", "d"]
    frame, frame_test = pd.DataFrame(X, columns=columns), pd.DataFrame(X_test, columns=columns)
    est = clone(_DATAFRAME_MODELS[name]).fit(frame, y)
    reordered = frame[columns[::-1]]
    renamed = frame.rename(columns={"a": "z"})
    # The failing case: the values of reordered columns were read in their new order.
    for bad in (reordered, renamed):
        with pytest.raises(ValueError):  # oracle: scikit-learn's own predict refuses it
            est.predict(bad)
        with pytest.raises(TrainingMismatchError, match="feature_names_in_"):
            ec.effective_parameters(est, bad)
        with pytest.raises(ValueError, match="feature_names_in_|feature names"):
            ec.smoother_matrix(est, frame, frame_test[columns[::-1]])
    # The right columns in the right order: the same numbers as the arrays.
    S = ec.smoother_matrix(est, frame, frame_test, y_train=y)
    _close(S @ y, est.predict(frame_test))
    _close(S, ec.smoother_matrix(est, X, X_test))


def test_statsmodels_design_columns_must_be_the_models():
    import statsmodels.api as sm

    X, y, _ = _data()
    design = sm.add_constant(pd.DataFrame(X, columns=["a", "b", "c", "d"]))
    results = sm.OLS(y, design).fit()
    with pytest.raises(TrainingMismatchError, match="exog_names"):
        ec.degrees_of_freedom(results, design[design.columns[::-1]])
    with pytest.raises(ValueError, match="exog_names"):
        ec.smoother_matrix(results, design, design[design.columns[::-1]])
    assert ec.degrees_of_freedom(results, design, y_train=y) == pytest.approx(5.0, abs=1e-9)


# -- 1. models that record nothing about X_train: y_train -------------------------


def _ridge_hat(X, alpha, w=None):
    """Closed form: Z (Z^T W Z + alpha D)^{-1} Z^T W with Z = [1, X], D = diag(0, 1, ...)."""
    n = len(X)
    w = np.ones(n) if w is None else w
    Z = np.column_stack([np.ones(n), X])
    D = np.eye(Z.shape[1])
    D[0, 0] = 0.0
    return Z @ np.linalg.solve(Z.T @ (w[:, None] * Z) + alpha * D, Z.T * w)


@pytest.mark.parametrize(
    "wrong",
    ["shuffled", "scaled", "other-rows", "shortened", "reordered-columns"],
)
def test_ridge_needs_y_train_to_check_x_train(wrong):
    X, y, _ = _data(seed=2)
    ridge = Ridge(alpha=2.0).fit(X, y)
    rng = np.random.default_rng(3)
    X_bad, y_bad = {
        "shuffled": (X[rng.permutation(len(X))], y),
        "scaled": (2.0 * X, y),
        "other-rows": (rng.normal(size=X.shape), y),
        "shortened": (X[:-5], y[:-5]),
        "reordered-columns": (X[:, ::-1], y),
    }[wrong]
    # The failing case: ridge stores only coefficients, so this is a number...
    assert np.isfinite(ec.effective_parameters(ridge, X_bad))
    # ... that y_train exposes, with the size of the mismatch.
    for measure in (ec.effective_parameters, ec.degrees_of_freedom, ec.smoother_matrix):
        with pytest.raises(TrainingMismatchError, match=r"differ .* by up to \d"):
            measure(ridge, X_bad, y_train=y_bad)
    # The right training set passes, with the closed-form trace.
    trace = np.trace(_ridge_hat(X, 2.0))
    assert ec.degrees_of_freedom(ridge, X, y_train=y) == pytest.approx(trace, rel=1e-10)


def test_y_train_is_checked_for_class_labels_and_returns_the_same_numbers():
    X, y, X_test = _data(seed=4)
    labels = (y > np.median(y)).astype(int) + 2 * (X[:, 3] > 0)
    tree = DecisionTreeClassifier(max_leaf_nodes=6, random_state=0).fit(X, labels)
    one_hot = np.eye(4)[labels]
    plain = ec.effective_parameters(tree, X, X_test)
    assert ec.effective_parameters(tree, X, X_test, y_train=labels) == plain
    assert ec.effective_parameters(tree, X, X_test, y_train=one_hot) == plain
    with pytest.raises(TrainingMismatchError):
        ec.effective_parameters(tree, X, y_train=np.roll(labels, 1))


def test_prediction_tolerance_sits_between_rounding_and_real_mismatches():
    """Histogram boosting (float32 gradients) agrees far inside the tolerance; one
    swapped pair of training rows of a tree is far outside it."""
    X, y, _ = _data(n=200, seed=5)
    hgb = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    gap = np.max(np.abs(ec.smooth(hgb, X, y) - hgb.predict(X))) / np.max(np.abs(y))
    assert gap < PREDICTION_RTOL / 10
    tree = DecisionTreeRegressor(max_leaf_nodes=10, random_state=0).fit(X, y)
    swapped = X.copy()
    leaves = tree.apply(X)
    i, j = 0, int(np.flatnonzero(leaves != leaves[0])[0])
    swapped[[i, j]] = swapped[[j, i]]
    with pytest.raises(TrainingMismatchError):
        ec.effective_parameters(tree, swapped, y_train=y)


# -- 2. fits the smoother does not describe ----------------------------------------


def test_unconverged_iterative_ridge_is_refused():
    X, y, _ = _data(seed=6)
    for solver, kw in (("sag", {"tol": 1e-8, "max_iter": 3}), ("lsqr", {"max_iter": 1})):
        ridge = Ridge(alpha=2.0, solver=solver, random_state=0, **kw)
        with pytest.warns(Warning) if solver == "sag" else _no_warning():
            ridge.fit(X, y)
        # The failing case: the closed-form smoother misses its predictions.
        S = _ridge_hat(X, 2.0)
        assert np.max(np.abs(S @ y - ridge.predict(X))) > 1e-2
        with pytest.raises(ValueError, match="max_iter"):
            ec.effective_parameters(ridge, X)


def test_sag_at_its_default_tolerance_is_refused_and_a_tight_one_measured():
    X, y, _ = _data(seed=6)
    loose = Ridge(alpha=2.0, solver="saga", random_state=0).fit(X, y)
    assert np.max(np.abs(_ridge_hat(X, 2.0) @ y - loose.predict(X))) > 1e-5
    with pytest.raises(ValueError, match="tol"):
        ec.degrees_of_freedom(loose, X)
    tight = Ridge(alpha=2.0, solver="sag", tol=1e-12, max_iter=100_000, random_state=0)
    tight.fit(X, y)
    df = ec.degrees_of_freedom(tight, X, y_train=y)
    assert df == pytest.approx(np.trace(_ridge_hat(X, 2.0)), rel=1e-10)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(
    "selector",
    [
        SelectKBest(f_regression, k=2),
        ColumnTransformer([("select", SelectKBest(f_regression, k=1), [0, 1, 2])]),
    ],
    ids=["select-k-best", "inside-column-transformer"],
)
def test_pipeline_with_a_label_dependent_step_is_refused(selector):
    X, y, X_test = _data(seed=7)
    pipe = make_pipeline(selector, Ridge(alpha=1.0)).fit(X, y)
    # The failing case: the smoother reproduces the predictions exactly, yet the
    # selected columns depend on y, so it is not the pipeline's linear smoother.
    final = pipe[-1]
    features = pipe[:-1].transform(X)
    _close(ec.smoother_matrix(final, features) @ y, pipe.predict(X))
    with pytest.raises(TypeError, match="SelectKBest.*LABEL_FREE_TRANSFORMERS"):
        ec.effective_parameters(pipe, X)


def test_label_free_column_transformer_is_measured():
    X, y, X_test = _data(seed=7)
    columns = ColumnTransformer(
        [("scale", StandardScaler(), [0, 1]), ("poly", PolynomialFeatures(2), [2, 3])]
    )
    pipe = make_pipeline(columns, Ridge(alpha=1.0)).fit(X, y)
    _close(ec.smoother_matrix(pipe, X, X_test, y_train=y) @ y, pipe.predict(X_test))


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            TransformedTargetRegressor(regressor=Ridge(), func=np.log1p, inverse_func=np.expm1),
            "regressor_",
        ),
        (RidgeCV(alphas=[0.1, 1.0, 10.0]), r"Ridge\(alpha=model.alpha_\)"),
    ],
    ids=["transformed-target", "ridge-cv"],
)
def test_look_alikes_name_what_to_measure(estimator, message):
    X, y, _ = _data(seed=8)
    estimator.fit(X, np.abs(y))
    with pytest.raises(TypeError, match=message):
        ec.effective_parameters(estimator, X)


@pytest.mark.parametrize("model", ["forest", "gb"])
def test_warm_start_on_other_data_is_refused(model):
    X, y, _ = _data(seed=9)
    X2, y2, _ = _data(seed=10)
    if model == "forest":
        est = RandomForestRegressor(n_estimators=3, max_depth=3, bootstrap=False, random_state=0)
    else:
        est = GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0)
    est.set_params(warm_start=True).fit(X, y)
    est.set_params(n_estimators=6).fit(X2, y2)
    # Trees of the first fit saw other rows: neither training set matches all trees.
    for X_train, y_train in ((X, y), (X2, y2)):
        with pytest.raises(TrainingMismatchError, match="leaf sizes"):
            ec.effective_parameters(est, X_train, y_train=y_train)


def test_knn_callable_weights_are_label_free_and_checked():
    X, y, X_test = _data(seed=11)
    knn = KNeighborsRegressor(n_neighbors=5, weights=lambda d: np.exp(-d)).fit(X, y)
    _close(ec.smoother_matrix(knn, X, X_test, y_train=y) @ y, knn.predict(X_test))
    broken = KNeighborsRegressor(n_neighbors=5, weights=lambda d: d[:, :1]).fit(X, y)
    with pytest.raises(ValueError, match="one finite weight per neighbour"):
        ec.effective_parameters(broken, X)


def test_class_weight_is_refused():
    X, y, _ = _data(seed=12)
    labels = (y > np.median(y)).astype(int)
    tree = DecisionTreeClassifier(max_depth=3, class_weight="balanced").fit(X[:45], labels[:45])
    with pytest.raises(ValueError, match="class_weight"):
        ec.effective_parameters(tree, X[:45])


# -- 2. sample_weight, which scikit-learn does not record ---------------------------

_WEIGHTED = {
    "ridge": Ridge(alpha=2.0),
    "ridge-no-intercept": Ridge(alpha=2.0, fit_intercept=False),
    "ridge-sag": Ridge(alpha=2.0, solver="sag", tol=1e-12, max_iter=100_000, random_state=0),
    "ols": LinearRegression(),
    "ols-no-intercept": LinearRegression(fit_intercept=False),
    "kernel-ridge": KernelRidge(alpha=0.5, kernel="rbf", gamma=0.3),
    "tree": DecisionTreeRegressor(max_leaf_nodes=8, random_state=0),
    "forest-no-bootstrap": RandomForestRegressor(
        n_estimators=4, max_features=2, bootstrap=False, random_state=0
    ),
    "gb": GradientBoostingRegressor(n_estimators=8, max_depth=2, random_state=0),
    "gb-init-zero": GradientBoostingRegressor(
        n_estimators=8, max_leaf_nodes=4, init="zero", random_state=0
    ),
    "hgb": HistGradientBoostingRegressor(
        max_iter=8, max_leaf_nodes=6, min_samples_leaf=5, l2_regularization=1.0, random_state=0
    ),
    "voting": VotingRegressor([("gb", GradientBoostingRegressor(n_estimators=4)), ("r", Ridge())]),
    "pipeline": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
}


def _fit_weighted(name, X, y, w):
    est = clone(_WEIGHTED[name])
    if name == "pipeline":
        return est.fit(X, y, ridge__sample_weight=w)
    return est.fit(X, y, sample_weight=w)


@pytest.mark.parametrize("name", sorted(_WEIGHTED))
def test_weighted_fits_get_the_weighted_smoother(name):
    X, y, X_test = _data(n=80, seed=13)
    w = _weights(len(y))
    est = _fit_weighted(name, X, y, w)
    # The failing case: without the weights, an error or a detected mismatch.
    with pytest.raises(ValueError):
        ec.effective_parameters(est, X, y_train=y)
    smoother = get_smoother(est, X, y_train=y, sample_weight=w)
    for X_eval in (None, X_test):
        S = smoother.matrix(X_eval)
        _close(S @ y, est.predict(X if X_eval is None else X_eval), rtol=1e-7)
        _close(smoother.row_norms_sq(X_eval), (S**2).sum(axis=1))
    _close(smoother.trace(), np.trace(smoother.matrix()))
    value = ec.effective_parameters(est, X, X_test, sample_weight=w, y_train=y)
    _close(value, len(y) / len(X_test) * np.sum(smoother.matrix(X_test) ** 2))


def test_weighted_ridge_and_least_squares_match_the_closed_form():
    X, y, _ = _data(n=50, seed=14)
    w = _weights(len(y))
    ridge = Ridge(alpha=3.0).fit(X, y, sample_weight=w)
    _close(ec.smoother_matrix(ridge, X, sample_weight=w), _ridge_hat(X, 3.0, w))
    ols = LinearRegression().fit(X, y, sample_weight=w)
    hat = _ridge_hat(X, 0.0, w)  # weighted least squares
    _close(ec.smoother_matrix(ols, X, sample_weight=w), hat)
    # tr(S) of weighted least squares is the rank of the design with an intercept.
    assert ec.degrees_of_freedom(ols, X, sample_weight=w) == pytest.approx(5.0, abs=1e-9)


def test_families_without_weighted_smoothers_say_so():
    X, y, _ = _data(seed=15)
    knn = KNeighborsRegressor(n_neighbors=3).fit(X, y)
    with pytest.raises(ValueError, match="sample_weight are not available"):
        ec.effective_parameters(knn, X, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        ec.effective_parameters(Ridge().fit(X, y), X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        ec.effective_parameters(Ridge().fit(X, y), X, sample_weight=-np.ones(len(y)))


def test_wrong_weights_are_caught_where_the_fit_records_them():
    X, y, _ = _data(seed=16)
    w = _weights(len(y))
    for est in (
        DecisionTreeRegressor(max_depth=3, random_state=0),
        GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0),
    ):
        est.fit(X, y, sample_weight=w)
        with pytest.raises(TrainingMismatchError):
            ec.effective_parameters(est, X, sample_weight=w[::-1])


# -- 8. every registered family with bad training inputs ----------------------------

CASES = all_cases()
BAD_KINDS = ("wrong-rows", "shuffled-rows", "reordered-columns", "nan")


def _bad_training_set(kind, X, y):
    X = np.array(X, dtype=float)
    if kind == "wrong-rows":
        return X[:-1], y[:-1]
    if kind == "shuffled-rows":
        return X[np.random.default_rng(0).permutation(len(X))], y
    if kind == "reordered-columns":
        return X[:, ::-1], y
    X[3, 0] = np.nan
    return X, y


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def fitted(request):
    case = request.param
    est, X_train, y_train, X_test = case.make()
    return case, est, np.asarray(X_train), np.asarray(y_train, dtype=float), X_test


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_training_inputs_raise_or_are_harmless(fitted, kind):
    """With y_train, a bad X_train raises a clear error, unless the model's predictions
    and measures cannot tell it from the real one (a constant model)."""
    case, est, X_train, y_train, X_test = fitted
    X_bad, y_bad = _bad_training_set(kind, X_train, y_train)
    if kind == "nan":
        with pytest.raises(ValueError, match="X_train contains NaN"):
            ec.effective_parameters(est, X_bad, y_train=y_bad)
        return
    try:
        value = ec.effective_parameters(est, X_bad, X_test, y_train=y_bad)
    except TrainingMismatchError as err:
        assert str(err).startswith(MISMATCH)
        assert "Pass the exact training inputs, in the order used to fit." in str(err)
        return
    # Not detected: only acceptable when nothing differs from the real training set.
    _close(ec.smooth(est, X_bad, y_bad, X_bad), predictions(case, est, X_bad))
    assert value == pytest.approx(ec.effective_parameters(est, X_train, X_test), rel=1e-10)


#: Families that need y_train to notice a bad X_train of each kind (everything else
#: raises without it); the user guide's table says the same.
NEEDS_Y_TRAIN = {
    "wrong-rows": {"Ridge", "Pipeline"},
    "shuffled-rows": {
        "Ridge",
        "LinearRegression",
        "Pipeline",
        "DecisionTreeRegressor",
        "DecisionTreeClassifier",
        "ForestSmoother-no-bootstrap",
        "GradientBoostingRegressor",
        "HistGradientBoostingRegressor",
        "VotingRegressor",
    },
    "reordered-columns": {"Ridge", "LinearRegression", "Pipeline"},
}


def _needs_y_train(case, est, kind) -> bool:
    family = case.family.rsplit(".", 1)[-1]
    if hasattr(est, "best_estimator_"):  # a search is measured through its refitted model
        est = est.best_estimator_
        family = type(est).__name__
    if (
        family
        in (
            "RandomForestRegressor",
            "RandomForestClassifier",
            "ExtraTreesRegressor",
            "ExtraTreesClassifier",
        )
        and not est.bootstrap
    ):
        family = "ForestSmoother-no-bootstrap"
    members = getattr(est, "estimators_", None)
    if family.startswith("Bagging") and not hasattr(members[0], "tree_"):
        # Bagging of another family checks X_train as far as its members can.
        family = type(members[0]).__name__
    return family in NEEDS_Y_TRAIN.get(kind, set())


@pytest.mark.parametrize("kind", ["wrong-rows", "shuffled-rows", "reordered-columns"])
def test_families_that_record_their_training_rows_check_without_y_train(fitted, kind):
    case, est, X_train, y_train, X_test = fitted
    if _needs_y_train(case, est, kind):
        pytest.skip("the fitted model records nothing that tells this X_train apart")
    X_bad, _ = _bad_training_set(kind, X_train, y_train)
    try:
        ec.effective_parameters(est, X_bad, X_test)
    except TrainingMismatchError:
        return
    # Not detected: only acceptable when it changes nothing (a constant model).
    assert ec.effective_parameters(est, X_bad, X_test) == pytest.approx(
        ec.effective_parameters(est, X_train, X_test), rel=1e-10
    )


# -- a Smoother passed as the estimator is bound to its X_train -----------------------

BOUND = "A Smoother is bound to its training inputs"


def test_smoother_with_another_x_train_raises(fitted):
    """Every family: a Smoother with a shuffled or shortened X_train raises; with None
    or an equal copy it gives the estimator's own number (the oracle: the same call on
    the fitted estimator and its training inputs)."""
    case, est, X_train, y_train, X_test = fitted
    smoother = get_smoother(est, X_train, y_train=y_train)
    expected = ec.effective_parameters(est, X_train, X_test, y_train=y_train)
    for same in (None, X_train.copy()):
        assert ec.effective_parameters(smoother, same, X_test) == pytest.approx(expected, rel=1e-12)
    shuffled = X_train[np.random.default_rng(0).permutation(len(X_train))]
    for bad in (shuffled, X_train[:-1]):
        with pytest.raises(TrainingMismatchError, match=BOUND):
            ec.effective_parameters(smoother, bad, X_test)


def _forest():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    forest = RandomForestRegressor(n_estimators=4, max_leaf_nodes=6, random_state=0).fit(X, y)
    return forest, X, y, rng.normal(size=(7, 3))


def _entry_points(X, y, X_test):
    """Every public function that takes (estimator, X_train, ...)."""
    return {
        "get_smoother": lambda est, Xt: get_smoother(est, Xt).matrix(X_test),
        "smoother_matrix": lambda est, Xt: ec.smoother_matrix(est, Xt, X_test),
        "smooth": lambda est, Xt: ec.smooth(est, Xt, y, X_test),
        "staged_predictions": lambda est, Xt: ec.staged_predictions(est, Xt, y, X_test),
        "effective_parameters": lambda est, Xt: ec.effective_parameters(est, Xt, X_test),
        "degrees_of_freedom": lambda est, Xt: ec.degrees_of_freedom(est, Xt, method="exact"),
        "staged_effective_parameters": lambda est, Xt: ec.staged_effective_parameters(
            est, Xt, X_test, method="exact"
        ),
        "staged_degrees_of_freedom": lambda est, Xt: ec.staged_degrees_of_freedom(
            est, Xt, method="exact"
        ),
        "smoother_trace": lambda est, Xt: ec.smoother_trace(est, Xt, method="exact"),
    }


@pytest.mark.parametrize("entry", list(_entry_points(None, None, None)))
def test_every_entry_point_checks_the_x_train_of_a_smoother(entry):
    """Oracle: the same function on the fitted forest and its own X_train."""
    forest, X, y, X_test = _forest()
    call = _entry_points(X, y, X_test)[entry]
    smoother = get_smoother(forest, X)
    expected = np.asarray(call(forest, X))
    np.testing.assert_allclose(np.asarray(call(smoother, None)), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(call(smoother, X.copy())), expected, rtol=1e-12)
    with pytest.raises(TrainingMismatchError, match="its values or row order differ"):
        call(smoother, X[::-1])
    with pytest.raises(TrainingMismatchError, match=r"shape \(39, 3\), the Smoother's"):
        call(smoother, X[1:])


def test_pipeline_smoother_compares_dataframe_inputs():
    """A pipeline keeps its DataFrame inputs; an equal frame passes, a reordered one raises."""
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
    y = rng.normal(size=30)
    pipe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, y)
    smoother = get_smoother(pipe, X, y_train=y)
    expected = ec.effective_parameters(pipe, X, y_train=y)
    assert ec.effective_parameters(smoother, X.copy()) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(TrainingMismatchError, match=BOUND):
        ec.effective_parameters(smoother, X.iloc[::-1])
