"""Figures of sweep tables: what each figure holds, read back from its artists.

The oracle is the table itself: every line of a figure must carry the seed
means of the rows it stands for, in path order, with the paper's labels; an
error bar spans one standard error of those means, recomputed here with
pandas (sample sd over the square root of the number of seeds); the pooled
smooth is statsmodels' LOWESS called directly with the verdict's span.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from effcomplexity import analysis, plotting

from .test_analysis import SHAPES, one_axis, two_axis


def _lines_with_label(ax, text):
    return [line for line in ax.lines if line.get_label() == text]


def _curves(ax):
    """The drawn curves of an axes (not the data lines of error bars, drawn without style)."""
    return [line for line in ax.lines if line.get_linestyle() not in ("None", "")]


def _bars(ax):
    """Half-lengths of the vertical error bars of an axes, one per bar, in y units."""
    from matplotlib.collections import LineCollection

    segments = [
        s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()
    ]
    return np.array([abs(s[1, 1] - s[0, 1]) / 2 for s in segments])


def _noisy(seeds=(0, 1, 2)):
    """two_axis with independent noise on the error and the measure in every row."""
    table = two_axis(seeds=seeds)
    rng = np.random.default_rng(5)
    table["test_error"] += rng.normal(0.0, 0.01, len(table))
    table["m_down"] *= np.exp(rng.normal(0.0, 0.02, len(table)))
    return table


def test_composite_draws_the_path_by_segment_with_the_switch():
    table = two_axis(seeds=(0, 1))
    fig = plotting.composite(table)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "raw parameters $P$"
    assert ax.get_ylabel() == "test error (0-1)"
    assert ax.get_xscale() == "log"
    first = _lines_with_label(ax, "along $P_{leaf}$")[0]
    second = _lines_with_label(ax, "along $P_{ens}$")[0]
    path = table[table["axis"].notna()].groupby("n_params")["test_error"].mean()
    np.testing.assert_allclose(first.get_xdata(), path.index[:6])
    np.testing.assert_allclose(first.get_ydata(), path.to_numpy()[:6])
    # The second segment starts at the switch point, so the path is drawn whole.
    np.testing.assert_allclose(second.get_xdata(), path.index[5:])
    assert first.get_color() != second.get_color()
    switch = [line for line in ax.lines if line.get_label().startswith("axis switch")]
    assert switch and switch[0].get_xdata()[0] == 64
    threshold = _lines_with_label(ax, "interpolation threshold")
    assert threshold and threshold[0].get_xdata()[0] == 64  # p_train reaches n = 64 there
    assert "(2 seeds)" in ax.get_title()


def test_composite_error_bars_are_one_standard_error_over_seeds():
    table = _noisy()
    (ax,) = plotting.composite(table).axes
    on_path = table[table["axis"].notna()].groupby("n_params")["test_error"]
    se = (on_path.std(ddof=1) / np.sqrt(on_path.count())).to_numpy()
    # One bar per point of each segment; the switch point is drawn by both.
    expected = np.r_[se[:6], se[5:]]
    np.testing.assert_allclose(np.sort(_bars(ax)), np.sort(expected), rtol=1e-9)
    assert "bars: ±1 s.e. over 3 seeds" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert not ax.patches  # no hand-drawn band


def test_one_seed_draws_no_error_bars():
    table = _noisy(seeds=(0,))
    for fig in (
        plotting.composite(table),
        plotting.decomposed(table),
        plotting.measures_along_path(table, ["p_train"]),
        plotting.back_to_u(table, "m_down"),
    ):
        for ax in fig.axes:
            assert _bars(ax).size == 0
            legend = ax.get_legend()
            texts = [t.get_text() for t in legend.get_texts()] if legend else []
            assert not any("s.e." in t for t in texts)


def test_decomposed_has_one_panel_per_axis_and_one_line_per_level():
    table = _noisy()
    fig = plotting.decomposed(table)
    assert [ax.get_xlabel() for ax in fig.axes] == ["$P_{leaf}$", "$P_{ens}$"]
    along_leaf, along_ens = fig.axes
    assert len(_curves(along_leaf)) == 5  # one per P_ens value
    assert len(_curves(along_ens)) == 6  # one per P_leaf value
    first = _curves(along_leaf)[0]
    assert first.get_label() == "$P_{ens}$ = 1"
    means = table[table["P_ens"] == 1].groupby("P_leaf")["test_error"].mean()
    np.testing.assert_allclose(first.get_ydata(), means.to_numpy())
    # A bar at each of the 30 grid points in each panel.
    assert _bars(along_leaf).size == 30 and _bars(along_ens).size == 30


def test_measures_along_path_marks_n():
    table = _noisy()
    fig = plotting.measures_along_path(table, ["p_train", "m_down"])
    assert [ax.get_ylabel() for ax in fig.axes] == [r"$\hat p_{train}$", "m down"]
    assert _lines_with_label(fig.axes[0], "n = 64")
    on_path = table[table["axis"].notna()].groupby("n_params")["m_down"]
    se = (on_path.std(ddof=1) / np.sqrt(on_path.count())).to_numpy()
    np.testing.assert_allclose(np.sort(_bars(fig.axes[1])), np.sort(np.r_[se[:6], se[5:]]))


def _segment_curves(ax):
    return [line for line in _curves(ax) if line.get_label().startswith("along ")]


def test_back_to_u_draws_each_segment_with_its_shape_and_grid():
    table = _noisy()
    fig = plotting.back_to_u(table, "m_down")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "m down"
    shapes = analysis.segments(table, measure="m_down")
    curves = _segment_curves(ax)
    assert len(curves) == len(shapes)
    # Oracle: the seed means of the path, in n_params order, cut as segments() reports.
    path = table[table["axis"].notna()].groupby("n_params")[["m_down", "test_error"]].mean()
    first = 0
    for line, row in zip(curves, shapes.itertuples(), strict=True):
        last = first + row.n_points - 1
        np.testing.assert_allclose(line.get_xdata(), path["m_down"].to_numpy()[first : last + 1])
        np.testing.assert_allclose(
            line.get_ydata(), path["test_error"].to_numpy()[first : last + 1]
        )
        text = line.get_label()
        assert text.startswith(f"along {plotting.label(row.segment)} = ")
        assert f":\nm down {row.measure_direction}" in text
        assert text.endswith(f"error against it {row.error_shape}")
        first = last
    # Along P_ens m_down falls at every step: its curve runs back towards lower complexity.
    along_ens = [c for c in curves if c.get_label().startswith("along $P_{ens}$")]
    assert along_ens and all(np.all(np.diff(c.get_xdata()) < 0) for c in along_ens)
    off = table[table["seed"] == 0]["axis"].isna().sum()
    scatter = [c for c in ax.collections if c.get_label() == "grid off the path"]
    assert scatter[0].get_offsets().shape[0] == off
    # One bar per point of each curve, over 3 seeds.
    assert _bars(ax).size == shapes["n_points"].sum()


def _check_labels(fig, ax):
    """The shown grid labels lie inside the frame and overlap no other."""
    fig.draw_without_rendering()
    labels = [t for t in ax.texts if str(t.get_gid()).startswith("grid-label")]
    shown = [t for t in labels if t.get_visible()]
    boxes = [t.get_window_extent() for t in shown]
    frame = ax.get_window_extent()
    for i, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
    return labels, shown


def test_back_to_u_labels_the_grid_without_overlap():
    table = _noisy()
    fig = plotting.back_to_u(table, "m_down")
    (ax,) = fig.axes
    labels, shown = _check_labels(fig, ax)
    # One label per path point: its value on the raw axis of its segment.
    assert [t.get_text() for t in labels] == ["2", "4", "8", "16", "32", "64", "2", "4", "8", "16"]
    assert {"2", "64", "16"} <= {t.get_text() for t in shown}
    # Placed at each draw: a long title set afterwards squeezes the panel, nothing overlaps.
    ax.set_title("a title\non three\nlines", fontsize=14)
    _check_labels(fig, ax)
    bare = plotting.back_to_u(table, "m_down", grid_labels=False).axes[0]
    assert not [t for t in bare.texts if t.get_gid()]


def test_back_to_u_smooth_is_the_verdicts_lowess_with_its_band():
    from statsmodels.nonparametric.smoothers_lowess import lowess

    from effcomplexity.analysis.smoothing import LACK_OF_FIT_MAX, NOISE_FLOOR

    table = _noisy()
    verdicts = analysis.illusion_test(table, measures=["m_down"], n_perm=0)
    (ax,) = plotting.back_to_u(table, "m_down", verdicts=verdicts, smooth=True).axes
    (line,) = [line for line in ax.lines if line.get_label().startswith("pooled smooth")]
    row = verdicts.iloc[0]
    assert f"lack of fit {row['lack_of_fit']:.1f} sd" in line.get_label()
    path = table[table["axis"].notna()].groupby("n_params")[["m_down", "test_error"]].mean()
    curve = path.groupby("m_down")["test_error"].mean()  # ties in the measure averaged
    x = np.log10(curve.index.to_numpy()) if row["log_x"] else curve.index.to_numpy()
    expected = lowess(curve.to_numpy(), x, frac=row["frac"], it=0, delta=0.0, return_sorted=False)
    np.testing.assert_allclose(line.get_xdata(), curve.index)
    np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-12)
    (band,) = [c for c in ax.collections if c.get_label().startswith("noise band")]
    y = band.get_paths()[0].vertices[:, 1]
    floor = NOISE_FLOOR * np.median(path["test_error"])
    reach = LACK_OF_FIT_MAX * max(row["noise_sd"], floor)
    np.testing.assert_allclose([y.max() - expected.max(), expected.min() - y.min()], reach)
    assert ax.get_title() == f"m down: {row['verdict']}"


def test_verdict_grid_titles_carry_the_verdicts():
    table = one_axis(SHAPES["double descent"], p_test=np.r_[np.arange(1, 9), np.arange(8, 1, -1)])
    fig = plotting.verdict_grid(table, measures=["n_params", "p_test"], n_perm=0)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "raw parameters $P$: double descent"
    assert titles[1].startswith(r"$\hat p_{test}$: ")


def test_given_verdicts_are_used_not_recomputed(monkeypatch):
    table = _noisy()
    verdicts = analysis.illusion_test(table, measures=["n_params", "m_down"], n_perm=0)
    # A verdict no test gives shows that the titles come from the argument.
    verdicts.loc[verdicts["measure"] == "m_down", "verdict"] = "folds back (given)"

    def refuse(*args, **kwargs):
        raise AssertionError("illusion_test must not run when verdicts are given")

    monkeypatch.setattr(analysis, "illusion_test", refuse)
    fig = plotting.verdict_grid(table, ["n_params", "m_down"], verdicts=verdicts, smooth=True)
    assert fig.axes[1].get_title() == "m down: folds back (given)"
    single = plotting.back_to_u(table, "m_down", verdicts=verdicts).axes[0]
    assert single.get_title() == "m down: folds back (given)"
    with pytest.raises(ValueError, match="another error column"):
        plotting.verdict_grid(table, ["m_down"], "train_error", verdicts=verdicts)
    with pytest.raises(ValueError, match="no row for measure 'p_train'"):
        plotting.verdict_grid(table, ["p_train"], verdicts=verdicts)
    raw = verdicts.loc[verdicts["measure"] == "n_params", "verdict"].iloc[0]
    assert (
        f"against raw parameters $P$: {raw}"
        in plotting.composite(table, verdicts=verdicts).axes[0].get_title()
    )
    twice = pd.concat([verdicts.assign(sweep="a"), verdicts.assign(sweep="b")])
    with pytest.raises(ValueError, match="one per group"):
        plotting.back_to_u(table, "m_down", verdicts=twice)


def test_training_curves_twin_axes():
    table = pd.DataFrame(
        {
            "seed": 0,
            "step": [10, 100, 1000, 10000] * 2,
            "weight_decay": [0.0] * 4 + [1.0] * 4,
            "train_error": [0.9, 0.1, 0.0, 0.0] * 2,
            "test_error": [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.05],
            "p_test": [5.0, 50.0, 60.0, 61.0, 5.0, 50.0, 30.0, 10.0],
        }
    )
    fig = plotting.training_curves(table, x="step", by="weight_decay")
    left = [ax for ax in fig.axes if ax.get_ylabel() == "error"]
    right = [ax for ax in fig.axes if ax.get_ylabel() == r"$\hat p_{test}$"]
    assert len(left) == 2 and len(right) == 2
    assert left[1].get_title() == "weight decay = 1"
    np.testing.assert_allclose(right[1].lines[0].get_ydata(), [5.0, 50.0, 30.0, 10.0])
    assert left[0].get_xscale() == "log"
    assert not any(ax.collections for ax in fig.axes)  # one seed: no band


def test_training_curves_band_over_seeds():
    rng = np.random.default_rng(1)
    steps = np.array([10, 100, 1000, 10000])
    table = pd.concat(
        pd.DataFrame(
            {
                "seed": seed,
                "step": steps,
                "train_error": [0.9, 0.1, 0.0, 0.0],
                "test_error": [0.9, 0.8, 0.5, 0.1] + rng.normal(0, 0.02, 4),
                "p_test": [5.0, 50.0, 30.0, 10.0] + rng.normal(0, 1.0, 4),
            }
        )
        for seed in range(3)
    )
    fig = plotting.training_curves(table, x="step")
    left, right = fig.axes
    (band,) = right.collections
    y = band.get_paths()[0].vertices[:, 1]
    grouped = table.groupby("step")["p_test"]
    se = grouped.std(ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(y.max(), (grouped.mean() + se).max())
    texts = [t.get_text() for t in left.get_legend().get_texts()]
    assert texts[-1] == "band: ±1 s.e. over 3 seeds"


def test_summary_has_two_panels_per_sweep(tmp_path):
    a = one_axis(SHAPES["double descent"], p_test=np.linspace(1, 30, 15)).assign(sweep="a")
    b = one_axis(SHAPES["single U"], p_test=np.linspace(1, 30, 15)).assign(sweep="b")
    fig = plotting.summary(pd.concat([a, b]), n_perm=0)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "a: against raw parameters $P$: double descent"
    written = plotting.save(fig, tmp_path / "summary.png", formats=("pdf",))
    assert [p.name for p in written] == ["summary.png", "summary.pdf"]
    assert all(p.stat().st_size > 1000 for p in written)


def test_saved_files_are_byte_identical_across_runs(tmp_path, monkeypatch):
    """Oracle: the bytes of a first save. A save of the same figure on another
    day (SOURCE_DATE_EPOCH one day later) must match it, so regenerated paper
    figures do not change in version control; matplotlib stamps PDFs and SVGs
    with the date and SVGs with random ids unless told otherwise."""
    import hashlib

    fig = plotting.composite(two_axis())
    digests = []
    for day in (0, 1):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1_700_000_000 + 86_400 * day))
        folder = tmp_path / str(day)
        folder.mkdir()
        written = plotting.save(fig, folder / "fig.png", formats=("pdf", "svg"))
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in written])
    assert digests[0] == digests[1]


def test_missing_column_and_missing_folder():
    table = two_axis()
    with pytest.raises(ValueError, match=r"no column\(s\) \['p_test'\]"):
        plotting.back_to_u(table, "p_test")
    with pytest.raises(ValueError, match="does not exist"):
        plotting.save(plotting.composite(table), "/no/such/folder/fig.png")
    with pytest.raises(ValueError, match="no composite path"):
        plotting.composite(table.assign(axis=None))


def test_back_to_u_keeps_grid_points_that_tie_in_the_measure_apart():
    """Along P_ens p_train stays at n = 64: seaborn would pool those points into one."""
    table = _noisy()
    (ax,) = plotting.back_to_u(table, "p_train").axes
    path = table[table["axis"].notna()].groupby("n_params")[["p_train", "test_error"]].mean()
    (flat,) = [c for c in _segment_curves(ax) if c.get_label().startswith("along $P_{ens}$")]
    # The switch point and the four points along P_ens, each with its own mean.
    np.testing.assert_allclose(flat.get_xdata(), 64.0, rtol=1e-9)
    np.testing.assert_allclose(flat.get_ydata(), path["test_error"].to_numpy()[5:], rtol=1e-12)


def test_back_to_u_of_a_path_too_short_to_read_draws_its_axes():
    table = two_axis()
    short = table[table["n_params"].isin([2, 4, 64, 128])]
    (ax,) = plotting.back_to_u(short, "m_down").axes
    labels = [line.get_label() for line in _segment_curves(ax)]
    assert labels == [
        "along $P_{leaf}$ (under 5 points: no shape read)",
        "along $P_{ens}$ (under 5 points: no shape read)",
    ]
