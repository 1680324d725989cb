"""Figures of sweep tables: what each figure holds, read back from its artists.

The oracle is the table itself: every line of a figure must carry the seed
means of the rows it stands for, in path order, with the paper's labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from effcomplexity import plotting

from .test_analysis import SHAPES, one_axis, two_axis


def _lines_with_label(ax, text):
    return [line for line in ax.lines if line.get_label() == text]


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
    assert ax.collections  # the seed band


def test_decomposed_has_one_panel_per_axis_and_one_line_per_level():
    fig = plotting.decomposed(two_axis())
    assert [ax.get_xlabel() for ax in fig.axes] == ["$P_{leaf}$", "$P_{ens}$"]
    along_leaf, along_ens = fig.axes
    assert len(along_leaf.lines) == 5  # one per P_ens value
    assert len(along_ens.lines) == 6  # one per P_leaf value
    labels = [line.get_label() for line in along_leaf.lines]
    assert labels[0] == "$P_{ens}$ = 1"


def test_measures_along_path_marks_n():
    table = two_axis()
    fig = plotting.measures_along_path(table, ["p_train", "m_down"])
    assert [ax.get_ylabel() for ax in fig.axes] == [r"$\hat p_{train}$", "m down"]
    assert _lines_with_label(fig.axes[0], "n = 64")


def test_back_to_u_puts_the_measure_on_x_and_greys_the_grid():
    table = two_axis()
    fig = plotting.back_to_u(table, "m_down")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "m down"
    second = _lines_with_label(ax, "along $P_{ens}$")[0]
    # Along P_ens m_down falls at every step: the line runs back towards lower complexity.
    assert np.all(np.diff(second.get_xdata()) < 0)
    off = table["axis"].isna().sum()
    assert ax.collections[0].get_offsets().shape[0] == off


def test_verdict_grid_titles_carry_the_verdicts():
    table = one_axis(SHAPES["double descent"], p_test=np.r_[np.arange(1, 9), np.arange(8, 1, -1)])
    fig = plotting.verdict_grid(table, measures=["n_params", "p_test"], n_perm=0)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "raw parameters $P$: double descent"
    assert titles[1].startswith(r"$\hat p_{test}$: ")


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
