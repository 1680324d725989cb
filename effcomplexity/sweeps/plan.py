"""The plan of a sweep: its units of work, in table order.

Kept apart from the runner so that the results store and the table can name a
:class:`Unit` without importing the engine that runs it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec import SweepSpec

__all__ = ["Unit", "group_points", "plan"]


@dataclasses.dataclass(frozen=True)
class Unit:
    """One unit of work: a fit for one seed, accounting for some grid points.

    Attributes
    ----------
    index : int
        Position in the plan; rows of the final table follow it.
    seed : int
        Replicate seed.
    params : dict
        Value of the axis that defines the unit.
    points : tuple of dict
        Grid points (one row each) the unit computes.
    key : str
        Stable name, e.g. ``"seed=0,P_leaf=50"``.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> unit = sweeps.plan(sweeps.get_spec("curth_trees").sized(quick=True))[0]
    >>> unit.key, len(unit.points)   # one forest, recorded at every tree count
    ('seed=42,P_leaf=2', 5)
    """

    index: int
    seed: int
    params: Mapping[str, Any]
    points: tuple
    key: str


def group_points(spec: SweepSpec) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Group the spec's grid points into units: ``(unit params, points)`` pairs."""
    from .families import get_family

    axes = get_family(spec.family).unit_axes
    groups: dict[Any, list[dict[str, Any]]] = {}
    for point in spec.points():
        groups.setdefault(tuple(point[a] for a in axes), []).append(point)
    ordered = [v for v in itertools.product(*(spec.grid[a] for a in axes)) if v in groups]
    return [(dict(zip(axes, value, strict=True)), groups[value]) for value in ordered]


def plan(spec: SweepSpec) -> list[Unit]:
    """The units of a sized spec, in table order (seed, then grid).

    Parameters
    ----------
    spec : SweepSpec
        A spec with no pending quick overrides (see :meth:`SweepSpec.sized`).

    Returns
    -------
    list of Unit

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> units = sweeps.plan(sweeps.get_spec("curth_trees").sized(quick=True))
    >>> len(units), units[-1].key
    (8, 'seed=42,P_leaf=full')
    """
    units = []
    groups = group_points(spec)
    for seed in spec.seeds:
        for params, points in groups:
            named = (f"{k}={'full' if v is None else v}" for k, v in params.items())
            key = ",".join([f"seed={seed}", *named])
            units.append(Unit(len(units), seed, dict(params), tuple(points), key))
    return units
