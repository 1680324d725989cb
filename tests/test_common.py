"""Registry-wide invariants and input checks, run on every registered family and
configuration.

Oracle: the estimator's own predictions. A smoother reproduces them exactly:
``S(X) @ y == predict(X)`` (the invariant of every ``Smoother``). Every check is
a plain function of one fitted case, so the same suite also runs on smoothers
registered inside a test, and must reject deliberately wrong ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import effcomplexity as ec
from effcomplexity._validation import TrainingMismatchError
from effcomplexity.smoothers import get_smoother, registered_types
from effcomplexity.smoothers import registry as smoother_registry
from tests.cases import Case, all_cases, predictions

CASES = all_cases()
RTOL = 1e-8


def _close(actual, expected, rtol=RTOL):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# -- the checks ----------------------------------------------------------------------


def check_matrix_reproduces_predictions(case, est, X_train, y_train, X_test):
    for X in (X_train, X_test):
        S = ec.smoother_matrix(est, X_train, X)
        assert S.shape == (len(X), len(X_train))
        _close(S @ y_train, predictions(case, est, X), rtol=case.rtol)


def check_training_rows_default(case, est, X_train, y_train, X_test):
    # Equal up to float noise: a route may know S(X_train) in closed form (the identity
    # of a minimum-norm fit past the interpolation threshold) and compute S(X) by products.
    _close(ec.smoother_matrix(est, X_train), ec.smoother_matrix(est, X_train, X_train))


def check_smooth_equals_matrix_product(case, est, X_train, y_train, X_test):
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(len(X_train), 3))
    S = ec.smoother_matrix(est, X_train, X_test)
    _close(ec.smooth(est, X_train, Y, X_test), S @ Y)
    _close(ec.smooth(est, X_train, y_train, X_test), predictions(case, est, X_test), case.rtol)


def check_exact_norms_and_trace(case, est, X_train, y_train, X_test):
    smoother = get_smoother(est, X_train)
    for X in (None, X_test):
        S = ec.smoother_matrix(est, X_train, X)
        _close(smoother.row_norms_sq(X), (S**2).sum(axis=1))
    _close(smoother.trace(), np.trace(ec.smoother_matrix(est, X_train)))


def check_staged(case, est, X_train, y_train, X_test):
    smoother = get_smoother(est, X_train)
    if not smoother.supports_staged:
        return
    Y = y_train.reshape(len(y_train), -1)  # multi-output and one-hot labels stay 2-D
    staged = list(smoother.staged_smooth(Y, X_test))
    assert len(staged) == smoother.n_stages()
    expected = predictions(case, est, X_test)
    _close(staged[-1].reshape(expected.shape), expected, rtol=case.rtol)
    norms = smoother.staged_row_norms_sq(X_test)
    _close(norms[-1], smoother.row_norms_sq(X_test))
    traces = smoother.staged_trace()
    assert traces.shape == (smoother.n_stages(),)
    _close(traces[-1], np.trace(ec.smoother_matrix(est, X_train)))


def check_label_contract(case, est, X_train, y_train, X_test):
    """1-D labels give 1-D results and 2-D labels 2-D results, for every entry
    point; the 1-D result is the single column of the 2-D one."""
    smoother = get_smoother(est, X_train)
    y = np.random.default_rng(2).normal(size=len(X_train))
    column = smoother.smooth(y[:, None], X_test)
    assert column.shape == (len(X_test), 1)
    flat = smoother.smooth(y, X_test)
    assert flat.shape == (len(X_test),)
    _close(flat, column[:, 0])
    _close(ec.smooth(est, X_train, y, X_test), flat)
    if smoother.supports_staged:
        stages = list(smoother.staged_smooth(y, X_test))
        assert all(stage.shape == (len(X_test),) for stage in stages)
        _close(stages[-1], flat)
        assert ec.staged_predictions(est, X_train, y, X_test).shape == (len(stages), len(X_test))


def check_training_mismatch_error(case, est, X_train, y_train, X_test):
    """Where a family can tell that X_train is not the training set, it raises the
    one error type with the one message shape."""
    for wrong in (X_train[:-1], X_train[::-1] + 1.0):
        try:
            get_smoother(est, wrong).matrix()
        except TrainingMismatchError as err:
            assert str(err).startswith("X_train does not match the training set ")
            assert "Pass the exact training inputs, in the order used to fit." in str(err)
        except ValueError as err:
            pytest.fail(f"X_train mismatch raised a ValueError of another shape: {err}")


def check_y_train_is_accepted(case, est, X_train, y_train, X_test):
    """The true training labels pass the check S(X_train) @ y_train == predict(X_train)
    and change no number; labels of another fit do not pass."""
    plain = ec.effective_parameters(est, X_train, X_test)
    try:
        checked = ec.effective_parameters(est, X_train, X_test, y_train=y_train)
        df = ec.degrees_of_freedom(est, X_train, y_train=y_train)
    except TrainingMismatchError as err:
        raise AssertionError(f"the true training labels were refused: {err}") from err
    assert checked == plain
    assert df == ec.degrees_of_freedom(est, X_train)
    other = y_train + np.random.default_rng(3).normal(size=y_train.shape)
    try:
        ec.effective_parameters(est, X_train, y_train=other)
    except TrainingMismatchError as err:
        assert "differ from the model's own predictions on X_train by up to" in str(err)
    else:
        # Only a model that ignores the labels' variation (a constant) may accept them.
        _close(ec.smooth(est, X_train, other), predictions(case, est, X_train))


def check_bad_inputs(case, est, X_train, y_train, X_test):
    """Widths, non-finite values, 1-D arrays and label rows: ValueError naming the array."""
    d = X_train.shape[1]
    with pytest.raises(ValueError, match=f"X has {d + 1} features, but .* {d} features"):
        ec.effective_parameters(est, X_train, np.hstack([X_test, X_test[:, :1]]))
    if d > 1:
        with pytest.raises(ValueError, match=f"X_train has {d - 1} features, but .* {d}"):
            ec.smoother_matrix(est, X_train[:, :-1])
    for bad in (np.nan, np.inf):
        X_bad = X_train.copy()
        X_bad[3, 0] = bad
        with pytest.raises(ValueError, match="X_train contains (NaN|infinity)"):
            ec.smoother_matrix(est, X_bad)
        X_bad = X_test.copy()
        X_bad[0, 0] = bad
        with pytest.raises(ValueError, match="X contains (NaN|infinity)"):
            ec.smooth(est, X_train, np.ones(len(X_train)), X_bad)
    with pytest.raises(ValueError, match="Expected 2D array"):
        ec.smoother_matrix(est, X_train[:, 0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        ec.smoother_matrix(est, X_train, X_test[0])
    with pytest.raises(ValueError, match=f"Y has {len(X_train) - 1} rows"):
        ec.smooth(est, X_train, np.ones(len(X_train) - 1))


def check_unfitted(case, est, X_train, y_train, X_test):
    """An unfitted scikit-learn estimator raises scikit-learn's NotFittedError."""
    if not hasattr(est, "get_params"):
        return
    with pytest.raises(NotFittedError):
        ec.smoother_matrix(clone(est), X_train)


CHECKS = [
    check_matrix_reproduces_predictions,
    check_training_rows_default,
    check_smooth_equals_matrix_product,
    check_exact_norms_and_trace,
    check_staged,
    check_label_contract,
    check_training_mismatch_error,
    check_y_train_is_accepted,
    check_bad_inputs,
    check_unfitted,
]


# -- the suite over the registry ------------------------------------------------------


def test_every_registered_family_has_a_case():
    covered = {case.family for case in CASES}
    missing = sorted(set(registered_types()) - covered)
    assert not missing, f"registered families without an invariant test case: {missing}"


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def fitted(request):
    case = request.param
    est, X_train, y_train, X_test = case.make()
    return (
        case,
        est,
        np.asarray(X_train),
        np.asarray(y_train, dtype=float),
        np.asarray(X_test, dtype=float),
    )


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_common_checks(fitted, check):
    check(*fitted)


def test_permuting_training_rows_permutes_columns(fitted):
    case, est, X_train, y_train, X_test = fitted
    if not case.permutable:
        pytest.skip("refitting on permuted rows changes the model (random resampling)")
    perm = np.random.default_rng(1).permutation(len(X_train))
    try:
        if case.refit is not None:
            est_p = case.refit(est, X_train[perm], y_train[perm])
        else:
            est_p = clone(est).fit(X_train[perm], y_train[perm])
    except TypeError:
        pytest.skip("not a scikit-learn estimator: refitting is family-specific")
    S = ec.smoother_matrix(est, X_train, X_test)
    S_p = ec.smoother_matrix(est_p, X_train[perm], X_test)
    _close(S_p, S[:, perm], rtol=1e-7)


# -- the suite must reject wrong smoothers --------------------------------------------


class _Shrunk:
    """Predicts 0.9 times the training mean: a linear smoother, S = 0.9 / n."""

    def fit(self, X, y):
        self.n_features_in_ = np.shape(X)[1]
        self.mean_ = 0.9 * float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


class _RightSmoother(smoother_registry.Smoother):
    def _matrix(self, X):
        m = self.n_train if X is None else X.shape[0]
        return np.full((m, self.n_train), 0.9 / self.n_train)


class _ForgetsTheShrinkage(_RightSmoother):
    def _matrix(self, X):
        return super()._matrix(X) / 0.9


class _SmoothDisagrees(_RightSmoother):
    def _smooth(self, Y, X):
        return 2.0 * (self._matrix(X) @ Y)


class _NormsDisagree(_RightSmoother):
    def _row_norms_sq(self, X):
        return 1.1 * super()._row_norms_sq(X)


class _DropsOneDimensionalLabels(_RightSmoother):
    def smooth(self, Y, X=None):
        Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
        return self._smooth(Y, self._resolve_X(X))


def _shrunk_case():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    return _Shrunk().fit(X, y), X, y, rng.normal(size=(8, 3))


@pytest.fixture
def register():
    def _register(smoother_class):
        smoother_registry._REGISTRY[_Shrunk] = smoother_class
        case = Case("shrunk", "tests.test_common._Shrunk", _shrunk_case)
        est, X, y, X_test = _shrunk_case()
        return case, est, X, np.asarray(y, dtype=float), X_test

    yield _register
    smoother_registry._REGISTRY.pop(_Shrunk, None)


def test_a_correct_smoother_passes_the_suite(register):
    fitted_case = register(_RightSmoother)
    for check in CHECKS:
        check(*fitted_case)


@pytest.mark.parametrize(
    ("wrong", "caught_by"),
    [
        (_ForgetsTheShrinkage, check_matrix_reproduces_predictions),
        (_SmoothDisagrees, check_smooth_equals_matrix_product),
        (_NormsDisagree, check_exact_norms_and_trace),
        (_DropsOneDimensionalLabels, check_label_contract),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_the_suite_rejects_a_wrong_smoother(register, wrong, caught_by):
    fitted_case = register(wrong)
    failures = []
    for check in CHECKS:
        try:
            check(*fitted_case)
        except AssertionError:
            failures.append(check)
    assert caught_by in failures, f"{wrong.__name__} passed {caught_by.__name__}"
