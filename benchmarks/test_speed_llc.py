"""Cost of the local learning coefficient per checkpoint, in training epochs.

Two networks at the quick sizes of the network sweeps, each trained briefly
and then measured at that checkpoint:

* ``mnist1d_w{16,64,256}``: MLP 40 -> w -> w -> 10 (ReLU) on MNIST-1D
  generated locally (4,000 training points), SGD (lr 0.01, momentum 0.9),
  batch 100, mean squared error on one-hot targets. One epoch is 40 steps.
  The LLC runs minibatch SGLD with the same batch size, as the ``llc``
  measure of the sweeps does.
* ``grokking``: the quick grokking unit's network, Gromov's two-layer MLP
  (width 256, no biases, quadratic activation) on concatenated one-hot
  (a, b) for a + b mod 97 (20% of the pairs for training), MSE on one-hot
  targets, full-batch AdamW (lr 2e-3, weight decay 16). One epoch is one
  full-batch step; the LLC runs the sweeps' chains for full-batch training,
  ``LLC_FULL_BATCH`` (2 chains of 10 + 30 steps on 32 pairs at step size
  2e-3).

Each entry records the median wall time of one training epoch measured in
the same run, and for each setting the wall time of
``local_learning_coefficient``, the ratio (``epochs``), the estimate with
its standard error and split R-hat:

* ``default``: the chains of the sweeps' ``llc`` measure, the cost per
  checkpoint: ``LLC_MINIBATCH`` (2 Euler chains of 20 + 40 steps, step size
  1e-3, localization 100) on the training batch for MNIST-1D,
  ``LLC_FULL_BATCH`` for grokking (the function's own defaults are far longer
  chains for a standalone estimate: 4 chains of 1000 + 4000 steps, about 600
  training epochs of the MNIST-1D width-64 MLP);
* ``before``: the earlier settings (4 chains of 100 + 200 steps, step size
  3e-4; for grokking, ``LLC_MINIBATCH`` on 64 pairs), for the cost before
  and after in the same run;
* ``long``: 4 chains of 400 + 800 steps at the step size and batch of
  ``default``, the reference the short chains are compared with.

Targets: ``default`` costs at most ``TARGET_EPOCHS`` = 5 training epochs per
checkpoint on MNIST-1D and ``TARGET_FULL_BATCH`` = 10 full-batch steps on the
grokking MLP (recorded with ``meets_target``, not asserted: the machine is
shared and the ratio moves with its load, recorded in ``load``). A
full-batch epoch is one step of 5-12 ms, while one SGLD step of two chains
costs about a fifth of it (their Gaussian noise alone 0.6 ms): 40 steps is
the shortest chain whose estimate stays within 5% of long chains. Asserted:
the default estimate lies within ``AGREEMENT`` = 10% of the long chains'
(the short chains' bias, measured 1-8%). ``--full`` trains the checkpoints
longer.

Torch runs on one thread so that the ratios do not depend on how many cores
other processes leave free. Results go to ``results/speed_llc.json``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from conftest import record
from mnist1d.data import get_dataset_args, make_dataset
from torch import nn

from effcomplexity import datasets
from effcomplexity import nn as ecnn
from effcomplexity.models.torch_models import make_mlp
from effcomplexity.sweeps.families._nn_measures import LLC_FULL_BATCH, LLC_MINIBATCH

MINIBATCH = 100
P = 97
TRAIN_FRACTION = 0.2
GROK_WIDTH = 256
TARGET_EPOCHS = 5.0
TARGET_FULL_BATCH = 10.0
AGREEMENT = 0.10


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


def _modular_addition():
    data = datasets.modular_addition(modulus=P, train_fraction=TRAIN_FRACTION, random_state=0)
    X = torch.tensor(data.X_train, dtype=torch.float32)
    Y = nn.functional.one_hot(torch.as_tensor(data.labels_train), P).float()
    return X, Y


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


#: Settings timed at every MNIST-1D checkpoint (see the module docstring).
RUNS = {
    "default": dict(LLC_MINIBATCH),
    "before": {
        **LLC_MINIBATCH,
        "n_chains": 4,
        "n_burnin": 100,
        "n_samples": 200,
        "step_size": 3e-4,
    },
    "long": {**LLC_MINIBATCH, "n_chains": 4, "n_burnin": 400, "n_samples": 800},
}
#: The same for the full-batch grokking MLP.
RUNS_FULL_BATCH = {
    "default": dict(LLC_FULL_BATCH),
    "before": {**LLC_MINIBATCH, "batch_size": 64},
    "long": {
        **LLC_MINIBATCH,
        "n_chains": 4,
        "n_burnin": 400,
        "n_samples": 800,
        "step_size": LLC_FULL_BATCH["step_size"],
        "batch_size": LLC_FULL_BATCH["batch_size"],
    },
}


def _load() -> dict:
    one, five, _ = os.getloadavg()
    return {"load_1min": one, "load_5min": five, "cores": os.cpu_count()}


def _data_passes(settings: dict) -> float:
    n = settings["n"]
    rows = min(settings["batch_size"] or n, n)
    return settings["n_chains"] * (settings["n_burnin"] + settings["n_samples"]) * rows / n


def _llc_entry(model, X, Y, epoch_s, runs) -> dict:
    mse = nn.MSELoss()
    out = {"load_before": _load()}
    for name, settings in runs.items():
        start = time.perf_counter()
        result = ecnn.local_learning_coefficient(
            model, X, Y, loss_fn=mse, random_state=0, **settings
        )
        seconds = time.perf_counter() - start
        out[name] = {
            "seconds": seconds,
            "epochs": seconds / epoch_s,
            # rows whose gradient the chains evaluate, in passes over the training set
            "data_passes": _data_passes(result.settings),
            "llc": result.estimate,
            "llc_se": result.std_error,
            "r_hat": result.r_hat,
            "diverged": result.diverged,
            "message": result.message,
            **result.settings,
        }
    out["load_after"] = _load()
    out["loaded"] = max(out["load_before"]["load_1min"], out["load_after"]["load_1min"]) > (
        os.cpu_count() or 1
    )
    out["default_over_long"] = out["default"]["llc"] / out["long"]["llc"] - 1
    out["default_over_before_cost"] = out["default"]["seconds"] / out["before"]["seconds"]
    return out


def _check_agreement(entry: dict) -> None:
    assert not entry["default"]["diverged"] and not entry["long"]["diverged"]
    assert abs(entry["default_over_long"]) <= AGREEMENT


@pytest.mark.parametrize("width", [16, 64, 256])
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
    runs = {name: {"batch_size": MINIBATCH, **settings} for name, settings in RUNS.items()}
    entry = _llc_entry(model, X, Y, epoch_s, runs)
    entry.update(
        {
            "target_epochs": TARGET_EPOCHS,
            "meets_target": entry["default"]["epochs"] <= TARGET_EPOCHS,
            "epoch_s": epoch_s,
            "epochs_trained": len(epoch_times),
            "n_params": sum(p.numel() for p in model.parameters()),
            "torch_threads": 1,
        }
    )
    record("speed_llc.json", f"mnist1d_w{width}", entry)
    _check_agreement(entry)


def test_llc_cost_grokking(full):
    X, Y = _modular_addition()
    model = make_mlp(2 * P, GROK_WIDTH, P, 1, activation="quadratic", bias=False, random_state=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=16.0, betas=(0.9, 0.98))
    step_times = []
    for _ in range(1000 if full else 200):
        start = time.perf_counter()
        optimizer.zero_grad()
        nn.functional.mse_loss(model(X), Y).backward()
        optimizer.step()
        step_times.append(time.perf_counter() - start)
    epoch_s = float(np.median(step_times[1:]))
    entry = _llc_entry(model, X, Y, epoch_s, RUNS_FULL_BATCH)
    entry.update(
        {
            "target_epochs": TARGET_FULL_BATCH,
            "meets_target": entry["default"]["epochs"] <= TARGET_FULL_BATCH,
            "epoch_s": epoch_s,
            "epochs_trained": len(step_times),
            "n_train": X.shape[0],
            "n_params": sum(p.numel() for p in model.parameters()),
            "torch_threads": 1,
        }
    )
    record("speed_llc.json", "grokking", entry)
    _check_agreement(entry)
