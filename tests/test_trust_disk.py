"""What ``sweeps.run(out=...)`` and ``effcomplexity sweep --out`` may do to a disk.

They replace or delete only files they wrote, give files the mode the umask
allows, leave nothing after a failed start, keep two runs into one ``out``
apart with a lock, and cap ``n_jobs`` at the cores. Oracles: the bytes and
listings taken before the call, ``0o666 & ~umask`` (what ``open`` gives), an
uninterrupted run of the same spec, and ``joblib.cpu_count()``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from effcomplexity import sweeps
from effcomplexity.cli import main
from effcomplexity.sweeps import runner
from tests._sweeps import interrupted

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
}


def _tiny():
    return sweeps.get_spec("ridgeless_theory").replace(
        n_train=40, n_test=20, grid={"n_features": (10, 80)}, seeds=(0,)
    )


_SPEC_CODE = (
    "sweeps.get_spec('ridgeless_theory').replace(n_train=40, n_test=20, "
    "grid={'n_features': (10, 80)}, seeds=(0,))"
)


@pytest.fixture(scope="module")
def reference():
    return sweeps.run(_tiny(), verbose=0)


def _listing(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


# -- files that are not the runner's ----------------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize(
    ("name", "payload"),
    [("data.csv", b"a,b\n1,2\n3,4\n"), ("data.parquet", b"PAR1 not really"), ("x.csv", b"")],
)
def test_a_file_that_is_not_a_results_table_is_refused(tmp_path, name, payload, overwrite):
    (tmp_path / name).write_bytes(payload)
    before = _listing(tmp_path)
    with pytest.raises(ValueError, match="is not a sweep results table.*does not replace"):
        sweeps.run(_tiny(), out=tmp_path / name, verbose=0, overwrite=overwrite)
    assert _listing(tmp_path) == before


def test_a_parts_folder_with_other_files_is_refused(tmp_path):
    parts = tmp_path / "r.csv.parts"
    parts.mkdir()
    (parts / "notes.txt").write_text("mine")
    before = _listing(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=r"holds files this package did not write \(notes"):
            sweeps.run(_tiny(), out=tmp_path / "r.csv", verbose=0, overwrite=overwrite)
    assert _listing(tmp_path) == before
    (tmp_path / "r.csv.parts.csv").mkdir()  # a folder where the results file would go
    with pytest.raises(ValueError, match="would replace a folder"):
        sweeps.run(_tiny(), out=tmp_path / "r.csv.parts.csv", verbose=0)


def test_overwrite_replaces_only_the_runners_own_files(reference, tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    interrupted(_tiny(), out, monkeypatch, stop_at=1)
    parts = tmp_path / "r.csv.parts"
    (parts / "notes.txt").write_text("mine")
    (parts / "unit-000009-deadbeef.junk.csv").write_text("a damaged part")
    table = sweeps.run(_tiny().replace(seeds=(3,)), out=out, verbose=0, overwrite=True)
    assert set(table["seed"]) == {3}
    # The finished run removes its own entries of the parts folder, never the user's file.
    assert sorted(p.name for p in parts.iterdir()) == ["lock", "notes.txt"]
    assert (parts / "notes.txt").read_text() == "mine"
    resumed = sweeps.run(_tiny().replace(seeds=(3,)), out=out, verbose=0)
    pd.testing.assert_frame_equal(resumed, table, check_exact=True)
    assert (parts / "notes.txt").read_text() == "mine"


def test_a_results_table_without_its_parts_needs_overwrite(reference, tmp_path):
    out = tmp_path / "r.parquet"
    sweeps.run(_tiny(), out=out, verbose=0)
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(out.read_bytes())  # a results table, recognised by its columns
    with pytest.raises(ValueError, match="without its resume state.*overwrite=True"):
        sweeps.run(_tiny(), out=copy, verbose=0)
    table = sweeps.run(_tiny(), out=copy, verbose=0, overwrite=True)
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


# -- permissions ------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_files_get_the_mode_the_umask_allows(tmp_path, umask, monkeypatch):
    old = os.umask(umask)
    try:
        interrupted(_tiny(), tmp_path / "r.csv", monkeypatch, stop_at=1)
        files = [tmp_path / "r.csv", *(tmp_path / "r.csv.parts").glob("unit-*")]
        files.append(tmp_path / "r.csv.parts" / "manifest.json")
        assert len(files) == 3
        for path in files:
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path.name
        assert (tmp_path / "r.csv.parts").stat().st_mode & 0o777 == 0o777 & ~umask
        sweeps.run(_tiny(), out=tmp_path / "r.csv", verbose=0)
    finally:
        os.umask(old)
    for path in (tmp_path / "r.csv", tmp_path / "r.csv.manifest.json"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path.name


# -- failed starts ----------------------------------------------------------------------


def test_an_error_in_the_first_unit_leaves_nothing_behind(tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise RuntimeError("the first unit failed")

    monkeypatch.setattr(runner, "run_unit", failing)
    (tmp_path / "keep.txt").write_text("x")
    before = _listing(tmp_path)
    with pytest.raises(RuntimeError, match="first unit failed"):
        sweeps.run(_tiny(), out=tmp_path / "new" / "deeper" / "r.csv", verbose=0)
    assert _listing(tmp_path) == before


def test_an_error_in_the_first_unit_keeps_what_was_there(reference, tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    interrupted(_tiny(), out, monkeypatch, stop_at=1)  # one unit to redo
    before = _listing(tmp_path)

    def failing(*args, **kwargs):
        raise RuntimeError("the unit failed")

    monkeypatch.setattr(runner, "run_unit", failing)
    with pytest.raises(RuntimeError, match="the unit failed"):
        sweeps.run(_tiny(), out=out, verbose=0)
    assert _listing(tmp_path) == before
    monkeypatch.undo()
    pd.testing.assert_frame_equal(sweeps.run(_tiny(), out=out, verbose=0), reference)


def test_a_refused_run_changes_nothing_at_out(tmp_path):
    out = tmp_path / "r.csv"
    sweeps.run(_tiny(), out=out, verbose=0)
    (tmp_path / "r.csv.parts" / "checkpoints" / "unit-000007-00000000").mkdir(parents=True)
    before = _listing(tmp_path)
    with pytest.raises(ValueError, match="different sweep spec.*overwrite=True"):
        sweeps.run(_tiny().replace(seeds=(4,)), out=out, verbose=0)
    assert _listing(tmp_path) == before


def test_bad_arguments_and_unwritable_folders_leave_nothing(tmp_path):
    (tmp_path / "afile").write_text("x")
    before = _listing(tmp_path)
    with pytest.raises(ValueError, match="n_jobs must be a positive integer"):
        sweeps.run(_tiny(), out=tmp_path / "new" / "r.csv", n_jobs=0, verbose=0)
    with pytest.raises(ValueError, match="Unknown sweep"):
        sweeps.run("no_such_sweep", out=tmp_path / "new" / "r.csv", verbose=0)
    with pytest.raises(NotADirectoryError, match=r"out='.*afile/r.csv': cannot write .*afile"):
        sweeps.run(_tiny(), out=tmp_path / "afile" / "r.csv", verbose=0)
    assert _listing(tmp_path) == before


def test_an_unreachable_scheduler_fails_and_leaves_nothing(tmp_path):
    pytest.importorskip("distributed")
    import dask

    before = _listing(tmp_path)
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(OSError, match=r"scheduler='tcp://127.0.0.1:1': cannot connect"),
    ):
        sweeps.run(_tiny(), backend="dask", scheduler="tcp://127.0.0.1:1", out=tmp_path / "r.csv")
    assert _listing(tmp_path) == before


# -- two runs at once -------------------------------------------------------------------


def test_a_second_process_is_refused_while_the_first_writes(reference, tmp_path):
    """Two processes into one ``out``: the second is refused, the first finishes intact."""
    out = tmp_path / "r.csv"
    go = tmp_path.parent / f"{tmp_path.name}-go"
    script = textwrap.dedent(
        f"""
        import os, time
        from effcomplexity import sweeps
        from effcomplexity.sweeps import runner
        original = runner.run_unit
        def held(*args, **kwargs):  # the first unit waits until the test lets it go
            deadline = time.monotonic() + 900
            while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
                time.sleep(0.01)
            return original(*args, **kwargs)
        runner.run_unit = held
        sweeps.run({_SPEC_CODE}, out={str(out)!r}, verbose=0)
        """
    )
    first = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=ENV)
    try:
        manifest = tmp_path / "r.csv.parts" / "manifest.json"
        deadline = time.monotonic() + 600
        while not manifest.exists():  # written under the lock
            assert first.poll() is None, "the first run ended before the second started"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(BlockingIOError, match=r"out='.*r.csv' is in use"):
            sweeps.run(_tiny(), out=out, verbose=0)
        with pytest.raises(BlockingIOError, match="is in use"):
            sweeps.run(_tiny(), out=out, verbose=0, overwrite=True)
        # The command line says the same in one line, naming the flag.
        second = subprocess.run(
            [sys.executable, "-m", "effcomplexity", "sweep", "ridgeless_theory"]
            + ["--out", str(out), "--quiet"],
            cwd=REPO,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert first.poll() is None, "the first run ended before the second was refused"
        go.write_text("")
        assert first.wait(timeout=600) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert second.stderr.strip().splitlines() == [
        f"effcomplexity: error: --out {out} is in use: another sweep is writing to it "
        f"(it holds {out}.parts/lock). Wait for it to finish, then run again to reuse its "
        f"results, or choose another --out."
    ]
    pd.testing.assert_frame_equal(
        pd.read_csv(out, keep_default_na=False, na_values=[""]), reference, check_dtype=False
    )
    pd.testing.assert_frame_equal(sweeps.run(_tiny(), out=out, verbose=0), reference)


def test_two_processes_started_together_do_not_corrupt_the_table(reference, tmp_path):
    out = tmp_path / "r.csv"
    script = f"from effcomplexity import sweeps\nsweeps.run({_SPEC_CODE}, out={str(out)!r})"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO,
            env=ENV,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        results.append((proc.returncode, err))
    # Each either finished or was refused with the lock message, never anything else.
    for code, err in results:
        assert code == 0 or ("BlockingIOError" in err and "is in use" in err), err
    assert any(code == 0 for code, _ in results)
    pd.testing.assert_frame_equal(
        pd.read_csv(out, keep_default_na=False, na_values=[""]), reference, check_dtype=False
    )
    assert (tmp_path / "r.csv.manifest.json").is_file()
    assert not (tmp_path / "r.csv.parts").exists()


# -- processes --------------------------------------------------------------------------


def test_n_jobs_above_the_cores_is_capped_with_a_warning(reference, monkeypatch):
    from joblib import cpu_count

    cores = cpu_count()
    used = []
    sequential, loky = runner._sequential, runner._loky
    monkeypatch.setattr(runner, "_sequential", lambda *a, **k: used.append(1) or sequential(*a))
    monkeypatch.setattr(runner, "_loky", lambda s, u, n, *a: used.append(n) or loky(s, u, n, *a))
    with pytest.warns(UserWarning, match=rf"n_jobs={cores + 3} asks for more .* using {cores}\."):
        table = sweeps.run(_tiny(), n_jobs=cores + 3, verbose=0)
    assert used == [cores]
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


def test_the_command_line_names_jobs_in_the_warning(tmp_path, capsys, monkeypatch):
    import joblib

    monkeypatch.setattr(joblib, "cpu_count", lambda *a, **k: 1)
    assert main(["sweep", "ridgeless_theory", "--jobs", "7", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert (
        "effcomplexity: warning: --jobs 7 asks for more processes than the 1 core(s) "
        "available; using 1." in err.splitlines()
    )


def test_a_scheduler_address_is_tried_for_a_short_time(monkeypatch):
    """The connect timeout passed to dask is the runner's short one, not dask's 30 s."""
    import distributed

    from effcomplexity.sweeps import runner

    seen = {}

    def fake_client(address, **kwargs):
        seen.update(kwargs, address=address)
        raise OSError("refused")

    monkeypatch.setattr(distributed, "Client", fake_client)
    with pytest.raises(OSError, match="cannot connect"):
        runner._dask_client(None, "tcp://127.0.0.1:1")
    assert seen == {"address": "tcp://127.0.0.1:1", "timeout": runner.SCHEDULER_CONNECT_TIMEOUT}
    assert runner.SCHEDULER_CONNECT_TIMEOUT <= 10


# -- what --out names on the command line -------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["sweep", "ridgeless_theory", "--out", ""],
            "--out '' is empty; give the results file's path, e.g. results.csv.",
        ),
        (
            ["sweep", "ridgeless_theory", "--out", "/"],
            "--out / names a folder, not a results file; give a file path, e.g. /results.csv.",
        ),
        (
            ["sweep", "ridgeless_theory", "--out", "some/folder/"],
            "--out some/folder/ names a folder, not a results file; give a file path, "
            "e.g. some/folder/results.csv.",
        ),
        (
            ["demo", "--out", ""],
            "--out '' is empty; give a folder for the sweep tables and the figure, "
            "e.g. --out demo_results.",
        ),
    ],
)
def test_an_empty_or_folder_out_is_one_line(tmp_path, capsys, monkeypatch, argv, line):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"effcomplexity: error: {line}"]
    assert list(tmp_path.iterdir()) == []


def test_python_out_errors_name_the_keyword():
    with pytest.raises(ValueError, match=r"^out='' is empty"):
        sweeps.run(_tiny(), out="", verbose=0)
    with pytest.raises(ValueError, match=r"^out='/' names a folder"):
        sweeps.run(_tiny(), out="/", verbose=0)


def test_plot_out_a_folder_writes_into_it(reference, tmp_path, capsys, monkeypatch):
    table = tmp_path / "r.csv"
    sweeps.run(_tiny(), out=table, verbose=0)
    folder = tmp_path / "figures"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(table), "--kind", "measures", "--out", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == f"Figure: {folder / 'measures.png'}"
    assert [p.name for p in folder.iterdir()] == ["measures.png"]
    assert (folder / "measures.png").read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "figures.png").exists()
    assert main(["plot", str(table), "--kind", "measures", "--out", ""]) == 1
    assert "--out '' is empty" in capsys.readouterr().err
