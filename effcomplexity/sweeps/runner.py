"""The sweep engine: plan units, run them in parallel, stream rows to disk, resume.

Each unit (one fit, or one staged fit, for one seed) is written to its own
part file as soon as it finishes, atomically (temporary file, fsync, rename)
and named after the SHA-256 of its bytes. On restart every part is checked
against its name, its unit and the schema; a part that fails is deleted and
its unit recomputed, and leftover temporary files are removed. A process
killed at any moment therefore loses at most the units in flight, and the
finished table never holds a row twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import itertools
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import is_integer
from .families import UnitContext, get_family
from .families._base import ID_COLUMNS, MEASURE_COLUMNS, SIZE_COLUMNS
from .spec import SweepSpec

__all__ = ["Unit", "columns", "plan", "results_path", "run"]

logger = logging.getLogger(__name__)

_ID_DTYPES = dict(zip(ID_COLUMNS, ("str", "str", "Int64", "str", "Int64"), strict=True))
_BACKENDS = ("loky", "dask")
_PART = re.compile(r"^unit-(\d{6})-([0-9a-f]{8})\.([0-9a-f]{64})\.(parquet|csv)$")
_MANIFEST = "manifest.json"
# Folder inside the parts folder holding one checkpoint folder per unit in flight.
_CHECKPOINTS = "checkpoints"


@dataclasses.dataclass(frozen=True)
class Unit:
    """One unit of work: a fit for one seed, accounting for some grid points.

    Attributes
    ----------
    index : int
        Position in the plan; rows of the final table follow it.
    seed : int
        Replicate seed.
    params : dict
        Value of the axis that defines the unit.
    points : tuple of dict
        Grid points (one row each) the unit computes.
    key : str
        Stable name, e.g. ``"seed=0,P_leaf=50"``.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> unit = sweeps.plan(sweeps.get_spec("curth_trees").sized(quick=True))[0]
    >>> unit.key, len(unit.points)   # one forest, recorded at every tree count
    ('seed=42,P_leaf=2', 5)
    """

    index: int
    seed: int
    params: Mapping[str, Any]
    points: tuple
    key: str


def group_points(spec: SweepSpec) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Group the spec's grid points into units: ``(unit params, points)`` pairs."""
    axes = get_family(spec.family).unit_axes
    groups: dict[Any, list[dict[str, Any]]] = {}
    for point in spec.points():
        groups.setdefault(tuple(point[a] for a in axes), []).append(point)
    ordered = [v for v in itertools.product(*(spec.grid[a] for a in axes)) if v in groups]
    return [(dict(zip(axes, value, strict=True)), groups[value]) for value in ordered]


def plan(spec: SweepSpec) -> list[Unit]:
    """The units of a sized spec, in table order (seed, then grid).

    Parameters
    ----------
    spec : SweepSpec
        A spec with no pending quick overrides (see :meth:`SweepSpec.sized`).

    Returns
    -------
    list of Unit

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> units = sweeps.plan(sweeps.get_spec("curth_trees").sized(quick=True))
    >>> len(units), units[-1].key
    (8, 'seed=42,P_leaf=full')
    """
    units = []
    groups = group_points(spec)
    for seed in spec.seeds:
        for params, points in groups:
            named = (f"{k}={'full' if v is None else v}" for k, v in params.items())
            key = ",".join([f"seed={seed}", *named])
            units.append(Unit(len(units), seed, dict(params), tuple(points), key))
    return units


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
    out = {}
    for name, dtype in _dtypes(spec).items():
        if name not in frame:
            out[name] = pd.Series([None] * len(frame), dtype=dtype)
        elif frame[name].dtype == dtype:
            out[name] = frame[name].reset_index(drop=True)
        elif dtype == "str":
            out[name] = frame[name].astype(dtype).reset_index(drop=True)
        else:
            out[name] = pd.to_numeric(frame[name]).astype(dtype).reset_index(drop=True)
    return pd.DataFrame(out)


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
        Folder where the unit may keep state to resume; created here.
    progress : callable, optional
        Advances an inner progress bar (epochs or steps of a network unit).

    Returns
    -------
    list of dict
        Measure and raw-axis columns, one dict per point, in point order.
    """
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
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


def _work(
    spec: SweepSpec,
    unit: Unit,
    blas_threads: int | None,
    checkpoints: Path | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[dict]]:
    """Run one unit (in any process); only its index and plain rows travel back."""
    from threadpoolctl import threadpool_limits

    folder = None if checkpoints is None else checkpoints / _checkpoint_name(unit)
    with threadpool_limits(limits=blas_threads):
        rows = run_unit(spec, unit.seed, unit.params, unit.points, unit.key, folder, progress)
    return unit.index, rows


def _checkpoint_name(unit: Unit) -> str:
    return f"unit-{unit.index:06d}-{zlib.crc32(unit.key.encode()):08x}"


# -- storage ---------------------------------------------------------------------------


def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def results_path(out) -> tuple[Path, str]:
    """The results file ``run`` writes for ``out``, and its format.

    Parameters
    ----------
    out : path-like

    Returns
    -------
    path : pathlib.Path
    format : {"parquet", "csv"}

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> sweeps.results_path("results/trees.csv")
    (PosixPath('results/trees.csv'), 'csv')
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        if not _parquet_available():
            raise ValueError(
                f"out = {str(path)!r} asks for Parquet, which needs pyarrow; install it "
                f"(pip install pyarrow) or give a .csv path."
            )
        return path, "parquet"
    if suffix == ".csv":
        return path, "csv"
    fmt = "parquet" if _parquet_available() else "csv"
    return path.with_name(f"{path.name}.{fmt}"), fmt


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class _Store:
    """Part files of one sweep next to its results file, plus a manifest."""

    def __init__(self, out, spec: SweepSpec, units: Sequence[Unit]):
        self.path, self.fmt = results_path(out)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.checkpoints = self.parts / _CHECKPOINTS
        self.spec = spec
        self.units = units

    # serialisation
    def _dump(self, frame: pd.DataFrame) -> bytes:
        if self.fmt == "parquet":
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            return buffer.getvalue()
        return frame.to_csv(index=False).encode()

    def _load(self, payload: bytes) -> pd.DataFrame:
        if self.fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(payload))
        else:
            frame = pd.read_csv(io.BytesIO(payload), keep_default_na=False, na_values=[""])
        return _coerce(frame, self.spec)

    def _part_name(self, unit: Unit, digest: str) -> str:
        return f"unit-{unit.index:06d}-{zlib.crc32(unit.key.encode()):08x}.{digest}.{self.fmt}"

    def open(self, overwrite: bool) -> dict[int, pd.DataFrame]:
        """Create or check the parts folder; return the valid finished units."""
        fingerprint = self.spec.fingerprint()
        manifest = {
            "sweep": self.spec.name,
            "fingerprint": fingerprint,
            "n_units": len(self.units),
            "format": self.fmt,
        }
        if overwrite:
            self._clear()
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.path.parent.glob(_temp_prefix(self.path) + "*"):
            stale.unlink()
        manifest_path = self.parts / _MANIFEST
        existing = self._read_manifest(manifest_path)
        if existing is not None and existing != manifest:
            raise ValueError(
                f"{self.path} holds results of a different sweep spec ({existing.get('sweep')!r}, "
                f"fingerprint {str(existing.get('fingerprint'))[:12]}); pass overwrite=True to "
                f"replace them, or choose another out path."
            )
        if existing is None:
            self._discard_parts("no valid manifest")
            _atomic_write(manifest_path, json.dumps(manifest, indent=2).encode())
        return self._read_parts()

    def _clear(self) -> None:
        if self.parts.exists():
            for child in self.parts.iterdir():
                _remove(child)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @staticmethod
    def _read_manifest(path: Path) -> dict | None:
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            logger.warning("Manifest %s is unreadable; recomputing the sweep.", path)
            return None

    def _discard_parts(self, why: str) -> None:
        stale = [p for p in self.parts.iterdir() if p.name != _MANIFEST]
        if stale:
            logger.warning("Discarding %d file(s) in %s: %s.", len(stale), self.parts, why)
        for path in stale:
            _remove(path)

    def _read_parts(self) -> dict[int, pd.DataFrame]:
        done: dict[int, pd.DataFrame] = {}
        for path in sorted(self.parts.iterdir()):
            if path.name in (_MANIFEST, _CHECKPOINTS):
                continue
            frame = self._validate(path) if path.is_file() else None
            index = int(_PART.match(path.name).group(1)) if frame is not None else None
            if frame is None or index in done:
                logger.warning("Removing invalid or duplicate part %s.", path.name)
                _remove(path)
                continue
            done[index] = frame
        return done

    def _validate(self, path: Path) -> pd.DataFrame | None:
        match = _PART.match(path.name)
        if match is None or match.group(4) != self.fmt:
            return None
        index = int(match.group(1))
        if index >= len(self.units):
            return None
        unit = self.units[index]
        if match.group(2) != f"{zlib.crc32(unit.key.encode()):08x}":
            return None
        payload = path.read_bytes()
        if hashlib.sha256(payload).hexdigest() != match.group(3):
            return None
        try:
            frame = self._load(payload)
        except Exception:  # a part that does not parse is recomputed, whatever the reason
            return None
        if len(frame) != len(unit.points) or (frame["seed"] != unit.seed).any():
            return None
        return frame

    def save(self, unit: Unit, frame: pd.DataFrame) -> pd.DataFrame:
        """Write one unit's part atomically; return the rows as stored."""
        payload = self._dump(frame)
        digest = hashlib.sha256(payload).hexdigest()
        _atomic_write(self.parts / self._part_name(unit, digest), payload)
        # The unit's rows are safe: whatever it kept to resume is no longer needed.
        shutil.rmtree(self.checkpoints / _checkpoint_name(unit), ignore_errors=True)
        return self._load(payload)

    def write_table(self, table: pd.DataFrame) -> None:
        """Replace the results file with the rows finished so far."""
        _atomic_write(self.path, self._dump(table))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# -- dispatch ----------------------------------------------------------------------------


def _sequential(spec, units, threads, checkpoints, progress=None) -> Iterator[tuple[int, list]]:
    for unit in units:
        yield _work(spec, unit, threads, checkpoints, progress)


def _loky(spec, units, n_jobs, threads, checkpoints) -> Iterator[tuple[int, list[dict]]]:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(_work)(spec, unit, threads, checkpoints) for unit in units)


def _dask(spec, units, client, scheduler, threads, checkpoints) -> Iterator[tuple[int, list[dict]]]:
    try:
        from distributed import Client, as_completed, get_client
    except ImportError as exc:
        raise ImportError(
            'backend="dask" needs dask.distributed: pip install "effcomplexity[dask]".'
        ) from exc
    owned = None
    if client is None and scheduler is not None:
        client = owned = Client(scheduler)
    elif client is None:
        try:
            client = get_client()
        except ValueError:
            raise ValueError(
                'backend="dask" needs a cluster: pass client=Client(...) or '
                'scheduler="tcp://host:port".'
            ) from None
    try:
        prefix = f"effcomplexity-{spec.name}-{spec.fingerprint()[:8]}"
        futures = [
            client.submit(
                _work, spec, unit, threads, checkpoints, key=f"{prefix}-{unit.index}", pure=False
            )
            for unit in units
        ]
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        if owned is not None:
            owned.close()


def _check_run_args(n_jobs, backend, verbose, client, scheduler, blas_threads) -> None:
    if blas_threads is not None and (not is_integer(blas_threads) or blas_threads < 1):
        raise ValueError(f"blas_threads must be a positive integer or None, got {blas_threads!r}.")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
    if not is_integer(n_jobs) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be a positive integer (or -1 for every core), got {n_jobs!r}."
        )
    if n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}.")
    if not is_integer(verbose) or verbose < 0:
        raise ValueError(f"verbose must be a non-negative integer, got {verbose!r}.")
    if backend != "dask" and (client is not None or scheduler is not None):
        raise ValueError('client and scheduler apply only to backend="dask".')


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
        finished units (resume after an interruption, or a cheap reload).
    n_jobs : int
        Parallel processes for ``backend="loky"`` (-1: every core).
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
        Discard results already in ``out`` instead of resuming.
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
        For a bad spec or argument (before any unit runs), or when ``out``
        holds the results of a different spec and ``overwrite`` is False.

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
    store = _Store(out, spec, units) if out is not None else None
    done = store.open(bool(overwrite)) if store is not None else {}
    todo = [unit for unit in units if unit.index not in done]
    if store is not None and done:
        logger.info("Resuming %s: %d of %d units already done.", spec.name, len(done), len(units))
    checkpoints = store.checkpoints if store is not None else None
    from tqdm.auto import tqdm

    family = get_family(spec.family)
    inner = None
    if backend == "loky" and (n_jobs == 1 or len(todo) <= 1):
        if family.reports_progress and verbose:
            # Within-unit bar (epochs or steps), shown when units run in this process.
            inner = tqdm(desc="steps", unit="step", leave=False, position=1, file=sys.stderr)
        progress = None if inner is None else inner.update
        results = _sequential(spec, todo, blas_threads, checkpoints, progress)
    else:
        # Longest units first, so the last one to finish does not start last.
        todo.sort(key=lambda u: family.cost(spec, u.params, u.points), reverse=True)
        if backend == "dask":
            results = _dask(spec, todo, client, scheduler, blas_threads, checkpoints)
        else:
            results = _loky(spec, todo, n_jobs, blas_threads, checkpoints)

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
            if store is not None:
                store.write_table(_table(spec, done))
            bar.update()
    if inner is not None:
        inner.close()
    table = _table(spec, done)
    if store is not None and not todo:
        store.write_table(table)
    return table
