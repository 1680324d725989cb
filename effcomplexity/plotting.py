r"""Figures of sweep tables: seaborn on matplotlib, one function per kind of figure.

Every function takes a sweep table (:func:`effcomplexity.sweeps.run`) and
returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing
is ever shown and no global state changes; save it with :func:`save` (or
``fig.savefig``). Labels use the paper's symbols (:math:`\hat p_{test}`,
:math:`P_{leaf}`), geometric grids get log axes, and each segment of the
composite path keeps one colour throughout: the first axis blue, the second
vermilion, grid points off the path grey.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import analysis

__all__ = [
    "COLORS",
    "back_to_u",
    "composite",
    "decomposed",
    "label",
    "measures_along_path",
    "save",
    "summary",
    "training_curves",
    "verdict_grid",
]

#: Colours of the first and second segment of the composite path, and off the path.
COLORS = ("#0072B2", "#D55E00", "#9A9A9A")

_LABELS = {
    "n_params": "raw parameters $P$",
    "p_train": r"$\hat p_{train}$",
    "p_test": r"$\hat p_{test}$",
    "df_trace": r"$\mathrm{tr}(S)$",
    "P_leaf": "$P_{leaf}$",
    "P_ens": "$P_{ens}$",
    "P_boost": "$P_{boost}$",
    "P_PC": "$P_{PC}$",
    "P_ex": "$P_{ex}$",
    "n_features": "random features $N$",
    "width": "width $w$",
    "epoch": "epoch",
    "step": "step",
    "weight_decay": "weight decay",
    "train_fraction": "training fraction",
    "test_error": "test error (0-1)",
    "train_error": "train error (0-1)",
    "test_mse": "test MSE",
    "train_mse": "train MSE",
    "test_loss": "test loss",
    "train_loss": "train loss",
    "coef_norm": r"$\Vert\hat\beta\Vert_2$",
    "risk": "excess risk",
    "param_norm": r"$\sum_i \Vert W_i\Vert_F^2$",
    "llc": r"$\hat\lambda$ (LLC)",
    "n_eff": r"$N_{eff}$",
}


def label(column: str) -> str:
    r"""Axis label of a table column, with the paper's symbol where it has one.

    Parameters
    ----------
    column : str

    Returns
    -------
    str

    Examples
    --------
    >>> from effcomplexity.plotting import label
    >>> label("p_test"), label("P_leaf"), label("my_measure")
    ('$\\hat p_{test}$', '$P_{leaf}$', 'my measure')
    """
    return _LABELS.get(column, column.replace("_", " "))


def _figure(n_panels: int, ncols: int | None = None, size=(4.2, 3.4), sharey=False):
    from matplotlib.figure import Figure

    ncols = ncols or n_panels
    nrows = int(np.ceil(n_panels / ncols))
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _style(ax) -> None:
    ax.grid(True, which="major", color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legend(ax, *args, **kwargs) -> None:
    """A legend on a translucent white box, so grid and marker lines never cross its text."""
    ax.legend(*args, frameon=True, framealpha=0.85, edgecolor="none", **kwargs)


def _geometric(values) -> bool:
    values = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), float)
    return values.size > 1 and bool(np.all(values > 0)) and values.max() / values.min() >= 20


def _check(df, columns) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"Expected a sweep table (pandas DataFrame), got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"The table has no column(s) {missing}; it has {list(df.columns)}.")


def _path_means(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seed means of the path and of the whole grid."""
    means = analysis.grid_means(df, list(columns))
    if not means["axis"].notna().any():
        raise ValueError(
            "The table has no composite path (every 'axis' is missing); pass a sweep table."
        )
    return analysis.composite_path(means), means


def _seed_band(ax, df, path, x, y):
    """Shade +-1 standard error over seeds around a path line, when there are seeds."""
    if df["seed"].nunique() < 2:
        return
    keys = ["axis", "n_params"]
    spread = df[df["axis"].notna()].groupby(keys, dropna=False)[y].agg(["std", "count"])
    merged = path.merge(spread.reset_index(), on=keys, how="left")
    merged["se"] = merged["std"] / np.sqrt(merged["count"])
    for segment, part in merged.groupby("segment", sort=True):
        if segment > 0:
            part = pd.concat([merged[merged["segment"] == segment - 1].iloc[[-1]], part])
        ax.fill_between(
            part[x].to_numpy(float),
            (part[y] - part["se"]).to_numpy(float),
            (part[y] + part["se"]).to_numpy(float),
            color=COLORS[min(int(segment), 1)],
            alpha=0.18,
            linewidth=0,
        )


def _mark_switch(ax, path, x: str) -> None:
    switch = analysis._switch_index(path)
    if switch is not None:
        first, last = path["axis"].iloc[0], path["axis"].iloc[-1]
        ax.axvline(
            path[x].iloc[switch],
            color="#444444",
            linestyle="--",
            linewidth=1,
            label=f"axis switch ({label(first)} → {label(last)})",
        )


def _mark_threshold(ax, path, x: str, error: str) -> None:
    train = error.replace("test", "train", 1) if "test" in error else None
    index = analysis._interpolation_index(path, train if train in path else None)
    if index is not None:
        ax.axvline(
            path[x].iloc[index],
            color="#2CA02C",
            linestyle=":",
            linewidth=1.5,
            label="interpolation threshold",
        )


def _segment_lines(ax, path, x, y, *, markers=True, linewidth=2.0, zorder=3) -> None:
    """The path in order, one colour per segment; consecutive segments joined."""
    for segment, part in path.groupby("segment", sort=True):
        if segment > 0:
            # Start each later segment at the last point of the one before, so the path is whole.
            previous = path[path["segment"] == segment - 1].iloc[[-1]]
            part = pd.concat([previous, part])
        ax.plot(
            part[x],
            part[y],
            color=COLORS[min(segment, 1)],
            marker="o" if markers else None,
            markersize=4.5,
            linewidth=linewidth,
            zorder=zorder,
            label=f"along {label(part['axis'].iloc[-1])}",
        )


def composite(df: pd.DataFrame, error: str = "test_error", *, title: str | None = None):
    """The classic double-descent plot: error against the raw parameter count.

    The composite path is drawn in order, one colour per axis segment, with
    the axis switch (dashed) and the interpolation threshold (dotted) marked;
    with several seeds a band shows one standard error.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    error : str
        Error column.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity import plotting
    >>> t = pd.DataFrame({"seed": 0, "axis": ["P_leaf"] * 3 + ["P_ens"] * 2,
    ...     "n_params": [2, 10, 50, 100, 250], "test_error": [.5, .3, .6, .4, .3]})
    >>> fig = plotting.composite(t)
    >>> fig.axes[0].get_xlabel()
    'raw parameters $P$'
    """
    _check(df, ["seed", "axis", "n_params", error])
    extra = [c for c in analysis.THRESHOLD_COLUMNS if c in df]
    train = error.replace("test", "train", 1)
    extra += [train] if train in df and train != error and train not in extra else []
    path, _ = _path_means(df, [error, *extra])
    fig, (ax,) = _figure(1, size=(6.0, 4.0))
    _style(ax)
    _segment_lines(ax, path, "n_params", error)
    _seed_band(ax, df, path, "n_params", error)
    _mark_switch(ax, path, "n_params")
    _mark_threshold(ax, path, "n_params", error)
    if _geometric(path["n_params"]):
        ax.set_xscale("log")
    if _geometric(path[error]) and path[error].max() / path[error].min() > 10:
        ax.set_yscale("log")
    ax.set_xlabel(label("n_params"))
    ax.set_ylabel(label(error))
    _legend(ax, fontsize=8)
    ax.set_title(title or _default_title(df, "double descent on the composite axis"))
    return fig


def _default_title(df, what: str) -> str:
    name = df["sweep"].iloc[0] if "sweep" in df and len(df) else None
    seeds = df["seed"].nunique() if "seed" in df else 1
    suffix = f" ({seeds} seeds)" if seeds > 1 else " (1 seed)"
    return (f"{name}: {what}" if name else what) + suffix


def decomposed(df: pd.DataFrame, error: str = "test_error", *, title: str | None = None):
    """Error along each raw axis separately, one line per value of the other.

    Along the first axis of a tree or boosting sweep the curve is a U, along
    the second an L (Curth et al. 2023); this figure shows each axis on its
    own panel, using every grid point of a product grid.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (a product grid shows one line per value of the other axis).
    error : str
        Error column.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity import plotting
    >>> t = pd.DataFrame({"seed": 0, "P_leaf": [2, 10, 2, 10], "P_ens": [1, 1, 5, 5],
    ...     "axis": ["P_leaf", "P_leaf", None, "P_ens"], "n_params": [2, 10, 10, 50],
    ...     "test_error": [.5, .4, .45, .3]})
    >>> [ax.get_xlabel() for ax in plotting.decomposed(t).axes]
    ['$P_{leaf}$', '$P_{ens}$']
    """
    _check(df, ["seed", "axis", "n_params", error])
    path, means = _path_means(df, [error])
    axes_order = list(dict.fromkeys(path["axis"]))
    fig, panels = _figure(len(axes_order), sharey=True)
    import seaborn as sns

    for i, (ax, axis) in enumerate(zip(panels, axes_order, strict=True)):
        _style(ax)
        others = [a for a in axes_order if a != axis]
        data = means.dropna(subset=[axis])
        if others:
            other = others[0]
            levels = sorted(data[other].dropna().unique())
            palette = sns.light_palette(COLORS[min(i, 1)], n_colors=len(levels) + 2)[2:]
            for level, colour in zip(levels, palette, strict=True):
                part = data[data[other] == level].sort_values(axis)
                if len(part) < 2:
                    continue
                ax.plot(
                    part[axis],
                    part[error],
                    marker="o",
                    markersize=3.5,
                    color=colour,
                    label=f"{label(other)} = {level:g}",
                )
            _legend(ax, fontsize=7, ncols=1 + len(levels) // 6)
        else:
            part = data.sort_values(axis)
            ax.plot(part[axis], part[error], marker="o", markersize=3.5, color=COLORS[0])
        if _geometric(data[axis]):
            ax.set_xscale("log")
        ax.set_xlabel(label(axis))
        ax.set_ylabel(label(error))
        ax.set_title(f"along {label(axis)}")
    fig.suptitle(title or _default_title(df, "each raw axis on its own"))
    return fig


def measures_along_path(
    df: pd.DataFrame,
    measures: Sequence[str] = ("p_train", "p_test"),
    *,
    title: str | None = None,
):
    r"""Complexity measures along the composite path, against the raw count.

    Shows that :math:`\hat p_{train}` saturates at the switch while
    :math:`\hat p_{test}` falls along the second axis.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    measures : sequence of str
        Measure columns, one panel each.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity import plotting
    >>> t = pd.DataFrame({"seed": 0, "axis": ["P_leaf"] * 2 + ["P_ens"] * 2,
    ...     "n_params": [2, 10, 20, 50], "p_train": [2, 10, 10, 10], "p_test": [2, 12, 8, 5]})
    >>> [ax.get_ylabel() for ax in plotting.measures_along_path(t).axes]
    ['$\\hat p_{train}$', '$\\hat p_{test}$']
    """
    measures = [measures] if isinstance(measures, str) else list(measures)
    _check(df, ["seed", "axis", "n_params", *measures])
    path, _ = _path_means(df, measures)
    fig, panels = _figure(len(measures))
    for ax, measure in zip(panels, measures, strict=True):
        _style(ax)
        _segment_lines(ax, path, "n_params", measure)
        _mark_switch(ax, path, "n_params")
        if _geometric(path["n_params"]):
            ax.set_xscale("log")
        if _geometric(path[measure]):
            ax.set_yscale("log")
        if "n_train" in df and measure.startswith("p_"):
            n = float(df["n_train"].iloc[0])
            ax.axhline(n, color="#2CA02C", linestyle=":", linewidth=1.5, label=f"n = {n:,.0f}")
        ax.set_xlabel(label("n_params"))
        ax.set_ylabel(label(measure))
        _legend(ax, fontsize=8)
    fig.suptitle(title or _default_title(df, "complexity measures along the path"))
    return fig


def back_to_u(
    df: pd.DataFrame,
    measure: str = "p_test",
    error: str = "test_error",
    *,
    ax=None,
    title: str | None = None,
):
    r"""Error against a complexity measure, points coloured by axis segment.

    Against :math:`\hat p_{test}` the second segment of the composite path
    runs back towards lower complexity, and the double descent folds into a
    U (Curth et al. 2023, "back to U"). The path is drawn in order, with an
    arrow at its end; grid points off the path are grey.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    measure : str
        Measure on the x-axis.
    error : str
        Error column.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (of a figure you own) instead of a new figure.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity import plotting
    >>> t = pd.DataFrame({"seed": 0, "axis": ["P_leaf"] * 3 + ["P_ens"] * 2,
    ...     "n_params": [2, 10, 50, 100, 250], "p_test": [2, 10, 60, 30, 15],
    ...     "test_error": [.5, .3, .6, .4, .3]})
    >>> fig = plotting.back_to_u(t)
    >>> fig.axes[0].get_xlabel(), len(fig.axes[0].lines) >= 2
    ('$\\hat p_{test}$', True)
    """
    _check(df, ["seed", "axis", "n_params", measure, error])
    path, means = _path_means(df, [measure, error])
    if ax is None:
        fig, (ax,) = _figure(1, size=(5.4, 4.0))
    else:
        fig = ax.figure
    _style(ax)
    off = means[means["axis"].isna()]
    if len(off):
        ax.scatter(
            off[measure],
            off[error],
            s=14,
            color=COLORS[2],
            alpha=0.6,
            label="grid off the path",
            zorder=1,
        )
    _segment_lines(ax, path, measure, error)
    if len(path) >= 2:
        end, before = path.iloc[-1], path.iloc[-2]
        ax.annotate(
            "",
            xy=(end[measure], end[error]),
            xytext=(before[measure], before[error]),
            arrowprops={
                "arrowstyle": "-|>",
                "color": COLORS[min(int(end["segment"]), 1)],
                "lw": 1.5,
            },
            zorder=4,
        )
    if _geometric(means[measure]):
        ax.set_xscale("log")
    if _geometric(means[error]) and means[error].max() / means[error].min() > 10:
        ax.set_yscale("log")
    ax.set_xlabel(label(measure))
    ax.set_ylabel(label(error))
    _legend(ax, fontsize=8)
    if title is not None:
        ax.set_title(title)
    return fig


def verdict_grid(
    df: pd.DataFrame,
    measures: Sequence[str] = ("n_params", "p_train", "p_test"),
    error: str = "test_error",
    *,
    verdicts: pd.DataFrame | None = None,
    ncols: int | None = None,
    title: str | None = None,
    **test_kwargs,
):
    """Error against several measures, each panel titled with its verdict.

    The verdicts are those of :func:`~effcomplexity.analysis.illusion_test`.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    measures : sequence of str
        One panel per measure.
    error : str
        Error column.
    verdicts : pandas.DataFrame, optional
        The output of ``illusion_test`` on ``df``; computed when not given.
    ncols : int, optional
        Panels per row (default: all in one row, up to 4).
    title : str, optional
    **test_kwargs
        Passed to ``illusion_test`` when ``verdicts`` is None.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from effcomplexity import plotting
    >>> n = np.array([10, 20, 40, 80, 160, 320, 640, 1280])
    >>> t = pd.DataFrame({"seed": 0, "axis": "n_features", "n_features": n, "n_params": n,
    ...     "p_test": [10, 22, 60, 200, 90, 50, 30, 20],
    ...     "test_error": [.5, .4, .45, .6, .4, .3, .25, .22]})
    >>> fig = plotting.verdict_grid(t, measures=["n_params", "p_test"], n_perm=0)
    >>> fig.axes[0].get_title().split(":")[0]
    'raw parameters $P$'
    """
    measures = [measures] if isinstance(measures, str) else list(measures)
    if verdicts is None:
        verdicts = analysis.illusion_test(df, error=error, measures=measures, **test_kwargs)
    fig, panels = _figure(len(measures), ncols=ncols or min(len(measures), 4))
    for ax, measure in zip(panels, measures, strict=True):
        back_to_u(df, measure, error, ax=ax)
        row = verdicts[verdicts["measure"] == measure]
        verdict = row["verdict"].iloc[0] if len(row) else "not tested"
        ax.set_title(f"{label(measure)}: {verdict}", fontsize=10)
    fig.suptitle(title or _default_title(df, f"{label(error)} against each measure"))
    return fig


def training_curves(
    df: pd.DataFrame,
    x: str = "epoch",
    errors: Sequence[str] = ("train_error", "test_error"),
    measures: Sequence[str] = ("p_test",),
    *,
    by: str | None = None,
    title: str | None = None,
):
    r"""Epoch-wise or step-wise curves: errors on the left, a measure on a twin right axis.

    Parameters
    ----------
    df : pandas.DataFrame
        A network sweep table with rows at checkpoints.
    x : str
        The time axis (``"epoch"`` or ``"step"``).
    errors : sequence of str
        Error columns on the left axis (solid: the last; dashed: the others).
    measures : sequence of str
        One panel per measure, each on a twin right axis.
    by : str, optional
        One row of panels per value of this column (e.g. ``"width"`` or
        ``"weight_decay"``).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity import plotting
    >>> t = pd.DataFrame({"seed": 0, "step": [10, 100, 1000, 10000],
    ...     "train_error": [.9, .1, 0, 0], "test_error": [.9, .9, .8, .05],
    ...     "param_norm": [40., 42., 30., 12.]})
    >>> fig = plotting.training_curves(t, x="step", measures=["param_norm"])
    >>> fig.axes[0].get_xlabel(), fig.axes[1].get_ylabel()
    ('step', '$\\sum_i \\Vert W_i\\Vert_F^2$')
    """
    errors = [errors] if isinstance(errors, str) else list(errors)
    measures = [measures] if isinstance(measures, str) else list(measures)
    _check(df, [x, *errors, *measures, *([by] if by else [])])
    groups = list(df.groupby(by, sort=True)) if by else [(None, df)]
    fig, panels = _figure(len(groups) * len(measures), ncols=len(measures), size=(5.0, 3.4))
    palette = ("#555555", "#000000")
    for g, (value, part) in enumerate(groups):
        means = part.groupby(x, sort=True)[[*errors, *measures]].mean().reset_index()
        for j, measure in enumerate(measures):
            ax = panels[g * len(measures) + j]
            _style(ax)
            for k, error in enumerate(errors):
                last = k == len(errors) - 1
                ax.plot(
                    means[x],
                    means[error],
                    color=palette[int(last)],
                    linestyle="-" if last else "--",
                    linewidth=1.8,
                    label=label(error),
                )
            twin = ax.twinx()
            twin.plot(
                means[x], means[measure], color=COLORS[1], linewidth=1.8, label=label(measure)
            )
            twin.set_ylabel(label(measure), color=COLORS[1])
            twin.tick_params(axis="y", colors=COLORS[1])
            twin.spines["top"].set_visible(False)
            if _geometric(means[x]):
                ax.set_xscale("log")
            ax.set_xlabel(label(x))
            ax.set_ylabel("error")
            handles = ax.get_legend_handles_labels()
            extra = twin.get_legend_handles_labels()
            # Below the panel: the twin axis draws over anything inside it.
            _legend(
                ax,
                handles[0] + extra[0],
                handles[1] + extra[1],
                fontsize=8,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.2),
                ncols=len(errors) + 1,
            )
            if by:
                ax.set_title(f"{label(by)} = {value:g}", fontsize=10)
    fig.suptitle(title or _default_title(df, f"training curves against {label(x)}"))
    return fig


def summary(
    df: pd.DataFrame,
    errors: Mapping[str, str] | str = "test_error",
    measure: str = "p_test",
    *,
    verdicts: pd.DataFrame | None = None,
    **test_kwargs,
):
    """One row per sweep: the composite-axis curve, and error against a measure.

    The demo's figure: the left panel of each row shows the double descent
    against the raw count, the right one the same runs against ``measure``,
    each titled with its :func:`~effcomplexity.analysis.illusion_test` verdict.

    Parameters
    ----------
    df : pandas.DataFrame
        One or more sweep tables concatenated (a ``sweep`` column tells them apart).
    errors : str or mapping of sweep name to str
        Error column (per sweep, e.g. ``{"curth_trees": "test_mse"}``).
    measure : str
        Measure of the right-hand panels.
    verdicts : pandas.DataFrame, optional
        ``illusion_test`` results with a ``sweep`` column; computed when not given.
    **test_kwargs
        Passed to ``illusion_test``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from effcomplexity import plotting
    >>> n = np.array([10, 20, 40, 80, 160, 320, 640, 1280])
    >>> t = pd.DataFrame({"sweep": "toy", "seed": 0, "axis": "n_features", "n_params": n,
    ...     "n_features": n, "p_test": [10, 22, 60, 200, 90, 50, 30, 20],
    ...     "test_error": [.5, .4, .45, .6, .4, .3, .25, .22]})
    >>> len(plotting.summary(t, n_perm=0).axes)
    2
    """
    _check(df, ["sweep", "seed", "axis", "n_params", measure])
    names = list(dict.fromkeys(df["sweep"]))
    fig, panels = _figure(2 * len(names), ncols=2, size=(5.0, 3.5))
    for i, name in enumerate(names):
        table = df[df["sweep"] == name]
        error = errors.get(name, "test_error") if isinstance(errors, Mapping) else errors
        if verdicts is not None and "sweep" in verdicts:
            rows = verdicts[(verdicts["sweep"] == name) & (verdicts["error"] == error)]
        else:
            rows = analysis.illusion_test(
                table, error=error, measures=["n_params", measure], **test_kwargs
            )
        left, right = panels[2 * i], panels[2 * i + 1]
        for ax, x in ((left, "n_params"), (right, measure)):
            back_to_u(table, x, error, ax=ax)
            if x == "n_params":
                extra = [c for c in analysis.THRESHOLD_COLUMNS if c in table]
                path, _ = _path_means(table, [error, *extra])
                _mark_switch(ax, path, "n_params")
                _mark_threshold(ax, path, "n_params", error)
                _legend(ax, fontsize=7)
            row = rows[rows["measure"] == x]
            verdict = row["verdict"].iloc[0] if len(row) else "not tested"
            ax.set_title(f"{name}: against {label(x)}: {verdict}", fontsize=9.5)
    fig.suptitle("Double descent against raw parameters, and against effective parameters")
    return fig


def save(fig, path: str | os.PathLike, *, dpi: int = 150, formats: Sequence[str] = ()) -> list:
    """Write a figure to ``path`` (and the same name in other ``formats``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path-like
        File name; its suffix picks the format (``.png``, ``.pdf``, ``.svg``).
    dpi : int
        Resolution of raster formats.
    formats : sequence of str
        Extra suffixes to write beside it, e.g. ``("pdf",)``.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        If the folder of ``path`` does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import matplotlib.pyplot as plt
    >>> from effcomplexity import plotting
    >>> fig, ax = plt.subplots()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = plotting.save(fig, Path(folder) / "figure.png", formats=("svg",))
    ...     [path.name for path in written]
    ['figure.png', 'figure.svg']
    >>> plt.close(fig)
    """
    from pathlib import Path

    import matplotlib

    path = Path(path)
    if not path.parent.exists():
        raise ValueError(f"Cannot write {path}: the folder {path.parent} does not exist.")
    written = [path, *(path.with_suffix(f".{fmt.lstrip('.')}") for fmt in formats)]
    # No creation date in PDF and SVG files and fixed SVG ids: the same figure
    # gives the same bytes, so regenerated figures do not differ in version control.
    with matplotlib.rc_context({"svg.hashsalt": "effcomplexity"}):
        for target in written:
            stamp = {".pdf": {"CreationDate": None}, ".svg": {"Date": None}}.get(target.suffix)
            fig.savefig(target, dpi=dpi, metadata=stamp)
    return written
