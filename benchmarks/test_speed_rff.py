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
by 1/4. The sweep must take at most twice its floor. Results go to
``results/speed_rff.json``.
"""

from __future__ import annotations

import os
import time

import numpy as np
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
