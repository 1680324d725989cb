"""Complexity measures of trained torch networks.

Importing this module imports torch; ``import effcomplexity`` does not.

>>> from effcomplexity import nn as ecnn  # doctest: +SKIP
"""

from .measures.nn.conv_norms import conv_operator_norm
from .measures.nn.hessian import (
    effective_dimensionality,
    hessian_eigenvalues,
    hessian_trace,
    hessian_vector_product,
    spectral_density,
)
from .measures.nn.margins import margin
from .measures.nn.norms import path_norm, spectral_complexity, weight_measures
from .measures.nn.sharpness import pac_bayes_measures, sharpness
from .measures.nn.spectral import spectral_diagnostics
from .measures.nn.telescoping import TelescopingTracker

__all__ = [
    "TelescopingTracker",
    "conv_operator_norm",
    "effective_dimensionality",
    "hessian_eigenvalues",
    "hessian_trace",
    "hessian_vector_product",
    "margin",
    "pac_bayes_measures",
    "path_norm",
    "sharpness",
    "spectral_complexity",
    "spectral_density",
    "spectral_diagnostics",
    "weight_measures",
]
