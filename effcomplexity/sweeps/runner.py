"""The sweep engine: plan units, run them in parallel, stream rows to disk, resume.

Each unit (one fit, or one staged fit, for one seed) is written to its own
part file as soon as it finishes, atomically (temporary file, fsync, rename)
and named after the SHA-256 of its bytes. On restart every part is checked
against its name, its unit and the schema; a part that fails is deleted and
its unit recomputed, and leftover temporary files are removed. A process
killed at any moment therefore loses at most the units in flight, and the
finished table never holds a row twice.

The runner deletes or replaces only files it wrote: an existing ``out`` that
is not a results table, or a parts folder holding files it did not name, is
refused whatever ``overwrite`` says. A lock file in the parts folder keeps a
second run away from the same ``out`` while one is writing, and a run that
fails before its first unit is stored removes everything it created.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import dataclasses
import errno
import hashlib
import io
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import is_integer
from .families import UnitContext, get_family
from .families._base import ID_COLUMNS, MEASURE_COLUMNS, RESERVED_COLUMNS, SIZE_COLUMNS
from .spec import SweepSpec

__all__ = ["Unit", "columns", "plan", "results_path", "run"]

logger = logging.getLogger(__name__)

_ID_DTYPES = dict(zip(ID_COLUMNS, ("str", "str", "Int64", "str", "Int64"), strict=True))
_BACKENDS = ("loky", "dask")
_PART = re.compile(r"^unit-(\d{6})-([0-9a-f]{8})\.([0-9a-f]{64})\.(parquet|csv)$")
_MANIFEST = "manifest.json"
_MANIFEST_KEYS = frozenset({"sweep", "fingerprint", "n_units", "format"})
# Folder inside the parts folder holding one checkpoint folder per unit in flight.
_CHECKPOINTS = "checkpoints"
# Lock file inside the parts folder, held by the run writing to it.
_LOCK = "lock"
# Every other name the runner gives an entry of a parts folder: parts (also damaged
# ones) and the temporary files of an interrupted write. Anything else is not its own.
_OWN_ENTRY = re.compile(r"^(unit-\d{6}-[0-9a-f]{8}\..+|\.(unit-.+|manifest\.json)\.tmp-.+)$")

# How messages spell the arguments of ``run``: Python names unless the command line
# asks for its flags (see ``_spelled_as``).
_SPELLING: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "effcomplexity_run_spelling", default=None
)
_NO_VALUE = object()


#: Seconds to wait for a ``scheduler=`` address before reporting it unreachable
#: (dask's own default is 30 s).
SCHEDULER_CONNECT_TIMEOUT = 10


def _arg(name: str, value: Any = _NO_VALUE) -> str:
    """``name`` (or ``name=value``) as the caller spelled it: a keyword or a flag."""
    flag = (_SPELLING.get() or {}).get(name)
    if value is _NO_VALUE:
        return flag or name
    if flag is None:
        return f"{name}={value!r}"
    return flag if value is True else f"{flag} {value}"


@contextlib.contextmanager
def _spelled_as(flags: Mapping[str, str]) -> Iterator[None]:
    """Name the arguments of ``run`` by ``flags`` (e.g. ``{"n_jobs": "--jobs"}``) in messages."""
    token = _SPELLING.set(dict(flags))
    try:
        yield
    finally:
        _SPELLING.reset(token)


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
                f"{_arg('out', str(path))} asks for Parquet, which needs pyarrow; install it "
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
    # Not tempfile.mkstemp: its files are 0600 whatever the umask, and the rename would
    # hand that mode to the results. Mode 0666 here lets the umask decide, as open() does.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(_temp_prefix(path) + secrets.token_hex(4))
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
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


def _is_results_table(path: Path) -> bool:
    """Whether ``path`` reads as a table this package's runner writes (by its columns)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
        if path.suffix.lower() == ".parquet" or magic == b"PAR1":
            import pyarrow.parquet as pq

            names = list(pq.read_schema(path).names)
        else:
            with path.open(newline="", encoding="utf-8") as handle:
                names = next(csv.reader([handle.readline(1 << 16)]), [])
    except Exception:  # unreadable, not UTF-8, not Parquet: not a results table
        return False
    return names[: len(ID_COLUMNS)] == list(ID_COLUMNS) and set(RESERVED_COLUMNS) <= set(names)


def _out_error(exc: OSError, path: Path, doing: str) -> OSError:
    """``exc`` again, with a message that names ``out`` and what failed."""
    where = exc.filename if exc.filename is not None else path
    reason = exc.strerror or str(exc)
    message = f"{_arg('out', str(path))}: cannot {doing} {where} ({reason})."
    try:
        return type(exc)(message)
    except Exception:  # an OSError subclass with another signature
        return OSError(message)


class _Store:
    """Part files of one sweep next to its results file, plus a manifest and a lock.

    ``open`` checks that everything already at ``out`` is this package's, creates
    what is missing, locks the parts folder and reads the finished units; ``close``
    releases the lock and, after a failed start (no unit stored), ``rollback``
    removes what ``open`` created.
    """

    def __init__(self, out, spec: SweepSpec, units: Sequence[Unit]):
        self.path, self.fmt = results_path(out)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.checkpoints = self.parts / _CHECKPOINTS
        self.spec = spec
        self.units = units
        self.saved = 0
        self._lock = None
        self._created: list[Path] = []  # folders above the parts folder this run created
        self._created_parts = False
        self._opened = False  # past every check, holding the lock
        self._wrote_manifest = False
        self._old_checkpoints: set[str] | None = None  # None: no checkpoints folder before

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

    def _manifest(self) -> dict:
        return {
            "sweep": self.spec.name,
            "fingerprint": self.spec.fingerprint(),
            "n_units": len(self.units),
            "format": self.fmt,
        }

    # what is already there
    def _refuse(self, what: str) -> ValueError:
        return ValueError(
            f"{_arg('out', str(self.path))}: {what}. Nothing was changed: it is not a file "
            f"this package wrote, so {_arg('overwrite', True)} does not replace it either; "
            f"move it away or choose another {_arg('out')}."
        )

    def _foreign_entries(self) -> list[str]:
        own = {_MANIFEST, _LOCK, _CHECKPOINTS}
        return sorted(
            entry.name
            for entry in self.parts.iterdir()
            if entry.name not in own and not _OWN_ENTRY.match(entry.name)
        )

    def check(self, overwrite: bool, same_spec: bool = True) -> dict | None:
        """Refuse an ``out`` holding anything this package did not write; return its manifest.

        A results file is this package's when its parts folder holds a manifest (it is
        the table the runner keeps next to its parts, even if damaged since), or when its
        columns are those of a results table; a parts folder is, when it holds a manifest
        or only names the runner gives. With ``same_spec``, the manifest must also be
        this spec's unless ``overwrite``.
        """
        if self.path.is_dir():
            raise self._refuse("the results file would replace a folder")
        if self.parts.exists() and not self.parts.is_dir():
            raise self._refuse(f"{self.parts} exists and is not a folder")
        manifest = self._read_manifest(self.parts / _MANIFEST) if self.parts.is_dir() else None
        if self.parts.is_dir() and manifest is None:
            foreign = self._foreign_entries()
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise self._refuse(
                    f"the folder {self.parts} holds files this package did not write ({shown})"
                )
        if self.path.exists() and manifest is None:
            if not _is_results_table(self.path):
                raise self._refuse("the file exists and is not a sweep results table")
            if not overwrite:
                raise ValueError(
                    f"{_arg('out', str(self.path))} holds a sweep results table without its "
                    f"resume state ({self.parts.name}/ is missing or incomplete), so it cannot "
                    f"be checked against this spec; pass {_arg('overwrite', True)} to replace "
                    f"it, or choose another {_arg('out')}."
                )
        if same_spec and manifest is not None and manifest != self._manifest() and not overwrite:
            raise ValueError(
                f"{self.path} holds results of a different sweep spec ({manifest.get('sweep')!r}, "
                f"fingerprint {str(manifest.get('fingerprint'))[:12]}); pass "
                f"{_arg('overwrite', True)} to replace them, or choose another {_arg('out')}."
            )
        return manifest

    def open(self, overwrite: bool) -> dict[int, pd.DataFrame]:
        """Check, create and lock the parts folder; return the valid finished units."""
        from filelock import FileLock, Timeout

        try:
            self.check(overwrite, same_spec=False)  # whose results: asked under the lock
            folder = self.parts.parent
            while not folder.exists():
                self._created.append(folder)  # innermost first
                folder = folder.parent
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
            self.parts.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.parts.mkdir()
                self._created_parts = True
            except FileExistsError:
                pass
            lock = FileLock(self.parts / _LOCK, timeout=0)
            try:
                lock.acquire()
            except Timeout:
                raise BlockingIOError(
                    f"{_arg('out', str(self.path))} is in use: another sweep is writing to it "
                    f"(it holds {self.parts / _LOCK}). Wait for it to finish, then run again to "
                    f"reuse its results, or choose another {_arg('out')}."
                ) from None
            self._lock = lock
            # Checked again under the lock: another run may have written since.
            manifest = self.check(overwrite)
            if overwrite:
                self._clear()
                manifest = None
            if self.checkpoints.is_dir():
                self._old_checkpoints = {p.name for p in self.checkpoints.iterdir()}
            self._opened = True
            for stale in self.path.parent.glob(_temp_prefix(self.path) + "*"):
                stale.unlink()
            if manifest is None:
                self._discard_parts("no valid manifest")
                payload = json.dumps(self._manifest(), indent=2).encode()
                _atomic_write(self.parts / _MANIFEST, payload)
                self._wrote_manifest = True
            return self._read_parts()
        except OSError as exc:
            if isinstance(exc, BlockingIOError) and self._lock is None:
                raise
            raise _out_error(exc, self.path, "write") from exc

    def close(self) -> None:
        """Release the lock (kept until now so that no other run starts in between)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def rollback(self) -> None:
        """Remove what ``open`` created, after a run that stored no unit.

        Only a run holding the lock touches the parts folder: one refused because
        another run holds it leaves that run's files alone.
        """
        if self.saved:
            return
        if self._lock is not None:
            with contextlib.suppress(OSError):
                if self._created_parts:
                    shutil.rmtree(self.parts)
                elif self._opened:
                    self._undo_in_existing_parts()
        for folder in self._created:  # innermost first, and only while empty
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _undo_in_existing_parts(self) -> None:
        if self._wrote_manifest:
            (self.parts / _MANIFEST).unlink(missing_ok=True)
        if self.checkpoints.is_dir():
            for entry in self.checkpoints.iterdir():
                if entry.name not in (self._old_checkpoints or ()):
                    _remove(entry)
            if self._old_checkpoints is None and not any(self.checkpoints.iterdir()):
                self.checkpoints.rmdir()

    def _clear(self) -> None:
        """Remove this package's files at ``out`` (``overwrite``); leave any other alone."""
        for child in self.parts.iterdir():
            if child.name in (_MANIFEST, _CHECKPOINTS) or _OWN_ENTRY.match(child.name):
                _remove(child)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @staticmethod
    def _read_manifest(path: Path) -> dict | None:
        if not path.exists():
            return None
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or set(manifest) != _MANIFEST_KEYS:
            logger.warning("Manifest %s is unreadable; recomputing the sweep.", path)
            return None
        return manifest

    def _discard_parts(self, why: str) -> None:
        stale = [
            p
            for p in self.parts.iterdir()
            if p.name == _CHECKPOINTS or _OWN_ENTRY.match(p.name) or p.name == _MANIFEST
        ]
        if stale:
            logger.warning("Discarding %d file(s) in %s: %s.", len(stale), self.parts, why)
        for path in stale:
            _remove(path)

    def _read_parts(self) -> dict[int, pd.DataFrame]:
        done: dict[int, pd.DataFrame] = {}
        for path in sorted(self.parts.iterdir()):
            if not _OWN_ENTRY.match(path.name):
                continue  # the manifest, the lock, checkpoints, or not this package's
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
        try:
            _atomic_write(self.parts / self._part_name(unit, digest), payload)
        except OSError as exc:
            raise _out_error(exc, self.path, "write") from exc
        self.saved += 1
        # The unit's rows are safe: whatever it kept to resume is no longer needed.
        shutil.rmtree(self.checkpoints / _checkpoint_name(unit), ignore_errors=True)
        return self._load(payload)

    def write_table(self, table: pd.DataFrame) -> None:
        """Replace the results file with the rows finished so far."""
        try:
            _atomic_write(self.path, self._dump(table))
        except OSError as exc:
            raise _out_error(exc, self.path, "write") from exc


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


def _dask(spec, units, client, threads, checkpoints) -> Iterator[tuple[int, list[dict]]]:
    from distributed import as_completed

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
        finished units (resume after an interruption, or a cheap reload).
        Missing folders are created. Only files this run's engine wrote are
        ever replaced or deleted: an existing ``out`` that is not a results
        table, or a ``<out>.parts/`` holding other files, is refused. While
        a run writes, it holds ``<out>.parts/lock``; a second run into the
        same ``out`` is refused at once rather than mixing its rows in. A
        run that fails before storing its first unit removes what it
        created. Files get the permissions the umask allows, as ``open``
        gives.
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
        of another spec). Files at ``out`` that are not this package's are
        refused all the same.
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
        holds a file that is not a results table of this package, or when it
        holds the results of a different spec and ``overwrite`` is False.
    BlockingIOError
        When another run is writing to ``out``.
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
    n_jobs = _cap_jobs(n_jobs, backend)
    owned = None
    if backend == "dask":
        # Connect before anything is written, so that an unreachable cluster leaves no trace.
        client, owned = _dask_client(client, scheduler)
    store = _Store(out, spec, units) if out is not None else None
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
            results = _dask(spec, todo, client, blas_threads, checkpoints)
        else:
            results = _loky(spec, todo, n_jobs, blas_threads, checkpoints)

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
                if store is not None:
                    store.write_table(_table(spec, done))
                bar.update()
    finally:
        if inner is not None:
            inner.close()
    table = _table(spec, done)
    if store is not None and not todo:
        store.write_table(table)
    return table
