"""Effective parameters and classical degrees of freedom of linear smoothers."""

from __future__ import annotations

import logging
import numbers
import warnings

import numpy as np

from .._validation import check_int, check_random_state
from ..smoothers.registry import Smoother, get_smoother
from ._probes import (
    DEFAULT_PROBE_SEED,
    ProbeEstimateWarning,
    check_probe_kind,
    mean_std_error,
    random_probes,
)

__all__ = [
    "AUTO_EXACT_MAX_ENTRIES",
    "AUTO_EXACT_MAX_STAGED_ENTRIES",
    "DEFAULT_N_PROBES",
    "DEFAULT_PROBE_SEED",
    "ProbeEstimateWarning",
    "degrees_of_freedom",
    "effective_parameters",
    "staged_degrees_of_freedom",
    "staged_effective_parameters",
]

logger = logging.getLogger(__name__)

#: ``method="auto"`` is exact when the family's exact norms avoid dense matrices,
#: or when the dense ``(m, n)`` smoother has at most this many entries (200 MB)
#: and, for staged measures, all stages together at most ``AUTO_EXACT_MAX_STAGED_ENTRIES``.
AUTO_EXACT_MAX_ENTRIES = 25_000_000
#: Budget of ``n_stages * m * n`` entries for exact staged measures under ``"auto"``:
#: the exact route replays every stage on the identity, so its time grows with stages.
AUTO_EXACT_MAX_STAGED_ENTRIES = 100_000_000
#: Probes used by ``method="probe"`` when ``n_probes`` is not given.
DEFAULT_N_PROBES = 100

_METHODS = ("auto", "exact", "probe")
_DF_KINDS = ("trace", "variance", "residual")


def _check_method(method: str) -> None:
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")


def _check_n_probes(n_probes) -> int:
    if n_probes is None:
        return DEFAULT_N_PROBES
    return check_int(n_probes, "n_probes", minimum=2, why="a standard error needs two probes")


def _n_rows(smoother: Smoother, X) -> int:
    """Rows of ``X`` for the exact-or-probe policy; the smoother validates ``X`` itself."""
    if X is None:
        return smoother.n_train
    shape = np.shape(X)
    return int(shape[0]) if shape else 0


def use_exact(smoother: Smoother, m: int, method: str, n_stages: int = 1) -> bool:
    """The package's one exact-or-probe policy, for every smoother measure.

    ``"exact"`` and ``"probe"`` are obeyed; ``"auto"`` is exact when the
    family's exact norms avoid dense matrices, or when the dense ``(m, n)``
    smoother has at most ``AUTO_EXACT_MAX_ENTRIES`` entries and all
    ``n_stages`` of them at most ``AUTO_EXACT_MAX_STAGED_ENTRIES``.
    """
    _check_method(method)
    if method != "auto":
        return method == "exact"
    entries = m * smoother.n_train
    return smoother.exact_norms_are_cheap or (
        entries <= AUTO_EXACT_MAX_ENTRIES and n_stages * entries <= AUTO_EXACT_MAX_STAGED_ENTRIES
    )


def _seed_words(random_state) -> str:
    if random_state is None:
        return "random_state=None (numpy's global random state)"
    if isinstance(random_state, numbers.Integral):
        if random_state == DEFAULT_PROBE_SEED:
            return (
                f"random_state={DEFAULT_PROBE_SEED} (the default seed, so repeated calls agree; "
                f"pass random_state to draw other probes)"
            )
        return f"random_state={int(random_state)}"
    return f"the {type(random_state).__name__} passed as random_state"


def _probe_route(
    what: str,
    smoother: Smoother,
    m: int,
    method: str,
    n_probes,
    probe,
    random_state,
    n_stages: int = 1,
):
    """Check every probe argument, then choose the route by :func:`use_exact`.

    Returns ``None`` for the exact route, else the ``(n_train, k)`` probes.
    The arguments are checked whichever route is taken, so a bad ``n_probes``
    never passes unnoticed because the model happened to be small. When
    ``method="auto"`` chooses probes, a log record and a
    :class:`~effcomplexity.exceptions.ProbeEstimateWarning` say so.
    """
    _check_method(method)
    k = _check_n_probes(n_probes)
    check_probe_kind(probe)
    rng = check_random_state(random_state)
    if use_exact(smoother, m, method, n_stages):
        return None
    if method == "auto":
        entries = f"m * n = {m * smoother.n_train:,} entries"
        budgets = f"AUTO_EXACT_MAX_ENTRIES = {AUTO_EXACT_MAX_ENTRIES:,}"
        if n_stages > 1:
            entries += f" per stage over {n_stages} stages"
            budgets += f", AUTO_EXACT_MAX_STAGED_ENTRIES = {AUTO_EXACT_MAX_STAGED_ENTRIES:,}"
        message = (
            f"{what}: method='auto' estimated this value with {k} {probe} probes, since "
            f"{type(smoother).__name__} has no cheap exact norms and its dense smoother "
            f"would hold {entries} (budgets: {budgets}); probes drawn with "
            f"{_seed_words(random_state)}. Pass return_std=True for the standard error, "
            f"method='exact' for the exact value, or method='probe' to choose probes "
            f"explicitly."
        )
        logger.info(message)
        warnings.warn(message, ProbeEstimateWarning, stacklevel=3)
    return random_probes(smoother.n_train, k, probe, rng)


def _staged_smoother(estimator, X_train, what: str, y_train, sample_weight) -> Smoother:
    smoother = get_smoother(estimator, X_train, y_train=y_train, sample_weight=sample_weight)
    if not smoother.supports_staged:
        raise TypeError(
            f"{type(smoother.estimator).__name__} has no stages: staged {what} apply to "
            f"boosting and tree ensembles. Use the unstaged function."
        )
    return smoother


def effective_parameters(
    estimator,
    X_train,
    X=None,
    *,
    method: str = "auto",
    n_probes: int | None = None,
    probe: str = "rademacher",
    random_state=DEFAULT_PROBE_SEED,
    return_std: bool = False,
    y_train=None,
    sample_weight=None,
):
    r"""Effective number of parameters :math:`\hat p` of a fitted smoother.

    Curth, Jeffares and van der Schaar's measure of how many parameters a
    model uses on a set of inputs: the mean squared norm of the smoother
    weights, scaled by the number of training points.

    Parameters
    ----------
    estimator : fitted estimator or Smoother
        A registered family (see :func:`effcomplexity.register_smoother`).
    X_train : array-like of shape (n, n_features) or None
        The training inputs, in the order used to fit.
        With a Smoother, ``None`` or the inputs it was built on; other
        inputs raise :class:`~effcomplexity.TrainingMismatchError`.
    X : array-like of shape (m, n_features), optional
        Inputs on which complexity is measured; ``None`` gives ``p_train``,
        held-out inputs give ``p_test``.
    method : {"auto", "exact", "probe"}
        ``"exact"`` sums exact row norms; ``"probe"`` estimates them with
        random probes through :func:`effcomplexity.smooth`, never forming
        ``S``; ``"auto"`` is exact when the family computes exact norms
        without a dense matrix, or when ``m * n`` is at most
        ``AUTO_EXACT_MAX_ENTRIES`` (25 million), and probes otherwise, saying
        so with a log record and a :class:`~effcomplexity.exceptions.ProbeEstimateWarning`.
    n_probes : int, optional
        Number of probes (default ``DEFAULT_N_PROBES`` = 100).
    probe : {"rademacher", "gaussian"}
        Distribution of the probe entries.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the probes (see :ref:`random-state`); the default makes two
        identical calls return identical numbers.
    return_std : bool
        Also return the standard error (0.0 for the exact path).
    y_train : array-like of shape (n,) or (n, k), optional
        The training labels. When given, ``S(X_train) @ y_train`` must equal
        the model's own predictions on ``X_train`` before anything is
        computed: the only check of ``X_train`` for families that record
        nothing about their training rows (ridge, least squares; see the user
        guide).
    sample_weight : array-like of shape (n,), optional
        The weights the model was fitted with (scikit-learn does not record
        them); the weighted smoother is built where the family allows it
        (least squares, ridge, kernel ridge, trees and forests) and
        ``ValueError`` is raised where it does not.

    Returns
    -------
    p_hat : float
    std : float
        Only when ``return_std=True``.

    Raises
    ------
    ValueError
        For an unknown method or probe, or ``n_probes`` not an integer of at
        least 2, whichever route is taken.
    TypeError
        For a ``random_state`` that is not None, an integer, a
        ``RandomState`` or a ``Generator``.

    Warns
    -----
    ProbeEstimateWarning
        When ``method="auto"`` chooses probes.

    See Also
    --------
    effcomplexity.staged_effective_parameters : The same along boosting stages or tree counts.
    effcomplexity.degrees_of_freedom : Classical trace, variance and residual degrees of freedom.
    effcomplexity.smoother_matrix : The weights behind the measure.
    effcomplexity.nn.TelescopingTracker : Effective parameters of a network's training path.

    Notes
    -----
    .. math::

        \hat p(I_0) = \frac{n}{|I_0|} \sum_{j \in I_0} \lVert s(x_j) \rVert^2 .

    On the training inputs this is :math:`\operatorname{tr}(S S^\top)`. For
    probes :math:`z` with :math:`E[z z^\top] = I`,
    :math:`E[(s(x)^\top z)^2] = \lVert s(x) \rVert^2`, so each probe gives an
    unbiased estimate and their spread gives the standard error. Unlike the
    published code, which stores the mean squared norm, the value reported
    here includes the factor ``n``.

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3))
    >>> y = rng.normal(size=50)
    >>> ols = LinearRegression().fit(X, y)
    >>> round(ec.effective_parameters(ols, X, y_train=y), 10)   # p + 1 for the intercept
    4.0
    """
    smoother = get_smoother(estimator, X_train, y_train=y_train, sample_weight=sample_weight)
    n = smoother.n_train
    Z = _probe_route(
        "effective_parameters",
        smoother,
        _n_rows(smoother, X),
        method,
        n_probes,
        probe,
        random_state,
    )
    if Z is None:
        norms = smoother.row_norms_sq(X)
        value, std = n / norms.shape[0] * float(np.sum(norms)), 0.0
    else:
        SZ = smoother.smooth(Z, X)
        value, std = mean_std_error(n / SZ.shape[0] * np.einsum("ij,ij->j", SZ, SZ))
    return (value, std) if return_std else value


def staged_effective_parameters(
    estimator,
    X_train,
    X=None,
    *,
    method: str = "auto",
    n_probes: int | None = None,
    probe: str = "rademacher",
    random_state=DEFAULT_PROBE_SEED,
    return_std: bool = False,
    y_train=None,
    sample_weight=None,
):
    """Effective parameters after every stage of a staged model, in one pass.

    For boosting, stage ``t`` is the model after ``t`` rounds; for forests and
    bagging, it is the average of the first ``t`` trees. All stages cost about
    as much as the last one alone.

    Parameters
    ----------
    estimator, X_train, X, method, n_probes, probe, random_state, y_train, sample_weight
        As in :func:`effective_parameters`; under ``method="auto"`` the exact
        route also needs ``n_stages * m * n`` at most
        ``AUTO_EXACT_MAX_STAGED_ENTRIES`` (100 million), since it replays
        every stage. ``random_state`` follows :ref:`random-state`.
    return_std : bool
        Also return per-stage standard errors (zeros for the exact path).

    Returns
    -------
    p_hat : ndarray of shape (n_stages,)
    std : ndarray of shape (n_stages,)
        Only when ``return_std=True``.

    Raises
    ------
    TypeError
        If the estimator's family has no stages.

    See Also
    --------
    effcomplexity.effective_parameters : One value for the fitted model.
    effcomplexity.staged_predictions : The staged predictions themselves.
    effcomplexity.staged_over_members : The same as members join a voting or bagging ensemble.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 2)), rng.normal(size=60)
    >>> forest = RandomForestRegressor(n_estimators=3, max_leaf_nodes=8, bootstrap=False,
    ...                                random_state=0).fit(X, y)
    >>> ec.staged_effective_parameters(forest, X, y_train=y).shape   # one value per tree count
    (3,)
    """
    smoother = _staged_smoother(estimator, X_train, "effective parameters", y_train, sample_weight)
    n = smoother.n_train
    Z = _probe_route(
        "staged_effective_parameters",
        smoother,
        _n_rows(smoother, X),
        method,
        n_probes,
        probe,
        random_state,
        smoother.n_stages(),
    )
    if Z is None:
        norms = smoother.staged_row_norms_sq(X)
        values = n / norms.shape[1] * norms.sum(axis=1)
        std = np.zeros_like(values)
    else:
        per_stage = np.array(
            [n / SZ.shape[0] * np.einsum("ij,ij->j", SZ, SZ) for SZ in smoother.staged_smooth(Z, X)]
        )
        values, std = mean_std_error(per_stage, axis=1)
    return (values, std) if return_std else values


def degrees_of_freedom(
    estimator,
    X_train,
    *,
    kind: str = "trace",
    method: str = "auto",
    n_probes: int | None = None,
    probe: str = "rademacher",
    random_state=DEFAULT_PROBE_SEED,
    return_std: bool = False,
    y_train=None,
    sample_weight=None,
):
    r"""Classical degrees of freedom of a linear smoother on its training inputs.

    Parameters
    ----------
    estimator : fitted estimator or Smoother
    X_train : array-like of shape (n, n_features) or None
        The training inputs, in the order used to fit.
        With a Smoother, ``None`` or the inputs it was built on; other
        inputs raise :class:`~effcomplexity.TrainingMismatchError`.
    kind : {"trace", "variance", "residual"}
        ``tr(S)``, ``tr(S S^T)`` or ``tr(2S - S S^T)``.
    method : {"auto", "exact", "probe"}
        ``"exact"`` uses the family's exact trace and row norms; ``"probe"``
        estimates every kind from random probes through
        :func:`effcomplexity.smooth`, never forming ``S``; ``"auto"`` is
        exact for ``kind="trace"`` (every family's trace avoids the dense
        matrix) and, for ``"variance"`` and ``"residual"``, follows the same
        policy as :func:`effective_parameters` with ``m = n``: probes when the
        family has no cheap exact norms and ``n * n`` exceeds
        ``AUTO_EXACT_MAX_ENTRIES`` (25 million), issuing a
        :class:`~effcomplexity.exceptions.ProbeEstimateWarning`.
    n_probes : int, optional
        Number of probes (default ``DEFAULT_N_PROBES`` = 100).
    probe : {"rademacher", "gaussian"}
        Distribution of the probe entries.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the probes (see :ref:`random-state`); the default makes two
        identical calls return identical numbers.
    return_std : bool
        Also return the standard error (0.0 for the exact path).
    y_train, sample_weight : array-like, optional
        The training labels (checked first) and the fit's sample weights, as
        in :func:`effective_parameters`.

    Returns
    -------
    df : float
    std : float
        Only when ``return_std=True``.

    Raises
    ------
    ValueError
        For an unknown kind, method or probe, or fewer than two probes,
        whichever route is taken.

    See Also
    --------
    effcomplexity.effective_parameters : Curth et al.'s p-hat, on training or new inputs.
    effcomplexity.generalized_degrees_of_freedom : Black-box degrees of freedom by perturbation.

    Notes
    -----
    For a symmetric projection all three equal ``rank(S)``. For symmetric
    ``S`` with eigenvalues in [0, 1],

    .. math::

        \operatorname{tr}(SS^\top) \le \operatorname{tr}(S)
        \le \operatorname{tr}(2S - SS^\top),

    and ``n - tr(2S - S S^T)`` is the residual degrees of freedom. Efron's
    covariance penalty :math:`\sum_i \operatorname{Cov}(\hat y_i, y_i)/\sigma^2`
    equals ``tr(S)`` for a linear smoother.

    With probes :math:`z` such that :math:`E[z z^\top] = I`, each probe gives
    the unbiased estimates :math:`z^\top S z`, :math:`\lVert S z \rVert^2`
    and :math:`2 z^\top S z - \lVert S z \rVert^2` of the three kinds; their
    spread over the probes gives the standard error.

    References
    ----------
    T. Hastie, R. Tibshirani. "Generalized Additive Models". Chapman & Hall, 1990.
    M. F. Hutchinson. "A stochastic estimator of the trace of the influence
    matrix for Laplacian smoothing splines". Communications in Statistics -
    Simulation and Computation 18(3), 1989.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> knn = KNeighborsRegressor(n_neighbors=5).fit(X, X[:, 0])
    >>> round(ec.degrees_of_freedom(knn, X), 10)   # n / k
    10.0
    """
    if not isinstance(kind, str) or kind not in _DF_KINDS:
        raise ValueError(f"kind must be one of {_DF_KINDS}, got {kind!r}.")
    smoother = get_smoother(estimator, X_train, y_train=y_train, sample_weight=sample_weight)
    n = smoother.n_train
    # tr(S) never needs the dense matrix, so "auto" keeps it exact.
    route = "exact" if kind == "trace" and method == "auto" else method
    Z = _probe_route("degrees_of_freedom", smoother, n, route, n_probes, probe, random_state)
    if Z is None:
        if kind == "trace":
            value = smoother.trace()
        else:
            variance = float(np.sum(smoother.row_norms_sq()))
            value = variance if kind == "variance" else 2.0 * smoother.trace() - variance
        value, std = float(value), 0.0
    else:
        SZ = smoother.smooth(Z)
        quadratic = np.einsum("ij,ij->j", Z, SZ)
        squared = np.einsum("ij,ij->j", SZ, SZ)
        per_probe = {"trace": quadratic, "variance": squared, "residual": 2 * quadratic - squared}
        value, std = mean_std_error(per_probe[kind])
    return (value, std) if return_std else value


def staged_degrees_of_freedom(
    estimator,
    X_train,
    *,
    method: str = "auto",
    n_probes: int | None = None,
    probe: str = "rademacher",
    random_state=DEFAULT_PROBE_SEED,
    return_std: bool = False,
    y_train=None,
    sample_weight=None,
):
    r"""Classical degrees of freedom ``tr(S_t)`` after every stage, in one pass.

    The staged twin of ``degrees_of_freedom(..., kind="trace")``: for boosting
    stage ``t`` is the model after ``t`` rounds, for forests and bagging the
    average of the first ``t`` trees.

    Parameters
    ----------
    estimator : fitted estimator or Smoother
        A registered family with stages.
    X_train : array-like of shape (n, n_features) or None
        The training inputs, in the order used to fit.
        With a Smoother, ``None`` or the inputs it was built on; other
        inputs raise :class:`~effcomplexity.TrainingMismatchError`.
    method : {"auto", "exact", "probe"}
        ``"exact"`` uses the family's exact staged trace (leaf weights for
        tree ensembles, the stages replayed on identity columns otherwise);
        ``"probe"`` uses Hutchinson's estimator through
        :meth:`Smoother.staged_smooth`; ``"auto"`` follows the same policy as
        :func:`effective_parameters` with ``m = n``.
    n_probes : int, optional
        Number of probes (default ``DEFAULT_N_PROBES`` = 100).
    probe : {"rademacher", "gaussian"}
        Distribution of the probe entries.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the probes (see :ref:`random-state`); the default makes two
        identical calls return identical numbers.
    return_std : bool
        Also return per-stage standard errors (zeros for the exact path).
    y_train, sample_weight : array-like, optional
        The training labels (checked first) and the fit's sample weights, as
        in :func:`effective_parameters`.

    Returns
    -------
    df : ndarray of shape (n_stages,)
    std : ndarray of shape (n_stages,)
        Only when ``return_std=True``.

    Raises
    ------
    TypeError
        If the estimator's family has no stages.
    ValueError
        For an unknown method or probe, or fewer than two probes.

    Notes
    -----
    With probes :math:`z_j` such that :math:`E[z z^\top] = I`,

    .. math::

        \widehat{\operatorname{tr}}(S_t) = \frac{1}{k} \sum_{j=1}^{k} z_j^\top S_t z_j ,

    one set of probes serving every stage, so differences between stages
    carry less noise than independent estimates would.

    References
    ----------
    T. Hastie, R. Tibshirani. "Generalized Additive Models". Chapman & Hall, 1990.
    M. F. Hutchinson. "A stochastic estimator of the trace of the influence
    matrix for Laplacian smoothing splines". Communications in Statistics -
    Simulation and Computation 18(3), 1989.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 2)), rng.normal(size=60)
    >>> forest = RandomForestRegressor(n_estimators=3, max_leaf_nodes=8, bootstrap=False,
    ...                                random_state=0).fit(X, y)
    >>> ec.staged_degrees_of_freedom(forest, X, y_train=y).round(6)   # tr(S) of a tree: its leaves
    array([8., 8., 8.])
    """
    smoother = _staged_smoother(estimator, X_train, "degrees of freedom", y_train, sample_weight)
    n = smoother.n_train
    Z = _probe_route(
        "staged_degrees_of_freedom",
        smoother,
        n,
        method,
        n_probes,
        probe,
        random_state,
        smoother.n_stages(),
    )
    if Z is None:
        values = np.asarray(smoother.staged_trace(), dtype=float)
        std = np.zeros_like(values)
    else:
        per_stage = np.array([np.einsum("ij,ij->j", Z, SZ) for SZ in smoother.staged_smooth(Z)])
        values, std = mean_std_error(per_stage, axis=1)
    return (values, std) if return_std else values
