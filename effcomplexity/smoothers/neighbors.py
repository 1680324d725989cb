"""Smoother of k-nearest-neighbour regression and classification."""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from .._validation import check_n_train, training_mismatch
from .registry import Smoother, register_smoother

__all__ = ["KNeighborsSmoother"]


@register_smoother(KNeighborsRegressor)
@register_smoother(KNeighborsClassifier)
class KNeighborsSmoother(Smoother):
    r"""Smoother of :class:`~sklearn.neighbors.KNeighborsRegressor` and ``KNeighborsClassifier``.

    Each prediction is a weighted mean of the labels of the ``k`` nearest
    training points, as found by the fitted model's own ``kneighbors`` (so
    ties and duplicate points resolve exactly as in ``predict``). Weights
    follow scikit-learn: ``"uniform"`` gives ``1/k``; ``"distance"`` gives
    ``1/dist``, except that a query at distance zero from one or more
    training points shares the weight equally among those and gives the
    others zero; a callable is applied to the distances. Training inputs
    count themselves as their own neighbour, as ``predict(X_train)`` does.

    For :class:`~sklearn.neighbors.KNeighborsClassifier` the smoother is the
    same matrix, applied to one-hot labels: with :math:`Y` the ``(n, K)``
    indicator matrix of the training classes (columns in ``classes_``
    order), :math:`S(X)\,Y` is ``predict_proba(X)``, the weighted share of
    each class among the neighbours. A multi-output classifier's
    ``predict_proba`` (a list) is :math:`S(X)` applied to the one-hot
    blocks of every output, stacked side by side. ``predict`` is the
    arg-max of these probabilities and is not itself linear in the labels.

    ``X_train`` must have the model's ``n_samples_fit_`` rows and equal the
    stored training inputs.

    Notes
    -----
    .. math::

        s(x)_i = \frac{w_i(x)\, 1[i \in N_k(x)]}{\sum_{i' \in N_k(x)} w_{i'}(x)},
        \qquad \lVert s(x) \rVert^2 = \frac{\sum_i w_i^2}{(\sum_i w_i)^2}.

    With uniform weights and every training point its own nearest neighbour,
    :math:`S_{ii} = 1/k`, so :math:`\operatorname{tr} S = \hat p_{train} = n/k`.
    Norms and products with labels cost :math:`O(mk)` once the neighbours are known.

    References
    ----------
    T. Hastie, R. Tibshirani, J. Friedman. "The Elements of Statistical
    Learning", 2nd ed., section 7.6. Springer, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(20, 2))
    >>> knn = KNeighborsRegressor(n_neighbors=4).fit(X, np.zeros(20))
    >>> ec.effective_parameters(knn, X)   # n / k
    5.0

    A classifier's probabilities are the smoother applied to one-hot labels:

    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> labels = (X[:, 0] > 0).astype(int)
    >>> clf = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(X, labels)
    >>> proba = ec.smooth(clf, X, np.eye(2)[labels], X[:3])
    >>> bool(np.allclose(proba, clf.predict_proba(X[:3])))
    True
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    exact_norms_are_cheap = True

    def _validate(self) -> None:
        est = self.estimator
        check_n_train(self.X_train, est.n_samples_fit_, est, "n_samples_fit_")
        fit_X = getattr(est, "_fit_X", None)
        if sp.issparse(fit_X):
            # A fit on scipy.sparse inputs stores them sparse; X_train is dense here.
            fit_X = fit_X.toarray()
        if isinstance(fit_X, np.ndarray) and fit_X.shape == self.X_train.shape:
            if not np.array_equal(fit_X, self.X_train):
                raise training_mismatch(est, "it differs from the inputs the model stored")

    def _weights(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour indices and normalised weights, each of shape (m, k)."""
        est = self.estimator
        uniform = est.weights in (None, "uniform")
        with warnings.catch_warnings():
            # Validated arrays have lost a DataFrame's (already checked) column names.
            warnings.filterwarnings("ignore", message=".*valid feature names")
            # The same call as predict's, so ties resolve identically.
            found = est.kneighbors(X, return_distance=not uniform)
        if uniform:
            return found, np.full(found.shape, 1.0 / found.shape[1])
        distances, indices = found
        if callable(est.weights):
            weights = np.asarray(est.weights(distances), dtype=float)
            if weights.shape != distances.shape or not np.all(np.isfinite(weights)):
                raise ValueError(
                    f"The weights callable of {type(est).__name__} returned an array of "
                    f"shape {weights.shape} (or non-finite values) for distances of shape "
                    f"{distances.shape}; it must return one finite weight per neighbour."
                )
            if np.any(weights.sum(axis=1) == 0.0):
                raise ValueError(
                    f"The weights callable of {type(est).__name__} gave zero weight to every "
                    f"neighbour of some input, so its prediction is undefined; it must give "
                    f"each input at least one neighbour a non-zero weight."
                )
        else:
            exact = distances == 0.0
            with np.errstate(divide="ignore"):
                weights = 1.0 / distances
            has_exact = exact.any(axis=1)
            # Exact matches share the weight; the other neighbours get none.
            weights[has_exact] = exact[has_exact]
        return indices, weights / weights.sum(axis=1, keepdims=True)

    @cached_property
    def _train_weights(self) -> tuple[np.ndarray, np.ndarray]:
        return self._weights(self.X_train)

    def _neighbours(self, X):
        return self._train_weights if X is None else self._weights(X)

    def _matrix(self, X):
        indices, weights = self._neighbours(X)
        S = np.zeros((indices.shape[0], self.n_train))
        np.put_along_axis(S, indices, weights, axis=1)
        return S

    def _smooth(self, Y, X):
        indices, weights = self._neighbours(X)
        return np.einsum("mk,mkc->mc", weights, Y[indices])

    def _row_norms_sq(self, X):
        _, weights = self._neighbours(X)
        return np.einsum("mk,mk->m", weights, weights)

    def _trace(self) -> float:
        indices, weights = self._train_weights
        own = indices == np.arange(self.n_train)[:, None]
        return float(weights[own].sum())
