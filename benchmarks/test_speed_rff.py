"""One seed of the ``belkin_rff`` sweep against the work it cannot avoid.

The sweep is the library's ``belkin_rff`` on the bundled MNIST subset
(``_classical.sized("belkin_rff", full=True)``: minimum-norm least squares on
``RandomFourierFeatures(N, bandwidth=5, include_bias=True)``, one-hot
targets, 16 widths across the interpolation threshold), seed 0. Each unit
fits the model, predicts, and measures ``p_train``, ``p_test`` and the trace
exactly. Its floor is the work no method can skip, timed in the same run on
the same features: the feature maps of the training and test images, and
the Gram products the minimum-norm fit and ``p_test`` need, in the cheaper
orientation (``F F^T`` and ``F_test F^T`` past the threshold, ``F^T F`` and
``F_test (F^T F)`` below it). Both run on one BLAS thread, as the sweep
runner runs its units. ``--full``: n = 4,000 training and 1,000 test images
and the grid up to N = 24,000; quick: n = 1,000 and 250 with the grid scaled
by 1/4. The sweep must take at most twice its floor.

The memory of one unit of ``curth_rff_published`` (the largest, P_ex =
20,000 at n = 10,000: 30,000 random features, 7 numbers of principal
components up to 10,000) is measured in a fresh process at a scale of that
unit (``--full``: n = 4,000, P_ex = 8,000, components up to 4,000; quick: n
= 1,000), as the growth of its peak resident memory over what the process
holds once the data are loaded. It must stay under four copies of the
training feature matrix (the training and test features are two; scikit-
learn's scaler and PCA used to hold about seven). Memory and time scale with
``n^2`` and ``n^3`` at a fixed ratio of features to rows. Results go to
``results/speed_rff.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _classical import sized
from conftest import record
from threadpoolctl import threadpool_limits

from effcomplexity import sweeps
from effcomplexity.models import RandomFourierFeatures
from effcomplexity.sweeps.families._common import load_data

RESULTS_FILE = "speed_rff.json"
MAX_OVER_FLOOR = 2.0
QUICK_N = 1000


def _spec(full: bool) -> sweeps.SweepSpec:
    spec = sized("belkin_rff", full=True).replace(seeds=(0,))
    if full:
        return spec
    scale = QUICK_N / spec.n_train
    widths = sorted({max(2, round(w * scale)) for w in spec.grid["n_features"]})
    return spec.replace(n_train=QUICK_N, n_test=QUICK_N // 4, grid={"n_features": tuple(widths)})


def _floor(spec: sweeps.SweepSpec) -> dict:
    """Seconds of the feature maps and the Gram products, width by width."""
    seed = spec.seeds[0]
    data = load_data(spec, seed)
    bandwidth = spec.resolved_model_kwargs()["bandwidth"]
    n = data.X_train.shape[0]
    features_s, gram_s = {}, {}
    for width in spec.grid["n_features"]:
        start = time.perf_counter()
        rff = RandomFourierFeatures(
            width, bandwidth=bandwidth, include_bias=True, random_state=seed
        ).fit(data.X_train)
        F, F_test = rff.transform(data.X_train), rff.transform(data.X_test)
        middle = time.perf_counter()
        if F.shape[1] >= n:
            F @ F.T, F_test @ F.T
        else:
            F_test @ (F.T @ F)
        features_s[width] = middle - start
        gram_s[width] = time.perf_counter() - middle
        del F, F_test
    return {"feature_maps_s": features_s, "gram_products_s": gram_s}


def test_belkin_rff_seed_near_its_floor(full):
    spec = _spec(full)
    with threadpool_limits(limits=1):
        floor = _floor(spec)
    start = time.perf_counter()
    table = sweeps.run(spec, quick=False, verbose=0, blas_threads=1)
    sweep_s = time.perf_counter() - start
    floor_s = sum(floor["feature_maps_s"].values()) + sum(floor["gram_products_s"].values())
    result = {
        "mode": "full" if full else "quick",
        "spec": spec.name,
        "seed": spec.seeds[0],
        "n_train": spec.n_train,
        "n_test": spec.n_test,
        "widths": list(spec.grid["n_features"]),
        "blas_threads": 1,
        "sweep_wall_s": sweep_s,
        "floor_wall_s": floor_s,
        "sweep_over_floor": sweep_s / floor_s,
        **{k: {str(w): s for w, s in v.items()} for k, v in floor.items()},
        "p_test": dict(zip(map(str, table["n_features"]), table["p_test"], strict=True)),
        "load_average_1min_after": os.getloadavg()[0],
    }
    record(RESULTS_FILE, f"belkin_rff_seed0_n{spec.n_train}", result)
    assert len(table) == len(spec.grid["n_features"])
    assert np.all(np.isfinite(table["p_test"]))
    assert result["sweep_over_floor"] <= MAX_OVER_FLOOR, result


# A fresh process, so that the peak is the unit's own: the peak resident memory
# is reset (Linux clear_refs) once the data are loaded, then read after the unit.
_UNIT_SCRIPT = """
import json, sys, time
from effcomplexity import sweeps
from effcomplexity.sweeps.families._base import UnitContext, get_family
from effcomplexity.sweeps.families._common import load_data

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

n = int(sys.argv[1])
spec = sweeps.get_spec("curth_rff_published").sized(quick=False)
scale = n / spec.n_train
p_ex = round(max(spec.grid["P_ex"]) * scale)
grid = {"P_PC": tuple(max(1, round(k * scale)) for k in spec.grid["P_PC"]), "P_ex": (p_ex,)}
kwargs = {k: v for k, v in spec.dataset_kwargs.items() if k != "download"}
spec = spec.replace(n_train=n, n_test=n, grid=grid, dataset_kwargs=kwargs)
seed = spec.seeds[0]
load_data(spec, seed)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
loaded = status("VmRSS:")
start = time.perf_counter()
points = [{"P_PC": k, "P_ex": p_ex} for k in grid["P_PC"]]
context = UnitContext(key=f"seed={seed},P_ex={p_ex}", seed=seed, checkpoint_dir=None, progress=None)
rows, _ = get_family("rff_pca").run(spec, {"P_ex": p_ex}, points, context)
print(json.dumps(dict(
    n_train=n, n_test=n, P_ex=p_ex, P_PC=list(grid["P_PC"]), seconds=time.perf_counter() - start,
    rss_loaded_bytes=loaded, rss_peak_bytes=status("VmHWM:"),
    p_test=[row["p_test"] for row in rows],
)))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads /proc (Linux)")
def test_curth_rff_published_unit_memory(full):
    n = 4000 if full else QUICK_N
    root = Path(__file__).resolve().parents[1]
    pythonpath = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    completed = subprocess.run(
        [sys.executable, "-c", _UNIT_SCRIPT, str(n)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=pythonpath, OPENBLAS_NUM_THREADS="1"),
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    features_bytes = 8 * n * (n + result["P_ex"])
    growth = result["rss_peak_bytes"] - result["rss_loaded_bytes"]
    result.update(
        mode="full" if full else "quick",
        unit_growth_bytes=growth,
        feature_matrix_bytes=features_bytes,
        growth_in_feature_matrices=growth / features_bytes,
        # Unavoidable: training and test features and the n x n Gram matrix.
        unavoidable_bytes=2 * features_bytes + 8 * n * n,
        extrapolated_to_n10000={
            "unit_growth_gb": growth * (10000 / n) ** 2 / 1024**3,
            "seconds": result["seconds"] * (10000 / n) ** 3,
        },
    )
    record(RESULTS_FILE, f"curth_rff_published_unit_n{n}", result)
    assert all(np.isfinite(result["p_test"]))
    assert result["growth_in_feature_matrices"] <= 4.0, result
