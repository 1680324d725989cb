"""Registry-wide invariants, run on every registered family and configuration.

Oracle: the estimator's own predictions. A smoother reproduces them exactly:
``S(X) @ y == predict(X)`` (DESIGN.md, "The central abstraction").
"""

from __future__ import annotations

import numpy as np
import pytest

import effcomplexity as ec
from effcomplexity.smoothers import get_smoother, registered_types
from tests.cases import all_cases, predictions

CASES = all_cases()
RTOL = 1e-8


def _close(actual, expected, rtol=RTOL):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


def test_every_registered_family_has_a_case():
    covered = {case.family for case in CASES}
    missing = sorted(set(registered_types()) - covered)
    assert not missing, f"registered families without an invariant test case: {missing}"


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def fitted(request):
    case = request.param
    est, X_train, y_train, X_test = case.make()
    return case, est, np.asarray(X_train), np.asarray(y_train, dtype=float), X_test


def test_matrix_reproduces_predictions(fitted):
    case, est, X_train, y_train, X_test = fitted
    for X in (X_train, X_test):
        S = ec.smoother_matrix(est, X_train, X)
        assert S.shape == (len(X), len(X_train))
        _close(S @ y_train, predictions(case, est, X), rtol=case.rtol)


def test_training_rows_default(fitted):
    _, est, X_train, _, _ = fitted
    np.testing.assert_array_equal(
        ec.smoother_matrix(est, X_train), ec.smoother_matrix(est, X_train, X_train)
    )


def test_smooth_equals_matrix_product(fitted):
    case, est, X_train, y_train, X_test = fitted
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(len(X_train), 3))
    S = ec.smoother_matrix(est, X_train, X_test)
    _close(ec.smooth(est, X_train, Y, X_test), S @ Y)
    _close(ec.smooth(est, X_train, y_train, X_test), predictions(case, est, X_test), case.rtol)


def test_exact_norms_and_trace(fitted):
    _, est, X_train, _, X_test = fitted
    smoother = get_smoother(est, X_train)
    for X in (None, X_test):
        S = ec.smoother_matrix(est, X_train, X)
        _close(smoother.row_norms_sq(X), (S**2).sum(axis=1))
    _close(smoother.trace(), np.trace(ec.smoother_matrix(est, X_train)))


def test_permuting_training_rows_permutes_columns(fitted):
    case, est, X_train, y_train, X_test = fitted
    if not case.permutable:
        pytest.skip("refitting on permuted rows changes the model (random resampling)")
    from sklearn.base import clone

    perm = np.random.default_rng(1).permutation(len(X_train))
    try:
        est_p = clone(est).fit(X_train[perm], y_train[perm])
    except TypeError:
        pytest.skip("not a scikit-learn estimator: refitting is family-specific")
    S = ec.smoother_matrix(est, X_train, X_test)
    S_p = ec.smoother_matrix(est_p, X_train[perm], X_test)
    _close(S_p, S[:, perm], rtol=1e-7)


def test_staged_families(fitted):
    case, est, X_train, y_train, X_test = fitted
    smoother = get_smoother(est, X_train)
    if not smoother.supports_staged:
        pytest.skip("not a staged family")
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
