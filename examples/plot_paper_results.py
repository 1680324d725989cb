"""
Reading the paper's results
===========================

The full-size runs behind the paper's tables are committed with the
repository, one results table per sweep under ``paper/runs/full/`` (with the
spec that produced it and a manifest of its parts). They are plain CSV files
in the results-table format, so reading them is one :func:`pandas.read_csv`
and judging them one :func:`effcomplexity.analysis.illusion_test`, without
recomputing anything.
"""

# %%
# The tables
# ----------
# The forest and boosting sweeps of Curth et al. (2023) on the 5,000-image
# MNIST subset that ships with the package's datasets.
from pathlib import Path

import pandas as pd

from effcomplexity import analysis, plotting

# The repository's root: this folder or the nearest one above it with paper/runs.
root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "paper" / "runs").is_dir())
runs = root / "paper" / "runs" / "full"
names = ["curth_trees_bundled_full.csv", "curth_boosting_bundled_full.csv"]
table = pd.concat([pd.read_csv(runs / name) for name in names], ignore_index=True)
table.groupby("sweep").agg(
    rows=("seed", "size"), seeds=("seed", "nunique"), n_train=("n_train", "first")
)

# %%
# The verdicts
# ------------
# Test error (0-1) against the raw parameter count and against
# :math:`\hat p_{test}`, one row per sweep and measure.
verdicts = analysis.illusion_test(
    table, error="test_error", measures=["n_params", "p_test"], by="sweep", n_perm=0
)
verdicts[["sweep", "measure", "verdict", "n_descents", "fold_back"]]

# %%
# The paper's summary figure for these two sweeps: the composite path
# against the raw count on the left, against :math:`\hat p_{test}` on the
# right, each panel titled with its verdict.
fig = plotting.summary(table, errors="test_error", measure="p_test", verdicts=verdicts)
