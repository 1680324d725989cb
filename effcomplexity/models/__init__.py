"""Model families scikit-learn lacks.

The torch model factories (``make_mlp``, ``make_cnn``, ``make_transformer``,
``make_kumar_network``) are imported on first use, so importing this package does not import torch.
"""

from __future__ import annotations

import importlib

from .least_squares import MinNormLeastSquares
from .rff import RandomFourierFeatures

__all__ = [
    "MinNormLeastSquares",
    "RandomFourierFeatures",
    "make_cnn",
    "make_kumar_network",
    "make_mlp",
    "make_transformer",
]

_TORCH_FACTORIES = ("make_cnn", "make_mlp", "make_transformer")


def __getattr__(name: str):
    if name == "make_kumar_network":
        return importlib.import_module(".kumar", __name__).make_kumar_network
    if name in _TORCH_FACTORIES:
        return getattr(importlib.import_module(".torch_models", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_TORCH_FACTORIES) | {"make_kumar_network"})
