"""The committed store of the full run: metadata per part, resume, ``--verify``, dask.

``test_verify_committed_units`` is the ``--verify K`` check of the committed
store: it recomputes K stored units drawn at random with the current code and
fails if any number differs beyond float noise (it records the result in
``results/full_verify.json``). The other tests exercise the store on a tiny
sweep in a temporary folder, so they run in the quick session too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import _paper
import pandas as pd
import pytest
from conftest import record

from effcomplexity import __version__, sweeps
from effcomplexity.sweeps import runner
from effcomplexity.sweeps.store import read_part

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


def test_full_run_keeps_one_part_per_unit_with_its_metadata(store, monkeypatch):
    monkeypatch.setattr(_paper, "git_commit", lambda: "c0ffee")
    table = _paper.run_sweep(TINY, full=True)
    assert len(table) == 3
    parts = _parts(store)
    assert len(parts) == 3
    fingerprint = TINY.sized(quick=False).fingerprint()
    units = sweeps.plan(TINY.sized(quick=False))
    for part in parts:
        frame, meta = read_part(part)
        assert meta["fingerprint"] == fingerprint
        assert meta["version"] == __version__ and meta["commit"] == "c0ffee"
        assert meta["unit"] == units[meta["index"]].key and len(frame) == 1
    assert (store / "tiny_store_full.csv.manifest.json").is_file()
    assert _paper.read_spec(store / "tiny_store_full.csv") == TINY.sized(quick=False)
    summary = _paper.store_summary(store)
    assert summary.values.tolist() == [["tiny_store", 3, 3, "c0ffee", __version__]]


def test_a_killed_run_resumes_at_a_later_commit(store, monkeypatch):
    # First "process": stores unit 0, then dies in unit 1 (as a kill would, it writes
    # no part of the unit in flight, only maybe a temporary file).
    real = runner.run_unit

    def dies_in_unit_1(spec, seed, params, points, key, *args, **kwargs):
        if key == sweeps.plan(spec)[1].key:
            parts = _paper.FULL_RUNS / "tiny_store_full.csv.parts"
            (parts / f".{_parts(store)[0].name}.tmp-dead").write_bytes(b"half a part")
            raise KeyboardInterrupt
        return real(spec, seed, params, points, key, *args, **kwargs)

    monkeypatch.setattr(runner, "run_unit", dies_in_unit_1)
    monkeypatch.setattr(_paper, "git_commit", lambda: "aaaa")
    with pytest.raises(KeyboardInterrupt):
        _paper.run_sweep(TINY, full=True)
    first = _parts(store)
    assert len(first) == 1
    summary = _paper.store_summary(store)
    assert summary[["units", "planned", "commits"]].values.tolist() == [[1, 3, "aaaa"]]

    # Second run at another commit: keeps unit 0 as it is, computes only units 1 and 2.
    calls = []

    def counted(spec, seed, params, points, key, *args, **kwargs):
        calls.append(key)
        return real(spec, seed, params, points, key, *args, **kwargs)

    monkeypatch.setattr(runner, "run_unit", counted)
    monkeypatch.setattr(_paper, "git_commit", lambda: "bbbb")
    bytes_before = first[0].read_bytes()
    table = _paper.run_sweep(TINY, full=True)
    units = sweeps.plan(TINY.sized(quick=False))
    assert calls == [units[1].key, units[2].key]
    assert first[0].read_bytes() == bytes_before
    parts_folder = store / "tiny_store_full.csv.parts"
    assert not list(parts_folder.glob(".*.tmp-*"))
    commits = [read_part(p)[1]["commit"] for p in _parts(store)]
    assert commits == ["aaaa", "bbbb", "bbbb"]
    assert _paper.store_summary(store)["commits"].tolist() == ["aaaa, bbbb"]
    # Oracle: the same sweep run in one go, without any store.
    pd.testing.assert_frame_equal(table, sweeps.run(TINY, quick=False, verbose=0))


def test_a_new_process_at_another_commit_continues_the_store(store, tmp_path):
    # The store's run id comes from its manifest, so a fresh process resumes it.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(_paper.ROOT / "benchmarks")!r})
        import _paper, test_full_store as t
        from effcomplexity.sweeps import runner
        from pathlib import Path
        _paper.FULL_RUNS = Path({str(store)!r})
        _paper.git_commit = lambda: sys.argv[1]
        calls = []
        real = runner.run_unit
        def counted(*args, **kwargs):
            calls.append(args[4])
            if len(calls) > int(sys.argv[2]):
                raise SystemExit(3)
            return real(*args, **kwargs)
        runner.run_unit = counted
        _paper.run_sweep(t.TINY, full=True)
        print(len(calls))
        """
    )
    path = tmp_path / "resume.py"
    path.write_text(script)

    def run(commit: str, limit: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(path), commit, str(limit)],
            capture_output=True,
            text=True,
            cwd=_paper.ROOT / "benchmarks",
            check=False,
        )

    assert run("one", 1).returncode == 3  # stores one unit, dies in the second
    done = run("two", 5)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]  # only the two missing units were computed
    commits = sorted(read_part(p)[1]["commit"] for p in _parts(store))
    assert commits == ["one", "two", "two"]


def test_verify_passes_on_stored_units(store):
    _paper.run_sweep(TINY, full=True)
    report = _paper.verify_units(3, store=store, seed=0)
    assert len(report) == 3 and all(not r["differing"] for r in report)


def _rewrite_part(part, change) -> None:
    """Change a part's rows, keeping its metadata line."""
    header = part.read_text().split("\n", 1)[0]
    frame, _ = read_part(part)
    change(frame)
    part.write_text(header + "\n" + frame.to_csv(index=False))


def test_verify_catches_a_changed_number(store):
    _paper.run_sweep(TINY, full=True)
    for part in _parts(store):
        _rewrite_part(part, lambda f: f.__setitem__("test_mse", f["test_mse"] * (1 + 1e-6)))
    report = _paper.verify_units(1, store=store, seed=0)
    assert report[0]["differing"] == ["test_mse"]


def test_verify_ignores_float_noise_but_not_a_changed_integer(store):
    _paper.run_sweep(TINY, full=True)
    for part in _parts(store):
        _rewrite_part(part, lambda f: f.__setitem__("test_mse", f["test_mse"] * (1 + 1e-12)))
    assert not _paper.verify_units(1, store=store, seed=0)[0]["differing"]
    for part in _parts(store):
        _rewrite_part(part, lambda f: f.__setitem__("n_train", f["n_train"] + 1))
    assert _paper.verify_units(1, store=store, seed=0)[0]["differing"] == ["n_train"]


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
