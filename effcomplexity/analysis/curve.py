"""One curve of error against a measure and its statistics (data or a bootstrap replicate)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .grid import _grid_keys, _interpolation_index, _per_seed, _threshold_known
from .paths import _path_verdict, _pieces, _read_path, _seed_peaks
from .shapes import _describe_shape, _valley_r2
from .smoothing import (
    LACK_OF_FIT_MAX,
    LOG_ERROR_SPAN,
    MEASURE_RTOL,
    NOISE_FLOOR,
    PATH_ALPHA,
    _critical_z,
    _lack_of_fit,
    _log_x,
    _lowess,
    _noise_sd,
    _paired_sd,
    _path_z,
    _smoother,
)
from .tau import _granulated_groups, _granulated_stat, _quiet_nan, _tau_b

#: Fewest distinct measure values along the path that the smoother needs.
MIN_POINTS = 5


class _Curve:
    """What stays fixed across bootstrap replicates: the grid, the path, the groups."""

    def __init__(self, means: pd.DataFrame, measure: str, error: str, gap: str | None):
        self.means = means.reset_index(drop=True)
        self.measure, self.error, self.gap = measure, error, gap
        on_path = self.means["axis"].notna().to_numpy(copy=True)
        if not on_path.any():
            # No composite path in this group: the whole grid is the curve.
            on_path[:] = True
        candidates = np.flatnonzero(on_path)
        size = self.means["n_params"].to_numpy(float)[candidates]
        # A path at one model size (an epoch-wise table) runs along its one varying raw axis.
        varying = [
            a
            for a in _grid_keys(self.means)
            if self.means[a].iloc[candidates].nunique() >= 2 and a != "n_params"
        ]
        one_size = size.size > 0 and np.ptp(size) == 0
        self.path_axis = varying[0] if one_size and len(varying) == 1 else None
        along = self.means[self.path_axis].to_numpy(float)[candidates] if self.path_axis else size
        order = np.argsort(along, kind="stable")
        self.path_idx = candidates[order]
        axes = self.means["axis"].to_numpy(object)[self.path_idx]
        names = list(dict.fromkeys(a for a in axes if isinstance(a, str)))
        self.segment = np.array([names.index(a) if a in names else 0 for a in axes])
        self.axes = names
        first = np.flatnonzero(self.segment == 0)
        two = self.segment.max() > 0 if self.segment.size else False
        self.switch = int(first[-1]) if two and first.size else None
        if self.path_axis is not None:
            self.position = _log_x(self.means[self.path_axis].to_numpy(float)[self.path_idx])[0]
        elif one_size:
            self.position = np.arange(self.path_idx.size, dtype=float)
        else:
            self.position = _log_x(self.means["n_params"].to_numpy(float)[self.path_idx])[0]
        keys = [a for a in _grid_keys(self.means) if self.means[a].nunique() >= 2]
        self.groups = _granulated_groups(self.means, keys)
        self.off_steps = self._off_path_steps()

    def _off_path_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(from, to) grid rows of the steps along the second axis off the path."""
        empty = (np.array([], int), np.array([], int))
        if self.switch is None or len(self.axes) < 2:
            return empty
        first, second = self.axes[:2]
        if first not in self.means or second not in self.means:
            return empty
        switch_value = self.means[first].iloc[self.path_idx[self.switch]]
        a, b = [], []
        for value, group in self.means.groupby(first, sort=False, dropna=False):
            if value == switch_value or len(group) < 2:
                continue
            rows = group.sort_values(second, kind="stable").index.to_numpy()
            a.extend(rows[:-1])
            b.extend(rows[1:])
        return np.asarray(a, int), np.asarray(b, int)


def _log_values(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def _prepare(
    table: pd.DataFrame, measure: str, error: str, columns, extra=(), gap_cols=None, where: str = ""
) -> dict:
    """Grid means, the path and its noise: what every reading of one curve shares."""
    from .grid import grid_means

    means = grid_means(table, [*columns, *extra])
    gap = None
    if gap_cols is not None:
        means["_gap"] = means[gap_cols[0]] - means[gap_cols[1]]
        gap = "_gap"
    curve = _Curve(means, measure, error, gap)
    means = curve.means
    path = means.iloc[curve.path_idx].assign(segment=curve.segment).reset_index(drop=True)
    distinct = path[measure].nunique()
    if distinct < MIN_POINTS:
        raise ValueError(
            f"illusion_test needs at least {MIN_POINTS} distinct values of {measure!r} along the "
            f"composite path{where}; got {distinct}. Use a longer grid (or fewer groups in by=)."
        )
    y_path = path[error].to_numpy(float)
    m_path = path[measure].to_numpy(float)
    log_y = _log_x(y_path, LOG_ERROR_SPAN)[1]
    y_fit = np.log10(y_path) if log_y else y_path
    seeds, per_seed = _per_seed(table, means, columns)
    n_seeds = seeds.size
    on_path = per_seed[:, curve.path_idx]
    y_seeds = on_path[:, :, columns.index(error)]
    y_seeds = _log_values(y_seeds) if log_y else y_seeds
    m_seeds = on_path[:, :, columns.index(measure)]
    # The measure's moves are read on the scale it is smoothed on (logs across a decade).
    log_m = _log_x(m_path)[1]
    m_fit = np.log10(m_path) if log_m else m_path
    m_seeds = _log_values(m_seeds) if log_m else m_seeds
    noise_sd, studentize = _noise_sd(curve.position, y_fit), True
    path_sd, m_sd = noise_sd, _noise_sd(curve.position, m_fit)
    if n_seeds > 1:
        # Several seeds: their spread measures the noise of the means directly.
        with _quiet_nan():  # a grid point that one seed alone reaches has no spread
            spread = np.nanstd(y_seeds, axis=0, ddof=1)
        seed_sd = float(np.nanmedian(spread)) / np.sqrt(n_seeds)
        if seed_sd > 0:
            noise_sd, studentize = seed_sd, False
        # Moves along the path are judged on seed-paired differences.
        path_sd = float(_paired_sd(y_seeds)) / np.sqrt(n_seeds)
        m_sd = float(_paired_sd(m_seeds)) / np.sqrt(n_seeds)
    floor = np.log10(1 + NOISE_FLOOR) if log_y else NOISE_FLOOR * float(np.median(np.abs(y_fit)))
    z_path = _path_z(tuple(np.round(curve.position, 12)), n_seeds, PATH_ALPHA)
    y_threshold = max(z_path * np.sqrt(2) * path_sd, floor)
    m_floor = (
        np.log10(1 + MEASURE_RTOL) if log_m else MEASURE_RTOL * float(np.median(np.abs(m_path)))
    )
    m_threshold = max(z_path * np.sqrt(2) * m_sd, m_floor)
    return {
        "means": means,
        "curve": curve,
        "path": path,
        "gap": gap,
        "seeds": seeds,
        "per_seed": per_seed,
        "n_seeds": n_seeds,
        "log_y": log_y,
        "y": y_fit,
        "m": m_path,
        "noise_sd": noise_sd,
        "studentize": studentize,
        "floor": floor,
        "path_sd": path_sd,
        "y_threshold": y_threshold,
        "m_threshold": m_threshold,
        "pieces": _pieces(m_fit, curve.segment, m_threshold),
        "seed_peaks": _seed_peaks(y_seeds),
    }


def _stats(curve: _Curve, values: Mapping[str, np.ndarray], shape: dict, full: bool) -> dict:
    """The statistics of one set of grid means (the data, or one bootstrap replicate)."""
    measure, error, gap = curve.measure, curve.error, curve.gap
    m, e = values[measure], values[error]
    x_path, y_path = m[curve.path_idx], e[curve.path_idx]
    y_fit = np.log10(y_path) if shape["log_y"] else y_path
    ux, xs, A, weights, frac = _smoother(x_path, shape["log_x"], shape.get("frac"), y_fit)
    if full:
        smooth = _lowess(xs, A @ y_fit, frac)
    else:
        smooth = weights @ y_fit
    noise_sd, z, floor, tol = shape["noise_sd"], shape.get("z"), shape["floor"], shape["tol"]
    if tol is None and z is None:
        z = _critical_z(weights, curve.position, shape["alpha"], studentize=shape["studentize"])

    def threshold(i, j):
        if tol is not None:
            return tol
        return max(z * noise_sd * float(np.linalg.norm(weights[i] - weights[j])), floor)

    pooled, pooled_descents, legs = _describe_shape(smooth, threshold)
    xs_path = np.log10(x_path) if shape["log_x"] else x_path
    lack_of_fit = _lack_of_fit(xs, smooth, xs_path, y_fit, max(noise_sd, shape["floor"]))
    read = _read_path(
        y_fit,
        x_path,
        shape["pieces"],
        shape["y_threshold"],
        shape["floor"],
        shape["log_y"],
        shape["seed_peaks"],
    )
    verdict, n_descents = _path_verdict(read, pooled, pooled_descents, lack_of_fit, LACK_OF_FIT_MAX)
    steps = np.diff(x_path[curve.switch :]) if curve.switch is not None else np.array([])
    a, b = curve.off_steps
    gx = np.log10(m) if shape["log_x"] and np.all(m > 0) else m
    out = {
        "n_descents": n_descents,
        "verdict": verdict,
        "pooled_shape": pooled,
        "lack_of_fit": lack_of_fit,
        "n_rising_descents": read["rise"],
        "n_fold_descents": read["fold"],
        "fold_back": float(np.mean(steps < 0)) if steps.size else float("nan"),
        "fold_back_grid": float(np.mean(m[b] < m[a])) if a.size else float("nan"),
        "u_r2": _valley_r2(gx, e),
        "tau_error": float(_tau_b(m, e[None, :])[0]),
        "tau_gap": float(_tau_b(m, values[gap][None, :])[0]) if gap else float("nan"),
        "granulated_tau_error": _granulated_stat(curve.groups, m, e[None, :])[0],
        "granulated_tau_gap": (
            _granulated_stat(curve.groups, m, values[gap][None, :])[0] if gap else float("nan")
        ),
        "frac": float(frac),
        "z": float(z) if tol is None else float("nan"),
    }
    if full:
        out.update(
            _read=read, _legs=legs, _ux=ux, _smooth=smooth, _x_path=x_path, _y_path=y_path, _gx=gx
        )
    return out


def _peak(stats: dict, path: pd.DataFrame, switch: int | None, train_error: str | None) -> dict:
    """The highest significant interior peak: the raw maximum between its neighbouring minima."""
    legs, ux = stats["_legs"], stats["_ux"]
    x_path, y_path = stats["_x_path"], stats["_y_path"]
    peak = None
    for i, ((a, _), kind) in enumerate(legs):
        if kind == "up" and i + 1 < len(legs):
            hi = legs[i + 1][0][1]
            window = np.flatnonzero((x_path >= ux[a]) & (x_path <= ux[hi]))
            best = window[np.argmax(y_path[window])]
            if peak is None or y_path[best] > y_path[peak]:
                peak = int(best)
    read = stats["_read"]
    if stats["verdict"] == "double descent" and read["spike"] is not None:
        peak = read["spike"]  # a one-point spike, which the smoother absorbs
    elif peak is None and stats["verdict"] in ("double descent", "folds back"):
        peak = read["peak"]  # the highest turn of the raw path
    interp = _interpolation_index(path, train_error)
    nan = float("nan")
    if peak is None:
        location = "no peak"
    elif interp is None and not _threshold_known(path, train_error):
        location = "unknown"
    else:
        spots = []
        if interp is not None and peak == interp:
            spots.append("interpolation threshold")
        if switch is not None and peak == switch:
            spots.append("axis switch")
        location = " and ".join(spots) if spots else "elsewhere"
    return {
        "peak_measure": float(x_path[peak]) if peak is not None else nan,
        "peak_n_params": float(path["n_params"].iloc[peak]) if peak is not None else nan,
        "peak_location": location,
        "peak_steps_from_threshold": (
            float(peak - interp) if peak is not None and interp is not None else nan
        ),
        "peak_steps_from_switch": (
            float(peak - switch) if peak is not None and switch is not None else nan
        ),
    }


def _evidence(stats: dict, measure: str, error: str, n_seeds: int) -> str:
    legs = stats["_legs"]
    ux = stats["_ux"]
    moves = ", ".join(
        f"{'falls' if kind == 'down' else 'rises'} to {measure} = {ux[b]:.4g}"
        for (a, b), kind in legs
    )
    head = f"Smoothed {error} against {measure} " + (moves if moves else "makes no move")
    if np.isnan(stats["z"]):
        head += " (fixed tolerance)"
    else:
        head += f" beyond the noise (sd {stats['noise_sd']:.3g}, z = {stats['z']:.2f})"
    parts = [head]
    if stats["peak_location"] != "no peak":
        where = stats["peak_location"]
        spot = {
            "elsewhere": "not at the threshold or the switch",
            "unknown": "the table does not locate the interpolation threshold",
        }.get(where, f"the {where}")
        parts.append(f"its highest peak is at n_params = {stats['peak_n_params']:.4g} ({spot})")
    read = stats["_read"]
    parts.append(
        f"along the path the error falls {read['rise']} time(s) beyond noise while {measure} "
        f"rises and {read['fold']} time(s) while it falls"
        + (" (with a one-point spike)" if read["spike"] is not None else "")
    )
    parts.append(
        f"the points lie {stats['lack_of_fit']:.2g} noise units from the smooth (a pooled "
        f"{stats['pooled_shape']!r})"
    )
    if not np.isnan(stats["fold_back"]):
        parts.append(f"{measure} falls in {stats['fold_back']:.0%} of steps along the second axis")
    parts.append(f"a single valley explains R^2 = {stats['u_r2']:.2f} of the grid")
    sentence = "; ".join(parts) + "."
    if n_seeds == 1:
        sentence += " One seed: no interval."
    return sentence
