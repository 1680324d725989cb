"""Insert the generated tables into ``paper/paper.md``, after every other benchmark.

``paper/build.py`` puts the content of ``paper/tables/NAME.md`` below each
``<!-- include: tables/NAME.md -->`` marker (replacing what it inserted
before), so the paper quotes the tables this run has just written.

When the session ran every benchmark file from scratch (not ``--resume``),
the time each took is first recorded in ``benchmarks/results/paper_times.json``
(quick and ``--full`` apart) and tabulated in ``paper/tables/run_times.md``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from _paper import PAPER, write_table
from conftest import DURATIONS, RESULTS

pytestmark = pytest.mark.paper_build

HERE = Path(__file__).resolve().parent
TIMES = RESULTS / "paper_times.json"


def _record_times(full: bool, resumed: bool) -> None:
    files = {p.name for p in HERE.glob("test_*.py")} - {Path(__file__).name}
    data = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    if files <= set(DURATIONS) and not resumed:  # a whole run from scratch: keep its times
        data["full" if full else "quick"] = {
            "files": {name: round(DURATIONS[name], 1) for name in sorted(files)},
            "cpu_count": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        TIMES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    if not data:
        write_table(
            "run_times",
            "| benchmark file | quick (min) | full (min) |\n|---|---|---|\n"
            "| all | not yet timed | not yet timed |",
        )
        (PAPER / "tables" / "run_times_machine.md").write_text(
            "No complete `pytest benchmarks/` run has been timed yet.\n"
        )
        return
    names = sorted({n for run in data.values() for n in run["files"]})
    table = pd.DataFrame({"benchmark file": names + ["total"]})
    for run in ("quick", "full"):
        if run not in data:
            continue
        seconds = [data[run]["files"].get(n, float("nan")) for n in names]
        minutes = [s / 60 for s in seconds] + [sum(seconds) / 60]
        table[f"{run} (min)"] = minutes
    write_table("run_times", table, floatfmt=".1f")
    machine = "; ".join(
        f"{run}: {v['cpu_count']} cores, load average {v['load_average_1min_at_end']} at the end"
        for run, v in sorted(data.items())
    )
    (PAPER / "tables" / "run_times_machine.md").write_text(f"Measured on {machine}.\n")


def test_build_paper(full, request):
    _record_times(full, bool(request.config.getoption("--resume")))
    spec = importlib.util.spec_from_file_location("paper_build", PAPER / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build(PAPER / "paper.md")
    text = (PAPER / "paper.md").read_text()
    assert build.render(text, PAPER) == text
    missing = build.untabulated(text, PAPER / "tables")
    assert not missing, f"paper.md quotes numbers no generated table holds: {missing}"
