"""The committed store of the full run: provenance per unit, resume, ``--verify``, dask.

``test_verify_committed_units`` is the ``--verify K`` check of the committed
store: it recomputes K stored units drawn at random with the current code and
fails if any number differs beyond float noise (it records the result in
``results/full_verify.json``). The other tests exercise the store on a tiny
sweep in a temporary folder, so they run in the quick session too.
"""

from __future__ import annotations

import json
import sys

import _paper
import pandas as pd
import pytest
from conftest import record

from effcomplexity import sweeps

# A sweep of seconds: minimum-norm least squares on Gaussian features, three units.
TINY = sweeps.get_spec("ridgeless_theory").replace(
    name="tiny_store",
    n_train=30,
    n_test=20,
    grid={"n_features": (10, 40, 80)},
    seeds=(0,),
    quick={},
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(_paper, "FULL_RUNS", tmp_path / "full")
    return tmp_path / "full"


def _parts(store):
    return sorted((store / "tiny_store_full.csv.parts").glob("unit-*.csv"))


def test_full_run_records_provenance_per_unit(store):
    table = _paper.run_sweep(TINY, full=True)
    assert len(table) == 3
    parts = _parts(store)
    assert len(parts) == 3
    for part in parts:
        entry = json.loads(
            (store / "tiny_store_full.csv.provenance" / (part.name + ".json")).read_text()
        )
        assert entry["fingerprint"] == TINY.sized(quick=False).fingerprint()
        assert entry["version"] and entry["commit"]
    assert _paper.read_spec(store / "tiny_store_full.csv") == TINY.sized(quick=False)
    summary = _paper.store_summary(store)
    assert summary[["sweep", "units", "planned"]].values.tolist() == [["tiny_store", 3, 3]]


def test_unrecorded_part_is_recomputed_and_verify_passes(store):
    _paper.run_sweep(TINY, full=True)
    first = _parts(store)[0]
    (store / "tiny_store_full.csv.provenance" / (first.name + ".json")).unlink()
    _paper.run_sweep(TINY, full=True)  # drops the part without record, recomputes it
    assert len(_paper.full_store_units(store)) == 3
    report = _paper.verify_units(3, store=store, seed=0)
    assert len(report) == 3 and all(not r["differing"] for r in report)


def test_verify_catches_a_changed_number(store):
    _paper.run_sweep(TINY, full=True)
    for part in _parts(store):
        frame = pd.read_csv(part)
        frame["test_mse"] *= 1.001
        frame.to_csv(part, index=False)
    report = _paper.verify_units(1, store=store, seed=0)
    assert report[0]["differing"] == ["test_mse"]


def test_full_run_on_a_local_dask_cluster(store, monkeypatch):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # The workers import this checkout, as a cluster's workers must.
        client.run(sys.path.insert, 0, str(_paper.ROOT))
        monkeypatch.setitem(_paper.SETTINGS, "scheduler", cluster.scheduler_address)
        table = _paper.run_sweep(TINY, full=True)
    local = sweeps.run(TINY, quick=False, verbose=0)
    pd.testing.assert_frame_equal(table, local)
    assert len(_paper.full_store_units(store)) == 3


def test_verify_committed_units(verify):
    if not verify:
        pytest.skip("pass --verify K to recompute K units of the committed full run")
    units = _paper.full_store_units()
    if not units:
        pytest.skip(f"{_paper.FULL_RUNS} holds no finished unit yet")
    report = _paper.verify_units(verify)
    record("full_verify.json", "verify", {"k": len(report), "units": report})
    differing = [r for r in report if r["differing"]]
    assert not differing, f"units that no longer reproduce: {differing}"
