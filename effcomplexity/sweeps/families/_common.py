"""Helpers the built-in sweep families share: data, seeds, recorded times, option checks.

Units read only the spec, their seed and their grid points, so any process on
any machine computes the same numbers.
"""

from __future__ import annotations

import functools
import numbers
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._validation import is_integer

if TYPE_CHECKING:
    from ..spec import SweepSpec

__all__ = ["load_data", "log_spaced", "unit_seed"]


def unit_seed(seed: int, key: str) -> int:
    """A 32-bit seed for the auxiliary randomness of one unit (probes).

    Derived from the replicate seed and the unit's key only, never from the
    process or worker that runs it.
    """
    state = np.random.SeedSequence([int(seed), zlib.crc32(key.encode())])
    return int(state.generate_state(1)[0])


def log_spaced(stop: int, num: int, *, start: int = 1, zero: bool = True) -> tuple[int, ...]:
    """About ``num`` distinct integers spaced evenly in log scale up to ``stop``.

    Parameters
    ----------
    stop : int
        Last value (included).
    num : int
        Number of values requested; fewer come back when rounding merges some.
    start : int
        First positive value.
    zero : bool
        Also record 0 (the network at initialisation).

    Returns
    -------
    tuple of int
        Strictly increasing.

    Examples
    --------
    >>> from effcomplexity.sweeps import log_spaced
    >>> log_spaced(1000, 4)
    (0, 1, 10, 100, 1000)
    """
    if stop < start or num < 1:
        raise ValueError(f"log_spaced needs stop >= start >= 1 and num >= 1, got {stop}, {num}.")
    values = np.unique(np.round(np.geomspace(start, stop, num)).astype(int))
    return ((0,) if zero else ()) + tuple(int(v) for v in values)


# -- data ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cached_load(name: str, frozen_kwargs: tuple):
    from ... import datasets

    return datasets.load(name, **dict(frozen_kwargs))


def load_data(spec: SweepSpec, seed: int, **extra):
    """Load the spec's dataset for one replicate (cached per process).

    Parameters
    ----------
    spec : SweepSpec
    seed : int
        Replicate seed; the data seed when ``spec.data_seed`` is None.
    **extra
        Loader arguments set by the unit (``n_features`` of a simulation).

    Returns
    -------
    Dataset
    """
    kwargs: dict[str, Any] = {
        "n_train": spec.n_train,
        "n_test": spec.n_test,
        "random_state": seed if spec.data_seed is None else spec.data_seed,
        **spec.dataset_kwargs,
        **extra,
    }
    if spec.label_noise:
        kwargs["label_noise"] = float(spec.label_noise)
    return _cached_load(spec.dataset, tuple(sorted(kwargs.items())))


# -- errors and measures ---------------------------------------------------------------


def mse(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of the squared error summed over outputs (Curth et al.)."""
    err = np.asarray(pred, dtype=float) - np.asarray(y, dtype=float)
    return float(np.mean(np.sum(err.reshape(err.shape[0], -1) ** 2, axis=1)))


def zero_one(pred: np.ndarray, data, split: str) -> float:
    """0-1 error: argmax over one-hot outputs, or the midpoint of binary targets."""
    if data.task != "classification":
        return float("nan")
    labels = getattr(data, f"labels_{split}")
    pred = np.asarray(pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        return float(np.mean(np.argmax(pred, axis=1) != labels))
    y = np.asarray(getattr(data, f"y_{split}")).reshape(-1)
    levels = np.unique(np.asarray(data.y_train).reshape(-1))
    if levels.size != 2:
        return float("nan")
    cut = levels.mean()
    return float(np.mean((pred.reshape(-1) > cut) != (y > cut)))


def errors(pred_train, pred_test, data) -> dict[str, float]:
    """The four error columns of a row."""
    return {
        "train_mse": mse(pred_train, data.y_train),
        "test_mse": mse(pred_test, data.y_test),
        "train_error": zero_one(pred_train, data, "train"),
        "test_error": zero_one(pred_test, data, "test"),
    }


def fit_measures(smoother, X_train, X_test, seed: int, y_train=None) -> dict[str, float]:
    """``p_train``, ``p_test`` (with standard errors) and ``df_trace`` of one fit.

    ``y_train`` is checked once: the smoother must reproduce the fit's predictions.
    """
    from ...measures.effective import degrees_of_freedom, effective_parameters

    p_train, p_train_se = effective_parameters(
        smoother, X_train, random_state=seed, return_std=True, y_train=y_train
    )
    p_test, p_test_se = effective_parameters(
        smoother, X_train, X_test, random_state=seed, return_std=True
    )
    return {
        "p_train": p_train,
        "p_test": p_test,
        "p_train_se": p_train_se,
        "p_test_se": p_test_se,
        "df_trace": degrees_of_freedom(smoother, X_train, kind="trace", y_train=y_train),
    }


def staged_measures(smoother, X_train, X_test, seed: int, n_probes: int, y_train=None) -> dict:
    """Staged ``p_train``, ``p_test`` and their standard errors, one value per stage.

    Exact or probes as ``method="auto"`` decides (the package's one policy);
    ``y_train`` is checked against the fit's predictions first.
    """
    from ...measures.effective import staged_effective_parameters

    kwargs = {"n_probes": n_probes, "random_state": seed, "return_std": True, "y_train": y_train}
    p_train, p_train_se = staged_effective_parameters(smoother, X_train, **kwargs)
    p_test, p_test_se = staged_effective_parameters(smoother, X_train, X_test, **kwargs)
    return {"p_train": p_train, "p_test": p_test, "p_train_se": p_train_se, "p_test_se": p_test_se}


def in_point_order(points: Sequence[Mapping], rows: list[tuple[Mapping, dict]]) -> list[dict]:
    """Rows paired with their grid points, sorted back into the order of ``points``."""
    position = {id(p): i for i, p in enumerate(points)}
    return [row for _, row in sorted(rows, key=lambda item: position[id(item[0])])]


# -- option checks ---------------------------------------------------------------------


def check_positive(opts: Mapping, name: str, where: str) -> None:
    """``opts[name]`` is a real number > 0."""
    value = opts[name]
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be positive in {where}, got {value!r}.")


def check_n_probes(opts: Mapping, where: str) -> None:
    """``opts["n_probes"]`` is an integer >= 2 (a standard error needs two probes)."""
    if not is_integer(opts["n_probes"]) or opts["n_probes"] < 2:
        raise ValueError(f"n_probes must be an integer >= 2 in {where}, got {opts['n_probes']!r}.")


def check_betas(opts: Mapping, where: str) -> None:
    """``opts["betas"]`` is a pair of Adam coefficients in [0, 1)."""
    betas = opts["betas"]
    if len(tuple(betas)) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1) in {where}, got {betas!r}.")


def check_train_fractions(spec, where: str) -> None:
    """Every ``train_fraction`` of the grid lies in (0, 1)."""
    bad = [f for f in spec.grid["train_fraction"] if not 0 < f < 1]
    if bad:
        raise ValueError(f"train_fraction values must be in (0, 1) in {where}, got {bad}.")


def check_choice(opts: Mapping, name: str, choices: tuple, where: str) -> None:
    """``opts[name]`` is one of ``choices``."""
    if opts[name] not in choices:
        raise ValueError(f"{name} must be one of {choices} in {where}, got {opts[name]!r}.")


# -- linear families -------------------------------------------------------------------

#: How a linear family fits its intercept: a column of ones inside the
#: minimum-norm problem (Curth et al.), an unpenalised intercept (centring),
#: or none.
INTERCEPTS = ("column", "centred", "none")


def min_norm(features_train, y, intercept: str):
    """Minimum-norm least squares, centred when the intercept is unpenalised."""
    from ...models import MinNormLeastSquares

    return MinNormLeastSquares(fit_intercept=intercept == "centred").fit(features_train, y)


def with_bias(features: np.ndarray, intercept: str) -> np.ndarray:
    """Prepend a column of ones when the intercept lives inside the features."""
    if intercept != "column":
        return features
    return np.hstack([np.ones((features.shape[0], 1)), features])


def linear_row(model, F_train, F_test, data, seed) -> dict[str, float]:
    """Errors, measures and ``coef_norm`` of one fitted linear model."""
    from ...smoothers import get_smoother

    smoother = get_smoother(model, F_train, y_train=data.y_train)
    row = errors(model.predict(F_train), model.predict(F_test), data)
    row.update(fit_measures(smoother, F_train, F_test, seed, data.y_train))
    row["coef_norm"] = float(np.linalg.norm(model.coef_))
    return row
