"""Smoother of a fitted hyper-parameter search: its refitted best estimator's."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from .._validation import check_fitted
from .registry import Smoother, build_smoother, register_smoother

__all__ = ["SearchCVSmoother"]

logger = logging.getLogger(__name__)

# By name: covers GridSearchCV, RandomizedSearchCV and the successive-halving
# searches (experimental in scikit-learn) without importing them.
_BASE_SEARCH = "sklearn.model_selection._search.BaseSearchCV"


def _best_estimator(search):
    """The refitted ``best_estimator_`` of a fitted search, or a TypeError saying what to do."""
    best = getattr(search, "best_estimator_", None)
    if best is not None:
        return best
    name = type(search).__name__
    raise TypeError(
        f"{name} was fitted with refit={search.refit!r}, so it has no refitted "
        f"best_estimator_ to measure (the models fitted on cross-validation folds are not "
        f"kept). Fit the search with refit=True (refit='<metric>' for several metrics), or "
        f"refit the chosen configuration yourself, e.g. "
        f"clone(search.estimator).set_params(**search.best_params_).fit(X_train, y_train), "
        f"and measure that estimator."
    )


@register_smoother(_BASE_SEARCH)
class SearchCVSmoother(Smoother):
    r"""Smoother of a fitted search: ``GridSearchCV``, ``RandomizedSearchCV``, halving searches.

    A search fitted with ``refit=True`` (or a metric name, or a callable)
    predicts with ``best_estimator_``, the chosen configuration refitted on
    all of ``X_train``; its smoother is that estimator's, from whichever
    family is registered for it (a pipeline included). The models fitted on
    the cross-validation folds are not part of the prediction and are not
    measured. Building it logs, at ``INFO`` level on the logger
    ``effcomplexity.smoothers.search``, which estimator is measured.

    The selection of the configuration depends on the labels, so the
    search as a whole is not a linear smoother of ``y``: the weights are
    those of the selected model with its hyper-parameters held fixed,
    which is how Curth et al. measure tuned models.

    Parameters
    ----------
    estimator : BaseSearchCV
        Fitted with a refit, used as it is.
    X_train : array-like of shape (n, n_features)
        The inputs the search was fitted on, in the same order (the ones
        ``best_estimator_`` was refitted on).
    sample_weight : array-like of shape (n,), optional
        The weights handed to ``fit``, passed on to the best estimator's smoother.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the search is not fitted.
    TypeError
        If it was fitted with ``refit=False`` (no ``best_estimator_``), or the
        best estimator's type has no registered smoother.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> y = X[:, 0] + np.random.default_rng(1).normal(size=40)
    >>> search = GridSearchCV(KNeighborsRegressor(), {"n_neighbors": [4, 8]}).fit(X, y)
    >>> bool(ec.effective_parameters(search, X) == ec.effective_parameters(
    ...     search.best_estimator_, X))
    True
    """

    supports_sample_weight = True

    def __init__(self, estimator, X_train, *, sample_weight=None):
        check_fitted(estimator)
        best = _best_estimator(estimator)
        try:
            self.best = build_smoother(best, X_train, sample_weight=sample_weight)
        except TypeError as err:
            raise TypeError(
                f"The best estimator of {type(estimator).__name__} is not supported: {err}"
            ) from err
        logger.info(
            "Measuring %s through its refitted best_estimator_, %s (best_params_=%s).",
            type(estimator).__name__,
            type(best).__name__,
            getattr(estimator, "best_params_", None),
        )
        super().__init__(estimator, X_train, sample_weight=sample_weight)

    def _check_X(self, X, *, name: str = "X"):
        # The best estimator validates its own inputs (a pipeline keeps DataFrames).
        return self.best._check_X(X, name=name)

    def _matrix(self, X):
        return self.best.matrix(X)

    def _smooth(self, Y, X):
        return self.best.smooth(Y, X)

    def _row_norms_sq(self, X):
        return self.best.row_norms_sq(X)

    def _trace(self) -> float:
        return self.best.trace()

    @property
    def exact_norms_are_cheap(self) -> bool:
        return self.best.exact_norms_are_cheap

    @property
    def verifies_X_train(self) -> bool:
        return self.best.verifies_X_train

    @property
    def unverified_reason(self) -> str:
        return f"its best estimator's {self.best.unverified_reason}"

    def _mismatch_cause(self) -> str | None:
        cause = getattr(self.best, "_mismatch_cause", None)
        return cause() if cause is not None else None

    @property
    def supports_staged(self) -> bool:
        return self.best.supports_staged

    def n_stages(self) -> int:
        return self.best.n_stages()

    def _staged_row_norms_sq(self, X) -> np.ndarray:
        return self.best.staged_row_norms_sq(X)

    def _staged_smooth(self, Y, X) -> Iterator[np.ndarray]:
        return self.best.staged_smooth(Y, X)

    def _staged_trace(self) -> np.ndarray:
        return self.best.staged_trace()
