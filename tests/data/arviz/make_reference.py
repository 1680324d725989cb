"""Reference MCMC diagnostics computed by arviz, for the local learning coefficient's twins.

Run in a separate environment that holds arviz, not the package's own::

    python -m venv /tmp/arviz_venv
    /tmp/arviz_venv/bin/pip install arviz
    /tmp/arviz_venv/bin/python tests/data/arviz/make_reference.py

It writes ``diagnostics.json`` beside this script: a few skewed autoregressive
traces (chains by draws, stored in full so that the test does not depend on a
random number generator) with arviz's rank-normalised split-R-hat
(``rhat(method="rank")``), bulk and tail effective sample sizes and the Monte
Carlo standard error of the mean (Vehtari et al. 2021).
"""

from __future__ import annotations

import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # arviz announces its refactor on import
    import arviz as az

HERE = Path(__file__).resolve().parent
#: (autoregressive coefficient, chains, draws): odd and even lengths, fast and slow mixing.
CASES = [(0.0, 4, 40), (0.5, 2, 101), (0.9, 8, 25), (0.95, 4, 60)]


def trace(phi: float, m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.empty((m, n))
    x[:, 0] = rng.standard_normal(m) / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + rng.standard_normal(m)
    return np.exp(x)  # skewed, so that rank normalisation matters


if __name__ == "__main__":
    rng = np.random.default_rng(20260101)
    records = []
    for phi, m, n in CASES:
        x = trace(phi, m, n, rng)
        records.append(
            {
                "phi": phi,
                "trace": x.tolist(),
                "r_hat": float(az.rhat(x, method="rank")),
                "ess_bulk": float(az.ess(x, method="bulk")),
                "ess_tail": float(az.ess(x, method="tail")),
                "mcse_mean": float(az.mcse(x, method="mean")),
            }
        )
    out = {"arviz_version": version("arviz"), "numpy_version": np.__version__, "cases": records}
    (HERE / "diagnostics.json").write_text(json.dumps(out, indent=1) + "\n")
    print("diagnostics.json", len(records), "cases")
