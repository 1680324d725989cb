"""effcomplexity: how complex is a fitted model, really?

Effective parameters of linear smoothers (train and test), classical and
black-box degrees of freedom, neural-network complexity measures, and the
double-descent experiments that motivate them.

The submodules ``nn`` (torch), ``models``, ``datasets``, ``sweeps``,
``analysis`` (the illusion test) and ``plotting`` (seaborn figures) are
imported on first use, so ``import effcomplexity`` stays light.
"""

from __future__ import annotations

import importlib

from .exceptions import (
    ProbeEstimateWarning,
    TrainingMismatchError,
    UnverifiedTrainingDataWarning,
)
from .measures.effective import (
    degrees_of_freedom,
    effective_parameters,
    staged_degrees_of_freedom,
    staged_effective_parameters,
)
from .measures.gdf import efron_covariance_df, generalized_degrees_of_freedom
from .measures.trace import hutchinson, hutchpp, smoother_trace
from .smoothers import (
    Smoother,
    get_smoother,
    register_smoother,
    smooth,
    smoother_matrix,
    staged_predictions,
    unregister_smoother,
)

__version__ = "0.1.0"

__all__ = [
    "ProbeEstimateWarning",
    "Smoother",
    "TrainingMismatchError",
    "UnverifiedTrainingDataWarning",
    "__version__",
    "degrees_of_freedom",
    "efron_covariance_df",
    "effective_parameters",
    "generalized_degrees_of_freedom",
    "get_smoother",
    "hutchinson",
    "hutchpp",
    "register_smoother",
    "smooth",
    "smoother_matrix",
    "smoother_trace",
    "staged_degrees_of_freedom",
    "staged_effective_parameters",
    "staged_predictions",
    "unregister_smoother",
]

_LAZY_SUBMODULES = ("analysis", "datasets", "models", "nn", "plotting", "sweeps")
#: Submodules imported with the package.
_EAGER_SUBMODULES = ("exceptions", "measures", "smoothers")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'effcomplexity' has no attribute {name!r}")


def __dir__():
    # The public names only: not the helpers this file imports (importlib, annotations).
    return sorted({*__all__, *_LAZY_SUBMODULES, *_EAGER_SUBMODULES})
