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
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics.pairwise import pairwise_kernels

from .._validation import check_n_train, training_mismatch
from .registry import Smoother, register_smoother

__all__ = [
    "KernelRidgeSmoother",
    "LinearRegressionSmoother",
    "LowRankSmoother",
    "MinNormLeastSquaresSmoother",
    "RidgeSmoother",
]

#: scikit-learn's SVD ridge solver drops singular values at or below this.
_RIDGE_SVD_CUTOFF = 1e-15


@dataclass(frozen=True)
class LowRankFactors:
    """Factors of a smoother ``S(X) = [1/n] + L(X) R^T``.

    ``L(X) = ((X - offset) @ V) * g`` has ``r`` columns; the ``1/n`` term is
    present when ``intercept`` is true, and then ``R`` has zero column sums.
    """

    V: np.ndarray  # (p, r)
    g: np.ndarray  # (r,)
    R: np.ndarray  # (n, r)
    left_train: np.ndarray  # (n, r): L(X_train), from an identity where one exists
    offset: np.ndarray | None = None  # (p,)
    intercept: bool = False
    gram: np.ndarray | None = None  # R^T R, (r, r); None means the identity


def centred_svd(X: np.ndarray, fit_intercept: bool):
    """Column means (or ``None``) and thin SVD of the centred design."""
    offset = X.mean(axis=0) if fit_intercept else None
    design = X - offset if fit_intercept else X.copy()
    U, d, Vt = linalg.svd(design, full_matrices=False, overwrite_a=True, check_finite=False)
    return offset, U, d, Vt


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
        if f.intercept:
            S += 1.0 / self.n_train
        return S

    def _smooth(self, Y, X):
        f = self.factors
        out = self._left(X) @ (f.R.T @ Y)
        if f.intercept:
            out += Y.mean(axis=0)
        return out

    def _row_norms_sq(self, X):
        f = self.factors
        L = self._left(X)
        LG = L if f.gram is None else L @ f.gram
        norms = np.einsum("ij,ij->i", LG, L)
        if f.intercept:
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
    dropped, exactly the ``rank_`` that the fitted model reports.

    ``X_train`` is checked against the fitted model's ``singular_``: a design
    with other singular values (other rows, or a fit with ``sample_weight``,
    which is assumed absent) raises ``ValueError``.

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
    >>> ols = LinearRegression().fit(X, X @ [1.0, 2.0, 3.0])
    >>> round(ec.degrees_of_freedom(ols, X, kind="variance"), 8)   # p + 1
    4.0
    """

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
                "Fits with sample_weight are not supported.",
            )

    @cached_property
    def _svd(self):
        return centred_svd(self.X_train, self.estimator.fit_intercept)

    def _factorize(self) -> LowRankFactors:
        offset, U, d, Vt = self._svd
        rank = getattr(self.estimator, "rank_", None)
        if rank is None:
            cutoff = self.estimator.tol * (d[0] if d.size else 0.0)
            rank = int(np.count_nonzero(d > cutoff))
        U, d, Vt = U[:, :rank], d[:rank], Vt[:rank]
        return spectral_factors(U, d, Vt, 1.0 / d, offset, self.estimator.fit_intercept)


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
    (``"lsqr"``, ``"sparse_cg"``, ``"sag"``, ``"saga"``) to their ``tol``. The
    intercept is unpenalised, as in scikit-learn; ``sample_weight`` is assumed
    absent (the fitted model does not record it). ``positive=True`` (and hence
    the ``"lbfgs"`` solver) and per-target alphas that differ raise ``ValueError``.

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
    >>> [round(ec.degrees_of_freedom(Ridge(alpha=a).fit(X, y), X), 3) for a in (1e-9, 1e9)]
    [4.0, 1.0]
    """

    def _validate(self) -> None:
        _reject_positive(self.estimator)
        self._alpha = _single_alpha(self.estimator)

    def _factorize(self) -> LowRankFactors:
        offset, U, d, Vt = centred_svd(self.X_train, self.estimator.fit_intercept)
        keep = d > _RIDGE_SVD_CUTOFF
        U, d, Vt = U[:, keep], d[keep], Vt[keep]
        g = d / (d**2 + self._alpha)
        return spectral_factors(U, d, Vt, g, offset, self.estimator.fit_intercept)


@register_smoother("effcomplexity.models.least_squares.MinNormLeastSquares")
class MinNormLeastSquaresSmoother(LowRankSmoother):
    r"""Smoother of :class:`effcomplexity.models.MinNormLeastSquares`.

    Uses the thin SVD that the fitted model stores, so no factorisation is
    repeated: ``p_test`` costs one product of the test design with ``V``.
    ``X_train`` must have the ``n_samples_fit_`` rows the model was fitted on,
    and is checked against the stored SVD with one random product
    (:math:`X_c w = U D V^\top w`), which catches other or reordered rows.

    Notes
    -----
    .. math::

        S_{train} = \mathbf 1 \mathbf 1^\top/n + U U^\top, \qquad
        \lVert s(x) \rVert^2 = 1/n + \lVert D^{-1} V^\top (x - \bar x) \rVert^2,

    so ``p_train`` is the rank (+1 with an intercept): ``n`` past the
    interpolation threshold.

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
        w = np.random.default_rng(0).standard_normal(self.X_train.shape[1])
        direct = self.X_train @ w - est.X_offset_ @ w
        via_svd = est.U_ @ (est.singular_[: est.rank_] * (est.Vt_ @ w))
        scale = (float(est.singular_[0]) if est.singular_.size else 0.0) * np.linalg.norm(w)
        if np.linalg.norm(direct - via_svd) > 1e-8 * scale + 1e-300:
            raise training_mismatch(est, "its product with the stored SVD differs")

    def _factorize(self) -> LowRankFactors:
        est = self.estimator
        d = est.singular_[: est.rank_]
        offset = est.X_offset_ if est.fit_intercept else None
        return spectral_factors(est.U_, d, est.Vt_, 1.0 / d, offset, est.fit_intercept)


@register_smoother(KernelRidge)
class KernelRidgeSmoother(Smoother):
    r"""Smoother of :class:`sklearn.kernel_ridge.KernelRidge`, for any kernel.

    ``X_train`` must equal the stored ``X_fit_`` (for ``kernel="precomputed"``,
    the training kernel matrix; evaluation inputs are then kernel rows against
    the training points). ``sample_weight`` is assumed absent, and per-target
    alphas must agree.

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

    def _validate(self) -> None:
        est = self.estimator
        fit_X = est.X_fit_
        check_n_train(self.X_train, fit_X.shape[0], est, "X_fit_")
        fit_X = fit_X.toarray() if hasattr(fit_X, "toarray") else np.asarray(fit_X)
        if not np.array_equal(self.X_train, fit_X):
            raise training_mismatch(est, "it differs from the inputs the model stored (X_fit_)")
        self._alpha = _single_alpha(est)

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        est = self.estimator
        if callable(est.kernel):
            params = est.kernel_params or {}
        else:
            params = {"gamma": est.gamma, "degree": est.degree, "coef0": est.coef0}
        return pairwise_kernels(X, self.X_train, metric=est.kernel, filter_params=True, **params)

    @cached_property
    def _eig(self):
        eigenvalues, Q = linalg.eigh(self._kernel(self.X_train), check_finite=False)
        return eigenvalues, Q, 1.0 / (eigenvalues + self._alpha)

    def _weights_times(self, X: np.ndarray | None) -> np.ndarray:
        """``K_X Q (Lambda + alpha)^-1``, of shape (m, n)."""
        _, Q, inv = self._eig
        return (self._kernel(self.X_train if X is None else X) @ Q) * inv

    def _matrix(self, X):
        return self._weights_times(X) @ self._eig[1].T

    def _smooth(self, Y, X):
        _, Q, inv = self._eig
        K = self._kernel(self.X_train if X is None else X)
        return K @ (Q @ (inv[:, None] * (Q.T @ Y)))

    def _row_norms_sq(self, X):
        A = self._weights_times(X)
        return np.einsum("ij,ij->i", A, A)

    def _trace(self) -> float:
        eigenvalues, _, inv = self._eig
        return float(np.sum(eigenvalues * inv))
