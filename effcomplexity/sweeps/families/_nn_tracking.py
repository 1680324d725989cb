"""Per-unit bookkeeping of the telescoping tracker shared by the step-recorded families.

A unit's rows are marked ``telescoping="diverged"`` from the first recorded
step where the tracker's predictions left the network's (relative gap above
:data:`~._nn_measures.TRACKING_TOLERANCE`, or not finite), even where a later
gap happens to fall back under it, and every row says from which step
(``tracker_left_at``). Tracked rows get the ratio ``p_test / p_train``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._nn_measures import TRACKING_TOLERANCE, measure_columns

__all__ = ["TRACKING_COLUMNS", "mark_tracking"]

#: Columns the step-recorded families add to the network columns.
TRACKING_COLUMNS: dict[str, str] = {**measure_columns()}

_TELESCOPING_VALUES = ("p_train", "p_train_se", "p_test", "p_test_se", "p_ratio", "p_ratio_se")


def _left(row: dict) -> bool:
    gap = row.get("telescoping_gap")
    if gap is None:
        return False
    return not (math.isfinite(gap) and gap <= TRACKING_TOLERANCE)


def mark_tracking(rows: Sequence[dict], steps: Sequence[int]) -> int | None:
    """Mark rows diverged from the first step the tracker left the network; add ``p_ratio``.

    Parameters
    ----------
    rows : sequence of dict
        One unit's rows, changed in place.
    steps : sequence of int
        The step of each row.

    Returns
    -------
    int or None
        The first step whose gap exceeds the tolerance (None when the tracker
        followed the network at every recorded step, or was off).
    """
    left = sorted(step for step, row in zip(steps, rows, strict=True) if _left(row))
    first = left[0] if left else None
    for step, row in zip(steps, rows, strict=True):
        row["tracker_left_at"] = first
        if first is not None and step >= first:
            row["telescoping"] = "diverged"
            for name in _TELESCOPING_VALUES:
                row.pop(name, None)
            continue
        p_train, p_test = row.get("p_train"), row.get("p_test")
        if "p_ratio" not in row and p_train is not None and p_test is not None and p_train > 0:
            # The paired standard error needs the tracker's per-probe values; it is
            # left missing unless the tracker reports it with the ratio.
            row["p_ratio"] = p_test / p_train
    return first
