"""The smoother registry: public import paths, guarded built-ins, undo, checked outputs.

Oracles: brute-force radius-neighbour weights written in this file (the mean
of the training labels within the radius, as scikit-learn defines
``RadiusNeighborsRegressor``), checked against the estimator's own
``predict``; the built-in smoother classes for what ``replace`` and
``unregister_smoother`` must restore.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.neighbors import RadiusNeighborsRegressor
from sklearn.svm import SVR

import effcomplexity as ec
from effcomplexity.smoothers import Smoother, registered_types
from effcomplexity.smoothers import registry as smoother_registry
from effcomplexity.smoothers.linear import RidgeSmoother


@pytest.fixture(autouse=True)
def private_registry(monkeypatch):
    """Every test here works on a copy, so nothing it registers leaks out."""
    monkeypatch.setattr(smoother_registry, "_REGISTRY", dict(smoother_registry._REGISTRY))


def _radius_weights(estimator, X_train, X):
    """Brute force: weight 1/|N(x)| on the training rows within the radius of x."""
    d = np.sqrt(np.sum((X[:, None, :] - X_train[None, :, :]) ** 2, axis=-1))
    inside = (d <= estimator.radius).astype(float)
    return inside / inside.sum(axis=1, keepdims=True)


def _radius_fit():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(40, 2)), rng.normal(size=40)
    return RadiusNeighborsRegressor(radius=0.4).fit(X, y), X, y


@pytest.mark.parametrize(
    "name",
    [
        "sklearn.neighbors.RadiusNeighborsRegressor",  # the public import path
        "sklearn.neighbors._regression.RadiusNeighborsRegressor",  # where the class lives
    ],
)
def test_register_by_public_or_private_path(name):
    """scikit-learn classes live in private modules; either name reaches them."""
    ec.register_smoother(name)(_radius_weights)
    model, X, y = _radius_fit()
    S = ec.smoother_matrix(model, X)
    np.testing.assert_allclose(S @ y, model.predict(X), atol=1e-12)
    assert ec.effective_parameters(model, X) == pytest.approx(
        np.sum(_radius_weights(model, X, X) ** 2)
    )
    assert name in registered_types()
    ec.unregister_smoother(name)
    with pytest.raises(TypeError, match="No smoother is registered for RadiusNeighborsRegressor"):
        ec.get_smoother(model, X)


def test_register_svr_by_its_documented_path():
    """The path the scikit-learn documentation gives, sklearn.svm.SVR."""

    @ec.register_smoother("sklearn.svm.SVR")
    class SVRStandIn(Smoother):
        def _matrix(self, X):
            return np.zeros((self.n_train if X is None else X.shape[0], self.n_train))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2))
    smoother = ec.get_smoother(SVR().fit(X, rng.normal(size=10)), X)
    assert isinstance(smoother, SVRStandIn)


@pytest.mark.parametrize(
    "key", [Ridge, "sklearn.linear_model.Ridge", "sklearn.linear_model._ridge.Ridge"]
)
def test_registering_over_a_builtin_needs_replace(key):
    class MyRidge(RidgeSmoother):
        pass

    with pytest.raises(ValueError, match="replace=True"):
        ec.register_smoother(key)(MyRidge)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    ridge = Ridge().fit(X, rng.normal(size=20))
    assert type(ec.get_smoother(ridge, X)) is RidgeSmoother
    ec.register_smoother(key, replace=True)(MyRidge)
    assert type(ec.get_smoother(ridge, X)) is MyRidge
    ec.unregister_smoother(key)
    assert type(ec.get_smoother(ridge, X)) is RidgeSmoother


def test_unregister_errors_are_clear():
    with pytest.raises(ValueError, match="built-in"):
        ec.unregister_smoother(Ridge)
    with pytest.raises(ValueError, match="No smoother is registered for SVR"):
        ec.unregister_smoother(SVR)
    with pytest.raises(TypeError, match="estimator class or its qualified name"):
        ec.unregister_smoother(42)
    assert "unregister_smoother" in ec.__all__


class _Constant:
    def fit(self, X, y):
        self.n_features_in_ = np.shape(X)[1]
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


class _NaNSmooth(Smoother):
    def _matrix(self, X):
        m = self.n_train if X is None else X.shape[0]
        return np.full((m, self.n_train), 1.0 / self.n_train)

    def _smooth(self, Y, X):
        return np.full((self.n_train if X is None else X.shape[0], Y.shape[1]), np.nan)

    def _row_norms_sq(self, X):
        return np.full(self.n_train if X is None else X.shape[0], np.nan)

    def _trace(self):
        return np.nan


class _WrongShape(Smoother):
    def _matrix(self, X):
        return np.ones((3, self.n_train))

    def _smooth(self, Y, X):
        return np.ones((3, Y.shape[1]))

    def _row_norms_sq(self, X):
        return np.ones(3)

    def _trace(self):
        return np.ones(2)


def _constant_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    return _Constant().fit(X, rng.normal(size=12)), X


CALLS = {
    "smoother_matrix": lambda m, X: ec.smoother_matrix(m, X),
    "smooth": lambda m, X: ec.smooth(m, X, np.ones(12)),
    "effective_parameters[exact]": lambda m, X: ec.effective_parameters(m, X, method="exact"),
    "effective_parameters[probe]": lambda m, X: ec.effective_parameters(m, X, method="probe"),
    "degrees_of_freedom": lambda m, X: ec.degrees_of_freedom(m, X),
}


@pytest.mark.parametrize(
    "bad, what, call",
    [
        (bad, what, call)
        for bad, what in [(_NaNSmooth, "NaN"), (_WrongShape, "shape")]
        for call in sorted(CALLS)
        # _NaNSmooth's dense matrix is finite; only its other routes are broken.
        if not (bad is _NaNSmooth and call == "smoother_matrix")
    ],
)
def test_a_broken_smoother_is_caught_at_the_first_call(bad, what, call):
    ec.register_smoother(_Constant)(bad)
    model, X = _constant_fit()
    with pytest.raises(ValueError, match=rf"{bad.__name__}.*{what}"):
        CALLS[call](model, X)


def test_a_broken_function_smoother_names_the_function():
    @ec.register_smoother(_Constant)
    def nan_weights(estimator, X_train, X):
        return np.full((len(X), len(X_train)), np.nan)

    model, X = _constant_fit()
    with pytest.raises(ValueError, match="nan_weights.*NaN"):
        ec.effective_parameters(model, X)


def test_names_of_modules_not_yet_imported_match_their_public_path():
    """Without importing anything, "pkg.Class" names the class "pkg._module.Class"
    that pkg re-exports; a sibling module's class of the same name is another type."""
    same = smoother_registry._same_type
    assert same("notloaded_pkg._impl.Model", "notloaded_pkg.Model")
    assert same("notloaded_pkg.Model", "notloaded_pkg._impl.Model")
    assert not same("notloaded_pkg.other.Model", "notloaded_pkg._impl.Model")
    assert not same("notloaded_pkg._impl.Model", "notloaded_pkg._impl.Other")
    assert same(SVR, "sklearn.svm.SVR") and not same(SVR, "sklearn.svm.NuSVR")


def test_a_name_whose_module_is_not_loaded_leaves_lookup_working(monkeypatch):
    """The name stays unresolved (nothing is imported to resolve it) and other
    types still get the usual "No smoother is registered" error."""
    import sys

    monkeypatch.delitem(sys.modules, "notloaded_pkg", raising=False)
    ec.register_smoother("notloaded_pkg._impl.Model")(_radius_weights)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2))
    with pytest.raises(TypeError, match="No smoother is registered for SVR"):
        ec.get_smoother(SVR().fit(X, rng.normal(size=10)), X)
    assert "notloaded_pkg" not in sys.modules
