"""The paper's figures of Belkin et al. (2019): random Fourier features and random forests.

``belkin_rff``: min-norm least squares on N random Fourier features of MNIST
(one-hot targets), across N through n; three panels as in Belkin et al.'s
figure: 0-1 loss, squared loss and the norm of the solution. ``belkin_forest``:
the forest curve, one tree grown to interpolation then more full-depth trees
(the composite path of ``curth_trees``, Curth et al.'s replication of Belkin
et al.'s set-up), 0-1 and squared loss. Data: the bundled MNIST subset (see
:mod:`_classical`: quick n = 400 for RFF and 500 for forests, five seeds;
``--full`` n = 4,000, three seeds). Lines are seed means, bands one standard
error over seeds.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from _classical import along_path, paired, sized
from _paper import run_sweep, save_figure, write_table
from matplotlib.figure import Figure

from effcomplexity import plotting

#: A difference counts when it exceeds K standard errors over seeds (see test_paper_curth).
K = 3.0
#: Squared loss and the norm of a min-norm fit span orders of magnitude near N = n and are
#: heavy-tailed over seeds there; they are compared on log10, the 0-1 loss as it is.
LOGGED = ("test_mse", "train_mse", "coef_norm")


@functools.cache
def _run(family: str, full: bool) -> pd.DataFrame:
    return run_sweep(sized(family, full), full)


def curve(df: pd.DataFrame, column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Seed means along the path and the (seeds, points) values, log10 for LOGGED columns."""
    path, values = along_path(df, column)
    return path, np.log10(values) if column in LOGGED else values


def threshold_index(df: pd.DataFrame) -> int:
    """First path point whose seed-mean p_train reaches n, or whose training MSE is zero."""
    p_train, _ = along_path(df, "p_train")
    mse, _ = along_path(df, "train_mse")
    n = float(df["n_train"].iloc[0])
    hit = (p_train["p_train"].to_numpy() >= n * (1 - 1e-6)) | (mse["train_mse"] <= 1e-12)
    return int(np.flatnonzero(hit)[0])


def describe(df: pd.DataFrame, column: str, name: str) -> dict:
    """Peak and best values of one curve, with the z of the peak over its neighbours."""
    path, values = curve(df, column)
    x, y = path["n_params"].to_numpy(), path[column].to_numpy()
    t = threshold_index(df)
    under, over = np.arange(t), np.arange(t + 1, len(y))
    best_under, best_over = under[np.argmin(y[under])], over[np.argmin(y[over])]
    # The peak: the highest point past the best under-parametrised model.
    peak = best_under + int(np.argmax(y[best_under:]))

    def z(i, j):
        mean, se = paired(values, i, j)
        return mean / se

    neighbours = [j for j in (peak - 1, peak + 1) if 0 <= j < len(y)]
    rise = z(peak, best_under) if peak != best_under else 0.0
    return {
        "curve": name,
        "n": int(df["n_train"].iloc[0]),
        "seeds": int(df["seed"].nunique()),
        "threshold P": int(x[t]),
        "best below threshold": float(y[best_under]),
        "best below at P": int(x[best_under]),
        "peak P": int(x[peak]) if rise > K else "no peak",
        "peak value": float(y[peak]) if rise > K else float("nan"),
        "peak z over best below": float(rise),
        "peak z over neighbours": float(min(z(peak, j) for j in neighbours)),
        "best past threshold": float(y[best_over]),
        "best past at P": int(x[best_over]),
        "z best below - best past": float(z(best_under, best_over)),
        "value at largest P": float(y[-1]),
        "_peak": peak,
        "_threshold": t,
    }


def _band(ax, df, column, colour, label, linestyle="-"):
    path, values = along_path(df, column)
    x = path["n_params"].to_numpy(float)
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / np.sqrt(len(values))
    ax.plot(
        x,
        mean,
        color=colour,
        marker="o",
        markersize=3.5,
        linewidth=1.8,
        label=label,
        linestyle=linestyle,
    )
    ax.fill_between(
        x, np.maximum(mean - se, mean * 0.5), mean + se, color=colour, alpha=0.2, linewidth=0
    )


def _panels(n_panels: int, title: str):
    fig = Figure(figsize=(4.3 * n_panels, 4.3), layout="constrained")
    axes = fig.subplots(1, n_panels)
    for ax in axes:
        ax.grid(True, color="#E5E5E5", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(title)
    return fig, axes


def _caption(df: pd.DataFrame) -> str:
    seeds = sorted(df["seed"].unique())
    return (
        f"MNIST n = {int(df['n_train'].iloc[0]):,} (test {int(df['n_test'].iloc[0]):,}), "
        f"seeds {seeds[0]}-{seeds[-1]}"
    )


def _threshold_line(ax, x):
    ax.axvline(x, color="#2CA02C", linestyle=":", linewidth=1.5, label="interpolation threshold")


def test_belkin_rff(full):
    df = _run("belkin_rff", full)
    fig, axes = _panels(3, f"Random Fourier features, min-norm least squares: {_caption(df)}")
    panels = (
        (("train_error", "test_error"), "zero-one loss"),
        (("train_mse", "test_mse"), "squared loss"),
        (("coef_norm",), r"norm of the solution $\Vert\hat\beta\Vert_2$"),
    )
    rows = []
    for ax, (columns, what) in zip(axes, panels, strict=True):
        for column in columns:
            train = column.startswith("train")
            _band(
                ax,
                df,
                column,
                "#555555" if train else plotting.COLORS[0],
                plotting.label(column),
                "--" if train else "-",
            )
        t = describe(df, columns[-1], f"RFF {what.split(' $')[0]}")
        rows.append(t)
        _threshold_line(ax, t["threshold P"])
        ax.set_xscale("log")
        if columns[-1] in LOGGED:
            ax.set_yscale("log")
        ax.set_xlabel(plotting.label("n_features"))
        ax.set_ylabel(what if len(columns) == 1 else plotting.label(columns[-1]))
        ax.set_title(what, fontsize=10)
        # Below the panel: inside it the legend would cover the training curve.
        ax.legend(
            fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2
        )
    if "train_mse" in df:
        # Train MSE is zero (to rounding, 1e-28) past the threshold: clip the log axis there.
        axes[1].set_ylim(bottom=1e-3)
    path, _ = along_path(df, "test_error")
    data = path[["n_params"]].rename(columns={"n_params": "n_features"})
    for column in ("train_error", "test_error", "train_mse", "test_mse", "coef_norm", "p_train"):
        data[column] = along_path(df, column)[0][column].to_numpy()
    save_figure(fig, "belkin_rff", data)
    write_table("belkin_rff", _rows(rows))
    for t in rows:
        # The peak of each curve is at the interpolation threshold N = n, above both grid
        # neighbours by more than K paired standard errors (log10 for squared loss and norm).
        assert t["_peak"] == t["_threshold"], t
        assert t["peak z over neighbours"] > K, t
    for t in rows[:2]:
        # Past the threshold the error falls below the best under-parametrised model.
        assert t["z best below - best past"] > K, t


def test_belkin_forest(full):
    df = _run("trees", full)
    on = df[df["axis"].notna()]
    fig, axes = _panels(
        2, f"Random forests, one tree to interpolation, then more trees: {_caption(df)}"
    )
    rows = []
    switch = int(on.loc[on["axis"] == "P_leaf", "n_params"].max())
    for ax, columns, what in zip(
        axes,
        (("train_error", "test_error"), ("train_mse", "test_mse")),
        ("zero-one loss", "squared loss"),
        strict=True,
    ):
        for column in columns:
            train = column.startswith("train")
            _band(
                ax,
                on,
                column,
                "#555555" if train else plotting.COLORS[0],
                plotting.label(column),
                "--" if train else "-",
            )
        t = describe(on, columns[-1], f"forest {what}")
        rows.append(t)
        _threshold_line(ax, t["threshold P"])
        ax.axvline(
            switch,
            color="#444444",
            linestyle="--",
            linewidth=1,
            label=r"more trees from here ($P_{leaf}$ full)",
        )
        ax.set_xscale("log")
        ax.set_xlabel(r"$P_{leaf} \times P_{ens}$ (leaves $\times$ trees)")
        ax.set_ylabel(plotting.label(columns[-1]))
        ax.set_title(what, fontsize=10)
        # Below the panel: inside it the legend would cover the training curve.
        ax.legend(
            fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2
        )
    path, _ = along_path(on, "test_error")
    data = path[["n_params", "axis"]].copy()
    for column in ("train_error", "test_error", "train_mse", "test_mse", "p_train", "n_leaves"):
        data[column] = along_path(on, column)[0][column].to_numpy()
    save_figure(fig, "belkin_forest", data)
    write_table("belkin_forest", _rows(rows))
    zero_one, squared = rows
    # Squared loss peaks at the interpolation threshold (the first forest with zero training
    # MSE), or between it and the switch to more trees, which interpolate as well.
    assert squared["peak z over best below"] > K, squared
    assert zero_one["threshold P"] <= squared["peak P"] <= switch, squared
    for t in rows:
        # Both losses fall past the threshold below the best under-parametrised forest.
        assert t["z best below - best past"] > K, t


def _rows(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
