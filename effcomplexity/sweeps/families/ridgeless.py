"""Ridgeless (min-norm) least squares on Gaussian features, next to its closed-form risk."""

from __future__ import annotations

import numpy as np

from ._base import Axis, SweepFamily, UnitContext, register_family
from ._common import check_choice, linear_row, load_data, min_norm, unit_seed

__all__ = ["RIDGELESS"]


def _risk_finite_n(p: int, n: int, signal_sq: float, noise_sq: float) -> float:
    """Belkin, Hsu & Xu (2020), Gaussian design, all ``p`` features used."""
    if p <= n - 2:
        return noise_sq * (1.0 + p / (n - p - 1.0))
    if p >= n + 2:
        return signal_sq * (1.0 - n / p) + noise_sq * (1.0 + n / (p - n - 1.0))
    return float("nan")


def _risk_asymptotic(gamma: float, signal_sq: float, noise_sq: float) -> float:
    """Hastie, Montanari, Rosset & Tibshirani (2022) limit, plus the noise floor."""
    if gamma < 1.0:
        return noise_sq + noise_sq * gamma / (1.0 - gamma)
    if gamma > 1.0:
        return noise_sq + signal_sq * (1.0 - 1.0 / gamma) + noise_sq / (gamma - 1.0)
    return float("nan")


class RidgelessFamily(SweepFamily):
    """Min-norm least squares on ``n_features`` Gaussian features of a simulation."""

    name = "ridgeless"
    axes = (Axis("n_features"),)
    unit_axis = "n_features"
    defaults = {"intercept": "none"}
    extra_columns = {
        "gamma": "float64",
        "risk": "float64",
        "risk_finite_n": "float64",
        "risk_asymptotic": "float64",
        "coef_norm": "float64",
    }
    description = "min-norm least squares on Gaussian features, with its closed-form risk"

    def validate(self, spec, where):
        check_choice(spec.resolved_model_kwargs(), "intercept", ("none", "centred"), where)

    def cost(self, spec, params, points):
        return float(params["n_features"])

    def run(self, spec, params, points, ctx: UnitContext):
        opts = spec.resolved_model_kwargs()
        p = params["n_features"]
        data = load_data(spec, ctx.seed, n_features=p)
        model = min_norm(data.X_train, data.y_train, opts["intercept"])
        row = linear_row(model, data.X_train, data.X_test, data, unit_seed(ctx.seed, ctx.key))
        beta = np.asarray(data.metadata["beta"], dtype=float)
        noise_sq = float(data.metadata["noise"]) ** 2
        signal_sq = float(beta @ beta)
        n = data.n_train
        # x ~ N(0, I): E[(y - x^T b)^2] = ||beta - b||^2 + sigma^2 for a fitted b.
        risk = float(np.sum((beta - model.coef_) ** 2) + model.intercept_**2) + noise_sq
        row.update(
            n_features=p,
            n_params=p,
            gamma=p / n,
            risk=risk,
            risk_finite_n=_risk_finite_n(p, n, signal_sq, noise_sq),
            risk_asymptotic=_risk_asymptotic(p / n, signal_sq, noise_sq),
        )
        return [row], data


RIDGELESS = register_family(RidgelessFamily())
