r"""Smoother of pyGAM's Gaussian additive models (``LinearGAM``).

Registered by qualified class name, so pyGAM (the optional extra
``effcomplexity[gam]``) is imported only when one of its models is measured.

pyGAM fits a GAM by penalised iteratively reweighted least squares in the
stable form of Wood (2017, section 6.1.3): with the model matrix :math:`B`
of the fitted terms, the PIRLS weights :math:`W` and :math:`E^\top E = P +
\sqrt{\epsilon} I` (the block-diagonal penalty of the fitted ``lam`` plus the
small ridge pyGAM adds for conditioning), it factors :math:`W B = Q R` and
takes the SVD :math:`[R; E] = U D V^\top`, and the coefficients are
:math:`V D^{-1} U_1^\top Q^\top W y` with :math:`U_1` the rows of :math:`U`
that belong to :math:`R`. For the normal distribution with the identity link
the weights are :math:`\sqrt{w}` (the fit's sample weights) whatever ``y``
is, so the fit is one penalised least-squares solve and a linear smoother.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.exceptions import NotFittedError

from .._validation import check_inputs, check_n_train, training_mismatch
from .linear import LowRankFactors, LowRankSmoother
from .registry import register_smoother

__all__ = ["PyGAMSmoother"]

#: pyGAM's machine epsilon: its PIRLS adds sqrt(EPS) to the penalty diagonal and
#: drops rows whose weight is below sqrt(EPS).
_EPS = np.finfo(np.float64).eps
#: Tolerance of the check that tr S(X_train) equals the fit's statistics_['edof'].
_EDOF_RTOL = 1e-6


@register_smoother("pygam.pygam.GAM")
class PyGAMSmoother(LowRankSmoother):
    r"""Smoother of a fitted pyGAM ``LinearGAM`` (normal distribution, identity link).

    Any terms pyGAM builds are supported: splines ``s``, linear ``l``,
    factor ``f`` and tensor ``te`` terms, ``by`` variables, with or without
    the intercept (``fit_intercept``), and any ``lam``, including one chosen
    by ``gridsearch`` (the final refit is what is measured). ``X_train`` and
    ``X`` are the raw inputs ``fit`` and ``predict`` take; the model matrix
    is built by pyGAM's own terms.

    Parameters
    ----------
    estimator : pygam.LinearGAM
        Fitted, used as it is (a ``GAM`` with ``distribution="normal"`` and
        ``link="identity"`` is the same model).
    X_train : array-like of shape (n, n_features)
        The inputs the model was fitted on, in the same order.
    sample_weight : array-like of shape (n,), optional
        The ``weights`` passed to ``fit`` (pyGAM stores them in float32,
        and so does the smoother).

    Raises
    ------
    ValueError
        For other distributions or links (``LogisticGAM``, ``PoissonGAM``,
        ``GammaGAM``, ``InvGaussGAM``), ``ExpectileGAM`` (its weights depend on
        ``y``) and terms with ``constraints`` (the constraint penalty depends on
        the coefficients): none is a linear smoother.
    TrainingMismatchError
        If ``X_train`` (or the weights) give a trace other than the fit's
        ``statistics_['edof']``, or another number of rows.

    Notes
    -----
    .. math::

        S(X) = B(X)\, V_k D_k^{-1} U_1^\top Q^\top W ,

    with :math:`k = \min(\text{rows}, \text{columns})` of :math:`W B` (pyGAM
    keeps the :math:`k` largest singular values). On the training inputs,
    :math:`\operatorname{tr} S = \operatorname{tr}(U_1 U_1^\top)`, pyGAM's
    ``statistics_['edof']``: the fit's effective degrees of freedom.

    pyGAM records the number of training rows and the trace but not their
    order, so a shuffled ``X_train`` is caught only by ``y_train`` (without
    it, measures issue :class:`~effcomplexity.UnverifiedTrainingDataWarning`).

    References
    ----------
    S. N. Wood. "Generalized Additive Models: An Introduction with R", 2nd ed.,
    section 6.1. Chapman & Hall/CRC, 2017.

    D. Servén, C. Brummitt. "pyGAM: Generalized Additive Models in Python".
    Zenodo, 2018.
    """

    supports_sample_weight = True
    verifies_X_train = False
    unverified_reason = (
        "pyGAM records the number of training rows and the fit's effective degrees of "
        "freedom, which do not change when the rows are shuffled"
    )

    def _check_fitted(self, estimator) -> None:
        # pyGAM's own record of a fit (its _is_fitted property tests coef_).
        if not (hasattr(estimator, "coef_") and hasattr(estimator, "statistics_")):
            raise NotFittedError(
                f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' "
                f"with appropriate arguments before measuring it."
            )

    def _check_X(self, X, *, name: str = "X") -> np.ndarray:
        n_features = int(self.estimator.statistics_["m_features"])
        return check_inputs(self._densify(X, name), name=name, n_features=n_features)

    def _validate(self) -> None:
        from pygam.distributions import NormalDist
        from pygam.links import IdentityLink
        from pygam.pygam import GAM

        gam = self.estimator
        name = type(gam).__name__
        if not isinstance(gam.distribution, NormalDist) or not isinstance(gam.link, IdentityLink):
            raise ValueError(
                f"{name} with the {type(gam.distribution).__name__} distribution and the "
                f"{type(gam.link).__name__} link is not a linear smoother (its PIRLS "
                f"weights depend on y); only the normal distribution with the identity "
                f"link (LinearGAM) is. Use effcomplexity.generalized_degrees_of_freedom."
            )
        if type(gam)._W is not GAM._W:
            raise ValueError(
                f"{name} reweights the rows by the sign of their residuals, so its fit is "
                f"not a linear smoother of y; only LinearGAM is. Use "
                f"effcomplexity.generalized_degrees_of_freedom."
            )
        if gam.terms.hasconstraint:
            raise ValueError(
                f"{name} has terms with constraints, whose penalty depends on the fitted "
                f"coefficients, so the fit is not a linear smoother of y. Refit without "
                f"constraints, or use effcomplexity.generalized_degrees_of_freedom."
            )
        check_n_train(self.X_train, int(gam.statistics_["n_samples"]), gam, "statistics_")
        edof = float(gam.statistics_["edof"])
        trace = self._trace()
        if not abs(trace - edof) <= _EDOF_RTOL * max(1.0, abs(edof)):
            raise training_mismatch(
                gam,
                f"its smoother has trace {trace:.10g}, but the fit's effective degrees of "
                f"freedom statistics_['edof'] are {edof:.10g}",
                "Pass the weights used to fit as sample_weight if the fit used them.",
            )

    def _model_matrix(self, X: np.ndarray):
        # pyGAM's own basis (and its own input checks, as predict runs them).
        return self.estimator._modelmat(X)

    def _left(self, X):
        f = self.factors
        if X is None:
            return f.left_train
        return np.asarray(self._model_matrix(X) @ f.V) * f.g

    def _factorize(self) -> LowRankFactors:
        gam = self.estimator
        n = self.n_train
        B = self._model_matrix(self.X_train).toarray()
        m = B.shape[1]
        # W = (w^-1)^(-1/2) for this family, with w^-1 taken in float32 as pyGAM stores w.
        if self.sample_weight is None:
            sqrt_w = np.ones(n)
        else:
            with np.errstate(divide="ignore"):
                inverse = np.float32(1.0) / self.sample_weight.astype(np.float32)
            sqrt_w = inverse.astype(float) ** -0.5
        mask = sqrt_w >= np.sqrt(_EPS)
        Q, R = np.linalg.qr(sqrt_w[mask, None] * B[mask])
        penalty = np.asarray(gam._P().toarray(), dtype=float) + np.sqrt(_EPS) * np.eye(m)
        E = linalg.cholesky((penalty + penalty.T) / 2.0, lower=False, check_finite=False)
        U, d, Vt = np.linalg.svd(np.vstack([R, E]), full_matrices=False)
        k = min(m, n, int(mask.sum()))
        U1 = U[:k, :k]
        V, g = Vt[:k].T, 1.0 / d[:k]
        right = np.zeros((n, k))
        right[mask] = sqrt_w[mask, None] * (Q @ U1)
        return LowRankFactors(V=V, g=g, R=right, left_train=(B @ V) * g, gram=right.T @ right)
