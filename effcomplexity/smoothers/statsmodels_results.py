"""Smoothers of statsmodels Gaussian linear results: OLS, WLS and GLMGam.

Registered by qualified class name, so statsmodels is imported only when one
of its results objects is measured.

For these families ``X_train`` and ``X`` are *design matrices*: rows of the
model's ``exog`` (including any constant column the user added). For
``GLMGam`` the design is the full one the model fits, the linear ``exog``
followed by the spline basis columns, i.e. ``results.model.exog``; new points
are given as ``results.predict`` takes them, a mapping
``{"exog": exog_linear, "exog_smooth": x}``, and the design is built by
statsmodels' own transform (the smoother's basis, and the formula of a model
built with ``from_formula``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
from scipy import linalg

from .._validation import check_inputs, check_n_train, training_mismatch
from .linear import LowRankFactors, LowRankSmoother
from .registry import register_smoother

__all__ = ["GLMGamResultsSmoother", "RegressionResultsSmoother"]

#: statsmodels' pinv-based fits drop singular values <= this times the largest.
_STATSMODELS_RCOND = 1e-15


def _weighted_factors(X, sqrt_w, penalty_root=None) -> LowRankFactors:
    """Factors of ``S(X) = X pinv(A)[:, :n] diag(sqrt_w)`` with ``A = [sqrt_w X; B]``.

    ``B`` (with ``B^T B`` the penalty) is absent for unpenalised fits.
    """
    A = sqrt_w[:, None] * X
    if penalty_root is not None:
        A = np.vstack([A, penalty_root])
    U, d, Vt = linalg.svd(A, full_matrices=False, check_finite=False)
    keep = d > _STATSMODELS_RCOND * (d[0] if d.size else 0.0)
    U, d, Vt = U[:, keep], d[keep], Vt[keep]
    R = sqrt_w[:, None] * U[: X.shape[0]]
    g = 1.0 / d
    V = Vt.T
    return LowRankFactors(V=V, g=g, R=R, left_train=(X @ V) * g, gram=R.T @ R)


class _StatsmodelsSmoother(LowRankSmoother):
    """Shared input handling: inputs are rows of the model's design ``exog``."""

    @property
    def _exog(self) -> np.ndarray:
        return np.asarray(self.estimator.model.exog, dtype=float)

    def _check_X(self, X, *, name: str = "X") -> np.ndarray:
        model = self.estimator.model
        columns = getattr(X, "columns", None)
        names = getattr(model, "exog_names", None)
        if columns is not None and names is not None and list(columns) != list(names):
            detail = f"its columns {list(columns)} are not the model's exog_names {list(names)}"
            if name == "X_train":
                raise training_mismatch(model, detail, "Pass results.model.exog.")
            raise ValueError(
                f"{name} does not have the design columns of the model: "
                f"{detail.removeprefix('its columns ')}. Select them in that order."
            )
        X = self._densify(X, name)
        return check_inputs(X, name=name, estimator=model, n_features=self._exog.shape[1])

    def _model_predictions(self) -> np.ndarray:
        # The fit's own predictions on its design; X_train is checked equal to it.
        return np.asarray(self.estimator.fittedvalues, dtype=float)

    def _check_design(self) -> None:
        model = self.estimator.model
        exog = self._exog
        check_n_train(self.X_train, exog.shape[0], model, "model.exog")
        scale = max(1.0, float(np.max(np.abs(exog))) if exog.size else 1.0)
        if not np.allclose(self.X_train, exog, rtol=0.0, atol=1e-12 * scale):
            raise training_mismatch(
                model,
                "it differs from the design matrix model.exog",
                "For statsmodels results, pass results.model.exog.",
            )


@register_smoother("statsmodels.regression.linear_model.RegressionResultsWrapper")
class RegressionResultsSmoother(_StatsmodelsSmoother):
    r"""Smoother of fitted statsmodels ``OLS`` and ``WLS`` results.

    ``X_train`` is the model's design ``results.model.exog`` and ``X`` rows of
    a design with the same columns. Fits by ``"pinv"`` (the default; singular
    values at or below ``1e-15`` times the largest are dropped, so rank-deficient
    designs give the minimum-norm solution) and by ``"qr"`` are supported.
    Other results that share the wrapper class (GLS, GLSAR, GLM, quantile
    regression) raise ``TypeError``.

    Notes
    -----
    With weights :math:`W` (the identity for OLS),

    .. math::

        S(X) = X (X_{tr}^\top W X_{tr})^{-1} X_{tr}^\top W ,

    computed from the SVD :math:`W^{1/2} X_{tr} = U D V^\top` as
    :math:`X V D^{-1} U^\top W^{1/2}`. The training diagonal of ``S`` is
    statsmodels' leverage ``OLSInfluence(results).hat_matrix_diag``, and
    :math:`\operatorname{tr} S` is the rank of the design.

    References
    ----------
    D. A. Belsley, E. Kuh, R. E. Welsch. "Regression Diagnostics". Wiley, 1980.

    Examples
    --------
    >>> import numpy as np
    >>> import statsmodels.api as sm
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> design = sm.add_constant(rng.normal(size=(30, 2)))
    >>> results = sm.OLS(rng.normal(size=30), design).fit()
    >>> round(ec.degrees_of_freedom(results, design), 8)
    3.0
    """

    def _validate(self) -> None:
        from statsmodels.regression.linear_model import WLS

        model = self.estimator.model
        if not isinstance(model, WLS):
            raise TypeError(
                f"statsmodels {type(model).__name__} results are not supported; supported "
                f"statsmodels families are OLS, WLS and GLMGam (Gaussian family, identity "
                f"link)."
            )
        self._check_design()

    def _factorize(self) -> LowRankFactors:
        n = self.n_train
        weights = np.broadcast_to(np.asarray(self.estimator.model.weights, dtype=float), (n,))
        return _weighted_factors(self.X_train, np.sqrt(weights))


@register_smoother("statsmodels.gam.generalized_additive_model.GLMGamResultsWrapper")
class GLMGamResultsSmoother(_StatsmodelsSmoother):
    r"""Smoother of statsmodels ``GLMGam`` results with a Gaussian family and identity link.

    A penalised regression spline fitted by penalised iteratively reweighted
    least squares (``method="pirls"``, the default), which for a Gaussian
    family with identity link is a single penalised least-squares solve.
    ``X_train`` and ``X`` are either rows of the full design
    ``results.model.exog`` (linear ``exog`` followed by the spline basis), or
    the inputs ``results.predict`` takes, as a mapping ``{"exog": ...,
    "exog_smooth": ...}``: the linear columns (leave ``"exog"`` out when the
    model has none) and the values of the smooth terms' variables, from
    which statsmodels' own transform builds the design, as ``predict`` does.
    Other families or links, fits by another optimiser, and models with an
    offset or exposure raise ``ValueError``.

    Notes
    -----
    With the penalty matrix :math:`P` of the fitted ``alpha`` and the PIRLS
    case weights :math:`W`,

    .. math::

        S(X) = X (X_{tr}^\top W X_{tr} + 2P)^{-1} X_{tr}^\top W ,

    (statsmodels' PIRLS uses :math:`2P`). Its training trace is the total
    effective degrees of freedom ``results.edf.sum()`` and its diagonal
    statsmodels' ``results.hat_matrix_diag``.

    References
    ----------
    S. N. Wood. "Generalized Additive Models: An Introduction with R", 2nd ed.,
    sections 6.1-6.2. Chapman & Hall/CRC, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> import statsmodels.api as sm
    >>> from statsmodels.gam.api import BSplines, GLMGam
    >>> import effcomplexity as ec
    >>> rng = np.random.default_rng(0)
    >>> x, linear = rng.uniform(size=(50, 1)), np.ones((50, 1))
    >>> y = np.sin(6 * x[:, 0]) + 0.2 * rng.normal(size=50)
    >>> results = GLMGam(y, linear, smoother=BSplines(x, df=[8], degree=[3]), alpha=[1.0]).fit()
    >>> new = {"exog": np.ones((5, 1)), "exog_smooth": rng.uniform(0.1, 0.9, size=(5, 1))}
    >>> S_test = ec.smoother_matrix(results, results.model.exog, new)
    >>> bool(np.allclose(S_test @ y, results.predict(**new)))
    True
    """

    def _check_X(self, X, *, name: str = "X") -> np.ndarray:
        if isinstance(X, Mapping):
            X = self._design(X, name)
        return super()._check_X(X, name=name)

    def _design(self, inputs: Mapping, name: str) -> np.ndarray:
        """The design of ``predict(exog=..., exog_smooth=...)``, by statsmodels' transform."""
        model = self.estimator.model
        unknown = sorted(set(inputs) - {"exog", "exog_smooth"})
        k_linear = model.exog.shape[1] - model.smoother.dim_basis
        if unknown or "exog_smooth" not in inputs or (k_linear and inputs.get("exog") is None):
            raise ValueError(
                f"{name} as a mapping takes the inputs of results.predict: 'exog_smooth' (the "
                f"values of the smooth terms' variables) and 'exog' (the model's {k_linear} "
                f"linear columns, left out only when there are none); got keys "
                f"{sorted(inputs)}. Alternatively pass rows of the full design, as "
                f"results.model.exog holds them."
            )
        design, _ = self.estimator._tranform_predict_exog(
            exog=inputs.get("exog"), exog_smooth=inputs["exog_smooth"], transform=True
        )
        return design

    def _validate(self) -> None:
        from statsmodels.genmod.families import Gaussian
        from statsmodels.genmod.families.links import Identity

        results, model = self.estimator, self.estimator.model
        if not isinstance(model.family, Gaussian) or not isinstance(model.family.link, Identity):
            raise ValueError(
                f"GLMGam with the {type(model.family).__name__} family and "
                f"{type(model.family.link).__name__} link is not a linear smoother; only the "
                f"Gaussian family with the identity link is supported."
            )
        if str(getattr(results, "method", "")).lower() not in ("pirls", "irls"):
            raise ValueError(
                f"GLMGam results fitted with method={results.method!r} solve the penalised "
                f"likelihood only to the optimiser's tolerance. Refit with method='pirls'."
            )
        if np.any(np.asarray(getattr(model, "_offset_exposure", 0.0)) != 0):
            raise ValueError(
                "GLMGam results with an offset or exposure are affine, not linear, in y: "
                "refit without offset and exposure."
            )
        self._check_design()

    @cached_property
    def _penalty_root(self) -> np.ndarray:
        model = self.estimator.model
        penalty = 2.0 * np.asarray(model.penal.penalty_matrix(alpha=model.alpha), dtype=float)
        eigenvalues, Q = linalg.eigh((penalty + penalty.T) / 2.0, check_finite=False)
        return np.sqrt(np.clip(eigenvalues, 0.0, None))[:, None] * Q.T

    def _factorize(self) -> LowRankFactors:
        n = self.n_train
        weights = np.asarray(getattr(self.estimator.model, "data_weights", 1.0), dtype=float)
        weights = np.broadcast_to(weights, (n,))
        return _weighted_factors(self.X_train, np.sqrt(weights), self._penalty_root)
