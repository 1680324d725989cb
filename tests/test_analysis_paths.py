"""The verdict read segment by segment: fold-backs, double descents, spikes, the table.

Oracles: every curve is built with a known shape along a known path (the
measure rising or falling on each segment by construction); the noise floor
is checked against its definition (1% of the median error) on noiseless
curves; the results-table errors are the documented ones; the calibration
targets are those of the documentation (90% right at the lower noise with 3
seeds, flat noise named a double descent or fold-back at most 5% of the time),
checked here on fewer draws with a margin.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from effcomplexity import analysis
from effcomplexity.analysis import VERDICTS, illusion_test, paths, segments, smoothing
from effcomplexity.analysis import calibration as cal
from effcomplexity.sweeps import table as sweep_table


def loop_table(seeds=(0, 1, 2), sd=0.005, falls=True, axes=("A", "B"), rng_seed=0):
    """Error dips then peaks at the switch along the first axis, then falls along the second.

    The measure ``m`` rises along the first axis; along the second it falls
    (``falls``) or keeps rising. ``n_params`` rises throughout.
    """
    rng = np.random.default_rng(rng_seed)
    a = np.array([2, 4, 8, 16, 32, 64, 128, 256])
    b = np.array([2, 4, 8, 16, 32, 64, 128])
    error = np.r_[[0.45, 0.38, 0.32, 0.30, 0.33, 0.38, 0.44, 0.50], 0.5 - 0.045 * np.arange(1, 8)]
    m = np.r_[a, a[-1] * (b[::-1] / 256 if falls else b)].astype(float)
    frames = []
    for seed in seeds:
        frames.append(
            pd.DataFrame(
                {
                    "seed": seed,
                    "axis": [axes[0]] * 8 + [axes[1]] * 7,
                    axes[0]: np.r_[a, [256] * 7],
                    axes[1]: np.r_[[1] * 8, b],
                    "n_params": np.r_[a, 256 * b],
                    "m": m * (1 + 0.01 * rng.standard_normal(15)),
                    "test_error": error + rng.normal(0, sd) + rng.normal(0, sd, 15),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_loop_folds_back_and_is_not_a_function_of_the_measure():
    table = loop_table()
    result = illusion_test(table, measures=["n_params", "m"], n_perm=0).set_index("measure")
    # Against the raw count the error falls, rises to the switch and falls: two descents.
    assert result.loc["n_params", "verdict"] == "double descent"
    # Against m the second descent happens while m falls (by construction): a fold-back.
    assert result.loc["m", "verdict"] == "folds back"
    assert result.loc["m", "n_fold_descents"] >= 1
    # At m = 16 the two branches differ by about 0.2 against a noise of 0.005.
    assert result.loc["m", "lack_of_fit"] > smoothing.LACK_OF_FIT_MAX
    assert result.loc["n_params", "lack_of_fit"] < smoothing.LACK_OF_FIT_MAX


@pytest.mark.parametrize("axes", [("A", "B"), ("P_leaf", "P_ens"), ("depth", "heads")])
def test_a_rising_measure_keeps_its_double_descent_whatever_the_axis_names(axes):
    table = loop_table(falls=False, axes=axes)
    row = illusion_test(table, measures=["m"], n_perm=0).iloc[0]
    assert row["verdict"] == "double descent"
    assert row["n_fold_descents"] == 0


def test_a_fall_on_each_axis_without_a_rise_between_is_no_double_descent():
    # By construction the error falls along the first axis to the switch and keeps
    # falling along the second: two descents in two segments, no peak anywhere.
    table = loop_table(falls=False)
    first = np.r_[[0.45, 0.40, 0.36, 0.33, 0.31, 0.30, 0.295, 0.29]]
    table["test_error"] = np.tile(
        np.r_[first, 0.29 - 0.03 * np.arange(1, 8)], 3
    ) + np.random.default_rng(1).normal(0, 0.002, len(table))
    row = illusion_test(table, measures=["n_params"], n_perm=0).iloc[0]
    assert row["n_rising_descents"] == 2
    assert row["verdict"] == "monotone decreasing"


def test_segments_report_each_axis_with_the_direction_of_the_measure():
    table = loop_table()
    seg = segments(table, measure="m")
    assert seg["segment"].tolist() == ["A", "B"]
    assert seg["segment_order"].tolist() == [0, 1]
    assert seg["measure_direction"].tolist() == ["rises", "falls"]
    # The second segment starts at the switch point (B = 1) and grows B.
    assert seg["grid"].iloc[1] == (1, 2, 4, 8, 16, 32, 64, 128)
    assert seg["n_points"].tolist() == [8, 8]
    # Along B the error falls as m falls: against m it increases.
    assert seg["error_shape"].tolist() == ["single U", "monotone increasing"]
    rising = segments(loop_table(falls=False), measure="m")
    assert rising["measure_direction"].tolist() == ["rises", "rises"]
    assert rising["error_shape"].iloc[1] == "monotone decreasing"


def test_segments_group_by():
    table = pd.concat([loop_table().assign(sweep="a"), loop_table(falls=False).assign(sweep="b")])
    seg = segments(table, measure="m", by="sweep")
    assert seg[["sweep", "measure_direction"]].values.tolist() == [
        ["a", "rises"],
        ["a", "falls"],
        ["b", "rises"],
        ["b", "rises"],
    ]


def spike_table(seeds=(0, 1, 2), n_train=None, rng_seed=0):
    """Squared error of a min-norm fit: falls, one point 100 times its neighbours, falls."""
    rng = np.random.default_rng(rng_seed)
    n = np.geomspace(10, 10000, 15).round().astype(int)
    mse = 0.8 - 0.3 * np.linspace(0, 1, 15)
    mse[7] *= 100.0
    frames = []
    for seed in seeds:
        frame = pd.DataFrame(
            {
                "seed": seed,
                "axis": "n_features",
                "n_features": n,
                "n_params": n,
                "test_mse": mse * np.exp(rng.normal(0, 0.03, 15)),
                "p_train": np.minimum(n, n[7]).astype(float),
            }
        )
        if n_train is not None:
            frame["n_train"] = n_train
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_a_one_point_spike_in_every_seed_is_a_double_descent():
    n = np.geomspace(10, 10000, 15).round().astype(int)
    row = illusion_test(
        spike_table(n_train=int(n[7])), error="test_mse", measures=["n_params"], n_perm=0
    ).iloc[0]
    assert row["log_error"]  # spans two decades: read on log10
    assert row["verdict"] == "double descent"
    assert row["peak_n_params"] == n[7]
    assert row["peak_location"] == "interpolation threshold"


def test_one_seed_spike_is_a_double_descent_too():
    row = illusion_test(
        spike_table(seeds=(0,)), error="test_mse", measures=["n_params"], n_perm=0
    ).iloc[0]
    assert row["verdict"] == "double descent"


def test_a_missing_threshold_column_makes_the_peak_location_unknown():
    # p_train without n_train: where the model interpolates is not known, so not "elsewhere".
    row = illusion_test(spike_table(), error="test_mse", measures=["n_params"], n_perm=0).iloc[0]
    assert row["peak_location"] == "unknown"


# The test error of the paper's quick grokking run (one seed, modular addition, weight
# decay 16, 20% of the pairs for training; paper/figures/grokking.csv), at these steps.
GROKKING_STEPS = [0, 10, 25, 50, 100, 200, 300, 400, 500, 600, 800, 1000]
GROKKING_ERROR = [
    0.991364,
    0.996546,
    0.996546,
    0.997343,
    0.994420,
    0.977946,
    0.862362,
    0.547496,
    0.188388,
    0.049555,
    0.004517,
    0.000133,
]


def grokking_table():
    return pd.DataFrame(
        {
            "seed": 0,
            "axis": np.nan,
            "n_params": 74496,
            "step": GROKKING_STEPS,
            "test_error": GROKKING_ERROR,
        }
    )


def test_grokking_at_chance_then_a_steep_fall_is_no_double_descent():
    # The error wobbles near chance (0.991 to 0.997, a rise of 0.6%, under the 1% noise
    # floor) and then falls through four decades: one descent, so "monotone decreasing".
    row = illusion_test(grokking_table(), measures=["step"], n_perm=0).iloc[0]
    assert row["log_error"]  # spans two decades: read on log10
    assert row["verdict"] == "monotone decreasing"
    assert row["n_rising_descents"] == 1
    assert "one-point spike" not in row["evidence"]
    assert row["peak_location"] == "no peak"


def test_an_epoch_wise_path_runs_along_the_steps():
    # One model size: the path is the steps, along which the measure "step" rises.
    seg = segments(grokking_table(), measure="step")
    assert seg["segment"].tolist() == ["step"]
    assert seg["grid"].iloc[0] == tuple(GROKKING_STEPS)
    assert seg["measure_direction"].tolist() == ["rises"]
    assert seg["error_shape"].tolist() == ["monotone decreasing"]
    # Rows in another order give the same path.
    shuffled = grokking_table().iloc[::-1].reset_index(drop=True)
    assert segments(shuffled, measure="step").equals(seg)


def test_the_spike_rule_needs_a_spike_beyond_noise_and_the_floor_in_every_seed():
    floor = np.log10(1 + smoothing.NOISE_FLOOR)
    # The bump at chance level in the grokking curve is no spike at any threshold.
    y = np.log10(GROKKING_ERROR)
    assert paths._spike(y, floor, floor, log_y=True) is None
    # A missing noise estimate (NaN threshold) is no licence to call a spike.
    assert paths._spike(y, np.nan, floor, log_y=True) is None

    def bumped(r):
        # Falls, a bump of r times its level at index 6, falls two decades.
        return np.log10([1, 1, 1, 1, 0.5, 0.3, 0.3 * (1 + r), 0.3, 0.01, 0.001])

    # The median error is about 0.4, so the floor on the error's own scale is about 0.004:
    # a bump of 1.2% of 0.3 (0.0036) is under it although 1.2% clears the log floor.
    assert np.log10(1.012) > floor
    assert paths._spike(bumped(0.012), floor, floor, log_y=True) is None
    assert paths._spike(bumped(0.02), floor, floor, log_y=True) == 6
    # Above noise but not a peak in every seed: no spike.
    peaks = np.zeros(10, bool)
    assert paths._spike(bumped(0.02), floor, floor, log_y=True, seed_peaks=peaks) is None
    peaks[6] = True
    assert paths._spike(bumped(0.02), floor, floor, log_y=True, seed_peaks=peaks) == 6
    # A bump above the noise after no real descent (all points before it level) is no spike.
    flat_start = np.log10([0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.306, 0.3, 0.01, 0.001])
    assert paths._spike(flat_start, floor, floor, log_y=True) is None


def test_seed_peaks_are_peaks_in_every_seed_that_has_the_point():
    # Brute force by hand: point 2 is above both neighbours in both seeds, point 1 in one.
    y = np.array([[1.0, 2.0, 3.0, 1.0, 0.5], [1.0, 0.5, 3.0, 2.0, np.nan]])
    assert paths._seed_peaks(y).tolist() == [False, False, True, False, False]
    # Seed 1 lacks point 4, so seed 0 alone makes point 3 a peak (seed 1 there is no peak).
    assert paths._seed_peaks(y[:, [0, 2, 3, 1, 4]]).tolist() == [False, True, False, True, False]


# -- the noise floor and the thresholds --------------------------------------------------


def test_every_threshold_constant_is_pinned():
    assert smoothing.NOISE_FLOOR == 0.01
    assert smoothing.LOG_ERROR_SPAN == 100.0
    assert smoothing.LOG_MEASURE_SPAN == 10.0
    assert smoothing.MEASURE_RTOL == 0.01
    assert smoothing.LACK_OF_FIT_MAX == 3.0
    assert smoothing.PATH_ALPHA == 0.01
    assert smoothing._N_SIM == 2000 and smoothing._SIM_SEED == 20231210
    assert analysis.MIN_POINTS == 5
    assert analysis.grid._INTERP_RTOL == 1e-6
    defaults = inspect.signature(illusion_test).parameters
    assert defaults["alpha"].default == 0.05
    assert defaults["level"].default == 0.9
    assert defaults["n_boot"].default == 1000


@pytest.mark.parametrize("step, verdict", [(0.009, "inconclusive"), (0.011, "monotone decreasing")])
def test_the_noise_floor_is_one_percent_of_the_median_error(step, verdict):
    # A noiseless curve has no noise, so only the floor (1% of the median error) limits a
    # move: a fall of 0.9% of the level is not a move, one of 1.1% is.
    y = np.r_[np.full(8, 0.3), np.full(7, 0.3 * (1 - step))]
    x = np.geomspace(10, 10000, 15).round().astype(int)
    table = pd.DataFrame(
        {"seed": 0, "axis": "n_features", "n_features": x, "n_params": x, "test_error": y}
    )
    assert illusion_test(table, measures=["n_params"], n_perm=0)["verdict"][0] == verdict


# -- the results table -------------------------------------------------------------------


def test_an_unknown_axis_keeps_its_grid_points_apart():
    # "depth" is declared by no family; the table's own axis column names it.
    table = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1],
            "axis": "depth",
            "depth": [1, 2, 1, 2],
            "n_params": [10, 10, 10, 10],
            "test_error": [0.5, 0.1, 0.5, 0.1],
        }
    )
    assert "depth" in sweep_table.raw_axes(table)
    assert "depth" not in sweep_table.raw_axes()
    means = analysis.grid_means(table, ["test_error"])
    assert means["test_error"].tolist() == [0.5, 0.1]
    assert means["depth"].tolist() == [1, 2]


def test_raw_axes_come_from_the_registry():
    from effcomplexity.sweeps import families

    declared = {a for f in families.families() for a in families.get_family(f).axis_names}
    assert set(analysis.RAW_AXES) == declared


def base_table():
    return pd.DataFrame(
        {
            "seed": [0, 0, 0],
            "axis": "n_features",
            "n_features": [10, 20, 40],
            "n_params": [10, 20, 40],
            "test_error": [0.5, 0.4, 0.3],
            "p_test": [5.0, 9.0, 20.0],
        }
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.drop(columns="seed"), r"no column\(s\) \['seed'\]"),
        (lambda t: t.assign(test_error=[0.5, np.inf, 0.3]), "'test_error' has 1 infinite"),
        (lambda t: t.assign(p_test=[5.0, "many", 20.0]), "'p_test' has 1 non-numeric"),
        (lambda t: t.assign(p_test=[5.0, np.nan, 20.0]), "'p_test' has 1 missing"),
        (lambda t: pd.concat([t, t.iloc[[1]]]), "2 rows for one seed .* the same values"),
        (
            lambda t: pd.concat([t, t.iloc[[1]].assign(test_error=0.9)]),
            "2 rows for one seed .* different values",
        ),
    ],
)
def test_the_table_check_gives_one_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        sweep_table.check_table(change(base_table()), ["test_error", "p_test"])


def test_the_table_check_allows_repeats_across_groups():
    table = pd.concat([base_table().assign(sweep="a"), base_table().assign(sweep="b")])
    sweep_table.check_table(table, ["test_error"], ["sweep"])
    with pytest.raises(ValueError, match="rows for one seed"):
        sweep_table.check_table(table, ["test_error"])


def test_illusion_test_refuses_duplicates_and_inf():
    table = loop_table(seeds=(0,))
    with pytest.raises(ValueError, match="rows for one seed"):
        illusion_test(pd.concat([table, table]), measures=["m"], n_perm=0)
    with pytest.raises(ValueError, match="infinite"):
        illusion_test(table.assign(m=np.inf), measures=["m"], n_perm=0)


# -- calibration -------------------------------------------------------------------------


def test_calibration_targets_hold_on_fewer_draws():
    rates = cal.calibrate(n_draws=20, seeds=(3,), noises=(0.01,)).set_index("case")
    # Target 90% right; 20 draws at a true 90% fall below 75% with probability 4%.
    assert (rates["right"] >= 0.75).all(), rates["right"]
    flat = rates.loc["flat noise"]
    assert flat["double descent"] + flat["folds back"] <= 0.1
    assert set(rates.columns) >= set(VERDICTS)


def test_calibration_table_is_markdown_with_one_row_per_setting():
    rates = cal.calibrate(n_draws=2, seeds=(1,), noises=(0.01,), cases=["U", "L"])
    text = cal.markdown(rates)
    lines = text.strip().splitlines()
    assert len(lines) == 2 + 2
    assert lines[0].startswith("| case | expected | seeds | noise | draws | double descent")
    with pytest.raises(ValueError, match="Unknown case"):
        cal.synthetic_table("S", 1, 0.01, np.random.default_rng(0))


def test_a_seed_missing_a_grid_point_still_gets_the_verdict():
    import warnings

    # Seed 1 lacks the fourth point: its pair differences there are missing, not zero.
    table = loop_table(seeds=(0, 1)).drop(index=[3]).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = illusion_test(table, measures=["m"], n_perm=0).iloc[0]
    assert row["verdict"] == "folds back"
