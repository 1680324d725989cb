"""Start-up time of the package and the command line, against a bare interpreter.

Each command runs in a fresh interpreter five times; the record holds the
median wall time and the median CPU time (user + system) of the child, and
both as ratios to ``python -c pass`` measured alongside. CPU time is the
steadier number on a shared machine, where wall time also counts waiting for
a core; the target is ``effcomplexity --help`` in under a second on two cores.
The record also lists the five modules ``python -X importtime`` charges most
(cumulative microseconds) for ``--help`` and for ``import effcomplexity``.

Before the package imported its public names on first use, ``--help``
loaded scikit-learn (through the package ``__init__``) and torch (through the
network sweep families' column list): on the same busy 2-core machine, five
runs interleaved with the current tree, its median was 4.0 s of CPU (15.6 s
wall) against 0.06 s (0.24 s wall) after, and ``import effcomplexity`` 2.0 s
of CPU against 0.03 s. ``-X importtime`` charged ``--help`` then with
scikit-learn (about 2.6 s cumulative, under ``effcomplexity._validation``) and
torch (about 1.4 s, under ``measures._nn.norms``).

The benchmark asserts only that ``--help`` costs at most ``HELP_CPU_RATIO``
times the CPU of a bare interpreter: importing scikit-learn (and with it
pandas and scipy) costs about fifty times as much, torch more.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

from conftest import record

RESULTS = "speed_imports.json"
REPEATS = 5
HELP_CPU_RATIO = 10.0
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "effcomplexity --help": ["-m", "effcomplexity", "--help"],
    "effcomplexity list": ["-m", "effcomplexity", "list"],
    "import effcomplexity": ["-c", "import effcomplexity"],
    "import effcomplexity.sweeps": ["-c", "import effcomplexity.sweeps"],
}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh interpreter running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True, env=_env())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _top_imports(args: list[str], n: int = 5) -> list[list]:
    """The ``n`` top-level imports with the largest cumulative ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        # Top-level entries only: nested ones are indented under their importer.
        if cumulative.strip().isdigit() and not name.startswith("  "):
            rows.append([name.strip(), int(cumulative)])
    return sorted(rows, key=lambda row: -row[1])[:n]


def test_startup_time():
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    # Interleaved, so a burst of load on the machine hits every command alike.
    for _ in range(REPEATS):
        for name, args in COMMANDS.items():
            runs[name].append(_timed(args))
    base_wall = statistics.median(w for w, _ in runs["python -c pass"])
    base_cpu = statistics.median(c for _, c in runs["python -c pass"])
    commands = {}
    for name, timings in runs.items():
        wall = statistics.median(w for w, _ in timings)
        cpu = statistics.median(c for _, c in timings)
        commands[name] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "wall_ratio": wall / base_wall,
            "cpu_ratio": cpu / base_cpu,
        }
    record(
        RESULTS,
        "startup",
        {
            "repeats": REPEATS,
            "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()),
            "commands": commands,
            "importtime_top_help": _top_imports(COMMANDS["effcomplexity --help"]),
            "importtime_top_import": _top_imports(COMMANDS["import effcomplexity"]),
        },
    )
    assert commands["effcomplexity --help"]["cpu_ratio"] < HELP_CPU_RATIO, commands
