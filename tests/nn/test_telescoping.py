"""The telescoping smoother of effcomplexity.measures._nn.telescoping.

Oracles: the closed form of full-batch gradient descent on least squares
(derived in ``test_linear_gd_matches_closed_form``); the network itself for
models linear in their trainable parameters, where the first-order expansion
of every step is exact, so the linearised predictions must equal the
network's outputs for every optimiser; the exact tracker's smoother matrix,
against which the probe tracker's estimates are checked both as an identity
(same probes, plain numpy) and statistically (within three standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity import nn as ecnn
from effcomplexity.measures._nn.telescoping import TelescopingTracker

torch.set_num_threads(1)


def _inputs(seed: int, n: int, m: int, d: int):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    X_eval = torch.randn(m, d, generator=g, dtype=torch.float64)
    return X, X_eval


def _loss(kind: str, out, target):
    if kind == "sse":
        return nn.functional.mse_loss(out, target, reduction="sum")
    scale = 0.5 if kind == "half_mse" else 1.0
    return scale * nn.functional.mse_loss(out, target)


def _train(model, optimizer, trackers, X, y, batches, loss="mse"):
    for idx in batches:
        optimizer.zero_grad()
        _loss(loss, model(X[idx]), y[idx]).backward()
        for tracker in trackers:
            tracker.step(optimizer, idx)
        optimizer.step()


# ----------------------------------------------------------------- closed form


@pytest.mark.parametrize(
    ("loss", "eta_per_lr"), [("mse", lambda n: 2 / n), ("half_mse", lambda n: 1 / n), ("sse", 2)]
)
@pytest.mark.parametrize("kernel_order", [True, False])
def test_linear_gd_matches_closed_form(monkeypatch, loss, eta_per_lr, kernel_order):
    """Least squares f(x) = x~^T theta with x~ = (x, 1), full-batch GD.

    With step size lr on L = a * sum_i (f(x_i) - y_i)^2 the update is
    theta <- theta - 2 a lr X~^T (X~ theta - y), so on the training inputs
    f_{t+1} = f_t - eta K (f_t - y) with eta = 2 a lr and K = X~ X~^T. Hence
    f_t - y = (I - eta K)^t (f_0 - y), i.e.

        S_t = I - (I - eta K)^t,        c_t(X) = (I - eta K)^t f_0(X).

    ("mse": a = 1/n, eta = 2 lr / n; "half_mse": eta = lr / n, which is
    Jeffares, Curth & van der Schaar's (2024) (lr/|B|) k^T D_B (I - S) with B
    all n points; "sse": eta = 2 lr.) At evaluation inputs
    f_{t+1}(x) = f_t(x) - eta k(x)^T (f_t - y) with k(x) = X~ x~, so
    S_{X,t} = eta X~_e X~^T sum_{tau<t} (I - eta K)^tau.
    Pushing X~^T through the powers and writing X~^T X~ = V diag(lam) V^T,

        S_{X,t} = X~_e V diag((1 - (1 - eta lam)^t) / lam) V^T X~^T,
        c_t(X_e) = f_0(X_e) - S_{X,t} f_0(X).

    Both product orders of the exact path (tangent kernel first, or
    parameter-space update first) must give it.
    """
    monkeypatch.setattr(TelescopingTracker, "_kernel_is_cheaper", lambda self, bK, r: kernel_order)
    n, m, d, steps, lr = 9, 5, 3, 12, 0.05
    X, X_eval = _inputs(0, n, m, d)
    y = torch.sin(X.sum(1, keepdim=True))
    torch.manual_seed(1)
    model = nn.Linear(d, 1).double()
    with torch.no_grad():
        f0, f0_eval = model(X).numpy(), model(X_eval).numpy()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    tracker = TelescopingTracker(
        model, X, y, X_eval=X_eval, loss=loss, chunk_size=4 if kernel_order else None
    )
    _train(model, optimizer, [tracker], X, y, [None] * steps, loss=loss)

    eta = lr * (eta_per_lr(n) if callable(eta_per_lr) else eta_per_lr)
    Xt = np.hstack([X.numpy(), np.ones((n, 1))])
    Xe = np.hstack([X_eval.numpy(), np.ones((m, 1))])
    decay = np.linalg.matrix_power(np.eye(n) - eta * Xt @ Xt.T, steps)
    S = np.eye(n) - decay
    lam, V = np.linalg.eigh(Xt.T @ Xt)
    S_eval = Xe @ V @ np.diag((1 - (1 - eta * lam) ** steps) / lam) @ V.T @ Xt.T

    np.testing.assert_allclose(tracker.smoother_matrix("train"), S, atol=1e-12)
    np.testing.assert_allclose(tracker.smoother_matrix("eval"), S_eval, atol=1e-12)
    np.testing.assert_allclose(tracker.offsets("train"), decay @ f0, atol=1e-12)
    np.testing.assert_allclose(tracker.offsets("eval"), f0_eval - S_eval @ f0, atol=1e-12)
    assert tracker.p_train() == pytest.approx(np.sum(S**2), rel=1e-12)
    assert tracker.p_test() == pytest.approx(n / m * np.sum(S_eval**2), rel=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(tracker.predictions("eval"), model(X_eval).numpy())
    assert tracker.n_steps_ == steps


def test_multi_output_linear_model_has_block_diagonal_smoother():
    """K = 2 outputs of one linear layer share no parameters, so the smoother
    has no cross-output weights and each diagonal block is the closed form
    above with eta = 2 lr / (n K) ("mse" averages over n K entries)."""
    n, m, d, K, steps, lr = 8, 4, 2, 2, 10, 0.1
    X, X_eval = _inputs(2, n, m, d)
    y = torch.randn(n, K, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.manual_seed(4)
    model = nn.Linear(d, K).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    tracker = ecnn.TelescopingTracker(model, X, y, X_eval=X_eval)
    _train(model, optimizer, [tracker], X, y, [None] * steps)

    eta = 2 * lr / (n * K)
    Xt = np.hstack([X.numpy(), np.ones((n, 1))])
    S = np.eye(n) - np.linalg.matrix_power(np.eye(n) - eta * Xt @ Xt.T, steps)
    full = tracker.smoother_matrix("train")
    assert full.shape == (n, K, n, K) and tracker.n_outputs_ == K
    for c in range(K):
        np.testing.assert_allclose(full[:, c, :, c], S, atol=1e-12)
        np.testing.assert_allclose(full[:, c, :, 1 - c], 0.0, atol=1e-14)
        assert tracker.p_train(output=c) == pytest.approx(np.sum(S**2), rel=1e-12)
    assert tracker.p_train() == pytest.approx(np.sum(S**2), rel=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(tracker.predictions("eval"), model(X_eval).numpy())


# ----------------------------------------------------------------- every optimiser

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_weight_decay": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "dampening": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1),
    "amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, amsgrad=True),
    "two_groups": lambda p: torch.optim.SGD(
        [{"params": [p[0]], "lr": 0.02, "momentum": 0.9}, {"params": [p[1]]}], lr=0.1
    ),
}


@pytest.mark.parametrize("method", ["exact", "probe"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_linearised_predictions_equal_network_linear_in_parameters(name, method):
    """Random features (a frozen tanh layer) and a trained linear read-out: the
    network is linear in its trainable parameters, so every first-order step
    is exact and the linearised predictions must equal the network's outputs,
    whatever the optimiser. Batches are drawn with replacement (repeats)."""
    n, m, d, K = 12, 5, 3, 2
    X, X_eval = _inputs(5, n, m, d)
    y = torch.randn(n, K, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(d, 6), nn.Tanh(), nn.Linear(6, K)).double()
    model[0].requires_grad_(False)
    optimizer = OPTIMIZERS[name](list(model[2].parameters()))
    tracker = TelescopingTracker(
        model, X, y, X_eval=X_eval, method=method, n_probes=3, random_state=0
    )
    g = torch.Generator().manual_seed(8)
    batches = [torch.randint(0, n, (5,), generator=g) for _ in range(12)]
    _train(model, optimizer, [tracker], X, y, batches)
    with torch.no_grad():
        np.testing.assert_allclose(tracker.predictions("train"), model(X).numpy(), atol=1e-12)
        np.testing.assert_allclose(tracker.predictions("eval"), model(X_eval).numpy(), atol=1e-12)


# ----------------------------------------------------------------- a real network


def test_mlp_linearised_predictions_track_the_network():
    """A tanh MLP trained by mini-batch SGD with a small learning rate: the
    telescoping model's predictions follow the network's. The error is
    measured relative to how far the network moved from initialisation."""
    n, m, d = 24, 10, 3
    X, X_eval = _inputs(9, n, m, d)
    y = torch.sin(2 * X[:, :1]) + X[:, 1:2] ** 2
    torch.manual_seed(10)
    model = nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    with torch.no_grad():
        f0_train, f0_eval = model(X).numpy(), model(X_eval).numpy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    tracker = TelescopingTracker(model, X, y, X_eval=X_eval)
    g = torch.Generator().manual_seed(11)
    batches = [b for _ in range(15) for b in torch.randperm(n, generator=g).split(8)]
    _train(model, optimizer, [tracker], X, y, batches)
    for on, inputs, f0 in [("train", X, f0_train), ("eval", X_eval, f0_eval)]:
        with torch.no_grad():
            net = model(inputs).numpy()
        moved = np.linalg.norm(net - f0)
        assert moved > 0.5  # the network did train
        assert np.linalg.norm(tracker.predictions(on) - net) / moved < 0.02


def test_probe_tracker_agrees_with_exact_tracker():
    """One training run (momentum SGD, 2 outputs) watched by both trackers.

    Identity: with the same probes Z, the probe tracker's p-hat (with or
    without y_train) equals n / (m K) * mean_l ||S_X Z_l||^2 computed in numpy
    from the exact smoother. Statistics: its estimate lies within three standard errors of
    the exact p-hat. Its linearised predictions equal the exact ones.
    """
    n, m, d, K = 16, 8, 3, 2
    X, X_eval = _inputs(12, n, m, d)
    y = torch.randn(n, K, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    torch.manual_seed(14)
    model = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, K)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    exact = TelescopingTracker(model, X, y, X_eval=X_eval)
    probe = TelescopingTracker(
        model, X, y, X_eval=X_eval, method="probe", n_probes=300, random_state=0
    )
    probe_only = TelescopingTracker(
        model, X, X_eval=X_eval, method="probe", n_probes=300, random_state=0
    )
    g = torch.Generator().manual_seed(15)
    batches = [b for _ in range(5) for b in torch.randperm(n, generator=g).split(4)]
    _train(model, optimizer, [exact, probe, probe_only], X, y, batches)

    Z = probe.probes_.reshape(n * K, -1)
    for on, rows in [("train", n), ("eval", m)]:
        S = exact.smoother_matrix(on).reshape(rows * K, n * K)
        per_probe = n / (rows * K) * np.sum((S @ Z) ** 2, axis=0)
        report = probe.p_train if on == "train" else probe.p_test
        exact_value = (exact.p_train if on == "train" else exact.p_test)()
        value, std = report(return_std=True)
        assert value == pytest.approx(per_probe.mean(), rel=1e-10)
        assert std == pytest.approx(per_probe.std(ddof=1) / np.sqrt(Z.shape[1]), rel=1e-8)
        assert exact_value == pytest.approx(n / (rows * K) * np.sum(S**2), rel=1e-12)
        assert 0 < std and abs(value - exact_value) < 3 * std
        np.testing.assert_allclose(probe.predictions(on), exact.predictions(on), atol=1e-10)
        other = probe_only.p_train if on == "train" else probe_only.p_test
        assert other() == pytest.approx(value, rel=1e-12)  # labels need not be tracked
    S0 = exact.smoother_matrix("train")[:, 0].reshape(n, n * K)
    assert exact.p_train(output=0) == pytest.approx(np.sum(S0**2), rel=1e-12)


def _paired_tracking_run(n_probes: int):
    """One tanh MLP (2 outputs, SGD) watched by an exact and a probe tracker."""
    n, m, d, K = 16, 8, 3, 2
    X, X_eval = _inputs(21, n, m, d)
    y = torch.randn(n, K, generator=torch.Generator().manual_seed(22), dtype=torch.float64)
    torch.manual_seed(23)
    model = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, K)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    exact = TelescopingTracker(model, X, y, X_eval=X_eval)
    probe = TelescopingTracker(
        model, X, X_eval=X_eval, method="probe", n_probes=n_probes, random_state=1
    )
    g = torch.Generator().manual_seed(24)
    batches = [b for _ in range(6) for b in torch.randperm(n, generator=g).split(8)]
    _train(model, optimizer, [exact, probe], X, y, batches)
    S = {
        on: exact.smoother_matrix(on).reshape(rows * K, n * K)
        for on, rows in (("train", n), ("eval", m))
    }
    return exact, probe, S, (n, m, K)


def test_p_ratio_standard_error_is_the_paired_delta_method():
    """Oracles: the per-probe values from the exact smoother applied to the
    probes in numpy, and the delta method for a ratio of two correlated means
    written out by hand (gradient of a / b times their sample covariance)."""
    exact, probe, S, (n, m, K) = _paired_tracking_run(n_probes=12)
    Z = probe.probes_.reshape(n * K, -1)
    a = n / (m * K) * np.sum((S["eval"] @ Z) ** 2, axis=0)
    b = n / (n * K) * np.sum((S["train"] @ Z) ** 2, axis=0)
    np.testing.assert_allclose(probe.p_per_probe("eval"), a, rtol=1e-10)
    np.testing.assert_allclose(probe.p_per_probe("train"), b, rtol=1e-10)
    k = Z.shape[1]
    mean_a, mean_b = a.mean(), b.mean()
    gradient = np.array([1 / mean_b, -mean_a / mean_b**2])
    sigma = (
        np.array(
            [
                [np.var(a, ddof=1), np.sum((a - mean_a) * (b - mean_b)) / (k - 1)],
                [np.sum((a - mean_a) * (b - mean_b)) / (k - 1), np.var(b, ddof=1)],
            ]
        )
        / k
    )
    ratio, std = probe.p_ratio(return_std=True)
    assert ratio == pytest.approx(mean_a / mean_b, rel=1e-10)
    assert std == pytest.approx(np.sqrt(gradient @ sigma @ gradient), rel=1e-8)
    assert probe.p_ratio() == pytest.approx(probe.p_test() / probe.p_train(), rel=1e-12)
    # One output: the same rule on that output's per-probe values.
    a0, b0 = probe.p_per_probe("eval", output=0), probe.p_per_probe("train", output=0)
    assert probe.p_ratio(output=1) != pytest.approx(a0.mean() / b0.mean())
    assert probe.p_ratio(output=0) == pytest.approx(a0.mean() / b0.mean(), rel=1e-12)
    # Exact path: the ratio of the exact values, no error.
    value, zero = exact.p_ratio(return_std=True)
    assert value == pytest.approx(np.sum(S["eval"] ** 2) / np.sum(S["train"] ** 2) * n / m)
    assert zero == 0.0
    with pytest.raises(ValueError, match="method='probe'"):
        exact.p_per_probe("train")


def test_paired_ratio_error_matches_its_spread_across_probe_sets():
    """Monte Carlo oracle: the empirical standard deviation of the ratio over
    many independent probe sets of one fixed smoother. The paired standard
    error averages close to it; the one that treats p_train and p_test as
    independent does not, and is further from it."""
    from effcomplexity.measures._probes import paired_ratio_std_error

    _, _, S, (n, m, K) = _paired_tracking_run(n_probes=2)
    rng = np.random.default_rng(0)
    k, n_sets = 10, 4000
    Z = rng.choice([-1.0, 1.0], size=(n_sets, n * K, k))
    a = n / (m * K) * np.sum((S["eval"] @ Z) ** 2, axis=1)
    b = n / (n * K) * np.sum((S["train"] @ Z) ** 2, axis=1)
    ratios = a.mean(axis=1) / b.mean(axis=1)
    paired = np.array([paired_ratio_std_error(a[i], b[i])[1] for i in range(n_sets)])
    se_a, se_b = a.std(axis=1, ddof=1) / np.sqrt(k), b.std(axis=1, ddof=1) / np.sqrt(k)
    unpaired = ratios * np.sqrt((se_a / a.mean(axis=1)) ** 2 + (se_b / b.mean(axis=1)) ** 2)
    spread = ratios.std(ddof=1)
    assert abs(np.sqrt(np.mean(paired**2)) / spread - 1) < 0.15
    assert abs(np.sqrt(np.mean(paired**2)) - spread) < abs(np.sqrt(np.mean(unpaired**2)) - spread)


def test_paired_ratio_rejects_unpaired_inputs():
    from effcomplexity.measures._probes import paired_ratio_std_error

    with pytest.raises(ValueError, match="paired"):
        paired_ratio_std_error([1.0, 2.0], [1.0, 2.0, 3.0])
    ratio, std = paired_ratio_std_error([2.0], [1.0])
    assert ratio == 2.0 and np.isnan(std)


def _float_run(dtype, method: str):
    """A ReLU MLP (3 outputs, momentum SGD, batches of 16) of the given dtype, tracked."""
    n, m, d, K = 64, 32, 8, 3
    X, X_eval = _inputs(31, n, m, d)
    y = torch.sin(X[:, :K])
    torch.manual_seed(32)
    model = nn.Sequential(
        nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, K)
    ).double()
    model, X, X_eval, y = model.to(dtype), X.to(dtype), X_eval.to(dtype), y.to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    tracker = TelescopingTracker(model, X, y, X_eval=X_eval, method=method, random_state=0)
    g = torch.Generator().manual_seed(33)
    _train(
        model, optimizer, [tracker], X, y, [torch.randperm(n, generator=g)[:16] for _ in range(60)]
    )
    with torch.no_grad():
        net = model(X_eval).double().numpy()
    gap = np.sqrt(np.mean((tracker.predictions("eval") - net) ** 2) / np.mean(net**2))
    return gap, tracker.p_train(), tracker.p_test()


@pytest.mark.parametrize("method", ["exact", "probe"])
def test_float32_network_tracks_as_its_float64_copy(method):
    """Oracle: the same network and data in float64, where the tracker computes
    in float64. A float32 network's tracker computes its Jacobians and products
    in float32 and accumulates in float64: its tracking gap and p-hat agree with
    the float64 run's to 1e-5 (measured: 2e-8 and 1e-7), while the gap itself is
    about 1e-2, well within the sweeps' tolerance of 0.1."""
    gap32, p_train32, p_test32 = _float_run(torch.float32, method)
    gap64, p_train64, p_test64 = _float_run(torch.float64, method)
    assert 0 < gap64 < 0.1
    assert abs(gap32 - gap64) < 1e-5
    assert p_train32 == pytest.approx(p_train64, rel=1e-5)
    assert p_test32 == pytest.approx(p_test64, rel=1e-5)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_chunked_exact_tracker_equals_the_unchunked_one(momentum):
    """Oracle: the unchunked tracker on the same run (itself checked against the
    closed form and the network above). In chunks the batch's Jacobian rows are
    formed apart from the others' and each chunk's change is added on its own;
    both product orders (kernel for plain SGD, parameter space with momentum)."""
    n, m, d, K = 14, 6, 3, 2
    X, X_eval = _inputs(41, n, m, d)
    y = torch.randn(n, K, generator=torch.Generator().manual_seed(42), dtype=torch.float64)
    torch.manual_seed(43)
    model = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, K)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum, weight_decay=0.01)
    whole = TelescopingTracker(model, X, y, X_eval=X_eval)
    chunked = TelescopingTracker(model, X, y, X_eval=X_eval, chunk_size=5)
    g = torch.Generator().manual_seed(44)
    _train(
        model,
        optimizer,
        [whole, chunked],
        X,
        y,
        [torch.randperm(n, generator=g)[:4] for _ in range(8)],
    )
    for on in ("train", "eval"):
        np.testing.assert_allclose(
            chunked.smoother_matrix(on), whole.smoother_matrix(on), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(chunked.offsets(on), whole.offsets(on), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------- modes and errors


def test_network_with_dropout_warns_and_keeps_its_modes():
    X, X_eval = _inputs(16, 6, 3, 2)
    y = torch.zeros(6, 1, dtype=torch.float64)
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.3), nn.Linear(4, 1)).double()
    with pytest.warns(UserWarning, match="eval mode"):
        tracker = TelescopingTracker(model, X, y, X_eval=X_eval)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    _train(model, optimizer, [tracker], X, y, [None])
    assert all(module.training for module in model.modules())


@pytest.fixture
def setup():
    X, X_eval = _inputs(17, 6, 3, 2)
    y = torch.zeros(6, 1, dtype=torch.float64)
    torch.manual_seed(18)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    return model, X, X_eval, y


def _backward(model, X, y):
    model.zero_grad()
    nn.functional.mse_loss(model(X), y).backward()


def test_bad_constructor_arguments(setup):
    model, X, X_eval, y = setup
    with pytest.raises(ValueError, match="squared loss"):
        TelescopingTracker(model, X, loss="cross_entropy")
    with pytest.raises(ValueError, match="method"):
        TelescopingTracker(model, X, method="ntk")
    with pytest.raises(ValueError, match="X_eval rows"):
        TelescopingTracker(model, X, X_eval=X_eval[:, :1])
    with pytest.raises(ValueError, match="y must have shape"):
        TelescopingTracker(model, X, y[:4])
    with pytest.raises(ValueError, match="n_probes"):
        TelescopingTracker(model, X, method="probe", n_probes=1)
    with pytest.raises(ValueError, match="NaN"):
        TelescopingTracker(model, X * float("nan"))
    with pytest.raises(ValueError, match="method='probe'"):
        TelescopingTracker(model, torch.zeros(20_000, 2, dtype=torch.float64))
    seq = nn.Sequential(nn.Linear(2, 6), nn.Unflatten(1, (2, 3))).double()
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, K\)"):
        TelescopingTracker(seq, X)


def test_bad_step_and_report_arguments(setup):
    model, X, X_eval, y = setup
    tracker = TelescopingTracker(model, X, y)
    _backward(model, X, y)
    with pytest.raises(TypeError, match="SGD, torch.optim.Adam"):
        tracker.step(torch.optim.RMSprop(model.parameters()), None)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"in \[0, 6\)"):
        tracker.step(sgd, [0, 6])
    with pytest.raises(ValueError, match="integer row indices"):
        tracker.step(sgd, [0.5, 1.0])
    with pytest.raises(ValueError, match="maximize"):
        tracker.step(torch.optim.SGD(model.parameters(), lr=0.1, maximize=True), None)
    tracker.step(sgd, [0, 1])
    with pytest.raises(ValueError, match="different optimizer"):
        tracker.step(torch.optim.SGD(model.parameters(), lr=0.1), [0, 1])
    with pytest.raises(ValueError, match="pass X_eval"):
        tracker.p_test()
    with pytest.raises(ValueError, match="output"):
        tracker.p_train(output=1)
    with pytest.raises(ValueError, match="on must be"):
        tracker.predictions("test")
    no_labels = TelescopingTracker(model, X, X_eval=X_eval, method="probe", n_probes=2)
    with pytest.raises(ValueError, match="pass y"):
        no_labels.predictions()
    with pytest.raises(ValueError, match="method='exact'"):
        no_labels.smoother_matrix()
    with pytest.raises(ValueError, match="offsets"):
        no_labels.offsets()


@pytest.mark.parametrize(
    "make", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.Adam(p)]
)
def test_tracker_created_after_training_started_is_refused(setup, make):
    model, X, X_eval, y = setup
    optimizer = make(model.parameters())
    _backward(model, X, y)
    optimizer.step()
    tracker = TelescopingTracker(model, X, y, X_eval=X_eval)
    _backward(model, X, y)
    with pytest.raises(RuntimeError, match="before the first optimizer step"):
        tracker.step(optimizer, None)
