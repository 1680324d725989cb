"""Benchmarks regenerate the paper's figures and tables and the speed records.

Quick by default (minutes on a laptop); ``pytest benchmarks/ --full`` runs the
published sizes.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

RESULTS = Path(__file__).parent / "results"
PAPER = Path(__file__).resolve().parents[1] / "paper"


def pytest_addoption(parser):
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run benchmarks and paper experiments at the published (full) size",
    )
    parser.addoption(
        "--resume",
        action="store_true",
        default=False,
        help="keep the paper's sweep results from an interrupted run (benchmarks/.paper_runs/) "
        "and resume them, instead of regenerating from scratch",
    )


def pytest_sessionstart(session):
    """Start the paper's sweeps afresh unless ``--resume`` was given."""
    import shutil

    from _paper import RUNS

    if not session.config.getoption("--resume", default=False) and RUNS.exists():
        shutil.rmtree(RUNS)


@pytest.fixture(scope="session")
def full(request) -> bool:
    """True when ``--full`` was given."""
    return bool(request.config.getoption("--full"))


def record(filename: str, key: str, value: dict) -> Path:
    """Merge ``{key: value}`` into ``benchmarks/results/<filename>`` (JSON).

    Several benchmarks can write their own keys into one results file.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / filename
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    data["_machine"] = {"python": platform.python_version(), "processor": platform.machine()}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
