r"""Figures of sweep tables: seaborn on matplotlib, one function per kind of figure.

Every function takes a sweep table (:func:`effcomplexity.sweeps.run`) and
returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing
is ever shown and no global state changes; save it with :func:`save` (or
``fig.savefig``). Labels use the paper's symbols (:math:`\hat p_{test}`,
:math:`P_{leaf}`), geometric grids get log axes, and each segment of the
composite path keeps one colour throughout: the first axis blue, the second
vermilion, grid points off the path grey.

Where a table has several seeds, every line is the mean over seeds and
seaborn draws its spread as error bars of one standard error of that mean
(:data:`ERRORBAR`; a band along the time axis of training curves); the
legend says so. With one seed there are no bars.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist

from . import analysis

__all__ = [
    "COLORS",
    "ERRORBAR",
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

#: The spread over seeds every figure draws (seaborn's ``errorbar``): one standard
#: error of the seed mean. Deterministic, unlike a bootstrap interval, so a figure
#: saved twice has the same bytes.
ERRORBAR = ("se", 1)

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


def _legend(ax, *args, seeds: int = 1, spread: str = "bars", **kwargs) -> None:
    """A legend on a translucent white box, so grid and marker lines never cross its text.

    With several ``seeds`` it ends with an entry saying what the error
    ``spread`` ("bars" or "band") shows.
    """
    if seeds > 1:
        handles, labels = args if args else ax.get_legend_handles_labels()
        entry = _spread_handle(seeds, spread)
        args = ([*handles, entry], [*labels, entry.get_label()])
    ax.legend(*args, frameon=True, framealpha=0.85, edgecolor="none", **kwargs)


def _legend_below(ax, *args, **kwargs) -> None:
    """A legend under the panel's x label: curves that fold back leave no free corner."""
    from matplotlib.transforms import offset_copy

    below = offset_copy(ax.transAxes, fig=ax.figure, y=-34, units="points")
    place = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "bbox_transform": below}
    _legend(ax, *args, **place | kwargs)


def _spread_handle(seeds: int, spread: str = "bars"):
    """A legend entry (drawn nowhere) for the error bars or band over ``seeds`` seeds."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    text = f"{spread}: ±1 s.e. over {seeds} seeds"
    if spread == "band":
        return Patch(color="#444444", alpha=0.2, linewidth=0, label=text)
    return Line2D([], [], color="#444444", marker="|", markersize=9, linestyle="none", label=text)


def _errorbar(df: pd.DataFrame):
    """seaborn's ``errorbar`` for a table: the seed spread with several seeds, none with one."""
    return ERRORBAR if df["seed"].nunique() > 1 else None


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


def _axis_pieces(path: pd.DataFrame) -> list[tuple[int, int, int, str]]:
    """(first, last path position, segment, legend text) of each raw-axis segment.

    A later segment starts at the last point of the one before, so the path
    is drawn whole.
    """
    pieces = []
    for segment, part in path.reset_index(drop=True).groupby("segment", sort=True):
        first, last = int(part.index[0]), int(part.index[-1])
        text = f"along {label(part['axis'].iloc[0])}"
        pieces.append((max(first - 1, 0) if segment else first, last, int(segment), text))
    return pieces


def _path_rows(df: pd.DataFrame, path: pd.DataFrame, x: str, pieces) -> pd.DataFrame:
    """Every seed's rows of each piece of the path, ready for seaborn to average over seeds.

    Each row carries its path position (``_order``), its piece and, as
    ``_x``, the seed mean of ``x`` at its grid point, so that the seeds of one
    grid point share one x and seaborn draws their spread in y. Grid points
    of one piece that tie in x (``p_train`` held at n while the ensemble
    grows) are kept apart by a relative 1e-12 in x, invisible, since seaborn
    would otherwise pool them into one point.
    """
    keys = ["axis", "n_params"]
    points = path[keys].assign(_x=path[x].to_numpy(float), _order=np.arange(len(path)))
    rows = df[df["axis"].notna()].merge(points, on=keys, how="inner")
    parts = []
    for k, (first, last, _, _) in enumerate(pieces):
        part = rows[(rows["_order"] >= first) & (rows["_order"] <= last)].assign(_piece=k)
        own = part[["_order", "_x"]].drop_duplicates("_order")
        ties = own.groupby("_x").cumcount()
        rank = part["_order"].map(dict(zip(own["_order"], ties, strict=True)))
        x_values = part["_x"].to_numpy()
        step = 1e-12 * rank.to_numpy()
        part["_x"] = np.where(x_values == 0, step, x_values * (1 + step))
        parts.append(part)
    return pd.concat(parts).sort_values(["_piece", "_order"], kind="stable")


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


def _segment_lines(ax, df, path, x, y, *, pieces=None, linewidth=2.0, zorder=3) -> list:
    """The path in order, seeds averaged with seaborn's error bars, one curve per piece.

    ``pieces`` are (first, last path position, segment, legend text), by
    default the raw-axis segments (:func:`_axis_pieces`). Each segment keeps
    its colour; later pieces of one segment are dashed, then dotted. Returns
    the line of each piece.
    """
    import seaborn as sns

    pieces = _axis_pieces(path) if pieces is None else pieces
    rows = _path_rows(df, path, x, pieces)
    errorbar = _errorbar(df)
    lines, seen = [], []
    for k, part in rows.groupby("_piece", sort=True):
        _, _, segment, text = pieces[k]
        style = ("-", "--", ":", "-.")[min(seen.count(segment), 3)]
        seen.append(segment)
        sns.lineplot(
            data=part,
            x="_x",
            y=y,
            ax=ax,
            sort=False,
            errorbar=errorbar,
            err_style="bars",
            err_kws={"capsize": 2.5, "elinewidth": 1.0, "zorder": zorder},
            color=COLORS[min(segment, 1)],
            linestyle=style,
            marker="o",
            markersize=4.5,
            linewidth=linewidth,
            zorder=zorder,
            label=text,
            legend=False,
        )
        lines.append(next(line for line in ax.lines[::-1] if line.get_label() == text))
    return lines


def composite(
    df: pd.DataFrame,
    error: str = "test_error",
    *,
    title: str | None = None,
    verdicts: pd.DataFrame | None = None,
):
    """The classic double-descent plot: error against the raw parameter count.

    The composite path is drawn in order, one colour per axis segment, with
    the axis switch (dashed) and the interpolation threshold (dotted) marked;
    with several seeds each point is their mean, with seaborn's error bars of
    one standard error (:data:`ERRORBAR`).

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    error : str
        Error column.
    title : str, optional
    verdicts : pandas.DataFrame, optional
        :func:`~effcomplexity.analysis.illusion_test` results on ``df`` with a
        row for ``n_params``: the default title then states its verdict.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a column is missing, or ``verdicts`` judge another error column or
        lack ``n_params``.

    See Also
    --------
    back_to_u : The same path against a complexity measure.
    decomposed : Each raw axis on its own panel.
    effcomplexity.analysis.illusion_test : The verdict on the curve.

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
    _segment_lines(ax, df, path, "n_params", error)
    _mark_switch(ax, path, "n_params")
    _mark_threshold(ax, path, "n_params", error)
    if _geometric(path["n_params"]):
        ax.set_xscale("log")
    if _geometric(path[error]) and path[error].max() / path[error].min() > 10:
        ax.set_yscale("log")
    ax.set_xlabel(label("n_params"))
    ax.set_ylabel(label(error))
    _legend(ax, fontsize=8, seeds=df["seed"].nunique())
    what = "double descent on the composite axis"
    if verdicts is not None:
        what = (
            f"against {label('n_params')}: {_verdict_row(verdicts, 'n_params', error)['verdict']}"
        )
    ax.set_title(title or _default_title(df, what))
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
    own panel, using every grid point of a product grid (seed means, with
    error bars of one standard error where there are several seeds).

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
    path, _ = _path_means(df, [error])
    axes_order = list(dict.fromkeys(path["axis"]))
    fig, panels = _figure(len(axes_order), sharey=True)
    import seaborn as sns

    errorbar = _errorbar(df)
    style = {"marker": "o", "markersize": 3.5, "errorbar": errorbar, "err_style": "bars"}
    style |= {"err_kws": {"capsize": 2.0, "elinewidth": 0.9}, "legend": False}
    for i, (ax, axis) in enumerate(zip(panels, axes_order, strict=True)):
        _style(ax)
        others = [a for a in axes_order if a != axis]
        data = df.dropna(subset=[axis])
        if others:
            other = others[0]
            levels = sorted(data[other].dropna().unique())
            palette = sns.light_palette(COLORS[min(i, 1)], n_colors=len(levels) + 2)[2:]
            for level, colour in zip(levels, palette, strict=True):
                part = data[data[other] == level]
                if part[axis].nunique() < 2:
                    continue
                text = f"{label(other)} = {level:g}"
                sns.lineplot(data=part, x=axis, y=error, ax=ax, color=colour, label=text, **style)
            _legend_below(ax, fontsize=7, ncols=3, seeds=df["seed"].nunique())
        else:
            sns.lineplot(data=data, x=axis, y=error, ax=ax, color=COLORS[0], **style)
            if errorbar is not None:
                _legend_below(ax, [], [], fontsize=7, seeds=df["seed"].nunique())
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
    :math:`\hat p_{test}` falls along the second axis; with several seeds,
    error bars of one standard error of the seed mean (:data:`ERRORBAR`).

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
        _segment_lines(ax, df, path, "n_params", measure)
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
        _legend_below(ax, fontsize=8, ncols=2, seeds=df["seed"].nunique())
    fig.suptitle(title or _default_title(df, "complexity measures along the path"))
    return fig


def _verdict_row(verdicts: pd.DataFrame, measure: str, error: str) -> pd.Series:
    """The one verdict of ``measure`` in a verdict table; one of another error is refused."""
    _check(verdicts, ["measure", "error", "verdict"])
    errors = list(dict.fromkeys(verdicts["error"]))
    if error not in errors:
        raise ValueError(
            f"The verdicts judge {errors}, not {error!r}: they belong to another error column "
            f"(pass the illusion_test verdicts of error={error!r})."
        )
    rows = verdicts[(verdicts["measure"] == measure) & (verdicts["error"] == error)]
    if rows.empty:
        held = list(dict.fromkeys(verdicts["measure"]))
        raise ValueError(
            f"The verdicts have no row for measure {measure!r} (they hold {held}); "
            f"test it with illusion_test(..., measures=[{measure!r}])."
        )
    if len(rows) > 1:
        raise ValueError(
            f"The verdicts hold {len(rows)} rows for {measure!r} against {error!r} (one per "
            f"group of by=); pass the rows of the group this table holds."
        )
    return rows.iloc[0]


def _pooled_smooth(df: pd.DataFrame, measure: str, error: str, verdict: pd.Series):
    """The pooled curve a verdict read, with its noise band, on the scale of the data.

    The path means sorted by the measure (ties averaged), smoothed by the
    verdict's own LOWESS with the span and scales it reports (``frac``,
    ``log_x``, ``log_error``). The band reaches ``LACK_OF_FIT_MAX`` noise
    units either side, the unit being the verdict's ``noise_sd`` (at least
    the noise floor): the distance from the smooth at which the lack-of-fit
    test stops calling the error one function of the measure.
    """
    from .analysis import smoothing

    path, _ = _path_means(df, [measure, error])
    y = path[error].to_numpy(float)
    logged = bool(verdict["log_error"])
    y_fit = np.log10(y) if logged else y
    ux, _, _, weights, _ = smoothing._smoother(
        path[measure].to_numpy(float), bool(verdict["log_x"]), float(verdict["frac"]), y_fit
    )
    smooth = weights @ y_fit
    floor = (
        np.log10(1 + smoothing.NOISE_FLOOR)
        if logged
        else smoothing.NOISE_FLOOR * float(np.median(np.abs(y_fit)))
    )
    reach = smoothing.LACK_OF_FIT_MAX * max(float(verdict["noise_sd"]), floor)
    low, high = smooth - reach, smooth + reach
    if logged:
        smooth, low, high = 10**smooth, 10**low, 10**high
    return ux, smooth, low, high


def _grid_text(value: float) -> str:
    """A grid value as a short label: 500, 2500, 10k."""
    if value >= 10_000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:g}"


#: Where a grid label may sit around its point (offset in points, alignment), in order of
#: preference: beside the point first, where vertical error bars leave room.
_LABEL_SPOTS = (
    ((6, 0), "left", "center"),
    ((-6, 0), "right", "center"),
    ((5, 6), "left", "bottom"),
    ((-5, 6), "right", "bottom"),
    ((5, -6), "left", "top"),
    ((-5, -6), "right", "top"),
    ((0, 9), "center", "bottom"),
    ((0, -9), "center", "top"),
    ((8, 11), "left", "bottom"),
    ((-8, 11), "right", "bottom"),
    ((8, -11), "left", "top"),
    ((-8, -11), "right", "top"),
)
_GRID_LABEL = "grid-label"


def _label_grid(ax, path: pd.DataFrame, x: str, y: str) -> None:
    """Write at each path point its value on the raw axis of its segment.

    The labels are placed (or dropped where no spot is free) at every draw, by
    a :class:`_GridLabelPlacer` added to the axes, so a title or legend set
    afterwards cannot make them overlap.
    """
    if not any(isinstance(a, _GridLabelPlacer) for a in ax.artists):
        ax.add_artist(_GridLabelPlacer())
    last = len(path) - 1
    for i, point in path.reset_index(drop=True).iterrows():
        segment = int(point["segment"])
        ends = i in (0, last) or path["segment"].iloc[max(i - 1, 0)] != segment
        ends = ends or (i < last and path["segment"].iloc[i + 1] != segment)
        axis = point["axis"] if point["axis"] in point.index else "n_params"
        text = ax.annotate(
            _grid_text(float(point[axis])),
            xy=(point[x], point[y]),
            xytext=_LABEL_SPOTS[0][0],
            textcoords="offset points",
            fontsize=7,
            color=COLORS[min(segment, 1)],
            gid=f"{_GRID_LABEL}:{0 if ends else 1}:{i:06d}",
            zorder=5,
        )
        text.set_in_layout(False)


def _place_labels(ax, renderer) -> None:
    """Put each grid label in the first spot that overlaps no label, line, marker or bar.

    A label with no free spot is hidden; labels at the ends of a segment are
    placed first. Positions are those of the current draw (final layout).
    """
    texts = [t for t in ax.texts if str(t.get_gid()).startswith(_GRID_LABEL)]
    frame = ax.get_window_extent(renderer)
    taken = _occupied(ax, renderer)
    # 2.5 points between two labels, so that "100" and "200" never read "100200".
    gap = 2.5 * ax.figure.dpi / 72
    for text in sorted(texts, key=lambda t: t.get_gid()):
        text.set_visible(True)
        for offset, ha, va in _LABEL_SPOTS:
            text.xyann = offset
            text.set_horizontalalignment(ha)
            text.set_verticalalignment(va)
            x0, y0, x1, y1 = text.get_window_extent(renderer).padded(gap).extents
            inside = frame.x0 <= x0 and x1 <= frame.x1 and frame.y0 <= y0 and y1 <= frame.y1
            hits = (taken[:, 0] < x1) & (taken[:, 2] > x0) & (taken[:, 1] < y1) & (taken[:, 3] > y0)
            if inside and not hits.any():
                taken = np.vstack([taken, [x0, y0, x1, y1]])
                break
        else:
            text.set_visible(False)


class _GridLabelPlacer(Artist):
    """Draws nothing: places the grid labels of its axes when the axes is drawn.

    Its z-order puts it just below the labels, so it runs after the layout
    and before they are drawn.
    """

    zorder = 4.99

    def __init__(self):
        super().__init__()
        self.set_in_layout(False)

    def draw(self, renderer) -> None:
        _place_labels(self.axes, renderer)
        self.stale = False


def _occupied(ax, renderer) -> np.ndarray:
    """Display boxes (x0, y0, x1, y1) of what labels must not cover in an axes.

    Markers, points along the drawn lines (every 2 pixels), error bars,
    scatter points and the legend.
    """
    from matplotlib.collections import LineCollection, PathCollection

    pad = 3.0 * ax.figure.dpi / 72  # a marker of 4.5 points, and a little air
    points, boxes = [], []
    for line in ax.lines:
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(line.get_xydata())
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if line.get_marker() not in (None, "", "None", "none", " "):
            boxes.append(np.hstack([xy - pad, xy + pad]))
        if line.get_linestyle() not in ("None", "", " ", "none") and len(xy) > 1:
            for a, b in zip(xy[:-1], xy[1:], strict=True):
                steps = int(np.ceil(np.hypot(*(b - a)) / 2)) + 1
                points.append(a + np.linspace(0, 1, steps)[:, None] * (b - a))
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            transform = collection.get_transform()
            for segment in collection.get_segments():
                xy = transform.transform(segment)
                boxes.append(np.hstack([xy.min(axis=0), xy.max(axis=0)])[None, :])
        elif isinstance(collection, PathCollection):
            xy = collection.get_offset_transform().transform(collection.get_offsets())
            boxes.append(np.hstack([xy - pad, xy + pad]))
    if points:
        xy = np.vstack(points)
        boxes.append(np.hstack([xy - 1.0, xy + 1.0]))
    if ax.get_legend() is not None:
        boxes.append(np.asarray(ax.get_legend().get_window_extent(renderer).extents)[None, :])
    boxes = np.vstack(boxes) if boxes else np.empty((0, 4))
    return boxes[np.all(np.isfinite(boxes), axis=1)]


def _shape_pieces(df, path: pd.DataFrame, measure: str, error: str) -> list:
    """The segments of :func:`effcomplexity.analysis.segments` as pieces of the path.

    Each piece is (first, last path position, colour segment, legend text);
    the text gives its grid, the direction of the measure and the shape of the
    error against it. A path too short to be read (fewer than
    :data:`~effcomplexity.analysis.MIN_POINTS` distinct measure values) is
    drawn by raw axis, and its legend says so.
    """
    if path[measure].nunique() < analysis.MIN_POINTS:
        short = f" (under {analysis.MIN_POINTS} points: no shape read)"
        return [(a, b, s, text + short) for a, b, s, text in _axis_pieces(path)]
    shapes = analysis.segments(df, error=error, measure=measure)
    colour = {axis: i for i, axis in enumerate(dict.fromkeys(path["axis"]))}
    pieces, first = [], 0
    for row in shapes.itertuples(index=False):
        last = first + int(row.n_points) - 1
        values = [v for v in row.grid if v is not None]
        grid = f" = {_grid_text(min(values))}–{_grid_text(max(values))}" if values else ""
        direction = "stays flat" if row.measure_direction == "flat" else row.measure_direction
        text = (
            f"along {label(row.segment)}{grid}:\n{label(measure)} {direction}; "
            f"error against it {row.error_shape}"
        )
        pieces.append((first, last, colour.get(row.segment, 0), text))
        first = last
    return pieces


def back_to_u(
    df: pd.DataFrame,
    measure: str = "p_test",
    error: str = "test_error",
    *,
    ax=None,
    title: str | None = None,
    verdicts: pd.DataFrame | None = None,
    smooth: bool = False,
    grid_labels: bool = True,
    **test_kwargs,
):
    r"""Error against a complexity measure, one curve per segment of the composite path.

    Against :math:`\hat p_{test}` the second segment of the composite path
    runs back towards lower complexity, and the double descent folds into a
    U (Curth et al. 2023, "back to U"). Each segment is its own curve, in
    path order with an arrow at the end; every point is labelled with its
    value on the segment's raw axis (leaf count, tree count, width; labels
    that would overlap are left out), and the legend gives each segment's
    grid and its shape (:func:`effcomplexity.analysis.segments`: whether the
    measure rises or falls along it, and the shape of the error). With
    several seeds, each point is their mean with seaborn's error bars of
    one standard error (:data:`ERRORBAR`). Grid points off the path are grey.

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
        Default: the verdict, where there is one (``verdicts`` or ``smooth``).
    verdicts : pandas.DataFrame, optional
        :func:`~effcomplexity.analysis.illusion_test` results on ``df`` (for
        instance read back from the file ``effcomplexity analyze --csv``
        wrote); their verdict titles the plot and the smooth is drawn from
        them, nothing is recomputed.
    smooth : bool
        Draw the pooled smooth the verdict read (path means against the
        measure, smoothed by the verdict's LOWESS with its span and scales)
        and its noise band, three noise standard deviations of a point either
        side (the lack-of-fit limit): points far outside the band are not on
        one curve of the measure, and the verdict then claims no pooled shape.
    grid_labels : bool
        Label the points with their raw-axis values.
    **test_kwargs
        Passed to ``illusion_test`` when ``smooth`` is set and ``verdicts``
        is None.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a column is missing, or ``verdicts`` judge another error column or
        lack ``measure``.

    See Also
    --------
    composite : The same path against the raw count.
    verdict_grid : Several measures side by side.
    effcomplexity.analysis.segments : The shapes named in the legend.

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity import plotting
    >>> t = pd.DataFrame({"seed": 0, "axis": ["P_leaf"] * 3 + ["P_ens"] * 3,
    ...     "P_leaf": [2, 10, 50, 50, 50, 50], "P_ens": [1, 1, 1, 2, 5, 10],
    ...     "n_params": [2, 10, 50, 100, 250, 500], "p_test": [2, 10, 60, 30, 15, 9],
    ...     "test_error": [.5, .3, .6, .4, .3, .25]})
    >>> fig = plotting.back_to_u(t)
    >>> ax = fig.axes[0]
    >>> ax.get_xlabel(), [t.get_text() for t in ax.texts if t.get_gid()]
    ('$\\hat p_{test}$', ['2', '10', '50', '2', '5', '10'])
    """
    _check(df, ["seed", "axis", "n_params", measure, error])
    path, means = _path_means(df, [measure, error])
    verdict = _verdict_row(verdicts, measure, error) if verdicts is not None else None
    if smooth and verdict is None:
        tested = analysis.illusion_test(df, error=error, measures=[measure], **test_kwargs)
        verdict = _verdict_row(tested, measure, error)
    own = ax is None
    if own:
        fig, (ax,) = _figure(1, size=(5.6, 4.6))
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
    if smooth:
        ux, curve, low, high = _pooled_smooth(df, measure, error, verdict)
        from .analysis.smoothing import LACK_OF_FIT_MAX

        band = f"noise band (±{LACK_OF_FIT_MAX:g} noise sd)"
        ax.fill_between(ux, low, high, color="#222222", alpha=0.1, linewidth=0, label=band)
        fit = verdict.get("lack_of_fit", float("nan"))
        text = "pooled smooth" + ("" if pd.isna(fit) else f" (lack of fit {fit:.1f} sd)")
        ax.plot(ux, curve, color="#222222", linewidth=1.3, zorder=2, label=text)
    _segment_lines(ax, df, path, measure, error, pieces=_shape_pieces(df, path, measure, error))
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
    _legend_below(ax, fontsize=7.5, seeds=df["seed"].nunique())
    if title is None and verdict is not None:
        title = f"{label(measure)}: {verdict['verdict']}"
    if title is not None:
        ax.set_title(title, fontsize=10)
    if grid_labels:
        # Room inside the frame for the labels of the points at its edges.
        ax.margins(0.08)
        _label_grid(ax, path, measure, error)
    return fig


def verdict_grid(
    df: pd.DataFrame,
    measures: Sequence[str] = ("n_params", "p_train", "p_test"),
    error: str = "test_error",
    *,
    verdicts: pd.DataFrame | None = None,
    smooth: bool = False,
    grid_labels: bool = True,
    ncols: int | None = None,
    title: str | None = None,
    **test_kwargs,
):
    """Error against several measures, each panel titled with its verdict.

    Each panel is a :func:`back_to_u` figure; the verdicts are those of
    :func:`~effcomplexity.analysis.illusion_test`, computed once or passed in.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    measures : sequence of str
        One panel per measure.
    error : str
        Error column.
    verdicts : pandas.DataFrame, optional
        The output of ``illusion_test`` on ``df`` (for instance read back from
        the file ``effcomplexity analyze --csv`` wrote); computed when not
        given. Verdicts of another error column are refused.
    smooth : bool
        Draw in each panel the pooled smooth its verdict read, with its noise
        band (see :func:`back_to_u`).
    grid_labels : bool
        Label the points with their raw-axis values.
    ncols : int, optional
        Panels per row (default: all in one row, up to 4).
    title : str, optional
    **test_kwargs
        Passed to ``illusion_test`` when ``verdicts`` is None.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``verdicts`` judge another error column or lack one of ``measures``.

    See Also
    --------
    back_to_u : One panel of this grid.
    summary : One row per sweep.
    effcomplexity.analysis.illusion_test : The verdicts in the titles.

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
    fig, panels = _figure(len(measures), ncols=ncols or min(len(measures), 4), size=(4.6, 4.4))
    fig.suptitle(title or _default_title(df, f"{label(error)} against each measure"))
    for ax, measure in zip(panels, measures, strict=True):
        back_to_u(
            df, measure, error, ax=ax, verdicts=verdicts, smooth=smooth, grid_labels=grid_labels
        )
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

    See Also
    --------
    effcomplexity.nn.Monitor : Records such a table in the user's own training loop.
    effcomplexity.analysis.illusion_test : The verdict on an epoch-wise curve.

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
    import seaborn as sns

    seeds = df["seed"].nunique() if "seed" in df else 1
    # Along a dense time axis the seed spread is a band; bars would hide the curve.
    style = {"errorbar": ERRORBAR if seeds > 1 else None, "err_style": "band", "legend": False}
    for g, (value, part) in enumerate(groups):
        for j, measure in enumerate(measures):
            ax = panels[g * len(measures) + j]
            _style(ax)
            for k, error in enumerate(errors):
                last = k == len(errors) - 1
                sns.lineplot(
                    data=part,
                    x=x,
                    y=error,
                    ax=ax,
                    color=palette[int(last)],
                    linestyle="-" if last else "--",
                    linewidth=1.8,
                    label=label(error),
                    **style,
                )
            twin = ax.twinx()
            sns.lineplot(
                data=part,
                x=x,
                y=measure,
                ax=twin,
                color=COLORS[1],
                linewidth=1.8,
                label=label(measure),
                **style,
            )
            twin.set_ylabel(label(measure), color=COLORS[1])
            twin.tick_params(axis="y", colors=COLORS[1])
            twin.spines["top"].set_visible(False)
            if _geometric(part[x]):
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
                ncols=2 if len(errors) + 1 + (seeds > 1) > 3 else 3,
                seeds=seeds,
                spread="band",
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

    See Also
    --------
    composite : The left-hand panels.
    verdict_grid : Several measures of one sweep.

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
    fig, panels = _figure(2 * len(names), ncols=2, size=(5.0, 4.4))
    fig.suptitle("Double descent against raw parameters, and against effective parameters")
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
            row = rows[rows["measure"] == x]
            verdict = row["verdict"].iloc[0] if len(row) else "not tested"
            text = f"{name}: against {label(x)}: {verdict}"
            back_to_u(table, x, error, ax=ax, title=text)
            if x == "n_params":
                extra = [c for c in analysis.THRESHOLD_COLUMNS if c in table]
                path, _ = _path_means(table, [error, *extra])
                _mark_switch(ax, path, "n_params")
                _mark_threshold(ax, path, "n_params", error)
                _legend_below(ax, fontsize=7, seeds=table["seed"].nunique())
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
