"""Complexity measures of trained torch networks.

Importing this module imports torch; ``import effcomplexity`` does not.

>>> from effcomplexity import nn as ecnn
>>> "weight_measures" in ecnn.__all__
True
"""

from .measures._nn.conv_norms import conv_operator_norm
from .measures._nn.hessian import (
    effective_dimensionality,
    hessian_eigenvalues,
    hessian_trace,
    hessian_vector_product,
    spectral_density,
)
from .measures._nn.llc import LLCResult, local_learning_coefficient
from .measures._nn.margins import margin
from .measures._nn.monitor import Monitor, measure
from .measures._nn.norms import path_norm, spectral_complexity, weight_measures
from .measures._nn.sgld import SGLD
from .measures._nn.sharpness import pac_bayes_measures, sharpness
from .measures._nn.spectral import fit_power_law, spectral_diagnostics
from .measures._nn.telescoping import TelescopingTracker

__all__ = [
    "LLCResult",
    "Monitor",
    "SGLD",
    "TelescopingTracker",
    "conv_operator_norm",
    "effective_dimensionality",
    "fit_power_law",
    "hessian_eigenvalues",
    "hessian_trace",
    "hessian_vector_product",
    "local_learning_coefficient",
    "margin",
    "measure",
    "pac_bayes_measures",
    "path_norm",
    "sharpness",
    "spectral_complexity",
    "spectral_density",
    "spectral_diagnostics",
    "weight_measures",
]
