"""Input validation shared by every smoother and measure.

Validation happens once, at the public entry points, so the numerical code
underneath can assume finite, 2-D, C-contiguous float arrays.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = [
    "PREDICTION_RTOL",
    "TrainingMismatchError",
    "UnverifiedTrainingDataWarning",
    "check_feature_names",
    "check_fitted",
    "check_inputs",
    "check_int",
    "check_labels",
    "check_n_train",
    "check_positive_real",
    "check_random_state",
    "check_reproduces_predictions",
    "check_sample_weight",
    "draw_seed",
    "is_integer",
    "training_mismatch",
    "warn_unverified",
]

#: Relative tolerance of the check ``S(X_train) @ y_train == predict(X_train)``,
#: relative to the largest absolute label or prediction. Smoothers from direct
#: float64 solves reproduce predictions to ~1e-12, and histogram boosting (float32
#: gradients) to ~1e-8; an X_train or y_train that is not the training set (other,
#: shuffled or scaled rows), unrecorded sample weights or an unconverged solver
#: move predictions by 1e-3 or more of the label scale. 1e-6 sits between the two.
PREDICTION_RTOL = 1e-6


def check_fitted(estimator) -> None:
    """Raise ``NotFittedError`` unless an estimator with scikit-learn's API is fitted.

    scikit-learn estimators are checked by scikit-learn's ``check_is_fitted``.
    Other objects with ``fit`` and ``get_params`` (pyGAM's GAMs, estimators
    written to the scikit-learn API without its base classes) are checked by
    the same convention: a fitted object has an attribute whose name ends in
    ``_``. Objects that are not estimators (statsmodels results, torch
    modules) are left to their family's own checks
    (``Smoother._check_fitted``).
    """
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        return
    if hasattr(estimator, "__sklearn_tags__") or hasattr(estimator, "__sklearn_is_fitted__"):
        check_is_fitted(estimator)
        return
    # check_is_fitted needs scikit-learn's tags, which duck-typed estimators lack.
    if not any(k.endswith("_") and not k.startswith("__") for k in vars(estimator)):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            f"appropriate arguments before measuring it."
        )


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
        When given and it has ``n_features_in_``, the width of ``X`` must match;
        when it has ``feature_names_in_``, a DataFrame ``X`` must have those
        columns in that order (see :func:`check_feature_names`).
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
        wrong number or names of columns.
    """
    if estimator is not None:
        check_feature_names(X, estimator, name=name)
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
    """``X_train`` is not the training set the model was fitted on.

    Raised by every function that takes ``X_train`` when the fitted model's
    own records (stored inputs, leaf sizes, bootstrap samples, singular
    values) or the ``y_train`` check ``S(X_train) @ y_train == predict(X_train)``
    show that ``X_train`` (or ``y_train``, or unrecorded sample weights) is not
    what the model was fitted on. A subclass of ``ValueError``.

    Attributes
    ----------
    args : tuple of str
        ``(message,)``: what differs and what to pass instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> knn = KNeighborsRegressor(n_neighbors=2).fit(X, X[:, 0])
    >>> try:
    ...     ec.effective_parameters(knn, X[::-1])
    ... except ec.TrainingMismatchError as err:
    ...     print(str(err)[:62])
    X_train does not match the training set KNeighborsRegressor wa
    """


class UnverifiedTrainingDataWarning(UserWarning):
    """``X_train`` could not be checked against the fitted model.

    Issued once per call by the functions that take ``X_train`` (measures,
    :func:`effcomplexity.get_smoother`, :func:`effcomplexity.smooth`, ...)
    when ``y_train`` is not given and the model records nothing that tells its
    training rows apart from shuffled, scaled or other rows: ridge and least
    squares, single trees, forests without bootstrap, gradient and histogram
    boosting (and pipelines or voting ensembles made only of these). A wrong
    ``X_train`` then gives wrong numbers without an error. Pass ``y_train=``
    (the labels used to fit) to have ``S(X_train) @ y_train`` compared with the
    model's own predictions, which both checks ``X_train`` and silences this
    warning; or filter it with
    ``warnings.simplefilter("ignore", UnverifiedTrainingDataWarning)`` once the
    inputs are known to be right.

    Attributes
    ----------
    args : tuple of str
        ``(message,)``: the model, why its ``X_train`` cannot be checked, and
        how to check it.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(20, 2))
    >>> ridge = Ridge().fit(X, X[:, 0])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     p = ec.effective_parameters(ridge, X)
    >>> caught[0].category is ec.UnverifiedTrainingDataWarning
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", ec.UnverifiedTrainingDataWarning)
    ...     p = ec.effective_parameters(ridge, X, y_train=X[:, 0])   # checked: no warning
    """


def _caller_stacklevel() -> int:
    """``stacklevel`` of the first frame outside this package (the user's call)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def warn_unverified(smoother) -> None:
    """Issue :class:`UnverifiedTrainingDataWarning` for a smoother built without ``y_train``."""
    name = type(smoother.estimator).__name__
    warnings.warn(
        f"X_train cannot be verified for {name}: {smoother.unverified_reason}, so a "
        f"shuffled, scaled or other X_train would give wrong numbers without an error. "
        f"Pass y_train= (the labels used to fit) to check that S(X_train) @ y_train "
        f"equals the model's predict(X_train); once the inputs are known to be right, "
        f"warnings.simplefilter('ignore', effcomplexity.UnverifiedTrainingDataWarning) "
        f"silences this.",
        UnverifiedTrainingDataWarning,
        stacklevel=_caller_stacklevel(),
    )


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


def _column_names(X):
    """Column names of a DataFrame-like ``X`` whose names are all strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if all(isinstance(c, str) for c in names) else None


def check_feature_names(X, estimator, *, name: str = "X") -> None:
    """Raise if ``X`` is a DataFrame whose columns are not the fitted ``feature_names_in_``.

    The rule of scikit-learn's own ``predict``: columns that are renamed,
    missing, added or in another order raise, they are never matched up.
    For ``X_train`` the error is :func:`training_mismatch`'s.

    Raises
    ------
    TrainingMismatchError
        For ``name="X_train"``.
    ValueError
        For evaluation inputs.
    """
    names = _column_names(X)
    fitted = getattr(estimator, "feature_names_in_", None)
    if names is None or fitted is None:
        return
    fitted = np.asarray(fitted, dtype=object)
    if names.shape == fitted.shape and np.all(names == fitted):
        return
    unexpected = [c for c in names if c not in set(fitted)]
    missing = [c for c in fitted if c not in set(names)]
    if unexpected or missing:
        detail = (
            f"its columns differ from the feature names the model was fitted with "
            f"(feature_names_in_): unseen {unexpected}, missing {missing}"
        )
    else:
        detail = (
            f"its columns are in another order than the feature names the model was "
            f"fitted with (feature_names_in_ = {list(fitted)}, got {list(names)})"
        )
    if name == "X_train":
        raise training_mismatch(estimator, detail)
    raise ValueError(
        f"{name} does not have the columns {type(estimator).__name__} was fitted with: "
        f"{detail.removeprefix('its columns ')}. Select the columns in the fitted order, "
        f"e.g. {name}[list(model.feature_names_in_)]."
    )


def check_sample_weight(sample_weight, n_train: int) -> np.ndarray | None:
    """Validate fit-time sample weights: finite, non-negative, one per training row.

    Returns ``None`` for ``None`` and a float64 array of shape (n_train,) otherwise.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float)
    if w.ndim == 0:
        w = np.full(n_train, float(w))
    if w.ndim != 1 or w.shape[0] != n_train:
        raise ValueError(
            f"sample_weight has shape {np.shape(sample_weight)}, but X_train has {n_train} "
            f"rows: pass the weights used to fit, one per training row."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError(
            "sample_weight must be finite and non-negative with a positive sum: pass the "
            "weights used to fit."
        )
    return w


def _model_predictions(smoother) -> np.ndarray:
    """The fitted model's own predictions on the smoother's training inputs.

    Families whose prediction is not ``estimator.predict(X_train)`` define
    ``_model_predictions()``; classifiers give ``predict_proba`` (stacked over
    outputs), which is what the smoother of one-hot labels reproduces.
    """
    own = getattr(smoother, "_model_predictions", None)
    if own is not None:
        return np.asarray(own(), dtype=float)
    est = smoother.estimator
    with warnings.catch_warnings():
        # Validated arrays have lost the DataFrame's (already checked) column names.
        warnings.filterwarnings("ignore", message=".*valid feature names")
        if hasattr(est, "predict_proba") and hasattr(est, "classes_"):
            proba = est.predict_proba(smoother.X_train)
            return np.hstack(proba) if isinstance(proba, list) else np.asarray(proba)
        return np.asarray(est.predict(smoother.X_train), dtype=float)


def _as_label_matrix(y_train, predictions: np.ndarray, estimator) -> np.ndarray:
    """``y_train`` as a float array shaped like the predictions (classes one-hot)."""
    y = np.asarray(y_train)
    classes = getattr(estimator, "classes_", None)
    if (
        classes is not None
        and not isinstance(classes, list)
        and y.ndim == 1
        and predictions.ndim == 2
        and predictions.shape[1] == len(classes)
    ):
        # Class labels: one-hot in classes_ order, as predict_proba is.
        onehot = (y[:, None] == np.asarray(classes)[None, :]).astype(float)
        if np.all(onehot.sum(axis=1) == 1):
            return onehot
    return np.asarray(y, dtype=float)


def check_reproduces_predictions(smoother, y_train, *, rtol: float = PREDICTION_RTOL) -> None:
    """Raise unless ``S(X_train) @ y_train`` equals the model's own training predictions.

    The one check that needs no record of the training set: a wrong,
    shuffled, scaled or shortened ``X_train`` (or ``y_train``), sample
    weights the model was fitted with but not given, or a solver that did
    not reach the closed form all make the smoother's predictions differ
    from the model's.

    Parameters
    ----------
    smoother : Smoother
    y_train : array-like of shape (n,) or (n, k)
        The labels the model was fitted on (class labels or one-hot labels
        for classifiers).
    rtol : float
        Tolerance on the largest absolute difference, relative to the largest
        absolute label or prediction (see ``PREDICTION_RTOL``).

    Raises
    ------
    TrainingMismatchError
        With the size of the mismatch.
    """
    est = smoother.estimator
    if y_train is None:
        return
    predictions = _model_predictions(smoother)
    y = _as_label_matrix(y_train, predictions, est)
    if y.ndim == 0 or y.shape[0] != smoother.n_train:
        raise ValueError(
            f"y_train has {np.shape(y_train)[0] if np.ndim(y_train) else 0} rows, but X_train "
            f"has {smoother.n_train}: pass the labels the model was fitted on."
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("y_train contains NaN or infinity: pass the labels used to fit.")
    verified = getattr(smoother, "_verified_y_train", None)
    if verified is not None and verified.shape == y.shape and np.array_equal(verified, y):
        return
    fitted = np.asarray(smoother.smooth(y))
    if fitted.shape != predictions.shape:
        if fitted.size != predictions.size:
            raise ValueError(
                f"y_train gives predictions of shape {fitted.shape}, but "
                f"{type(est).__name__} predicts shape {predictions.shape}: pass the labels "
                f"the model was fitted on (one-hot in classes_ order for classifiers)."
            )
        fitted = fitted.reshape(predictions.shape)
    gap = float(np.max(np.abs(fitted - predictions))) if fitted.size else 0.0
    scale = max(float(np.max(np.abs(predictions), initial=0.0)), float(np.max(np.abs(y))))
    if not gap <= rtol * max(scale, np.finfo(float).tiny):
        detail = (
            f"the smoother's predictions S(X_train) @ y_train differ from the model's own "
            f"predictions on X_train by up to {gap:.3g} ({gap / max(scale, 1e-300):.2g} of "
            f"the largest label or prediction; tolerance {rtol:g})"
        )
        # A family that can name a cause other than X_train (a near-singular solve) says so.
        cause = getattr(smoother, "_mismatch_cause", None)
        cause = cause() if cause is not None else None
        if cause:
            raise TrainingMismatchError(f"{type(est).__name__}: {detail}. {cause}")
        raise training_mismatch(
            est,
            detail,
            "Check that y_train holds the labels used to fit, and pass sample_weight if the "
            "fit used one. An iterative solver that stopped before convergence also "
            "causes this: refit it with a smaller tol or a direct solver.",
        )
    smoother._verified_y_train = y.copy()


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


#: Upper bound (exclusive) of the seeds :func:`draw_seed` draws: torch's and
#: numpy's generators accept them all.
_SEED_BOUND = 2**31 - 1


def check_random_state(random_state) -> np.random.RandomState:
    """The package's one ``random_state`` rule (the user guide's :ref:`random-state`).

    An integer seeds a new ``RandomState`` (so integer seeds give the same
    numbers as scikit-learn); a ``RandomState`` is used as it is; a
    ``numpy.random.Generator`` is wrapped around its bit generator, so draws
    advance the caller's stream; ``None`` is NumPy's global ``RandomState``,
    so ``np.random.seed(k)`` makes the call repeatable.

    Raises
    ------
    TypeError
        For anything else (floats, strings, booleans).
    ValueError
        For an integer outside numpy's seed range ``[0, 2**32 - 1]``.
    """
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.bit_generator)
    if is_integer(random_state):
        if not 0 <= random_state < 2**32:
            raise ValueError(
                f"random_state must be an integer in [0, 2**32 - 1] (numpy's seed range), "
                f"got {random_state!r}."
            )
        return np.random.RandomState(int(random_state))
    raise TypeError(
        "random_state must be None, an integer seed, a numpy.random.RandomState or a "
        f"numpy.random.Generator; got {random_state!r}."
    )


def draw_seed(random_state) -> int:
    """One integer seed under the rule of :func:`check_random_state`.

    For code whose randomness is not a numpy ``RandomState``: torch's
    generators, a ``numpy.random.Generator`` stream, worker processes. An
    integer is returned as it is (so ``random_state=0`` seeds torch with 0);
    otherwise one draw from the resolved stream, so a ``RandomState`` or
    ``Generator`` advances and ``None`` follows ``np.random.seed``.
    """
    rng = check_random_state(random_state)
    if is_integer(random_state):
        return int(random_state)
    return int(rng.randint(_SEED_BOUND))


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
