"""The paper's grokking transformer: Nanda et al.'s set-up, every measure across grokking.

The test runs (or reuses, within one session) the ``grokking_transformer``
sweep through ``_paper.run_sweep``, writes ``paper/figures/grokking_transformer``
(train and test loss, weight norm and LLC against steps on a log axis, the
fit and the grokking step marked), ``paper/tables/grokking_transformer.md``
(step, losses, weight norm, LLC, with Nanda et al.'s published numbers
beside), the ``illusion_test`` verdicts of the epoch-wise table against steps
and each measure, and, when the sweep ran in this session, the measures'
share of its wall time in ``benchmarks/results/grokking_transformer_cost.json``.
It asserts the grokking delay: the test accuracy passes 90% at least four
times later than the training accuracy passes 99%.
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _paper import run_sweep, save_figure, write_table

from effcomplexity import analysis, sweeps
from effcomplexity.sweeps.families import _nn_measures

NAME = "grokking_transformer"
RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_FIT, TEST_FIT = 0.99, 0.90
#: Nanda et al. (2023), p = 113, 30% of the pairs, AdamW lr 1e-3, weight decay 1.
PUBLISHED = {
    "test loss before grokking": "about 4.8",
    "test loss after grokking": "about 0.005",
    "test loss falls between epochs": "about 13,000 and 14,500",
    "weight norm": "falls through circuit formation and clean-up",
}
#: Measures read against steps by illusion_test (the raw axis is the step itself).
VERDICT_MEASURES = ("step", "weight_norm", "param_norm", "llc", "n_eff", "pacbayes_flatness")


def _curve(df: pd.DataFrame) -> pd.DataFrame:
    columns = ["train_loss", "test_loss", "train_error", "test_error", "weight_norm"]
    columns += [c for c in ("param_norm", "llc", "llc_se", "n_eff") if c in df]
    curve = df.groupby("step", sort=True)[columns].mean().reset_index()
    curve["train_acc"], curve["test_acc"] = 1 - curve["train_error"], 1 - curve["test_error"]
    return curve


def _first(curve: pd.DataFrame, hit: pd.Series) -> float:
    where = np.flatnonzero(hit.to_numpy())
    return float(curve["step"].iloc[where[0]]) if where.size else float("nan")


def _figure(curve: pd.DataFrame, t_fit: float, t_grok: float, title: str):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    x = curve["step"]
    axes[0].plot(x, curve["train_loss"], "o-", label="train loss")
    axes[0].plot(x, curve["test_loss"], "s-", label="test loss")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[1].plot(x, curve["weight_norm"], "o-", color="C2")
    axes[1].set_ylabel("weight norm")
    if "llc" in curve:
        axes[2].errorbar(x, curve["llc"], yerr=curve.get("llc_se"), fmt="o-", color="C3")
    axes[2].set_ylabel("LLC")
    for ax in axes:
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0, right=x.max() * 1.1)
        ax.set_xlabel("step (full-batch AdamW)")
        for t, style, label in ((t_fit, ":", "train acc > 99%"), (t_grok, "--", "test acc > 90%")):
            if np.isfinite(t):
                ax.axvline(t, color="k", linestyle=style, linewidth=1, label=label)
    axes[1].legend(handles=axes[1].get_lines()[1:], fontsize="small")
    fig.suptitle(title)
    return fig


def _table(curve: pd.DataFrame) -> str:
    shown = curve[["step", "train_loss", "test_loss", "train_acc", "test_acc", "weight_norm"]]
    shown = shown.assign(**{c: curve[c] for c in ("llc", "n_eff") if c in curve})
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    for row in shown.itertuples(index=False):
        cells = [f"{int(row[0])}"] + [f"{v:.4g}" for v in row[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _published() -> str:
    """Nanda et al.'s numbers (p = 113, full-batch AdamW), one row each."""
    lines = ["| quantity | published (Nanda et al. 2023) |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in PUBLISHED.items()]
    return "\n".join(lines)


def _verdicts(df: pd.DataFrame) -> pd.DataFrame:
    """``illusion_test`` of the test error and loss against steps and each measure."""
    rows = []
    for error in ("test_error", "test_loss"):
        for measure in VERDICT_MEASURES:
            if measure not in df:
                continue
            finite = df[np.isfinite(df[measure].astype(float))]
            if finite[measure].nunique() >= analysis.MIN_POINTS:
                rows.append(analysis.illusion_test(finite, error=error, measures=[measure]))
    columns = ["measure", "error", "n_points", "verdict", "n_descents", "tau_error", "u_r2"]
    return pd.concat(rows, ignore_index=True)[columns]


def _timed_run(full: bool) -> tuple[pd.DataFrame, dict]:
    """The sweep, with the wall time spent inside each registered measure."""
    spent: dict[str, float] = collections.defaultdict(float)
    saved = dict(_nn_measures._REGISTRY)

    def timed(measure):
        def compute(cp):
            start = time.perf_counter()
            try:
                return measure.compute(cp)
            finally:
                spent[measure.name] += time.perf_counter() - start

        return _nn_measures.NetworkMeasure(measure.name, measure.columns, compute, measure.applies)

    _nn_measures._REGISTRY.update({name: timed(m) for name, m in saved.items()})
    try:
        start = time.perf_counter()
        df = run_sweep(NAME, full)
        wall = time.perf_counter() - start
    finally:
        _nn_measures._REGISTRY.update(saved)
    return df, {"wall_s": wall, "measures_s": dict(spent)}


def test_grokking_transformer(full):
    df, cost = _timed_run(full)
    curve = _curve(df)
    t_fit = _first(curve, curve["train_acc"] > TRAIN_FIT)
    t_grok = _first(curve, curve["test_acc"] > TEST_FIT)
    opts = sweeps.get_spec(NAME).sized(quick=not full).model_kwargs
    title = (
        f"(a + b) mod {opts['modulus']}, one-layer transformer (d_model {opts['d_model']}), "
        f"AdamW weight decay {df['weight_decay'].iloc[0]:g}, {'full' if full else 'quick'} run"
    )
    fig = _figure(curve, t_fit, t_grok, title)
    save_figure(fig, NAME, df)
    write_table(NAME, _table(curve))
    write_table(f"{NAME}_published", _published())
    write_table(f"{NAME}_verdicts", _verdicts(df))
    if cost["measures_s"]:  # the sweep ran here, not read back from an earlier run
        n_rows = len(curve)
        steps = float(curve["step"].max())
        training = cost["wall_s"] - sum(cost["measures_s"].values())
        cost.update(
            size="full" if full else "quick",
            checkpoints=n_rows,
            steps=steps,
            training_s=training,
            share={k: v / cost["wall_s"] for k, v in cost["measures_s"].items()},
            per_checkpoint_s={k: v / n_rows for k, v in cost["measures_s"].items()},
            training_between_checkpoints_s=training / max(n_rows - 1, 1),
        )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{NAME}_cost.json").write_text(json.dumps(cost, indent=1) + "\n")
    # The grokking delay: generalisation comes long after the fit.
    assert np.isfinite(t_fit) and np.isfinite(t_grok), curve
    assert t_grok >= 4 * max(t_fit, 1), (t_fit, t_grok)
