"""Odd numbers in a sweep spec are refused when the spec is built, one clear error each.

Oracles: numpy's own seed rule (``RandomState`` takes seeds in ``[0, 2**32)``,
checked here against numpy itself) and the arithmetic of the memory bound
(``8 * rows * count`` bytes against ``MAX_UNIT_BYTES``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from effcomplexity import sweeps
from effcomplexity.sweeps.spec import MAX_SEED, MAX_UNIT_BYTES


@pytest.fixture(scope="module")
def ridgeless():
    return sweeps.get_spec("ridgeless_theory").replace(n_train=100, n_test=200, quick={})


def test_the_seed_bound_is_numpys():
    np.random.RandomState(MAX_SEED)
    with pytest.raises(ValueError):
        np.random.RandomState(MAX_SEED + 1)


@pytest.mark.parametrize("seed", [2**70, 2**32, -1])
def test_seeds_outside_numpys_range_are_refused(ridgeless, seed):
    with pytest.raises(ValueError, match=r"seeds must be integers in \[0, 2\*\*32 - 1\]"):
        ridgeless.replace(seeds=(0, seed))
    with pytest.raises(ValueError, match=r"data_seed must be None or an integer in \[0, 2\*\*32"):
        ridgeless.replace(data_seed=seed)


def test_the_largest_seed_is_accepted(ridgeless):
    assert ridgeless.replace(seeds=(MAX_SEED,), data_seed=MAX_SEED).seeds == (MAX_SEED,)


def test_a_feature_count_of_a_trillion_is_refused_with_the_bytes_it_needs(ridgeless):
    rows = ridgeless.n_train + ridgeless.n_test
    needed = 8 * rows * 10**12
    assert needed > MAX_UNIT_BYTES
    with pytest.raises(ValueError, match=r"grid\['n_features'\] value = 1000000000000 is too") as e:
        ridgeless.replace(grid={"n_features": (10, 10**12)})
    assert f"{needed:.3g} bytes" in str(e.value) and "1 TiB" in str(e.value)


def test_the_memory_bound_sits_between_the_last_accepted_and_first_refused_count(ridgeless):
    rows = ridgeless.n_train + ridgeless.n_test
    largest = MAX_UNIT_BYTES // (8 * rows)
    assert ridgeless.replace(grid={"n_features": (10, largest)}).grid["n_features"][-1] == largest
    with pytest.raises(ValueError, match="too large"):
        ridgeless.replace(grid={"n_features": (10, largest + 1)})


def test_absurd_sizes_are_refused(ridgeless):
    with pytest.raises(ValueError, match=r"n_train \+ n_test = 1000000000200 is too large"):
        ridgeless.replace(n_train=10**12)
    with pytest.raises(ValueError, match=r"n_train \+ n_test = .* is too large"):
        ridgeless.replace(n_test=10**12)


@pytest.mark.parametrize(
    ("name", "changes", "match"),
    [
        ("curth_boosting", {"model_kwargs": {"n_probes": 10**12}}, r"n_probes'\] = 10+ is too"),
        (
            "curth_boosting",
            {"model_kwargs": {"learning_rate": math.inf}},
            r"learning_rate'\] must be a finite number",
        ),
        (
            "curth_boosting",
            {"grid": {"P_boost": (1, 10**12), "P_ens": (1,)}},
            r"grid\['P_boost'\] value = 10+ is too large",
        ),
        ("curth_trees", {"model_kwargs": {"n_probes": 10**13}}, r"n_probes'\] = 10+ is too"),
        ("belkin_rff", {"model_kwargs": {"bandwidth": math.nan}}, "bandwidth'] must be a finite"),
        (
            "ridgeless_theory",
            {"dataset_kwargs": {"noise": math.inf}},
            r"dataset_kwargs\['noise'\] must be a finite number",
        ),
        (
            "grokking",
            {"grid": {"weight_decay": (math.inf,), "train_fraction": (0.2,), "step": (0, 10)}},
            r"grid\['weight_decay'\] values must be finite numbers",
        ),
        (
            "grokking",
            {"grid": {"weight_decay": (1.0,), "train_fraction": (math.nan,), "step": (0, 10)}},
            r"grid\['train_fraction'\] values must be finite numbers",
        ),
        ("grokking", {"model_kwargs": {"lr": math.nan}}, r"model_kwargs\['lr'\] must be a finite"),
        (
            "grokking",
            {"model_kwargs": {"betas": (0.9, math.inf)}},
            r"model_kwargs\['betas'\] must be a finite",
        ),
        ("mnist1d_width", {"model_kwargs": {"depth": 10**12}}, r"depth'\] = 10+ is too large"),
    ],
)
def test_odd_options_get_one_clear_error_each(name, changes, match):
    with pytest.raises(ValueError, match=match):
        sweeps.get_spec(name).replace(**changes)


def test_every_published_spec_is_within_the_bounds():
    for name in sweeps.available():
        spec = sweeps.get_spec(name)
        assert spec.sized(quick=True).name == spec.sized(quick=False).name == name


@pytest.mark.parametrize("seed", [2**70, 2**32, -1])
def test_measures_refuse_a_seed_numpy_cannot_take_in_words(seed):
    from sklearn.linear_model import Ridge

    import effcomplexity as ec

    X = np.random.default_rng(0).normal(size=(20, 2))
    ridge = Ridge().fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"random_state must be an integer in \[0, 2\*\*32 - 1\]"):
        ec.effective_parameters(ridge, X, method="probe", random_state=seed, y_train=X[:, 0])
