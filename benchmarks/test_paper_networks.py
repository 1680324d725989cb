"""The paper's network figures: MNIST-1D deep double descent and grokking.

Each test runs (or reuses, within one session) the library sweep it needs
through ``_paper.run_sweep``, writes ``paper/figures/NAME.png``, ``.pdf`` and
``.csv`` and a table of the numbers the paper quotes, and asserts the claim
the figure illustrates:

* ``mnist1d_width``: the highest interior peak of test error against raw
  parameters lies at the interpolation threshold (the first width whose
  training error reaches zero), give or take one grid step, and the error
  at the largest width is below it (Nakkiran et al. 2020; Greydanus 2020);
  every network measure gets its panel and its ``illusion_test`` verdict.
* ``mnist1d_epochs``: epoch-wise curves at the critical width, the grid width
  nearest the published peak (47-61).
* ``grokking``: modular addition learnt by Gromov's quadratic MLP with
  full-batch AdamW at weight decay 16, a set-up of its own (not one of
  Jeffares et al.'s 2024 grokking case studies, which are polynomial
  regression and MNIST at a large initialisation). Test accuracy passes 90%
  long after training accuracy passes 99% (Power et al. 2022; Gromov 2023),
  the telescoping tracker follows the network across the transition, and
  there the telescoping ``p_test`` *rises* as the network groks while the
  ratio ``p_test / p_train`` falls from its maximum after the fit. The
  figure draws ``p_train``, ``p_test`` and their ratio with bands of one
  standard error over the seeds; the table gives them, with those standard
  errors, at the fit, at grokking and at the end. The weight norm at both
  moments is tabulated: the published fall of the norm is a claim the table
  reports, not one this budget reproduces.
* ``grokking_no_wd``: without weight decay test accuracy stays low.

The telescoping tracker reports ``p_train`` and ``p_test`` only while its
predictions follow the network's (``telescoping != "diverged"``); the figures
draw whatever rows are tracked and the claims about ``p_test`` are checked
only there. The spec names are module constants so a tracked variant of a
sweep can take their place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _paper import SETTINGS, run_sweep, save_figure, write_table

from effcomplexity import analysis, plotting
from effcomplexity.sweeps import get_spec

WIDTH = "mnist1d_width"
EPOCHS = "mnist1d_epochs"
GROKKING = "grokking"
GROKKING_NO_WD = "grokking_no_wd"

#: Published critical width of the MNIST-1D MLP (Greydanus 2020): the peak at w = 47-61.
PUBLISHED_PEAK_WIDTHS = (47, 61)

#: The network measures of the width figure, in panel order: raw count, weight norms,
#: margin, sharpness and PAC-Bayes, Hessian effective dimensionality, LLC, telescoping.
NETWORK_MEASURES = (
    "n_params",
    "param_norm",
    "fro_dist",
    "log_prod_spec",
    "log_sum_fro",
    "path_norm",
    "spectral_complexity",
    "inverse_margin",
    "log_prod_spec_over_margin",
    "pacbayes_flatness",
    "pacbayes_mag_flatness",
    "n_eff",
    "llc",
    "p_test",
)
#: Grokking thresholds: "fits the training pairs" and "generalises".
TRAIN_FIT, TEST_FIT = 0.99, 0.90


def _means(df: pd.DataFrame, by: str | list, columns) -> pd.DataFrame:
    columns = [c for c in columns if c in df]
    return df.groupby(by, sort=True)[columns].mean().reset_index()


def _usable(df: pd.DataFrame, measure: str, along: str | None = None) -> bool:
    """A measure the figure can plot: present, and finite on enough points.

    With ``along``, the points are that column's values (with several seeds, a
    measure finite at three widths has nine values but only three points).
    """
    if measure not in df:
        return False
    finite = df[np.isfinite(df[measure].astype(float))]
    if along is not None:
        return finite[along].nunique() >= analysis.MIN_POINTS
    return finite[measure].nunique() >= analysis.MIN_POINTS


def _verdicts(df: pd.DataFrame, measures, error: str = "test_error") -> pd.DataFrame:
    """``illusion_test`` per measure, on the rows where that measure is finite."""
    rows = []
    for measure in measures:
        finite = df[np.isfinite(df[measure].astype(float))]
        rows.append(analysis.illusion_test(finite, error=error, measures=[measure]))
    return pd.concat(rows, ignore_index=True)


def _interior_peak(y: np.ndarray) -> int:
    """Position of the highest interior local maximum of ``y`` (the second-descent peak)."""
    inner = [i for i in range(1, len(y) - 1) if y[i] >= y[i - 1] and y[i] >= y[i + 1]]
    assert inner, f"the test error has no interior peak: {y}"
    return max(inner, key=lambda i: y[i])


def _first(x: pd.Series, hit: pd.Series):
    """First value of ``x`` where ``hit`` holds (NaN when never)."""
    where = np.flatnonzero(hit.to_numpy())
    return x.iloc[where[0]] if where.size else np.nan


def _write_claims(name: str, columns: dict[str, dict]) -> None:
    """A narrow table of the quoted numbers: one row per quantity, one column per run."""
    table = pd.DataFrame(columns).rename_axis("quantity").reset_index()
    write_table(name, table, floatfmt=".4g")


def _seeds(df: pd.DataFrame) -> str:
    return ", ".join(str(s) for s in sorted(df["seed"].unique()))


def _spread(fig) -> None:
    """Room between panels for each twin axis' label and the next panel's."""
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        engine.set(wspace=0.12)
    fig.set_figwidth(fig.get_figwidth() * 1.1)


def _tidy_grid(fig) -> None:
    """One legend (the first panel's), and no minor tick labels crowding short log axes."""
    from matplotlib.ticker import NullFormatter

    for k, ax in enumerate(fig.axes):
        if ax.get_xscale() == "log":
            ax.xaxis.set_minor_formatter(NullFormatter())
        if k and ax.get_legend() is not None:
            ax.get_legend().remove()


def _binomial_se(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Binomial standard error of the seed-mean test error, per value of ``by``.

    Each seed's error is a proportion of ``n_test`` independent test points, with
    variance ``e (1 - e) / n_test``; the mean of S seeds has the mean of those over S.
    """
    var = df["test_error"] * (1 - df["test_error"]) / df["n_test"]
    out = var.groupby(df[by]).mean() / df.groupby(by)["seed"].nunique()
    se = np.sqrt(out).rename("test_error_se").reset_index()
    return se.assign(n_test=df.groupby(by)["n_test"].first().to_numpy())


def _binomial_bars(ax, means: pd.DataFrame) -> None:
    """Black bars of one binomial standard error on the seed-mean test error.

    Drawn a little to the right of each point (the axis is logarithmic), beside
    the seaborn bars of the spread over seeds, and added to the figure's legend.
    """
    old = ax.get_legend()
    handles = list(old.legend_handles) if old is not None else []
    labels = [t.get_text() for t in old.get_texts()] if old is not None else []
    bars = ax.errorbar(
        means["n_params"] * 1.08,
        means["test_error"],
        yerr=means["test_error_se"],
        fmt="none",
        ecolor="black",
        elinewidth=1.0,
        capsize=2.5,
        zorder=4,
    )
    text = f"black: ±1 binomial s.e. (n_test = {int(means['n_test'].iloc[0]):,})"
    ax.legend(
        [*handles, bars],
        [*labels, text],
        fontsize=8,
        frameon=True,
        framealpha=0.85,
        edgecolor="none",
    )


def _jobs(full: bool) -> dict:
    """Two processes for a quick MNIST-1D sweep (its units are many and small, and the
    machine has two cores), unless the session chose a scheduler or its own jobs."""
    if full or SETTINGS.get("scheduler") or SETTINGS.get("n_jobs", 1) != 1:
        return {}
    return {"n_jobs": 2}


def _run(full: bool) -> str:
    return "full run" if full else "quick run"


# -- MNIST-1D ----------------------------------------------------------------------------


def test_mnist1d_width(full):
    """Model-wise double descent on MNIST-1D, against raw parameters and every measure."""
    df = run_sweep(WIDTH, full, **_jobs(full))
    means = _means(df, "width", ["train_error", "test_error", *NETWORK_MEASURES])
    means = means.merge(_binomial_se(df, "width"), on="width")
    threshold = _first(means["width"], means["train_error"] <= 1e-12)
    peak = means.loc[_interior_peak(means["test_error"].to_numpy())]
    widths = list(means["width"])

    # The width sweep records one epoch, so its path is the width axis alone: the family's
    # epoch leg is a single point, which would draw an empty legend entry and a switch line.
    drawn = df.assign(axis="width") if df["epoch"].nunique() == 1 else df
    fig = plotting.composite(
        drawn,
        "test_error",
        title=f"MNIST-1D MLP, seeds {_seeds(df)}: test error against raw parameters",
    )
    _binomial_bars(fig.axes[0], means)
    save_figure(fig, "mnist1d_width", drawn)

    measures = [m for m in NETWORK_MEASURES if _usable(df, m, along="width")]
    verdicts = _verdicts(df, measures)
    fig = plotting.verdict_grid(
        drawn,
        measures,
        verdicts=verdicts,
        ncols=4,
        title=f"MNIST-1D MLP, seeds {_seeds(df)}: test error against each network measure",
    )
    _tidy_grid(fig)
    save_figure(fig, "mnist1d_width_measures", drawn)

    table = means[
        ["width", "n_params", "train_error", "test_error", "test_error_se", "path_norm"]
        + [
            m
            for m in ("param_norm", "inverse_margin", "pacbayes_flatness", "n_eff", "llc", "p_test")
            if m in means and means[m].notna().any()
        ]
    ]
    write_table("mnist1d_width", table)
    write_table(
        "mnist1d_width_verdicts",
        verdicts[["measure", "verdict", "n_descents", "peak_location", "tau_error", "u_r2"]],
    )
    _write_claims(
        "mnist1d_width_claims",
        {
            _run(full): {
                "seeds": _seeds(df),
                "widths": len(widths),
                "interpolation threshold (width)": threshold,
                "peak width": peak["width"],
                "peak test error": peak["test_error"],
                "test error at smallest width": means["test_error"].iloc[0],
                "test error at largest width": means["test_error"].iloc[-1],
                "min test error before peak": means.loc[
                    means["width"] < peak["width"], "test_error"
                ].min(),
            }
        },
    )

    # The claim: the peak sits at the interpolation threshold, give or take one grid step,
    # and the error falls again beyond it.
    assert np.isfinite(threshold), "no width interpolates the training labels"
    assert abs(widths.index(peak["width"]) - widths.index(threshold)) <= 1, (peak, threshold)
    assert means["test_error"].iloc[-1] < peak["test_error"]


def test_mnist1d_epochs(full):
    """Epoch-wise curves at the critical width, with the network measures on twin axes."""
    df = run_sweep(EPOCHS, full, **_jobs(full))
    widths = np.array(sorted(df["width"].unique()))
    critical = int(widths[np.argmin(np.abs(np.log(widths / np.mean(PUBLISHED_PEAK_WIDTHS))))])
    part = df[df["width"] == critical]
    measures = [m for m in ("param_norm", "n_eff", "llc", "p_test") if _usable(part, m)]
    fig = plotting.training_curves(
        part,
        x="epoch",
        measures=measures,
        title=f"MNIST-1D MLP at the critical width w = {critical}, seeds {_seeds(df)}: "
        "epoch-wise curves",
    )
    _spread(fig)
    save_figure(fig, "mnist1d_epochs", df)
    means = _means(df, ["width", "epoch"], ["train_error", "test_error", *measures])
    write_table("mnist1d_epochs", means)

    curve = means[means["width"] == critical].sort_values("epoch")
    best = curve.loc[curve["test_error"].idxmin()]
    _write_claims(
        "mnist1d_epochs_claims",
        {
            _run(full): {
                "seeds": _seeds(df),
                "critical width": critical,
                "epochs": int(curve["epoch"].max()),
                "best epoch": best["epoch"],
                "best test error": best["test_error"],
                "final test error": curve["test_error"].iloc[-1],
                "final train error": curve["train_error"].iloc[-1],
            }
        },
    )
    # The first half of an epoch-wise double descent at the critical width: while the
    # training error keeps falling (the fit memorises the noisy labels), the test error
    # passes its minimum before the end of training and rises again.
    assert curve["train_error"].iloc[-1] < curve["train_error"].iloc[1]
    assert best["epoch"] < curve["epoch"].max(), curve
    assert curve["test_error"].iloc[-1] > best["test_error"], curve


# -- grokking ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grokking_runs(full):
    """Both grokking sweeps, run side by side (each is one long unit on one core)."""
    from joblib import Parallel, delayed

    names = (GROKKING, GROKKING_NO_WD)
    Parallel(n_jobs=len(names))(delayed(run_sweep)(name, full) for name in names)
    return {name: run_sweep(name, full) for name in names}


def _tracked(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose telescoping p_test follows the network."""
    if "p_test" not in df:
        return df.iloc[0:0]
    ok = df["p_test"].notna()
    if "telescoping" in df:
        ok &= df["telescoping"].astype(str) != "diverged"
    return df[ok]


#: The ratio of the two telescoping counts, a column of the grokking tables.
RATIO = "p_test / p_train"


def _with_ratio(df: pd.DataFrame) -> pd.DataFrame:
    """The table with ``p_test / p_train`` per row (missing where untracked or at step 0)."""
    if "p_test" not in df:
        return df
    ratio = (df["p_test"] / df["p_train"]).replace([np.inf, -np.inf], np.nan)
    return df.assign(**{RATIO: ratio})


def _modulus(full: bool) -> int:
    return int(get_spec(GROKKING).sized(quick=not full).resolved_model_kwargs()["modulus"])


def _grokking_numbers(df: pd.DataFrame) -> dict:
    curve = _means(df, "step", ["train_error", "test_error", "param_norm"])
    train_acc, test_acc = 1 - curve["train_error"], 1 - curve["test_error"]
    return {
        "weight decay": float(df["weight_decay"].iloc[0]),
        "training fraction": float(df["train_fraction"].iloc[0]),
        "seeds": _seeds(df),
        "steps": int(curve["step"].max()),
        "train acc > 99% at step": _first(curve["step"], train_acc > TRAIN_FIT),
        "test acc > 90% at step": _first(curve["step"], test_acc > TEST_FIT),
        "final train acc": train_acc.iloc[-1],
        "final test acc": test_acc.iloc[-1],
        "max test acc": test_acc.max(),
        "weight norm at train fit": _first(curve["param_norm"], train_acc > TRAIN_FIT),
        "weight norm at test fit": _first(curve["param_norm"], test_acc > TEST_FIT),
        "max weight norm": curve["param_norm"].max(),
        "final weight norm": curve["param_norm"].iloc[-1],
        "tracked p_test rows": len(_tracked(df)),
        "last tracked step": _tracked(df)["step"].max() if len(_tracked(df)) else np.nan,
        **_p_hat_at_fits(df, curve, train_acc, test_acc),
    }


def _p_hat_at_fits(df, curve, train_acc, test_acc) -> dict:
    """Telescoping p_train, p_test and their ratio at the fit, at grokking and at the end.

    Each is the mean over seeds with its standard error over seeds (the ratio is
    taken per seed first, so the pairing of p_test with its own p_train is kept).
    """
    tracked = _with_ratio(_tracked(df))
    columns = ["p_train", "p_test", RATIO]
    by_step = tracked.groupby("step")[columns] if len(tracked) else None
    mean = by_step.mean() if by_step is not None else pd.DataFrame(columns=columns)
    se = by_step.sem() if by_step is not None else pd.DataFrame(columns=columns)
    out = {}
    steps = {
        "train fit": _first(curve["step"], train_acc > TRAIN_FIT),
        "test fit": _first(curve["step"], test_acc > TEST_FIT),
        "end": curve["step"].max(),
    }
    for label, step in steps.items():
        ok = np.isfinite(step) and step in mean.index
        for column in columns:
            out[f"{column} at {label}"] = mean.loc[step, column] if ok else np.nan
            out[f"{column} at {label} (se)"] = se.loc[step, column] if ok else np.nan
    fit = steps["train fit"]
    after = mean[mean.index >= fit][RATIO] if np.isfinite(fit) else pd.Series(dtype=float)
    peak = after.idxmax() if len(after) else np.nan
    out[f"max {RATIO} after train fit"] = after.max() if len(after) else np.nan
    out[f"max {RATIO} after train fit (se)"] = se.loc[peak, RATIO] if len(after) else np.nan
    out["step of that max"] = peak
    return out


def test_grokking(full, grokking_runs):
    """Train and test accuracy against steps, with the weight norm and telescoping p."""
    df = grokking_runs[GROKKING]
    if full:  # the figure shows the quick run's setting: the largest weight decay, 20% of pairs
        df = df[(df["weight_decay"] == df["weight_decay"].max()) & (df["train_fraction"] == 0.2)]
    drawn = _with_ratio(df)
    # The weight norm is tabulated (and drawn in the control's figure): three panels read
    # at the paper's width where four do not.
    measures = ["p_train", "p_test", RATIO] if "p_test" in df else ["param_norm"]
    fig = plotting.training_curves(
        drawn,
        x="step",
        measures=measures,
        title=f"(a + b) mod {_modulus(full)}, quadratic MLP, AdamW weight decay "
        f"{df['weight_decay'].iloc[0]:g}, {df['train_fraction'].iloc[0]:.0%} of the pairs, "
        f"seeds {_seeds(df)}",
    )
    save_figure(fig, "grokking", drawn)
    numbers = _grokking_numbers(df)
    _write_claims("grokking", {_run(full): numbers})

    t_train, t_test = numbers["train acc > 99% at step"], numbers["test acc > 90% at step"]
    # The grokking delay: generalisation comes long after the fit.
    assert np.isfinite(t_train) and np.isfinite(t_test), numbers
    assert t_test >= 4 * max(t_train, 1), numbers
    # The published weight-norm claim (the norm falls as the network groks) is reported in
    # the table, not asserted: on this budget the norm still grows (see the paper).
    # Ours to check: the telescoping model follows the network through grokking (every
    # row from the fit to the end is tracked), so p_test can be read across it.
    tracked = _tracked(df)
    assert set(curve_steps(df, t_train)) <= set(tracked["step"]), tracked["step"].tolist()
    # What we find in this set-up (the paper reports it beside Jeffares et al.): p_test does
    # not fall as the network groks, it rises, by more than two standard errors over seeds
    # at each stage; the ratio p_test / p_train falls from its maximum after the fit by more
    # than two standard errors.
    for start, stop in (("train fit", "test fit"), ("test fit", "end")):
        rise = numbers[f"p_test at {stop}"] - numbers[f"p_test at {start}"]
        noise = np.hypot(numbers[f"p_test at {stop} (se)"], numbers[f"p_test at {start} (se)"])
        assert rise > 2 * noise, numbers
    fall = numbers[f"max {RATIO} after train fit"] - numbers[f"{RATIO} at end"]
    noise = np.hypot(numbers[f"max {RATIO} after train fit (se)"], numbers[f"{RATIO} at end (se)"])
    assert fall > 2 * noise, numbers


def curve_steps(df: pd.DataFrame, start) -> list:
    """Recorded steps from ``start`` to the end."""
    return sorted(step for step in df["step"].unique() if step >= start)


def test_grokking_no_weight_decay(full, grokking_runs):
    """The control: the same network and budget without weight decay does not grok."""
    control = grokking_runs[GROKKING_NO_WD]
    grok = grokking_runs[GROKKING]
    # The grokking run at the control's training fraction, with its largest weight decay.
    fraction = control["train_fraction"].iloc[0]
    grok = grok[
        (grok["weight_decay"] == grok["weight_decay"].max()) & (grok["train_fraction"] == fraction)
    ]
    both = _with_ratio(pd.concat([grok, control], ignore_index=True))
    fig = plotting.training_curves(
        both,
        x="step",
        measures=["param_norm", *(["p_test", RATIO] if "p_test" in both else [])],
        by="weight_decay",
        title=f"(a + b) mod {_modulus(full)} without and with weight decay, "
        f"seeds {_seeds(control)}",
    )
    save_figure(fig, "grokking_no_wd", both)
    numbers = _grokking_numbers(control)
    _write_claims(
        "grokking_no_wd",
        {"without weight decay": numbers, "with weight decay": _grokking_numbers(grok)},
    )
    # It fits the training pairs, and test accuracy stays low.
    assert numbers["final train acc"] > TRAIN_FIT, numbers
    assert numbers["max test acc"] < 0.5, numbers


# -- MNIST-1D at the published size, from the committed store ---------------------------

#: Test error (%) per width of the MNIST-1D notebook's stored output (one unseeded run,
#: 500 epochs, 15% label noise, 12,000 test series).
PUBLISHED_MNIST1D = {
    2: 69.59, 3: 67.50, 4: 62.55, 5: 57.45, 7: 54.80, 9: 48.97, 12: 50.28, 16: 47.24,
    21: 50.84, 27: 50.69, 36: 52.80, 47: 54.05, 61: 54.02, 80: 52.08, 104: 50.23,
    135: 48.39, 177: 47.88, 230: 46.54, 300: 45.47,
}  # fmt: skip


def test_mnist1d_width_published_size():
    """The full-size width sweep read from ``paper/runs/full``, beside the published errors.

    Never trains: the store holds the units ``benchmarks/full_run.py --only
    mnist1d_width`` finished; the test skips until every seed is complete.
    """
    from _paper import FULL_RUNS

    path = FULL_RUNS / f"{WIDTH}_full.csv"
    if not path.exists():
        pytest.skip(f"{WIDTH} at full size is not yet in {FULL_RUNS}")
    df = pd.read_csv(path)
    spec = get_spec(WIDTH).sized(quick=False)
    by_width = df.groupby("width")
    table = pd.DataFrame(
        {
            "train error": by_width["train_error"].mean(),
            "test error": by_width["test_error"].mean(),
            # Standard error over the seeds, and one binomial error of a single run.
            "SE over seeds": by_width["test_error"].std() / np.sqrt(by_width["seed"].nunique()),
            "binomial SE": np.sqrt(
                by_width["test_error"].mean() * (1 - by_width["test_error"].mean()) / spec.n_test
            ),
            "published": pd.Series(PUBLISHED_MNIST1D) / 100,
        }
    )
    assert sorted(df["seed"].unique()) == list(spec.seeds)
    assert list(table.index) == sorted(PUBLISHED_MNIST1D)
    table["difference"] = table["test error"] - table["published"]
    write_table(
        "mnist1d_width_published",
        table.rename_axis("width").reset_index(),
        floatfmt=".4f",
    )
    # The claims: an interior peak in 47-61 above the valley before it and the widest
    # network, each by more than two standard errors of the difference.
    err, se = table["test error"], table["SE over seeds"]
    peak = int(err.loc[20:100].idxmax())
    valley = int(err.loc[:peak].idxmin())
    assert peak in PUBLISHED_PEAK_WIDTHS, table
    for other in (valley, max(PUBLISHED_MNIST1D)):
        z = (err[peak] - err[other]) / np.hypot(se[peak], se[other])
        assert z > 2, (peak, other, z)
