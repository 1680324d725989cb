"""Fitted-estimator cases for the registry-wide invariant tests.

Each family module lists ``CASES``: ``Case`` objects whose ``make()`` returns a
fitted estimator with its training inputs, training labels and held-out inputs.
``tests/test_common.py`` walks every case, and fails if a registered family
has none.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# One module per family group; each defines CASES.
CASE_MODULES = ("linear", "trees", "boosting", "search", "gam", "bagging")


@dataclass(frozen=True)
class Case:
    """A fitted configuration of one registered family."""

    id: str
    family: str  # qualified name of the registered type, as in registered_types()
    make: Callable[[], tuple]  # -> (estimator, X_train, y_train, X_test)
    predict: Callable | None = None  # f(estimator, X) -> predictions; default est.predict
    # Refitting on permuted rows gives the same model (False for bootstrap/random splits).
    permutable: bool = True
    # Relative tolerance of the prediction invariant; 1e-8 unless the estimator
    # itself computes in lower precision (e.g. float32 gradients).
    rtol: float = 1e-8
    # f(estimator, X, y) -> the same configuration fitted afresh; default clone(est).fit.
    refit: Callable | None = None


def all_cases() -> list[Case]:
    cases = []
    for name in CASE_MODULES:
        try:
            module = importlib.import_module(f"tests.cases.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"tests.cases.{name}":
                continue
            raise
        cases.extend(module.CASES)
    return cases


def predictions(case: Case, estimator, X) -> np.ndarray:
    if case.predict is not None:
        return np.asarray(case.predict(estimator, X), dtype=float)
    return np.asarray(estimator.predict(X), dtype=float)
