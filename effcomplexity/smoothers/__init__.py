"""Smoother weights of fitted models, one module per family.

Importing this package registers every built-in family.
"""

from . import (  # noqa: F401  (importing a family registers it)
    boosting,
    gam,
    linear,
    neighbors,
    pipeline,
    search,
    statsmodels_results,
    trees,
    voting,
)
from . import registry as _registry
from .registry import (
    Smoother,
    get_smoother,
    register_smoother,
    registered_types,
    smooth,
    smoother_matrix,
    staged_predictions,
    unregister_smoother,
)
from .voting import staged_over_members

_registry._record_builtins()

__all__ = [
    "Smoother",
    "get_smoother",
    "register_smoother",
    "registered_types",
    "smooth",
    "smoother_matrix",
    "staged_over_members",
    "staged_predictions",
    "unregister_smoother",
]
