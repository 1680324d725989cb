"""Random-Fourier-feature regression: Belkin et al.'s sweep and Curth et al.'s PCA path."""

from __future__ import annotations

import numpy as np

from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import (
    INTERCEPTS,
    check_choice,
    check_positive,
    linear_row,
    load_data,
    min_norm,
    unit_seed,
    with_bias,
)

__all__ = ["RFF", "RFF_PCA"]


class RFFFamily(SweepFamily):
    """Min-norm least squares on ``n_features`` random Fourier features."""

    name = "rff"
    axes = (Axis("n_features"),)
    unit_axis = "n_features"
    defaults = {"bandwidth": 5.0, "intercept": "column"}
    extra_columns = {"coef_norm": "float64"}
    description = "min-norm least squares on random Fourier features"

    def validate(self, spec, where):
        opts = spec.resolved_model_kwargs()
        check_choice(opts, "intercept", INTERCEPTS, where)
        check_positive(opts, "bandwidth", where)

    def cost(self, spec, params, points):
        return float(params["n_features"])

    def run(self, spec, params, points, ctx: UnitContext):
        from ...models import RandomFourierFeatures

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        n_features = params["n_features"]
        rff = RandomFourierFeatures(
            n_features,
            bandwidth=opts["bandwidth"],
            include_bias=opts["intercept"] == "column",
            random_state=ctx.seed,
        ).fit(data.X_train)
        F_train, F_test = rff.transform(data.X_train), rff.transform(data.X_test)
        model = min_norm(F_train, data.y_train, opts["intercept"])
        row = linear_row(model, F_train, F_test, data, unit_seed(ctx.seed, ctx.key))
        return [{**row, "n_features": n_features, "n_params": n_features}], data


class RFFPCAFamily(RFFFamily):
    """Min-norm least squares on the ``P_PC`` leading principal components of
    ``n_train + P_ex`` standardised random Fourier features (Curth et al.)."""

    name = "rff_pca"
    axes = (
        Axis("P_PC", max_n_train=True, label="principal components"),
        Axis("P_ex", minimum=0),
    )
    unit_axis = "P_ex"
    extra_columns = {"n_raw_features": "Int64", "coef_norm": "float64"}
    description = "min-norm least squares on principal components of random Fourier features"

    def cost(self, spec, params, points):
        return float(spec.n_train + params["P_ex"])

    def run(self, spec, params, points, ctx: UnitContext):
        from ...models import RandomFourierFeatures

        opts = spec.resolved_model_kwargs()
        data = load_data(spec, ctx.seed)
        n_excess = params["P_ex"]
        n_raw = data.n_train + n_excess
        rff = RandomFourierFeatures(n_raw, bandwidth=opts["bandwidth"], random_state=ctx.seed)
        n_components = max(p["P_PC"] for p in points)
        T_train, T_test = _principal_scores(rff.fit(data.X_train), data, n_components)
        rows = []
        probe_seed = unit_seed(ctx.seed, ctx.key)
        for point in points:
            k = point["P_PC"]
            F_train = with_bias(T_train[:, :k], opts["intercept"])
            F_test = with_bias(T_test[:, :k], opts["intercept"])
            model = min_norm(F_train, data.y_train, opts["intercept"])
            row = linear_row(model, F_train, F_test, data, probe_seed)
            row.update(P_PC=k, P_ex=n_excess, n_params=k + n_excess, n_raw_features=n_raw)
            rows.append(row)
        return rows, data


def _principal_scores(rff, data, n_components: int):
    """Scores of the leading principal components of the standardised random features.

    The same numbers as ``StandardScaler`` followed by ``PCA(svd_solver="full")``
    (up to rounding and the signs of components, which a minimum-norm fit
    does not see), with one training and one test feature matrix alive: the
    features are standardised in place and the SVD overwrites them, where
    scikit-learn keeps the raw, standardised and centred copies and a
    Fortran copy for LAPACK (about 17 GB instead of about 8 at n = 10,000
    rows and 30,000 features).
    """
    from scipy import linalg

    from ..._threads import single_blas_thread

    Z = rff.transform(data.X_train)
    mean = Z.mean(axis=0)
    Z -= mean
    # Population standard deviations; constant columns keep scale 1, as scikit-learn's.
    scale = np.sqrt(np.einsum("ij,ij->j", Z, Z) / Z.shape[0])
    scale[scale < 10 * np.finfo(float).eps] = 1.0
    Z /= scale
    # The transpose of the C-ordered rows is a Fortran array: LAPACK works on it in place,
    # on one BLAS thread (the threaded divide and conquer loses many times on a busy core).
    with single_blas_thread():
        V, s, Ut = linalg.svd(Z.T, full_matrices=False, overwrite_a=True, check_finite=False)
    del Z
    T_train = Ut[:n_components].T * s[:n_components]
    del Ut
    Z_test = rff.transform(data.X_test)
    Z_test -= mean
    Z_test /= scale
    T_test = Z_test @ V[:, :n_components]
    return T_train, T_test


RFF = register_family(RFFFamily())
RFF_PCA = register_family(RFFPCAFamily())
