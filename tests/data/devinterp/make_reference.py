"""Reference local learning coefficients computed by devinterp 2.0.1.

Run in a separate environment that holds devinterp, not the package's own::

    python -m venv /tmp/devinterp_venv
    /tmp/devinterp_venv/bin/pip install torch==2.13.0 devinterp==2.0.1
    /tmp/devinterp_venv/bin/python tests/data/devinterp/make_reference.py

It writes one JSON file per case beside this script. devinterp 2.0.1 samples
with ``devinterp.slt.sampling.sample`` (SGLD with localisation, its
``sgmcmc_sgld`` method) and computes the estimate with
``devinterp.slt.llc.compute_llc``: ``n_beta * (mean loss over every recorded
step of a chain - init_loss)``, averaged over chains. Its datasets hold token
sequences under ``"input_ids"``; here every row is ``[x_1, ..., x_d, y]`` and
the loss function returns the row's loss once per position of the sequence,
so that devinterp's mean over positions is the row's loss. Every setting is
full batch (``batch_size = n``), without burn-in, so that devinterp's mean
over all steps is the package's mean over its recorded draws.

The data and models are rebuilt by the same code as tests/nn/test_llc.py.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # devinterp's per-chain progress bars

import devinterp  # noqa: E402
import numpy as np
import torch
from devinterp.slt.llc import compute_llc
from devinterp.slt.sampling import sample
from torch import nn

HERE = Path(__file__).resolve().parent


def regression(seed: int, n: int = 1000, d: int = 6, sigma: float = 0.5):
    """Least squares at its fit: lambda = d / 2 (as _regression in test_llc.py)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w0 = torch.randn(d, 1, generator=g, dtype=torch.float64)
    y = X @ w0 + sigma * torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(X, y).solution.T)
    return model, X, y, sigma


class Product(nn.Module):
    """f(x) = a b x at a = b = 0 (as _ProductModel in test_llc.py)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.b = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return self.a * self.b * x


def product(seed: int, n: int = 1000):
    """Pure-noise targets orthogonal to x (as _product_data in test_llc.py)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g, dtype=torch.float64)
    e = torch.randn(n, 1, generator=g, dtype=torch.float64)
    y = e - x * (x * e).sum() / (x * x).sum()
    return Product(), x, y, 1.0


def per_position_loss(sigma: float, d: int):
    """devinterp's loss_fn: the Gaussian loss of each row, repeated over its d positions."""

    def loss_fn(model, rows):
        X, y = rows[:, :d], rows[:, d:]
        row = ((model(X) - y) ** 2).sum(1) / (2 * sigma**2)
        return row[:, None].expand(-1, d)

    return loss_fn


CASES = {
    "regular": {
        "build": regression,
        "seed": 0,
        "lr": 5e-4,
        "localization": 1.0,
        "num_chains": 8,
        "num_draws": 2000,
    },
    "singular": {
        "build": product,
        "seed": 0,
        "lr": 1e-3,
        "localization": 1.0,
        "num_chains": 8,
        "num_draws": 4000,
    },
}


def run(name: str, case: dict) -> dict:
    model, X, y, sigma = case["build"](case["seed"])
    n, d = X.shape
    rows = torch.cat([X, y], dim=1)
    dataset = [{"input_ids": row} for row in rows]
    n_beta = n / math.log(n)
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        samples = sample(
            model=model,
            dataset=dataset,
            observables={},
            lr=case["lr"],
            n_beta=n_beta,
            localization=case["localization"],
            num_chains=case["num_chains"],
            num_draws=case["num_draws"],
            num_burnin_steps=0,
            batch_size=n,
            num_init_loss_batches=1,
            init_seed=case["seed"],
            shuffle=False,
            device="cpu",
            output_path=Path(tmp) / "samples.zarr",
            loss_fn=per_position_loss(sigma, d),
        )
        result = compute_llc(samples)
        per_chain = np.asarray(result.llc_per_chain.values, dtype=float)
        init_loss = float(result.init_loss.values)
    return {
        "case": name,
        "data_seed": case["seed"],
        "sigma": sigma,
        "n": n,
        "settings": {
            "step_size": case["lr"],
            "localization": case["localization"],
            "n_beta": n_beta,
            "n_chains": case["num_chains"],
            "n_samples": case["num_draws"],
            "n_burnin": 0,
            "batch_size": n,
            "sampler": "devinterp.slt.sampling.sample(sampling_method='sgmcmc_sgld')",
            "init_seed": case["seed"],
        },
        "init_loss": init_loss,
        "llc_mean": float(per_chain.mean()),
        "llc_std": float(per_chain.std(ddof=1)),
        "llc_per_chain": per_chain.tolist(),
        "devinterp_version": devinterp.__version__
        if hasattr(devinterp, "__version__")
        else _version("devinterp"),
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    for name, case in CASES.items():
        record = run(name, case)
        path = HERE / f"llc_{name}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(path.name, record["llc_mean"], record["llc_std"])
