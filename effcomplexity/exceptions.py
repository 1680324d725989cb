"""Every exception and warning class of the package, under one name.

The classes are defined beside the code that raises them and stay importable
from there; this module gathers them for ``except`` clauses and warning
filters.

Examples
--------
>>> import warnings
>>> import numpy as np
>>> from sklearn.linear_model import Ridge
>>> import effcomplexity as ec
>>> X = np.random.default_rng(0).normal(size=(20, 3))
>>> ridge = Ridge(alpha=1.0).fit(X, X[:, 0])
>>> with warnings.catch_warnings():   # X is known to be the training set
...     warnings.simplefilter("ignore", ec.UnverifiedTrainingDataWarning)
...     p = ec.effective_parameters(ridge, X)
>>> round(p, 3) == round(ec.effective_parameters(ridge, X, y_train=X[:, 0]), 3)
True
"""

from __future__ import annotations

from ._validation import TrainingMismatchError, UnverifiedTrainingDataWarning
from .measures._probes import ProbeEstimateWarning

__all__ = [
    "ProbeEstimateWarning",
    "TrainingMismatchError",
    "UnverifiedTrainingDataWarning",
]
