r"""Smoothers of least squares, ridge, kernel ridge and minimum-norm regression.

Least squares and ridge are spectral filters of the (centred) design: with the
thin SVD :math:`X_c = U D V^\top`, every row of the smoother is

.. math::

    s(x) = \mathbf 1/n + U\, \operatorname{diag}(g)\, V^\top (x - \bar x),

with :math:`g_j = 1/d_j` for least squares and :math:`g_j = d_j / (d_j^2 + \lambda)`
for ridge (the :math:`\mathbf 1/n` and :math:`\bar x` terms only with an
intercept). Norms, traces and products with label matrices then cost
:math:`O((m + n) p r)` and never form an :math:`n \times n` or
:math:`m \times n` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics.pairwise import pairwise_kernels

from .._threads import single_blas_thread
from .._validation import check_n_train, training_mismatch
from .registry import Smoother, register_smoother, register_unsupported

__all__ = [
    "KernelRidgeSmoother",
    "LinearRegressionSmoother",
    "LowRankSmoother",
    "MinNormLeastSquaresSmoother",
    "RidgeSmoother",
]

#: scikit-learn's SVD ridge solver drops singular values at or below this.
_RIDGE_SVD_CUTOFF = 1e-15
#: ``sag``/``saga`` stop when the coefficients change by less than ``tol``
#: (relative); measured here, the default ``tol=1e-4`` leaves predictions
#: 6e-5 (sag) and 7e-4 (saga) of the label scale away from the closed form, and
#: ``tol=1e-8`` 1.5e-8. Above this ``tol`` the fitted model is not the ridge
#: solution the smoother describes.
_SAG_MAX_TOL = 1e-6

#: Condition numbers of the regularised Gram matrix above which the solve that
#: scikit-learn ran (and this smoother's) may differ by more than the tolerance
#: of the ``y_train`` check; named as the likely cause when that check fails.
_ILL_CONDITIONED = 1e8

_LINEAR_HINT = (
    "For models that are not linear smoothers, use effcomplexity.generalized_degrees_of_freedom."
)

for _name in (
    "sklearn.linear_model._ridge.RidgeCV",
    "sklearn.linear_model._ridge.RidgeClassifierCV",
):
    register_unsupported(
        _name,
        "alpha was chosen by cross-validation on y. To measure the selected model, refit "
        "Ridge(alpha=model.alpha_) on the same data and measure that.",
    )
register_unsupported(
    "sklearn.linear_model._ridge.RidgeClassifier",
    "it predicts the sign of a ridge fit to +-1 labels; measure Ridge fitted on those "
    "labels instead.",
)


@dataclass(frozen=True)
class LowRankFactors:
    """Factors of a smoother ``S(X) = [1/n] + L(X) R^T``.

    ``L(X) = ((X - offset) @ V) * g`` has ``r`` columns; the ``1/n`` term is
    present when ``intercept`` is true, and then ``R`` has zero column sums.
    A weighted fit replaces ``1/n`` by ``intercept_weights`` (``w / sum(w)``),
    so ``S(X) = 1 a^T + L(X) R^T``.
    """

    V: np.ndarray  # (p, r)
    g: np.ndarray  # (r,)
    R: np.ndarray  # (n, r)
    left_train: np.ndarray  # (n, r): L(X_train), from an identity where one exists
    offset: np.ndarray | None = None  # (p,)
    intercept: bool = False
    gram: np.ndarray | None = None  # R^T R, (r, r); None means the identity
    intercept_weights: np.ndarray | None = None  # (n,): a of the weighted intercept


def centred_svd(X: np.ndarray, fit_intercept: bool, sample_weight: np.ndarray | None = None):
    """Column means (or ``None``) and thin SVD of the centred design.

    With ``sample_weight`` the means are weighted and the SVD is that of
    ``sqrt(w) * (X - mean)``, the design scikit-learn's weighted fits solve.
    """
    if sample_weight is None:
        offset = X.mean(axis=0) if fit_intercept else None
    else:
        offset = np.average(X, axis=0, weights=sample_weight) if fit_intercept else None
    design = X - offset if fit_intercept else X.copy()
    if sample_weight is not None:
        design *= np.sqrt(sample_weight)[:, None]
    U, d, Vt = linalg.svd(design, full_matrices=False, overwrite_a=True, check_finite=False)
    return offset, U, d, Vt


def weighted_spectral_factors(
    X, U, d, Vt, g, offset, fit_intercept: bool, sample_weight: np.ndarray
) -> LowRankFactors:
    r"""Factors of the weighted spectral filter, for a fit with ``sample_weight``.

    With ``W^{1/2} (X - \bar x_w) = U D V^T`` and ``a = w / sum(w)``,
    ``s(x) = a + (I - a 1^T) W^{1/2} U diag(g) V^T (x - \bar x_w)``: the
    filter acts on labels centred at their weighted mean, as the fitted model does.
    """
    sqrt_w = np.sqrt(sample_weight)
    R = sqrt_w[:, None] * U
    V = Vt.T
    if fit_intercept:
        a = sample_weight / sample_weight.sum()
        R = R - np.outer(a, sqrt_w @ U)
        left_train = ((X - offset) @ V) * g
    else:
        a = None
        left_train = (X @ V) * g
    return LowRankFactors(
        V=V,
        g=g,
        R=R,
        left_train=left_train,
        offset=offset,
        intercept=fit_intercept,
        gram=R.T @ R,
        intercept_weights=a,
    )


def spectral_factors(U, d, Vt, g, offset, fit_intercept: bool) -> LowRankFactors:
    """Factors of the spectral filter ``s(x) = [1/n] + U diag(g) V^T (x - offset)``.

    ``U`` has orthonormal columns. With an intercept, ``R`` is ``U`` with its
    column means removed (so the filter acts on centred labels, as the fitted
    models do), and ``R^T R = I - n u u^T`` with ``u`` those means.
    """
    if not fit_intercept:
        return LowRankFactors(V=Vt.T, g=g, R=U, left_train=U * (d * g))
    n = U.shape[0]
    u = U.mean(axis=0)
    gram = np.eye(U.shape[1]) - n * np.outer(u, u)
    return LowRankFactors(
        V=Vt.T,
        g=g,
        R=U - u,
        left_train=U * (d * g),
        offset=offset,
        intercept=True,
        gram=gram,
    )


class LowRankSmoother(Smoother):
    r"""A smoother with factors ``S(X) = [1/n] + L(X) R^T`` (see :class:`LowRankFactors`).

    Subclasses implement :meth:`_factorize`; the result is computed once and
    cached on the instance. Row norms use
    :math:`\lVert s(x)\rVert^2 = [1/n] + l(x)^\top (R^\top R)\, l(x)`, the
    trace :math:`\operatorname{tr} S = [1] + \sum_i L(X_{train})_i \cdot R_i`.
    """

    exact_norms_are_cheap = True

    def _factorize(self) -> LowRankFactors:
        raise NotImplementedError

    @cached_property
    def factors(self) -> LowRankFactors:
        """The cached factors of this smoother."""
        return self._factorize()

    def _left(self, X: np.ndarray | None) -> np.ndarray:
        f = self.factors
        if X is None:
            return f.left_train
        centred = X if f.offset is None else X - f.offset
        return (centred @ f.V) * f.g

    def _matrix(self, X):
        f = self.factors
        # The explicit route for the training rows too, so S(None) == S(X_train).
        S = self._left(self.X_train if X is None else X) @ f.R.T
        if f.intercept_weights is not None:
            S += f.intercept_weights
        elif f.intercept:
            S += 1.0 / self.n_train
        return S

    def _smooth(self, Y, X):
        f = self.factors
        out = self._left(X) @ (f.R.T @ Y)
        if f.intercept_weights is not None:
            out += f.intercept_weights @ Y
        elif f.intercept:
            out += Y.mean(axis=0)
        return out

    def _row_norms_sq(self, X):
        f = self.factors
        L = self._left(X)
        LG = L if f.gram is None else L @ f.gram
        norms = np.einsum("ij,ij->i", LG, L)
        if f.intercept_weights is not None:
            a = f.intercept_weights
            # ||a + R l||^2 = ||a||^2 + 2 l . (R^T a) + l^T R^T R l
            norms += 2.0 * (L @ (f.R.T @ a)) + float(a @ a)
        elif f.intercept:
            norms += 1.0 / self.n_train
        return norms

    def _trace(self) -> float:
        f = self.factors
        return float(np.einsum("ij,ij->", f.left_train, f.R)) + (1.0 if f.intercept else 0.0)


def _reject_positive(estimator) -> None:
    if getattr(estimator, "positive", False):
        raise ValueError(
            f"{type(estimator).__name__}(positive=True) is not a linear smoother: the "
            f"non-negativity constraint makes the weights depend on y. Refit with "
            f"positive=False."
        )


@register_smoother(LinearRegression)
class LinearRegressionSmoother(LowRankSmoother):
    r"""Smoother of :class:`sklearn.linear_model.LinearRegression`.

    The hat matrix of least squares, and for ``p >= n`` the minimum-norm
    interpolator that scikit-learn's ``scipy.linalg.lstsq`` returns: singular
    values at or below ``tol * max(singular values)`` of the centred design are
    dropped, exactly the ``rank_`` that the fitted model reports, so a
    rank-deficient design is measured as the minimum-norm fit it got.

    ``X_train`` is checked against the fitted model's ``singular_``: a design
    with other singular values (other rows, or a fit with ``sample_weight``
    that is not passed) raises ``TrainingMismatchError``. Shuffled rows and
    permuted columns keep the singular values: only ``y_train`` catches those
    (without it, measures issue ``UnverifiedTrainingDataWarning``).
    With ``sample_weight`` the smoother is that of weighted least squares
    (weighted centring, as scikit-learn fits it).

    Notes
    -----
    .. math::

        S(X) = \mathbf 1 \mathbf 1^\top / n + (X - \bar x) V D^{-1} U^\top,
        \qquad \lVert s(x) \rVert^2 = 1/n + \lVert D^{-1} V^\top (x - \bar x)\rVert^2 ,

    (without an intercept, drop the first term and :math:`\bar x`). For full
    column rank :math:`p < n`, :math:`S` is the projection onto the column
    space and every degrees-of-freedom definition equals ``p`` (+1).

    References
    ----------
    T. Hastie, R. Tibshirani, J. Friedman. "The Elements of Statistical
    Learning", 2nd ed., section 3.2. Springer, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> y = X @ [1.0, 2.0, 3.0]
    >>> ols = LinearRegression().fit(X, y)
    >>> round(ec.degrees_of_freedom(ols, X, kind="variance", y_train=y), 8)   # p + 1
    4.0
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    supports_sample_weight = True
    verifies_X_train = False
    unverified_reason = (
        "the singular values it records (singular_) do not change when the rows are "
        "shuffled or the columns permuted"
    )

    def _validate(self) -> None:
        _reject_positive(self.estimator)
        singular = getattr(self.estimator, "singular_", None)
        if singular is None:
            return
        d = self._svd[2]
        tol = 1e-6 * max(float(d[0]) if d.size else 0.0, np.finfo(float).tiny)
        if d.shape != np.shape(singular) or not np.allclose(d, singular, rtol=1e-6, atol=tol):
            raise training_mismatch(
                self.estimator,
                f"the singular values of its "
                f"{'centred ' if self.estimator.fit_intercept else ''}design differ from "
                f"the fitted model's singular_",
                "If the model was fitted with sample_weight, pass the same sample_weight.",
            )

    @cached_property
    def _svd(self):
        return centred_svd(self.X_train, self.estimator.fit_intercept, self.sample_weight)

    def _factorize(self) -> LowRankFactors:
        offset, U, d, Vt = self._svd
        rank = getattr(self.estimator, "rank_", None)
        if rank is None:
            cutoff = self.estimator.tol * (d[0] if d.size else 0.0)
            rank = int(np.count_nonzero(d > cutoff))
        U, d, Vt = U[:, :rank], d[:rank], Vt[:rank]
        intercept = self.estimator.fit_intercept
        if self.sample_weight is not None:
            return weighted_spectral_factors(
                self.X_train, U, d, Vt, 1.0 / d, offset, intercept, self.sample_weight
            )
        return spectral_factors(U, d, Vt, 1.0 / d, offset, intercept)


def _check_solvable(eigenvalues: np.ndarray, alpha: float, size: int, estimator, what: str):
    """Refuse a fit whose regularised Gram matrix ``G + alpha I`` is numerically singular.

    ``eigenvalues`` are those of ``G`` in the directions the solve must invert.
    With ``(lambda_min + alpha) <= size * eps * (lambda_max + alpha)`` the solve
    scikit-learn ran is rounding noise, or its fallback to least squares (kernel
    ridge warns "Singular matrix in solving dual problem"), and no smoother
    reproduces those predictions.
    """
    top = max(float(eigenvalues.max(initial=0.0)), 0.0) + alpha
    low = float(eigenvalues.min(initial=np.inf)) + alpha
    if top > 0.0 and low > size * np.finfo(float).eps * top:
        return
    name = type(estimator).__name__
    raise ValueError(
        f"{name}(alpha={alpha:g}) solved a numerically singular system: {what} + alpha*I "
        f"has eigenvalues from {low:.3g} to {top:.3g} (condition number "
        f"{top / low if low > 0 else np.inf:.3g}, above 1/({size} * machine epsilon)), "
        f"so the fitted coefficients are rounding noise or scikit-learn's least-squares "
        f"fallback, and no smoother reproduces its predictions. Refit with a larger alpha "
        f"(e.g. alpha = {1e-8 * max(top, 1e-300):.3g}, 1e-8 of the largest eigenvalue), or "
        f"measure a minimum-norm fit: LinearRegression or "
        f"effcomplexity.models.MinNormLeastSquares on explicit features."
    )


def _conditioning_cause(eigenvalues: np.ndarray, alpha: float) -> str:
    """Why the ``y_train`` check of a verified ``X_train`` can still fail, in words."""
    top = max(float(eigenvalues.max(initial=0.0)), 0.0) + alpha
    low = float(eigenvalues.min(initial=np.inf)) + alpha
    cond = top / low if low > 0 else np.inf
    if cond > _ILL_CONDITIONED:
        return (
            f"The system the model solved, with alpha = {alpha:g}, has condition number "
            f"{cond:.3g}, so its solve carries relative rounding errors up to about "
            f"{cond * np.finfo(float).eps:.2g}: refit with a larger alpha."
        )
    return ""


def _single_alpha(estimator) -> float:
    alpha = np.atleast_1d(np.asarray(estimator.alpha, dtype=float))
    if alpha.size > 1 and not np.all(alpha == alpha[0]):
        raise ValueError(
            f"{type(estimator).__name__} was fitted with a different alpha per target "
            f"({alpha.tolist()}), so each target has its own smoother. Fit one model per "
            f"target (or pass a single alpha) and measure each."
        )
    return float(alpha[0])


@register_smoother(Ridge)
class RidgeSmoother(LowRankSmoother):
    r"""Smoother of :class:`sklearn.linear_model.Ridge`, for every solver.

    The closed form of the ridge solution; the direct solvers (``"svd"``,
    ``"cholesky"``, ``"auto"``) reproduce it to rounding, the iterative ones
    (``"lsqr"``, ``"sparse_cg"``, ``"sag"``, ``"saga"``) to their ``tol``.
    ``"sag"`` and ``"saga"`` are refused when they stopped at ``max_iter`` or
    their ``tol`` exceeds ``1e-6`` (at the default ``1e-4`` their predictions
    sit up to 1e-3 of the label scale away from the closed form); ``"lsqr"``
    is refused when it stopped at ``max_iter``. The intercept is unpenalised,
    as in scikit-learn. The fitted model records nothing about its training
    rows or ``sample_weight``: pass ``y_train`` to have ``X_train`` checked
    (without it, measures issue ``UnverifiedTrainingDataWarning``) and
    ``sample_weight`` to get the weighted smoother. ``positive=True`` (and
    hence the ``"lbfgs"`` solver), per-target alphas that differ, and an
    ``alpha`` negligible beside a rank-deficient design (``alpha=0`` on
    collinear columns: the solver's coefficients are rounding noise) raise
    ``ValueError``. On scipy.sparse inputs scikit-learn's ``"auto"`` solver is
    iterative (``"sparse_cg"``, ``tol=1e-4``): refit with a small ``tol``
    (``1e-10``) for predictions the smoother reproduces to rounding.

    Notes
    -----
    With the thin SVD :math:`X_c = U D V^\top` of the centred design,

    .. math::

        S(X) = \mathbf 1 \mathbf 1^\top / n + (X - \bar x) V
        \operatorname{diag}\Big(\frac{d_j}{d_j^2 + \lambda}\Big) U^\top,
        \qquad \operatorname{tr} S = 1 + \sum_j \frac{d_j^2}{d_j^2 + \lambda}.

    Singular values at or below ``1e-15`` are dropped, as scikit-learn's SVD
    solver does (this only matters for ``alpha = 0``).

    References
    ----------
    A. E. Hoerl, R. W. Kennard. "Ridge Regression: Biased Estimation for
    Nonorthogonal Problems". Technometrics 12(1), 1970.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> import effcomplexity as ec
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> y = X @ [1.0, 2.0, 3.0]
    >>> ridges = [Ridge(alpha=a).fit(X, y) for a in (1e-9, 1e9)]
    >>> [round(ec.degrees_of_freedom(r, X, y_train=y), 3) for r in ridges]
    [4.0, 1.0]
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    supports_sample_weight = True
    verifies_X_train = False
    unverified_reason = (
        "Ridge stores only its coefficients, not its training rows, their number or "
        "their sample weights"
    )

    def _validate(self) -> None:
        _reject_positive(self.estimator)
        self._alpha = _single_alpha(self.estimator)
        _check_ridge_converged(self.estimator)
        n, p = self.X_train.shape
        # The system scikit-learn solves: p x p normal equations, or the n x n kernel
        # (p > n) whose constant direction an intercept leaves out.
        self._n_solved = p if p <= n else n - int(self.estimator.fit_intercept)
        self._check_solvable()

    def _gram_eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the Gram matrix in the directions the ridge solve inverts."""
        d = np.sort(self._singular_values)[::-1]
        squared = np.zeros(self._n_solved)
        squared[: min(d.size, self._n_solved)] = d[: self._n_solved] ** 2
        return squared

    def _check_solvable(self) -> None:
        # A ridge fit with alpha = 0 (or negligible) on a rank-deficient design.
        self.factors  # noqa: B018  (computes the singular values)
        _check_solvable(
            self._gram_eigenvalues(),
            self._alpha,
            max(self.X_train.shape),
            self.estimator,
            "the Gram matrix of the centred design"
            if self.estimator.fit_intercept
            else "the Gram matrix of the design",
        )

    def _mismatch_cause(self) -> str:
        return _conditioning_cause(self._gram_eigenvalues(), self._alpha)

    def _factorize(self) -> LowRankFactors:
        intercept = self.estimator.fit_intercept
        offset, U, d, Vt = centred_svd(self.X_train, intercept, self.sample_weight)
        self._singular_values = d
        keep = d > _RIDGE_SVD_CUTOFF
        U, d, Vt = U[:, keep], d[keep], Vt[keep]
        g = d / (d**2 + self._alpha)
        if self.sample_weight is not None:
            return weighted_spectral_factors(
                self.X_train, U, d, Vt, g, offset, intercept, self.sample_weight
            )
        return spectral_factors(U, d, Vt, g, offset, intercept)


def _check_ridge_converged(estimator) -> None:
    """Refuse iterative ridge fits that did not reach the closed-form solution."""
    solver = getattr(estimator, "solver_", estimator.solver)
    name = type(estimator).__name__
    n_iter = getattr(estimator, "n_iter_", None)
    if solver in ("sag", "saga"):
        max_iter = 1000 if estimator.max_iter is None else estimator.max_iter
        if estimator.tol > _SAG_MAX_TOL:
            raise ValueError(
                f"{name}(solver={solver!r}, tol={estimator.tol:g}) stops while the "
                f"coefficients still change by tol (relative), so its predictions are not "
                f"the closed-form ridge solution this smoother describes. Refit with "
                f"tol <= {_SAG_MAX_TOL:g} (and max_iter large enough), or a direct solver "
                f"('svd' or 'cholesky')."
            )
    elif solver == "lsqr" and estimator.max_iter is not None:
        max_iter = estimator.max_iter
    else:
        return
    if n_iter is not None and np.any(np.asarray(n_iter) >= max_iter):
        raise ValueError(
            f"{name}(solver={solver!r}) stopped at max_iter={max_iter} before converging, "
            f"so its predictions are not the ridge solution this smoother describes. "
            f"Refit with a larger max_iter, or a direct solver ('svd' or 'cholesky')."
        )


@register_smoother("effcomplexity.models.least_squares.MinNormLeastSquares")
class MinNormLeastSquaresSmoother(LowRankSmoother):
    r"""Smoother of :class:`effcomplexity.models.MinNormLeastSquares`.

    Uses the factorisation that the fitted model stores, so none is
    repeated. After the thin SVD (``solver_="svd"``), ``p_test`` costs one
    product of the test design with ``V``. After the Gram route
    (``solver_="gram"``) past the threshold, ``p_test`` costs the kernel
    product of the test and training designs and two triangular solves with
    the stored Cholesky factor; below it, one triangular inverse. After the
    QR route (``solver_="qr"``), ``U_`` and ``Vt_`` hold the pseudo-inverse
    and ``p_test`` costs one product with ``Vt_``. ``X_train``
    must have the ``n_samples_fit_`` rows the model was fitted on, and is
    checked against the stored factors with one random product
    (:math:`X_c w = U D V^\top w`, or the product the Gram route kept), which
    catches other or reordered rows.

    Notes
    -----
    .. math::

        S_{train} = \mathbf 1 \mathbf 1^\top/n + U U^\top, \qquad
        \lVert s(x) \rVert^2 = 1/n + \lVert D^{-1} V^\top (x - \bar x) \rVert^2,

    so ``p_train`` is the rank (+1 with an intercept): ``n`` past the
    interpolation threshold. Through the Gram route, with
    :math:`X_c X_c^\top + c \mathbf 1 \mathbf 1^\top / n = C C^\top` (the
    second term only with an intercept) and :math:`J = \mathbf 1 \mathbf
    1^\top / n`, past the threshold

    .. math::

        S(X) = J + (X - \mathbf 1 \bar x^\top) X_c^\top C^{-\top} C^{-1} (I - J),
        \qquad S_{train} = I,

    and below it :math:`S(X) = J + (X - \mathbf 1 \bar x^\top) C^{-\top} (X_c
    C^{-\top})^\top` with :math:`X_c^\top X_c = C C^\top`.

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> import effcomplexity as ec
    >>> from effcomplexity.models import MinNormLeastSquares
    >>> rng = np.random.default_rng(0)
    >>> X, X_test = rng.normal(size=(10, 50)), rng.normal(size=(5, 50))
    >>> model = MinNormLeastSquares().fit(X, rng.normal(size=10))
    >>> round(ec.effective_parameters(model, X), 8)   # p_train = n past the threshold
    10.0
    >>> bool(ec.effective_parameters(model, X, X_test) < 10)
    True
    """

    def _validate(self) -> None:
        est = self.estimator
        check_n_train(self.X_train, est.n_samples_fit_, est, "n_samples_fit_")
        if getattr(est, "solver_", "svd") in ("gram", "qr"):
            self._validate_gram()
            return
        w = np.random.default_rng(0).standard_normal(self.X_train.shape[1])
        direct = self.X_train @ w - est.X_offset_ @ w
        via_svd = est.U_ @ (est.singular_[: est.rank_] * (est.Vt_ @ w))
        scale = (float(est.singular_[0]) if est.singular_.size else 0.0) * np.linalg.norm(w)
        if np.linalg.norm(direct - via_svd) > 1e-8 * scale + 1e-300:
            raise training_mismatch(est, "its product with the stored SVD differs")

    @property
    def _gram(self) -> bool:
        """Whether the model was fitted through the Cholesky factor of its Gram matrix."""
        return getattr(self.estimator, "solver_", "svd") == "gram"

    @property
    def _dual(self) -> bool:
        """Gram route past the threshold: the factor is of the ``n x n`` matrix ``X_c X_c^T``."""
        return self._gram and self.X_train.shape[1] >= self.n_train

    def _validate_gram(self) -> None:
        from ..models.least_squares import design_check_vector

        est = self.estimator
        w = design_check_vector(self.X_train.shape[1])
        direct = self.X_train @ w - est.X_offset_ @ w
        kept = est._design_check
        # Rounding of the two products, against a change of one row (or their order).
        tol = 1e-8 * np.linalg.norm(kept) + 1e2 * np.finfo(float).eps * np.linalg.norm(
            self.X_train
        ) * np.linalg.norm(w)
        if np.linalg.norm(direct - kept) > tol + 1e-300:
            raise training_mismatch(est, "its product with a fixed vector differs from the fit's")

    def _factorize(self) -> LowRankFactors:
        est = self.estimator
        offset = est.X_offset_ if est.fit_intercept else None
        if self._gram:
            # Below the threshold: V = C^-T, and R = X_c C^-T has orthonormal columns.
            with single_blas_thread():
                inverse, info = lapack.dtrtri(est.gram_cholesky_, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"LAPACK dtrtri failed (info={info}).")
            V = inverse.T
            design = self.X_train - offset if est.fit_intercept else self.X_train
            R = design @ V
            ones = np.ones(V.shape[1])
            return spectral_factors(R, ones, V.T, ones, offset, est.fit_intercept)
        if est.solver_ == "qr":
            # pinv of the design is Vt_^T U_^T: unit weights.
            ones = np.ones(est.U_.shape[1])
            return spectral_factors(est.U_, ones, est.Vt_, ones, offset, est.fit_intercept)
        d = est.singular_[: est.rank_]
        return spectral_factors(est.U_, d, est.Vt_, 1.0 / d, offset, est.fit_intercept)

    # -- past the threshold through the Gram route: S(X_train) = I ---------------------
    def _kernel_rows(self, X: np.ndarray) -> np.ndarray:
        """``(X - x_bar) X_c^T``, shape (m, n), without a centred copy of ``X_train``."""
        est = self.estimator
        if not est.fit_intercept:
            return X @ self.X_train.T
        shifted = X - est.X_offset_
        K = shifted @ self.X_train.T
        K -= (shifted @ est.X_offset_)[:, None]
        return K

    def _dual_weights(self, X: np.ndarray) -> np.ndarray:
        """``K_X C^-T C^-1 (I - J)``: the weights of ``X``'s rows without the ``1/n``."""
        C = self.estimator.gram_cholesky_
        Z = linalg.cho_solve((C, True), self._kernel_rows(X).T, check_finite=False).T
        if self.estimator.fit_intercept:
            Z -= Z.mean(axis=1, keepdims=True)
        return Z

    def _matrix(self, X):
        if not self._dual:
            return super()._matrix(X)
        if X is None:
            return np.eye(self.n_train)
        Z = self._dual_weights(X)
        return Z + 1.0 / self.n_train if self.estimator.fit_intercept else Z

    def _smooth(self, Y, X):
        if not self._dual:
            return super()._smooth(Y, X)
        if X is None:
            return np.array(Y, dtype=float)
        est = self.estimator
        centred = Y - Y.mean(axis=0) if est.fit_intercept else Y
        dual = linalg.cho_solve((est.gram_cholesky_, True), centred, check_finite=False)
        out = self._kernel_rows(X) @ dual
        return out + Y.mean(axis=0) if est.fit_intercept else out

    def _row_norms_sq(self, X):
        if not self._dual:
            return super()._row_norms_sq(X)
        if X is None:
            return np.ones(self.n_train)
        Z = self._dual_weights(X)
        norms = np.einsum("ij,ij->i", Z, Z)
        return norms + 1.0 / self.n_train if self.estimator.fit_intercept else norms

    def _trace(self) -> float:
        if not self._dual:
            return super()._trace()
        return float(self.n_train)


@register_smoother(KernelRidge)
class KernelRidgeSmoother(Smoother):
    r"""Smoother of :class:`sklearn.kernel_ridge.KernelRidge`, for any kernel.

    ``X_train`` must equal the stored ``X_fit_`` (for ``kernel="precomputed"``,
    the training kernel matrix; evaluation inputs are then kernel rows against
    the training points), and per-target alphas must agree. A kernel matrix
    ``K + alpha I`` that is numerically singular (``alpha=0`` on a
    singular kernel, where scikit-learn falls back to least squares) raises
    ``ValueError``. The model does
    not record ``sample_weight``: pass it to get the weighted smoother
    :math:`K_X W^{1/2} (W^{1/2} K W^{1/2} + \lambda I)^{-1} W^{1/2}`, or pass
    ``y_train`` to have its absence checked.

    Notes
    -----
    With :math:`K = Q \Lambda Q^\top` the training kernel and :math:`K_X` the
    kernel between evaluation and training inputs,

    .. math::

        S(X) = K_X (K + \lambda I)^{-1} = K_X Q (\Lambda + \lambda I)^{-1} Q^\top,
        \qquad \operatorname{tr} S = \sum_i \frac{\lambda_i}{\lambda_i + \lambda}.

    References
    ----------
    C. Saunders, A. Gammerman, V. Vovk. "Ridge Regression Learning Algorithm in
    Dual Variables". ICML 1998.
    """

    #: scipy.sparse inputs are measured as the equal dense arrays.
    accepts_sparse = True

    def _validate(self) -> None:
        est = self.estimator
        fit_X = est.X_fit_
        check_n_train(self.X_train, fit_X.shape[0], est, "X_fit_")
        fit_X = fit_X.toarray() if hasattr(fit_X, "toarray") else np.asarray(fit_X)
        if not np.array_equal(self.X_train, fit_X):
            raise training_mismatch(est, "it differs from the inputs the model stored (X_fit_)")
        self._alpha = _single_alpha(est)
        self._sqrt_w = None if self.sample_weight is None else np.sqrt(self.sample_weight)
        _check_solvable(self._eig[0], self._alpha, self.n_train, est, "the kernel matrix")

    def _mismatch_cause(self) -> str:
        # X_train equals the stored X_fit_, so a gap cannot come from other training rows.
        return (
            "X_train equals the stored X_fit_, so the gap comes from y_train, from "
            "sample_weight the fit used but that was not passed, or from the solve. "
            + _conditioning_cause(self._eig[0], self._alpha)
        ).strip()

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        est = self.estimator
        if callable(est.kernel):
            params = est.kernel_params or {}
        else:
            params = {"gamma": est.gamma, "degree": est.degree, "coef0": est.coef0}
        return pairwise_kernels(X, self.X_train, metric=est.kernel, filter_params=True, **params)

    supports_sample_weight = True

    @cached_property
    def _eig(self):
        K = self._kernel(self.X_train)
        if self._sqrt_w is not None:
            K = K * np.outer(self._sqrt_w, self._sqrt_w)
        eigenvalues, Q = linalg.eigh(K, check_finite=False)
        # Q^T W^{1/2}: the right factor of S (Q^T without weights).
        right = Q.T if self._sqrt_w is None else Q.T * self._sqrt_w
        return eigenvalues, Q, 1.0 / (eigenvalues + self._alpha), right

    def _kernel_weighted(self, X: np.ndarray | None) -> np.ndarray:
        K = self._kernel(self.X_train if X is None else X)
        return K if self._sqrt_w is None else K * self._sqrt_w

    def _weights_times(self, X: np.ndarray | None) -> np.ndarray:
        """``K_X W^{1/2} Q (Lambda + alpha)^-1``, of shape (m, n)."""
        _, Q, inv, _ = self._eig
        return (self._kernel_weighted(X) @ Q) * inv

    def _matrix(self, X):
        return self._weights_times(X) @ self._eig[3]

    def _smooth(self, Y, X):
        _, Q, inv, right = self._eig
        return self._kernel_weighted(X) @ (Q @ (inv[:, None] * (right @ Y)))

    def _row_norms_sq(self, X):
        A = self._weights_times(X)
        if self._sqrt_w is None:
            return np.einsum("ij,ij->i", A, A)
        right = self._eig[3]
        return np.einsum("ij,ij->i", A @ (right @ right.T), A)

    def _trace(self) -> float:
        eigenvalues, _, inv, _ = self._eig
        return float(np.sum(eigenvalues * inv))
