"""The sweep family registry: what a family declares and how it registers.

A *sweep family* is one kind of model a :class:`~effcomplexity.sweeps.SweepSpec`
can sweep. Everything the spec checks, the runner plans and the results table
holds for that family lives on one registered :class:`SweepFamily` object: its
raw axes (with their smallest value and column dtype), the axis that defines a
unit of work, option defaults and checks, extra columns, a cost estimate and
the function that fits one unit. The spec and the runner know no family by
name; they ask the registry.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..spec import SweepSpec

__all__ = [
    "Axis",
    "SweepFamily",
    "UnitContext",
    "families",
    "get_family",
    "register_family",
]

#: Column dtypes a family may declare (pandas names).
DTYPES = ("Int64", "float64", "str")
#: Columns every sweep table starts with.
ID_COLUMNS = ("sweep", "dataset", "seed", "axis", "n_params")
#: Measures every row carries (NaN where one does not apply, e.g. 0-1 error of a regression).
MEASURE_COLUMNS = (
    "train_mse",
    "test_mse",
    "train_error",
    "test_error",
    "p_train",
    "p_test",
    "df_trace",
    "p_train_se",
    "p_test_se",
)
#: Columns every table ends with.
SIZE_COLUMNS = ("n_train", "n_test")
#: Columns every table has whatever the family; a family may not redeclare them.
RESERVED_COLUMNS = (*ID_COLUMNS, *MEASURE_COLUMNS, *SIZE_COLUMNS)

_REGISTRY: dict[str, SweepFamily] = {}


@dataclasses.dataclass(frozen=True)
class Axis:
    """One raw parameter axis of a sweep family.

    Attributes
    ----------
    name : str
        Column name and grid key (``"P_leaf"``, ``"width"``, ``"epoch"``).
    minimum : int or float
        Smallest value a grid may hold.
    dtype : {"Int64", "float64"}
        pandas dtype of the column; grid values of a ``"float64"`` axis may
        be any real numbers (a weight decay, a training fraction), those of an
        ``"Int64"`` axis must be integers.
    allow_full : bool
        The last grid value may be ``"full"`` (stored as ``None``): no limit,
        e.g. trees grown to purity.
    max_n_train : bool
        Values may not exceed ``n_train`` (leaves, principal components).
    label : str
        What the values count, for error messages (``"leaves per tree"``).

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> axis = sweeps.Axis("P_leaf", minimum=2, allow_full=True, max_n_train=True,
    ...                    label="leaves per tree")
    >>> axis.dtype
    'Int64'
    """

    name: str
    minimum: int = 1
    dtype: str = "Int64"
    allow_full: bool = False
    max_n_train: bool = False
    label: str = ""


@dataclasses.dataclass(frozen=True)
class UnitContext:
    """What a family's :meth:`SweepFamily.run` knows about the unit it computes.

    Attributes
    ----------
    key : str
        The unit's stable key, e.g. ``"seed=0,P_leaf=50"``; seeds auxiliary
        randomness (probes) through :func:`unit_seed`.
    seed : int
        The replicate seed.
    checkpoint_dir : pathlib.Path or None
        An existing folder inside ``<out>.parts/`` where a long unit may save
        state to resume after an interruption; removed once the unit's rows
        are stored. ``None`` when the sweep writes no ``out``.
    progress : callable or None
        Advances an inner progress bar by its argument, when one is shown.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> ctx = sweeps.UnitContext(key="seed=0,P_leaf=50", seed=0)
    >>> ctx.checkpoint_dir is None   # a sweep without ``out``
    True
    """

    key: str
    seed: int
    checkpoint_dir: pathlib.Path | None = None
    progress: Callable[[int], None] | None = None


class SweepFamily:
    """A model family a sweep can run; subclass, instantiate, :func:`register_family`.

    Attributes
    ----------
    name : str
        The ``family`` of a spec.
    axes : tuple of Axis
        Raw axes, in default path order.
    unit_axis : str
        The axis whose value defines a unit of work; the other axis (if any)
        comes out of one staged fit.
    unit_axes : tuple of str
        Every axis whose values define a unit, when more than one does (a
        three-axis family: two settings per unit, the third recorded within
        it); by default ``(unit_axis,)``.
    defaults : mapping
        Options of ``model_kwargs``, with their defaults; no other key is accepted.
    extra_columns : mapping of str to str
        Columns the family adds after the common measures, with their dtypes.
    description : str
        One line describing the model.
    reports_progress : bool
        :meth:`run` advances ``ctx.progress`` (epochs or steps), so the runner
        shows a within-unit progress bar when units run in its own process.
    requires : tuple of str
        Optional dependencies :meth:`run` imports (``"torch"`` for the network
        families); the runner checks them before any unit starts.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> forest = sweeps.get_family("forest")
    >>> [axis.name for axis in forest.axes], forest.unit_axis
    (['P_leaf', 'P_ens'], 'P_leaf')
    """

    name: str = ""
    reports_progress: bool = False
    requires: tuple[str, ...] = ()
    axes: tuple[Axis, ...] = ()
    unit_axis: str = ""
    defaults: Mapping[str, Any] = {}
    extra_columns: Mapping[str, str] = {}
    description: str = ""

    @property
    def unit_axes(self) -> tuple[str, ...]:
        """Axes whose values define a unit (default: just :attr:`unit_axis`)."""
        return (self.unit_axis,)

    @property
    def axis_names(self) -> tuple[str, ...]:
        """Names of :attr:`axes`, in order."""
        return tuple(axis.name for axis in self.axes)

    def validate(self, spec: SweepSpec, where: str) -> None:
        """Check family-specific options of ``spec`` (raise :class:`ValueError`).

        Generic checks (axes, grid values, unknown options) are done by the
        spec before this is called; ``where`` names the spec in messages.
        """

    def cost(self, spec: SweepSpec, params: Mapping, points: Sequence) -> float:
        """Relative cost of one unit, to start the longest first in parallel runs."""
        return 1.0

    def run(
        self, spec: SweepSpec, params: dict, points: list[dict], ctx: UnitContext
    ) -> tuple[list[dict], Any]:
        """Fit one unit; return its rows (in point order) and the dataset used.

        Each row holds the family's axis values, ``n_params``, the measures it
        computes and its extra columns; the runner adds ``sweep``, ``seed``,
        ``axis``, ``dataset``, ``n_train`` and ``n_test`` (read from the
        returned dataset's ``name``, ``n_train`` and ``n_test``).
        """
        raise NotImplementedError(f"Sweep family {self.name!r} does not implement run().")

    def __repr__(self) -> str:
        return f"<SweepFamily {self.name!r} axes={list(self.axis_names)}>"


def _check_family(family: SweepFamily) -> None:
    if not isinstance(family, SweepFamily):
        raise TypeError(
            f"register_family takes a SweepFamily instance, not {type(family).__name__}."
        )
    name = family.name
    if not isinstance(name, str) or not name:
        raise ValueError("A sweep family needs a non-empty string name.")
    axes = tuple(family.axes)
    if not axes or not all(isinstance(axis, Axis) for axis in axes):
        raise ValueError(f"Sweep family {name!r}: axes must be a non-empty tuple of Axis.")
    names = [axis.name for axis in axes]
    if len(set(names)) != len(names) or len(names) > 3:
        raise ValueError(
            f"Sweep family {name!r}: axes must be one to three distinct names, got {names}."
        )
    if family.unit_axis not in names or not set(family.unit_axes) <= set(names):
        raise ValueError(f"Sweep family {name!r}: unit_axis must be one of {names}.")
    if len(names) == 3 and len(family.unit_axes) != 2:
        raise ValueError(
            f"Sweep family {name!r}: a three-axis family defines units by two axes (unit_axes)."
        )
    columns = {**{axis.name: axis.dtype for axis in axes}, **dict(family.extra_columns)}
    clash = sorted(set(columns) & set(RESERVED_COLUMNS))
    overlap = sorted(set(names) & set(family.extra_columns))
    if clash or overlap:
        raise ValueError(
            f"Sweep family {name!r} redeclares column(s) {clash + overlap}: "
            f"every table already has {list(RESERVED_COLUMNS)}."
        )
    bad = {column: dtype for column, dtype in columns.items() if dtype not in DTYPES}
    if bad:
        raise ValueError(f"Sweep family {name!r}: column dtypes must be in {DTYPES}, got {bad}.")


def register_family(family: SweepFamily) -> SweepFamily:
    """Add a sweep family to the registry (at import of its module).

    Parameters
    ----------
    family : SweepFamily
        An instance; its declarations are checked here, once.

    Returns
    -------
    SweepFamily
        ``family``, so a module can write ``FAMILY = register_family(Forest())``.

    Raises
    ------
    TypeError
        When ``family`` is not a :class:`SweepFamily`.
    ValueError
        For a bad declaration (no axes, an unknown unit axis, a column every
        table already has, an unsupported dtype) or a name already registered.

    Examples
    --------
    Registering the same instance again is harmless (modules may be reloaded):

    >>> from effcomplexity import sweeps
    >>> forest = sweeps.get_family("forest")
    >>> sweeps.register_family(forest) is forest
    True
    """
    _check_family(family)
    if family.name in _REGISTRY and _REGISTRY[family.name] is not family:
        raise ValueError(f"A sweep family named {family.name!r} is already registered.")
    _REGISTRY[family.name] = family
    return family


def get_family(name: str) -> SweepFamily:
    """The registered family called ``name``.

    Parameters
    ----------
    name : str
        The ``family`` of a spec.

    Returns
    -------
    SweepFamily

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> sweeps.get_family("forest").description
    'random forests (P_leaf leaves per tree, P_ens trees)'
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown sweep family {name!r}; choose one of {families()}.") from None


def families() -> list[str]:
    """Names of the registered sweep families, sorted."""
    return sorted(_REGISTRY)
