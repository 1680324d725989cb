"""Stochastic trace estimators for operators known only through products.

An operator ``A`` (n x n) is given as a block product ``matvec(V) -> A @ V``
for ``V`` of shape ``(n, k)``. :func:`hutchinson` averages quadratic forms of
random probes; :func:`hutchpp` first removes a low-rank sketch of ``A``
exactly and probes only the remainder. :func:`smoother_trace` applies them to
the smoother of a fitted model through its matrix-free ``smooth`` route,
giving the classical degrees of freedom ``tr(S)`` without forming ``S``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validation import check_int, check_random_state, is_integer
from ..smoothers.registry import get_smoother
from ._probes import DEFAULT_PROBE_SEED, check_probe_kind, mean_std_error, random_probes

__all__ = ["DEFAULT_N_MATVECS", "hutchinson", "hutchpp", "smoother_trace"]

#: Products with the operator used when no budget is given.
DEFAULT_N_MATVECS = 99

_TRACE_METHODS = ("hutchpp", "hutchinson", "exact")

Matvec = Callable[[np.ndarray], np.ndarray]


def _check_size(n) -> int:
    if not is_integer(n) or n < 1:
        raise ValueError(f"n must be a positive integer (the operator's size), got {n!r}.")
    return int(n)


def _check_budget(value, name: str, minimum: int, why: str) -> int:
    return check_int(value, name, minimum=minimum, why=why)


def _as_matvec(operator, n: int) -> Matvec:
    """A checked block product from a callable or anything supporting ``@``."""
    if callable(operator):
        product = operator
    elif hasattr(operator, "shape") and hasattr(operator, "__matmul__"):
        if tuple(operator.shape) != (n, n):
            raise ValueError(f"The operator has shape {operator.shape}; expected {(n, n)}.")

        def product(V):
            return operator @ V
    else:
        raise TypeError(
            "matvec must be a callable V -> A @ V on (n, k) blocks, or a square matrix or "
            f"linear operator; got {type(operator).__name__}."
        )

    def checked(V: np.ndarray) -> np.ndarray:
        AV = np.asarray(product(V), dtype=np.float64)
        if AV.shape != V.shape:
            raise ValueError(
                f"matvec returned shape {AV.shape} for a block of shape {V.shape}; it must "
                f"return A @ V, one column per column of V."
            )
        return AV

    return checked


def _quadratic_forms(A_V: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``v_j^T A v_j`` for every column ``j``."""
    return np.einsum("ij,ij->j", V, A_V)


def hutchinson(
    matvec: Matvec,
    n: int,
    n_probes: int = DEFAULT_N_MATVECS,
    *,
    probe: str = "rademacher",
    random_state=None,
    block_size: int | None = None,
    return_std: bool = False,
):
    r"""Hutchinson's estimate of ``tr(A)`` from random quadratic forms.

    Parameters
    ----------
    matvec : callable or array-like
        ``matvec(V)`` returns ``A @ V`` for ``V`` of shape ``(n, k)``; a
        square array, sparse matrix or ``LinearOperator`` is also accepted.
    n : int
        Size of ``A``.
    n_probes : int
        Number of probes, which is the number of products with ``A``.
    probe : {"rademacher", "gaussian"}
        Distribution of the probe entries.
    random_state : int, RandomState, Generator or None
        Seed of the probes (see :ref:`random-state`).
    block_size : int, optional
        Probes per call to ``matvec`` (all at once by default); smaller
        blocks bound memory at ``n * block_size`` numbers.
    return_std : bool
        Also return the standard error.

    Returns
    -------
    estimate : float
    std_error : float
        Only when ``return_std=True``: the sample standard deviation of the
        per-probe values over ``sqrt(n_probes)``.

    Raises
    ------
    ValueError
        If ``n_probes < 2`` or ``matvec`` returns the wrong shape.

    Notes
    -----
    For probes with :math:`E[z z^\top] = I`,
    :math:`E[z^\top A z] = \operatorname{tr}(A)`, so

    .. math::

        \widehat{\operatorname{tr}}(A) = \frac{1}{k} \sum_{j=1}^{k} z_j^\top A z_j

    is unbiased. For symmetric ``A`` its variance is
    :math:`2 \lVert A \rVert_F^2 / k` with Gaussian probes and
    :math:`2 (\lVert A \rVert_F^2 - \sum_i A_{ii}^2) / k` with Rademacher
    probes, which is never larger; relative error :math:`\epsilon` costs
    :math:`O(1/\epsilon^2)` products.

    References
    ----------
    M. F. Hutchinson. "A stochastic estimator of the trace of the influence
    matrix for Laplacian smoothing splines". Communications in Statistics -
    Simulation and Computation 18(3), 1989.

    Examples
    --------
    >>> import numpy as np
    >>> import effcomplexity as ec
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> ec.hutchinson(lambda V: A @ V, 10, n_probes=20, random_state=0, return_std=True)
    (55.0, 0.0)
    """
    n = _check_size(n)
    k = _check_budget(n_probes, "n_probes", 2, "a standard error needs two probes")
    step = k if block_size is None else _check_budget(block_size, "block_size", 1, "probes")
    product = _as_matvec(matvec, n)
    rng = check_random_state(random_state)
    values = []
    for start in range(0, k, step):
        # Drawn probe by probe (rows, then transposed) so the result does not depend on blocks.
        Z = np.ascontiguousarray(random_probes(min(step, k - start), n, probe, rng).T)
        values.append(_quadratic_forms(product(Z), Z))
    estimate, std = mean_std_error(np.concatenate(values))
    return (estimate, std) if return_std else estimate


def hutchpp(
    matvec: Matvec,
    n: int,
    n_matvecs: int = DEFAULT_N_MATVECS,
    *,
    probe: str = "rademacher",
    random_state=None,
    return_std: bool = False,
):
    r"""Hutch++ estimate of ``tr(A)``: an exact low-rank part plus probes.

    Parameters
    ----------
    matvec : callable or array-like
        As in :func:`hutchinson`.
    n : int
        Size of ``A``.
    n_matvecs : int
        Total number of products with ``A``; a third sketches the range of
        ``A``, a third computes its trace there, the rest probe the remainder.
        At least 4.
    probe : {"rademacher", "gaussian"}
        Distribution of the sketch and probe entries.
    random_state : int, RandomState, Generator or None
        Seed of the sketch and the probes (see :ref:`random-state`).
    return_std : bool
        Also return the standard error.

    Returns
    -------
    estimate : float
    std_error : float
        Only when ``return_std=True``: the standard error from the spread of
        the probes of the remainder (0.0 when the sketch spans everything).

    Raises
    ------
    ValueError
        If ``n_matvecs < 4`` or ``matvec`` returns the wrong shape.

    Notes
    -----
    With ``s = n_matvecs // 3``, a sketch :math:`Q` (an orthonormal basis of
    :math:`A S` for a random ``(n, s)`` matrix :math:`S`) and
    ``g = n_matvecs - 2 s`` probes :math:`z_j`,

    .. math::

        \widehat{\operatorname{tr}}(A) = \operatorname{tr}(Q^\top A Q)
        + \frac{1}{g} \sum_{j=1}^{g} z_j^\top (I - QQ^\top) A (I - QQ^\top) z_j .

    Cyclicity of the trace gives
    :math:`\operatorname{tr}(A) = \operatorname{tr}(Q^\top A Q) +
    \operatorname{tr}((I - QQ^\top) A (I - QQ^\top))` for any orthonormal
    :math:`Q`, so the estimate is unbiased given the sketch. Its conditional
    mean is therefore ``tr(A)`` whatever the sketch, and the conditional
    variance estimated from the probes estimates the full variance. For
    positive semi-definite ``A`` the relative error :math:`\epsilon` costs
    :math:`O(1/\epsilon)` products instead of Hutchinson's
    :math:`O(1/\epsilon^2)`, and a matrix of rank below ``s`` is recovered
    exactly.

    References
    ----------
    R. A. Meyer, C. Musco, C. Musco, D. P. Woodruff. "Hutch++: Optimal
    Stochastic Trace Estimation". Symposium on Simplicity in Algorithms
    (SOSA), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> B = rng.normal(size=(200, 5))
    >>> A = B @ B.T                       # rank 5 < 30 // 3
    >>> estimate = ec.hutchpp(lambda V: A @ V, 200, n_matvecs=30, random_state=0)
    >>> bool(np.isclose(estimate, np.trace(A)))
    True
    """
    n = _check_size(n)
    m = _check_budget(n_matvecs, "n_matvecs", 4, "one sketch column, its product, two probes")
    product = _as_matvec(matvec, n)
    rng = check_random_state(random_state)
    s = min(m // 3, n)
    Q, _ = np.linalg.qr(product(random_probes(n, s, probe, rng)))
    exact_part = float(np.sum(_quadratic_forms(product(Q), Q)))
    if Q.shape[1] == n:
        # The sketch spans the whole space: the trace is exact.
        return (exact_part, 0.0) if return_std else exact_part
    g = m - 2 * s
    G = random_probes(n, g, probe, rng)
    W = G - Q @ (Q.T @ G)
    remainder, std = mean_std_error(_quadratic_forms(product(W), W))
    estimate = exact_part + remainder
    return (estimate, std) if return_std else estimate


def smoother_trace(
    estimator,
    X_train,
    *,
    method: str = "hutchpp",
    n_matvecs: int | None = None,
    probe: str = "rademacher",
    random_state=DEFAULT_PROBE_SEED,
    return_std: bool = False,
    y_train=None,
    sample_weight=None,
):
    """``tr(S)`` of a fitted smoother, estimated without forming ``S``.

    Parameters
    ----------
    estimator : fitted estimator or Smoother
        A registered family (see :func:`effcomplexity.register_smoother`).
    X_train : array-like of shape (n, n_features) or None
        The training inputs, in the order used to fit.
        With a Smoother, ``None`` or the inputs it was built on; other
        inputs raise :class:`~effcomplexity.TrainingMismatchError`.
    method : {"hutchpp", "hutchinson", "exact"}
        The stochastic estimator, or the family's exact trace.
    n_matvecs : int, optional
        Products with ``S`` (each one column of ``smooth``); default
        ``DEFAULT_N_MATVECS`` = 99.
    probe : {"rademacher", "gaussian"}
    random_state : int, RandomState, Generator or None, default=0
        Seed of the probes (see :ref:`random-state`); the default makes two
        identical calls return identical numbers.
    return_std : bool
        Also return the standard error (0.0 for ``"exact"``).
    y_train, sample_weight : array-like, optional
        The training labels (checked first) and the fit's sample weights, as
        in :func:`effcomplexity.effective_parameters`.

    Returns
    -------
    trace : float
    std : float
        Only when ``return_std=True``.

    Raises
    ------
    ValueError
        For an unknown method or probe, or ``n_matvecs`` below 2
        (``"hutchinson"``) or 4 (otherwise), whichever method runs.
    TypeError
        For an invalid ``random_state``.

    Notes
    -----
    Products ``S @ Z`` come from the family's :meth:`Smoother.smooth` on the
    training inputs (leaf means for trees, one solve for least squares), so
    the cost is that of ``n_matvecs`` predictions. ``tr(S)`` is the
    classical degrees of freedom of Hastie and Tibshirani (1990) and equals
    Efron's covariance penalty for linear smoothers.

    References
    ----------
    T. Hastie, R. Tibshirani. "Generalized Additive Models". Chapman & Hall, 1990.
    R. A. Meyer, C. Musco, C. Musco, D. P. Woodruff. "Hutch++: Optimal
    Stochastic Trace Estimation". SOSA, 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> knn = KNeighborsRegressor(n_neighbors=5).fit(X, X[:, 0])
    >>> round(ec.smoother_trace(knn, X, method="exact"), 10)   # n / k
    10.0
    >>> estimate, std = ec.smoother_trace(knn, X, random_state=0, return_std=True)
    >>> bool(abs(estimate - 10.0) < 3 * std)
    True
    """
    if not isinstance(method, str) or method not in _TRACE_METHODS:
        raise ValueError(f"method must be one of {_TRACE_METHODS}, got {method!r}.")
    # Every argument is checked whichever method runs, "exact" included.
    minimum, why = (2, "two probes") if method == "hutchinson" else (4, "Hutch++ needs four")
    budget = DEFAULT_N_MATVECS if n_matvecs is None else n_matvecs
    budget = _check_budget(budget, "n_matvecs", minimum, why)
    check_probe_kind(probe)
    rng = check_random_state(random_state)
    smoother = get_smoother(estimator, X_train, y_train=y_train, sample_weight=sample_weight)
    if method == "exact":
        value, std = float(smoother.trace()), 0.0
    else:
        estimate = hutchpp if method == "hutchpp" else hutchinson
        value, std = estimate(
            smoother.smooth,
            smoother.n_train,
            budget,
            probe=probe,
            random_state=rng,
            return_std=True,
        )
    return (value, std) if return_std else value
