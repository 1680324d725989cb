"""The ``effcomplexity`` command line: demo, list and sweep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from effcomplexity import sweeps
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
    for command in ("demo", "list", "sweep"):
        assert command in done.stdout


def test_list_names_every_sweep(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in sweeps.available():
        assert name in out


def test_demo_prints_the_curve_and_reads_it(capsys):
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.strip().startswith("n_features"))
    assert header.split() == ["n_features", "train_error", "test_error", "p_train", "p_test"]
    n = sweeps.get_spec("belkin_rff").sized(quick=True).n_train
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == len(sweeps.get_spec("belkin_rff").sized(quick=True).grid["n_features"])
    # Oracle for p_train: the rank of the design with its intercept column, min(N + 1, n).
    for row in rows:
        n_features = int(row[0].replace(",", ""))
        assert float(row[3].replace(",", "")) == min(n_features + 1, n)
    assert "Test error peaks at" in out and "p_test falls" in out


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
    assert main(["sweep", "no_such_sweep"]) == 2
    err = capsys.readouterr().err
    assert "Unknown sweep 'no_such_sweep'" in err and "belkin_rff" in err
