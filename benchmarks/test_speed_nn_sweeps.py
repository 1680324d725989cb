"""Speed of the network sweeps: MNIST-1D width sweep and grokking.

* ``sweeps``: wall time of ``mnist1d_width`` and ``grokking`` with 1 and 2
  jobs (quick sizes; ``--full`` the published ones).
* ``shares``: one unit of each sweep (the widest quick MNIST-1D net, the
  quick grokking unit) run with training only, then with each measure of the
  per-checkpoint suite alone, and with the telescoping tracker alone; each
  measure's share is its extra time over training alone.

Targets (issue of the network sweeps): the measures other than telescoping
together add at most the training time itself (``measures_over_training``
<= 1); telescoping costs within 1.5x of its floor, about
``2 x columns x (n + m) / b`` forward-backward passes of a batch of ``b``
per step, where ``columns`` is the number of tracked label columns (probes
plus the predictions) and ``m`` the evaluation subsample; the floor is
priced with the plain training step measured in the same run. Both ratios
are recorded next to their targets; neither is asserted, because on this
shared two-core machine they are measured, not guaranteed. Results go to
``results/speed_nn_sweeps.json``.
"""

from __future__ import annotations

import time

import pytest
from conftest import record

from effcomplexity import sweeps
from effcomplexity.sweeps.families import UnitContext, get_family

RESULTS = "speed_nn_sweeps.json"
MEASURE_TARGET = 1.0
TELESCOPING_TARGET = 1.5
TELESCOPING_EPOCHS = 2


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@pytest.mark.parametrize("name", ["mnist1d_width", "grokking"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sweep_wall_time(name, n_jobs, full, tmp_path):
    spec = sweeps.get_spec(name)
    seconds = _timed(lambda: sweeps.run(spec, quick=not full, n_jobs=n_jobs, verbose=0))
    size = "full" if full else "quick"
    units = len(sweeps.plan(spec.sized(quick=not full)))
    record(RESULTS, f"sweeps/{name}/{size}/n_jobs={n_jobs}", {"seconds": seconds, "units": units})


def _unit_seconds(spec, unit, **options) -> float:
    spec = spec.replace(model_kwargs={**spec.model_kwargs, **options})
    family = get_family(spec.family)
    ctx = UnitContext(unit.key, unit.seed)
    return _timed(lambda: family.run(spec, dict(unit.params), list(unit.points), ctx))


@pytest.mark.parametrize("name", ["mnist1d_width", "grokking"])
def test_measure_shares(name, full):
    spec = sweeps.get_spec(name).sized(quick=not full)
    unit = sweeps.plan(spec)[-1]
    opts = spec.resolved_model_kwargs()
    training = _unit_seconds(spec, unit, measures=(), telescoping="off")
    shares = {}
    for measure in opts["measures"]:
        alone = _unit_seconds(spec, unit, measures=(measure,), telescoping="off")
        shares[measure] = (alone - training) / training
    result = {
        "unit": unit.key,
        "training_seconds": training,
        "measure_over_training": shares,
        "measures_over_training": sum(shares.values()),
        "measures_target": MEASURE_TARGET,
    }
    data = get_family(spec.family)
    if name == "grokking":
        from effcomplexity import datasets

        fraction = unit.params["train_fraction"]
        split = datasets.modular_addition(modulus=opts["modulus"], train_fraction=fraction)
        n, batch = split.n_train, split.n_train
        m = min(opts["telescoping_eval"], split.n_test)
    else:
        n, batch = spec.n_train, opts["batch_size"]
        m = min(opts["telescoping_eval"], spec.n_test)
        # Mini-batch tracking costs hundreds of passes per step: price it on a
        # few epochs of the squared-loss network.
        spec = spec.replace(
            grid={**spec.grid, "epoch": (TELESCOPING_EPOCHS,)},
            model_kwargs={**spec.model_kwargs, "loss": "mse"},
        )
        unit = sweeps.plan(spec)[-1]
        training = _unit_seconds(spec, unit, measures=(), telescoping="off")
    mode = opts["telescoping"] if opts["telescoping"] != "off" else "probe"
    tracked = _unit_seconds(spec, unit, measures=(), telescoping=mode)
    steps = max(p[data.axis_names[-1]] for p in unit.points)
    if name != "grokking":
        steps *= -(-n // batch)
    columns = opts["n_probes"] + 1
    floor_passes = 2 * columns * (n + m) / batch
    step_seconds = training / steps
    overhead_passes = (tracked - training) / step_seconds / steps
    result["telescoping"] = {
        "mode": mode,
        "columns": columns,
        "n": n,
        "m": m,
        "batch": batch,
        "tracked_over_plain_step": tracked / training,
        "floor_passes_per_step": floor_passes,
        "measured_passes_per_step": overhead_passes,
        "over_floor": overhead_passes / floor_passes,
        "target": TELESCOPING_TARGET,
    }
    record(RESULTS, f"shares/{name}/{'full' if full else 'quick'}", result)
