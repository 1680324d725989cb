"""Minimum-norm least squares, the interpolating regressor of double-descent studies."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MinNormLeastSquares"]


class MinNormLeastSquares(MultiOutputMixin, RegressorMixin, BaseEstimator):
    r"""Least squares that returns the minimum-norm solution, through a thin SVD.

    Below the interpolation threshold (full column rank) this is ordinary
    least squares; above it, among all coefficient vectors that interpolate
    the training labels, the one of smallest Euclidean norm. The fitted model
    keeps its thin SVD, from which the smoother weights of
    :mod:`effcomplexity` are computed without refactorising.

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

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients (2-D when ``y`` was 2-D).
    intercept_ : float or ndarray of shape (n_targets,)
        ``0.0`` when ``fit_intercept=False``.
    rank_ : int
        Number of singular values kept.
    singular_ : ndarray of shape (min(n_samples, n_features),)
        All singular values of the (centred) design, in decreasing order.
    U_ : ndarray of shape (n_samples, rank)
        Left singular vectors kept.
    Vt_ : ndarray of shape (rank, n_features)
        Right singular vectors kept.
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

    def __init__(self, *, fit_intercept: bool = True, rcond: float | None = None):
        self.fit_intercept = fit_intercept
        self.rcond = rcond

    def _check_params(self) -> None:
        if self.rcond is not None and (
            not isinstance(self.rcond, numbers.Real)
            or isinstance(self.rcond, bool)
            or not 0 <= self.rcond < 1
        ):
            raise ValueError(f"rcond must be None or a number in [0, 1), got {self.rcond!r}.")

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
            design, target = X.copy(), y
        U, s, Vt = linalg.svd(design, full_matrices=False, overwrite_a=True, check_finite=False)
        rcond = np.finfo(np.float64).eps * max(n, p) if self.rcond is None else self.rcond
        rank = int(np.count_nonzero(s > rcond * s[0])) if s.size else 0
        U, Vt = np.ascontiguousarray(U[:, :rank]), np.ascontiguousarray(Vt[:rank])
        target_2d = target.reshape(n, -1)
        coef = Vt.T @ ((U.T @ target_2d) / s[:rank, None])
        self.U_, self.Vt_, self.singular_, self.rank_ = U, Vt, s, rank
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
