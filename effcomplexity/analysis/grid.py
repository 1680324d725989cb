"""The results table as the analysis reads it: grid means, the composite path, the threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..sweeps import table as _table

_INTERP_RTOL = 1e-6
#: Columns that locate the interpolation threshold (see ``_interpolation_index``).
THRESHOLD_COLUMNS = ("p_train", "n_train", "train_mse")


def _grid_keys(df: pd.DataFrame) -> list[str]:
    """Raw axes present in the table: the registry's, then the table's own ``axis`` names."""
    return [a for a in _table.raw_axes(df) if a in df.columns and df[a].notna().any()]


def _check_columns(df, names: Sequence[str]) -> None:
    # Means may be infinite or missing (a plot shows them); a reading checks more.
    names = [n for n in names if n not in _table.REQUIRED_COLUMNS]
    _table.check_table(df, names, complete=[], finite=[])


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
    _check_columns(df, columns)
    keys = _table.grid_key(df)
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

    See Also
    --------
    effcomplexity.analysis.grid_means : Means over seeds at every grid point.
    effcomplexity.plotting.composite : The path drawn against the raw count.

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.analysis import composite_path
    >>> t = pd.DataFrame({"axis": ["P_leaf", None, "P_ens", "P_leaf"],
    ...                   "n_params": [2, 4, 10, 5]})
    >>> composite_path(t)[["axis", "n_params", "segment"]].values.tolist()
    [['P_leaf', 2, 0], ['P_leaf', 5, 0], ['P_ens', 10, 1]]
    """
    if not isinstance(df, pd.DataFrame) or not {"axis", "n_params"} <= set(df.columns):
        raise ValueError("composite_path needs a DataFrame with columns 'axis' and 'n_params'.")
    path = df[df["axis"].notna()]
    path = path.sort_values("n_params", kind="stable")
    order = list(dict.fromkeys(path["axis"]))
    path = path.assign(segment=path["axis"].map({a: i for i, a in enumerate(order)}).astype(int))
    return path.reset_index(drop=True)


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


def _threshold_known(path: pd.DataFrame, train_error: str | None) -> bool:
    """Whether the table records what locates the interpolation threshold."""
    if "p_train" in path and "n_train" in path and path["n_train"].notna().any():
        return bool(path["p_train"].notna().any())
    if "train_mse" in path and path["train_mse"].notna().any():
        return True
    return train_error is not None and train_error in path and path[train_error].notna().any()


def _switch_index(path: pd.DataFrame) -> int | None:
    """Position of the last point of the first axis along a path with two segments."""
    segments = path["segment"].to_numpy()
    first = np.flatnonzero(segments == 0)
    if first.size == 0 or segments.max() == 0:
        return None
    return int(first[-1])


def _paired(error: str, suffix_from: str = "test", suffix_to: str = "train") -> str | None:
    return error.replace(suffix_from, suffix_to, 1) if suffix_from in error else None


def _per_seed(table: pd.DataFrame, means: pd.DataFrame, columns: Sequence[str]):
    """Seeds, and values of ``columns`` as an array (seed, grid point of ``means``, column)."""
    keys = _table.grid_key(table)

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
