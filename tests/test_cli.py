"""The ``effcomplexity`` command line: demo, list, sweep, analyze and plot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert main(["plot", str(path), "--kind", "violin"]) == 2
    assert "--kind must be one of" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["analyze", str(path), "--measures", "p_test"]) == 2
    assert "p_test" in capsys.readouterr().err
    assert main(["plot", str(path), "--kind", "composite", "--out", "/no/such/dir/x.png"]) == 2
    assert "--out" in capsys.readouterr().err


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
