"""Effective parameters: exact against closed forms, probes against exact.

The exact reference values here are brute-force smoother matrices written in
this file (ridge hat matrix via ``np.linalg.solve``, min-norm weights via
``np.linalg.pinv``); the statistical tolerances are derived in each docstring.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import effcomplexity as ec
from effcomplexity.models import MinNormLeastSquares
from tests.cases.linear import data

N_SEEDS = 300


def _ridge_problem():
    """A ridge fit with its brute-force test smoother S_X (numpy solve)."""
    X, y, X_test = data(40, 10, m=25, seed=11)
    ridge = Ridge(alpha=1.0).fit(X, y)
    Xc, mean = X - X.mean(axis=0), X.mean(axis=0)
    S = 1 / 40 + (X_test - mean) @ np.linalg.solve(Xc.T @ Xc + np.eye(10), Xc.T)
    return ridge, X, X_test, 40 / 25 * np.sum(S**2)


def _probe_estimates(n_probes, probe="rademacher"):
    ridge, X, X_test, exact = _ridge_problem()
    runs = [
        ec.effective_parameters(
            ridge,
            X,
            X_test,
            method="probe",
            n_probes=n_probes,
            probe=probe,
            random_state=seed,
            return_std=True,
        )
        for seed in range(N_SEEDS)
    ]
    values, stds = np.array(runs).T
    return values, stds, exact


def test_exact_p_test_matches_brute_force():
    """Oracle: n/m ||S_X||_F^2 of the ridge hat matrix written out."""
    ridge, X, X_test, exact = _ridge_problem()
    assert ec.effective_parameters(ridge, X, X_test, method="exact") == pytest.approx(exact)
    value, std = ec.effective_parameters(ridge, X, X_test, return_std=True)
    assert value == pytest.approx(exact) and std == 0.0


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_probe_estimator_is_unbiased(probe):
    """Unbiasedness: E[(s(x).z)^2] = ||s(x)||^2 for E[zz^T] = I, so the mean of
    300 independent 16-probe estimates lies within 3 standard errors
    (sample sd / sqrt(300)) of the exact value (fails by chance with
    probability about 0.003)."""
    values, _, exact = _probe_estimates(16, probe)
    standard_error = values.std(ddof=1) / np.sqrt(N_SEEDS)
    assert abs(values.mean() - exact) < 3 * standard_error


def test_probe_error_shrinks_like_inverse_sqrt_probes():
    """The estimate is a mean of i.i.d. probe values, so its sd falls as
    1/sqrt(n_probes): 16 -> 256 probes divides it by 4. Each empirical sd over
    300 seeds has relative standard error about 1/sqrt(2 * 299) = 4.1% (more
    for heavy tails), so their ratio is within about 6% of 4; the bounds
    [3.2, 5.0] allow over 3 such errors either way."""
    few, few_std, _ = _probe_estimates(16)
    many, many_std, _ = _probe_estimates(256)
    ratio = few.std(ddof=1) / many.std(ddof=1)
    assert 3.2 < ratio < 5.0
    # The reported standard error tracks the actual spread (averaged over seeds).
    assert few_std.mean() == pytest.approx(few.std(ddof=1), rel=0.2)
    assert many_std.mean() == pytest.approx(many.std(ddof=1), rel=0.2)


def test_probe_agrees_with_exact_within_reported_error():
    """One large probe run lands within 4 reported standard errors of exact."""
    ridge, X, X_test, exact = _ridge_problem()
    value, std = ec.effective_parameters(
        ridge, X, X_test, method="probe", n_probes=2000, random_state=0, return_std=True
    )
    assert std > 0
    assert abs(value - exact) < 4 * std


def test_min_norm_p_test_exact_and_probe():
    """Oracle: numpy's pseudo-inverse, p_test = n/m ||X_test pinv(X)||_F^2
    (no intercept); the probe estimate lies within 4 of its standard errors."""
    X, y, X_test = data(20, 60, m=15, seed=12)
    model = MinNormLeastSquares(fit_intercept=False).fit(X, y)
    exact = 20 / 15 * np.sum((X_test @ np.linalg.pinv(X)) ** 2)
    assert ec.effective_parameters(model, X, X_test) == pytest.approx(exact, rel=1e-9)
    value, std = ec.effective_parameters(
        model, X, X_test, method="probe", n_probes=1000, random_state=1, return_std=True
    )
    assert abs(value - exact) < 4 * std
    assert ec.effective_parameters(model, X) == pytest.approx(20, rel=1e-9)


class _PolicyProbe:
    """Just what the policy reads: the training size and the cheap-norms flag."""

    def __init__(self, n_train, cheap=False):
        self.n_train, self.exact_norms_are_cheap = n_train, cheap


def test_one_exact_or_probe_policy():
    """The documented budgets: m * n <= 25 million dense entries, and all stages
    together at most 100 million; cheap exact norms are always exact."""
    from effcomplexity.measures.effective import use_exact

    assert use_exact(_PolicyProbe(5000), 5000, "auto")  # 25e6 entries
    assert not use_exact(_PolicyProbe(5000), 5001, "auto")
    assert use_exact(_PolicyProbe(1000), 500, "auto", n_stages=200)  # 1e8 staged entries
    assert not use_exact(_PolicyProbe(1000), 501, "auto", n_stages=200)
    assert use_exact(_PolicyProbe(10**6, cheap=True), 10**6, "auto", n_stages=200)
    assert use_exact(_PolicyProbe(10**6), 10**6, "exact")
    assert not use_exact(_PolicyProbe(2), 2, "probe")
    with pytest.raises(ValueError, match="method must be one of"):
        use_exact(_PolicyProbe(2), 2, "fast")
