"""Declarative double-descent sweep specifications.

A :class:`SweepSpec` says *what* to sweep (a model family, a grid of raw
parameter axes, a dataset, sizes, seeds and label noise) and nothing about
*how* it runs; :func:`effcomplexity.sweeps.run` turns it into work units.
Specs are frozen dataclasses: edit one in code with :meth:`SweepSpec.replace`
(or :func:`dataclasses.replace`) and every field is checked again, so a bad
edit fails at once rather than halfway through a sweep.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from .._validation import is_integer
from .families import get_family

__all__ = ["SweepSpec"]

# Fields the ``quick`` overrides may set (everything that sizes a sweep).
_SIZE_FIELDS = (
    "grid",
    "n_train",
    "n_test",
    "seeds",
    "label_noise",
    "dataset_kwargs",
    "model_kwargs",
    "switch",
    "product",
)
_FULL_DEPTH = ("full", None)
#: numpy's ``RandomState`` and scikit-learn take seeds in ``[0, 2**32)``.
MAX_SEED = 2**32 - 1
#: Largest float64 array a unit may need, 1 TiB: a count (rows, features,
#: trees, probes, ...) whose ``(n_train + n_test) x count`` array would exceed it
#: is refused when the spec is built, not deep inside numpy.
MAX_UNIT_BYTES = 2**40


def _canonical(value):
    """JSON-ready, order-stable form of a field value (for fingerprints)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A double-descent experiment: a model family swept over raw parameter axes.

    Top-level fields give the full (published) size; ``quick`` overrides some
    of them for tests and the demo. Every field is validated on construction,
    so an impossible spec raises :class:`ValueError` before any work starts.

    Parameters
    ----------
    name : str
        Name of the sweep; the ``sweep`` column of the results.
    family : str
        A registered sweep family (:func:`effcomplexity.sweeps.families`),
        which declares the axes, options and extra columns. Built in:
        ``"rff"``: min-norm least squares on random Fourier
        features (axis ``n_features``). ``"rff_pca"``: min-norm least squares
        on the ``P_PC`` leading principal components of ``n + P_ex`` random
        Fourier features. ``"forest"``: random forests (``P_leaf`` leaves per
        tree, ``P_ens`` trees). ``"boosting"``: gradient boosting
        (``P_boost`` rounds, averages of ``P_ens`` boosters), one-vs-rest.
        ``"ridgeless"``: min-norm least squares on Gaussian features.
    dataset : str
        A name from :func:`effcomplexity.datasets.available`.
    grid : mapping of str to sequence
        Values of each raw axis, increasing; the keys are the family's axes.
        ``P_leaf`` may end with ``"full"`` (or ``None``): trees grown to purity.
    n_train, n_test : int
        Training and test set sizes.
    seeds : sequence of int
        One replicate per seed; a seed fixes the model's randomness (random
        features, tree and booster seeds) and, when ``data_seed`` is None, the
        data draw too.
    label_noise : float
        Fraction of training labels replaced by uniformly random classes.
    order : sequence of str, optional
        Order in which the axes grow along the composite path (default: the
        family's order). The path grows ``order[0]`` with the other axis at
        its first value, then ``order[1]`` with the first held at ``switch``.
    switch : int or "full", optional
        Value of ``order[0]`` at which the path switches axis (default: its
        last grid value; ``"full"`` names full-depth trees). Moving it moves
        the interpolation peak.
    product : bool
        Compute every combination of the grid (True) or only the composite
        path (False). Rows off the path have a missing ``axis``.
    dataset_kwargs : mapping
        Extra keyword arguments of the dataset loader (``targets``, ...).
    model_kwargs : mapping
        Family options (see ``sweeps.get_family(family).defaults``).
    data_seed : int or None
        ``random_state`` of the dataset loader; ``None`` draws fresh data for
        every seed (Monte Carlo replicates).
    quick : mapping
        Field overrides for the quick size (any of grid, n_train, n_test,
        seeds, label_noise, dataset_kwargs, model_kwargs, switch, product).
    description, reference : str
        One line for ``effcomplexity list``, and the publication mirrored.

    Raises
    ------
    ValueError
        For an unknown family or dataset, sizes that are not positive, a grid
        that is empty, unsorted, on the wrong axes or past what the family can
        fit (more leaves or principal components than training points), an
        unknown option, or a quick override that breaks any of these; for a
        seed outside ``[0, 2**32)`` (``MAX_SEED``, numpy's rule), a NaN or
        infinite number, and a count so large that an array of
        ``n_train + n_test`` rows by that count would exceed ``MAX_UNIT_BYTES``
        (1 TiB of float64).

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> spec = sweeps.get_spec("belkin_rff").replace(n_train=200, seeds=(0, 1))
    >>> spec.n_train, spec.seeds
    (200, (0, 1))
    """

    name: str
    family: str
    dataset: str
    grid: Mapping[str, tuple]
    n_train: int
    n_test: int
    seeds: tuple[int, ...] = (0,)
    label_noise: float = 0.0
    order: tuple[str, ...] | None = None
    switch: Any = None
    product: bool = True
    dataset_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_seed: int | None = 0
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    reference: str = ""

    def __post_init__(self):
        set_ = object.__setattr__
        family = get_family(self.family)
        if not isinstance(self.grid, Mapping):
            raise ValueError(f"grid must be a mapping of axis -> values, got {self.grid!r}.")
        set_(self, "grid", {str(k): _normalize_values(k, v) for k, v in self.grid.items()})
        set_(self, "seeds", _as_tuple(self.seeds, "seeds"))
        axes = family.axis_names
        order = axes if self.order is None else _as_tuple(self.order, "order")
        set_(self, "order", tuple(str(a) for a in order))
        set_(self, "dataset_kwargs", dict(self.dataset_kwargs))
        set_(self, "model_kwargs", dict(self.model_kwargs))
        set_(self, "quick", dict(self.quick))
        self._validate()
        unknown = sorted(set(self.quick) - set(_SIZE_FIELDS))
        if unknown:
            raise ValueError(
                f"quick may override only {list(_SIZE_FIELDS)}; got {unknown} in spec "
                f"{self.name!r}."
            )
        if self.quick:
            self.sized(quick=True)

    # -- editing -----------------------------------------------------------------
    def replace(self, **changes) -> SweepSpec:
        """A copy with some fields changed, validated again.

        A field set here applies to both sizes: it is also removed from the
        ``quick`` overrides (pass ``quick=...`` to edit the quick size alone).

        Parameters
        ----------
        **changes
            New values of :class:`SweepSpec` fields.

        Returns
        -------
        SweepSpec
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ValueError(f"SweepSpec has no field(s) {unknown}; fields: {sorted(fields)}.")
        if "quick" not in changes:
            changes["quick"] = {k: v for k, v in self.quick.items() if k not in changes}
        return dataclasses.replace(self, **changes)

    def sized(self, quick: bool) -> SweepSpec:
        """The spec at one size: ``quick`` overrides applied, none left pending.

        Parameters
        ----------
        quick : bool
            Apply the quick overrides (True) or keep the full size (False).

        Returns
        -------
        SweepSpec
        """
        overrides = dict(self.quick) if quick else {}
        return dataclasses.replace(self, quick={}, **overrides)

    # -- derived views -----------------------------------------------------------
    @property
    def axes(self) -> tuple[str, ...]:
        """The raw axes swept, in path order."""
        return self.order

    def resolved_model_kwargs(self) -> dict[str, Any]:
        """Family defaults updated with ``model_kwargs``."""
        return {**get_family(self.family).defaults, **self.model_kwargs}

    def switch_value(self):
        """Value of ``order[0]`` at which the composite path switches axis."""
        if self.switch is None:
            return self.grid[self.order[0]][-1]
        return None if self.switch == "full" else self.switch

    def points(self) -> list[dict[str, Any]]:
        """Grid points computed: the whole product, or only the composite path.

        Returns
        -------
        list of dict
            One ``{axis: value}`` per point, in the order of the grid.
        """
        axes = self.order
        if len(axes) == 1:
            return [{axes[0]: v} for v in self.grid[axes[0]]]
        keys = list(get_family(self.family).axis_names)
        combos = itertools.product(*(self.grid[k] for k in keys))
        points = [dict(zip(keys, c, strict=True)) for c in combos]
        if self.product:
            return points
        return [p for p in points if self.path_axis(p) is not None]

    def path_axis(self, point: Mapping[str, Any]) -> str | None:
        """The axis that grows to reach ``point`` along the composite path.

        Returns ``None`` for points off the path (product grids only), and
        for every point of a three-axis sweep, which has no composite path.
        """
        axes = self.order
        if len(axes) == 1:
            return axes[0]
        if len(axes) > 2:
            return None
        first, second = axes
        a_values, b_values = self.grid[first], self.grid[second]
        switch_at = a_values.index(self.switch_value())
        a_pos = a_values.index(point[first])
        if point[second] == b_values[0] and a_pos <= switch_at:
            return first
        if a_pos == switch_at and point[second] != b_values[0]:
            return second
        return None

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the numbers (not the prose)."""
        data = {
            f.name: _canonical(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in ("description", "reference", "quick")
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    # -- validation --------------------------------------------------------------
    def _validate(self) -> None:
        where = f"sweep spec {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("A sweep spec needs a non-empty name.")
        for size in ("n_train", "n_test"):
            value = getattr(self, size)
            if not is_integer(value) or value < 1:
                raise ValueError(f"{size} must be a positive integer in {where}, got {value!r}.")
        if not self.seeds:
            raise ValueError(f"seeds must list at least one seed in {where}.")
        for seed in self.seeds:
            if not is_integer(seed) or not 0 <= seed <= MAX_SEED:
                raise ValueError(
                    f"seeds must be integers in [0, 2**32 - 1] (numpy's seed range) in "
                    f"{where}, got {seed!r}."
                )
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct in {where}, got {self.seeds}.")
        if self.data_seed is not None and (
            not is_integer(self.data_seed) or not 0 <= self.data_seed <= MAX_SEED
        ):
            raise ValueError(
                f"data_seed must be None or an integer in [0, 2**32 - 1] (numpy's seed "
                f"range) in {where}, got {self.data_seed!r}."
            )
        self._check_count(self.n_train + self.n_test, "n_train + n_test", where, per_row=False)
        noise = self.label_noise
        if not isinstance(noise, numbers.Real) or not 0.0 <= noise < 1.0:
            raise ValueError(f"label_noise must be in [0, 1) in {where}, got {noise!r}.")
        if not isinstance(self.product, bool):
            raise ValueError(f"product must be True or False in {where}.")
        self._validate_axes(where)
        self._validate_options(where)
        self._validate_dataset(where)

    def _validate_axes(self, where: str) -> None:
        family = get_family(self.family)
        axes = family.axis_names
        if set(self.grid) != set(axes):
            raise ValueError(
                f"The {self.family!r} family sweeps axes {list(axes)}; {where} has grid "
                f"axes {sorted(self.grid)}."
            )
        if sorted(self.order) != sorted(axes):
            raise ValueError(
                f"order must be a permutation of {list(axes)} in {where}, got {list(self.order)}."
            )
        n = self.n_train
        for axis in family.axes:
            values = self.grid[axis.name]
            if not values:
                raise ValueError(f"grid[{axis.name!r}] is empty in {where}.")
            if None in (values if not axis.allow_full else values[:-1]):
                raise ValueError(
                    f"'full' may only be the last value of grid[{axis.name!r}] in {where}."
                    if axis.allow_full
                    else f"grid[{axis.name!r}] takes no 'full' value in {where}."
                )
            numeric = [v for v in values if v is not None]
            real = axis.dtype == "float64"
            for v in numeric:
                ok = (
                    isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                    if real
                    else is_integer(v)
                )
                if not ok or v < axis.minimum:
                    kind = "finite numbers" if real else "integers"
                    raise ValueError(
                        f"grid[{axis.name!r}] values must be {kind} >= {axis.minimum} in "
                        f"{where}, got {v!r}."
                    )
                if not real:
                    self._check_count(v, f"grid[{axis.name!r}] value", where)
            if any(b <= a for a, b in itertools.pairwise(numeric)):
                raise ValueError(
                    f"grid[{axis.name!r}] must be strictly increasing in {where}, "
                    f"got {list(values)}."
                )
            if axis.max_n_train:
                past = [v for v in numeric if v > n]
                if past:
                    what = axis.label or f"{axis.name} values"
                    raise ValueError(
                        f"grid[{axis.name!r}] goes past n_train = {n} in {where} ({past}): a "
                        f"model fitted on {n} points has at most {n} {what}."
                    )
                if axis.allow_full and None in values and n in values:
                    raise ValueError(
                        f"grid[{axis.name!r}] lists both n_train = {n} and 'full' in {where}: "
                        f"they are the same model."
                    )
        if len(self.order) == 2:
            first = self.grid[self.order[0]]
            if self.switch_value() not in first:
                raise ValueError(
                    f"switch = {self.switch!r} is not a value of grid[{self.order[0]!r}] "
                    f"= {list(first)} in {where}."
                )
        elif self.switch is not None:
            raise ValueError(f"switch applies only to two-axis sweeps ({where}).")
        if len(self.order) > 2 and not self.product:
            raise ValueError(
                f"a three-axis sweep has no composite path: product must be True in {where}."
            )

    def _check_count(self, count: int, what: str, where: str, per_row: bool = True) -> None:
        """Refuse a count whose ``rows x count`` float64 array would exceed ``MAX_UNIT_BYTES``."""
        rows = self.n_train + self.n_test if per_row else 1
        needed = 8 * rows * int(count)
        if needed > MAX_UNIT_BYTES:
            shape = f"{rows} x {count}" if per_row else f"{count} x 1"
            raise ValueError(
                f"{what} = {count} is too large in {where}: an array of {shape} float64 "
                f"values would need {needed:.3g} bytes, more than the {MAX_UNIT_BYTES:.3g} "
                f"bytes (1 TiB, MAX_UNIT_BYTES) one sweep unit may use. Use a smaller value."
            )

    def _check_numbers(self, options: Mapping, name: str, where: str) -> None:
        """Numeric options (and numbers inside tuples) must be finite, counts not absurd."""
        for key, value in options.items():
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, bool) or not isinstance(item, numbers.Real):
                    continue
                if not math.isfinite(item):
                    raise ValueError(
                        f"{name}[{key!r}] must be a finite number in {where}, got {value!r}."
                    )
                if is_integer(item):
                    self._check_count(item, f"{name}[{key!r}]", where)

    def _validate_options(self, where: str) -> None:
        family = get_family(self.family)
        allowed = family.defaults
        unknown = sorted(set(self.model_kwargs) - set(allowed))
        if unknown:
            raise ValueError(
                f"Unknown model option(s) {unknown} for the {self.family!r} family in {where}; "
                f"options: {sorted(allowed)}."
            )
        self._check_numbers(self.model_kwargs, "model_kwargs", where)
        self._check_numbers(self.dataset_kwargs, "dataset_kwargs", where)
        family.validate(self, where)

    def _validate_dataset(self, where: str) -> None:
        from .. import datasets

        names = list(datasets.available())
        if self.dataset not in names:
            raise ValueError(
                f"Unknown dataset {self.dataset!r} in {where}; available: {sorted(names)}."
            )
        loader = getattr(datasets, self.dataset, None)
        if loader is None:
            return
        params = inspect.signature(loader).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        reserved = {"n_train", "n_test", "random_state", "label_noise", "n_features"}
        clash = sorted(reserved & set(self.dataset_kwargs))
        if clash:
            raise ValueError(
                f"dataset_kwargs may not set {clash} in {where}: use the spec's fields "
                f"(n_train, n_test, data_seed, label_noise) or the grid."
            )
        if not takes_any:
            unknown = sorted(set(self.dataset_kwargs) - set(params))
            if unknown:
                raise ValueError(
                    f"The {self.dataset!r} loader takes no argument(s) {unknown} ({where}); "
                    f"it takes {sorted(params)}."
                )
            if self.label_noise and "label_noise" not in params:
                raise ValueError(
                    f"The {self.dataset!r} dataset has no labels to corrupt: label_noise must "
                    f"be 0 in {where}."
                )


def _as_tuple(values, name: str) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a sequence, got {values!r}.")
    return tuple(values)


def _normalize_values(axis, values) -> tuple:
    values = _as_tuple(values, f"grid[{axis!r}]")
    return tuple(None if v in _FULL_DEPTH and not is_integer(v) else v for v in values)
