r"""Network measures in the user's own training loop: one tidy row, and a monitor of rows.

:func:`measure` computes, for one trained classifier, the row a network sweep
records at a checkpoint (train and test error and loss, the weight norm, the
registered measure suite, and the telescoping tracker's ``p_train`` /
``p_test`` when one is attached). :class:`Monitor` is called at the
checkpoints of a loop the user writes and collects those rows into a results
table that :func:`effcomplexity.analysis.illusion_test` and the
:mod:`effcomplexity.plotting` functions read directly. Both reuse the sweeps'
measure registry (:mod:`effcomplexity.sweeps.families._nn_measures`), so a
row here and a row of a network sweep hold the same numbers for the same
network and seed.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..._validation import draw_seed
from ...sweeps.families._base import ID_COLUMNS, MEASURE_COLUMNS, SIZE_COLUMNS
from ...sweeps.families._nn_measures import (
    BASE_COLUMNS,
    _evaluate,
    get_measure,
    measure_names,
    measure_seed,
    suite_columns,
    telescoping_columns,
)
from ...sweeps.families._nn_problem import NETWORK_DEFAULTS, Problem
from ...sweeps.store import coerce
from .telescoping import TelescopingTracker

__all__ = ["Monitor", "measure"]

logger = logging.getLogger(__name__)

_LOSSES = ("cross_entropy", "mse")
_ID_DTYPES = {"sweep": "str", "dataset": "str", "seed": "Int64", "axis": "str", "n_params": "Int64"}


def _check_int(value, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _resolve_measures(measures) -> tuple[list[str], bool]:
    """The registered names to compute, and whether they were named one by one."""
    if isinstance(measures, str) and measures == "all":
        return measure_names(), False
    if measures is None:
        return [], True
    if isinstance(measures, str) or not isinstance(measures, Sequence):
        raise ValueError(
            f"measures must be 'all' or a sequence of names among {measure_names()}, "
            f"got {measures!r}."
        )
    for name in measures:
        get_measure(name)
    return list(dict.fromkeys(measures)), True


def _inputs(X, model: nn.Module, name: str) -> torch.Tensor:
    ref = next(iter(model.parameters()), None)
    if isinstance(X, torch.Tensor):
        tensor = X
    else:
        array = np.asarray(X)
        if array.dtype.kind in "fc":
            dtype = ref.dtype if ref is not None else torch.float32
            tensor = torch.as_tensor(array, dtype=dtype)
        elif array.dtype.kind in "iub":
            tensor = torch.as_tensor(array, dtype=torch.int64)
        else:
            raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}.")
    if tensor.dim() < 2 or tensor.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (n, ...) with n >= 1 rows of model inputs, "
            f"got shape {tuple(tensor.shape)}."
        )
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} has NaN or infinite values; drop or impute them first.")
    return tensor if ref is None else tensor.to(ref.device)


def _labels(y, n: int, name: str, x_name: str) -> torch.Tensor:
    array = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be integer class labels of shape (n,) (the network measures read "
            f"a classifier's scores); got dtype {array.dtype} and shape {array.shape}."
        )
    if len(array) != n:
        raise ValueError(f"{name} has {len(array)} labels but {x_name} has {n} rows.")
    return torch.as_tensor(array, dtype=torch.int64)


def _n_classes(model: nn.Module, X: torch.Tensor) -> int:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(X[:1])
    finally:
        model.train(was_training)
    if out.dim() != 2:
        raise ValueError(
            f"measure needs a classifier whose outputs have shape (n, K), one score per "
            f"class; this model returns shape {tuple(out.shape)}."
        )
    return int(out.shape[1])


def _problem(model, X, y, X_test, y_test, loss, batch_size, input_shape) -> Problem:
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}.")
    if (X_test is None) != (y_test is None):
        raise ValueError("Give X_test and y_test together (or neither).")
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1)
    X = _inputs(X, model, "X")
    labels = _labels(y, X.shape[0], "y", "X")
    if X_test is not None:
        X_test = _inputs(X_test, model, "X_test")
        if X_test.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"X_test rows have shape {tuple(X_test.shape[1:])} but X rows have shape "
                f"{tuple(X.shape[1:])}."
            )
        labels_test = _labels(y_test, X_test.shape[0], "y_test", "X_test")
    else:
        labels_test = torch.zeros(0, dtype=torch.int64)
    n_classes = _n_classes(model, X)
    bad = int(max(labels.max(), labels_test.max() if len(labels_test) else 0))
    if int(min(labels.min(), labels_test.min() if len(labels_test) else 0)) < 0 or bad >= n_classes:
        raise ValueError(
            f"Labels must lie in 0..{n_classes - 1} (the model has {n_classes} outputs)."
        )
    problem = Problem.from_labels(
        X,
        X_test if X_test is not None else X[:0],
        labels,
        labels_test,
        n_classes=n_classes,
        loss=loss,
        batch_size=batch_size,
        input_shape=None if input_shape is None else tuple(input_shape),
    )
    if X_test is None:
        problem.X_test = None
    return problem


def _check_tracker(tracker, n: int) -> None:
    if tracker is None:
        return
    if not isinstance(tracker, TelescopingTracker):
        raise TypeError(
            f"tracker must be an effcomplexity.nn.TelescopingTracker, got {type(tracker).__name__}."
        )
    if tracker.n_train_ != n:
        raise ValueError(
            f"The tracker follows {tracker.n_train_} training rows but X has {n}; build it "
            f"on the same training inputs."
        )


def _tracker_eval(tracker: TelescopingTracker):
    """The tracker's eval inputs when its linearised predictions can be checked, else None."""
    if tracker.n_eval_ == 0 or tracker._y is None:
        return None
    return tracker._X[tracker.n_train_ :]


def _row(model, init_model, problem, opts, names, explicit, tracker, seed, at) -> dict:
    with torch.no_grad():
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise ValueError(
                "The model's parameters hold NaN or infinite values (training diverged); "
                "lower the learning rate or record earlier checkpoints."
            )
    row = _evaluate(model, problem)
    row["n_params"] = sum(p.numel() for p in model.parameters())
    row["n_train"] = len(problem.X_train)
    row["n_test"] = 0 if problem.X_test is None else len(problem.X_test)
    row["telescoping"] = "off" if tracker is None else tracker.method
    row["telescoping_m"] = None if tracker is None else tracker.n_eval_
    if tracker is not None:
        row.update(telescoping_columns(model, tracker, _tracker_eval(tracker), at))
    row.update(
        suite_columns(model, init_model, problem, opts, seed, names, skip_unsupported=not explicit)
    )
    return row


def _options(sharpness_samples, hessian_k, hessian_z) -> dict:
    opts = {
        "sharpness_samples": _check_int(sharpness_samples, "sharpness_samples", 1),
        "hessian_k": _check_int(hessian_k, "hessian_k", 1),
        "hessian_z": hessian_z,
    }
    if not isinstance(hessian_z, numbers.Real) or not hessian_z > 0:
        raise ValueError(f"hessian_z must be positive, got {hessian_z!r}.")
    return opts


def _seed(random_state) -> int:
    # The package's one rule: an int is the seed; None follows np.random.seed.
    return draw_seed(random_state)


def _columns(names: Sequence[str]) -> dict[str, str]:
    """The measure columns of ``names``, with their dtypes, in registry order."""
    columns = dict(BASE_COLUMNS)
    for name in names:
        columns.update(get_measure(name).columns)
    return columns


def measure(
    model: nn.Module,
    X,
    y,
    *,
    X_test=None,
    y_test=None,
    init_model: nn.Module | None = None,
    measures: str | Sequence[str] = "all",
    loss: str = "cross_entropy",
    tracker: TelescopingTracker | None = None,
    batch_size: int | None = None,
    input_shape: Sequence[int] | None = None,
    sharpness_samples: int = NETWORK_DEFAULTS["sharpness_samples"],
    hessian_k: int = NETWORK_DEFAULTS["hessian_k"],
    hessian_z: float = NETWORK_DEFAULTS["hessian_z"],
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> pd.Series:
    r"""Every applicable network measure of a trained classifier, as one tidy row.

    The row holds what a network sweep records at a checkpoint: the train
    (and test) error, loss and MSE, the weight norm, the columns of the
    registered measure suite (``weights``: :func:`weight_measures`;
    ``sharpness``: :func:`pac_bayes_measures`; ``hessian``:
    :func:`effective_dimensionality`; ``llc``:
    :func:`local_learning_coefficient`), and the tracker's ``p_train`` /
    ``p_test`` when one is given.

    Parameters
    ----------
    model : torch.nn.Module
        A trained classifier returning scores of shape ``(n, K)``.
    X : tensor or array-like of shape (n, ...)
        Training inputs.
    y : array-like of shape (n,)
        Integer class labels of ``X`` in ``0..K-1``.
    X_test, y_test : optional
        Held-out inputs and labels (together); without them the test columns
        are missing.
    init_model : torch.nn.Module, optional
        The same network at initialisation; enables the distance measures.
    measures : "all" or sequence of str
        Registered measure names (``effcomplexity.sweeps.families._nn_measures
        .measure_names()``). With "all", a measure that does not support the
        architecture (it raises TypeError) is left out with a log line; a
        named one raises.
    loss : {"cross_entropy", "mse"}
        The training loss: ``"mse"`` compares the outputs with one-hot rows.
    tracker : TelescopingTracker, optional
        Following the network since initialisation on the training inputs
        ``X``; adds ``p_train`` (and ``p_test`` on its eval inputs), unless
        its linearised predictions have drifted from the network's (then
        ``telescoping="diverged"`` and they are missing). The check needs the
        tracker's targets ``y`` and eval inputs; without them the values are
        reported unchecked.
    batch_size : int, optional
        The training mini-batch size (sets the LLC chains' batch); None for
        full-batch training.
    input_shape : sequence of int, optional
        Shape of one input, for the norms of a convolutional network.
    sharpness_samples, hessian_k, hessian_z
        Settings of the ``sharpness`` and ``hessian`` measures, as in the
        network sweeps.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the measures' random draws (sharpness, Hessian, LLC); see
        :ref:`random-state`.

    Returns
    -------
    pandas.Series
        Indexed by column name: ``n_params``, ``n_train``, ``n_test``,
        ``train_loss``, ``train_error``, ``train_mse`` (NaN for
        cross-entropy), their ``test_`` forms, ``weight_norm``, the
        telescoping columns (``telescoping``, ``telescoping_m``,
        ``telescoping_gap``, ``p_train``, ``p_train_se``, ``p_test``,
        ``p_test_se``; missing without a tracker) and the measure columns.

    Raises
    ------
    TypeError
        If ``model`` is not a torch module or ``tracker`` not a
        TelescopingTracker; or a named measure does not support the
        architecture.
    ValueError
        For labels that are not integers in ``0..K-1``, mismatched lengths or
        shapes, non-finite inputs, an unknown measure or loss, or a tracker
        built on other training rows.

    See Also
    --------
    Monitor : The same row at each checkpoint of a training loop, as a table.
    weight_measures : The ``weights`` columns.
    pac_bayes_measures : The ``sharpness`` columns.
    effective_dimensionality : The ``hessian`` column.
    local_learning_coefficient : The ``llc`` columns.

    Examples
    --------
    >>> import torch
    >>> from effcomplexity import nn as ecnn
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> X, y = torch.randn(30, 4), torch.arange(30) % 3
    >>> row = ecnn.measure(model, X, y, measures=["weights"])
    >>> int(row["n_params"]), int(row["n_train"]), 0 <= row["train_error"] <= 1
    (67, 30, True)
    >>> "fro_dist" in row  # the distance measures need init_model
    False
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    names, explicit = _resolve_measures(measures)
    opts = _options(sharpness_samples, hessian_k, hessian_z)
    problem = _problem(model, X, y, X_test, y_test, loss, batch_size, input_shape)
    _check_tracker(tracker, len(problem.X_train))
    row = _row(model, init_model, problem, opts, names, explicit, tracker, _seed(random_state), 0)
    order = ["n_params", *SIZE_COLUMNS, *MEASURE_COLUMNS, *_columns(names)]
    keys = [k for k in order if k in row] + [k for k in row if k not in order]
    return pd.Series({k: row[k] for k in keys}, dtype=object).infer_objects()


class Monitor:
    r"""Record network measures at the checkpoints of the user's own training loop.

    Build it before training with the data, then call :meth:`record` (or
    the monitor itself) at each checkpoint; :meth:`table` returns the rows as
    a results table, one row per checkpoint, with ``seed``, ``axis`` (the
    name of the time column), the time column, ``n_params``, ``n_train``,
    ``n_test`` and the columns of :func:`measure`. The table is what
    :func:`effcomplexity.analysis.illusion_test` and
    :func:`effcomplexity.plotting.training_curves` read.

    Parameters
    ----------
    X, y, X_test, y_test
        Training (and held-out) inputs and integer labels, as in
        :func:`measure`.
    init_model : torch.nn.Module, optional
        The network at initialisation (e.g. ``copy.deepcopy(model)`` before
        the first step); enables the distance measures.
    measures : "all" or sequence of str
        Measure suite per checkpoint, as in :func:`measure`.
    tracker : TelescopingTracker, optional
        A tracker the loop steps (``tracker.step(optimizer, idx)`` before each
        ``optimizer.step()``); its ``p_train`` / ``p_test`` join each row.
    every : int
        Record only when ``step`` is a multiple of ``every`` (other calls
        return None), so the loop can call the monitor at every step.
    time : str
        Name of the time column (``"step"`` or ``"epoch"``), also the
        table's ``axis``.
    seed : int
        The run's seed, the table's ``seed`` column; each checkpoint's
        measures draw from a seed derived from it and the step.
    sweep, dataset : str, optional
        Labels for the ``sweep`` and ``dataset`` columns.
    loss, batch_size, input_shape, sharpness_samples, hessian_k, hessian_z
        As in :func:`measure`.

    Attributes
    ----------
    rows_ : list of dict
        The recorded rows.

    Raises
    ------
    ValueError, TypeError
        As :func:`measure`, when the data, measures or tracker are invalid.

    See Also
    --------
    measure : One row for one network.
    TelescopingTracker : The linearised-training smoother behind ``p_test``.
    effcomplexity.analysis.illusion_test : The verdict on the table.
    effcomplexity.plotting.training_curves : Its figure.

    Examples
    --------
    >>> import copy, torch
    >>> from effcomplexity import nn as ecnn
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> X, y = torch.randn(40, 4), torch.arange(40) % 2
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    >>> mon = ecnn.Monitor(X, y, X[:20], y[:20], init_model=copy.deepcopy(model),
    ...                    measures=["weights"], every=5)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> for step in range(1, 21):
    ...     opt.zero_grad()
    ...     torch.nn.functional.cross_entropy(model(X), y).backward()
    ...     opt.step()
    ...     _ = mon.record(model, step=step)
    >>> table = mon.table()
    >>> table["step"].tolist(), table["axis"].iloc[0]
    ([5, 10, 15, 20], 'step')
    """

    def __init__(
        self,
        X,
        y,
        X_test=None,
        y_test=None,
        *,
        init_model: nn.Module | None = None,
        measures: str | Sequence[str] = "all",
        tracker: TelescopingTracker | None = None,
        every: int = 1,
        time: str = "step",
        seed: int = 0,
        sweep: str = "monitor",
        dataset: str | None = None,
        loss: str = "cross_entropy",
        batch_size: int | None = None,
        input_shape: Sequence[int] | None = None,
        sharpness_samples: int = NETWORK_DEFAULTS["sharpness_samples"],
        hessian_k: int = NETWORK_DEFAULTS["hessian_k"],
        hessian_z: float = NETWORK_DEFAULTS["hessian_z"],
    ) -> None:
        if init_model is not None and not isinstance(init_model, nn.Module):
            raise TypeError(
                f"init_model must be a torch.nn.Module, got {type(init_model).__name__}."
            )
        if not isinstance(time, str) or not time or time in ID_COLUMNS:
            raise ValueError(f"time must be a column name such as 'step' or 'epoch', got {time!r}.")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}.")
        self._names, self._explicit = _resolve_measures(measures)
        self._opts = _options(sharpness_samples, hessian_k, hessian_z)
        self.every = _check_int(every, "every", 1)
        self.seed = _check_int(seed, "seed", 0)
        self.time = time
        self.sweep = str(sweep)
        self.dataset = dataset
        self.init_model = init_model
        self.tracker = tracker
        self.loss = loss
        self.batch_size = batch_size
        self.input_shape = input_shape
        self._data = (X, y, X_test, y_test)
        self._problem: Problem | None = None
        self.rows_: list[dict] = []

    def __call__(self, step: int, model: nn.Module, **extra: Any) -> pd.Series | None:
        """Same as :meth:`record`, with the step first: ``monitor(step, model)``."""
        return self.record(model, step=step, **extra)

    def record(self, model: nn.Module, *, step: int, **extra: Any) -> pd.Series | None:
        """Measure ``model`` at ``step`` and append the row.

        Parameters
        ----------
        model : torch.nn.Module
            The network being trained (not copied; measured now).
        step : int
            The time of this checkpoint (non-negative, increasing from call
            to call).
        **extra
            Further columns for this row, e.g. ``lr=0.01``.

        Returns
        -------
        pandas.Series or None
            The row, or None when ``step`` is not a multiple of ``every``.

        Raises
        ------
        ValueError
            For a step that is not a non-negative integer or not after the
            last recorded one, or an extra column that clashes with a measured one.
        """
        step = _check_int(step, self.time, 0)
        if step % self.every:
            return None
        if self.rows_ and step <= self.rows_[-1][self.time]:
            raise ValueError(
                f"{self.time}={step} is not after the last recorded "
                f"{self.time}={self.rows_[-1][self.time]}; record checkpoints in order, once each."
            )
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if self._problem is None:
            self._problem = _problem(
                model, *self._data, self.loss, self.batch_size, self.input_shape
            )
            _check_tracker(self.tracker, len(self._problem.X_train))
        seed = measure_seed(self.seed, step)
        row = _row(
            model,
            self.init_model,
            self._problem,
            self._opts,
            self._names,
            self._explicit,
            self.tracker,
            seed,
            step,
        )
        clash = sorted(set(extra) & (set(row) | set(self._dtypes()) | {self.time}))
        if clash:
            raise ValueError(f"Extra column(s) {clash} clash with the monitor's own columns.")
        row = {
            "sweep": self.sweep,
            "dataset": self.dataset,
            "seed": self.seed,
            "axis": self.time,
            self.time: step,
            **row,
            **extra,
        }
        self.rows_.append(row)
        logger.debug("Recorded %s=%d.", self.time, step)
        return pd.Series(row, dtype=object).infer_objects()

    def _dtypes(self) -> dict[str, str]:
        return {
            **_ID_DTYPES,
            self.time: "Int64",
            **dict.fromkeys(MEASURE_COLUMNS, "float64"),
            **_columns(self._names),
            **dict.fromkeys(SIZE_COLUMNS, "Int64"),
        }

    def table(self) -> pd.DataFrame:
        """The recorded rows as a results table (sweep-table columns and dtypes).

        Returns
        -------
        pandas.DataFrame
            One row per recorded checkpoint, in the column order and dtypes of
            a network sweep's table, then any extra columns.
        """
        dtypes = self._dtypes()
        frame = pd.DataFrame(self.rows_)
        extra = [c for c in frame.columns if c not in dtypes]
        return pd.concat(
            [coerce(frame, dtypes), frame[extra].reset_index(drop=True)], axis=1
        ).infer_objects()

    def __len__(self) -> int:
        return len(self.rows_)

    def __repr__(self) -> str:
        return f"Monitor({len(self.rows_)} rows, measures={self._names}, every={self.every})"
