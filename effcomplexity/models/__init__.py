"""Model families scikit-learn lacks."""

from .least_squares import MinNormLeastSquares
from .rff import RandomFourierFeatures

__all__ = [
    "MinNormLeastSquares",
    "RandomFourierFeatures",
]
