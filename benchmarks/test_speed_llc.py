"""Cost of the local learning coefficient per checkpoint, in training epochs.

Two networks at the quick sizes of the network sweeps, each trained briefly
and then measured at that checkpoint:

* ``mnist1d_w{16,64}``: MLP 40 -> w -> w -> 10 (ReLU) on MNIST-1D generated
  locally (4,000 training points), SGD (lr 0.01, momentum 0.9), batch 100,
  mean squared error on one-hot targets. One epoch is 40 steps. The LLC runs
  minibatch SGLD with the same batch size.
* ``grokking``: Gromov's two-layer MLP on concatenated one-hot (a, b) for
  a + b mod 97 (30% of the pairs for training), quadratic activation, MSE on
  one-hot targets, AdamW full batch. One epoch is one full-batch step, and the
  LLC runs full-batch SGLD.

Each entry records the median wall time of one training epoch, the wall time
of ``local_learning_coefficient`` with its defaults (plus ``batch_size``), the
ratio, and the estimate with its standard error and split R-hat. A second run
with four times the steps (``long``) shows how far the default estimate is
from a longer chain's. ``--full`` trains the checkpoints longer.

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


def _llc_entry(model, X, Y, epoch_s, batch_size, **settings) -> dict:
    mse = nn.MSELoss()
    out = {}
    for name, scale in (("default", 1), ("long", 4)):
        steps = {"n_samples": 200 * scale, "n_burnin": 100 * scale}
        start = time.perf_counter()
        result = ecnn.local_learning_coefficient(
            model, mse, (X, Y), batch_size=batch_size, random_state=0, **steps, **settings
        )
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
    entry = _llc_entry(model, X, Y, epoch_s, MINIBATCH)
    entry.update(
        {
            "epoch_s": epoch_s,
            "epochs_trained": len(epoch_times),
            "n_params": sum(p.numel() for p in model.parameters()),
            "torch_threads": 1,
        }
    )
    record("speed_llc.json", f"mnist1d_w{width}", entry)
    assert not entry["default"]["diverged"]
    assert entry["default"]["epochs"] > 0


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
    entry = _llc_entry(model, X, Y, epoch_s, None)
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
    assert not entry["default"]["diverged"]
    assert entry["default"]["epochs"] > 0
