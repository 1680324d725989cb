"""Minimum-norm least squares, the interpolating regressor of double-descent studies."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._threads import single_blas_thread

__all__ = ["GRAM_MIN_RCOND", "QR_MIN_RCOND", "MinNormLeastSquares"]

#: Smallest reciprocal condition number (LAPACK's 1-norm estimate) of the Gram
#: matrix for which ``solver="auto"`` solves through its Cholesky factor. Its
#: solves then carry relative errors of at most about ``eps / rcond`` (2e-7);
#: a worse-conditioned design (near the interpolation threshold, or rank
#: deficient) takes the thin SVD, whose errors grow with the square root.
GRAM_MIN_RCOND = 1e-9
#: Smallest reciprocal condition number (1-norm estimate) of the triangular QR
#: factor for which ``solver="auto"`` solves through the QR factorisation when
#: the Gram matrix is too ill-conditioned; its errors grow like ``eps / rcond``.
QR_MIN_RCOND = 1e-8
_SOLVERS = ("auto", "svd")


class MinNormLeastSquares(MultiOutputMixin, RegressorMixin, BaseEstimator):
    r"""Least squares that returns the minimum-norm solution, through the Gram matrix or a thin SVD.

    Below the interpolation threshold (full column rank) this is ordinary
    least squares; above it, among all coefficient vectors that interpolate
    the training labels, the one of smallest Euclidean norm. The fitted model
    keeps the factorisation it solved with, from which the smoother weights
    of :mod:`effcomplexity` are computed without refactorising.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Fit an unpenalised intercept by centring ``X`` and ``y`` first (as
        :class:`sklearn.linear_model.LinearRegression` does). For an intercept
        column that is part of the minimum-norm problem, as in Curth et al.,
        set ``False`` and append a column of ones (for random features,
        ``RandomFourierFeatures(include_bias=True)``).
    rcond : float or None, default=None
        Relative rank cutoff: singular values ``<= rcond * max(singular values)``
        are treated as zero. ``None`` means ``eps * max(n_samples, n_features)``
        with ``eps`` the float64 machine epsilon, the default of
        :func:`numpy.linalg.lstsq` and :func:`numpy.linalg.matrix_rank`.
    solver : {"auto", "svd"}, default="auto"
        ``"auto"`` solves through the Cholesky factor of the smaller Gram
        matrix (``X X^T`` when ``n_features >= n_samples``, ``X^T X``
        otherwise) when its reciprocal condition number is at least
        ``GRAM_MIN_RCOND`` (1e-9) and the design then has full rank under
        ``rcond``; else through a QR factorisation of the design (or its
        transpose) when its triangular factor's reciprocal condition number
        is at least ``QR_MIN_RCOND`` (1e-8; not for centred rows past the
        threshold, which are rank deficient); else through the thin SVD.
        ``"svd"`` always takes the thin SVD.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients (2-D when ``y`` was 2-D).
    intercept_ : float or ndarray of shape (n_targets,)
        ``0.0`` when ``fit_intercept=False``.
    rank_ : int
        Number of singular values kept (with ``solver_="gram"``: the full rank).
    solver_ : {"gram", "qr", "svd"}
        The route the fit took.
    gram_cholesky_ : ndarray of shape (k, k) or None
        With ``solver_="gram"``: the lower Cholesky factor of the Gram matrix,
        ``k = min(n_samples, n_features)``; ``None`` after the SVD.
    singular_ : ndarray of shape (min(n_samples, n_features),) or None
        All singular values of the (centred) design, in decreasing order
        (``None`` unless ``solver_="svd"``).
    U_ : ndarray of shape (n_samples, rank) or None
        Left singular vectors kept (``None`` with ``solver_="gram"``; with
        ``solver_="qr"``, the factors of the pseudo-inverse
        ``Vt_.T @ U_.T``).
    Vt_ : ndarray of shape (rank, n_features) or None
        Right singular vectors kept (as ``U_`` for the other routes).
    X_offset_ : ndarray of shape (n_features,)
        Column means subtracted before the SVD (zeros without an intercept).
    n_samples_fit_ : int
        Number of training rows.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in,)
        Input column names, when ``X`` has string column names.

    Notes
    -----
    With the thin SVD :math:`X_c = U D V^\top` of the centred design, truncated
    to the ``rank_`` singular values above the cutoff,

    .. math::

        \hat\beta = V D^{-1} U^\top (y - \bar y), \qquad
        \hat f(x) = \bar y + (x - \bar x)^\top \hat\beta ,

    so the smoother weights are :math:`s(x) = \mathbf 1/n + U D^{-1} V^\top (x -
    \bar x)` and :math:`\lVert s(x) \rVert^2 = 1/n + \lVert D^{-1} V^\top
    (x - \bar x) \rVert^2`. The model stores ``rank_ * (n_samples + n_features)``
    floats for ``U_`` and ``Vt_``, the size of the pseudo-inverse.

    With full rank the same solution is
    :math:`\hat\beta = X_c^\top (X_c X_c^\top)^{-1} (y - \bar y)` past the
    threshold and :math:`(X_c^\top X_c)^{-1} X_c^\top (y - \bar y)` below it,
    where one product with the design and a Cholesky factorisation of the
    ``k x k`` Gram matrix, ``k = min(n, p)``, cost about :math:`n p k + k^3 / 3`
    flops against about :math:`2 n p k + 11 k^3` for the thin SVD, whose
    bidiagonalisation also runs at matrix-vector speed. ``solver="auto"``
    therefore takes the Gram route whenever it is accurate. Its solves lose
    accuracy with the square of the design's condition number, near the
    interpolation threshold most; there a Householder QR factorisation
    (about :math:`2 n p k` flops, accurate to the condition number itself)
    takes over, and the SVD only where the design is numerically rank
    deficient. With an intercept
    past the threshold the centred rows span ``n - 1`` dimensions; the Gram
    matrix is then factorised with :math:`c \mathbf 1 \mathbf 1^\top / n`
    added (``c`` its mean diagonal), which leaves the solution on the centred
    labels unchanged. The model stores the ``k x k`` factor only.

    References
    ----------
    G. H. Golub, C. F. Van Loan. "Matrix Computations", 4th ed., section 5.5.
    Johns Hopkins University Press, 2013.

    M. Belkin, D. Hsu, S. Ma, S. Mandal. "Reconciling modern machine-learning
    practice and the classical bias-variance trade-off". PNAS 116(32), 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from effcomplexity.models import MinNormLeastSquares
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(5, 20)), rng.normal(size=5)
    >>> model = MinNormLeastSquares().fit(X, y)
    >>> bool(np.allclose(model.predict(X), y))   # interpolates past the threshold
    True
    >>> model.rank_   # the centred design has rank n - 1
    4
    """

    def __init__(
        self, *, fit_intercept: bool = True, rcond: float | None = None, solver: str = "auto"
    ):
        self.fit_intercept = fit_intercept
        self.rcond = rcond
        self.solver = solver

    def _check_params(self) -> None:
        if self.rcond is not None and (
            not isinstance(self.rcond, numbers.Real)
            or isinstance(self.rcond, bool)
            or not 0 <= self.rcond < 1
        ):
            raise ValueError(f"rcond must be None or a number in [0, 1), got {self.rcond!r}.")
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}.")

    def fit(self, X, y) -> MinNormLeastSquares:
        """Fit the minimum-norm least-squares solution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self : MinNormLeastSquares
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        y = np.asarray(y, dtype=np.float64)
        n, p = X.shape
        if self.fit_intercept:
            X_offset = X.mean(axis=0)
            y_offset = y.mean(axis=0)
            design, target = X - X_offset, y - y_offset
        else:
            X_offset = np.zeros(p)
            y_offset = np.zeros(y.shape[1:]) if y.ndim == 2 else 0.0
            design, target = X, y
        target_2d = target.reshape(n, -1)
        rcond = np.finfo(np.float64).eps * max(n, p) if self.rcond is None else self.rcond
        gram = qr = None
        if self.solver == "auto" and min(n, p) > 0:
            gram = _gram_cholesky(design, self.fit_intercept, rcond)
            # Centred rows past the threshold span n - 1 dimensions: no full-rank QR.
            if gram is None and not (p >= n and self.fit_intercept):
                qr = _qr_pinv_factors(design if design is not X else X.copy(), rcond)
        self.gram_cholesky_ = gram
        if gram is not None or qr is not None:
            # Neither factor sees the order of the rows below the threshold: keep one
            # product with the design, against which a smoother checks its X_train.
            self._design_check = design @ design_check_vector(p)
            self.rank_ = n - 1 if p >= n and self.fit_intercept else min(n, p)
            self.singular_ = None
        if gram is not None:
            coef = _gram_coef(design, target_2d, gram)
            self.solver_, self.U_, self.Vt_ = "gram", None, None
        elif qr is not None:
            self.solver_, (self.U_, self.Vt_) = "qr", qr
            coef = self.Vt_.T @ (self.U_.T @ target_2d)
        else:
            # The SVD overwrites its input: a copy where the design is the caller's X.
            if design is X:
                design = X.copy()
            U, s, Vt = linalg.svd(design, full_matrices=False, overwrite_a=True, check_finite=False)
            rank = int(np.count_nonzero(s > rcond * s[0])) if s.size else 0
            U, Vt = np.ascontiguousarray(U[:, :rank]), np.ascontiguousarray(Vt[:rank])
            coef = Vt.T @ ((U.T @ target_2d) / s[:rank, None])
            self.U_, self.Vt_, self.singular_, self.rank_ = U, Vt, s, rank
            self.solver_ = "svd"
        self.X_offset_ = X_offset
        self.n_samples_fit_ = n
        if y.ndim == 1:
            self.coef_ = coef[:, 0]
            self.intercept_ = float(y_offset - X_offset @ self.coef_)
        else:
            self.coef_ = np.ascontiguousarray(coef.T)
            self.intercept_ = y_offset - self.coef_ @ X_offset
        return self

    def predict(self, X) -> np.ndarray:
        """Predict with the fitted minimum-norm coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_.T + self.intercept_


def design_check_vector(p: int) -> np.ndarray:
    """The fixed random vector whose product with the design a Gram-route fit keeps."""
    return np.random.default_rng(0).standard_normal(p)


def gram_matrix(design: np.ndarray, centred: bool) -> np.ndarray:
    """The smaller Gram matrix of a (centred) design, as the Gram route factorises it.

    ``X X^T`` (n x n) when ``p >= n``, else ``X^T X`` (p x p). Past the
    threshold with an intercept, ``c 1 1^T / n`` (``c`` the mean diagonal)
    fills the direction of the constant, which centred rows leave empty.
    """
    n, p = design.shape
    # numpy computes a product with its own transpose as a symmetric rank-k update.
    K = design @ design.T if p >= n else design.T @ design
    if p >= n and centred:
        K += np.trace(K) / n**2
    return K


def _gram_cholesky(design: np.ndarray, centred: bool, rcond: float) -> np.ndarray | None:
    """Lower Cholesky factor of the Gram matrix, or ``None`` where the SVD must be used.

    ``None`` when the matrix is not numerically positive definite, its
    reciprocal condition number is below ``GRAM_MIN_RCOND``, or the thin SVD
    would drop a singular value under ``rcond`` (the squares of the singular
    values are the Gram matrix's eigenvalues).
    """
    K = gram_matrix(design, centred)
    anorm = float(np.abs(K).sum(axis=0).max())
    # One BLAS thread: the threaded factorisation loses many times over on a busy core.
    with single_blas_thread():
        C, info = lapack.dpotrf(K, lower=1, clean=1, overwrite_a=1)
        if info != 0 or not anorm > 0:
            return None
        estimate, info = lapack.dpocon(C, anorm, uplo="L")
    # The 1-norm estimate is within a factor k of the 2-norm reciprocal condition number.
    if info != 0 or estimate < max(GRAM_MIN_RCOND, K.shape[0] * rcond**2):
        return None
    return C


def _gram_coef(design: np.ndarray, target_2d: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Minimum-norm coefficients (p, k) from the Cholesky factor of the Gram matrix."""
    n, p = design.shape
    if p >= n:
        return design.T @ linalg.cho_solve((C, True), target_2d, check_finite=False)
    return linalg.cho_solve((C, True), design.T @ target_2d, check_finite=False)


def _qr_pinv_factors(design: np.ndarray, rcond: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(U, Vt)`` with ``pinv(design) = Vt^T U^T`` from a QR factorisation, or ``None``.

    Below the threshold ``X = Q R`` gives ``U = Q`` and ``Vt = R^{-T}``; past
    it ``X^T = Q R`` gives ``U = I`` and ``Vt = R^{-1} Q^T``. ``None`` when
    the triangular factor's reciprocal condition number (1-norm estimate) is
    below ``QR_MIN_RCOND`` or ``rcond`` times its size: the thin SVD then
    decides the rank. ``design`` is overwritten.
    """
    n, p = design.shape
    dual = p >= n
    Q, R = linalg.qr(design.T if dual else design, mode="economic", overwrite_a=True)
    estimate, info = lapack.dtrcon(R, norm="1", uplo="U", diag="N")
    if info != 0 or not estimate >= max(QR_MIN_RCOND, R.shape[0] * rcond):
        return None
    if dual:
        Vt = linalg.solve_triangular(R, Q.T, lower=False, check_finite=False)
        return np.eye(n), Vt
    with single_blas_thread():
        inverse, info = lapack.dtrtri(R, lower=0)
    if info != 0:
        return None
    return np.ascontiguousarray(Q), np.ascontiguousarray(inverse.T)
