"""Insert the generated tables into ``paper/paper.md``, after every other benchmark.

``paper/build.py`` puts the content of ``paper/tables/NAME.md`` below each
``<!-- include: tables/NAME.md -->`` marker (replacing what it inserted
before), so the paper quotes the tables this run has just written.

Run times, recorded in ``benchmarks/results/paper_times.json`` and tabulated
in ``paper/tables/run_times.md``:

* a session that ran every benchmark file from scratch (not ``--resume``)
  records the time each took, quick and ``--full`` apart;
* a ``--full`` session of some speed benchmark files (``test_speed_*``, which
  share no sweeps with other files), with no ``-k`` or ``-m`` selection,
  records the time of each of them under ``full_files``;
* where no ``--full`` run timed a file, the table estimates it from the
  records of ``--price-full`` (``results/full_run.json``: one seed of each
  full classical sweep; ``results/speed_nn_sweeps.json``: the network sweeps
  from a truncated unit and the family's cost model) and, for
  ``test_speed_sweeps.py``, from the timed parts its ``--full`` records hold,
  and says so.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from _paper import PAPER, write_table
from conftest import DURATIONS, RESULTS

pytestmark = pytest.mark.paper_build

HERE = Path(__file__).resolve().parent
TIMES = RESULTS / "paper_times.json"
#: The full sweeps each paper file runs first in a session (later files reuse them).
FULL_SWEEPS = {
    "test_paper_belkin.py": ("belkin_rff", "trees"),
    "test_paper_curth.py": ("boosting", "rff"),
    "test_paper_ridgeless.py": ("ridgeless_theory",),
    "test_paper_networks.py": ("mnist1d_width", "mnist1d_epochs", "grokking", "grokking_no_wd"),
}
#: Files that only read the runs of the files above: priced at their quick time.
READERS = ("test_paper_published.py", "test_paper_speed.py", "test_paper_verdicts.py")


def _read(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else {}


def _sweep_seconds(name: str) -> float:
    """The priced full time of one sweep (NaN where it was not priced)."""
    classical = _read("full_run.json").get(f"sweeps/{name}")
    if classical:
        return float(classical["estimate_seconds"])
    network = _read("speed_nn_sweeps.json").get(f"full_unit/{name}")
    return float(network["sweep_seconds_by_cost_model"]) if network else math.nan


def _speed_sweeps_seconds() -> float:
    """``test_speed_sweeps.py`` at full size: the sum of the parts its --full records timed."""
    records = _read("speed_sweeps.json")
    total, found = 0.0, False
    for key, entry in records.items():
        if not key.endswith("_full"):
            continue
        found = True
        total += sum(entry.get("package_wall_s_by_jobs", {}).values())
        total += sum(entry.get("baseline_measured_units_s", {}).values())
        units = entry.get("units")
        if isinstance(units, dict):
            for unit in units.values():
                total += sum(unit.get(k, 0.0) for k in ("fit_one_class_s", "package_s"))
                total += unit.get("baseline_dense_s", 0.0)
    return total if found else math.nan


def _full_estimate(name: str, data: dict) -> tuple[float, str]:
    """Seconds of one file under --full and how they were obtained."""
    if name in data.get("full_files", {}):
        return data["full_files"][name], "measured: --full run of the file"
    if name in FULL_SWEEPS:
        seconds = sum(_sweep_seconds(s) for s in FULL_SWEEPS[name])
        return seconds, "estimated: priced sweeps (--price-full)"
    if name in READERS and "quick" in data:
        return data["quick"]["files"].get(name, math.nan), "estimated: its quick time"
    if name == "test_speed_sweeps.py":
        return _speed_sweeps_seconds(), "estimated: sum of its timed --full parts"
    if name == "test_speed_full_run.py":
        return 0.0, "skipped under --full"
    return math.nan, "not timed"


def _record_times(full: bool, resumed: bool, selected: bool) -> None:
    files = {p.name for p in HERE.glob("test_*.py")} - {Path(__file__).name}
    data = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    if files <= set(DURATIONS) and not resumed and not selected:
        # a whole run from scratch: keep its times
        data["full" if full else "quick"] = {
            "files": {name: round(DURATIONS[name], 1) for name in sorted(files)},
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        }
    elif full and not selected:
        speed = {n: round(t, 1) for n, t in DURATIONS.items() if n.startswith("test_speed_")}
        data.setdefault("full_files", {}).update(speed)
    RESULTS.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    if "quick" not in data:
        write_table(
            "run_times",
            "| benchmark file | quick (min) | full (min) |\n|---|---|---|\n"
            "| all | not yet timed | not yet timed |",
        )
        (PAPER / "tables" / "run_times_machine.md").write_text(
            "No complete `pytest benchmarks/` run has been timed yet.\n"
        )
        return
    names = sorted(files | set(data["quick"]["files"]))
    quick = [data["quick"]["files"].get(n, math.nan) for n in names]
    if "full" in data:
        full_s = [data["full"]["files"].get(n, math.nan) for n in names]
        how = ["measured: complete --full run"] * len(names)
    else:
        full_s, how = zip(*(_full_estimate(n, data) for n in names), strict=True)
    untimed = [n for n, s in zip(names, full_s, strict=True) if math.isnan(s)]
    total_how = "estimated" if any(h.startswith("estimated") for h in how) else "measured"
    if untimed:
        total_how += f", without {len(untimed)} untimed file(s)"
    table = pd.DataFrame(
        {
            "benchmark file": [*names, "total"],
            "quick (min)": [s / 60 for s in quick]
            + [math.fsum(s for s in quick if not math.isnan(s)) / 60],
            "full (min)": [s / 60 for s in full_s]
            + [math.fsum(s for s in full_s if not math.isnan(s)) / 60],
            "full: how": [*how, total_how],
        }
    )
    write_table("run_times", table, floatfmt=".1f")
    runs = {k: v for k, v in data.items() if k in ("quick", "full")}
    machine = "; ".join(
        f"{run}: {v['cpu_count']} cores, load average {v['load_average_1min_at_end']} at the end"
        for run, v in sorted(runs.items())
    )
    (PAPER / "tables" / "run_times_machine.md").write_text(f"Measured on {machine}.\n")


def test_build_paper(full, request):
    selected = bool(request.config.getoption("keyword") or request.config.getoption("markexpr"))
    _record_times(full, bool(request.config.getoption("--resume")), selected)
    spec = importlib.util.spec_from_file_location("paper_build", PAPER / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build(PAPER / "paper.md")
    text = (PAPER / "paper.md").read_text()
    assert build.render(text, PAPER) == text
    missing = build.untabulated(text, PAPER / "tables")
    assert not missing, f"paper.md quotes numbers no generated table holds: {missing}"
