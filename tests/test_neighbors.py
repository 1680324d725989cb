"""k-nearest-neighbour smoother against closed forms and a brute-force k-NN."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

import effcomplexity as ec
from effcomplexity.smoothers import get_smoother
from tests.cases.linear import data


def _brute_force_knn(X_train, X, k, weights):
    """k-NN smoother written plainly: Euclidean distances, stable argsort,
    1/k or 1/distance weights (exact matches share the weight)."""
    S = np.zeros((len(X), len(X_train)))
    for j, x in enumerate(X):
        dist = np.sqrt(((X_train - x) ** 2).sum(axis=1))
        nearest = np.argsort(dist, kind="stable")[:k]
        if weights == "uniform":
            w = np.full(k, 1.0 / k)
        elif np.any(dist[nearest] == 0):
            w = (dist[nearest] == 0).astype(float)
        else:
            w = 1.0 / dist[nearest]
        S[j, nearest] = w / w.sum()
    return S


@pytest.mark.parametrize("k", [1, 3, 7])
def test_uniform_p_train_is_n_over_k(k):
    """Closed form (Hastie, Tibshirani & Friedman 2009, section 7.6): S_ii = 1/k,
    tr S = p_train = n/k."""
    X, y, _ = data(35, 2, seed=k)
    knn = KNeighborsRegressor(n_neighbors=k).fit(X, y)
    np.testing.assert_allclose(np.diag(ec.smoother_matrix(knn, X)), 1.0 / k)
    assert ec.degrees_of_freedom(knn, X) == pytest.approx(35 / k)
    assert ec.effective_parameters(knn, X) == pytest.approx(35 / k)


def test_uniform_p_test_is_n_over_k():
    """Closed form: every row has k weights 1/k, so ||s(x)||^2 = 1/k and
    p_test = n/k on any inputs."""
    X, y, X_test = data(35, 2, m=11, seed=2)
    knn = KNeighborsRegressor(n_neighbors=5).fit(X, y)
    assert ec.effective_parameters(knn, X, X_test) == pytest.approx(35 / 5)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_matches_brute_force(weights):
    """Oracle: the plain k-NN smoother written in this test."""
    X, y, X_test = data(40, 3, m=9, seed=4)
    knn = KNeighborsRegressor(n_neighbors=4, weights=weights).fit(X, y)
    for X_eval in (X, X_test):
        np.testing.assert_allclose(
            ec.smoother_matrix(knn, X, X_eval), _brute_force_knn(X, X_eval, 4, weights)
        )


def test_distance_weights_exact_match_rule():
    """Oracle: scikit-learn's documented rule, written by hand: a query at
    distance zero from one training point puts all weight on it; from two
    (duplicated) points, 1/2 on each; the other neighbours get 0."""
    X, y, _ = data(20, 2, seed=5)
    X[9] = X[4]
    knn = KNeighborsRegressor(n_neighbors=3, weights="distance").fit(X, y)
    S = ec.smoother_matrix(knn, X, np.vstack([X[4], X[12]]))
    expected_dup = np.zeros(20)
    expected_dup[[4, 9]] = 0.5
    expected_single = np.zeros(20)
    expected_single[12] = 1.0
    np.testing.assert_array_equal(S, np.vstack([expected_dup, expected_single]))
    assert get_smoother(knn, X).row_norms_sq(X[[4, 12]]) == pytest.approx([0.5, 1.0])


def test_callable_weights():
    """Oracle: the model's predictions with a user weight function (Gaussian
    in the distance), S(X) @ y == predict(X)."""
    X, y, X_test = data(30, 2, seed=6)

    def gaussian(dist):
        return np.exp(-(dist**2))

    knn = KNeighborsRegressor(n_neighbors=6, weights=gaussian).fit(X, y)
    np.testing.assert_allclose(ec.smoother_matrix(knn, X, X_test) @ y, knn.predict(X_test))


def test_training_points_are_their_own_neighbours():
    """Closed form: with k = 1, predict(X_train) returns y_train, so S_train = I
    (not the leave-one-out neighbours of kneighbors(None))."""
    X, y, _ = data(15, 2, seed=7)
    knn = KNeighborsRegressor(n_neighbors=1).fit(X, y)
    np.testing.assert_array_equal(ec.smoother_matrix(knn, X), np.eye(15))


def test_x_train_rows_must_match_fit():
    """X_train with other rows than the fitted data raises ValueError."""
    X, y, _ = data(20, 2, seed=8)
    knn = KNeighborsRegressor(n_neighbors=3).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 20 training rows"):
        ec.smoother_matrix(knn, X[:15])
    with pytest.raises(ValueError, match="differs from the inputs"):
        ec.smoother_matrix(knn, X[::-1])


# -- classifiers: S @ one-hot labels == predict_proba -----------------------------------


def _classes(y, names=("high", "low", "mid")):
    """Three string classes from quantiles of y (classes_ sorts them: high, low, mid)."""
    return np.asarray(names)[np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))]


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("algorithm", ["auto", "brute"])
def test_classifier_reproduces_predict_proba(weights, algorithm):
    """Oracle: the classifier's own predict_proba, S(X) @ one-hot(y) to 1e-8, with
    string classes in classes_ order; the class labels themselves pass the check."""
    X, y, X_test = data(45, 3, m=10, seed=11)
    labels = _classes(y)
    clf = KNeighborsClassifier(n_neighbors=5, weights=weights, algorithm=algorithm)
    clf.fit(X, labels)
    one_hot = (labels[:, None] == clf.classes_[None, :]).astype(float)
    for X_eval in (X, X_test):
        np.testing.assert_allclose(
            ec.smooth(clf, X, one_hot, X_eval), clf.predict_proba(X_eval), rtol=0, atol=1e-8
        )
    p = ec.effective_parameters(clf, X, X_test)
    assert ec.effective_parameters(clf, X, X_test, y_train=labels) == p


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_p_train_p_test_match_brute_force(weights):
    """Oracle: the plain k-NN smoother written in this test; p_train = tr(S S^T)
    and p_test = n/m sum_j ||s(x_j)||^2 from it."""
    X, y, X_test = data(40, 3, m=9, seed=12)
    clf = KNeighborsClassifier(n_neighbors=4, weights=weights).fit(X, _classes(y))
    S_train = _brute_force_knn(X, X, 4, weights)
    S_test = _brute_force_knn(X, X_test, 4, weights)
    np.testing.assert_allclose(ec.smoother_matrix(clf, X, X_test), S_test, rtol=0, atol=1e-12)
    p_train = (S_train**2).sum()
    p_test = 40 / 9 * (S_test**2).sum()
    assert ec.effective_parameters(clf, X) == pytest.approx(p_train, rel=1e-10)
    assert ec.effective_parameters(clf, X, X_test) == pytest.approx(p_test, rel=1e-10)
    assert ec.degrees_of_freedom(clf, X) == pytest.approx(np.trace(S_train), rel=1e-10)


def test_classifier_uniform_p_is_n_over_k():
    """Closed form, as for the regressor: uniform weights give p = n/k on any inputs."""
    X, y, X_test = data(36, 2, m=8, seed=13)
    clf = KNeighborsClassifier(n_neighbors=6).fit(X, _classes(y))
    assert ec.effective_parameters(clf, X) == pytest.approx(36 / 6)
    assert ec.effective_parameters(clf, X, X_test) == pytest.approx(36 / 6)


def test_classifier_wrong_labels_are_refused():
    """Labels of another fit do not reproduce predict_proba: TrainingMismatchError."""
    X, y, _ = data(30, 2, seed=14)
    labels = _classes(y)
    clf = KNeighborsClassifier(n_neighbors=3).fit(X, labels)
    with pytest.raises(ec.TrainingMismatchError, match="differ from the model's own"):
        ec.effective_parameters(clf, X, y_train=labels[::-1])


def test_callable_weights_all_zero_is_refused():
    """A weight function that zeroes every neighbour of an input leaves the
    prediction undefined (scikit-learn's classifier refuses it too): ValueError."""
    X, y, _ = data(20, 2, seed=15)

    def zeros(dist):
        return np.zeros_like(dist)

    clf = KNeighborsClassifier(n_neighbors=3, weights=zeros).fit(X, _classes(y))
    with pytest.raises(ValueError, match="zero weight to every neighbour"):
        ec.smoother_matrix(clf, X)
