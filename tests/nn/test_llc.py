"""Local learning coefficient of effcomplexity.measures._nn.llc.

Oracles:

* regular models: :math:`\\lambda = d/2` (Watanabe 2009), and for a quadratic
  loss the exact mean of the localised tempered posterior,
  :math:`\\frac12 \\operatorname{tr}(n\\beta H (n\\beta H + \\gamma I)^{-1})`;
* the singular model :math:`f(x) = abx` at the truth 0: :math:`\\lambda = 1/2`
  (Watanabe 2009), and the exact mean of the localised tempered posterior by
  one-dimensional quadrature (written out in :func:`_ab_posterior_mean`);
* reduced-rank regression (a two-layer linear network): the closed form of
  Aoyagi and Watanabe (2005), written out in :func:`_aoyagi_rrr`.

The closed-form tests with explicit settings use the Euler (plain SGLD) step,
chosen for the model at hand: ``step_size`` times the largest posterior
precision stays small (the step-size bias is a factor of about
:math:`1/(1 - \\epsilon a / 4)`) and the chains run several relaxation times
:math:`1/(\\epsilon\\gamma)` of the flattest direction. The default settings
(Leimkuhler-Matthews step) are tested on the same models separately, and the
Euler step against devinterp 2.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from scipy.integrate import quad
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from effcomplexity import nn as ecnn
from effcomplexity.measures._nn import llc as llc_module

torch.set_num_threads(1)


def _gaussian_loss(sigma: float):
    """Mean negative log-likelihood (up to a constant) of y = f(x) + N(0, sigma^2 I)."""

    def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((output - target) ** 2).reshape(output.shape[0], -1).sum(1).mean() / (2 * sigma**2)

    return loss


# --------------------------------------------------------------------------- regular


def _regression(seed: int, n: int = 1000, d: int = 6, sigma: float = 0.5):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w0 = torch.randn(d, 1, generator=g, dtype=torch.float64)
    y = X @ w0 + sigma * torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(X, y).solution.T)
    return model, X, y


# The closed-form tests run longer chains than the defaults (sized for cost per
# checkpoint), so that the standard error is small enough to test against.
REGULAR = {
    "integrator": "euler",
    "step_size": 1e-4,
    "localization": 1.0,
    "n_samples": 2000,
    "n_burnin": 500,
    "n_chains": 4,
}


@pytest.mark.parametrize(("seed", "batch_size"), [(0, None), (1, None), (2, None), (0, 100)])
def test_regular_linear_regression_gives_d_over_2(seed, batch_size):
    """lambda = d/2 = 3 for least squares with d = 6 parameters at the OLS fit.

    Settings: n beta H has eigenvalues near n / (log n * sigma^2) = 580, so
    gamma = 1 moves the exact posterior mean by 0.2% (checked below against
    the closed form), and step_size * 580 = 0.06 keeps the step-size bias near
    1.5%, well inside the standard error over 4 chains. Minibatch SGLD
    (batch 100) adds gradient noise, a further bias of a few percent.
    """
    model, X, y = _regression(seed)
    sigma, d = 0.5, X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ecnn.local_learning_coefficient(
            model,
            X,
            y,
            loss_fn=_gaussian_loss(sigma),
            batch_size=batch_size,
            random_state=seed,
            **REGULAR,
        )
    n_beta, gamma = result.settings["n_beta"], result.settings["localization"]
    h = torch.linalg.eigvalsh(X.T @ X / X.shape[0] / sigma**2).numpy()
    localised = 0.5 * np.sum(n_beta * h / (n_beta * h + gamma))
    assert abs(localised - d / 2) < 0.01
    assert not result.diverged and result.message == ""
    assert 0.9 < result.r_hat < 1.1
    assert abs(result.estimate - d / 2) <= 3 * result.std_error
    assert result.std_error < 0.1 * d / 2


# --------------------------------------------------------------------------- singular


class _ProductModel(nn.Module):
    """f(x) = a * b * x with both parameters at the truth 0."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.b = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * self.b * x


def _ab_posterior_mean(kappa: float) -> float:
    """Exact E[n beta (L_n(w) - L_n(0))] under the localised tempered posterior.

    With sum(x y) = 0, n beta (L_n(a, b) - L_n(0)) = c a^2 b^2 / 2, c = n beta
    mean(x^2) / sigma^2, and the posterior is proportional to exp(-c a^2 b^2 / 2 -
    gamma (a^2 + b^2) / 2). Given a, b is Gaussian with precision c a^2 + gamma,
    so integrating b out leaves, in s = a sqrt(gamma) and kappa = c / gamma^2,
    the density exp(-s^2/2) (kappa s^2 + 1)^(-1/2) and the conditional mean
    kappa s^2 / (2 (kappa s^2 + 1)).
    """

    def density(s):
        return math.exp(-s * s / 2) / math.sqrt(kappa * s * s + 1)

    def weighted(s):
        return density(s) * 0.5 * kappa * s * s / (kappa * s * s + 1)

    knee = 1 / math.sqrt(kappa)
    Z = quad(density, 0, knee)[0] + quad(density, knee, 40, limit=200)[0]
    N = quad(weighted, 0, knee)[0] + quad(weighted, knee, 40, limit=200)[0]
    return N / Z


def test_posterior_mean_oracle_tends_to_one_half():
    """The quadrature oracle approaches lambda = 1/2 as n beta grows, like 1/log n."""
    values = [_ab_posterior_mean(k) for k in (1e2, 1e4, 1e8, 1e16)]
    assert all(a < b < 0.5 for a, b in zip(values[:-1], values[1:], strict=True))
    assert values[-1] > 0.46


def _product_data(seed: int, n: int = 1000):
    """Inputs and pure-noise targets (truth a b = 0), noise made orthogonal to x
    so that 0 is also the minimiser of the empirical loss."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g, dtype=torch.float64)
    e = torch.randn(n, 1, generator=g, dtype=torch.float64)
    y = e - x * (x * e).sum() / (x * x).sum()
    return x, y


SINGULAR = {
    "integrator": "euler",
    "step_size": 1e-3,
    "localization": 1.0,
    "n_samples": 6000,
    "n_burnin": 1000,
    "n_chains": 4,
}


@pytest.mark.parametrize("seed", [0, 1])
def test_product_model_is_singular(seed):
    """f(x) = a b x at 0: lambda = 1/2, far from d/2 = 1.

    At n = 1000 (n beta = 145, gamma = 1, kappa = n beta mean(x^2) / gamma^2)
    the exact localised posterior mean is about 0.35: it approaches 1/2 only
    logarithmically in n (previous test). The estimate must match that exact
    value within 3 standard errors plus 10% (the step-size bias: the
    precision of b reaches n beta a^2 ~ 10^3 in the tails of a, where
    step_size * precision / 4 is not small), and lie far below d/2 = 1.
    """
    x, y = _product_data(seed)
    result = ecnn.local_learning_coefficient(
        _ProductModel(), x, y, loss_fn=_gaussian_loss(1.0), random_state=seed, **SINGULAR
    )
    kappa = result.settings["n_beta"] * float((x * x).mean()) / SINGULAR["localization"] ** 2
    exact = _ab_posterior_mean(kappa)
    assert 0.3 < exact < 0.5
    assert not result.diverged
    assert abs(result.estimate - exact) <= 3 * result.std_error + 0.1 * exact
    assert abs(result.estimate - 0.5) < 0.2
    assert result.estimate + 3 * result.std_error < 0.75


# --------------------------------------------------------------------------- deep linear


def _aoyagi_rrr(M: int, N: int, H: int, r: int) -> float:
    """Learning coefficient of reduced-rank regression y = B A x (Aoyagi and Watanabe 2005).

    M inputs, N outputs, H hidden units, true rank r.
    """
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2
    if M + N < H + r:
        return M * N / 2
    value = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    return (value + (M + H + N + r) % 2) / 8


def test_aoyagi_formula_cases():
    """Sanity of the transcription: full rank r = H = M = N is regular in the
    M N entries of the product (M N / 2); more hidden units than M + N - r
    saturate at M N / 2."""
    assert _aoyagi_rrr(3, 3, 3, 3) == 4.5
    assert _aoyagi_rrr(2, 2, 5, 0) == 2.0
    assert _aoyagi_rrr(3, 3, 3, 1) == 4.0
    assert _aoyagi_rrr(1, 5, 1, 1) == 2.5  # M + H < N + r: (H M - H r + N r) / 2


def test_deep_linear_network_matches_aoyagi():
    """Two-layer linear network 3 -> 3 -> 3 at a rank-1 truth: lambda = 4, d/2 = 9.

    The truth uses one hidden unit; the other two have zero weights in and out
    (the most singular point of the true set). n = 1000, sigma = 0.5
    (n beta / sigma^2 = 580), gamma = 1. The estimate must lie between 0.8
    lambda and lambda + 3 standard errors: finite n and the localization bias
    the exact posterior mean down (by a third of the singular part for the
    product model at this n beta), the small step-size bias is upward.
    """
    M = H = N = 3
    r, n, sigma = 1, 1000, 0.5
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, M, generator=g, dtype=torch.float64)
    A = torch.zeros(H, M, dtype=torch.float64)
    B = torch.zeros(N, H, dtype=torch.float64)
    A[:r] = torch.randn(r, M, generator=g, dtype=torch.float64) / math.sqrt(M)
    B[:, :r] = torch.randn(N, r, generator=g, dtype=torch.float64) / math.sqrt(N)
    Y = X @ (B @ A).T + sigma * torch.randn(n, N, generator=g, dtype=torch.float64)
    model = nn.Sequential(nn.Linear(M, H, bias=False), nn.Linear(H, N, bias=False)).double()
    with torch.no_grad():
        model[0].weight.copy_(A)
        model[1].weight.copy_(B)
    result = ecnn.local_learning_coefficient(
        model,
        X,
        Y,
        loss_fn=_gaussian_loss(sigma),
        integrator="euler",
        step_size=2e-4,
        localization=1.0,
        n_samples=4000,
        n_burnin=1000,
        n_chains=4,
        random_state=0,
    )
    expected = _aoyagi_rrr(M, N, H, r)
    assert not result.diverged
    assert 0.8 * expected <= result.estimate <= expected + 3 * result.std_error
    assert result.estimate < 0.5 * (M * H + H * N) / 2


# --------------------------------------------------------------------------- contract


def _small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 2)
    ).double()


def _net_data(seed: int = 1, n: int = 64):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, 3, generator=g, dtype=torch.float64),
        torch.randn(n, 2, generator=g, dtype=torch.float64),
    )


QUICK = {"n_samples": 40, "n_burnin": 10, "n_chains": 3, "step_size": 1e-4}

# The contract tests run on untrained networks, which the sampler rightly flags.
untrained = pytest.mark.filterwarnings("ignore:local_learning_coefficient:RuntimeWarning")


@untrained
def test_same_seed_same_number_and_seed_types():
    model, (X, y) = _small_net(), _net_data()
    first = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=5, **QUICK
    )
    again = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=5, **QUICK
    )
    assert first.estimate == again.estimate
    np.testing.assert_array_equal(first.loss_trace, again.loss_trace)
    generators = [
        ecnn.local_learning_coefficient(
            model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=rng, **QUICK
        ).estimate
        for rng in (np.random.default_rng(5), np.random.default_rng(5))
    ]
    assert generators[0] == generators[1]
    other = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=6, **QUICK
    )
    assert other.estimate != first.estimate
    ecnn.local_learning_coefficient(model, X, y, loss_fn=nn.MSELoss(), random_state=None, **QUICK)
    twins = [
        ecnn.local_learning_coefficient(
            model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=rs, **QUICK
        ).estimate
        for rs in (np.random.RandomState(5), np.random.RandomState(5))
    ]
    assert twins[0] == twins[1]
    with pytest.raises(TypeError, match="random_state"):
        ecnn.local_learning_coefficient(
            model, X, y, loss_fn=nn.MSELoss(), random_state=1.5, **QUICK
        )


@untrained
def test_model_is_never_modified():
    model, (X, y) = _small_net(), _net_data()
    model.train()
    model[1].eval()  # a mixed set of flags must come back as it was
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    model[4].bias.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [m.training for m in model.modules()]
    ecnn.local_learning_coefficient(model, X, y, loss_fn=nn.MSELoss(), random_state=0, **QUICK)
    after = model.state_dict()
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)
    assert [m.training for m in model.modules()] == flags
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == [True] * 5 + [False]


@untrained
def test_frozen_parameters_are_not_sampled():
    model, (X, y) = _small_net(), _net_data()
    for p in model[0].parameters():
        p.requires_grad_(False)
    result = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), random_state=0, **QUICK
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert result.settings["n_params"] == trainable


@untrained
def test_result_fields_and_series():
    model, (X, y) = _small_net(), _net_data()
    result = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), random_state=0, **QUICK
    )
    n = X.shape[0]
    assert result.loss_trace.shape == (QUICK["n_chains"], QUICK["n_samples"])
    assert result.chain_estimates.shape == (QUICK["n_chains"],)
    n_beta = n / math.log(n)
    # Oracle: the definition, from the returned traces.
    np.testing.assert_allclose(
        result.chain_estimates, n_beta * (result.loss_trace.mean(axis=1) - result.init_loss)
    )
    assert result.estimate == pytest.approx(result.chain_estimates.mean())
    # Oracle: sd of the draws over the square root of the plain ESS of the split chains.
    draws = n_beta * result.loss_trace
    half = draws.shape[1] // 2
    split = np.concatenate([draws[:, :half], draws[:, -half:]])
    assert result.std_error == pytest.approx(
        draws.std(ddof=1) / math.sqrt(_plain_ess(split)), rel=1e-9
    )
    assert result.ess_bulk == pytest.approx(_plain_ess(_plain_z(split)), rel=1e-9)
    with torch.no_grad():
        model.eval()
        direct = float(nn.MSELoss()(model(X), y))
    assert result.init_loss == pytest.approx(direct, rel=1e-12)
    assert result.settings["temperature"] == pytest.approx(math.log(n))
    assert result.settings["n_beta"] == pytest.approx(n_beta)
    assert float(result) == result.estimate
    row = result.to_series()
    assert isinstance(row, pd.Series)
    assert row["llc"] == result.estimate and row["llc_se"] == result.std_error
    assert row["ess_bulk"] == result.ess_bulk and row["ess_tail"] == result.ess_tail
    assert row["step_size"] == QUICK["step_size"] and row["n"] == n
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.estimate = 0.0


@untrained
def test_explicit_temperature_and_single_chain():
    model, (X, y) = _small_net(), _net_data()
    n = X.shape[0]
    default = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), random_state=0, **QUICK
    )
    explicit = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), temperature=math.log(n), random_state=0, **QUICK
    )
    assert explicit.estimate == default.estimate
    hot = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), temperature=1.0, random_state=0, **QUICK
    )
    assert hot.settings["n_beta"] == n
    one = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), random_state=0, **{**QUICK, "n_chains": 1}
    )
    # One chain still has a standard error: its two halves and its autocorrelation.
    assert math.isfinite(one.std_error) and math.isfinite(one.estimate)
    direct = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), n_beta=n / math.log(n), random_state=0, **QUICK
    )
    assert direct.estimate == default.estimate
    agreeing = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), n_beta=n, temperature=1.0, random_state=0, **QUICK
    )
    assert agreeing.estimate == hot.estimate and agreeing.settings["temperature"] == 1.0
    with pytest.raises(ValueError, match="disagree"):
        ecnn.local_learning_coefficient(
            model, X, y, loss_fn=nn.MSELoss(), n_beta=10.0, temperature=1.0, **QUICK
        )


@untrained
def test_dataloader_matches_arrays():
    """A DataLoader holding the data as one batch drives the same full-batch chains."""
    model, (X, y) = _small_net(), _net_data()
    arrays = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), random_state=3, **QUICK
    )
    loader = DataLoader(TensorDataset(X, y), batch_size=X.shape[0])
    batches = ecnn.local_learning_coefficient(
        model, loader, loss_fn=nn.MSELoss(), random_state=3, **QUICK
    )
    np.testing.assert_allclose(batches.loss_trace, arrays.loss_trace, rtol=1e-12)
    minibatches = DataLoader(TensorDataset(X, y), batch_size=16)
    result = ecnn.local_learning_coefficient(
        model, minibatches, loss_fn=nn.MSELoss(), random_state=3, **QUICK
    )
    assert result.settings["n"] == X.shape[0]
    assert result.init_loss == pytest.approx(arrays.init_loss, rel=1e-12)


@untrained
def test_init_loss_is_the_full_data_loss_whatever_the_batch_size():
    """Oracle: the mean loss over all rows in one call; L_n(w*) is computed in chunks."""
    model = _small_net().eval()  # the sampler evaluates in eval mode
    X, y = _net_data(n=5000)
    with torch.no_grad():
        expected = float(nn.MSELoss()(model(X), y))
    for batch_size in (None, 16, 4097):
        result = ecnn.local_learning_coefficient(
            model, X, y, loss_fn=nn.MSELoss(), batch_size=batch_size, random_state=0, **QUICK
        )
        assert result.init_loss == pytest.approx(expected, rel=1e-12), batch_size


@untrained
def test_batch_size_of_all_rows_is_full_batch_and_progress_bar_runs():
    model, (X, y) = _small_net(), _net_data()
    full = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), random_state=4, **QUICK
    )
    whole = ecnn.local_learning_coefficient(
        model,
        X,
        y,
        loss_fn=nn.MSELoss(),
        batch_size=X.shape[0],
        random_state=4,
        progress=True,
        **QUICK,
    )
    np.testing.assert_array_equal(whole.loss_trace, full.loss_trace)


@untrained
def test_vectorised_chains_match_a_loop(monkeypatch):
    """Oracle: the same chains run one by one (the fallback for models vmap cannot trace)."""
    model, (X, y) = _small_net(), _net_data()
    vectorised = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=2, **QUICK
    )
    original = llc_module._ChainLosses.__init__

    def looped(self, *args):
        original(self, *args)
        self.vectorised = False

    monkeypatch.setattr(llc_module._ChainLosses, "__init__", looped)
    loop = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=2, **QUICK
    )
    np.testing.assert_allclose(loop.loss_trace, vectorised.loss_trace, rtol=1e-9)


class _ItemNet(nn.Module):
    """Calls ``.item()`` in forward, which vmap cannot trace."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2).double()

    def forward(self, x):
        scale = 1.0 if x.abs().max().item() >= 0 else 0.0
        return scale * self.linear(x)


@untrained
def test_model_vmap_cannot_trace_falls_back_to_a_loop(monkeypatch):
    """With per-chain minibatches ``.item()`` meets a batched tensor, which vmap
    cannot trace: the chains run one by one instead, with the numbers of the
    vectorised chains of the same map written without ``.item()``."""
    (X, y), model = _net_data(), _ItemNet()
    original = llc_module._ChainLosses.__init__
    calls = []

    def recording_init(self, *args):
        original(self, *args)
        calls.append(self)

    monkeypatch.setattr(llc_module._ChainLosses, "__init__", recording_init)
    result = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=0, **QUICK
    )
    assert calls and not calls[0].vectorised  # vmap was tried and given up
    # Oracle: the same linear map without .item(), which vmap runs vectorised.
    plain = nn.Linear(3, 2).double()
    plain.load_state_dict(model.linear.state_dict())
    vectorised = ecnn.local_learning_coefficient(
        plain, X, y, loss_fn=nn.MSELoss(), batch_size=16, random_state=0, **QUICK
    )
    assert calls[1].vectorised
    np.testing.assert_allclose(result.loss_trace, vectorised.loss_trace, rtol=1e-10)


# --------------------------------------------------------------------------- diagnostics


def test_divergence_is_flagged():
    model, X, y = _regression(0)
    with pytest.warns(RuntimeWarning, match="step_size"):
        result = ecnn.local_learning_coefficient(
            model, X, y, loss_fn=_gaussian_loss(0.5), step_size=0.1, n_samples=50, random_state=0
        )
    assert result.diverged and "step_size" in result.message


def test_point_that_is_not_a_minimum_is_flagged():
    model, X, y = _regression(0)
    with torch.no_grad():
        model.weight.add_(0.5)
    with pytest.warns(RuntimeWarning, match="not a local minimum"):
        result = ecnn.local_learning_coefficient(
            model, X, y, loss_fn=_gaussian_loss(0.5), localization=1.0, random_state=0
        )
    assert result.diverged and result.estimate < 0


def _plain_z(trace: np.ndarray) -> np.ndarray:
    """Rank normalisation as published (Vehtari et al. 2021, eq. 14), pooled average ranks."""
    flat = trace.ravel()
    ranks = np.array([(flat < v).sum() + ((flat == v).sum() + 1) / 2 for v in flat])
    return stats.norm.ppf((ranks - 3 / 8) / (flat.size + 1 / 4)).reshape(trace.shape)


def _plain_ess(chains: np.ndarray) -> float:
    """ESS as published (Vehtari et al. 2021, eqs. 10-11, Geyer's initial monotone
    sequence, Stan's last positive term and cap), autocovariances summed directly."""
    m, n = chains.shape
    means = chains.mean(axis=1)
    acov = np.array(
        [
            [np.sum((c[: n - t] - c.mean()) * (c[t:] - c.mean())) / n for t in range(n)]
            for c in chains
        ]
    )
    W = np.mean(acov[:, 0] * n / (n - 1))
    var_plus = W * (n - 1) / n + (np.var(means, ddof=1) if m > 1 else 0.0)
    # rho_0 = 1; later lags from the biased autocovariances, as Stan and arviz compute them.
    rho = [1.0] + [1 - (W - acov[:, t].mean()) / var_plus for t in range(1, n)]
    # Sums of pairs P_k = rho_2k + rho_2k+1 while positive (and lags remain).
    pairs, k, last, even = [rho[0] + rho[1]], 1, rho[0] + rho[1], rho[0]
    while 2 * k - 1 < n - 3 and last > 0:
        even, last = rho[2 * k], rho[2 * k] + rho[2 * k + 1]
        if last >= 0:
            pairs.append(last)
        k += 1
    if last >= 0:  # stopped for want of lags: the last pair adds its even lag alone
        even = rho[2 * (len(pairs) - 1)]
        pairs.pop()
    for j in range(1, len(pairs)):  # initial monotone sequence
        pairs[j] = min(pairs[j], pairs[j - 1])
    tau = -1 + 2 * sum(pairs) + max(even, 0.0)
    return m * n / max(tau, 1 / math.log10(m * n))


def _plain_split(trace):
    half = trace.shape[1] // 2
    return np.concatenate([trace[:, :half], trace[:, trace.shape[1] - half :]])


def _plain_r_hat(chains):
    n = chains.shape[1]
    W = np.mean([c.var(ddof=1) for c in chains])
    B = n * np.var([c.mean() for c in chains], ddof=1)
    return math.sqrt(((n - 1) / n * W + B / n) / W)


def _ar1(phi: float, m: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty((m, n))
    x[:, 0] = rng.standard_normal(m) / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + rng.standard_normal(m)
    return x


@pytest.mark.parametrize(("phi", "m", "n"), [(0.0, 4, 101), (0.5, 4, 200), (0.9, 2, 151)])
def test_rank_normalised_diagnostics_against_the_published_formulas(phi, m, n):
    """Oracle: Vehtari et al. (2021) written out plainly (direct sums, loops) in this file."""
    trace = _ar1(phi, m, n, seed=int(10 * phi) + m)
    split = _plain_split(trace)
    assert llc_module._ess_bulk(trace) == pytest.approx(_plain_ess(_plain_z(split)), rel=1e-9)
    folded = np.abs(split - np.median(split))  # folded about the median of the split draws
    r_hat = max(_plain_r_hat(_plain_z(split)), _plain_r_hat(_plain_z(folded)))
    assert llc_module._rank_r_hat(trace) == pytest.approx(r_hat, rel=1e-12)
    tails = [
        _plain_ess(_plain_split((trace <= np.quantile(trace, q)).astype(float)))
        for q in (0.05, 0.95)
    ]
    assert llc_module._ess_tail(trace) == pytest.approx(min(tails), rel=1e-9)


def test_diagnostics_match_arviz():
    """Oracle: arviz's rank-normalised R-hat, bulk and tail ESS and MCSE of the mean on
    stored traces (tests/data/arviz/make_reference.py)."""
    reference = json.loads(
        (Path(__file__).resolve().parents[1] / "data" / "arviz" / "diagnostics.json").read_text()
    )
    for case in reference["cases"]:
        trace = np.array(case["trace"])
        assert llc_module._rank_r_hat(trace) == pytest.approx(case["r_hat"], rel=1e-10)
        assert llc_module._ess_bulk(trace) == pytest.approx(case["ess_bulk"], rel=1e-10)
        assert llc_module._ess_tail(trace) == pytest.approx(case["ess_tail"], rel=1e-10)
        assert llc_module._mcse_mean(trace) == pytest.approx(case["mcse_mean"], rel=1e-10)


def test_ess_of_an_autoregressive_chain_matches_its_closed_form():
    """Oracle: an AR(1) chain with coefficient phi has ESS = S (1 - phi) / (1 + phi)."""
    for phi in (0.0, 0.5, 0.8):
        trace = _ar1(phi, 4, 5000, seed=7)
        expected = trace.size * (1 - phi) / (1 + phi)
        assert llc_module._ess_bulk(trace) == pytest.approx(expected, rel=0.1), phi
    stuck = np.stack([np.zeros(50) + c for c in range(4)]) + 1e-3 * _ar1(0.0, 4, 50, seed=1)
    assert llc_module._rank_r_hat(stuck) > 2  # chains at different levels: not mixed


def test_unmixed_chains_raise_a_runtime_warning():
    """The singular model with 2 short chains: R-hat and ESS say they have not mixed."""
    x, y = _product_data(0)
    with pytest.warns(RuntimeWarning, match="not mixed"):
        result = ecnn.local_learning_coefficient(
            _ProductModel(),
            x,
            y,
            loss_fn=_gaussian_loss(1.0),
            n_chains=2,
            n_burnin=20,
            n_samples=40,
            random_state=0,
        )
    assert not result.diverged and "not mixed" in result.message
    assert result.ess_bulk < llc_module.MIN_ESS or result.r_hat > llc_module.R_HAT_THRESHOLD


# --------------------------------------------------------------------------- defaults


def test_defaults_give_d_over_2_for_a_regular_model():
    """Default settings on least squares with d = 6 at n = 1000: lambda = d/2 = 3
    (Watanabe 2009) within two standard errors, no warning, at least 4 chains."""
    model, X, y = _regression(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ecnn.local_learning_coefficient(
            model, X, y, loss_fn=_gaussian_loss(0.5), random_state=0
        )
    assert result.settings["n_chains"] >= 4
    assert result.loss_trace.shape[1] == result.settings["n_samples"]  # burn-in excluded
    assert abs(result.estimate - 3.0) <= 2 * result.std_error
    assert result.std_error < 0.05 and result.r_hat < 1.01 and result.ess_bulk > 1000


def test_defaults_give_the_finite_n_value_of_the_singular_model():
    """Default settings on f(x) = a b x at 0: the exact localised posterior mean
    (about 0.35 at n = 1000; quadrature oracle above) within two standard errors."""
    x, y = _product_data(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ecnn.local_learning_coefficient(
            _ProductModel(), x, y, loss_fn=_gaussian_loss(1.0), random_state=1
        )
    kappa = result.settings["n_beta"] * float((x * x).mean()) / result.settings["localization"] ** 2
    exact = _ab_posterior_mean(kappa)
    assert 0.33 < exact < 0.37
    assert abs(result.estimate - exact) <= 2 * result.std_error
    assert result.std_error < 0.05 and result.r_hat < llc_module.R_HAT_THRESHOLD


def test_default_step_size_follows_the_batch():
    """Minibatches scale the default step size by b / n: the gradient noise would
    otherwise inflate the estimate by about eps a n / (4 b log n), +45% here.
    Oracle: lambda = d/2 = 3; the remaining bias, about eps a / (4 log n) = 5%,
    is allowed for."""
    model, X, y = _regression(0)
    result = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=_gaussian_loss(0.5), batch_size=100, random_state=0
    )
    assert result.settings["step_size"] == pytest.approx(llc_module.DEFAULT_STEP_SIZE / 10)
    assert abs(result.estimate - 3.0) <= 0.08 * 3.0 + 2 * result.std_error
    loader = DataLoader(TensorDataset(X, y), batch_size=250)
    short = {"n_chains": 2, "n_burnin": 0, "n_samples": 4}
    with pytest.warns(RuntimeWarning, match="not mixed"):  # chains this short never mix
        from_loader = ecnn.local_learning_coefficient(
            model, loader, loss_fn=_gaussian_loss(0.5), **short
        )
        full = ecnn.local_learning_coefficient(model, X, y, loss_fn=_gaussian_loss(0.5), **short)
    assert from_loader.settings["step_size"] == pytest.approx(llc_module.DEFAULT_STEP_SIZE / 4)
    assert full.settings["step_size"] == llc_module.DEFAULT_STEP_SIZE


# --------------------------------------------------------------------------- devinterp

DEVINTERP = Path(__file__).resolve().parents[1] / "data" / "devinterp"


@pytest.mark.parametrize("case", ["regular", "singular"])
def test_agrees_with_devinterp(case):
    """Oracle: devinterp 2.0.1 at the same settings (tests/data/devinterp/make_reference.py).

    Both run Euler SGLD from w* with the same step size, localization, n beta,
    chains and draws, full batch, no burn-in, on the same data; their noise
    streams differ, so the two estimates must agree within 3 standard errors
    of their difference (devinterp's over its chains, ours the Monte Carlo
    standard error), and the initial losses to devinterp's float32 precision.
    """
    reference = json.loads((DEVINTERP / f"llc_{case}.json").read_text())
    settings = reference["settings"]
    if case == "regular":
        model, X, y = _regression(reference["data_seed"])
    else:
        (X, y), model = _product_data(reference["data_seed"]), _ProductModel()
    result = ecnn.local_learning_coefficient(
        model,
        X,
        y,
        loss_fn=_gaussian_loss(reference["sigma"]),
        step_size=settings["step_size"],
        localization=settings["localization"],
        n_beta=settings["n_beta"],
        n_chains=settings["n_chains"],
        n_samples=settings["n_samples"],
        n_burnin=settings["n_burnin"],
        integrator="euler",
        random_state=0,
    )
    assert result.init_loss == pytest.approx(reference["init_loss"], rel=1e-6)
    theirs_se = reference["llc_std"] / math.sqrt(len(reference["llc_per_chain"]))
    gap = abs(result.estimate - reference["llc_mean"])
    assert gap <= 3 * math.hypot(result.std_error, theirs_se)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 1}, "n_samples"),
        ({"n_chains": 0}, "n_chains"),
        ({"n_burnin": -1}, "n_burnin"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": float("nan")}, "step_size"),
        ({"localization": -1.0}, "localization"),
        ({"temperature": 0.0}, "temperature"),
        ({"n_beta": -1.0}, "n_beta"),
        ({"integrator": "rk4"}, "integrator"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    model, (X, y) = _small_net(), _net_data()
    with pytest.raises(ValueError, match=match):
        ecnn.local_learning_coefficient(model, X, y, loss_fn=nn.MSELoss(), **kwargs)


def test_bad_loss_and_data_raise():
    model, (X, y) = _small_net(), _net_data()
    with pytest.raises(ValueError, match="reduction"):
        ecnn.local_learning_coefficient(model, X, y, loss_fn=nn.MSELoss(reduction="sum"))
    with pytest.raises(ValueError, match="scalar"):
        ecnn.local_learning_coefficient(
            model, X, y, loss_fn=lambda out, target: (out - target) ** 2
        )
    with pytest.raises(ValueError, match="one target per input"):
        ecnn.local_learning_coefficient(model, X, y[:-1], loss_fn=nn.MSELoss())
    with pytest.raises(TypeError, match="y is missing"):
        ecnn.local_learning_coefficient(model, X, loss_fn=nn.MSELoss())
    with pytest.raises(ValueError, match="batch_size"):
        loader = DataLoader(TensorDataset(X, y), batch_size=8)
        ecnn.local_learning_coefficient(model, loader, loss_fn=nn.MSELoss(), batch_size=8)
    frozen = _small_net()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        ecnn.local_learning_coefficient(frozen, X, y, loss_fn=nn.MSELoss())


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_data_is_refused(where, value):
    model, (X, y) = _small_net(), _net_data()
    X, y = X.clone(), y.clone()
    (X if where == "X" else y)[3, 1] = value
    with pytest.raises(ValueError, match=f"{where} contains NaN or infinity"):
        ecnn.local_learning_coefficient(model, X, y, loss_fn=nn.MSELoss(), **QUICK)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    with pytest.raises(ValueError, match=f"{where} contains NaN or infinity"):
        ecnn.local_learning_coefficient(model, loader, loss_fn=nn.MSELoss(), **QUICK)


def test_non_finite_loss_at_w_star_is_refused():
    model, (X, y) = _small_net(), _net_data()
    with torch.no_grad():
        model[4].bias.fill_(float("inf"))
    with pytest.raises(ValueError, match="non-finite"):
        ecnn.local_learning_coefficient(model, X, y, loss_fn=nn.MSELoss(), **QUICK)


def test_one_dimensional_y_against_one_output_column_is_refused():
    """MSELoss would broadcast (n, 1) against (n,) to (n, n): refused, with the fix."""
    model, X, y = _regression(0)
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        ecnn.local_learning_coefficient(model, X, y[:, 0], loss_fn=nn.MSELoss(), **QUICK)
    loader = DataLoader(TensorDataset(X, y[:, 0]), batch_size=100)
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        ecnn.local_learning_coefficient(model, loader, loss_fn=nn.MSELoss(), **QUICK)


@untrained
def test_class_labels_against_class_scores_are_accepted():
    """The 1-D y check applies only to one output column: CrossEntropyLoss takes (n, C)
    scores and 1-D integer labels, and the loss at w* is that of the whole data."""
    model, (X, _) = _small_net(), _net_data()
    labels = (X[:, 0] > 0).long()
    result = ecnn.local_learning_coefficient(
        model, X, labels, loss_fn=nn.CrossEntropyLoss(), random_state=0, **QUICK
    )
    with torch.no_grad():
        model.eval()
        expected = float(nn.CrossEntropyLoss()(model(X), labels))
    assert result.init_loss == pytest.approx(expected, rel=1e-12)
