"""Benchmarks regenerate the paper's figures and tables and the speed records.

Quick by default (minutes on a laptop); ``pytest benchmarks/ --full`` runs the
published sizes into the committed store ``paper/runs/full/`` (``--resume``
continues it in a later session, ``--verify K`` recomputes K stored units,
``--scheduler ADDRESS`` runs the units on a dask cluster).
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
        "--price-full",
        action="store_true",
        default=False,
        help="price the --full run without running it: time one seed of every full sweep "
        "and a truncated unit of every network sweep (results/full_run.json, "
        "results/speed_nn_sweeps.json); the paper states the estimate",
    )
    parser.addoption(
        "--resume",
        action="store_true",
        default=False,
        help="keep the paper's sweep results from an interrupted run (benchmarks/.paper_runs/, "
        "or with --full the committed paper/runs/full/) and resume them, instead of "
        "regenerating from scratch",
    )
    parser.addoption(
        "--verify",
        type=int,
        default=0,
        metavar="K",
        help="recompute K units of the committed full run (paper/runs/full/) drawn at random "
        "with the current code and fail if any number differs beyond float noise",
    )
    parser.addoption(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the paper's sweeps on the dask cluster at ADDRESS (tcp://host:8786)",
    )
    parser.addoption(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="local processes per sweep (ignored with --scheduler)",
    )


def pytest_sessionstart(session):
    """Start the quick sweeps afresh unless ``--resume``; never discard the full store."""
    import shutil

    import _paper

    config = session.config
    resume = config.getoption("--resume", default=False)
    if not resume and _paper.RUNS.exists():
        shutil.rmtree(_paper.RUNS)
    stored = sorted(_paper.FULL_RUNS.glob("*.csv.parts/unit-*.csv"))
    # --verify checks the stored units, so it continues from them as --resume does.
    keeps = resume or config.getoption("--verify", default=0)
    if config.getoption("--full", default=False) and not keeps and stored:
        raise pytest.UsageError(
            f"{_paper.FULL_RUNS} holds {len(stored)} finished units of the full run. Pass "
            f"--resume (or --verify K) to continue from them; to start afresh, remove the folder "
            f"(git rm -r {_paper.FULL_RUNS.relative_to(_paper.ROOT)})."
        )
    _paper.SETTINGS.update(
        scheduler=config.getoption("--scheduler", default=None),
        n_jobs=config.getoption("--jobs", default=1),
    )


@pytest.fixture(scope="session")
def full(request) -> bool:
    """True when ``--full`` was given."""
    return bool(request.config.getoption("--full"))


@pytest.fixture(scope="session")
def verify(request) -> int:
    """The K of ``--verify K`` (0 when not given)."""
    return int(request.config.getoption("--verify"))


@pytest.fixture(scope="session")
def price_full(request) -> bool:
    """True when ``--price-full`` was given."""
    return bool(request.config.getoption("--price-full"))


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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "paper_last: runs after every other benchmark (tables of their records)"
    )
    config.addinivalue_line(
        "markers", "paper_build: runs last of all (inserts the tables into paper.md)"
    )


def pytest_collection_modifyitems(session, config, items):
    """Order: benchmarks and figures, then ``paper_last`` tables, then ``paper_build``.

    The speed tables read the records the speed benchmarks write, and the
    paper build reads every table, so both wait for the rest of the session.
    """

    def rank(item) -> int:
        if item.get_closest_marker("paper_build"):
            return 2
        return 1 if item.get_closest_marker("paper_last") else 0

    items.sort(key=rank)  # stable: file order within each rank


# -- the run's time, per benchmark file (the paper's "how long it takes") -----------------

#: Seconds spent in each benchmark file this session (setup, call and teardown).
DURATIONS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    name = Path(report.nodeid.split("::", 1)[0]).name
    DURATIONS[name] = DURATIONS.get(name, 0.0) + float(report.duration)
