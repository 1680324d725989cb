"""Model families scikit-learn lacks.

The torch model factories (``make_mlp``, ``make_cnn``, ``make_transformer``,
``make_kumar_network``, ``make_grokking_transformer``) are imported on first use, so
importing this package does not import torch.
"""

from __future__ import annotations

import importlib

from .least_squares import MinNormLeastSquares
from .rff import RandomFourierFeatures

__all__ = [
    "GrokkingTransformer",
    "MinNormLeastSquares",
    "RandomFourierFeatures",
    "make_cnn",
    "make_grokking_transformer",
    "make_kumar_network",
    "make_mlp",
    "make_transformer",
    "modular_addition_tokens",
]

# Public torch names and the module that defines each; imported on first use.
_TORCH_NAMES = {
    "make_cnn": ".torch_models",
    "make_mlp": ".torch_models",
    "make_transformer": ".torch_models",
    "GrokkingTransformer": ".transformer",
    "make_grokking_transformer": ".transformer",
    "modular_addition_tokens": ".transformer",
    "make_kumar_network": ".kumar",
}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        return getattr(importlib.import_module(_TORCH_NAMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_TORCH_NAMES))
