"""The results table of a sweep: its columns, dtypes and raw axes, and one check.

A sweep table has one row per fitted model (one seed at one grid point).

Required columns (every reader needs them):

* ``seed`` (integer): the replicate;
* ``axis`` (string or missing): the raw axis that grows at this grid point
  along the *composite path* (e.g. ``"P_leaf"`` then ``"P_ens"``); missing
  for grid points off the path (the rest of a product grid). A table whose
  ``axis`` is missing everywhere has no path and is read as one curve;
* ``n_params`` (integer): the raw parameter count, which grows along every
  segment of the path and orders it.

Optional columns: ``sweep`` and ``dataset`` (strings); the raw axes (one
column each, e.g. ``P_leaf``, ``P_ens``, ``n_features``, ``width``, with the
dtype the family declares; trees grown to purity are recorded with
``P_leaf`` = ``n_train``); the measures ``train_mse``, ``test_mse``,
``train_error``, ``test_error``, ``p_train``, ``p_test``, ``df_trace``,
``p_train_se``, ``p_test_se`` (floats, NaN where a measure does not apply);
``n_train`` and ``n_test`` (integers), which the interpolation threshold
needs; and a family's extra columns.

The raw axes are those the registered sweep families declare
(:func:`effcomplexity.sweeps.families.families`) together with every name
the table's own ``axis`` column holds, so that a family registered later, or
a table written by other code, keeps its grid points apart. This module
imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .families._base import ID_COLUMNS, MEASURE_COLUMNS, SIZE_COLUMNS

__all__ = [
    "MEASURE_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "check_table",
    "dtypes",
    "grid_key",
    "raw_axes",
]

#: Columns every sweep table must have.
REQUIRED_COLUMNS = ("seed", "axis", "n_params")
#: Columns a table may have, with their pandas dtypes (raw axes come from the registry).
OPTIONAL_COLUMNS = {
    "sweep": "str",
    "dataset": "str",
    **dict.fromkeys(MEASURE_COLUMNS, "float64"),
    **dict.fromkeys(SIZE_COLUMNS, "Int64"),
}
_REQUIRED_DTYPES = {"seed": "Int64", "axis": "str", "n_params": "Int64"}
assert set(_REQUIRED_DTYPES) == set(REQUIRED_COLUMNS) <= set(ID_COLUMNS)


def _registered_axes() -> tuple[str, ...]:
    from .families import _base

    return tuple(
        dict.fromkeys(name for family in _base._REGISTRY.values() for name in family.axis_names)
    )


def raw_axes(df: pd.DataFrame | None = None) -> tuple[str, ...]:
    """The raw axes: every registered family's axes, then any other name in ``df["axis"]``.

    Parameters
    ----------
    df : pandas.DataFrame, optional
        A sweep table whose ``axis`` column may name axes no family declares.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.sweeps import table
    >>> "P_leaf" in table.raw_axes()
    True
    >>> table.raw_axes(pd.DataFrame({"axis": ["depth", None]}))[-1]
    'depth'
    """
    axes = list(_registered_axes())
    if df is not None and "axis" in df:
        axes += [a for a in pd.unique(df["axis"].dropna()) if isinstance(a, str)]
    return tuple(dict.fromkeys(axes))


def dtypes(df: pd.DataFrame | None = None) -> dict[str, str]:
    """Column name -> pandas dtype of the columns a sweep table may hold.

    Examples
    --------
    >>> from effcomplexity.sweeps import table
    >>> table.dtypes()["p_test"], table.dtypes()["seed"]
    ('float64', 'Int64')
    """
    from .families import _base

    axis_dtypes = {
        axis.name: axis.dtype for family in _base._REGISTRY.values() for axis in family.axes
    }
    extra = {name: "float64" for name in raw_axes(df) if name not in axis_dtypes}
    return {**_REQUIRED_DTYPES, **OPTIONAL_COLUMNS, **axis_dtypes, **extra}


def grid_key(df: pd.DataFrame) -> list[str]:
    """Columns that identify a grid point: the raw axes present, ``axis``, ``n_params``."""
    axes = [a for a in raw_axes(df) if a in df.columns and df[a].notna().any()]
    return list(dict.fromkeys([*axes, "axis", "n_params"]))


def _numeric(df: pd.DataFrame, name: str, where: str) -> np.ndarray:
    column = df[name]
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        example = column[bad].iloc[0]
        raise ValueError(
            f"Column {name!r} has {int(bad.sum())} non-numeric value(s){where}, e.g. "
            f"{example!r}; a sweep table holds numbers there (convert or drop those rows)."
        )
    return values.to_numpy(float)


def check_table(
    df: pd.DataFrame,
    columns: Sequence[str] = (),
    by: Sequence[str] = (),
    *,
    complete: Sequence[str] | None = None,
    finite: Sequence[str] | None = None,
) -> None:
    """Check a sweep table; raise one clear error for the first problem found.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table.
    columns : sequence of str
        Numeric columns the reader needs (errors, measures); they must exist,
        be numeric and finite where present.
    by : sequence of str
        Grouping columns: a (seed, grid point) may repeat across groups.
    complete : sequence of str, optional
        Columns that may hold no missing value (default: ``columns``).
    finite : sequence of str, optional
        Columns besides ``seed`` and ``n_params`` that may hold no infinite
        value (default: ``columns``).

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame.
    ValueError
        For a missing required or requested column, a non-numeric value, an
        infinite value, a missing value in ``complete``, or two rows for the
        same seed and grid point (same or different values).

    Examples
    --------
    >>> import pandas as pd
    >>> from effcomplexity.sweeps import table
    >>> t = pd.DataFrame({"seed": [0, 0], "axis": "n_features", "n_features": [10, 10],
    ...                   "n_params": [10, 10], "test_error": [0.5, 0.1]})
    >>> table.check_table(t, ["test_error"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The table has 2 rows for one seed and grid point (e.g. seed=0, ...
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame (a sweep table), got {type(df).__name__}.")
    needed = list(dict.fromkeys([*REQUIRED_COLUMNS, *columns, *by]))
    missing = [n for n in needed if n not in df.columns]
    if missing:
        raise ValueError(
            f"The table has no column(s) {missing}; it has {list(df.columns)}. A sweep table "
            f"from effcomplexity.sweeps.run has 'seed', 'axis', 'n_params' and the measures "
            f"(see effcomplexity.sweeps.table)."
        )
    complete = list(columns) if complete is None else list(complete)
    finite = ["seed", "n_params", *(columns if finite is None else finite)]
    for name in dict.fromkeys(["seed", "n_params", *columns]):
        values = _numeric(df, name, "")
        if name in finite and np.isinf(values).any():
            raise ValueError(
                f"Column {name!r} has {int(np.isinf(values).sum())} infinite value(s); an "
                f"infinite error or measure has no place on a curve (drop those rows)."
            )
        if name in complete and np.isnan(values).any():
            raise ValueError(
                f"Column {name!r} has {int(np.isnan(values).sum())} missing value(s) of "
                f"{len(df)} rows; drop those rows or choose another column."
            )
    keys = [*by, "seed", *grid_key(df)]
    duplicated = df.duplicated(keys, keep=False)
    if duplicated.any():
        rows = df[duplicated]
        first = rows.iloc[0]
        same = rows[keys].apply(tuple, axis=1) == tuple(first[keys])
        group = rows[same.to_numpy()]
        values = group.drop(columns=keys)
        differ = len(values.drop_duplicates()) > 1
        where = ", ".join(
            f"{k}={first[k]!r}" if isinstance(first[k], str) else f"{k}={first[k]}"
            for k in keys
            if pd.notna(first[k])
        )
        raise ValueError(
            f"The table has {len(group)} rows for one seed and grid point (e.g. {where}) "
            + ("with different values" if differ else "with the same values")
            + "; each seed and grid point is one fitted model. Drop the repeats, or name the "
            "column that tells them apart in by= (or add its raw axis to the 'axis' column)."
        )
