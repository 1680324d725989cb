"""Smoother weights of fitted models, one module per family.

Importing this package registers every built-in family.
"""

from . import linear, neighbors, pipeline, statsmodels_results  # noqa: F401  (registration)
from .registry import (
    Smoother,
    get_smoother,
    register_smoother,
    registered_types,
    smooth,
    smoother_matrix,
)

__all__ = [
    "Smoother",
    "get_smoother",
    "register_smoother",
    "registered_types",
    "smooth",
    "smoother_matrix",
]
