"""The sweep engine: streaming to disk, resume after a kill, repair, parallel determinism.

Oracle throughout: an uninterrupted, single-process run of the same spec; a
resumed, repaired or parallel run must equal it exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from effcomplexity import sweeps
from tests._sweeps import count_units, interrupted

REPO = Path(__file__).resolve().parents[1]


def _tiny_rff(n_points: int = 6):
    grid = (10, 30, 60, 90, 120, 200, 300, 400, 500, 600, 700, 800)[:n_points]
    return (
        sweeps.get_spec("belkin_rff")
        .sized(quick=True)
        .replace(n_train=100, n_test=100, grid={"n_features": grid}, seeds=(0, 1))
    )


@pytest.fixture(scope="module")
def reference():
    spec = _tiny_rff()
    return spec, sweeps.run(spec, verbose=0)


def _parts(out: Path) -> list[Path]:
    folder = out.with_name(out.name + ".parts")
    return sorted(p for p in folder.glob("unit-*")) if folder.exists() else []


def _finished(out: Path) -> bool:
    """A finished store: the results file and its manifest, no parts folder."""
    manifest = out.with_name(out.name + ".manifest.json")
    return out.is_file() and manifest.is_file() and not out.with_name(out.name + ".parts").exists()


def _interrupted(spec, out: Path, monkeypatch, stop_at: int) -> None:
    """Leave ``out`` as a run stopped after storing its first ``stop_at`` units."""
    interrupted(spec, out, monkeypatch, stop_at)
    assert len(_parts(out)) == stop_at


def test_out_streams_every_unit_and_rerun_skips_them(reference, tmp_path, monkeypatch):
    spec, expected = reference
    out = tmp_path / "rff.parquet"
    table = sweeps.run(spec, out=out, verbose=0)
    pd.testing.assert_frame_equal(table, expected, check_exact=True)
    assert _finished(out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=True)
    calls = count_units(monkeypatch)
    again = sweeps.run(spec, out=out, verbose=0)
    assert calls == []
    pd.testing.assert_frame_equal(again, expected, check_exact=True)


def test_csv_output(reference, tmp_path):
    spec, expected = reference
    out = tmp_path / "rff.csv"
    sweeps.run(spec, out=out, verbose=0)
    assert out.read_text().startswith("sweep,dataset,seed,axis,n_params")
    reread = sweeps.run(spec, out=out, verbose=0)
    pd.testing.assert_frame_equal(reread, expected, check_exact=True)


def test_out_without_suffix_gets_one(reference, tmp_path):
    spec, _ = reference
    sweeps.run(spec, out=tmp_path / "results", verbose=0)
    assert (tmp_path / "results.parquet").exists()
    assert sweeps.results_path(tmp_path / "results")[1] == "parquet"


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    """Kill a sweep in another process with SIGKILL mid-run, resume it, compare."""
    spec = _tiny_rff(n_points=12)
    n_units = len(sweeps.plan(spec))
    out = tmp_path / "killed.parquet"
    script = textwrap.dedent(
        f"""
        from effcomplexity import sweeps
        spec = sweeps.get_spec("belkin_rff").sized(quick=True).replace(
            n_train={spec.n_train}, n_test={spec.n_test}, grid={dict(spec.grid)!r},
            seeds={spec.seeds!r})
        sweeps.run(spec, out={str(out)!r}, verbose=0)
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env)
    deadline = time.monotonic() + 120
    try:
        while len(_parts(out)) < 3:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep wrote no parts"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    written = len(_parts(out))
    assert 3 <= written < n_units, "the kill came too late to interrupt the sweep"
    # A kill during a write leaves at most a temporary file behind.
    (out.with_name(out.name + ".parts") / ".unit-000003.tmp-x").write_bytes(b"PAR1\x00half")
    (tmp_path / f".{out.name}.tmp-y").write_bytes(b"PAR1\x00half")

    resumed = sweeps.run(spec, out=out, verbose=0)
    expected = sweeps.run(spec, verbose=0)
    pd.testing.assert_frame_equal(resumed, expected, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=True)
    assert _finished(out)
    assert not list(tmp_path.glob(".*"))


def test_corrupt_parts_are_detected_and_recomputed(reference, tmp_path, monkeypatch):
    spec, expected = reference
    out = tmp_path / "rff.parquet"
    _interrupted(spec, out, monkeypatch, stop_at=6)
    parts = _parts(out)
    parts[0].write_bytes(parts[0].read_bytes()[:-40])  # truncated
    payload = bytearray(parts[3].read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # one flipped byte
    parts[3].write_bytes(bytes(payload))
    (parts[5].parent / "unit-000005-deadbeef.notahash.parquet").write_bytes(b"junk")
    out.write_bytes(b"not a parquet file")
    calls = count_units(monkeypatch)
    repaired = sweeps.run(spec, out=out, verbose=0)
    assert sorted(calls) == sorted(sweeps.plan(spec)[i].key for i in (0, 3, 6, 7, 8, 9, 10, 11))
    pd.testing.assert_frame_equal(repaired, expected, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=True)
    assert _finished(out)


def test_out_of_another_spec_is_refused_unless_overwritten(reference, tmp_path):
    spec, expected = reference
    out = tmp_path / "rff.parquet"
    sweeps.run(spec, out=out, verbose=0)
    other = spec.replace(seeds=(5,))
    with pytest.raises(ValueError, match="different sweep spec"):
        sweeps.run(other, out=out, verbose=0)
    table = sweeps.run(other, out=out, verbose=0, overwrite=True)
    assert set(table["seed"]) == {5}
    assert _finished(out)
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["fingerprint"] == other.sized(True).fingerprint()


def test_one_and_two_jobs_give_identical_tables(reference):
    spec, expected = reference
    parallel = sweeps.run(spec, n_jobs=2, verbose=0)
    pd.testing.assert_frame_equal(parallel, expected, check_exact=True)


def test_dask_cluster_gives_the_local_table(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    spec, expected = reference
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(sys.path.insert, 0, str(REPO))
        on_client = sweeps.run(spec, backend="dask", client=client, verbose=0)
        on_address = sweeps.run(
            spec,
            backend="dask",
            scheduler=cluster.scheduler_address,
            out=tmp_path / "dask.parquet",
            verbose=0,
        )
    pd.testing.assert_frame_equal(on_client, expected, check_exact=True)
    pd.testing.assert_frame_equal(on_address, expected, check_exact=True)


def test_progress_bar_reports_units_and_is_silenced_by_verbose_0(reference, capsys):
    spec, _ = reference
    sweeps.run(spec, verbose=0)
    assert capsys.readouterr().err == ""
    sweeps.run(spec, verbose=1)
    err = capsys.readouterr().err
    n = len(sweeps.plan(spec))
    assert f"{n}/{n}" in err and spec.name in err


def test_run_arguments_are_checked(reference):
    spec, _ = reference
    with pytest.raises(ValueError, match="client and scheduler apply only"):
        sweeps.run(spec, scheduler="tcp://127.0.0.1:1", verbose=0)
    with pytest.raises(ValueError, match="blas_threads"):
        sweeps.run(spec, blas_threads=0, verbose=0)
    with pytest.raises(TypeError, match="SweepSpec or the name"):
        sweeps.run(42, verbose=0)
