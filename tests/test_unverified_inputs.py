"""Families that cannot check ``X_train`` say so; near-singular linear fits are refused.

Oracles: the fitted model's own ``predict`` (a smoother of the right training
set reproduces it, one of a shuffled set does not), numpy's ``matrix_rank`` for
least-squares ranks, and scikit-learn's own "Singular matrix" fit warning for
kernel ridge on a singular kernel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.ensemble import (
    BaggingRegressor,
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

import effcomplexity as ec
from effcomplexity import sweeps
from effcomplexity.exceptions import TrainingMismatchError, UnverifiedTrainingDataWarning
from effcomplexity.models import MinNormLeastSquares

N = 120
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 4))
Y = X @ [1.0, 2.0, 0.0, -1.0] + RNG.normal(size=N)
W = RNG.uniform(0.5, 2.0, size=N)
SHUFFLED = X[RNG.permutation(N)]


def _tree():
    return DecisionTreeRegressor(max_leaf_nodes=8, random_state=0)


# Families whose fitted model records nothing that tells shuffled rows apart.
UNVERIFIED = {
    "ridge": lambda: Ridge(alpha=1.0).fit(X, Y),
    "linear-regression": lambda: LinearRegression().fit(X, Y),
    "tree": lambda: _tree().fit(X, Y),
    "forest-no-bootstrap": lambda: RandomForestRegressor(
        5, max_leaf_nodes=8, bootstrap=False, max_features=2, random_state=0
    ).fit(X, Y),
    "extra-trees": lambda: ExtraTreesRegressor(5, max_leaf_nodes=8, random_state=0).fit(X, Y),
    "bagging-no-resampling": lambda: BaggingRegressor(
        _tree(), 5, bootstrap=False, max_features=2, random_state=0
    ).fit(X, Y),
    "gradient-boosting": lambda: GradientBoostingRegressor(
        n_estimators=5, max_depth=2, random_state=0
    ).fit(X, Y),
    "hist-boosting": lambda: HistGradientBoostingRegressor(max_iter=5).fit(X, Y),
    "pipeline-ridge": lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, Y),
    "voting-ridge-boosting": lambda: VotingRegressor(
        [("r", Ridge(alpha=1.0)), ("b", GradientBoostingRegressor(n_estimators=3))]
    ).fit(X, Y),
}
# Families that record their training rows: a shuffled X_train raises on its own.
VERIFIED = {
    "kernel-ridge": lambda: KernelRidge(alpha=1.0, kernel="rbf").fit(X, Y),
    "knn": lambda: KNeighborsRegressor(5).fit(X, Y),
    "min-norm": lambda: MinNormLeastSquares().fit(X, Y),
    "forest-bootstrap": lambda: RandomForestRegressor(5, max_leaf_nodes=8, random_state=0).fit(
        X, Y
    ),
    "bagging": lambda: BaggingRegressor(_tree(), 5, random_state=0).fit(X, Y),
    "statsmodels-ols": lambda: sm.OLS(Y, sm.add_constant(X)).fit(),
    "voting-ridge-knn": lambda: VotingRegressor(
        [("r", Ridge(alpha=1.0)), ("k", KNeighborsRegressor(5))]
    ).fit(X, Y),
    "pipeline-knn": lambda: make_pipeline(StandardScaler(), KNeighborsRegressor(5)).fit(X, Y),
}


def _inputs(model):
    """Training inputs as the model saw them (statsmodels: its exog with the constant)."""
    return (
        sm.add_constant(X)
        if isinstance(model, sm.regression.linear_model.RegressionResultsWrapper)
        else X
    )


def _unverified(record) -> list:
    return [w for w in record if issubclass(w.category, UnverifiedTrainingDataWarning)]


@pytest.mark.parametrize("name", UNVERIFIED)
def test_families_that_cannot_check_x_train_warn_once_per_call(name):
    model = UNVERIFIED[name]()
    calls = [
        lambda **kw: ec.effective_parameters(model, X, **kw),
        lambda **kw: ec.effective_parameters(model, X, X[:7], **kw),
        lambda **kw: ec.degrees_of_freedom(model, X, **kw),
        lambda **kw: ec.smoother_trace(model, X, **kw),
        lambda **kw: ec.smoother_matrix(model, X, X[:3], **kw),
        lambda **kw: ec.smooth(model, X, Y, **kw),
        lambda **kw: ec.get_smoother(model, X, **kw),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedTrainingDataWarning)
        staged = ec.get_smoother(model, X).supports_staged
    if staged:
        calls += [
            lambda **kw: ec.staged_effective_parameters(model, X, X[:7], **kw),
            lambda **kw: ec.staged_degrees_of_freedom(model, X, **kw),
        ]
    for call in calls:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            call()
        assert len(_unverified(record)) == 1, name
        assert "Pass y_train=" in str(_unverified(record)[0].message)
        # The warning points at the caller's line, not inside the package.
        assert _unverified(record)[0].filename == __file__
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnverifiedTrainingDataWarning)
            call(y_train=Y)


@pytest.mark.parametrize("name", UNVERIFIED)
def test_the_warning_is_justified_and_y_train_catches_a_shuffled_x_train(name):
    model = UNVERIFIED[name]()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        wrong = ec.smooth(model, SHUFFLED, Y)
    assert len(_unverified(record)) == 1
    # Oracle: the model's own predictions; the shuffled smoother misses them widely.
    assert np.max(np.abs(wrong - model.predict(X))) > 0.5
    with pytest.raises(TrainingMismatchError, match="X_train does not match"):
        ec.effective_parameters(model, SHUFFLED, y_train=Y)


@pytest.mark.parametrize("name", UNVERIFIED)
def test_a_shortened_x_train_still_raises(name):
    model = UNVERIFIED[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedTrainingDataWarning)
        if name in ("ridge", "pipeline-ridge"):
            # Ridge records no row count: only y_train (one label per row) catches it.
            with pytest.raises(ValueError, match="y_train has 120 rows, but X_train has 115"):
                ec.effective_parameters(model, X[:-5], y_train=Y)
            with pytest.raises(TrainingMismatchError):
                ec.effective_parameters(model, X[:-5], y_train=Y[:-5])
        else:
            with pytest.raises(TrainingMismatchError, match="X_train does not match"):
                ec.effective_parameters(model, X[:-5])


@pytest.mark.parametrize("name", UNVERIFIED)
def test_the_warning_is_filterable(name):
    model = UNVERIFIED[name]()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ec.UnverifiedTrainingDataWarning)
        ec.effective_parameters(model, X)
    assert _unverified(record) == []


@pytest.mark.parametrize("name", VERIFIED)
def test_families_that_record_their_rows_do_not_warn_and_catch_shuffles(name):
    model = VERIFIED[name]()
    inputs = _inputs(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedTrainingDataWarning)
        ec.effective_parameters(model, inputs)
        with pytest.raises(TrainingMismatchError, match="X_train does not match"):
            ec.effective_parameters(model, inputs[RNG.permutation(N)])


def test_a_bound_smoother_warns_once_when_built_not_at_every_measure():
    model = UNVERIFIED["ridge"]()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        smoother = ec.get_smoother(model, X)
        ec.effective_parameters(smoother, X)
        ec.degrees_of_freedom(smoother, X)
    assert len(_unverified(record)) == 1


def test_unrecorded_weights_of_histogram_boosting_are_caught_with_y_train():
    model = HistGradientBoostingRegressor(max_iter=5).fit(X, Y, sample_weight=W)
    with pytest.warns(UnverifiedTrainingDataWarning, match="does not record sample weights"):
        silent = ec.smooth(model, X, Y)
    # Oracle: predict; the unweighted smoother of a weighted fit misses it.
    assert np.max(np.abs(silent - model.predict(X))) > 1e-2
    with pytest.raises(TrainingMismatchError):
        ec.effective_parameters(model, X, y_train=Y)
    ec.effective_parameters(model, X, y_train=Y, sample_weight=W)


SMALL_SWEEPS = {
    "rff": ("belkin_rff", {"grid": {"n_features": (10, 60)}}, "onehot"),
    "rff_pca": ("curth_rff", {"grid": {"P_PC": (5, 10), "P_ex": (0, 10)}}, "onehot"),
    "forest": ("curth_trees", {"grid": {"P_leaf": (2, 5), "P_ens": (1, 2)}}, "onehot"),
    "boosting": (
        "curth_boosting",
        {"grid": {"P_boost": (1, 2), "P_ens": (1, 2)}},
        "onehot_centered",
    ),
    "ridgeless": ("ridgeless_theory", {"grid": {"n_features": (10, 60)}}, None),
}


@pytest.mark.parametrize("family", SMALL_SWEEPS)
def test_sweeps_check_their_own_training_sets_without_warning(family, tmp_path):
    name, changes, targets = SMALL_SWEEPS[family]
    if targets is not None:
        # The bundled digits stand in for MNIST: the test runs offline.
        changes = {**changes, "dataset": "digits", "dataset_kwargs": {"targets": targets}}
    spec = sweeps.get_spec(name).replace(n_train=40, n_test=20, seeds=(0,), quick={}, **changes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnverifiedTrainingDataWarning)
        table = sweeps.run(spec, quick=False, out=tmp_path / "t.csv", verbose=0)
    assert len(table) > 0


# -- near-singular linear fits -------------------------------------------------
def _singular_kernel_cases():
    duplicated = np.repeat(RNG.normal(size=(60, 4)), 2, axis=0)
    return {
        "linear-kernel": (KernelRidge(alpha=0.0, kernel="linear"), X),
        "poly-kernel": (KernelRidge(alpha=0.0, kernel="poly", degree=2), X),
        "rbf-duplicated-rows": (KernelRidge(alpha=0.0, kernel="rbf"), duplicated),
        "rbf-wide": (KernelRidge(alpha=0.0, kernel="rbf", gamma=1e-3), X),
    }


@pytest.mark.parametrize("case", list(_singular_kernel_cases()))
def test_kernel_ridge_without_penalty_on_a_singular_kernel_is_refused(case):
    model, inputs = _singular_kernel_cases()[case]
    # Oracle: scikit-learn itself reports that its solve failed and fell back.
    with pytest.warns(UserWarning, match="Singular matrix in solving dual problem"):
        model.fit(inputs, Y)
    for kwargs in ({}, {"y_train": Y}):
        with pytest.raises(
            ValueError, match=r"KernelRidge\(alpha=0\).*numerically singular"
        ) as err:
            ec.effective_parameters(model, inputs, **kwargs)
        # The message names the solve, never the training inputs.
        assert "X_train does not match" not in str(err.value)
        assert "Refit with a larger alpha" in str(err.value)


def test_kernel_ridge_without_penalty_on_a_regular_kernel_is_measured():
    model = KernelRidge(alpha=0.0, kernel="rbf", gamma=1.0).fit(X, Y)
    # Oracle: predict; an interpolator of n points has p_train = n.
    assert np.allclose(ec.smooth(model, X, Y, y_train=Y), model.predict(X), rtol=0, atol=1e-8)
    assert ec.effective_parameters(model, X, y_train=Y) == pytest.approx(N, rel=1e-8)


def test_an_ill_conditioned_kernel_ridge_names_the_condition_number_with_y_train():
    model = KernelRidge(alpha=1e-10, kernel="rbf", gamma=0.01).fit(X, Y)
    with pytest.raises(ValueError, match="condition number") as err:
        ec.effective_parameters(model, X, y_train=Y)
    assert "X_train does not match" not in str(err.value)
    assert "X_train equals the stored X_fit_" in str(err.value)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky"])
def test_ridge_without_penalty_on_a_rank_deficient_design_is_refused(fit_intercept, solver):
    collinear = np.c_[X, X[:, :2]]
    model = Ridge(alpha=0.0, fit_intercept=fit_intercept, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(collinear, Y)
    for kwargs in ({}, {"y_train": Y}):
        with pytest.raises(ValueError, match=r"Ridge\(alpha=0\).*numerically singular") as err:
            ec.effective_parameters(model, collinear, **kwargs)
        assert "X_train does not match" not in str(err.value)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_without_penalty_past_the_threshold_is_the_min_norm_interpolator(fit_intercept):
    wide = RNG.normal(size=(N, 200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Ridge(alpha=0.0, fit_intercept=fit_intercept).fit(wide, Y)
    # Oracle: predict, and an interpolator of n points has p_train = n.
    assert np.allclose(ec.smooth(model, wide, Y, y_train=Y), model.predict(wide), atol=1e-8)
    assert ec.effective_parameters(model, wide, y_train=Y) == pytest.approx(N, rel=1e-8)


@pytest.mark.parametrize("shape", ["collinear", "wide"])
def test_least_squares_on_a_rank_deficient_design_is_measured_as_fitted(shape):
    design = np.c_[X, X[:, :2]] if shape == "collinear" else RNG.normal(size=(N, 200))
    model = LinearRegression().fit(design, Y)
    # Oracles: predict (lstsq's minimum-norm solution) and the rank of the centred design.
    assert np.allclose(ec.smooth(model, design, Y, y_train=Y), model.predict(design), atol=1e-8)
    rank = np.linalg.matrix_rank(design - design.mean(axis=0))
    assert ec.effective_parameters(model, design, y_train=Y) == pytest.approx(rank + 1, rel=1e-8)
