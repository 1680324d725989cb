"""Shared plumbing of the paper benchmarks: where figures, tables and runs go.

Every ``benchmarks/test_paper_*.py`` test regenerates one figure or table of
``paper/``: it runs (or reuses, within one session) the sweeps it needs, draws
the figure with :mod:`effcomplexity.plotting`, writes ``paper/figures/NAME.png``,
``NAME.pdf`` and the data behind it as ``NAME.csv``, and asserts the claim the
figure illustrates.

Sweeps run into ``benchmarks/.paper_runs/`` (ignored by git). The directory is
cleared at the start of every ``pytest benchmarks/`` session, so a run always
regenerates from scratch; ``--resume`` keeps it, so that an interrupted run
picks up from the last finished unit.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from effcomplexity import plotting, sweeps

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"
FIGURES = PAPER / "figures"
TABLES = PAPER / "tables"
RUNS = Path(__file__).resolve().parent / ".paper_runs"

__all__ = ["FIGURES", "PAPER", "RUNS", "TABLES", "run_sweep", "save_figure", "write_table"]


def run_sweep(spec, full: bool, **run_kwargs) -> pd.DataFrame:
    """Results of a sweep at the quick or full size, run once per session.

    ``spec`` is a library name or a :class:`~effcomplexity.sweeps.SweepSpec`;
    the results file is named after it and its size, so figures that share a
    sweep share one run.
    """
    spec = sweeps.get_spec(spec) if isinstance(spec, str) else spec
    RUNS.mkdir(parents=True, exist_ok=True)
    out = RUNS / f"{spec.name}_{'full' if full else 'quick'}.csv"
    run_kwargs.setdefault("verbose", 0)
    return sweeps.run(spec, quick=not full, out=out, **run_kwargs)


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
