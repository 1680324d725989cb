"""Input validation shared by every smoother and measure.

Validation happens once, at the public entry points, so the numerical code
underneath can assume finite, 2-D, C-contiguous float arrays.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = [
    "check_fitted",
    "check_inputs",
    "check_int",
    "check_labels",
    "check_n_train",
    "check_positive_real",
    "check_random_state",
    "is_integer",
    "training_mismatch",
]


def check_fitted(estimator) -> None:
    """Raise ``NotFittedError`` unless a scikit-learn estimator is fitted.

    Objects that are not scikit-learn estimators (statsmodels results, torch
    modules) are left to their family's own checks.
    """
    if hasattr(estimator, "fit") and hasattr(estimator, "get_params"):
        check_is_fitted(estimator)


def check_inputs(
    X,
    *,
    name: str = "X",
    estimator=None,
    n_features: int | None = None,
    dtype=np.float64,
    allow_sparse: bool = False,
) -> np.ndarray:
    """Validate a design matrix: 2-D, finite, numeric, of the fitted width.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : str
        Name used in error messages (``"X_train"`` or ``"X"``).
    estimator : fitted estimator, optional
        When given and it has ``n_features_in_``, the width of ``X`` must match.
    n_features : int, optional
        Expected width when the estimator does not record one.
    dtype : numpy dtype
        Output dtype.

    Returns
    -------
    ndarray of shape (n_samples, n_features), C-contiguous.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, contains NaN or infinity, is empty, or has the
        wrong number of columns.
    """
    X = check_array(
        X,
        accept_sparse=("csr", "csc") if allow_sparse else False,
        dtype=dtype,
        order="C",
        ensure_2d=True,
        ensure_all_finite=True,
        input_name=name,
    )
    if n_features is None and estimator is not None:
        n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and X.shape[1] != n_features:
        owner = type(estimator).__name__ if estimator is not None else "the model"
        raise ValueError(
            f"{name} has {X.shape[1]} features, but {owner} was fitted with "
            f"{n_features} features. Pass the inputs the model was trained on "
            f"(X_train) or evaluated on (X), with the same columns."
        )
    return X


class TrainingMismatchError(ValueError):
    """``X_train`` is not the training set the model was fitted on."""


def training_mismatch(estimator, detail: str, hint: str = "") -> TrainingMismatchError:
    """The package's one error for ``X_train`` that does not match the fit.

    Every family raises it with the same shape: ``"X_train does not match the
    training set {Estimator} was fitted on: {detail}. Pass the exact training
    inputs, in the order used to fit."`` followed by an optional hint.
    """
    message = (
        f"X_train does not match the training set {type(estimator).__name__} was fitted "
        f"on: {detail}. Pass the exact training inputs, in the order used to fit."
    )
    return TrainingMismatchError(f"{message} {hint}" if hint else message)


def check_n_train(X_train: np.ndarray, n_fitted: int, estimator, source: str) -> None:
    """Raise :func:`training_mismatch` if ``X_train`` has a different number of
    rows than the training set recorded in ``source``."""
    if X_train.shape[0] != n_fitted:
        raise training_mismatch(
            estimator,
            f"it has {X_train.shape[0]} rows, the model was fitted on {n_fitted} "
            f"training rows (from {source})",
        )


def check_labels(Y, n_train: int, *, name: str = "Y") -> tuple[np.ndarray, bool]:
    """Validate a label matrix with one row per training point.

    Returns the labels as a finite 2-D float64 array and whether the input was
    1-D (so the caller can return a 1-D result).
    """
    Y = np.asarray(Y)
    was_1d = Y.ndim == 1
    Y = check_array(
        Y.reshape(-1, 1) if was_1d else Y,
        dtype=np.float64,
        ensure_2d=True,
        ensure_all_finite=True,
        input_name=name,
    )
    if Y.shape[0] != n_train:
        raise ValueError(
            f"{name} has {Y.shape[0]} rows, but the smoother has {n_train} training "
            f"points: {name} must hold one row of labels per training input."
        )
    return Y, was_1d


def check_random_state(random_state) -> np.random.RandomState:
    """The package's one ``random_state`` rule.

    ``None`` is NumPy's global ``RandomState``; an integer seeds a new
    ``RandomState`` (so integer seeds give the same numbers as scikit-learn);
    a ``RandomState`` is used as it is; a ``numpy.random.Generator`` is
    wrapped around its bit generator, so draws advance the caller's stream.

    Raises
    ------
    TypeError
        For anything else (floats, strings, booleans).
    """
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.bit_generator)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise TypeError(
        "random_state must be None, an integer seed, a numpy.random.RandomState or a "
        f"numpy.random.Generator; got {random_state!r}."
    )


def is_integer(value) -> bool:
    """An integer that is not a bool (``True`` is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, name: str, *, minimum: int = 1, why: str | None = None) -> int:
    """The package's one integer-parameter check.

    Raises
    ------
    ValueError
        ``"{name} must be an integer >= {minimum} ({why}), got {value!r}."``
        for a non-integer (bools included) or a value below ``minimum``.
    """
    if not is_integer(value) or value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} must be an integer >= {minimum}{reason}, got {value!r}.")
    return int(value)


def check_positive_real(value, name: str) -> float:
    """The package's one positive-number check: finite, real, > 0, not a bool.

    Raises
    ------
    ValueError
        ``"{name} must be a finite positive number, got {value!r}."``
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or not value > 0
    ):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}.")
    return float(value)
