"""The paper's speed tables, from the records of the speed benchmarks.

``benchmarks/test_speed_*.py`` time the package against the published dense
algorithm and against the fit on the same fitted models, and merge their
records into ``benchmarks/results/*.json``. These tests turn the records into
``paper/tables/speed_*.md``. They run after every speed benchmark of the same
session (``conftest.pytest_collection_modifyitems`` moves them to the end), so a
plain ``pytest benchmarks/`` tabulates the times it has just measured; run
alone, they tabulate the records last committed.

Each table keeps every size the records hold: a ``--full`` run writes the
whole size grid, a quick run rewrites its subset of it.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from _paper import write_table
from conftest import RESULTS

pytestmark = pytest.mark.paper_last


def _records(filename: str) -> dict:
    path = RESULTS / filename
    if not path.exists():
        pytest.fail(f"{path} is missing: run the speed benchmark that writes it first.")
    return json.loads(path.read_text())


def _leaves(key: str) -> str:
    value = key.rsplit("leaves", 1)[1]
    return "grown to purity" if value == "full" else value


def _speed_claims(table: pd.DataFrame, speedup: str, agree: str, tol: float) -> None:
    # The claims the speed benchmarks assert, read back from what they recorded.
    assert (table[agree] <= tol).all(), table[[agree]]
    assert (table[speedup] > 1).all(), table[[speedup]]


def test_speed_forest_table():
    """Forest p_train and p_test: package, the published dense algorithm, and the fit."""
    data = _records("speed_trees.json")
    rows = []
    for key, r in data.items():
        if not re.fullmatch(r"forest_mnist_n\d+_leaves\w+", key):
            continue
        rows.append(
            {
                "n train": r["n_train"],
                "n test": r["n_test"],
                "leaves per tree": _leaves(key),
                "fit (s)": r["fit_cpu_seconds"],
                "package (s)": r["package_cpu_seconds"],
                "published dense (s)": r["baseline_cpu_seconds"],
                "speed-up vs published": r["speedup_vs_published"],
                "package / fit": r["package_over_fit"],
                "max rel. difference": r["max_relative_error"],
            }
        )
    assert rows, "speed_trees.json holds no forest record"
    order = {"10": 0, "100": 1, "grown to purity": 2}
    rows.sort(key=lambda r: (order[r["leaves per tree"]], r["n train"]))
    table = pd.DataFrame(rows)
    _speed_claims(table, "speed-up vs published", "max rel. difference", 1e-10)
    write_table("speed_forest", table)


def test_speed_boosting_table():
    """Staged boosting p_train and p_test after every round, against the last round dense."""
    data = _records("speed_trees.json")
    rows = []
    for key, r in data.items():
        if not re.fullmatch(r"boosting_n\d+_rounds\d+", key):
            continue
        rows.append(
            {
                "n train": r["n_train"],
                "n test": r["n_test"],
                "rounds": r["n_rounds"],
                "fit (s)": r["fit_cpu_s"],
                "package, every round (s)": r["package_all_rounds_cpu_s"],
                "published dense, last round (s)": r["baseline_last_round_cpu_s"],
                "speed-up vs published": r["speedup"],
                "package / fit": r["package_over_fit"],
                "max rel. difference": max(r["rel_diff_p_train"], r["rel_diff_p_test"]),
            }
        )
    assert rows, "speed_trees.json holds no boosting record"
    table = pd.DataFrame(rows).sort_values(["rounds", "n train"])
    _speed_claims(table, "speed-up vs published", "max rel. difference", 1e-10)
    write_table("speed_boosting", table)


def test_speed_min_norm_table():
    """Exact p_test of min-norm random-feature regression: SVD reuse against pinv."""
    data = _records("speed_linear.json")
    rows = []
    for key, run in data.items():
        if not key.startswith("min_norm_rff_p_test_"):
            continue
        for r in run["sizes"].values():
            rows.append(
                {
                    "run": key.rsplit("_", 1)[1],
                    "n train": run["n_train"],
                    "n test": run["n_test"],
                    "features N": r["n_features"],
                    "fit (s)": r["fit_s"],
                    "package (s)": r["package_s"],
                    "published dense (s)": r["plain_s"],
                    "speed-up vs published": r["speedup"],
                    "speed-up incl. fit": r["speedup_including_fit"],
                    "rel. difference": r["relative_difference"],
                }
            )
    assert rows, "speed_linear.json holds no min-norm record"
    table = pd.DataFrame(rows).sort_values(["run", "features N"])
    _speed_claims(table, "speed-up vs published", "rel. difference", 1e-8)
    write_table("speed_min_norm", table)
