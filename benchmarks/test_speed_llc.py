"""Cost of the local learning coefficient per checkpoint, in training epochs.

Two networks at the quick sizes of the network sweeps, each trained briefly
and then measured at that checkpoint:

* ``mnist1d_w{16,64}``: MLP 40 -> w -> w -> 10 (ReLU) on MNIST-1D generated
  locally (4,000 training points), SGD (lr 0.01, momentum 0.9), batch 100,
  mean squared error on one-hot targets. One epoch is 40 steps. The LLC runs
  minibatch SGLD with the same batch size.
* ``grokking``: Gromov's two-layer MLP on concatenated one-hot (a, b) for
  a + b mod 97 (30% of the pairs for training), quadratic activation, MSE on
  one-hot targets, AdamW full batch. One epoch is one full-batch step; the
  LLC runs full-batch SGLD, and (``minibatch``, and the ``long`` run)
  minibatch SGLD on 256 pairs.

Each entry records the median wall time of one training epoch, the wall time
of ``local_learning_coefficient`` with its defaults (plus ``batch_size``), the
ratio, and the estimate with its standard error and split R-hat. A second run
with four times the steps (``long``) shows how far the default estimate is
from a longer chain's; the test asserts that they agree within three
combined standard errors, which is what the defaults were chosen for.
``--full`` trains the checkpoints longer.

Torch runs on one thread so that the ratios do not depend on how many cores
other processes leave free. Results go to ``results/speed_llc.json``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from conftest import record
from mnist1d.data import get_dataset_args, make_dataset
from torch import nn

from effcomplexity import nn as ecnn
from effcomplexity.models.torch_models import make_mlp

MINIBATCH = 100
P = 97
TRAIN_FRACTION = 0.3
GROK_WIDTH = 128
GROK_MINIBATCH = 256


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mnist1d():
    args = get_dataset_args()
    args.num_samples, args.train_split = 16_000, 0.25
    data = make_dataset(args)
    X = torch.tensor(data["x"], dtype=torch.float32)
    labels = torch.tensor(data["y"], dtype=torch.int64)
    return X, nn.functional.one_hot(labels, 10).to(torch.float32)


class _Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


def _modular_addition():
    g = torch.Generator().manual_seed(0)
    a, b = torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    train = torch.randperm(P * P, generator=g)[: int(TRAIN_FRACTION * P * P)]
    X = torch.cat([nn.functional.one_hot(a, P), nn.functional.one_hot(b, P)], dim=1).float()
    Y = nn.functional.one_hot((a + b) % P, P).float()
    return X[train], Y[train]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


#: Settings timed at every checkpoint: the defaults, and chains four times as long.
RUNS = {"default": {}, "long": {"n_samples": 800, "n_burnin": 400}}


def _llc_entry(model, X, Y, epoch_s, runs) -> dict:
    mse = nn.MSELoss()
    out = {}
    for name, settings in runs.items():
        start = time.perf_counter()
        result = ecnn.local_learning_coefficient(model, mse, (X, Y), random_state=0, **settings)
        seconds = time.perf_counter() - start
        out[name] = {
            "seconds": seconds,
            "epochs": seconds / epoch_s,
            "llc": result.estimate,
            "llc_se": result.std_error,
            "r_hat": result.r_hat,
            "diverged": result.diverged,
            "message": result.message,
            **result.settings,
        }
    return out


def _check_converged(entry: dict) -> None:
    default, long = entry["default"], entry["long"]
    assert not default["diverged"] and not long["diverged"]
    se = (default["llc_se"] ** 2 + long["llc_se"] ** 2) ** 0.5
    assert abs(default["llc"] - long["llc"]) <= 3 * se


@pytest.mark.parametrize("width", [16, 64])
def test_llc_cost_mnist1d(mnist1d, width, full):
    X, Y = mnist1d
    model = make_mlp(40, width, 10, random_state=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    epoch_times = []
    for _ in range(50 if full else 10):
        start = time.perf_counter()
        for idx in torch.randperm(X.shape[0], generator=g).split(MINIBATCH):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(X[idx]), Y[idx]).backward()
            optimizer.step()
        epoch_times.append(time.perf_counter() - start)
    epoch_s = float(np.median(epoch_times[1:]))
    runs = {name: {**settings, "batch_size": MINIBATCH} for name, settings in RUNS.items()}
    entry = _llc_entry(model, X, Y, epoch_s, runs)
    entry.update(
        {
            "epoch_s": epoch_s,
            "epochs_trained": len(epoch_times),
            "n_params": sum(p.numel() for p in model.parameters()),
            "torch_threads": 1,
        }
    )
    record("speed_llc.json", f"mnist1d_w{width}", entry)
    _check_converged(entry)


def test_llc_cost_grokking(full):
    X, Y = _modular_addition()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2 * P, GROK_WIDTH), _Square(), nn.Linear(GROK_WIDTH, P))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    step_times = []
    for _ in range(1000 if full else 200):
        start = time.perf_counter()
        optimizer.zero_grad()
        nn.functional.mse_loss(model(X), Y).backward()
        optimizer.step()
        step_times.append(time.perf_counter() - start)
    epoch_s = float(np.median(step_times[1:]))
    # Full-batch chains four times as long would take minutes; the long run is minibatch.
    runs = {
        "default": RUNS["default"],
        "minibatch": {"batch_size": GROK_MINIBATCH},
        "long": {**RUNS["long"], "batch_size": GROK_MINIBATCH},
    }
    entry = _llc_entry(model, X, Y, epoch_s, runs)
    entry.update(
        {
            "epoch_s": epoch_s,
            "epochs_trained": len(step_times),
            "n_train": X.shape[0],
            "n_params": sum(p.numel() for p in model.parameters()),
            "torch_threads": 1,
        }
    )
    record("speed_llc.json", "grokking", entry)
    _check_converged(entry)
