"""Shared plumbing of the paper benchmarks: where figures, tables and runs go.

Every ``benchmarks/test_paper_*.py`` test regenerates one figure or table of
``paper/``: it runs (or reuses, within one session) the sweeps it needs, draws
the figure with :mod:`effcomplexity.plotting`, writes ``paper/figures/NAME.png``,
``NAME.pdf`` and the data behind it as ``NAME.csv``, and asserts the claim the
figure illustrates.

Quick sweeps run into ``benchmarks/.paper_runs/`` (ignored by git). The
directory is cleared at the start of every ``pytest benchmarks/`` session, so a
quick run always regenerates from scratch; ``--resume`` keeps it, so that an
interrupted run picks up from the last finished unit.

Full sweeps (``--full``) run into ``paper/runs/full/``, which is committed: the
runner's results file ``NAME_full.csv`` and its folder ``NAME_full.csv.parts/``
(a manifest with the spec's fingerprint and one CSV part per finished unit,
each written atomically), plus, per unit, a provenance record in
``NAME_full.csv.provenance/`` (the package version, the git commit and the spec
fingerprint that computed it) and the sized spec as ``NAME_full.spec.json``, so
that :func:`verify_units` can recompute any stored unit with the current code.
A part without its provenance record (the process was killed between the two
writes) is removed before the next run and recomputed, never kept half-known.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import random
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

import effcomplexity
from effcomplexity import plotting, sweeps

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"
FIGURES = PAPER / "figures"
TABLES = PAPER / "tables"
RUNS = Path(__file__).resolve().parent / ".paper_runs"
#: The committed store of the full run.
FULL_RUNS = PAPER / "runs" / "full"
#: Settings of this session's sweeps, set from the command line by conftest.py:
#: ``scheduler`` (a dask scheduler address) and ``n_jobs``.
SETTINGS: dict = {"scheduler": None, "n_jobs": 1}

__all__ = [
    "FIGURES",
    "FULL_RUNS",
    "PAPER",
    "RUNS",
    "SETTINGS",
    "TABLES",
    "full_store_units",
    "provenance",
    "run_sweep",
    "save_figure",
    "store_summary",
    "verify_units",
    "write_table",
]

_PART = re.compile(r"^unit-(\d{6})-[0-9a-f]{8}\.[0-9a-f]{64}\.csv$")


def results_file(spec: sweeps.SweepSpec, full: bool) -> Path:
    """Where the results of ``spec`` at one size are stored."""
    if full:
        return FULL_RUNS / f"{spec.name}_full.csv"
    return RUNS / f"{spec.name}_quick.csv"


def run_sweep(spec, full: bool, **run_kwargs) -> pd.DataFrame:
    """Results of a sweep at the quick or full size, run once per session.

    ``spec`` is a library name or a :class:`~effcomplexity.sweeps.SweepSpec`;
    the results file is named after it and its size, so figures that share a
    sweep share one run. Full runs go to the committed store with a provenance
    record per unit; ``SETTINGS["scheduler"]`` sends the units to a dask cluster.
    """
    spec = sweeps.get_spec(spec) if isinstance(spec, str) else spec
    out = results_file(spec, full)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_kwargs.setdefault("verbose", 0)
    if SETTINGS.get("scheduler"):
        run_kwargs.setdefault("backend", "dask")
        run_kwargs.setdefault("scheduler", SETTINGS["scheduler"])
    elif SETTINGS.get("n_jobs", 1) != 1:
        run_kwargs.setdefault("n_jobs", SETTINGS["n_jobs"])
    if not full:
        return sweeps.run(spec, quick=True, out=out, **run_kwargs)
    sized = spec.sized(quick=False)
    _write_spec(sized, out)
    with recording_provenance(sized, out):
        return sweeps.run(sized, quick=False, out=out, **run_kwargs)


# -- provenance of the committed full run ---------------------------------------------------


def git_commit() -> str:
    """The commit of the code, with ``+dirty`` when tracked code differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    # The store and the figures change during a run; only the code makes the numbers.
    dirty = git(
        "status", "--porcelain", "--untracked-files=no", "--", "effcomplexity", "benchmarks"
    )
    return commit + ("+dirty" if dirty else "")


def provenance(spec: sweeps.SweepSpec) -> dict:
    """What computed a unit now: package version, git commit, spec fingerprint."""
    return {
        "version": effcomplexity.__version__,
        "commit": git_commit(),
        "fingerprint": spec.fingerprint(),
    }


def _parts(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def _records(out: Path) -> Path:
    return out.with_name(out.name + ".provenance")


def _spec_file(out: Path) -> Path:
    return out.with_name(out.stem + ".spec.json")


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_spec(spec: sweeps.SweepSpec, out: Path) -> None:
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    _atomic_text(_spec_file(out), json.dumps(fields, indent=1, sort_keys=True) + "\n")


def _tuples(value):
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def read_spec(out: Path) -> sweeps.SweepSpec:
    """The sized spec a stored full run was computed with (its fingerprint checked)."""
    fields = json.loads(_spec_file(out).read_text())
    spec = sweeps.SweepSpec(**{k: _tuples(v) for k, v in fields.items()})
    manifest = json.loads((_parts(out) / "manifest.json").read_text())
    if spec.fingerprint() != manifest["fingerprint"]:
        raise ValueError(
            f"{_spec_file(out)} does not rebuild the spec of {out} (fingerprint "
            f"{spec.fingerprint()[:12]}, manifest {manifest['fingerprint'][:12]})."
        )
    return spec


def _record_new_parts(spec: sweeps.SweepSpec, out: Path, stamp: dict) -> int:
    """Write the provenance record of every part that has none; return how many."""
    parts, records = _parts(out), _records(out)
    if not parts.is_dir():
        return 0
    units = None
    written = 0
    for part in sorted(parts.iterdir()):
        match = _PART.match(part.name)
        record = records / (part.name + ".json")
        if match is None or record.exists():
            continue
        units = units or sweeps.plan(spec)
        records.mkdir(exist_ok=True)
        entry = {
            "part": part.name,
            "unit": units[int(match.group(1))].key,
            **stamp,
            "recorded": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        _atomic_text(record, json.dumps(entry, indent=1, sort_keys=True) + "\n")
        written += 1
    return written


def _drop_unrecorded(out: Path) -> None:
    """Remove parts without a provenance record and records without a part."""
    parts, records = _parts(out), _records(out)
    names = {p.name for p in parts.iterdir()} if parts.is_dir() else set()
    for name in sorted(names):
        if _PART.match(name) and not (records / (name + ".json")).exists():
            logger.warning("Recomputing %s: its part has no provenance record.", name)
            (parts / name).unlink()
    if records.is_dir():
        for record in records.iterdir():
            if record.name.removesuffix(".json") not in names:
                record.unlink()


@contextlib.contextmanager
def recording_provenance(spec: sweeps.SweepSpec, out: Path, every: float = 2.0) -> Iterator[None]:
    """Record version, commit and fingerprint of each part the run in the block writes.

    Parts without a record are removed first (a killed run's last unit, whose
    provenance is unknown). While the block runs, a thread records every new
    part within ``every`` seconds; the block's end records the rest.
    """
    from filelock import FileLock, Timeout

    parts = _parts(out)
    if parts.is_dir():
        try:
            with FileLock(parts / "lock", timeout=0):
                _drop_unrecorded(out)
        except Timeout:
            raise BlockingIOError(f"{out} is in use: another run is writing to it.") from None
    stamp = provenance(spec)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every):
            _record_new_parts(spec, out, stamp)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        _record_new_parts(spec, out, stamp)


def full_store_units(store: Path = FULL_RUNS) -> list[tuple[Path, Path]]:
    """``(results file, part)`` of every unit in the committed store with a record."""
    units = []
    for out in sorted(store.glob("*_full.csv")):
        for part in sorted(_parts(out).glob("unit-*.csv")):
            if (_records(out) / (part.name + ".json")).exists():
                units.append((out, part))
    return units


def store_summary(store: Path = FULL_RUNS) -> pd.DataFrame:
    """Per stored sweep: units finished of units planned, and the commits that computed them."""
    rows = []
    for out in sorted(store.glob("*_full.csv")):
        records = [json.loads(p.read_text()) for p in sorted(_records(out).glob("*.json"))]
        planned = len(sweeps.plan(read_spec(out))) if _spec_file(out).exists() else None
        rows.append(
            {
                "sweep": out.name.removesuffix("_full.csv"),
                "units": len(records),
                "planned": planned,
                "commits": ", ".join(sorted({r["commit"][:12] for r in records})),
                "versions": ", ".join(sorted({r["version"] for r in records})),
            }
        )
    return pd.DataFrame(rows, columns=["sweep", "units", "planned", "commits", "versions"])


def verify_units(
    k: int,
    *,
    store: Path = FULL_RUNS,
    seed: int | None = None,
    rtol: float = 1e-7,
    atol: float = 1e-10,
) -> list[dict]:
    """Recompute ``k`` stored units drawn at random and compare every number.

    Returns one dict per unit: the part, its recorded commit, and the columns
    whose values differ beyond ``rtol``/``atol`` (empty when the unit matches).
    """
    from effcomplexity.sweeps.runner import run_unit

    candidates = full_store_units(store)
    chosen = random.Random(seed).sample(candidates, min(k, len(candidates)))
    report = []
    for out, part in chosen:
        spec = read_spec(out)
        unit = sweeps.plan(spec)[int(_PART.match(part.name).group(1))]
        stored = pd.read_csv(part, keep_default_na=False, na_values=[""])
        rows = pd.DataFrame(run_unit(spec, unit.seed, unit.params, unit.points, unit.key))
        differing = []
        for column in rows.columns:
            if column not in stored or not pd.api.types.is_numeric_dtype(stored[column]):
                continue
            new = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
            old = stored[column].to_numpy(float)
            if not np.allclose(new, old, rtol=rtol, atol=atol, equal_nan=True):
                differing.append(column)
        record = json.loads((_records(out) / (part.name + ".json")).read_text())
        report.append(
            {
                "results": out.name,
                "unit": unit.key,
                "commit": record["commit"],
                "differing": differing,
            }
        )
    return report


def save_figure(fig, name: str, data: pd.DataFrame) -> Path:
    """Write ``paper/figures/NAME.png`` and ``.pdf`` and the data as ``NAME.csv``."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    plotting.save(fig, FIGURES / f"{name}.png", formats=("pdf",))
    data.to_csv(FIGURES / f"{name}.csv", index=False)
    return FIGURES / f"{name}.png"


def write_table(name: str, table: pd.DataFrame | str, *, floatfmt: str = ".3g") -> Path:
    """Write ``paper/tables/NAME.md`` (a pipe table) for ``paper.md`` to include."""
    TABLES.mkdir(parents=True, exist_ok=True)
    text = table if isinstance(table, str) else _markdown(table, floatfmt)
    path = TABLES / f"{name}.md"
    path.write_text(text.rstrip() + "\n")
    return path


def _markdown(df: pd.DataFrame, floatfmt: str) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return "" if pd.isna(v) else format(v, floatfmt)
        return str(v)

    header = "| " + " | ".join(map(str, df.columns)) + " |"
    cells = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    # Dashes as wide as the widest cell (plus the padding between columns): pandoc sizes
    # the columns of a wide table by them.
    widths = [
        2 + max([3, len(str(name))] + [len(r[k]) for r in cells])
        for k, name in enumerate(df.columns)
    ]
    rule = "|" + "|".join("-" * w for w in widths) + "|"
    rows = ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join([header, rule, *rows])
