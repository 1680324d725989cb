"""Speed of the network sweeps: MNIST-1D width and epoch sweeps, grokking.

* ``sweeps``: wall time of every network spec (``mnist1d_width``,
  ``mnist1d_epochs``, ``grokking``, ``grokking_no_wd``) at the quick size.
  In a ``pytest benchmarks/`` session ``test_paper_networks.py`` has already
  run each of them (MNIST-1D with 2 jobs, the two grokking sweeps side by
  side with 1 job each), and the time of that run is recorded
  (``"source"`` says so) rather than training the same networks again: the
  file then costs seconds instead of minutes. Run alone, it times each
  sweep itself with 2 jobs. Under ``--full`` it prices the published size
  with ``full_unit`` below (the paper's own full run already trains them
  once). The grokking entries also keep the seed means of what the timed
  run measured at each step (accuracies, telescoping gap, ``p_train``,
  ``p_test``, ``llc``), so that the time is read with the run it produced.
* ``full_unit``: the costliest unit of each spec at the published size,
  extrapolated from its first epochs (or steps), because a full unit takes
  from minutes (MNIST-1D, 500 epochs) to hours (grokking, 10,000 tracked
  steps) here: the unit is timed once without measures and once with them,
  both truncated, which prices one epoch (step) of training and one
  checkpoint of measures; the full unit is ``epochs x per-epoch +
  checkpoints x per-checkpoint``, and the full sweep that times the sum of
  the family's cost model over units (and, as an upper bound, the number of
  units times the costliest one). Entries say ``"extrapolated": true``.
  Run with ``--full`` only.
* ``shares``: one unit of each sweep (the widest quick MNIST-1D net, the
  quick grokking unit) run with training only, then with each measure of the
  per-checkpoint suite alone, and with the telescoping tracker alone; each
  measure's share is its extra time over training alone. Run with ``--full``
  only, at the quick size (the recorded entries stay in the results file).

Every entry records the machine's load average before and after it
(``load``), since the two cores are shared: a load above the number of
cores means the times are inflated by other processes.

Targets: the measures other than telescoping
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

import math
import os
import time

import pytest
from _paper import run_sweep, sweep_timing
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


NETWORK_SPECS = ("mnist1d_width", "mnist1d_epochs", "grokking", "grokking_no_wd")
#: Epochs (MNIST-1D) or steps (grokking) of a full unit actually timed.
TRUNCATED = {"mnist1d": 10, "grokking": 200}
#: Seed means per step that a grokking entry keeps beside its time.
_GROK_COLUMNS = ["step", "train_error", "test_error", "telescoping_gap"]
_GROK_COLUMNS += ["p_train", "p_test", "p_test_se", "llc", "llc_se", "weight_norm"]


def _load() -> dict:
    one, five, _ = os.getloadavg()
    return {"load_1min": one, "load_5min": five, "cores": os.cpu_count()}


def _loaded(before: dict, after: dict) -> bool:
    return max(before["load_1min"], after["load_1min"]) > before["cores"]


@pytest.mark.parametrize("name", NETWORK_SPECS)
def test_sweep_wall_time(name):
    """Wall time of the quick sweep: this session's paper run when there was one.

    ``benchmarks/test_paper_networks.py`` runs every network spec at the quick
    size (``_paper`` stores the wall time of a run computed from scratch), and
    its files come first in a ``pytest benchmarks/`` session, so the time is
    read back rather than training the same networks again. Run alone, the
    file times the sweep itself with as many jobs as units, up to 2 (the
    machine's cores).
    """
    spec = sweeps.get_spec(name)
    units = len(sweeps.plan(spec.sized(quick=True)))
    timing = sweep_timing(name)
    if timing is not None:
        table = run_sweep(name, full=False)  # read back from this session's run
        entry = {
            "seconds": timing["seconds"],
            "n_jobs": timing["n_jobs"],
            "units": units,
            "source": "test_paper_networks.py, same session",
            "load": {**timing["load"], "loaded": _loaded(**timing["load"])},
        }
    else:
        n_jobs = min(units, os.cpu_count() or 1, 2)
        before = _load()
        start = time.perf_counter()
        table = sweeps.run(spec, quick=True, n_jobs=n_jobs, verbose=0)
        seconds = time.perf_counter() - start
        after = _load()
        entry = {
            "seconds": seconds,
            "n_jobs": n_jobs,
            "units": units,
            "source": "timed here",
            "load": {"before": before, "after": after, "loaded": _loaded(before, after)},
        }
    if spec.family == "grokking":
        rows = table.groupby("step")[_GROK_COLUMNS[1:]].mean().reset_index()
        entry["rows"] = rows.astype(object).where(rows.notna(), None).to_dict("records")
    record(RESULTS, f"sweeps/{name}/quick", entry)


def _truncated(spec, unit, axis: str, limit: int):
    """The unit with its grid cut to the points at or below ``limit`` (and ``limit``)."""
    values = sorted({p[axis] for p in unit.points if p[axis] <= limit} | {limit})
    return spec.replace(grid={**spec.grid, axis: tuple(values)})


@pytest.mark.parametrize("name", NETWORK_SPECS)
def test_full_unit_time(name, full, price_full):
    """Full-size unit and sweep times, extrapolated from a truncated unit.

    It prices the published size, so it runs with ``--full`` or
    ``--price-full`` only; the quick ``pytest benchmarks/`` keeps the
    recorded entries.
    """
    if not (full or price_full):
        pytest.skip("prices the full size: run with --full or --price-full")
    spec = sweeps.get_spec(name)
    family = get_family(spec.family)
    axis = family.axis_names[-1]
    plan = sweeps.plan(spec)
    costs = [family.cost(spec, dict(u.params), list(u.points)) for u in plan]
    unit = plan[max(range(len(plan)), key=costs.__getitem__)]
    total = max(p[axis] for p in unit.points)
    checkpoints = len(unit.points)
    limit = TRUNCATED[spec.family]
    short = _truncated(spec, unit, axis, limit)
    short_unit = next(u for u in sweeps.plan(short) if u.key == unit.key)
    before = _load()
    opts = spec.resolved_model_kwargs()
    training = _unit_seconds(short, short_unit, measures=())
    measured = _unit_seconds(short, short_unit, measures=opts["measures"])
    after = _load()
    per_epoch = training / limit
    per_checkpoint = (measured - training) / len(short_unit.points)
    unit_seconds = per_epoch * total + per_checkpoint * checkpoints
    entry = {
        "extrapolated": True,
        "unit": unit.key,
        axis: total,
        "checkpoints": checkpoints,
        f"timed_{axis}s": limit,
        "timed_checkpoints": len(short_unit.points),
        "telescoping": opts["telescoping"],
        f"seconds_per_{axis}": per_epoch,
        "seconds_per_checkpoint_of_measures": per_checkpoint,
        "unit_seconds": unit_seconds,
        "units": len(plan),
        "sweep_seconds_by_cost_model": unit_seconds * sum(costs) / max(costs),
        "sweep_seconds_upper_bound": unit_seconds * len(plan),
        "load": {"before": before, "after": after, "loaded": _loaded(before, after)},
    }
    assert math.isfinite(unit_seconds) and unit_seconds > 0
    record(RESULTS, f"full_unit/{name}", entry)


def _unit_seconds(spec, unit, **options) -> float:
    spec = spec.replace(model_kwargs={**spec.model_kwargs, **options})
    family = get_family(spec.family)
    ctx = UnitContext(unit.key, unit.seed)
    return _timed(lambda: family.run(spec, dict(unit.params), list(unit.points), ctx))


@pytest.mark.parametrize("name", ["mnist1d_width", "grokking"])
def test_measure_shares(name, full):
    """Each measure's share of a quick unit's time; a cost breakdown, run with ``--full``
    only (it retrains the unit once per measure; at the full size that would take hours)."""
    if not full:
        pytest.skip("a cost breakdown that retrains the unit per measure: run with --full")
    spec = sweeps.get_spec(name).sized(quick=True)
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
    record(RESULTS, f"shares/{name}/quick", result)
