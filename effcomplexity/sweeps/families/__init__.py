"""Registered sweep families, one module per family.

Importing this package registers every built-in family. A new family is one
new module here: subclass :class:`SweepFamily`, declare its axes, defaults
and extra columns, implement :meth:`SweepFamily.run`, call
:func:`register_family` at import, and import the module below.
"""

from . import (  # noqa: F401  (importing registers)
    boosting,
    forest,
    grokking,
    grokking_mnist,
    grokking_polynomial,
    grokking_transformer,
    mlp_width,
    mnist1d,
    rff,
    ridgeless,
)
from ._base import (
    Axis,
    SweepFamily,
    UnitContext,
    families,
    get_family,
    register_family,
)
from ._common import load_data, unit_seed

__all__ = [
    "Axis",
    "SweepFamily",
    "UnitContext",
    "families",
    "get_family",
    "load_data",
    "register_family",
    "unit_seed",
]
