"""The results store of a sweep: one part file per finished unit, a manifest, a lock.

A sweep with ``out`` writes each finished unit at once to its own part file in
``<out>.parts/``, atomically (temporary file, fsync of the file and its folder,
rename) and named after the SHA-256 of its bytes, and rewrites the results
file with every row finished so far. On restart every part is checked against
its name, its unit, the schema and the metadata it carries; a damaged part is
deleted and its unit recomputed, leftover temporary files are removed. A
process killed at any moment therefore loses at most the units in flight, and
the finished table never holds a row twice.

Every part and every network checkpoint records who made it: the package
version, the spec's fingerprint, the unit's key and the id of the run. The
manifest holds the run id; ``overwrite`` starts a new run, a resume continues
the one it finds. A part or checkpoint of another run is ignored, with a
warning; one of another spec, version or column set is refused. Checkpoints
live in a folder named after their run, which a new run removes first by
renaming it away, so that the workers of a killed run can no longer write
into it (they stop at their next checkpoint).

When the last unit is stored, the results file gets a finished manifest
beside it, ``<out>.manifest.json`` (the parts' manifest plus the results
file's SHA-256), and ``<out>.parts/`` is removed. Running the same spec again
reads the table back from the results file without recomputing anything.

The store deletes or replaces only files it wrote: an existing ``out`` that is
not a results table, or a parts folder holding files it did not name, is
refused whatever ``overwrite`` says. A lock file in the parts folder keeps a
second run away from the same ``out`` while one is writing, and a run that
fails before its first unit is stored removes everything it created.

This module imports neither torch nor the sweep families: it knows a sweep by
its name, fingerprint, units and column dtypes.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import errno
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd

from .. import __version__
from ..exceptions import IncompatibleResultsError

if TYPE_CHECKING:
    from .plan import Unit

__all__ = [
    "STORE_FORMAT",
    "ResultStore",
    "checkpoint_stamp",
    "options",
    "read_part",
    "stamped",
]

logger = logging.getLogger(__name__)

#: Version of the layout of parts and manifests; bumped when it changes.
STORE_FORMAT = 1

_PART = re.compile(r"^unit-(\d{6})-([0-9a-f]{8})\.([0-9a-f]{64})\.(parquet|csv)$")
_MANIFEST = "manifest.json"
# Keys every manifest has; a file without them is not a manifest of this package.
_MANIFEST_KEYS = frozenset({"sweep", "fingerprint", "n_units", "format"})
# Keys of a manifest that identify the sweep (a difference means another spec).
_SPEC_KEYS = ("sweep", "fingerprint", "n_units", "format", "columns")
# Folder inside the parts folder: one folder per run, one checkpoint folder per unit in it.
_CHECKPOINTS = "checkpoints"
# Lock file inside the parts folder, held by the run writing to it.
_LOCK = "lock"
# Every other name the store gives an entry of a parts folder: parts (also damaged
# ones), the temporary files of an interrupted write and folders being removed.
_OWN_ENTRY = re.compile(
    r"^(unit-\d{6}-[0-9a-f]{8}\..+|\.(unit-.+|manifest\.json)\.tmp-.+|\.trash-[0-9a-f]+)$"
)
# First bytes of the metadata line that opens a CSV part.
_CSV_HEADER = b"# effcomplexity "
# Key of a Parquet part's schema metadata that holds its metadata.
_PARQUET_KEY = b"effcomplexity"

# How messages spell the arguments of ``run``: Python names unless the command line
# asks for its flags (see ``_spelled_as``).
_SPELLING: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "effcomplexity_run_spelling", default=None
)
_NO_VALUE = object()

# Store options of the runs started in this context (see ``options``).
_OPTIONS: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "effcomplexity_store_options", default=None
)

# What a checkpoint written in this context must record (see ``stamped``).
_STAMP: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "effcomplexity_checkpoint_stamp", default=None
)


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


@contextlib.contextmanager
def stamped(stamp: Mapping[str, Any] | None) -> Iterator[None]:
    """Make ``stamp`` what checkpoints written (and accepted) in this context record.

    Parameters
    ----------
    stamp : mapping or None
        JSON-able identity of the unit and run (see :meth:`ResultStore.stamp`).

    Yields
    ------
    None
        The stamp holds until the block ends; the previous one is restored then.

    Examples
    --------
    >>> from effcomplexity.sweeps.store import checkpoint_stamp, stamped
    >>> with stamped({"unit": "seed=0,width=4", "run": "ab12"}):
    ...     checkpoint_stamp()["run"]
    'ab12'
    >>> checkpoint_stamp() is None
    True
    """
    token = _STAMP.set(None if stamp is None else dict(stamp))
    try:
        yield
    finally:
        _STAMP.reset(token)


@contextlib.contextmanager
def options(*, keep_parts: bool = False, metadata: Mapping[str, Any] | None = None):
    """Store options for the sweeps run (with ``out``) inside this context.

    Parameters
    ----------
    keep_parts : bool
        Keep ``<out>.parts/`` when a sweep finishes: one part file per unit,
        each recording its version, fingerprint, unit, run id and
        ``metadata`` (e.g. a committed store of a full run).
    metadata : mapping, optional
        Extra JSON-able fields for the manifest and every part, e.g.
        ``{"commit": "1a2b3c"}``.

    Yields
    ------
    None
        The options hold until the block ends; the previous ones are restored then.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from effcomplexity import sweeps
    >>> from effcomplexity.sweeps import store
    >>> spec = sweeps.get_spec("ridgeless_theory").replace(
    ...     n_train=40, n_test=20, grid={"n_features": (10, 80)}, seeds=(0,))
    >>> out = Path(tempfile.mkdtemp()) / "r.csv"
    >>> with store.options(keep_parts=True, metadata={"commit": "1a2b3c"}):
    ...     _ = sweeps.run(spec, out=out, verbose=0)
    >>> parts = sorted(out.with_name("r.csv.parts").glob("unit-*"))
    >>> [store.read_part(p)[1]["commit"] for p in parts]
    ['1a2b3c', '1a2b3c']
    """
    token = _OPTIONS.set({"keep_parts": bool(keep_parts), "metadata": dict(metadata or {})})
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def current_options() -> dict[str, Any]:
    """The store options set by :func:`options` around this call (empty outside one)."""
    return dict(_OPTIONS.get() or {})


def checkpoint_stamp() -> dict[str, Any] | None:
    """The stamp set by :func:`stamped` around the running unit, or None outside one.

    Returns
    -------
    dict or None
        A copy of the stamp (changing it changes nothing), or None outside
        :func:`stamped`.

    Examples
    --------
    >>> from effcomplexity.sweeps.store import checkpoint_stamp, stamped
    >>> with stamped({"unit": "seed=0", "run": "cd34"}):
    ...     checkpoint_stamp()
    {'unit': 'seed=0', 'run': 'cd34'}
    """
    stamp = _STAMP.get()
    return None if stamp is None else dict(stamp)


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

    Raises
    ------
    ValueError
        When ``out`` is empty, names a folder (``"/"``, ``"."`` or a path
        ending in a separator), or asks for Parquet without pyarrow.

    Examples
    --------
    >>> from effcomplexity import sweeps
    >>> sweeps.results_path("results/trees.csv")
    (PosixPath('results/trees.csv'), 'csv')
    """
    text = os.fspath(out)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        spelled = _arg("out", text) if _arg("out") == "out" else f"{_arg('out')} {text!r}"
        raise ValueError(f"{spelled} is empty; give the results file's path, e.g. results.csv.")
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise ValueError(
            f"{_arg('out', text)} names a folder, not a results file; give a file path, "
            f"e.g. {path / 'results.csv'}."
        )
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


def coerce(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with exactly the columns of ``dtypes``, in order, with those dtypes.

    Fresh and reloaded rows then compare equal; a missing column is all missing.
    """
    out = {}
    for name, dtype in dtypes.items():
        if name not in frame:
            out[name] = pd.Series([None] * len(frame), dtype=dtype)
        elif frame[name].dtype == dtype:
            out[name] = frame[name].reset_index(drop=True)
        elif dtype == "str":
            out[name] = frame[name].astype(dtype).reset_index(drop=True)
        else:
            out[name] = pd.to_numeric(frame[name]).astype(dtype).reset_index(drop=True)
    return pd.DataFrame(out)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows opens no folders; the rename is as durable as it gets
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` through ``write(handle)`` atomically and durably.

    A temporary file beside ``path`` is written, flushed and fsynced, renamed
    into place, and the folder fsynced; on any failure the temporary file is
    removed. A missing folder raises ``FileNotFoundError`` (nothing is created).
    """
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
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _atomic_write(path: Path, payload: bytes) -> None:
    _write_atomically(path, lambda handle: handle.write(payload))


def _is_results_table(path: Path) -> bool:
    """Whether ``path`` reads as a table this package's runner writes (by its columns)."""
    # Imported here, on this rare path only: the families package imports torch.
    from .families._base import ID_COLUMNS, RESERVED_COLUMNS

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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _discard_folder(folder: Path, trash: Path) -> None:
    """Remove ``folder``, first renaming it to ``trash`` so nothing can write into it."""
    try:
        os.replace(folder, trash)
    except FileNotFoundError:
        return
    except OSError:  # a system that cannot rename it (a file held open): remove in place
        trash = folder
    # A writer that opened a file before the rename may still add one: try twice.
    for _ in range(2):
        shutil.rmtree(trash, ignore_errors=True)
        if not trash.exists():
            return


def _dump(frame: pd.DataFrame, fmt: str, meta: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of a table file; with ``meta``, a part carrying it."""
    text = None if meta is None else json.dumps(meta, sort_keys=True)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if text is not None:
            schema = dict(table.schema.metadata or {})
            table = table.replace_schema_metadata({**schema, _PARQUET_KEY: text.encode()})
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()
    payload = frame.to_csv(index=False).encode()
    return payload if text is None else _CSV_HEADER + text.encode() + b"\n" + payload


def _parse(payload: bytes, fmt: str) -> tuple[pd.DataFrame, dict | None]:
    """A table file's rows and, for a part, its metadata (None when it has none)."""
    meta = None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(payload))
        raw = (table.schema.metadata or {}).get(_PARQUET_KEY)
        meta = None if raw is None else json.loads(raw)
        frame = table.to_pandas()
    else:
        if payload.startswith(_CSV_HEADER):
            line, _, payload = payload.partition(b"\n")
            meta = json.loads(line[len(_CSV_HEADER) :])
        frame = pd.read_csv(io.BytesIO(payload), keep_default_na=False, na_values=[""])
    return frame, meta if isinstance(meta, dict) else None


def read_part(path) -> tuple[pd.DataFrame, dict | None]:
    """The rows of a part file and the metadata it carries.

    Parameters
    ----------
    path : path-like
        A ``unit-*.parquet`` or ``unit-*.csv`` file of a results store.

    Returns
    -------
    frame : pandas.DataFrame
        The unit's rows, as stored.
    metadata : dict or None
        ``version``, ``fingerprint``, ``sweep``, ``unit``, ``index``, ``run``,
        ``columns``, ``store_format`` and any extra fields the store was given;
        None for a file without metadata.

    Examples
    --------
    See :func:`options`, which keeps the parts of a finished sweep:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from effcomplexity import sweeps
    >>> from effcomplexity.sweeps import store
    >>> spec = sweeps.get_spec("ridgeless_theory").replace(
    ...     n_train=40, n_test=20, grid={"n_features": (10,)}, seeds=(0,))
    >>> out = Path(tempfile.mkdtemp()) / "r.csv"
    >>> with store.options(keep_parts=True):
    ...     table = sweeps.run(spec, out=out, verbose=0)
    >>> frame, meta = store.read_part(next(out.with_name("r.csv.parts").glob("unit-*")))
    >>> meta["sweep"], len(frame) == len(table)
    ('ridgeless_theory', True)
    """
    path = Path(path)
    fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
    return _parse(path.read_bytes(), fmt)


class ResultStore:
    """The resumable results store of one sweep at ``out``.

    Parameters
    ----------
    out : path-like
        The results file (see :func:`results_path`); parts go to
        ``<out>.parts/`` and the finished manifest to ``<out>.manifest.json``.
    sweep : str
        Name of the sweep, recorded in the manifest and every part.
    fingerprint : str
        Fingerprint of everything that determines the numbers (e.g.
        :meth:`SweepSpec.fingerprint`); a store of another fingerprint is
        not resumed.
    units : sequence of Unit
        The plan, in table order.
    dtypes : mapping of str to str
        Column name -> pandas dtype of the table, in column order.
    metadata : mapping, optional
        Extra JSON-able fields recorded in the manifest and in every part
        (e.g. ``{"commit": "1a2b3c"}``); recorded, never compared.
    keep_parts : bool
        Keep ``<out>.parts/`` (parts and manifest) when the sweep finishes,
        one file per unit, instead of leaving only the results file and its
        manifest.

    Notes
    -----
    ``open`` checks that everything already at ``out`` is this package's,
    creates what is missing, locks the parts folder and returns the finished
    units; ``save`` stores one unit, ``finish`` the whole table; ``close``
    releases the lock and, after a failed start (no unit stored),
    ``rollback`` removes what ``open`` created. A kept parts folder also
    holds the (released) ``lock`` file.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from effcomplexity.sweeps import Unit
    >>> from effcomplexity.sweeps.store import ResultStore, read_part
    >>> units = [Unit(i, 0, {"k": k}, ({"k": k},), f"seed=0,k={k}") for i, k in enumerate((1, 2))]
    >>> out = tempfile.mkdtemp() + "/toy.csv"
    >>> kept = ResultStore(out, sweep="toy", fingerprint="f" * 64, units=units,
    ...                    dtypes={"seed": "Int64", "k": "Int64"}, keep_parts=True)
    >>> kept.open(overwrite=False)
    {}
    >>> rows = [kept.save(u, pd.DataFrame({"seed": [0], "k": [u.params["k"]]})) for u in units]
    >>> kept.finish(pd.concat(rows, ignore_index=True))
    >>> kept.close()
    >>> frame, meta = read_part(next(kept.parts.glob("unit-000001-*")))
    >>> meta["unit"], meta["fingerprint"][:4], frame["k"].tolist()
    ('seed=0,k=2', 'ffff', [2])
    """

    def __init__(
        self,
        out,
        *,
        sweep: str,
        fingerprint: str,
        units: Sequence[Unit],
        dtypes: Mapping[str, str],
        metadata: Mapping[str, Any] | None = None,
        keep_parts: bool = False,
    ):
        self.path, self.fmt = results_path(out)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.final = self.path.with_name(self.path.name + ".manifest.json")
        self.sweep = sweep
        self.fingerprint = fingerprint
        self.units = units
        self.dtypes = dict(dtypes)
        self.metadata = dict(metadata or {})
        self.keep_parts = keep_parts
        self.run_id: str | None = None
        self.finished = False  # read back from a finished results file
        self.saved = 0
        self._lock = None
        self._created: list[Path] = []  # folders above the parts folder this run created
        self._created_parts = False
        self._opened = False  # past every check, holding the lock
        self._wrote_manifest = False
        self._new_lock_file = False
        self._old_checkpoints: set[str] | None = None  # None: no run folder before

    @property
    def checkpoints(self) -> Path:
        """This run's checkpoint folder: one folder per unit in flight."""
        return self.parts / _CHECKPOINTS / str(self.run_id)

    def checkpoint_dir(self, unit: Unit) -> Path:
        """Where ``unit`` keeps its training state in this run."""
        return self.checkpoints / f"unit-{unit.index:06d}-{_crc(unit.key)}"

    def stamp(self, unit: Unit) -> dict[str, Any]:
        """What a checkpoint of ``unit`` in this run records and must match to be resumed."""
        return {
            "version": __version__,
            "sweep": self.sweep,
            "fingerprint": self.fingerprint,
            "unit": unit.key,
            "run": self.run_id,
        }

    # -- metadata -----------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """The manifest of this run: package version, sweep identity, run id."""
        return {
            **self.metadata,
            "store_format": STORE_FORMAT,
            "package": "effcomplexity",
            "version": __version__,
            "sweep": self.sweep,
            "fingerprint": self.fingerprint,
            "n_units": len(self.units),
            "format": self.fmt,
            "columns": list(self.dtypes),
            "run": self.run_id,
        }

    def part_metadata(self, unit: Unit) -> dict[str, Any]:
        """What the part of ``unit`` records about who made it."""
        return {**self.manifest(), "unit": unit.key, "index": unit.index}

    # -- serialisation ------------------------------------------------------------------
    def _load(self, payload: bytes) -> tuple[pd.DataFrame, dict | None]:
        frame, meta = _parse(payload, self.fmt)
        return coerce(frame, self.dtypes), meta

    def _part_name(self, unit: Unit, digest: str) -> str:
        return f"unit-{unit.index:06d}-{_crc(unit.key)}.{digest}.{self.fmt}"

    # -- what is already there ----------------------------------------------------------
    def _refuse(self, what: str) -> ValueError:
        return ValueError(
            f"{_arg('out', str(self.path))}: {what}. Nothing was changed: it is not a file "
            f"this package wrote, so {_arg('overwrite', True)} does not replace it either; "
            f"move it away or choose another {_arg('out')}."
        )

    def _what_to_do(self) -> str:
        return f"pass {_arg('overwrite', True)} to replace them, or choose another {_arg('out')}"

    def _foreign_entries(self) -> list[str]:
        own = {_MANIFEST, _LOCK, _CHECKPOINTS}
        return sorted(
            entry.name
            for entry in self.parts.iterdir()
            if entry.name not in own and not _OWN_ENTRY.match(entry.name)
        )

    def _compare(self, manifest: dict, where: Path) -> None:
        """Refuse a manifest of another spec or another package version."""
        mine = self.manifest()
        if any(k in manifest and manifest[k] != mine[k] for k in _SPEC_KEYS):
            raise IncompatibleResultsError(
                f"{self.path} holds results of a different sweep spec "
                f"({manifest.get('sweep')!r}, fingerprint {str(manifest.get('fingerprint'))[:12]}"
                f"; this run: {self.sweep!r}, {self.fingerprint[:12]}); {self._what_to_do()}."
            )
        version = manifest.get("version")
        if version != __version__:
            written = (
                f"effcomplexity {version}"
                if version
                else "an earlier effcomplexity that did not record its version"
            )
            raise IncompatibleResultsError(
                f"{self.path} holds results written by {written} ({where.name}), and this is "
                f"effcomplexity {__version__}: resuming would mix rows of two versions. "
                f"Read the finished table with pandas, or {self._what_to_do()}."
            )

    def check(self, overwrite: bool, same_spec: bool = True) -> tuple[dict | None, dict | None]:
        """Refuse an ``out`` holding anything this package did not write.

        A results file is this package's when a manifest stands beside it (the
        finished one) or in its parts folder (even if damaged since), or when its
        columns are those of a results table; a parts folder is, when it holds a
        manifest or only names the store gives. With ``same_spec``, the manifests
        must also be this spec's and this version's unless ``overwrite``.

        Returns
        -------
        parts_manifest, finished_manifest : dict or None
        """
        if self.path.is_dir():
            raise self._refuse("the results file would replace a folder")
        if self.parts.exists() and not self.parts.is_dir():
            raise self._refuse(f"{self.parts} exists and is not a folder")
        if self.final.exists() and not self.final.is_file():
            raise self._refuse(f"{self.final} exists and is not a file")
        manifest = _read_manifest(self.parts / _MANIFEST) if self.parts.is_dir() else None
        final = _read_manifest(self.final) if self.final.is_file() else None
        if self.final.is_file() and final is None and not overwrite:
            raise ValueError(
                f"{_arg('out', str(self.path))}: its finished manifest {self.final} is damaged, "
                f"so the results cannot be checked against this spec; {self._what_to_do()}."
            )
        if self.parts.is_dir() and manifest is None and not self.final.is_file():
            foreign = self._foreign_entries()
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise self._refuse(
                    f"the folder {self.parts} holds files this package did not write ({shown})"
                )
        if self.path.exists() and manifest is None and not self.final.is_file():
            if not _is_results_table(self.path):
                raise self._refuse("the file exists and is not a sweep results table")
            if not overwrite:
                raise ValueError(
                    f"{_arg('out', str(self.path))} holds a sweep results table without its "
                    f"resume state (no {self.final.name} beside it and no complete "
                    f"{self.parts.name}/), so it cannot be checked against this spec; pass "
                    f"{_arg('overwrite', True)} to replace it, or choose another {_arg('out')}."
                )
        if same_spec and not overwrite:
            for found, where in ((manifest, self.parts / _MANIFEST), (final, self.final)):
                if found is not None:
                    self._compare(found, where)
        return manifest, final

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
            self._new_lock_file = not (self.parts / _LOCK).exists()
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
            manifest, final = self.check(overwrite)
            if overwrite:
                self._clear()
                manifest = final = None
            self._opened = True
            for prefix in (_temp_prefix(self.path), _temp_prefix(self.final)):
                for stale in self.path.parent.glob(prefix + "*"):
                    stale.unlink()
            for stale in self.path.parent.glob(f".{self.parts.name}.trash-*"):
                _discard_folder(stale, stale)
            if final is not None:
                done = self._read_finished(final)
                if done is not None:
                    return done
            if manifest is None:
                self._discard_parts("no valid manifest")
                self.run_id = secrets.token_hex(8)
                _atomic_write(self.parts / _MANIFEST, _json(self.manifest()))
                self._wrote_manifest = True
            else:
                self.run_id = str(manifest.get("run"))
            self._discard_other_runs()
            if self.checkpoints.is_dir():
                self._old_checkpoints = {p.name for p in self.checkpoints.iterdir()}
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            return self._read_parts()
        except OSError as exc:
            if isinstance(exc, BlockingIOError) and self._lock is None:
                raise
            raise _out_error(exc, self.path, "write") from exc

    def _read_finished(self, final: dict) -> dict[int, pd.DataFrame] | None:
        """The units of a finished results file, or None when there is none to read."""
        if not self.path.is_file():
            logger.warning(
                "%s is missing beside its manifest %s; recomputing the sweep.",
                self.path,
                self.final.name,
            )
            self.final.unlink()
            return None
        payload = self.path.read_bytes()
        if hashlib.sha256(payload).hexdigest() != final.get("sha256"):
            raise ValueError(
                f"{_arg('out', str(self.path))} was changed after the sweep finished (its "
                f"SHA-256 no longer matches {self.final.name}), so it is not read back; pass "
                f"{_arg('overwrite', True)} to recompute it, or choose another {_arg('out')}."
            )
        table, _ = self._load(payload)
        done, start = {}, 0
        for unit in self.units:
            done[unit.index] = table.iloc[start : start + len(unit.points)].reset_index(drop=True)
            start += len(unit.points)
        self.finished = True
        self.run_id = str(final.get("run"))
        return done

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
        if self.saved or self.finished:
            return
        if self._lock is not None:
            with contextlib.suppress(OSError):
                if self._created_parts:
                    shutil.rmtree(self.parts)
                else:
                    if self._opened:
                        self._undo_in_existing_parts()
                    if self._new_lock_file:
                        (self.parts / _LOCK).unlink()
        for folder in self._created:  # innermost first, and only while empty
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _undo_in_existing_parts(self) -> None:
        if self._wrote_manifest:
            (self.parts / _MANIFEST).unlink(missing_ok=True)
        if self.run_id is not None and self.checkpoints.is_dir():
            for entry in self.checkpoints.iterdir():
                if entry.name not in (self._old_checkpoints or ()):
                    _remove(entry)
            if self._old_checkpoints is None and not any(self.checkpoints.iterdir()):
                self.checkpoints.rmdir()
                with contextlib.suppress(OSError):
                    self.checkpoints.parent.rmdir()

    def _trash(self) -> Path:
        return self.parts / f".trash-{secrets.token_hex(4)}"

    def _clear(self) -> None:
        """Remove this package's files at ``out`` (``overwrite``); leave any other alone."""
        for child in self.parts.iterdir():
            if child.name == _CHECKPOINTS:
                _discard_folder(child, self._trash())
            elif child.name == _MANIFEST or _OWN_ENTRY.match(child.name):
                _remove(child)
        for path in (self.path, self.final):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _discard_other_runs(self) -> None:
        """Remove the checkpoint folders of other runs, so their workers cannot write on."""
        root = self.parts / _CHECKPOINTS
        if not root.is_dir():
            return
        for entry in sorted(root.iterdir()):
            if entry.name != self.run_id:
                logger.warning(
                    "Discarding %s: checkpoints of another run, not this store's run %s.",
                    entry,
                    self.run_id,
                )
                _discard_folder(entry, self._trash())

    def _discard_parts(self, why: str) -> None:
        stale = [
            p
            for p in self.parts.iterdir()
            if p.name == _CHECKPOINTS or _OWN_ENTRY.match(p.name) or p.name == _MANIFEST
        ]
        if stale:
            logger.warning("Discarding %d file(s) in %s: %s.", len(stale), self.parts, why)
        for path in stale:
            if path.name == _CHECKPOINTS:
                _discard_folder(path, self._trash())
            else:
                _remove(path)

    def _read_parts(self) -> dict[int, pd.DataFrame]:
        done: dict[int, pd.DataFrame] = {}
        refused: list[str] = []
        for path in sorted(self.parts.iterdir()):
            if not _OWN_ENTRY.match(path.name) or path.name.startswith(".trash-"):
                continue  # the manifest, the lock, checkpoints, or not this package's
            found = self._validate(path) if path.is_file() else None
            if isinstance(found, str):
                refused.append(f"{path.name} ({found})")
                continue
            index = int(_PART.match(path.name).group(1)) if found is not None else None
            if found is None or index in done:
                logger.warning("Removing invalid or duplicate part %s.", path.name)
                _remove(path)
                continue
            done[index] = found
        if refused:
            shown = "; ".join(refused[:3]) + ("; ..." if len(refused) > 3 else "")
            raise IncompatibleResultsError(
                f"{self.parts} holds parts that do not belong to this sweep: {shown}; "
                f"{self._what_to_do()}."
            )
        return done

    def _validate(self, path: Path) -> pd.DataFrame | str | None:
        """The rows of a valid part; why it is refused (a str); None when damaged or stale."""
        match = _PART.match(path.name)
        if match is None or match.group(4) != self.fmt:
            return None
        index = int(match.group(1))
        if index >= len(self.units):
            return None
        unit = self.units[index]
        if match.group(2) != _crc(unit.key):
            return None
        payload = path.read_bytes()
        if hashlib.sha256(payload).hexdigest() != match.group(3):
            return None
        try:
            frame, meta = self._load(payload)
        except Exception:  # a part that does not parse is recomputed, whatever the reason
            return None
        if meta is None:
            return None
        if meta.get("run") != self.run_id:
            logger.warning(
                "Ignoring part %s: it was written by run %s, not by this store's run %s "
                "(a run replaced since, e.g. with overwrite=True).",
                path.name,
                meta.get("run"),
                self.run_id,
            )
            return None
        expected = self.part_metadata(unit)
        for key in ("version", "fingerprint", "unit", "columns"):
            if meta.get(key) != expected[key]:
                return f"its {key} is {meta.get(key)!r}, not {expected[key]!r}"
        if len(frame) != len(unit.points) or (frame["seed"] != unit.seed).any():
            return None
        return frame

    def save(self, unit: Unit, frame: pd.DataFrame) -> pd.DataFrame:
        """Write one unit's part atomically; return the rows as stored."""
        payload = _dump(frame, self.fmt, self.part_metadata(unit))
        digest = hashlib.sha256(payload).hexdigest()
        try:
            _atomic_write(self.parts / self._part_name(unit, digest), payload)
        except OSError as exc:
            raise _out_error(exc, self.path, "write") from exc
        self.saved += 1
        # The unit's rows are safe: whatever it kept to resume is no longer needed.
        shutil.rmtree(self.checkpoint_dir(unit), ignore_errors=True)
        return self._load(payload)[0]

    def write_table(self, table: pd.DataFrame) -> bytes:
        """Replace the results file with the rows finished so far; return its bytes."""
        payload = _dump(table, self.fmt)
        try:
            _atomic_write(self.path, payload)
        except OSError as exc:
            raise _out_error(exc, self.path, "write") from exc
        return payload

    def finish(self, table: pd.DataFrame) -> None:
        """Store the whole table, its finished manifest, and remove the parts folder.

        The results file is written first, then ``<out>.manifest.json`` (from then on
        the sweep reads back as finished), then the parts folder goes: a kill between
        any two steps leaves a store that the next run completes or reads back.
        """
        if not self.finished:
            payload = self.write_table(table)
            final = {
                **self.manifest(),
                "complete": True,
                "n_rows": len(table),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
            try:
                _atomic_write(self.final, _json(final))
            except OSError as exc:
                raise _out_error(exc, self.path, "write") from exc
            self.finished = True
        if not self.keep_parts:
            self._remove_parts()
        elif (self.parts / _CHECKPOINTS).is_dir():
            _discard_folder(self.parts / _CHECKPOINTS, self._trash())

    def _remove_parts(self) -> None:
        """Remove the parts folder, or only this package's entries when others are there."""
        if self._foreign_entries():
            for child in self.parts.iterdir():
                if child.name == _CHECKPOINTS:
                    _discard_folder(child, self._trash())
                elif child.name == _MANIFEST or _OWN_ENTRY.match(child.name):
                    _remove(child)
            return
        # Renamed first (still locked) so that a run starting meanwhile builds a new one.
        trash = self.parts.with_name(f".{self.parts.name}.trash-{secrets.token_hex(4)}")
        with contextlib.suppress(OSError):
            _discard_folder(self.parts, trash)


def _crc(key: str) -> str:
    return f"{zlib.crc32(key.encode()):08x}"


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()


def _read_manifest(path: Path) -> dict | None:
    """A manifest's fields, or None (with a warning) when it is not one."""
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or not _MANIFEST_KEYS <= set(manifest):
        logger.warning("Manifest %s is unreadable.", path)
        return None
    return manifest
