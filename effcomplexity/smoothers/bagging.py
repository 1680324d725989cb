r"""Smoother of bagging ensembles of any registered family, staged over members.

A ``BaggingRegressor`` averages its members' predictions, each member fitted
on a resample of the training rows and a subset of the columns, so its
smoother is the average of the members' smoothers with every member's
weights put back on the training rows it was fitted on. Bagged decision
trees have their own leaf-factor smoother
(:class:`~effcomplexity.smoothers.trees.BaggedTreesSmoother`); this module
covers every other registered member family.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.utils.validation import has_fit_parameter

from .._validation import check_n_train
from .registry import Smoother, build_smoother, identity_blocks, identity_columns

__all__ = ["BaggingSmoother"]


class _Member:
    """One fitted member: its smoother, its columns and where its training rows sit.

    ``rows`` is ``None`` when the member was fitted on all training rows (with
    its in-bag multiplicities as ``sample_weight``), else the training row of
    each of its own training rows (fitted on ``X_train[rows]``, repeats
    included).
    """

    def __init__(self, smoother: Smoother, features: np.ndarray | None, rows: np.ndarray | None):
        self.smoother, self.features, self.rows = smoother, features, rows

    def inputs(self, X: np.ndarray) -> np.ndarray:
        return X if self.features is None else X[:, self.features]

    def matrix(self, X: np.ndarray, n: int) -> np.ndarray:
        """``S_b(X)`` with one column per training row of the ensemble."""
        M = self.smoother.matrix(self.inputs(X))
        if self.rows is None:
            return M
        out = np.zeros((M.shape[0], n))
        # A row drawn several times carries the weights of all its copies.
        np.add.at(out.T, self.rows, M.T)
        return out

    def smooth(self, Y: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.smoother.smooth(Y if self.rows is None else Y[self.rows], self.inputs(X))

    def trace(self, X_train: np.ndarray) -> float:
        if self.rows is None and self.features is None:
            return self.smoother.trace()
        M = self.smoother.matrix(self.inputs(X_train))
        if self.rows is None:
            return float(np.trace(M))
        return float(M[self.rows, np.arange(len(self.rows))].sum())


class BaggingSmoother(Smoother):
    r"""Smoother of a ``BaggingRegressor`` or ``BaggingClassifier`` of any registered family.

    Member ``b`` was fitted on the rows ``estimators_samples_[b]`` and the
    columns ``estimators_features_[b]``, as scikit-learn fits it: a member
    whose ``fit`` takes ``sample_weight`` on all rows with the in-bag
    multiplicities as weights (its family must build weighted smoothers:
    least squares, ridge, kernel ridge), any other member on the drawn rows
    themselves, repeats included (neighbours). The member's smoother puts its
    weights back on the training rows, a row drawn ``c`` times getting the
    weights of its ``c`` copies. Stages are cumulative numbers of members,
    in ``estimators_`` order: stage ``t`` is the bagging ensemble of the first
    ``t`` members (the ensemble axis). For ``BaggingClassifier``, members
    must have ``predict_proba`` and ``S @ Y`` with one-hot labels is the
    ensemble's ``predict_proba``.

    Bagged decision trees are measured by
    :class:`~effcomplexity.smoothers.trees.BaggedTreesSmoother`, which
    :func:`~effcomplexity.get_smoother` chooses for them.

    Parameters
    ----------
    estimator : BaggingRegressor or BaggingClassifier
        Fitted, with members of a registered family.
    X_train : array-like of shape (n, n_features)
        The training inputs, in the order used to fit.

    Raises
    ------
    TypeError
        If the members' type has no registered smoother, or a classifier's
        members vote (no ``predict_proba``).
    ValueError
        If the members take ``sample_weight`` but their family cannot build
        weighted smoothers, or ``X_train`` has another number of rows.

    Notes
    -----
    With :math:`B` members, smoothers :math:`S^{(b)}` of their own training
    rows and :math:`C_b` the indicator matrix from member ``b``'s rows to the
    training rows (the identity for a weighted fit on all rows),

    .. math::

        S_t(X) = \frac{1}{t} \sum_{b \le t} S^{(b)}(X_{F_b})\, C_b ,
        \qquad S = S_B .

    References
    ----------
    L. Breiman. "Bagging Predictors". Machine Learning 24, 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import BaggingRegressor
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 2)), rng.normal(size=40)
    >>> bag = BaggingRegressor(KNeighborsRegressor(n_neighbors=3), n_estimators=4,
    ...                        random_state=0).fit(X, y)
    >>> ec.staged_effective_parameters(bag, X, y_train=y).shape   # one value per member
    (4,)
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    supports_staged = True

    def _validate(self) -> None:
        est = self.estimator
        name = type(est).__name__
        n_fitted = getattr(est, "_n_samples", None)
        if n_fitted is not None:
            check_n_train(self.X_train, int(n_fitted), est, "the fitted ensemble")
        if hasattr(est, "classes_") and not hasattr(est.estimators_[0], "predict_proba"):
            raise TypeError(
                f"{name}'s members ({type(est.estimators_[0]).__name__}) have no "
                f"predict_proba, so the ensemble votes: not a linear smoother of the labels. "
                f"Use members with predict_proba, or "
                f"effcomplexity.generalized_degrees_of_freedom."
            )
        weighted = has_fit_parameter(est.estimator_, "sample_weight")
        n, d = self.X_train.shape
        self._members = []
        for b, (member, features, rows) in enumerate(
            zip(est.estimators_, est.estimators_features_, est.estimators_samples_, strict=True)
        ):
            rows = np.asarray(rows)
            if rows.size and (rows.min() < 0 or rows.max() >= n):
                check_n_train(self.X_train, int(rows.max()) + 1, est, f"member {b}'s sample")
            features = None if np.array_equal(features, np.arange(d)) else np.asarray(features)
            X_cols = self.X_train if features is None else self.X_train[:, features]
            try:
                if weighted:
                    counts = np.bincount(rows, minlength=n).astype(float)
                    weights = None if np.all(counts == 1.0) else counts
                    smoother = build_smoother(member, X_cols, sample_weight=weights)
                    self._members.append(_Member(smoother, features, None))
                else:
                    smoother = build_smoother(member, X_cols[rows])
                    self._members.append(_Member(smoother, features, rows))
            except TypeError as err:
                raise TypeError(f"The members of {name} are not supported: {err}") from err

    @property
    def verifies_X_train(self) -> bool:
        # Members fitted on drawn rows check them against their own records (k-NN's inputs).
        return any(m.smoother.verifies_X_train for m in self._members)

    @property
    def unverified_reason(self) -> str:
        return f"its members cannot: {self._members[0].smoother.unverified_reason}"

    def _inputs(self, X: np.ndarray | None) -> np.ndarray:
        return self.X_train if X is None else X

    def _matrix(self, X):
        X = self._inputs(X)
        return sum(m.matrix(X, self.n_train) for m in self._members) / len(self._members)

    def _smooth(self, Y, X):
        X = self._inputs(X)
        return sum(m.smooth(Y, X) for m in self._members) / len(self._members)

    def _trace(self) -> float:
        return float(np.mean([m.trace(self.X_train) for m in self._members]))

    def n_stages(self) -> int:
        """Number of members (stage ``t`` averages the first ``t``)."""
        return len(self._members)

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        X = self._inputs(X)

        def stages():
            total = 0.0
            for t, member in enumerate(self._members, start=1):
                total = total + member.smooth(Y, X)
                yield total / t

        return stages()

    def _staged_trace(self) -> np.ndarray:
        # Traces are linear: running means of the members' traces.
        traces = np.array([m.trace(self.X_train) for m in self._members])
        return np.cumsum(traces) / np.arange(1, len(traces) + 1)

    def _staged_row_norms_sq(self, X) -> np.ndarray:
        # Cross terms between members: from the averaged weights, on identity columns.
        n = self.n_train
        out = np.zeros((self.n_stages(), self._m(X)))
        for block in identity_blocks(n):
            for t, F in enumerate(self._staged_smooth(identity_columns(n, block), X)):
                out[t] += np.einsum("ij,ij->i", F, F)
        return out
