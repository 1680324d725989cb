"""The composite path read segment by segment: the measure's direction, the error's descents."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..sweeps import table as _table
from .shapes import _describe_shape, _zigzag
from .smoothing import NOISE_FLOOR


def _pieces(m: np.ndarray, segment: np.ndarray, threshold: float) -> list[tuple[int, int, str]]:
    """(start, end, direction) of every monotone run of the measure along the path.

    Each raw-axis segment (from the last point of the previous one, so that the
    step across the switch belongs to the axis that grows) is cut where the
    measure turns by more than ``threshold``; a segment without such a move is
    one "flat" piece.
    """
    pieces = []
    for s in np.unique(segment):
        idx = np.flatnonzero(segment == s)
        lo, hi = max(int(idx[0]) - 1, 0), int(idx[-1])
        if hi - lo < 1:
            continue
        legs = _zigzag(m[lo : hi + 1], lambda i, j: threshold)
        if not legs:
            pieces.append((lo, hi, "flat"))
            continue
        cuts = [lo, *(lo + b for _, b in legs[:-1]), hi]
        for (a, b), start, end in zip(legs, cuts[:-1], cuts[1:], strict=True):
            pieces.append((start, end, "rises" if m[lo + b] > m[lo + a] else "falls"))
    return pieces


def _seed_peaks(y_seeds: np.ndarray) -> np.ndarray:
    """Whether each path point stands above both neighbours in every seed that has all three.

    ``y_seeds`` holds one row per seed (missing points as NaN); an end point,
    or one that no seed has with both neighbours, is no peak.
    """
    k = y_seeds.shape[1]
    peaks = np.zeros(k, bool)
    for p in range(1, k - 1):
        three = y_seeds[:, p - 1 : p + 2]
        seen = ~np.isnan(three).any(axis=1)
        if seen.any():
            t = three[seen]
            peaks[p] = bool(np.all(t[:, 1] > np.maximum(t[:, 0], t[:, 2])))
    return peaks


def _spike(
    y: np.ndarray,
    threshold: float,
    floor: float,
    log_y: bool = False,
    seed_peaks: np.ndarray | None = None,
) -> int | None:
    """A one-point peak between two descents: the highest such point, or None.

    The point stands above both neighbours by more than ``threshold`` and, on
    the error's own scale (``10 ** y`` when ``log_y``), by more than the noise
    floor (``NOISE_FLOOR`` times the median error); with several seeds it is a
    peak in every seed (``seed_peaks``, see :func:`_seed_peaks`). Before it the
    error fell by more than ``floor`` and, on its own scale, by more than the
    noise floor (the classical descent, which a spike two decades high dwarfs).
    """
    raw = 10.0**y if log_y else y
    raw_floor = NOISE_FLOOR * float(np.median(np.abs(raw)))
    best = None
    for p in range(1, y.size - 1):
        if seed_peaks is not None and not seed_peaks[p]:
            continue
        height = y[p] - max(y[p - 1], y[p + 1])
        raw_height = raw[p] - max(raw[p - 1], raw[p + 1])
        if not (height > threshold and raw_height > raw_floor):  # a NaN threshold is no spike
            continue
        valley = int(np.argmin(y[:p]))
        if valley == 0:
            continue
        drop, raw_drop = y[:valley].max() - y[valley], raw[:valley].max() - raw[valley]
        if drop > floor and raw_drop > raw_floor:
            best = p if best is None or y[p] > y[best] else best
    return best


def _read_path(
    y: np.ndarray,
    m: np.ndarray,
    pieces,
    threshold: float,
    floor: float,
    log_y: bool = False,
    seed_peaks: np.ndarray | None = None,
) -> dict:
    """Descents of the error along the path, counted by the direction of the measure.

    Returns the number of significant falls of ``y`` (in path order) while the
    measure rises (``rise``) and while it falls (``fold``), the falls of the
    whole path read as one zigzag (``path_descents``: two of them are always
    separated by a rise beyond noise, which falls in separate segments need
    not be), whether the measure
    falls anywhere or stays flat, the shape of error against the measure in
    each piece, the highest peak and a one-point spike (:func:`_spike`, with
    ``log_y`` and ``seed_peaks``).
    """
    rise = fold = 0
    shapes, peak = [], None
    for start, end, direction in pieces:
        part = y[start : end + 1]
        legs = _zigzag(part, lambda i, j: threshold)
        downs = sum(part[b] < part[a] for a, b in legs)
        for a, b in legs:
            if part[b] < part[a] and start + a > 0 and (peak is None or part[a] > y[peak]):
                peak = start + a
        if direction == "falls":
            fold += downs
        elif direction == "rises":
            rise += downs
        order = np.argsort(m[start : end + 1], kind="stable")
        ordered = part if direction == "flat" else part[order]
        shapes.append(_describe_shape(ordered, lambda i, j: threshold)[0])
    spike = _spike(y, threshold, floor, log_y, seed_peaks)
    # Descents of the whole path, so two of them always have a rise beyond noise between.
    whole = _zigzag(y, lambda i, j: threshold)
    return {
        "rise": rise,
        "path_descents": int(sum(y[b] < y[a] for a, b in whole)),
        "fold": fold,
        "measure_falls": any(d == "falls" for _, _, d in pieces),
        "measure_flat": any(d == "flat" for _, _, d in pieces),
        "shapes": shapes,
        "peak": spike if spike is not None else peak,
        "spike": spike,
    }


def _path_verdict(read: dict, pooled: str, pooled_descents: int, lack_of_fit: float, lof_max):
    """The verdict from the path reading, the pooled shape and its lack of fit."""
    if read["fold"] >= 1:
        return "folds back", read["fold"] + read["rise"]
    if not read["measure_falls"]:
        if read["rise"] >= 2 and read["path_descents"] >= 2:
            return "double descent", read["path_descents"]
        if read["spike"] is not None:
            return "double descent", 2
    if (read["measure_falls"] or read["measure_flat"]) and lack_of_fit > lof_max:
        return "no single curve", pooled_descents
    return pooled, pooled_descents


def segments(
    df: pd.DataFrame,
    error: str = "test_error",
    measure: str = "p_test",
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The composite path read segment by segment: where the measure rises or falls.

    The path (see :func:`composite_path`) is cut at every switch of raw axis
    and, within an axis, wherever the measure turns beyond its noise; each
    piece is a *segment*. For each, the direction of the measure and the shape
    of the error against the measure are judged as :func:`illusion_test`
    judges them (seed-paired noise, the noise floor, a log scale for an error
    spanning two decades).

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (see :mod:`effcomplexity.sweeps.table`).
    error : str
        Error column.
    measure : str
        Complexity measure on the x-axis.
    by : str or sequence of str, optional
        Columns to group by; one block of rows per group.

    Returns
    -------
    pandas.DataFrame
        One row per group and segment, in path order, with the ``by``
        columns and: ``measure``, ``error``; ``segment`` (the raw axis that
        grows; at one model size, the table's one varying raw axis, such as
        ``step``, else "path"), ``segment_order`` (0, 1, ... along the path); ``grid`` (the
        raw-axis values of its points, a tuple, the first being the last
        point of the previous segment after a switch); ``n_points``;
        ``measure_from``, ``measure_to`` (the mean measure at its ends);
        ``measure_direction`` ("rises", "falls" or "flat", beyond noise);
        ``error_shape`` (a word of :data:`VERDICTS`: the shape of error
        against the measure within the segment); ``n_descents`` (falls of
        the error along the path within the segment).

    Raises
    ------
    ValueError
        As :func:`illusion_test` for a bad table.

    See Also
    --------
    effcomplexity.analysis.illusion_test : The verdict that reads these segments.
    effcomplexity.plotting.back_to_u : Draws each segment with its shape.

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.analysis import segments
    >>> path = pd.DataFrame({"axis": ["P_leaf"] * 4 + ["P_ens"] * 3,
    ...                      "P_leaf": [2, 4, 8, 16, 16, 16, 16], "P_ens": [1, 1, 1, 1, 2, 4, 8],
    ...                      "n_params": [2, 4, 8, 16, 32, 64, 128],
    ...                      "p_test": [2.0, 4.0, 8.0, 16.0, 12.0, 9.0, 7.0],
    ...                      "test_error": [0.40, 0.30, 0.25, 0.45, 0.35, 0.28, 0.24]})
    >>> t = pd.concat([path.assign(seed=s, test_error=path["test_error"] + 0.01 * s)
    ...                for s in range(3)])
    >>> segments(t)[["segment", "grid", "measure_direction", "error_shape"]]
      segment           grid measure_direction          error_shape
    0  P_leaf  (2, 4, 8, 16)             rises             single U
    1   P_ens   (1, 2, 4, 8)             falls  monotone increasing
    """
    from .curve import _prepare  # curve reads the path with this module's functions

    by_cols = [] if by is None else [by] if isinstance(by, str) else list(by)
    _table.check_table(df, [error, measure], by_cols)
    groups = df.groupby(by_cols, sort=False, dropna=False) if by_cols else [((), df)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip(by_cols, key, strict=True))
        prep = _prepare(part, measure, error, [error, measure])
        path, curve = prep["path"], prep["curve"]
        read = _read_path(
            prep["y"],
            prep["m"],
            prep["pieces"],
            prep["y_threshold"],
            prep["floor"],
            prep["log_y"],
            prep["seed_peaks"],
        )
        for order, ((start, end, direction), shape) in enumerate(
            zip(prep["pieces"], read["shapes"], strict=True)
        ):
            axis = curve.axes[int(path["segment"].iloc[end])] if curve.axes else None
            axis = axis or curve.path_axis or "path"
            grid = path[axis] if axis in path else path["n_params"]
            y = prep["y"][start : end + 1]
            threshold = prep["y_threshold"]
            legs = _zigzag(y, lambda i, j, t=threshold: t)
            rows.append(
                {
                    **labels,
                    "measure": measure,
                    "error": error,
                    "segment": axis,
                    "segment_order": order,
                    "grid": tuple(_plain(v) for v in grid.iloc[start : end + 1]),
                    "n_points": end - start + 1,
                    "measure_from": float(prep["m"][start]),
                    "measure_to": float(prep["m"][end]),
                    "measure_direction": direction,
                    "error_shape": shape,
                    "n_descents": int(sum(y[b] < y[a] for a, b in legs)),
                }
            )
    return pd.DataFrame(rows)


def _plain(value):
    """A grid value as a plain Python number (None for 'no limit')."""
    if pd.isna(value):
        return None
    return int(value) if float(value).is_integer() else float(value)
