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
runner's results file ``NAME_full.csv``, its folder ``NAME_full.csv.parts/``
(kept when the sweep finishes: a manifest with the spec's fingerprint and one
CSV part per finished unit, each written atomically and carrying in its first
line the package version, the spec fingerprint, the unit, the run id and the
git commit that computed it), ``NAME_full.csv.manifest.json`` once the sweep
is finished, and the sized spec as ``NAME_full.spec.json``, so that
:func:`verify_units` can recompute any stored unit with the current code. A
killed run leaves no part of the units in flight; the next run recomputes them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from effcomplexity import plotting, sweeps
from effcomplexity.sweeps import store as sweeps_store

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
    "git_commit",
    "read_spec",
    "run_sweep",
    "save_figure",
    "store_summary",
    "sweep_timing",
    "verify_units",
    "write_table",
]


def results_file(spec: sweeps.SweepSpec, full: bool) -> Path:
    """Where the results of ``spec`` at one size are stored."""
    if full:
        return FULL_RUNS / f"{spec.name}_full.csv"
    return RUNS / f"{spec.name}_quick.csv"


def run_sweep(spec, full: bool, **run_kwargs) -> pd.DataFrame:
    """Results of a sweep at the quick or full size, run once per session.

    ``spec`` is a library name or a :class:`~effcomplexity.sweeps.SweepSpec`;
    the results file is named after it and its size, so figures that share a
    sweep share one run. Full runs go to the committed store, keeping one part
    per unit that records the version, spec fingerprint and git commit that
    computed it; ``SETTINGS["scheduler"]`` sends the units to a dask cluster.
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
        return _timed_quick(spec, out, run_kwargs)
    sized = spec.sized(quick=False)
    _write_spec(sized, out)
    # Every part records the commit beside the version and fingerprint the store records;
    # the commit is never compared, so a later commit resumes the same store.
    with sweeps_store.options(keep_parts=True, metadata={"commit": git_commit()}):
        return sweeps.run(sized, quick=False, out=out, **run_kwargs)


def _timing_file(out: Path) -> Path:
    return out.with_name(out.stem + ".timing.json")


def _load() -> dict:
    one, five, _ = os.getloadavg()
    return {"load_1min": one, "load_5min": five, "cores": os.cpu_count()}


def _timed_quick(spec: sweeps.SweepSpec, out: Path, run_kwargs: dict) -> pd.DataFrame:
    """Run a quick sweep; when it is computed from scratch, store its wall time beside it.

    ``benchmarks/test_speed_nn_sweeps.py`` reads the time back (:func:`sweep_timing`)
    instead of training the same networks a second time in the same session.
    """
    finished = out.with_name(out.name + ".manifest.json").exists()
    if finished or _parts(out).exists():  # read back, or resumed: not a whole run's time
        return sweeps.run(spec, quick=True, out=out, **run_kwargs)
    before = _load()
    start = time.perf_counter()
    table = sweeps.run(spec, quick=True, out=out, **run_kwargs)
    seconds = time.perf_counter() - start
    timing = {
        "seconds": seconds,
        "n_jobs": run_kwargs.get("n_jobs", 1),
        "backend": run_kwargs.get("backend", "joblib"),
        "units": len(sweeps.plan(spec.sized(quick=True))),
        "fingerprint": spec.sized(quick=True).fingerprint(),
        "load": {"before": before, "after": _load()},
    }
    _timing_file(out).write_text(json.dumps(timing, indent=1, sort_keys=True) + "\n")
    return table


def sweep_timing(name: str) -> dict | None:
    """Wall time of this session's quick run of library sweep ``name``, if it ran here.

    ``None`` when the sweep was not computed from scratch in this session (the
    quick runs' folder is cleared when a session starts) or when the library
    spec changed since.
    """
    spec = sweeps.get_spec(name)
    path = _timing_file(results_file(spec, False))
    if not path.is_file():
        return None
    timing = json.loads(path.read_text())
    return timing if timing["fingerprint"] == spec.sized(quick=True).fingerprint() else None


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


def _parts(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def _spec_file(out: Path) -> Path:
    return out.with_name(out.stem + ".spec.json")


def _manifest(out: Path) -> dict | None:
    """The manifest of a stored sweep: in its parts folder while running, else beside it."""
    for path in (_parts(out) / "manifest.json", out.with_name(out.name + ".manifest.json")):
        if path.is_file():
            return json.loads(path.read_text())
    return None


def _write_spec(spec: sweeps.SweepSpec, out: Path) -> None:
    """Store the sized spec beside ``out``, unless ``out`` holds another spec's units.

    The run then refuses that store, and the spec that computed it stays readable.
    """
    manifest = _manifest(out)
    if manifest is not None and manifest.get("fingerprint") != spec.fingerprint():
        return
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    path = _spec_file(out)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(fields, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


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
    manifest = _manifest(out)
    if manifest is None:
        raise FileNotFoundError(f"{out} has no manifest: no unit of it was ever stored.")
    if spec.fingerprint() != manifest["fingerprint"]:
        raise ValueError(
            f"{_spec_file(out)} does not rebuild the spec of {out} (fingerprint "
            f"{spec.fingerprint()[:12]}, manifest {manifest['fingerprint'][:12]})."
        )
    return spec


def full_store_units(store: Path = FULL_RUNS) -> list[tuple[Path, Path]]:
    """``(results file, part)`` of every unit stored in the committed store."""
    return [
        (out, part)
        for out in sorted(store.glob("*_full.csv"))
        for part in sorted(_parts(out).glob("unit-*.csv"))
    ]


def store_summary(store: Path = FULL_RUNS) -> pd.DataFrame:
    """Per stored sweep: units finished of units planned, and the commits that computed them."""
    rows = []
    for out in sorted(store.glob("*_full.csv")):
        metas = [
            sweeps_store.read_part(part)[1] or {} for part in sorted(_parts(out).glob("unit-*.csv"))
        ]
        manifest = _manifest(out) or {}
        rows.append(
            {
                "sweep": out.name.removesuffix("_full.csv"),
                "units": len(metas),
                "planned": manifest.get("n_units"),
                "commits": ", ".join(sorted({str(m.get("commit"))[:12] for m in metas})),
                "versions": ", ".join(sorted({str(m.get("version")) for m in metas})),
            }
        )
    return pd.DataFrame(rows, columns=["sweep", "units", "planned", "commits", "versions"])


def _differing(new: pd.DataFrame, old: pd.DataFrame, rtol: float, atol: float) -> list[str]:
    """Columns of ``new`` whose values ``old`` does not hold: floats within noise, else exact."""
    differing = []
    for column in new.columns:
        a, b = new[column], old[column]
        if pd.api.types.is_float_dtype(a.dtype):
            same = np.allclose(
                a.to_numpy(float, na_value=np.nan),
                b.to_numpy(float, na_value=np.nan),
                rtol=rtol,
                atol=atol,
                equal_nan=True,
            )
        else:
            missing = a.isna().to_numpy()
            same = bool(
                (missing == b.isna().to_numpy()).all()
                and (a[~missing].to_numpy(object) == b[~missing].to_numpy(object)).all()
            )
        if not same:
            differing.append(column)
    return differing


def verify_units(
    k: int,
    *,
    store: Path = FULL_RUNS,
    seed: int | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> list[dict]:
    """Recompute ``k`` stored units drawn at random and compare every value.

    Floats must agree within ``rtol``/``atol`` (float noise), integers and
    strings exactly. Returns one dict per unit: the results file, the unit,
    the commit its part records, and the columns that differ (empty when the
    unit matches).
    """
    from effcomplexity.sweeps import runner

    candidates = full_store_units(store)
    chosen = random.Random(seed).sample(candidates, min(k, len(candidates)))
    report = []
    for out, part in chosen:
        spec = read_spec(out)
        stored, meta = sweeps_store.read_part(part)
        unit = sweeps.plan(spec)[int(meta["index"])]
        if unit.key != meta["unit"]:
            raise ValueError(
                f"{part} holds unit {meta['unit']!r}, but its index plans {unit.key!r}."
            )
        rows = runner.run_unit(spec, unit.seed, unit.params, unit.points, unit.key)
        new = runner._unit_frame(spec, unit, rows)
        old = sweeps_store.coerce(stored, runner._dtypes(spec))
        report.append(
            {
                "results": out.name,
                "unit": unit.key,
                "commit": meta.get("commit"),
                "differing": _differing(new, old, rtol, atol),
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
