"""Per-layer spectral diagnostics (effcomplexity.measures._nn.spectral).

Oracles: numpy singular values of the same (reshaped) weights; a matrix built
with known eigenvalues of W^T W drawn from a Pareto law of known exponent;
``scipy.stats.kstest`` for the Kolmogorov-Smirnov distance and a brute-force
scan over every candidate x_min.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from effcomplexity import nn as ecnn
from effcomplexity.measures._nn.spectral import fit_power_law

torch.set_num_threads(1)


def test_stable_rank_and_log_norms_match_numpy():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 30), nn.ReLU(), nn.Linear(30, 3)
    )
    table = ecnn.spectral_diagnostics(net)
    assert list(table["layer"]) == ["0", "3", "5"]
    for row, module in zip(table.itertuples(), (net[0], net[3], net[5]), strict=True):
        W = module.weight.detach().double().numpy()
        assert row.shape == W.shape
        W = W.reshape(W.shape[0], -1)
        s = np.linalg.svd(W, compute_uv=False)
        assert row.stable_rank == pytest.approx(np.sum(W**2) / s[0] ** 2, rel=1e-10)
        assert row.log_spectral_norm == pytest.approx(np.log(np.linalg.norm(W, 2)), rel=1e-10)
        assert row.log_frobenius_norm == pytest.approx(np.log(np.linalg.norm(W)), rel=1e-10)
        assert row.n_eigenvalues == min(W.shape)


def test_small_layers_are_reported_not_dropped():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 3))
    table = ecnn.spectral_diagnostics(net)
    assert len(table) == 2
    assert table.loc[0, "status"] == "ok" and np.isfinite(table.loc[0, "alpha"])
    assert math.isnan(table.loc[1, "alpha"])
    assert "too few" in table.loc[1, "status"]
    assert np.isfinite(table.loc[1, "stable_rank"])


def test_alpha_recovers_pareto_exponent_of_the_spectrum():
    # Eigenvalues of W^T W set to Pareto samples: numpy's pareto(a) + 1 has survival
    # x^{-a}, i.e. density x^{-(a+1)}, so the exponent to recover is alpha = a + 1.
    rng = np.random.default_rng(0)
    n, a = 400, 1.5
    eig = rng.pareto(a, n) + 1.0
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    W = U @ np.diag(np.sqrt(eig)) @ V.T
    layer = nn.Linear(n, n, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
    row = ecnn.spectral_diagnostics(nn.Sequential(layer)).iloc[0]
    assert row.status == "ok"
    standard_error = (row.alpha - 1) / math.sqrt(row.n_tail)  # Clauset et al. (2009), eq. 3.2
    assert abs(row.alpha - (a + 1)) < 4 * standard_error
    assert row.alpha_weighted == pytest.approx(row.alpha * np.log10(eig.max()), rel=1e-8)


def test_power_law_fit_is_the_ks_minimising_mle():
    rng = np.random.default_rng(1)
    # Log-normal body with a Pareto tail: x_min has to be found.
    x = np.concatenate([rng.lognormal(0.0, 0.5, 300), 3.0 * (rng.pareto(2.0, 100) + 1.0)])
    alpha, xmin, n_tail, distance = fit_power_law(x, min_tail=10)
    # Brute force: every candidate x_min, closed-form MLE, KS distance from scipy.
    best = None
    for candidate in np.unique(np.sort(x)[: len(x) - 10 + 1]):
        tail = x[x >= candidate]
        a_hat = 1 + tail.size / np.sum(np.log(tail / candidate))
        d = stats.kstest(tail, lambda t, c=candidate, a=a_hat: 1 - (t / c) ** (1 - a)).statistic
        if best is None or d < best[0]:
            best = (d, a_hat, candidate, tail.size)
    assert distance == pytest.approx(best[0], rel=1e-9)
    assert alpha == pytest.approx(best[1], rel=1e-9)
    assert xmin == best[2] and n_tail == best[3]


def test_unsupported_layer_raises():
    model = nn.Sequential(nn.LSTM(3, 4), nn.Linear(4, 2))
    with pytest.raises(TypeError, match="LSTM at '0'"):
        ecnn.spectral_diagnostics(model)


def test_embedding_is_read_as_its_transposed_table():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    table = ecnn.spectral_diagnostics(model)
    assert list(table["kind"]) == ["embedding", "linear"]
    # Oracle: the stable rank of the table from numpy's singular values.
    s = np.linalg.svd(model[0].weight.detach().numpy().astype(np.float64), compute_uv=False)
    assert table["stable_rank"].iloc[0] == pytest.approx(np.sum(s**2) / s[0] ** 2, rel=1e-6)


def test_fit_power_law_needs_enough_points():
    with pytest.raises(ValueError, match="at least 10"):
        fit_power_law(np.arange(1.0, 6.0))
