"""The price of ``pytest benchmarks/ --full``, measured on a part of it.

The full run trains every sweep of the paper at its largest size, several
hours on two cores, so ``pytest benchmarks/ --price-full`` prices it instead:

* every sweep of the classical figures (the bundled-subset specs of
  ``_classical``: trees, boosting, random features, Belkin's random features)
  and the ridgeless theory is run in full for its first seed only; a sweep of
  ``k`` seeds is priced at ``k`` times that, since every seed fits the same
  models on other random draws (the data draw is shared). Entries go to
  ``results/full_run.json`` under ``sweeps/NAME``.
* the network sweeps are priced by ``test_speed_nn_sweeps.py::test_full_unit_time``
  (a truncated unit, then the family's cost model), which ``--price-full``
  runs too.

``test_paper_zz_build.py`` turns these records into the paper's table of run
times: a benchmark file is "measured" where a ``--full`` run timed it, and
"estimated" (from the entries above, and saying so) where not. Nothing here
runs without ``--price-full``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import _classical
import pytest
from conftest import record

from effcomplexity import sweeps

RESULTS = "full_run.json"
#: The sweeps priced here, by the name the paper's runs give them.
PRICED = {
    "belkin_rff": lambda: _classical.SPECS["belkin_rff"],
    "trees": lambda: _classical.SPECS["trees"],
    "boosting": lambda: _classical.SPECS["boosting"],
    "rff": lambda: _classical.SPECS["rff"],
    "ridgeless_theory": lambda: sweeps.get_spec("ridgeless_theory"),
}


def _load() -> dict:
    one, five, _ = os.getloadavg()
    return {"load_1min": one, "load_5min": five, "cores": os.cpu_count()}


@pytest.mark.parametrize("name", list(PRICED))
def test_price_full_sweep(name, price_full):
    """One seed of the full sweep, timed; the sweep is priced at seeds x that."""
    if not price_full:
        pytest.skip("prices the full run: run with --price-full")
    spec = PRICED[name]().sized(quick=False)
    one_seed = spec.replace(seeds=spec.seeds[:1])
    before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        table = sweeps.run(one_seed, quick=False, out=Path(tmp) / "one_seed.csv", verbose=0)
        seconds = time.perf_counter() - start
    after = _load()
    units = len(sweeps.plan(spec))
    entry = {
        "spec": spec.name,
        "n_train": spec.n_train,
        "n_test": spec.n_test,
        "seeds": len(spec.seeds),
        "units": units,
        "units_timed": len(sweeps.plan(one_seed)),
        "rows_timed": len(table),
        "one_seed_seconds": seconds,
        "estimate_seconds": seconds * len(spec.seeds),
        "basis": f"seed {spec.seeds[0]} run in full, times {len(spec.seeds)} seeds",
        "n_jobs": 1,
        "load": {
            "before": before,
            "after": after,
            "loaded": max(before["load_1min"], after["load_1min"]) > (os.cpu_count() or 1),
        },
    }
    assert seconds > 0 and len(table) > 0
    record(RESULTS, f"sweeps/{name}", entry)
