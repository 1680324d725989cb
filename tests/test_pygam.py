"""pyGAM's LinearGAM: its own predictions, its own effective degrees of freedom
(``statistics_['edof']``) and a smoother built by brute force (one refit per unit
label vector) are the oracles."""

from __future__ import annotations

import warnings
from copy import deepcopy

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import effcomplexity as ec
from tests.cases.gam import data, linear_gam, refit

pygam = pytest.importorskip("pygam")


def _brute_force_smoother(gam, X, y, X_eval, weights=None):
    """Column i is the same configuration refitted on the i-th unit label vector:
    pyGAM's own fit, label by label (linear in y for this family)."""
    columns = []
    for i in range(len(y)):
        e = np.zeros(len(y))
        e[i] = 1.0
        fitted = type(gam)(deepcopy(gam.terms), lam=gam.lam, fit_intercept=gam.fit_intercept)
        columns.append(fitted.fit(X, e, weights=weights).predict(X_eval))
    return np.column_stack(columns)


@pytest.mark.parametrize(
    ("terms", "params"),
    [("s0+l1", {}), ("s0+s1", {"lam": 0.3}), ("te01", {}), ("s0+l1", {"fit_intercept": False})],
)
def test_smoother_is_brute_force_and_trace_is_edof(terms, params):
    """Oracles: S(X) @ y == gam.predict(X) on training and new inputs; S equals
    the brute-force smoother of unit-label refits; tr S(X_train) equals pyGAM's
    statistics_['edof']; p_train = tr(S S^T) and p_test from the brute-force S."""
    gam, X, y, X_test = linear_gam(terms, n=40, **params)
    S_train = ec.smoother_matrix(gam, X, y_train=y)
    S_test = ec.smoother_matrix(gam, X, X_test)
    np.testing.assert_allclose(S_train @ y, gam.predict(X), rtol=0, atol=1e-8)
    np.testing.assert_allclose(S_test @ y, gam.predict(X_test), rtol=0, atol=1e-8)
    brute = _brute_force_smoother(gam, X, y, np.vstack([X, X_test]))
    np.testing.assert_allclose(np.vstack([S_train, S_test]), brute, rtol=0, atol=1e-8)
    assert ec.degrees_of_freedom(gam, X, y_train=y) == pytest.approx(
        gam.statistics_["edof"], rel=1e-10
    )
    n = len(X)
    assert ec.effective_parameters(gam, X, y_train=y) == pytest.approx(
        np.sum(brute[:n] ** 2), rel=1e-8
    )
    assert ec.effective_parameters(gam, X, X_test, y_train=y) == pytest.approx(
        n / len(X_test) * np.sum(brute[n:] ** 2), rel=1e-8
    )


def test_factor_terms_and_gridsearch():
    """A factor term and a lam chosen by gridsearch: oracle gam.predict and edof."""
    rng = np.random.default_rng(3)
    X, y, X_test = data(n=80, seed=3)
    X[:, 1] = rng.integers(0, 3, size=80)
    X_test[:, 1] = rng.integers(0, 3, size=len(X_test))
    y = y + X[:, 1]
    gam = pygam.LinearGAM(pygam.s(0) + pygam.f(1)).gridsearch(
        X, y, lam=np.logspace(-2, 2, 4), progress=False
    )
    S_test = ec.smoother_matrix(gam, X, X_test, y_train=y)
    np.testing.assert_allclose(S_test @ y, gam.predict(X_test), rtol=0, atol=1e-8)
    assert ec.degrees_of_freedom(gam, X) == pytest.approx(gam.statistics_["edof"], rel=1e-10)


# pyGAM's own statistics (AIC, p-values) divide by the zero weights.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_sample_weights_including_zero():
    """Oracles: predictions of a weighted fit (rows of weight 0 get no weight in S)
    and the brute-force smoother of weighted unit-label refits."""
    gam, X, y, X_test = linear_gam("s0+l1", n=40)
    w = np.random.default_rng(5).uniform(0.2, 3.0, size=40)
    w[:3] = 0.0
    gam = refit(gam, X, y)
    gam.fit(X, y, weights=w)
    S = ec.smoother_matrix(gam, X, X_test, y_train=y, sample_weight=w)
    np.testing.assert_allclose(S @ y, gam.predict(X_test), rtol=0, atol=1e-8)
    assert np.all(S[:, :3] == 0.0)
    brute = _brute_force_smoother(gam, X, y, X_test, weights=w)
    np.testing.assert_allclose(S, brute, rtol=0, atol=1e-8)
    # Without the weights the trace is not the fit's edof.
    with pytest.raises(ec.TrainingMismatchError, match=r"statistics_\['edof'\]"):
        ec.smoother_matrix(gam, X)


def test_wrong_training_inputs():
    """Other rows, scaled rows: TrainingMismatchError; shuffled rows keep the edof
    and are caught by y_train; without it the measures warn."""
    gam, X, y, _ = linear_gam("s0+l1")
    with pytest.raises(ec.TrainingMismatchError, match="fitted on 60 training rows"):
        ec.smoother_matrix(gam, X[:50])
    with pytest.raises(ec.TrainingMismatchError, match="effective degrees of freedom"):
        ec.smoother_matrix(gam, 3.0 * X)
    perm = np.random.default_rng(0).permutation(len(X))
    with pytest.raises(ec.TrainingMismatchError, match="differ from the model's own"):
        ec.effective_parameters(gam, X[perm], y_train=y)
    with pytest.warns(ec.UnverifiedTrainingDataWarning, match="LinearGAM"):
        ec.effective_parameters(gam, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ec.UnverifiedTrainingDataWarning)
        ec.effective_parameters(gam, X, y_train=y)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: pygam.LogisticGAM(), "only the normal distribution with the identity link"),
        (lambda: pygam.PoissonGAM(), "only the normal distribution with the identity link"),
        (lambda: pygam.GAM(link="log"), "only the normal distribution with the identity link"),
        (lambda: pygam.ExpectileGAM(expectile=0.7), "sign of their residuals"),
        (
            lambda: pygam.LinearGAM(pygam.s(0, constraints="monotonic_inc") + pygam.l(1)),
            "constraints",
        ),
    ],
    ids=["logistic", "poisson", "normal-log-link", "expectile", "constraints"],
)
def test_models_that_are_not_linear_smoothers_are_refused(make, match):
    """Non-identity links, other distributions, expectiles and constraints make the
    fit depend on y beyond a linear map: ValueError saying what is supported."""
    X, y, _ = data(n=60)
    gam = make()
    y = (y > 0).astype(float) if isinstance(gam, pygam.LogisticGAM) else np.abs(y) + 0.1
    gam.fit(X, y)
    with pytest.raises(ValueError, match=match):
        ec.effective_parameters(gam, X)


def test_unfitted_model_raises_not_fitted():
    """The fitted-model check follows pyGAM's own record (coef_), not scikit-learn's tags."""
    X, _, _ = data()
    with pytest.raises(NotFittedError, match="LinearGAM instance is not fitted"):
        ec.smoother_matrix(pygam.LinearGAM(), X)
