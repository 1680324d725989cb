"""The paper's width sweep with the network's own p_test (Jeffares et al. 2024).

Runs (or reuses, within one session) the library sweep ``telescoping_width``:
a one-hidden-layer ReLU network on squared loss, MNIST digits 3 and 5 with 20%
of the training labels flipped, the telescoping tracker on at every step. It
writes ``paper/figures/telescoping_width.png``, ``.pdf`` and ``.csv`` (test
error and test MSE against width and against ``p_test``, ``p_train`` and
``p_test`` against width, and the tracking gap), the per-width numbers
``paper/tables/telescoping_width_widths.md`` and the ``illusion_test``
verdicts ``paper/tables/telescoping_width.md`` (test error and test MSE,
against ``n_params``, ``p_train`` and ``p_test``), and asserts what the figure
reads from:

* the widths cross the interpolation threshold (the largest widths reach
  zero training error by the last epoch);
* the tracker follows the network (relative gap at most
  ``TRACKING_TOLERANCE``) in at least 90% of the trained rows, and in at
  least two seeds of every width at every recorded epoch, so every width has
  ``p_train`` and ``p_test`` with their probe standard errors. A row whose
  gap passed the tolerance says ``telescoping="diverged"``; the figure and
  the tables average ``p`` over the tracked rows and say how many there are,
  and the verdicts against ``p_train`` and ``p_test`` read the tracked rows
  only (the narrowest networks move furthest from their linearisation).

The time of the quick run is recorded in
``benchmarks/results/telescoping_width_cost.json``; ``--price-full`` adds an
estimate of the full run from truncated full-size units.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
from _paper import SETTINGS, run_sweep, save_figure, write_table
from conftest import record

from effcomplexity import analysis, sweeps
from effcomplexity.sweeps.families import _nn_measures

NAME = "telescoping_width"
COST = "telescoping_width_cost.json"
#: The verdicts the table reports: each error against each measure.
ERRORS = ("test_error", "test_mse")
MEASURES = ("n_params", "p_train", "p_test")
#: Columns averaged over seeds per width.
COLUMNS = (
    "n_params",
    "train_error",
    "test_error",
    "train_mse",
    "test_mse",
    "p_train",
    "p_train_se",
    "p_test",
    "p_test_se",
    "telescoping_gap",
    "weight_norm",
)


def _load() -> dict:
    one, five, _ = os.getloadavg()
    return {"cores": os.cpu_count(), "load_1min": one, "load_5min": five}


def _final(df: pd.DataFrame) -> pd.DataFrame:
    """Rows at the last recorded epoch, as a path along width alone."""
    return df[df["epoch"] == df["epoch"].max()].assign(axis="width")


def _tracked(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose telescoping model follows the network (p_train and p_test reported)."""
    return df[(df["telescoping"] != "diverged") & df["p_test"].notna()]


def _per_width(final: pd.DataFrame) -> pd.DataFrame:
    """Seed means per width, with the standard errors the figure draws.

    ``p_train`` and ``p_test`` are means over the tracked seeds (``n_tracked``).
    """
    groups = final.groupby("width", sort=True)
    means = groups[list(COLUMNS)].mean()
    n_seeds = groups.size()
    means["n_tracked"] = _tracked(final).groupby("width").size().reindex(means.index).fillna(0)
    n_test = groups["n_test"].first()
    means["test_mse_seed_se"] = groups["test_mse"].std(ddof=1) / np.sqrt(n_seeds)
    for column in ("p_train", "p_test"):
        means[f"{column}_seed_se"] = groups[column].std(ddof=1) / np.sqrt(means["n_tracked"])
    # Binomial standard error of the seed mean of the 0-1 test error over all test images.
    error = means["test_error"]
    means["test_error_binom_se"] = np.sqrt(error * (1 - error) / (n_seeds * n_test))
    means["max_gap"] = groups["telescoping_gap"].max()
    means["n_seeds"] = n_seeds
    return means.reset_index()


def _verdicts(final: pd.DataFrame) -> pd.DataFrame:
    """``illusion_test`` of each error against each measure; p only where it is tracked."""
    rows = [
        analysis.illusion_test(
            final if measure == "n_params" else _tracked(final), error=error, measures=[measure]
        )
        for error in ERRORS
        for measure in MEASURES
    ]
    return pd.concat(rows, ignore_index=True)


def _figure(means: pd.DataFrame, seeds: str, epochs: int, n_train: int, n_test: int, opts):
    import matplotlib.pyplot as plt

    lr, momentum, batch = opts["lr"], opts["momentum"], opts["batch_size"]

    widths = means["width"].to_numpy()
    fig, axes = plt.subplots(2, 3, figsize=(14.5, 8.2), layout="constrained")
    fig.suptitle(
        f"One-hidden-layer ReLU network on squared loss, MNIST 3 vs 5: {n_train} training images "
        f"with 20% of labels flipped, {n_test} test images\nSGD lr {lr:g}, momentum "
        f"{momentum:g}, batch {batch}; epoch {epochs}, seeds {seeds}",
        fontsize=11,
    )
    bars = {"capsize": 3, "marker": "o", "markersize": 4}

    ax = axes[0, 0]
    ax.errorbar(
        widths, means["test_error"], yerr=means["test_error_binom_se"], label="test", **bars
    )
    ax.plot(widths, means["train_error"], "s--", color="0.45", markersize=4, label="train")
    ax.set(xscale="log", xlabel="hidden width w", ylabel="0-1 error")
    ax.set_title("(a) error against width", fontsize=10)
    ax.legend(fontsize=8, title="bars: binomial SE", title_fontsize=8)

    ax = axes[0, 1]
    ax.errorbar(widths, means["test_mse"], yerr=means["test_mse_seed_se"], label="test", **bars)
    ax.plot(widths, means["train_mse"], "s--", color="0.45", markersize=4, label="train")
    ax.set(xscale="log", xlabel="hidden width w", ylabel="MSE (summed over 2 outputs)")
    ax.set_title("(b) squared error against width", fontsize=10)
    ax.legend(fontsize=8, title="bars: SE over seeds", title_fontsize=8)

    ax = axes[0, 2]
    for column, color in (("p_train", "C2"), ("p_test", "C3")):
        mean, se = means[column], means[f"{column}_seed_se"]
        ax.plot(widths, mean, "o-", color=color, markersize=4, label=column)
        ax.fill_between(widths, mean - se, mean + se, color=color, alpha=0.25, linewidth=0)
    ax.set(xscale="log", xlabel="hidden width w", ylabel=f"effective parameters (n = {n_train})")
    ax.set_title("(c) telescoping p_train and p_test", fontsize=10)
    ax.legend(fontsize=8, title="bands: SE over tracked seeds", title_fontsize=8)
    for w, k, s in zip(widths, means["n_tracked"], means["n_seeds"], strict=True):
        if k < s:
            ax.annotate(
                f"w = {w}: {int(k)} of {int(s)} seeds tracked",
                (w, 0.03),
                xycoords=("data", "axes fraction"),
                ha="left",
                fontsize=7,
            )

    for ax, column, se, title in (
        (axes[1, 0], "test_error", "test_error_binom_se", "(d) 0-1 test error against p_test"),
        (axes[1, 1], "test_mse", "test_mse_seed_se", "(e) test MSE against p_test"),
    ):
        ax.errorbar(
            means["p_test"],
            means[column],
            xerr=means["p_test_seed_se"],
            yerr=means[se],
            color="C0",
            **bars,
        )
        for w, x, y in zip(widths, means["p_test"], means[column], strict=True):
            ax.annotate(f"w={w}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ylabel = "0-1 test error" if column == "test_error" else "test MSE"
        ax.set(xlabel="p_test (telescoping, seed mean)", ylabel=ylabel)
        ax.set_title(title + " (path in width order)", fontsize=10)

    ax = axes[1, 2]
    ax.plot(widths, means["telescoping_gap"], "o-", markersize=4, label="mean over seeds")
    ax.plot(widths, means["max_gap"], "v:", markersize=4, label="largest")
    ax.axhline(_nn_measures.TRACKING_TOLERANCE, color="C3", linestyle="--", linewidth=1)
    ax.annotate(
        "tolerance: p reported below it",
        (widths[-1], _nn_measures.TRACKING_TOLERANCE),
        textcoords="offset points",
        xytext=(0, 4),
        ha="right",
        fontsize=8,
        color="C3",
    )
    ax.set(
        xscale="log",
        xlabel="hidden width w",
        ylabel="relative RMS gap",
        ylim=(0, 1.25 * _nn_measures.TRACKING_TOLERANCE),
    )
    ax.set_title("(f) telescoping model vs network, test inputs", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if ax.get_xscale() == "log":
            ax.set_xticks(widths)
            ax.set_xticklabels([str(w) for w in widths], fontsize=8)
            ax.minorticks_off()
    return fig


def _table(means: pd.DataFrame) -> pd.DataFrame:
    def pm(mean, se, fmt):
        return [f"{m:{fmt}} ± {s:{fmt}}" for m, s in zip(mean, se, strict=True)]

    return pd.DataFrame(
        {
            "width": means["width"],
            "n_params": means["n_params"].astype(int),
            "train error": means["train_error"].map("{:.3f}".format),
            "test error ± binom. SE": pm(means["test_error"], means["test_error_binom_se"], ".3f"),
            "train MSE": means["train_mse"].map("{:.3f}".format),
            "test MSE ± SE": pm(means["test_mse"], means["test_mse_seed_se"], ".3f"),
            "p_train ± SE": pm(means["p_train"], means["p_train_seed_se"], ".1f"),
            "p_test ± SE": pm(means["p_test"], means["p_test_seed_se"], ".1f"),
            "probe SE of p_test": means["p_test_se"].map("{:.2f}".format),
            "seeds tracked": [
                f"{int(k)} of {int(s)}"
                for k, s in zip(means["n_tracked"], means["n_seeds"], strict=True)
            ],
            "largest gap": means["max_gap"].map("{:.3f}".format),
        }
    )


def test_telescoping_width(full):
    """Test error and MSE against width and against p_test, with illusion_test verdicts."""
    start, load = time.perf_counter(), _load()
    df = run_sweep(NAME, full)
    seconds = time.perf_counter() - start
    spec = sweeps.get_spec(NAME).sized(quick=not full)
    final = _final(df)
    means = _per_width(final)
    seeds = ", ".join(str(s) for s in sorted(df["seed"].unique()))
    epochs = int(df["epoch"].max())
    n_train, n_test = int(df["n_train"].iloc[0]), int(df["n_test"].iloc[0])

    fig = _figure(means, seeds, epochs, n_train, n_test, spec.resolved_model_kwargs())
    save_figure(fig, NAME, df)
    write_table(f"{NAME}_widths", _table(means))
    verdicts = _verdicts(final)
    write_table(
        NAME,
        verdicts[["error", "measure", "verdict", "n_descents", "peak_location", "tau_error"]],
    )
    if not full:
        record(
            COST,
            "quick",
            {
                "seconds": seconds,
                "units": len(sweeps.plan(spec)),
                "n_jobs": SETTINGS.get("n_jobs", 1),
                "load": {"before": load, "after": _load()},
            },
        )

    # The widths cross the interpolation threshold: the largest fit every training label.
    assert means["train_error"].iloc[-1] == 0, means[["width", "train_error"]]
    assert (means["train_error"] > 0).any(), "no width stays below the interpolation threshold"
    # The tracker follows at least 90% of the trained networks, and at least two seeds of
    # every width at every recorded epoch, so every width has p_train and p_test throughout.
    trained = df[df["epoch"] > 0]
    tracked = _tracked(trained)
    assert len(tracked) >= 0.9 * len(trained), trained.loc[trained["telescoping"] != "probe"]
    per_point = tracked.groupby(["width", "epoch"]).size()
    points = trained.groupby(["width", "epoch"]).size()
    assert (per_point.reindex(points.index).fillna(0) >= 2).all(), per_point
    assert (tracked["telescoping_gap"] <= _nn_measures.TRACKING_TOLERANCE).all()
    assert tracked[["p_train", "p_test", "p_train_se", "p_test_se"]].notna().all().all()
    assert spec.resolved_model_kwargs()["n_probes"] >= 10 and df["seed"].nunique() >= 3


def _cpu_seconds(spec: sweeps.SweepSpec) -> float:
    """CPU seconds of a sweep run in this process (one job): its time on an idle core."""
    start = time.process_time()
    sweeps.run(spec, verbose=0, n_jobs=1)
    return time.process_time() - start


def test_telescoping_width_full_price(price_full):
    """With ``--price-full``: CPU time of one quick seed, and of truncated full-size units.

    CPU seconds of a one-job run in this process stand for the time on an idle core (the
    shared machine's wall clock is not); the full run is extrapolated from 3 epochs of
    its narrowest and widest unit, linear in width between them (the tracker's
    Jacobian-vector products are), without the per-checkpoint measures.
    """
    import pytest

    if not price_full:
        pytest.skip("pass --price-full to price the full run")
    load = _load()
    quick = sweeps.get_spec(NAME).sized(quick=True)
    one_seed = _cpu_seconds(quick.replace(seeds=quick.seeds[:1]))
    spec = sweeps.get_spec(NAME).sized(quick=False)
    epochs = 3
    per_epoch = {}
    for width in (min(spec.grid["width"]), max(spec.grid["width"])):
        short = spec.replace(
            grid={"width": (width,), "epoch": (epochs,)},
            seeds=spec.seeds[:1],
            model_kwargs={**spec.model_kwargs, "measures": ()},
        )
        per_epoch[width] = _cpu_seconds(short) / epochs
    lo, hi = sorted(per_epoch)
    slope = (per_epoch[hi] - per_epoch[lo]) / (hi - lo)
    total_epochs = max(spec.grid["epoch"])
    unit = {w: (per_epoch[lo] + slope * (w - lo)) * total_epochs for w in spec.grid["width"]}
    serial = sum(unit.values()) * len(spec.seeds)
    record(
        COST,
        "cpu_estimates",
        {
            "quick_one_seed_cpu_seconds": one_seed,
            "quick_two_jobs_idle_seconds": one_seed * len(quick.seeds) / 2,
            "full_cpu_seconds_per_epoch": {str(w): s for w, s in per_epoch.items()},
            "full_units": len(sweeps.plan(spec)),
            "full_serial_cpu_seconds": serial,
            "full_two_jobs_idle_seconds": serial / 2,
            "load": {"before": load, "after": _load()},
        },
    )
