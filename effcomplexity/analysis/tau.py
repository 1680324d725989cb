"""Kendall tau-b and the granulated tau of Jiang et al. (2020) over the raw axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .grid import _grid_keys


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
