"""The illusion test: verdicts on curves of known shape; its statistics against scipy.

Oracles: the shape of synthetic curves is known by construction; Kendall tau
comes from ``scipy.stats.kendalltau``; the granulated tau of Jiang et al.
(ICLR 2020) is recomputed by a plain loop over groups; the LOWESS smoother
matrix is checked against ``statsmodels.nonparametric.lowess``; the exact
bootstrap against the multinomial count of resamples.
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from effcomplexity import analysis
from effcomplexity.analysis import MIN_POINTS, granulated_tau, illusion_test

T = np.linspace(-1.0, 1.0, 15)
SHAPES = {
    "single U": 0.2 + 0.5 * T**2,
    "monotone decreasing": 0.2 + 0.5 * np.exp(-3 * (T + 1)),
    "double descent": 0.3 + 0.3 * np.exp(-((T / 0.2) ** 2)) + 0.3 * np.exp(-4 * (T + 1)) - 0.1 * T,
    "monotone increasing": 0.2 + 0.3 * (T + 1),
}
EXPECTED_DESCENTS = {
    "single U": 1,
    "monotone decreasing": 1,
    "double descent": 2,
    "monotone increasing": 0,
}


def one_axis(y, *, sd=0.0, seeds=(0,), rng_seed=0, **columns):
    """A one-axis sweep table: n_features on a geometric grid, error y plus noise."""
    x = np.geomspace(10, 10000, len(y)).round().astype(int)
    rng = np.random.default_rng(rng_seed)
    frames = [
        pd.DataFrame(
            {
                "sweep": "toy",
                "seed": s,
                "axis": "n_features",
                "n_features": x,
                "n_params": x,
                "test_error": np.asarray(y) + rng.normal(0.0, sd, len(y)),
                **columns,
            }
        )
        for s in seeds
    ]
    return pd.concat(frames, ignore_index=True)


def two_axis(seeds=(0,)):
    """A product grid P_leaf x P_ens with a composite path switching at P_leaf = 64.

    Error rises along P_leaf to a peak at the switch, then falls along P_ens;
    ``m_down`` falls at every step along P_ens (on and off the path), p_train
    reaches n = 64 at the switch.
    """
    rows = []
    leaves, trees = [2, 4, 8, 16, 32, 64], [1, 2, 4, 8, 16]
    for seed in seeds:
        for i, leaf in enumerate(leaves):
            for j, ens in enumerate(trees):
                on = (j == 0) or (leaf == 64)
                axis = ("P_leaf" if j == 0 else "P_ens") if on else None
                down = 0.5 - 0.06 * i if i < 3 else 0.32 + 0.1 * (i - 3)
                rows.append(
                    {
                        "seed": seed,
                        "P_leaf": leaf,
                        "P_ens": ens,
                        "axis": axis,
                        "n_params": leaf * ens,
                        "test_error": down - (0.12 * j if leaf == 64 else 0.02 * j) + 0.001 * seed,
                        "train_error": max(0.0, 0.4 - 0.08 * i),
                        "p_train": float(leaf),
                        "n_train": 64,
                        "m_down": leaf / (1 + j),
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("sd", [0.0, 0.01])
def test_known_shapes_get_their_verdict(shape, sd):
    table = one_axis(SHAPES[shape], sd=sd, rng_seed=3)
    row = illusion_test(table, measures=["n_params"], n_perm=0).iloc[0]
    assert row["verdict"] == shape
    assert row["n_descents"] == EXPECTED_DESCENTS[shape]
    assert row["n_seeds"] == 1 and "one seed" in row["uncertainty"]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_known_shapes_with_seeds_are_supported_by_the_bootstrap(shape):
    table = one_axis(SHAPES[shape], sd=0.01, seeds=(0, 1, 2, 3), rng_seed=5)
    row = illusion_test(table, measures=["n_params"], n_perm=0).iloc[0]
    assert row["verdict"] == shape
    assert row["verdict_support"] >= 0.9
    assert row["n_descents_lo"] <= row["n_descents"] <= row["n_descents_hi"]
    assert "bootstrap over 4 seeds" in row["uncertainty"]


def test_pure_noise_is_rarely_given_a_shape():
    # At alpha = 0.05 the chance that noise makes one spurious move is 5%; with 40 curves,
    # 6 or more false verdicts has binomial probability 1.4% at that rate.
    false = 0
    for seed in range(40):
        table = one_axis(np.full(15, 0.4), sd=0.02, rng_seed=100 + seed)
        false += illusion_test(table, measures=["n_params"], n_perm=0)["verdict"][0] != (
            "inconclusive"
        )
    assert false <= 5


def test_noise_that_seeds_disagree_on_withholds_the_verdict():
    flat = one_axis(np.full(15, 0.4), seeds=(0,))
    bump = one_axis(SHAPES["double descent"], seeds=(1,))
    table = pd.concat([flat, flat.assign(seed=2), bump], ignore_index=True)
    row = illusion_test(table, measures=["n_params"], n_perm=0).iloc[0]
    assert row["verdict"] == "inconclusive"
    assert row["verdict_support"] < 0.9
    assert "withheld" in row["evidence"]


def test_fold_back_along_the_second_axis():
    table = two_axis()
    result = illusion_test(table, measures=["n_params", "m_down"], n_perm=0).set_index("measure")
    # Oracle by construction: n_params grows at every step, m_down falls at every step.
    assert result.loc["n_params", "fold_back"] == 0.0
    assert result.loc["m_down", "fold_back"] == 1.0
    assert result.loc["n_params", "fold_back_grid"] == 0.0
    assert result.loc["m_down", "fold_back_grid"] == 1.0


def test_peak_at_the_switch_and_the_threshold():
    row = illusion_test(two_axis(), measures=["n_params"], n_perm=0).iloc[0]
    assert row["verdict"] == "double descent"
    # The peak is the last P_leaf point: the switch, where p_train first reaches n = 64.
    assert row["peak_n_params"] == 64
    assert row["peak_location"] == "interpolation threshold and axis switch"
    assert row["peak_steps_from_switch"] == 0 and row["peak_steps_from_threshold"] == 0


def test_a_table_without_a_composite_path_reads_the_whole_grid():
    """A table whose ``axis`` column is empty (no composite path, e.g. a
    training curve) is read as one curve over the whole grid: the same
    verdict as the same rows labelled as a path."""
    table = one_axis(SHAPES["double descent"], sd=0.0, rng_seed=3)
    labelled = illusion_test(table, measures=["n_params"], n_perm=0).iloc[0]
    bare = illusion_test(table.assign(axis=None), measures=["n_params"], n_perm=0).iloc[0]
    assert bare["verdict"] == labelled["verdict"] == "double descent"
    assert bare["n_descents"] == labelled["n_descents"]


def test_one_axis_peak_at_the_threshold_only():
    y = SHAPES["double descent"]
    x = np.geomspace(10, 10000, len(y)).round().astype(int)
    peak = 3 + int(np.argmax(y[3:]))  # the interior peak (the curve starts high)
    table = one_axis(y, p_train=np.minimum(x, x[peak]).astype(float), n_train=int(x[peak]))
    row = illusion_test(table, measures=["n_params"], n_perm=0).iloc[0]
    assert row["peak_n_params"] == x[peak]
    assert row["peak_location"] == "interpolation threshold"
    assert np.isnan(row["fold_back"])  # one axis: no later axis to fold back along


def test_kendall_tau_equals_scipy():
    table = two_axis()
    row = illusion_test(table, measures=["m_down"], n_perm=0).iloc[0]
    means = table.groupby(["P_leaf", "P_ens"])[["m_down", "test_error", "train_error"]].mean()
    expected = kendalltau(means["m_down"], means["test_error"])
    assert row["tau_error"] == pytest.approx(expected.statistic, abs=1e-12)
    assert row["tau_error_p"] == pytest.approx(expected.pvalue, abs=1e-12)
    gap = kendalltau(means["m_down"], means["test_error"] - means["train_error"])
    assert row["tau_gap"] == pytest.approx(gap.statistic, abs=1e-12)


def _plain_granulated(df, measure, target, axes):
    """Jiang et al.'s granulated tau, written as a plain loop over groups (with scipy's tau)."""
    psis = []
    for axis in axes:
        others = [a for a in axes if a != axis]
        taus = []
        for _, group in df.groupby(others):
            if group[axis].nunique() < 2:
                continue
            tau = kendalltau(group[measure], group[target]).statistic
            if not np.isnan(tau):
                taus.append(tau)
        if taus:
            psis.append(np.mean(taus))
    return float(np.mean(psis))


def test_granulated_tau_equals_a_plain_loop():
    rng = np.random.default_rng(0)
    grid = pd.DataFrame(
        list(itertools.product([1, 2, 3, 4], [1, 2, 5])), columns=["P_leaf", "P_ens"]
    )
    grid["m"] = rng.normal(size=len(grid)).round(1)  # rounding makes ties, which tau-b handles
    grid["err"] = grid["m"] * 0.5 + rng.normal(size=len(grid))
    expected = _plain_granulated(grid, "m", "err", ["P_leaf", "P_ens"])
    assert granulated_tau(grid, "m", "err") == pytest.approx(expected, abs=1e-12)
    row = illusion_test(
        grid.assign(
            seed=0, axis="P_leaf", n_params=grid["P_leaf"] * grid["P_ens"], test_error=grid["err"]
        ),
        measures=["m"],
        n_perm=0,
    ).iloc[0]
    assert row["granulated_tau_error"] == pytest.approx(expected, abs=1e-12)


def test_granulated_tau_permutation_p_value_is_small_for_a_perfect_measure():
    table = two_axis()
    row = illusion_test(table, measures=["n_params"], n_perm=199).iloc[0]
    assert row["granulated_tau_error_p"] >= 1 / 200
    perfect = table.assign(score=table["test_error"])
    best = illusion_test(perfect, measures=["score"], n_perm=199).iloc[0]
    assert best["granulated_tau_error"] == pytest.approx(1.0)
    assert best["granulated_tau_error_p"] < 0.05


def test_lowess_matrix_reproduces_statsmodels():
    from statsmodels.nonparametric.smoothers_lowess import lowess

    x = np.log10(np.geomspace(3, 3000, 13))
    y = np.sin(3 * x) + 0.1 * np.cos(17 * x)
    for frac in (4 / 13, 0.6, 1.0):
        weights = analysis._lowess_matrix(x, frac)
        expected = lowess(y, x, frac=frac, it=0, delta=0.0, return_sorted=False)
        np.testing.assert_allclose(weights @ y, expected, rtol=0, atol=1e-12)


def test_exact_bootstrap_enumerates_every_resample():
    counts, weights = analysis._bootstrap_draws(4, 1000, np.random.default_rng(0))
    assert len(counts) == comb(7, 4)  # multisets of size 4 from 4 seeds
    assert weights.sum() == pytest.approx(1.0)
    assert (counts.sum(axis=1) == 4).all()
    # The resample of every seed once has multinomial probability 4!/4^4.
    once = np.flatnonzero((counts == 1).all(axis=1))
    assert weights[once][0] == pytest.approx(24 / 256)


def test_groups_of_by_get_one_row_each():
    a = one_axis(SHAPES["single U"]).assign(sweep="a")
    b = one_axis(SHAPES["double descent"]).assign(sweep="b")
    result = illusion_test(pd.concat([a, b]), measures=["n_params"], by="sweep", n_perm=0)
    assert result[["sweep", "verdict"]].values.tolist() == [
        ["a", "single U"],
        ["b", "double descent"],
    ]


def test_same_seed_same_table():
    table = one_axis(SHAPES["double descent"], sd=0.01, seeds=(0, 1, 2, 3, 4, 5, 6, 7))
    first = illusion_test(table, n_boot=50, measures=["n_params"])
    second = illusion_test(table, n_boot=50, measures=["n_params"])
    pd.testing.assert_frame_equal(first, second)


# -- bad input ---------------------------------------------------------------------------


def test_missing_column_is_named():
    table = one_axis(SHAPES["single U"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['p_test'\]"):
        illusion_test(table, measures=["p_test"])
    with pytest.raises(ValueError, match=r"\['test_mse'\]"):
        illusion_test(table, error="test_mse", measures=["n_params"])


def test_nan_in_a_measure_is_refused():
    table = one_axis(SHAPES["single U"], p_test=np.r_[np.nan, np.ones(14)])
    with pytest.raises(ValueError, match=r"'p_test' has 1 missing value"):
        illusion_test(table, measures=["p_test"])


def test_single_row_and_short_curves_are_refused():
    table = one_axis(SHAPES["single U"])
    with pytest.raises(ValueError, match=f"at least {MIN_POINTS} rows"):
        illusion_test(table.iloc[:1], measures=["n_params"])
    with pytest.raises(ValueError, match=f"at least {MIN_POINTS} distinct values"):
        illusion_test(
            table.assign(flat=1.0).iloc[:8].assign(flat=[1, 1, 2, 2, 3, 3, 4, 4]), measures=["flat"]
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frac": 0.0}, "frac"),
        ({"level": 1.0}, "level"),
        ({"n_boot": 0}, "n_boot"),
        ({"alpha": 2.0}, "alpha"),
        ({"measures": []}, "at least one"),
    ],
)
def test_bad_options(kwargs, message):
    table = one_axis(SHAPES["single U"])
    with pytest.raises(ValueError, match=message):
        illusion_test(table, **{"measures": ["n_params"], **kwargs})


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        illusion_test({"seed": [0]})
