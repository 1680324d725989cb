r"""Replot a sweep against other complexity measures, and judge the double descent.

The sweeps write one tidy table (one row per fitted model); this module reads
only that table. :func:`illusion_test` asks, for each complexity measure,
whether test error against that measure shows a double descent, a single U
or a monotone curve, with the statistics a referee would ask for: smoothed
descents with a noise tolerance, the position of the peak, the fold-back of
the measure along the second axis of the composite path, rank agreement
with test error and with the generalization gap, a U-shape fit, and
bootstrap intervals over seeds.

Curth, Jeffares and van der Schaar (2023) argue that the second descent is
an artefact of the raw parameter axis: the composite path switches from one
complexity mechanism to another, and measured by effective parameters on
test inputs (:math:`\hat p_{test}`) the curve folds back into a U.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MIN_POINTS",
    "RAW_AXES",
    "VERDICTS",
    "composite_path",
    "granulated_tau",
    "grid_means",
    "illusion_test",
]

logger = logging.getLogger(__name__)

#: Raw axes a sweep table may sweep (the grid's coordinates).
RAW_AXES = (
    "P_leaf",
    "P_ens",
    "P_boost",
    "P_PC",
    "P_ex",
    "n_features",
    "width",
    "epoch",
    "step",
    "weight_decay",
    "train_fraction",
)
#: The plain-words verdicts of :func:`illusion_test`.
VERDICTS = (
    "double descent",
    "single U",
    "monotone decreasing",
    "monotone increasing",
    "inconclusive",
)
#: Fewest distinct measure values along the path that the smoother needs.
MIN_POINTS = 5

_INTERP_RTOL = 1e-6
#: Columns that locate the interpolation threshold (see ``_interpolation_index``).
THRESHOLD_COLUMNS = ("p_train", "n_train", "train_mse")
# An error spanning this factor (the MSE of a min-norm fit at its threshold) is read in logs.
_LOG_ERROR_SPAN = 100.0


# -- the table --------------------------------------------------------------------------


def _grid_keys(df: pd.DataFrame) -> list[str]:
    """Raw axes that vary (or at least exist) in the table, in RAW_AXES order."""
    return [a for a in RAW_AXES if a in df.columns and df[a].notna().any()]


def _check_columns(df, names: Sequence[str], what: str = "column") -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame (a sweep table), got {type(df).__name__}.")
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(
            f"The table has no {what}(s) {missing}; it has {list(df.columns)}. A sweep table "
            f"from effcomplexity.sweeps.run has 'seed', 'axis', 'n_params' and the measures."
        )


def grid_means(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Means over seeds of ``columns`` at every grid point of a sweep table.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (one row per seed and grid point).
    columns : sequence of str
        Numeric columns to average.

    Returns
    -------
    pandas.DataFrame
        One row per grid point: the raw axes, ``axis``, ``n_params``, the means
        of ``columns`` and ``n_seeds``, in the table's order of first
        appearance.

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.analysis import grid_means
    >>> t = pd.DataFrame({"seed": [0, 1, 0, 1], "axis": "n_features",
    ...                   "n_params": [10, 10, 20, 20], "n_features": [10, 10, 20, 20],
    ...                   "test_error": [0.5, 0.3, 0.2, 0.4]})
    >>> grid_means(t, ["test_error"])[["n_features", "test_error", "n_seeds"]].values.tolist()
    [[10.0, 0.4, 2.0], [20.0, 0.30000000000000004, 2.0]]
    """
    _check_columns(df, ["seed", "axis", "n_params", *columns])
    keys = [*_grid_keys(df), "axis", "n_params"]
    keys = list(dict.fromkeys(keys))
    columns = [c for c in dict.fromkeys(columns) if c not in keys]
    values = df[columns].apply(pd.to_numeric, errors="coerce")
    frame = pd.concat([df[keys].reset_index(drop=True), values.reset_index(drop=True)], axis=1)
    frame["n_seeds"] = df["seed"].to_numpy()
    grouped = frame.groupby(keys, sort=False, dropna=False)
    means = grouped[columns].mean()
    means["n_seeds"] = grouped["n_seeds"].nunique()
    return means.reset_index()


def composite_path(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sweep table along its composite path, in path order.

    The composite path is the set of rows with a non-missing ``axis`` (the raw
    axis that grows at that point); it is ordered by the raw parameter count
    ``n_params``, which grows along every segment of the path.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table, or the output of :func:`grid_means`.

    Returns
    -------
    pandas.DataFrame
        The path rows, stably sorted by ``n_params``, with a ``segment``
        column: 0 for the first axis of the path, 1 for the second.

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.analysis import composite_path
    >>> t = pd.DataFrame({"axis": ["P_leaf", None, "P_ens", "P_leaf"],
    ...                   "n_params": [2, 4, 10, 5]})
    >>> composite_path(t)[["axis", "n_params", "segment"]].values.tolist()
    [['P_leaf', 2, 0], ['P_leaf', 5, 0], ['P_ens', 10, 1]]
    """
    _check_columns(df, ["axis", "n_params"])
    path = df[df["axis"].notna()]
    path = path.sort_values("n_params", kind="stable")
    order = list(dict.fromkeys(path["axis"]))
    path = path.assign(segment=path["axis"].map({a: i for i, a in enumerate(order)}).astype(int))
    return path.reset_index(drop=True)


# -- Kendall tau -------------------------------------------------------------------------


def _tau_b(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``x`` (n,) and every row of ``Y`` (B, n), ties counted."""
    sx = np.sign(x[:, None] - x[None, :])
    sY = np.sign(Y[:, :, None] - Y[:, None, :])
    iu = np.triu_indices(x.size, 1)
    a, b = sx[iu], sY[:, iu[0], iu[1]]
    concord = b @ a
    n_x = np.count_nonzero(a)
    n_y = np.count_nonzero(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return concord / np.sqrt(n_x * n_y)


def granulated_tau(
    df: pd.DataFrame, measure: str, target: str, axes: Sequence[str] | None = None
) -> float:
    r"""Granulated Kendall tau of Jiang et al. (2020) between a measure and a target.

    For each raw axis :math:`i`, :math:`\psi_i` is the mean, over the groups of
    grid points in which only axis :math:`i` varies (every other axis fixed),
    of Kendall's tau-b between ``measure`` and ``target`` in that group; the
    granulated tau is the mean of :math:`\psi_i` over the axes that have at
    least one such group.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per grid point (e.g. :func:`grid_means`), with the raw axes.
    measure, target : str
        Column names (e.g. ``"p_test"`` and ``"test_error"``).
    axes : sequence of str, optional
        The axes to granulate over (default: every raw axis in the table with
        at least two values).

    Returns
    -------
    float
        NaN when no group of two or more points with distinct values exists.

    References
    ----------
    Y. Jiang, B. Neyshabur, H. Mobahi, D. Krishnan, S. Bengio. Fantastic
    generalization measures and where to find them. ICLR 2020.

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.analysis import granulated_tau
    >>> t = pd.DataFrame({"P_leaf": [1, 2, 3, 1, 2, 3], "P_ens": [1, 1, 1, 2, 2, 2],
    ...                   "m": [1, 2, 3, 1, 2, 3], "err": [3, 2, 1, 1, 2, 3]})
    >>> round(granulated_tau(t, "m", "err"), 6)  # P_leaf: (-1 + 1)/2; P_ens: tau undefined
    0.0
    """
    return _granulated(df, measure, target, axes)[0]


def _granulated_groups(df: pd.DataFrame, axes: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """(axis, row indices) of every group in which only that axis varies."""
    groups = []
    for axis in axes:
        others = [a for a in axes if a != axis]
        keyed = df.groupby(others, sort=False, dropna=False) if others else [(None, df)]
        for _, group in keyed:
            if group[axis].nunique() >= 2:
                groups.append((axis, group.index.to_numpy()))
    return groups


def _granulated_stat(groups, m: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Granulated tau of ``m`` with every row of ``Y`` over precomputed groups."""
    psi: dict[str, list[np.ndarray]] = {}
    for axis, rows in groups:
        psi.setdefault(axis, []).append(_tau_b(m[rows], Y[:, rows]))
    if not psi:
        return np.full(len(Y), np.nan)
    with _quiet_nan():
        per_axis = [np.nanmean(np.vstack(t), axis=0) for t in psi.values()]
        return np.nanmean(np.vstack(per_axis), axis=0)


def _granulated(df, measure, target, axes=None, n_perm=0, rng=None):
    frame = df.reset_index(drop=True)
    if axes is None:
        axes = [a for a in _grid_keys(frame) if frame[a].nunique() >= 2]
    groups = _granulated_groups(frame, list(axes))
    m = frame[measure].to_numpy(float)
    y = frame[target].to_numpy(float)

    def statistic(values: np.ndarray) -> np.ndarray:
        return _granulated_stat(groups, m, values)

    observed = float(statistic(y[None, :])[0])
    if not n_perm or np.isnan(observed):
        return observed, float("nan")
    # Permutation null: the target shuffled within each group breaks any association.
    perms = np.tile(y, (n_perm, 1))
    for _, rows in groups:
        idx = np.argsort(rng.random((n_perm, rows.size)), axis=1)
        perms[:, rows] = y[rows][idx]
    null = statistic(perms)
    p = (1 + np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12)) / (1 + n_perm)
    return observed, float(p)


class _quiet_nan:
    """Silence numpy's 'mean of empty slice' warnings for all-NaN groups."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# -- smoothing and descents --------------------------------------------------------------


def _log_x(x: np.ndarray, span: float = 10.0) -> tuple[np.ndarray, bool]:
    """log10 of positive values spanning a factor ``span`` or more, else the values."""
    if np.all(x > 0) and x.max() / x.min() >= span:
        return np.log10(x), True
    return x.astype(float), False


def _lowess(x, y, frac, xvals=None):
    from statsmodels.nonparametric.smoothers_lowess import lowess

    if xvals is None:
        return lowess(y, x, frac=frac, it=0, delta=0.0, return_sorted=False)
    return lowess(y, x, frac=frac, it=0, delta=0.0, xvals=xvals)


def _choose_frac(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """LOWESS span by leave-one-out cross-validation over interior points.

    Candidate spans hold r = 3, ..., k neighbours of the k points; the one
    with the smallest leave-one-out squared error wins (ties: the widest).
    """
    k = x.size
    best = (np.inf, k)
    for r in range(3, k + 1):
        errors = []
        for i in range(1, k - 1):
            keep = np.arange(k) != i
            fit = _lowess(x[keep], y[keep], min(1.0, r / (k - 1)), xvals=x[i : i + 1])
            errors.append((fit[0] - y[i]) ** 2)
        score = float(np.mean(errors))
        if np.isfinite(score) and score <= best[0] * (1 + 1e-9):
            best = (score, r)
    r = best[1]
    return r / k, r


def _pseudo_residuals(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Second-difference pseudo-residuals of every row of Y, scaled to the noise variance."""
    x0, x1, x2 = x[:-2], x[1:-1], x[2:]
    a = (x2 - x1) / (x2 - x0)
    b = (x1 - x0) / (x2 - x0)
    return (a * Y[..., :-2] + b * Y[..., 2:] - Y[..., 1:-1]) / np.sqrt(a**2 + b**2 + 1)


def _noise_sd(x: np.ndarray, y: np.ndarray) -> float:
    """Robust noise scale from second-difference pseudo-residuals.

    Gasser, Sroka and Jennen-Steinmetz (1986): each interior point minus the
    straight line through its neighbours, scaled to unit variance, with the
    median absolute value (robust to a few points of a real peak).
    """
    x, order = np.unique(x, return_index=True)
    if x.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(_pseudo_residuals(x, np.asarray(y)[order]))))


def _zigzag(values: np.ndarray, threshold) -> list[tuple[int, int]]:
    """Significant moves of a curve: (start, end) index pairs of its legs.

    A leg ends at a turning point from which the curve moves back by more
    than ``threshold(i, j)`` (the tolerance for a move between points i and
    j); smaller moves are noise.
    """
    legs = []
    lo = hi = 0  # lowest and highest points while no direction is known
    direction, start, extreme = 0, 0, 0
    for i in range(1, values.size):
        v = values[i]
        if direction == 0:
            if v - values[lo] > threshold(lo, i):
                direction, start, extreme = 1, lo, i
            elif values[hi] - v > threshold(hi, i):
                direction, start, extreme = -1, hi, i
            else:
                lo = i if v < values[lo] else lo
                hi = i if v > values[hi] else hi
            continue
        if direction * (v - values[extreme]) >= 0:
            extreme = i
        elif direction * (values[extreme] - v) > threshold(extreme, i):
            legs.append((start, extreme))
            start, extreme, direction = extreme, i, -direction
    if direction != 0:
        legs.append((start, extreme))
    return legs


def _critical_z(
    weights: np.ndarray,
    position: np.ndarray,
    alpha: float,
    studentize: bool = True,
    n_sim: int = 2000,
) -> float:
    """Studentised simultaneous critical value for the moves of a smoothed noise curve.

    ``weights`` maps the path's errors to the smoothed curve. The value is the
    (1 - alpha) quantile over simulations of max_{i<j} |(W e)_i - (W e)_j| /
    (sigma(e) ||w_i - w_j||), e ~ N(0, I) along the path and sigma(e) its own
    noise estimate (:func:`_noise_sd`), so that pure noise makes a move that
    large anywhere on the curve with probability alpha (a max-t band). Without
    ``studentize`` (noise known from the spread between seeds) sigma(e) = 1.
    """
    k = weights.shape[0]
    iu = np.triu_indices(k, 1)
    diff = weights[iu[0]] - weights[iu[1]]
    norms = np.linalg.norm(diff, axis=1)
    keep = norms > 1e-12
    if not keep.any():
        return float("inf")
    # A fixed stream: the critical value is a property of the smoother, not of the data.
    noise = np.random.default_rng(20231210).standard_normal((n_sim, weights.shape[1]))
    moves = np.abs(noise @ diff[keep].T) / norms[keep]
    if not studentize:
        return float(np.quantile(moves.max(axis=1), 1 - alpha))
    order = np.argsort(position, kind="stable")
    xs = position[order]
    distinct = np.concatenate([[True], np.diff(xs) > 0])
    sigma = 1.4826 * np.median(
        np.abs(_pseudo_residuals(xs[distinct], noise[:, order][:, distinct])), axis=1
    )
    return float(np.quantile(moves.max(axis=1) / np.maximum(sigma, 1e-300), 1 - alpha))


def _lowess_matrix(x: np.ndarray, frac: float) -> np.ndarray:
    """The LOWESS smoother matrix (it is linear in y without robustness iterations)."""
    return np.column_stack([_lowess(x, e, frac) for e in np.eye(x.size)])


# -- the shape fits ------------------------------------------------------------------------


def _valley_r2(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of the best unimodal valley: isotonic decreasing, then increasing.

    Least squares over every split point, each side by pool-adjacent-violators
    (scipy.optimize.isotonic_regression).
    """
    from scipy.optimize import isotonic_regression

    ys = y[np.argsort(x, kind="stable")]
    sst = float(np.sum((ys - ys.mean()) ** 2))
    if sst == 0:
        return 1.0
    best = np.inf
    for k in range(1, ys.size + 1):
        sse = float(np.sum((ys[:k] - isotonic_regression(ys[:k], increasing=False).x) ** 2))
        if k < ys.size:
            rest = ys[k:]
            sse += float(np.sum((rest - isotonic_regression(rest, increasing=True).x) ** 2))
        best = min(best, sse)
    return 1.0 - best / sst


def _quadratic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """R^2 and curvature of the least-squares quadratic (statsmodels OLS)."""
    import statsmodels.api as sm

    if np.unique(x).size < 3:
        return float("nan"), float("nan")
    xc = (x - x.mean()) / (x.std() or 1.0)
    design = np.column_stack([np.ones_like(xc), xc, xc**2])
    fit = sm.OLS(y, design).fit()
    return float(fit.rsquared), float(fit.params[2])


# -- statistics of one curve ---------------------------------------------------------------


def _interpolation_index(path: pd.DataFrame, train_error: str | None) -> int | None:
    """First path position where the model interpolates its training labels.

    That is where ``p_train`` reaches ``n_train`` or the training MSE reaches
    zero; a 0-1 training error of zero is used only when neither is recorded
    (it reaches zero before the labels are fitted exactly).
    """
    hit = np.zeros(len(path), dtype=bool)
    recorded = False
    if "p_train" in path and "n_train" in path and path["p_train"].notna().any():
        p, n = path["p_train"].to_numpy(float), path["n_train"].to_numpy(float)
        hit |= np.nan_to_num(p) >= n * (1 - _INTERP_RTOL)
        recorded = True
    if "train_mse" in path and path["train_mse"].notna().any():
        hit |= np.nan_to_num(path["train_mse"].to_numpy(float), nan=1.0) <= 1e-12
        recorded = True
    if not recorded and train_error is not None and train_error in path:
        hit |= np.nan_to_num(path[train_error].to_numpy(float), nan=1.0) <= 1e-12
    where = np.flatnonzero(hit)
    return int(where[0]) if where.size else None


def _switch_index(path: pd.DataFrame) -> int | None:
    """Position of the last point of the first axis along a path with two segments."""
    segments = path["segment"].to_numpy()
    first = np.flatnonzero(segments == 0)
    if first.size == 0 or segments.max() == 0:
        return None
    return int(first[-1])


def _describe_shape(values: np.ndarray, threshold) -> tuple[str, int, list]:
    legs = _zigzag(values, threshold)
    kinds = ["down" if values[b] < values[a] else "up" for a, b in legs]
    n_descents = kinds.count("down")
    if n_descents >= 2:
        verdict = "double descent"
    elif n_descents == 1:
        down = kinds.index("down")
        if "up" in kinds[down + 1 :]:
            verdict = "single U"
        elif "up" in kinds[:down]:
            verdict = "inconclusive"
        else:
            verdict = "monotone decreasing"
    else:
        verdict = "monotone increasing" if kinds else "inconclusive"
    return verdict, n_descents, list(zip(legs, kinds, strict=True))


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
        order = np.argsort(self.means["n_params"].to_numpy(float)[candidates], kind="stable")
        self.path_idx = candidates[order]
        axes = self.means["axis"].to_numpy(object)[self.path_idx]
        names = list(dict.fromkeys(a for a in axes if isinstance(a, str)))
        self.segment = np.array([names.index(a) if a in names else 0 for a in axes])
        self.axes = names
        first = np.flatnonzero(self.segment == 0)
        two = self.segment.max() > 0 if self.segment.size else False
        self.switch = int(first[-1]) if two and first.size else None
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


def _smoother(x_path: np.ndarray, logged: bool, frac: float | None, y_fit: np.ndarray):
    """(curve x, W mapping path errors to the smoothed curve, the span used)."""
    ux, inverse = np.unique(x_path, return_inverse=True)
    # The curve averages ties in the measure: uy = A y along the path.
    A = np.zeros((ux.size, x_path.size))
    A[inverse, np.arange(x_path.size)] = 1.0
    A /= A.sum(axis=1, keepdims=True)
    xs = np.log10(ux) if logged else ux
    if frac is None:
        frac, _ = _choose_frac(xs, A @ y_fit)
    return ux, xs, A, _lowess_matrix(xs, frac) @ A, frac


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

    verdict, n_descents, legs = _describe_shape(smooth, threshold)
    steps = np.diff(x_path[curve.switch :]) if curve.switch is not None else np.array([])
    a, b = curve.off_steps
    gx = np.log10(m) if shape["log_x"] and np.all(m > 0) else m
    out = {
        "n_descents": n_descents,
        "verdict": verdict,
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
        out.update(_legs=legs, _ux=ux, _smooth=smooth, _x_path=x_path, _y_path=y_path, _gx=gx)
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
    interp = _interpolation_index(path, train_error)
    nan = float("nan")
    if peak is None:
        location = "no peak"
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
        parts.append(
            f"its highest peak is at n_params = {stats['peak_n_params']:.4g} ("
            + ("not at the threshold or the switch" if where == "elsewhere" else f"the {where}")
            + ")"
        )
    if not np.isnan(stats["fold_back"]):
        parts.append(f"{measure} falls in {stats['fold_back']:.0%} of steps along the second axis")
    parts.append(f"a single valley explains R^2 = {stats['u_r2']:.2f} of the grid")
    sentence = "; ".join(parts) + "."
    if n_seeds == 1:
        sentence += " One seed: no interval."
    return sentence


# -- the test ------------------------------------------------------------------------------

_BOOT_STATS = (
    "n_descents",
    "fold_back",
    "fold_back_grid",
    "u_r2",
    "tau_error",
    "tau_gap",
    "granulated_tau_error",
    "granulated_tau_gap",
)


def _paired(error: str, suffix_from: str = "test", suffix_to: str = "train") -> str | None:
    return error.replace(suffix_from, suffix_to, 1) if suffix_from in error else None


def _check_real(value, name, low=None, high=None, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if (low is not None and value <= low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in ({low}, {high}], got {value!r}.")


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def _per_seed(table: pd.DataFrame, means: pd.DataFrame, columns: Sequence[str]):
    """Seeds, and values of ``columns`` as an array (seed, grid point of ``means``, column)."""
    keys = list(dict.fromkeys([*_grid_keys(table), "axis", "n_params"]))

    def key_of(frame):
        # Missing values (the axis off the path) must match each other: key them as None.
        return [
            tuple(None if pd.isna(v) else v for v in row)
            for row in frame[keys].itertuples(index=False)
        ]

    position = {key: i for i, key in enumerate(key_of(means))}
    rows = np.array([position[key] for key in key_of(table)], dtype=int)
    seeds, seed_rows = np.unique(table["seed"].to_numpy(), return_inverse=True)
    sums = np.zeros((seeds.size, len(means), len(columns)))
    counts = np.zeros((seeds.size, len(means), 1))
    data = table[list(columns)].to_numpy(float)
    np.add.at(sums, (seed_rows, rows), data)
    np.add.at(counts, (seed_rows, rows), 1.0)
    with np.errstate(invalid="ignore"):
        return seeds, sums / counts


def _exact_bootstrap(n_seeds: int, n_boot: int) -> bool:
    """Whether every distinct resample of the seeds fits in ``n_boot`` replicates."""
    from math import comb

    return comb(2 * n_seeds - 1, n_seeds) <= n_boot


def _bootstrap_draws(n_seeds: int, n_boot: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Seed-count vectors of bootstrap resamples, with their probabilities.

    Every distinct resample (a multiset of seeds, multinomially weighted) when
    there are at most ``n_boot`` of them: the exact bootstrap distribution.
    Otherwise ``n_boot`` random resamples of equal weight.
    """
    from math import factorial, prod

    if _exact_bootstrap(n_seeds, n_boot):
        import itertools

        counts, weights = [], []
        for draw in itertools.combinations_with_replacement(range(n_seeds), n_seeds):
            c = np.bincount(draw, minlength=n_seeds)
            counts.append(c)
            weights.append(factorial(n_seeds) / prod(factorial(int(k)) for k in c))
        weights = np.asarray(weights, float)
        return np.asarray(counts), weights / weights.sum()
    draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    counts = np.stack([np.bincount(d, minlength=n_seeds) for d in draws])
    return counts, np.full(n_boot, 1.0 / n_boot)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    order = np.argsort(values[keep], kind="stable")
    v, w = values[keep][order], weights[keep][order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cum, q - 1e-12), v.size - 1)])


def _one_group(
    table: pd.DataFrame,
    measure: str,
    error: str,
    gap_cols: tuple[str, str] | None,
    train_error: str | None,
    options: Mapping,
    rng,
    where: str,
) -> dict:
    for col in (error, measure):
        bad = int(table[col].isna().sum())
        if bad:
            raise ValueError(
                f"Column {col!r} has {bad} missing value(s) of {len(table)} rows{where}; "
                f"drop those rows or choose another {'error' if col == error else 'measure'}."
            )
    columns = list(dict.fromkeys([error, measure, *(gap_cols or ())]))
    extra = [c for c in THRESHOLD_COLUMNS if c in table and c not in columns]
    if train_error is not None and train_error in table and train_error not in columns + extra:
        extra.append(train_error)
    means = grid_means(table, columns + extra)
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
    log_y = _log_x(y_path, _LOG_ERROR_SPAN)[1]
    y_fit = np.log10(y_path) if log_y else y_path
    seeds, per_seed = _per_seed(table, means, columns)
    n_seeds = seeds.size
    noise_sd, studentize = _noise_sd(curve.position, y_fit), True
    if n_seeds > 1:
        # Several seeds: their spread measures the noise of the means directly.
        on_path = per_seed[:, curve.path_idx, columns.index(error)]
        spread = np.nanstd(np.log10(on_path) if log_y else on_path, axis=0, ddof=1)
        seed_sd = float(np.nanmedian(spread)) / np.sqrt(n_seeds)
        if seed_sd > 0:
            noise_sd, studentize = seed_sd, False
    shape = {
        "log_x": _log_x(path[measure].to_numpy(float))[1],
        "log_y": log_y,
        "frac": options["frac"],
        "noise_sd": noise_sd,
        "studentize": studentize,
        "z": options["z"],
        "alpha": options["alpha"],
        "tol": options["tol"],
        "floor": 0.0 if log_y else 0.01 * float(np.median(np.abs(y_fit))),
    }
    values = {c: means[c].to_numpy(float) for c in columns}
    if gap:
        values[gap] = means[gap].to_numpy(float)
    stats = _stats(curve, values, shape, full=True)
    stats["noise_sd"] = noise_sd
    stats["log_x"], stats["log_error"] = shape["log_x"], log_y
    stats.update(_peak(stats, path, curve.switch, train_error))
    import statsmodels.api  # noqa: F401  (imported once, outside the bootstrap)
    from scipy.stats import kendalltau

    grid_m = values[measure]
    for name, target in (("error", error), ("gap", gap)):
        if target is None:
            stats[f"tau_{name}"] = stats[f"tau_{name}_p"] = float("nan")
            continue
        res = kendalltau(grid_m, values[target])
        stats[f"tau_{name}"], stats[f"tau_{name}_p"] = float(res.statistic), float(res.pvalue)
        stats[f"granulated_tau_{name}"], stats[f"granulated_tau_{name}_p"] = _granulated(
            means, measure, target, n_perm=options["n_perm"], rng=rng
        )
    if gap is None:
        stats["granulated_tau_gap"] = stats["granulated_tau_gap_p"] = float("nan")
    stats["quad_r2"], stats["quad_curvature"] = _quadratic(stats["_gx"], values[error])

    row = {
        "measure": measure,
        "error": error,
        "n_points": len(path),
        "n_grid": len(means),
        "n_seeds": n_seeds,
    }
    row.update({k: v for k, v in stats.items() if not k.startswith("_")})
    row["evidence"] = _evidence(stats, measure, error, n_seeds)
    row["verdict_support"] = float("nan")
    for name in _BOOT_STATS:
        row[f"{name}_lo"] = row[f"{name}_hi"] = float("nan")
    if n_seeds == 1:
        row["uncertainty"] = "one seed: statistics without intervals"
        return row

    # A replicate's means carry the sampling noise twice (the data's, then the resample's),
    # so its moves are judged against sqrt(2) sigma.
    fixed = {**shape, "frac": stats["frac"], "z": stats["z"], "noise_sd": np.sqrt(2) * noise_sd}
    counts, weights = _bootstrap_draws(n_seeds, options["n_boot"], rng)
    boot = {name: [] for name in _BOOT_STATS}
    verdicts = []
    present = ~np.isnan(per_seed)
    for c in counts:
        w = c[:, None, None] * present
        with np.errstate(invalid="ignore"):
            sample = np.nansum(per_seed * c[:, None, None], axis=0) / w.sum(axis=0)
        replicate = {col: sample[:, j] for j, col in enumerate(columns)}
        if gap:
            replicate[gap] = replicate[gap_cols[0]] - replicate[gap_cols[1]]
        s = _stats(curve, replicate, fixed, full=False)
        verdicts.append(s["verdict"])
        for name in _BOOT_STATS:
            boot[name].append(s[name])
    alpha = (1 - options["level"]) / 2
    for name in _BOOT_STATS:
        vals = np.asarray(boot[name], dtype=float)
        row[f"{name}_lo"] = _weighted_quantile(vals, weights, alpha)
        row[f"{name}_hi"] = _weighted_quantile(vals, weights, 1 - alpha)
    support = float(np.sum(weights[np.asarray(verdicts) == row["verdict"]]))
    row["verdict_support"] = support
    exact = _exact_bootstrap(n_seeds, options["n_boot"])
    row["uncertainty"] = (
        f"bootstrap over {n_seeds} seeds ("
        + ("all resamples, exact" if exact else f"{len(counts)} resamples")
        + ")"
    )
    if support < options["level"]:
        row["evidence"] += (
            f" Only {support:.0%} of bootstrap resamples of the seeds agree on "
            f"'{row['verdict']}' (needs {options['level']:.0%}), so the verdict is withheld."
        )
        row["verdict"] = "inconclusive"
    return row


def illusion_test(
    df: pd.DataFrame,
    error: str = "test_error",
    measures: Sequence[str] = ("n_params", "p_train", "p_test"),
    by: str | Sequence[str] | None = None,
    *,
    gap: str | None = "auto",
    frac: float | None = None,
    tol: float | None = None,
    z: float | None = None,
    alpha: float = 0.05,
    n_boot: int = 1000,
    n_perm: int = 999,
    level: float = 0.9,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    r"""Does the double descent survive a change of complexity measure?

    For each measure (and each group of ``by``), the test error of the
    composite path is read as a curve against the measure and described by
    the statistics below; a plain-words ``verdict`` summarises them.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (:func:`effcomplexity.sweeps.run`): one row per seed and
        grid point, with ``seed``, ``axis``, ``n_params``, the raw axes, the
        error column and the measures.
    error : str
        Error column, e.g. ``"test_error"`` (0-1) or ``"test_mse"``.
    measures : sequence of str
        Complexity measures to put on the x-axis.
    by : str or sequence of str, optional
        Columns to group by (e.g. ``"sweep"``); one result row per group and
        measure.
    gap : str, "auto" or None
        Train-error column of the generalization gap ``error - gap``; "auto"
        pairs ``test_*`` with ``train_*``; None skips the gap statistics.
    frac : float, optional
        LOWESS span (fraction of points). Default: chosen by leave-one-out
        cross-validation over spans of 3 to all points (see Notes).
    tol : float, optional
        A fixed smallest rise or fall counted as a move of the smoothed curve,
        in place of the data-driven threshold of ``z`` standard errors.
    z : float, optional
        A move of the smoothed curve counts when it exceeds ``z`` standard
        errors of the difference of the two smoothed values (see Notes).
        Default: the simultaneous critical value at level ``alpha``.
    alpha : float
        Chance that pure noise makes one spurious move anywhere on the curve
        (sets the default ``z``).
    n_boot : int
        Bootstrap replicates over seeds (used when there are several seeds);
        when the seeds have at most ``n_boot`` distinct resamples (up to 6
        seeds at the default), every one is used with its multinomial weight.
    n_perm : int
        Permutations for the p-value of the granulated tau.
    level : float
        Coverage of the bootstrap intervals, and the share of replicates that
        must agree before a verdict is stated.
    random_state : int, numpy.random.Generator or None
        Seed of the bootstrap and the permutations (default 0: repeatable).

    Returns
    -------
    pandas.DataFrame
        One row per group and measure, with the ``by`` columns and:

        * ``measure``, ``error``, ``n_points`` (path points), ``n_grid`` (grid
          points), ``n_seeds``;
        * ``n_descents``: significant falls of the smoothed curve; ``verdict``
          (one of :data:`VERDICTS`) and ``evidence`` (one sentence why);
        * ``peak_measure``, ``peak_n_params``: the highest interior peak;
          ``peak_location``: "interpolation threshold" (first path point with
          ``p_train`` = n or zero train error), "axis switch" (last point of
          the first axis), both, "elsewhere" or "no peak";
          ``peak_steps_from_threshold``, ``peak_steps_from_switch``;
        * ``fold_back``: share of steps along the later axis of the path
          (from the switch on) in which the measure decreases;
          ``fold_back_grid``: the same off the path (product grids);
        * ``tau_error``, ``tau_error_p``, ``tau_gap``, ``tau_gap_p``: Kendall
          tau-b (scipy) of the measure with the error and with the
          generalization gap over every grid point;
          ``granulated_tau_error``, ``granulated_tau_gap`` with permutation
          p-values (``*_p``): Jiang et al.'s granulated tau over the raw axes;
        * ``u_r2``: R² of the best single valley (isotonic decreasing then
          increasing) over the grid; ``quad_r2``, ``quad_curvature``: the
          quadratic in the (log) measure fitted by OLS;
        * ``frac``, ``noise_sd``, ``z``, ``log_x``, ``log_error``: the
          smoothing and the noise threshold used;
        * ``*_lo``, ``*_hi``: bootstrap intervals over seeds,
          ``verdict_support`` (share of replicates with the same verdict) and
          ``uncertainty`` (what the intervals are, or that there is one seed).

    Raises
    ------
    ValueError
        If a required column is missing, the error or a measure has missing
        values, or a curve has fewer than :data:`MIN_POINTS` distinct
        measure values (a single-row table, say).

    Notes
    -----
    The curve is the composite path (rows with an ``axis``; see
    :func:`composite_path`), averaged over seeds, sorted by the measure, with
    ties averaged; groups without a path use all their grid points. It is
    smoothed by LOWESS (local linear, no robustness iterations, so that a
    real peak is not down-weighted as an outlier) on :math:`\log_{10}` of the
    measure when it is positive and spans a factor 10 or more. The span holds
    :math:`r` of the :math:`k` points, with :math:`r \in \{3, \dots, k\}`
    minimising the leave-one-out error at the interior points.

    The noise scale :math:`\hat\sigma` of the error is read along the path
    (against :math:`\log_{10}` ``n_params``, where the error is a function of
    the position even when the measure folds back): 1.4826 times the median
    absolute pseudo-residual of Gasser, Sroka and Jennen-Steinmetz (1986),
    and at least the median standard error over seeds. LOWESS without
    robustness iterations is a linear smoother, :math:`\hat s = W y`, so a
    move between smoothed points :math:`i` and :math:`j` has standard error
    :math:`\hat\sigma \lVert w_i - w_j \rVert`; a *move* of the smoothed
    curve is a rise or fall between turning points larger than ``z`` such
    standard errors (and than 1% of the median error), with ``z`` by default
    the simultaneous critical value at which pure noise makes a move that
    large anywhere on the curve with probability ``alpha`` (the 1 - ``alpha``
    quantile of the largest standardised pairwise move of :math:`W e`,
    :math:`e \sim N(0, I)`, by simulation); a descent is a falling
    move. Two or more descents: "double descent"; one followed by a rise:
    "single U"; one alone: "monotone decreasing"; only a rise: "monotone
    increasing"; no move, or a rise then a fall: "inconclusive". An error
    spanning a factor 100 or more (the MSE at a min-norm threshold) is read
    on a :math:`\log_{10}` scale.

    With several seeds, each statistic gets a percentile interval from
    ``n_boot`` resamples of the seeds (with replacement), the span, the
    critical value and the noise scale held fixed (the noise scale times
    :math:`\sqrt 2`: a replicate's means carry the sampling noise twice); a
    verdict that fewer than ``level`` of the
    replicates reach is replaced by "inconclusive".

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. A U-turn on double descent:
    rethinking parameter counting in statistical learning. NeurIPS 2023.
    Y. Jiang et al. Fantastic generalization measures and where to find them.
    ICLR 2020. W. S. Cleveland. Robust locally weighted regression and
    smoothing scatterplots. JASA 74, 1979. T. Gasser, L. Sroka, C.
    Jennen-Steinmetz. Residual variance and residual pattern in nonlinear
    regression. Biometrika 73, 1986.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from effcomplexity.analysis import illusion_test
    >>> n = np.array([10, 20, 40, 80, 160, 320, 640, 1280, 2560])
    >>> err = np.array([0.50, 0.40, 0.35, 0.45, 0.60, 0.40, 0.30, 0.25, 0.22])
    >>> t = pd.concat([pd.DataFrame({"seed": s, "axis": "n_features", "n_features": n,
    ...                              "n_params": n, "test_error": err + d})
    ...                for s, d in enumerate([-0.01, 0.0, 0.01])])
    >>> illusion_test(t, measures=["n_params"])[["measure", "n_descents", "verdict"]]
        measure  n_descents         verdict
    0  n_params           2  double descent
    """
    measures = [measures] if isinstance(measures, str) else list(measures)
    if not measures:
        raise ValueError("measures must name at least one column.")
    by_cols = [] if by is None else [by] if isinstance(by, str) else list(by)
    _check_columns(df, ["seed", "axis", "n_params", error, *measures, *by_cols])
    _check_real(frac, "frac", 0.0, 1.0)
    _check_real(tol, "tol", 0.0, None)
    _check_real(z, "z", 0.0, None)
    _check_real(alpha, "alpha", 0.0, 1.0)
    _check_real(level, "level", 0.0, 1.0)
    if level == 1.0:
        raise ValueError("level must be below 1.")
    _check_count(n_boot, "n_boot", 1)
    _check_count(n_perm, "n_perm", 0)
    if len(df) < MIN_POINTS:
        raise ValueError(
            f"illusion_test needs a sweep table with at least {MIN_POINTS} rows; got {len(df)}."
        )
    if gap == "auto":
        train = _paired(error)
        gap_cols = (error, train) if train is not None and train in df.columns else None
    elif gap is None:
        gap_cols = None
    else:
        _check_columns(df, [gap])
        gap_cols = (error, gap)
    train_error = _paired(error)
    if train_error is not None and train_error not in df.columns:
        train_error = None
    if gap_cols is not None and df[gap_cols[1]].isna().any():
        logger.info("Gap column %r has missing values; gap statistics skipped.", gap_cols[1])
        gap_cols = None
    rng = np.random.default_rng(random_state)
    options = {
        "frac": frac,
        "tol": tol,
        "z": z,
        "alpha": alpha,
        "n_boot": n_boot,
        "n_perm": n_perm,
        "level": level,
    }
    groups = df.groupby(by_cols, sort=False, dropna=False) if by_cols else [((), df)]
    rows = []
    for key, table in groups:
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip(by_cols, key, strict=True))
        where = ", ".join(f"{k}={v!r}" for k, v in labels.items())
        where = f" in group {where}" if where else ""
        for measure in measures:
            row = _one_group(table, measure, error, gap_cols, train_error, options, rng, where)
            rows.append({**labels, **row})
    return pd.DataFrame(rows)
