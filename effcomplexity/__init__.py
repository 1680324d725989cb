"""effcomplexity: how complex is a fitted model, really?

Effective parameters of linear smoothers (train and test), classical and
black-box degrees of freedom, neural-network complexity measures, and the
double-descent experiments that motivate them.

Every public name and the submodules ``nn`` (torch), ``models``,
``datasets``, ``sweeps``, ``analysis`` (the illusion test) and ``plotting``
(seaborn figures) are imported on first use, so ``import effcomplexity``
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: The module that defines each public name. Names are imported on first use,
#: so the command line and ``import effcomplexity`` load no scikit-learn,
#: pandas or torch until a name that needs them is used.
_HOMES = {
    "ProbeEstimateWarning": "exceptions",
    "TrainingMismatchError": "exceptions",
    "UnverifiedTrainingDataWarning": "exceptions",
    "degrees_of_freedom": "measures.effective",
    "effective_parameters": "measures.effective",
    "staged_degrees_of_freedom": "measures.effective",
    "staged_effective_parameters": "measures.effective",
    "efron_covariance_df": "measures.gdf",
    "generalized_degrees_of_freedom": "measures.gdf",
    "hutchinson": "measures.trace",
    "hutchpp": "measures.trace",
    "smoother_trace": "measures.trace",
    "Smoother": "smoothers",
    "get_smoother": "smoothers",
    "register_smoother": "smoothers",
    "smooth": "smoothers",
    "smoother_matrix": "smoothers",
    "staged_over_members": "smoothers",
    "staged_predictions": "smoothers",
    "unregister_smoother": "smoothers",
}

if TYPE_CHECKING:
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
        staged_over_members,
        staged_predictions,
        unregister_smoother,
    )

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
    "staged_over_members",
    "staged_predictions",
    "unregister_smoother",
]

_LAZY_SUBMODULES = (
    "analysis",
    "datasets",
    "exceptions",
    "measures",
    "models",
    "nn",
    "plotting",
    "smoothers",
    "sweeps",
)


def __getattr__(name: str):
    import importlib

    if name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'effcomplexity' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(_LAZY_SUBMODULES))
