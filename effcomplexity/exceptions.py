"""Every exception and warning class of the package, under one name.

As :mod:`sklearn.exceptions` does for scikit-learn, this module gathers the
classes the package raises or issues, for ``except`` clauses and warning
filters. Some are defined beside the code that raises them and stay
importable from there too; everything else the package raises is a built-in
exception (``ValueError``, ``TypeError``, ...) or warning (``RuntimeWarning``,
``UserWarning``).

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
    "IncompatibleResultsError",
    "ProbeEstimateWarning",
    "RunReplacedError",
    "TrainingMismatchError",
    "UnverifiedTrainingDataWarning",
]


class IncompatibleResultsError(ValueError):
    """The results at a sweep's ``out`` may not be resumed by this run.

    Raised by :func:`effcomplexity.sweeps.run` (through
    :class:`~effcomplexity.sweeps.store.ResultStore`) when ``out`` holds
    results of another sweep spec (another fingerprint), results written by
    another version of the package, or parts that belong to neither. Nothing
    is changed on disk. A subclass of ``ValueError``.

    Attributes
    ----------
    args : tuple of str
        ``(message,)``: what ``out`` holds and what to do (pass
        ``overwrite=True`` to replace it, or choose another ``out``).

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from effcomplexity.exceptions import IncompatibleResultsError
    >>> from effcomplexity.sweeps import Unit
    >>> from effcomplexity.sweeps.store import ResultStore
    >>> units = [Unit(0, 0, {"k": 1}, ({"k": 1},), "seed=0,k=1")]
    >>> out = tempfile.mkdtemp() + "/toy.csv"
    >>> def store(fingerprint):
    ...     return ResultStore(out, sweep="toy", fingerprint=fingerprint, units=units,
    ...                        dtypes={"seed": "Int64", "k": "Int64"})
    >>> first = store("a" * 64)
    >>> first.open(overwrite=False)
    {}
    >>> first.finish(first.save(units[0], pd.DataFrame({"seed": [0], "k": [1]})))
    >>> first.close()
    >>> try:
    ...     store("b" * 64).open(overwrite=False)
    ... except IncompatibleResultsError as err:
    ...     print("different sweep spec" in str(err))
    True
    """


class RunReplacedError(RuntimeError):
    """The checkpoint folder of a network unit vanished while it trained.

    A newer run into the same results store (``overwrite=True``) removed the
    folder, so the run that was training this unit has been replaced; its
    workers stop with this error instead of writing into the new run's
    store. Raised by the network sweeps (:func:`effcomplexity.sweeps.run`).
    A subclass of ``RuntimeError``.

    Attributes
    ----------
    args : tuple of str
        ``(message,)``: the file that could not be written and why.

    Examples
    --------
    >>> from effcomplexity.exceptions import RunReplacedError
    >>> issubclass(RunReplacedError, RuntimeError)
    True
    """
