"""Black-box degrees of freedom: Ye's generalized df and Efron's covariance penalty.

Both measure how strongly a fitting *procedure* follows its own training
labels, by refitting it on perturbed labels. Neither needs the model to be a
linear smoother, so they apply to adaptive procedures (trees whose splits are
chosen on ``y``, boosting with early decisions, neural networks) and to
classifiers through a score or a class probability.
"""

from __future__ import annotations

import logging
import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.utils import check_array

from .._validation import check_int, check_random_state

__all__ = [
    "DEFAULT_FLIP_RATE",
    "DEFAULT_TAU_RATIO",
    "efron_covariance_df",
    "generalized_degrees_of_freedom",
]

logger = logging.getLogger(__name__)

#: Regression: the perturbation standard deviation ``tau`` is this fraction of sigma.
DEFAULT_TAU_RATIO = 0.5
#: Classification: probability that a training label's class membership is flipped.
DEFAULT_FLIP_RATE = 0.1

_METHODS = ("ye", "efron")
_OUTPUTS = ("auto", "predict", "decision_function", "predict_proba")


# -- estimators and outputs -----------------------------------------------------------


def _new_estimator(estimator_factory):
    """A fresh unfitted estimator from a class, a template estimator or a callable."""
    if isinstance(estimator_factory, type):
        estimator = estimator_factory()
    elif hasattr(estimator_factory, "fit"):
        estimator = clone(estimator_factory, safe=False)
    elif callable(estimator_factory):
        estimator = estimator_factory()
    else:
        raise TypeError(
            "estimator_factory must be an unfitted estimator (it is cloned), an estimator "
            "class, or a callable returning a new unfitted estimator; got "
            f"{type(estimator_factory).__name__}."
        )
    if not hasattr(estimator, "fit"):
        raise TypeError(
            f"estimator_factory produced {type(estimator).__name__}, which has no fit method."
        )
    return estimator


def _is_classifier(estimator) -> bool:
    try:
        return is_classifier(estimator)
    except (AttributeError, TypeError):
        # Objects outside scikit-learn's tag system are treated as regressors.
        return False


def _resolve_output(estimator, output: str, classifier: bool) -> str:
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}.")
    if output == "auto":
        if not classifier:
            return "predict"
        return "predict_proba" if hasattr(estimator, "predict_proba") else "decision_function"
    if output != "predict" and not classifier:
        raise ValueError(
            f"output={output!r} applies to classifiers; {type(estimator).__name__} is a "
            f"regressor, whose fitted values are its predictions (output='predict')."
        )
    if not hasattr(estimator, output):
        raise ValueError(f"{type(estimator).__name__} has no {output} method.")
    return output


def _class_score(estimator, X, output: str, positive_class) -> np.ndarray:
    """The fitted value of a classifier for ``positive_class``."""
    classes = list(estimator.classes_)
    if output == "predict_proba":
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        # A refit that saw no example of the class gives it probability zero.
        if positive_class not in classes:
            return np.zeros(proba.shape[0])
        return proba[:, classes.index(positive_class)]
    scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    if positive_class not in classes:
        raise ValueError(
            f"A refit on perturbed labels saw no example of class {positive_class!r}, so its "
            f"decision_function has no score for it. Use output='predict_proba', a smaller "
            f"tau, or a class with more training examples."
        )
    if scores.ndim == 1:
        # Binary decision functions score classes_[1].
        return scores if positive_class == classes[-1] else -scores
    return scores[:, classes.index(positive_class)]


def _fit_output(estimator_factory, X, target, output: str, positive_class) -> np.ndarray:
    """Fit a fresh estimator on ``target`` and return its fitted values on ``X``."""
    estimator = _new_estimator(estimator_factory).fit(X, target)
    if output == "predict":
        values = np.asarray(estimator.predict(X), dtype=np.float64)
    else:
        values = _class_score(estimator, X, output, positive_class)
    n = len(target)
    if values.shape == (n, 1):
        values = values[:, 0]
    if values.shape != (n,):
        raise ValueError(
            f"{type(estimator).__name__}.{output} returned shape {values.shape}; generalized "
            f"degrees of freedom need one fitted value per training row ({n},). Fit one "
            f"output at a time."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{type(estimator).__name__}.{output} returned non-finite values.")
    return values


def _fit_all(estimator_factory, X, targets, output, positive_class, n_jobs) -> np.ndarray:
    if n_jobs in (None, 1):
        rows = [_fit_output(estimator_factory, X, t, output, positive_class) for t in targets]
    else:
        rows = Parallel(n_jobs=n_jobs)(
            delayed(_fit_output)(estimator_factory, X, t, output, positive_class) for t in targets
        )
    return np.asarray(rows)


# -- argument checks ------------------------------------------------------------------


def _n_rows(X) -> int:
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    return len(X)


def _check_positive(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}.")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}.")
    return float(value)


def _check_n_perturbations(value, return_std: bool) -> int:
    check_int(value, "n_perturbations", minimum=2, why="a slope needs two refits")
    if return_std and value < 3:
        raise ValueError(
            "return_std=True needs n_perturbations >= 3: the standard error is a jackknife "
            "over perturbations, which leaves one out of at least two."
        )
    return int(value)


def _estimate_sigma(X, y: np.ndarray) -> float:
    """Noise standard deviation from the residuals of least squares with an intercept."""
    try:
        Xn = check_array(X, dtype=np.float64, ensure_all_finite=True, input_name="X")
    except (TypeError, ValueError) as error:
        raise ValueError(
            "sigma=None estimates the noise level from a least-squares fit, which needs a "
            f"numeric 2-D X ({error}). Pass sigma, the noise standard deviation of y."
        ) from error
    design = np.column_stack([np.ones(len(y)), Xn])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    dof = len(y) - rank
    if dof < 1:
        raise ValueError(
            f"sigma=None estimates the noise level from least-squares residuals, which needs "
            f"more rows ({len(y)}) than columns plus an intercept ({rank}). Pass sigma, e.g. "
            f"from replicate measurements or the residuals of a low-bias model."
        )
    residual = y - design @ coef
    return float(np.sqrt(residual @ residual / dof))


# -- the Monte Carlo estimate and its jackknife ------------------------------------------


def _covariance_df(D: np.ndarray, M: np.ndarray, variance) -> tuple[float, float]:
    """Degrees of freedom from perturbations ``D`` and fitted values ``M`` (both (T, n)).

    ``variance=None`` divides each observation's empirical covariance by the
    empirical variance of its perturbations (Ye's regression slope); otherwise
    by the known variance (a scalar or one value per observation; zeros mark
    observations whose label cannot vary, which contribute nothing).
    Returns the estimate and its jackknife standard error over perturbations.
    """
    T = D.shape[0]
    Dc, Mc = D - D.mean(axis=0), M - M.mean(axis=0)
    s_dm = np.einsum("ti,ti->i", Dc, Mc)
    # Leaving replicate t out of mean-centred data removes T/(T-1) of its product.
    loo_dm = s_dm - (T / (T - 1)) * Dc * Mc
    if variance is None:
        s_dd = np.einsum("ti,ti->i", Dc, Dc)
        loo_dd = s_dd - (T / (T - 1)) * Dc * Dc
        value = float(np.sum(s_dm / s_dd))
        loo = np.sum(loo_dm / loo_dd, axis=1) if T > 2 else None
    else:
        variance = np.broadcast_to(np.asarray(variance, dtype=np.float64), s_dm.shape)
        scale = np.divide(1.0, variance, out=np.zeros_like(variance), where=variance > 0)
        value = float(np.sum(s_dm * scale) / (T - 1))
        loo = (loo_dm @ scale) / (T - 2) if T > 2 else None
    if loo is None:
        return value, float("nan")
    std = float(np.sqrt((T - 1) / T * np.sum((loo - loo.mean()) ** 2)))
    return value, std


# -- public functions ------------------------------------------------------------------


def generalized_degrees_of_freedom(
    estimator_factory,
    X,
    y,
    *,
    sigma: float | None = None,
    n_perturbations: int = 100,
    method: str = "ye",
    tau: float | None = None,
    output: str = "auto",
    positive_class=None,
    random_state=None,
    return_std: bool = False,
    n_jobs: int | None = None,
):
    r"""Degrees of freedom of any fitting procedure, by refitting on perturbed labels.

    Parameters
    ----------
    estimator_factory : estimator, estimator class or callable
        An unfitted estimator (cloned for every refit), an estimator class
        (called without arguments), or a callable returning a new unfitted
        estimator. Fix the estimator's own ``random_state`` for reproducible
        results; refits never see the original fit.
    X : array-like of shape (n, n_features)
        Training inputs, passed unchanged to ``fit``.
    y : array-like of shape (n,)
        Training targets (class labels for a classifier).
    sigma : float, optional
        Noise standard deviation of ``y`` (regression only). ``None``
        estimates it from the residuals of least squares with an intercept,
        which needs ``n`` greater than the number of columns plus one.
    n_perturbations : int
        Number of refits ``T`` (one more for ``method="efron"``).
    method : {"ye", "efron"}
        Ye's perturbation of the observed labels, or Efron's parametric
        bootstrap around the procedure's own fit (see Notes).
    tau : float, optional
        Size of Ye's perturbations. Regression: their standard deviation,
        ``DEFAULT_TAU_RATIO * sigma`` = 0.5 sigma by default. Classification:
        the probability that a label's membership of ``positive_class`` is
        flipped, ``DEFAULT_FLIP_RATE`` = 0.1 by default. Not used by Efron's
        method.
    output : {"auto", "predict", "decision_function", "predict_proba"}
        The fitted value whose sensitivity is measured. ``"auto"`` is
        ``predict`` for regressors and, for classifiers, the probability of
        ``positive_class`` (``decision_function`` when there is no
        ``predict_proba``).
    positive_class : label, optional
        Classifiers: the class whose score or probability is measured
        (default: the largest label, which is scikit-learn's positive class
        in binary problems).
    random_state : int, RandomState, Generator or None
        Seed of the perturbations (see :ref:`random-state`).
    return_std : bool
        Also return the Monte Carlo standard error (needs
        ``n_perturbations >= 3``).
    n_jobs : int, optional
        Refits run in parallel with joblib (its active backend, loky by
        default; see ``joblib.parallel_config``). The perturbations are drawn
        beforehand, so the result does not depend on ``n_jobs``.

    Returns
    -------
    gdf : float
    std : float
        Only when ``return_std=True``.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` have different numbers of rows, ``y`` is not 1-D
        and finite, ``sigma`` or ``tau`` is not positive, ``n_perturbations``
        is below 2 (3 with ``return_std``), ``sigma`` is given for a
        classifier, or ``sigma=None`` cannot be estimated.
    TypeError
        If ``estimator_factory`` does not produce an estimator.

    See Also
    --------
    effcomplexity.degrees_of_freedom : The closed-form counterparts for linear smoothers.
    effcomplexity.efron_covariance_df : Efron's covariance form from repeated fits.

    Notes
    -----
    **Ye (1998).** Draw :math:`\Delta_t \sim N(0, \tau^2 I_n)`,
    :math:`t = 1, \dots, T`, refit on :math:`y + \Delta_t` and record the
    fitted values :math:`\hat\mu_t`. For every observation regress
    :math:`\hat\mu_{t,i}` on :math:`\Delta_{t,i}` over ``t`` (with an
    intercept); the slope :math:`\hat h_i` estimates
    :math:`\partial \hat\mu_i / \partial y_i` and

    .. math::

        \mathrm{GDF} = \sum_{i=1}^{n} \hat h_i, \qquad
        \hat h_i = \frac{\sum_t (\Delta_{t,i} - \bar\Delta_i)
        (\hat\mu_{t,i} - \bar{\hat\mu}_i)}{\sum_t (\Delta_{t,i} - \bar\Delta_i)^2}.

    For a linear smoother :math:`\hat\mu = S y` each slope is unbiased for
    :math:`S_{ii}`, so GDF estimates ``tr(S)`` for any ``tau``. For an
    adaptive procedure ``tau`` trades noise against smoothing. Its fitted
    values jump when a discrete choice (a split point) changes; with a tiny
    ``tau`` these rare jumps, divided by tiny perturbations, make the slopes
    very noisy, while a ``tau`` as large as the noise averages the response
    of the procedure over a neighbourhood of that size. Ye (1998) takes
    ``tau`` a fraction of ``sigma``; the default ``tau = 0.5 sigma``
    (``DEFAULT_TAU_RATIO``) stays within the noise level while keeping the
    Monte Carlo error moderate.

    **Efron (2004).** With :math:`\hat\mu` the procedure's fit to ``y``,
    draw :math:`y^*_t = \hat\mu + \varepsilon_t`,
    :math:`\varepsilon_t \sim N(0, \sigma^2 I_n)`, refit, and estimate

    .. math::

        \mathrm{df} = \frac{1}{\sigma^2} \sum_{i=1}^{n}
        \widehat{\operatorname{Cov}}(\hat\mu^*_i, y^*_i), \qquad
        \widehat{\operatorname{Cov}}(\hat\mu^*_i, y^*_i) =
        \frac{1}{T-1} \sum_t (\hat\mu^*_{t,i} - \bar{\hat\mu}^*_i)
        (y^*_{t,i} - \bar y^*_i),

    the covariance penalty, which equals ``tr(S)`` for a linear smoother.
    Ye's form differentiates at the observed labels; Efron's averages over
    label vectors drawn around the fit, so the two can differ for adaptive
    procedures. Efron's form needs a good ``sigma``; Ye's only uses it to
    scale the perturbations.

    **Classifiers.** The fitted value is a class probability (default) or
    score for one class, and the label is the indicator
    :math:`z_i = 1[y_i = c]`. Ye's perturbation flips that indicator with
    probability ``tau`` (a label of class ``c`` becomes a uniformly drawn
    other class; any other label becomes ``c``) and divides each covariance
    by the known variance :math:`\tau(1 - \tau)` of the flips, since an
    observation may be flipped in too few refits for its own regression.
    Efron's bootstrap draws labels from the fitted class probabilities
    :math:`\hat\pi_i` and divides by :math:`\hat\pi_{ic}(1 - \hat\pi_{ic})`
    (the Bernoulli variance). On the probability scale the df of a maximum
    likelihood logistic regression is its number of coefficients, since
    :math:`\partial\hat\mu/\partial y = W X (X^\top W X)^{-1} X^\top`
    has that trace.

    **Standard error.** A jackknife over the ``T`` perturbations: the
    estimate is recomputed leaving out each refit in turn (in closed form,
    from the centred sums) and the spread of those values gives the standard
    error. Perturbations are independent, so this accounts for the
    correlation between the fitted values of different observations within a
    refit, which adding the per-observation slope errors would ignore.

    **Adaptive trees.** Holding its partition fixed, a regression tree with
    ``L`` leaves is a projection onto the leaf indicators, a linear smoother
    with ``tr(S) = L``: this is its effective number of parameters as a
    smoother and its naive parameter count. But the splits are chosen to fit
    ``y``, so when the labels move, the split points move with them and the
    fitted values follow the labels more closely than any fixed partition
    would. GDF counts this search: it exceeds ``L``, on pure noise by a wide
    margin, and the excess is the cost of the data-driven choice that
    counting leaves ignores (Ye 1998).

    References
    ----------
    J. Ye. "On Measuring and Correcting the Effects of Data Mining and Model
    Selection". Journal of the American Statistical Association 93(441), 1998.
    B. Efron. "The Estimation of Prediction Error: Covariance Penalties and
    Cross-Validation". Journal of the American Statistical Association
    99(467), 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 3))
    >>> y = X @ [1.0, -1.0, 0.5] + rng.normal(size=80)
    >>> gdf, se = ec.generalized_degrees_of_freedom(
    ...     LinearRegression(), X, y, random_state=0, return_std=True
    ... )
    >>> bool(abs(gdf - 4) < 3 * se)     # 3 coefficients and an intercept
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    T = _check_n_perturbations(n_perturbations, return_std)
    sigma = _check_positive(sigma, "sigma")
    tau = _check_positive(tau, "tau")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"y must be 1-D (one target per row), got shape {y.shape}. For a multi-output "
            f"model, measure one output at a time."
        )
    n = _n_rows(X)
    if n != y.shape[0]:
        raise ValueError(
            f"X has {n} rows but y has {y.shape[0]}: pass one target per training row."
        )
    template = _new_estimator(estimator_factory)
    classifier = _is_classifier(template)
    output = _resolve_output(template, output, classifier)
    rng = check_random_state(random_state)

    if classifier:
        if sigma is not None:
            raise ValueError(
                "sigma applies to regression. For a classifier the label noise is set by "
                "tau (Ye: flip probability) or by the fitted class probabilities (Efron)."
            )
        draws = _classification_draws(
            estimator_factory, X, y, T, method, tau, output, positive_class, rng
        )
        targets, D, variance, positive_class = draws
    else:
        if positive_class is not None:
            raise ValueError("positive_class applies to classifiers only.")
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if sigma is None:
            sigma = _estimate_sigma(X, y)
            logger.info("Estimated sigma = %.6g from least-squares residuals", sigma)
        if method == "ye":
            tau = DEFAULT_TAU_RATIO * sigma if tau is None else tau
            D = tau * rng.standard_normal((T, n))
            targets, variance = y + D, None
        else:
            if tau is not None:
                raise ValueError("tau sets Ye's perturbations; method='efron' uses sigma.")
            center = _fit_output(estimator_factory, X, y, output, None)
            D = sigma * rng.standard_normal((T, n))
            targets, variance = center + D, sigma**2
    M = _fit_all(estimator_factory, X, targets, output, positive_class, n_jobs)
    value, std = _covariance_df(D, M, variance)
    return (value, std) if return_std else value


def _classification_draws(estimator_factory, X, y, T, method, tau, output, positive_class, rng):
    """Perturbed label vectors, indicator perturbations and their variances."""
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("y holds a single class; a classifier needs at least two.")
    if positive_class is None:
        positive_class = classes[-1]
    elif positive_class not in classes:
        raise ValueError(f"positive_class {positive_class!r} is not one of the labels {classes}.")
    others = classes[classes != positive_class]
    z = (y == positive_class).astype(np.float64)
    n = y.shape[0]
    if method == "ye":
        tau = DEFAULT_FLIP_RATE if tau is None else tau
        if tau >= 1:
            raise ValueError(
                f"tau is a flip probability for classifiers: use 0 < tau < 1, got {tau}."
            )
        flip = rng.random_sample((T, n)) < tau
        replacement = others[rng.randint(0, others.size, size=(T, n))]
        flipped = np.where(z.astype(bool), replacement, positive_class)
        targets = np.where(flip, flipped, y)
        return targets, (targets == positive_class) - z, tau * (1.0 - tau), positive_class
    if tau is not None:
        raise ValueError("tau sets Ye's perturbations; method='efron' draws from the fit.")
    fitted = _new_estimator(estimator_factory).fit(X, y)
    if not hasattr(fitted, "predict_proba"):
        raise ValueError(
            f"method='efron' draws bootstrap labels from predicted class probabilities, and "
            f"{type(fitted).__name__} has no predict_proba. Use method='ye'."
        )
    proba = np.asarray(fitted.predict_proba(X), dtype=np.float64)
    fitted_classes = np.asarray(fitted.classes_)
    cumulative = np.cumsum(proba, axis=1)
    cumulative[:, -1] = 1.0
    uniform = rng.random_sample((T, n, 1))
    drawn = (uniform > cumulative[None, :, :]).sum(axis=2)
    targets = fitted_classes[drawn]
    pi = proba[:, list(fitted_classes).index(positive_class)]
    return targets, (targets == positive_class).astype(np.float64), pi * (1.0 - pi), positive_class


def efron_covariance_df(
    estimator_factory,
    X,
    y,
    *,
    sigma: float | None = None,
    n_perturbations: int = 100,
    output: str = "auto",
    positive_class=None,
    random_state=None,
    return_std: bool = False,
    n_jobs: int | None = None,
):
    r"""Efron's covariance-penalty degrees of freedom by parametric bootstrap.

    Shorthand for :func:`generalized_degrees_of_freedom` with
    ``method="efron"``; the parameters are the same.

    Parameters
    ----------
    estimator_factory, X, y, sigma, n_perturbations
        As in :func:`generalized_degrees_of_freedom`.
    output, positive_class, random_state, return_std, n_jobs
        As in :func:`generalized_degrees_of_freedom` (``random_state``: see
        :ref:`random-state`).

    Returns
    -------
    df : float
    std : float
        Only when ``return_std=True``.

    Notes
    -----
    .. math::

        \mathrm{df} = \frac{1}{\sigma^2} \sum_{i=1}^{n}
        \operatorname{Cov}(\hat\mu_i, y_i),

    estimated over bootstrap label vectors :math:`y^* \sim N(\hat\mu, \sigma^2 I)`
    (Bernoulli draws from the fitted probabilities for classifiers).

    References
    ----------
    B. Efron. "The Estimation of Prediction Error: Covariance Penalties and
    Cross-Validation". Journal of the American Statistical Association
    99(467), 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    >>> df, std = ec.efron_covariance_df(LinearRegression, X, y, sigma=1.0,
    ...                                  n_perturbations=200, random_state=0, return_std=True)
    >>> bool(abs(df - 4.0) < 3 * std)   # tr(S) = 3 columns + intercept
    True
    """
    return generalized_degrees_of_freedom(
        estimator_factory,
        X,
        y,
        sigma=sigma,
        n_perturbations=n_perturbations,
        method="efron",
        output=output,
        positive_class=positive_class,
        random_state=random_state,
        return_std=return_std,
        n_jobs=n_jobs,
    )
