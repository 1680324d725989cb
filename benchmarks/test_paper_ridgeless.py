"""The paper's ridgeless figure: min-norm least squares against its closed-form risk.

Set-up (the library sweep ``ridgeless_theory``): isotropic Gaussian features
``x ~ N(0, I_p)``, ``y = x^T beta + eps`` with ``||beta|| = 2`` and noise
``sigma = 1``, a fresh draw of data and coefficients per seed (Monte Carlo
replicates), min-norm least squares on all ``p`` features. Quick: ``n = 100``,
40 seeds, ``p`` in {25, ..., 400}; ``--full``: ``n = 400``, 100 seeds,
18 values of ``p`` from 40 to 4,000.

The simulated risk of each replicate is exact given the fitted coefficients,
``E[(y - x^T b)^2] = ||beta - b||^2 + sigma^2``; the figure shows its Monte
Carlo mean with 95% error bars against the finite-n formula of Belkin, Hsu and
Xu (2020) and the asymptotic curve of Hastie, Montanari, Rosset and Tibshirani
(2022), both computed below from their closed forms (an oracle independent of
the package's own columns, which the test also checks against them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _paper import run_sweep, save_figure, write_table
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter
from scipy import stats

from effcomplexity import plotting, sweeps

SPEC = sweeps.get_spec("ridgeless_theory")
#: Family-wise chance that a correct theory fails the Monte Carlo check anywhere on the grid.
FAMILY_ALPHA = 0.01
#: Half-width of the drawn error bars in standard errors (a 95% normal interval).
ERROR_BAR = 1.96


def finite_n_risk(p, n, signal_sq, noise_sq):
    """Belkin, Hsu & Xu (2020), Gaussian design, all features used (nan where undefined)."""
    p = np.asarray(p, dtype=float)
    under = noise_sq * (1 + p / (n - p - 1))
    over = signal_sq * (1 - n / p) + noise_sq * (1 + n / (p - n - 1))
    return np.where(p <= n - 2, under, np.where(p >= n + 2, over, np.nan))


def asymptotic_risk(gamma, signal_sq, noise_sq):
    """Hastie et al. (2022) limit of the excess risk, plus the noise floor sigma^2."""
    gamma = np.asarray(gamma, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = noise_sq + noise_sq * gamma / (1 - gamma)
        over = noise_sq + signal_sq * (1 - 1 / gamma) + noise_sq / (gamma - 1)
    return np.where(gamma < 1, under, np.where(gamma > 1, over, np.nan))


def monte_carlo(df: pd.DataFrame) -> pd.DataFrame:
    """Mean simulated risk per p, its standard error over seeds, and the two theories."""
    n = int(df["n_train"].iloc[0])
    noise_sq = SPEC.dataset_kwargs["noise"] ** 2
    signal_sq = SPEC.dataset_kwargs["signal"] ** 2
    g = df.groupby("n_features", sort=True)
    table = pd.DataFrame(
        {
            "p": g["n_features"].first(),
            "gamma": g["gamma"].first(),
            "seeds": g["risk"].count(),
            "risk_mean": g["risk"].mean(),
            "risk_se": g["risk"].std(ddof=1) / np.sqrt(g["risk"].count()),
        }
    ).reset_index(drop=True)
    table["risk_finite_n"] = finite_n_risk(table["p"], n, signal_sq, noise_sq)
    table["risk_asymptotic"] = asymptotic_risk(table["gamma"], signal_sq, noise_sq)
    table["z"] = (table["risk_mean"] - table["risk_finite_n"]) / table["risk_se"]
    table.insert(0, "n", n)
    return table, signal_sq, noise_sq


def test_ridgeless_theory_against_simulation(full):
    df = run_sweep(SPEC, full)
    table, signal_sq, noise_sq = monte_carlo(df)
    n = int(table["n"].iloc[0])
    n_seeds = int(table["seeds"].min())

    # The package's closed-form columns are the formulas above, to rounding.
    package = df.groupby("n_features", sort=True)[["risk_finite_n", "risk_asymptotic"]].first()
    np.testing.assert_allclose(package["risk_finite_n"], table["risk_finite_n"], rtol=1e-12)
    np.testing.assert_allclose(package["risk_asymptotic"], table["risk_asymptotic"], rtol=1e-12)

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.grid(True, color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    # Dense theory curves with a gap at gamma = 1, where both diverge.
    below = np.linspace(0.8 * table["gamma"].min(), (n - 2) / n, 200)
    above = np.geomspace((n + 2) / n, table["gamma"].max() * 1.2, 200)
    gamma = np.concatenate([below, [np.nan], above])
    ax.plot(
        gamma,
        finite_n_risk(gamma * n, n, signal_sq, noise_sq),
        color=plotting.COLORS[0],
        linewidth=2,
        label=f"finite-n theory (n = {n})",
    )
    ax.plot(
        gamma,
        asymptotic_risk(gamma, signal_sq, noise_sq),
        color=plotting.COLORS[2],
        linestyle="--",
        linewidth=1.5,
        label=r"asymptotic theory ($n, p \to \infty$)",
    )
    ax.errorbar(
        table["gamma"],
        table["risk_mean"],
        yerr=ERROR_BAR * table["risk_se"],
        fmt="o",
        color=plotting.COLORS[1],
        markersize=5,
        capsize=3,
        label=f"simulation: mean ± {ERROR_BAR:g} SE over {n_seeds} seeds",
        zorder=4,
    )
    ax.axvline(1.0, color="#2CA02C", linestyle=":", linewidth=1.5, label="interpolation threshold")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Plain tick labels on both log axes (the default minor labels overlap).
    for axis, ticks in ((ax.xaxis, (0.1, 0.25, 0.5, 1, 2, 4, 10)), (ax.yaxis, (1, 2, 5, 10, 20))):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.8 * table["gamma"].min(), 1.2 * table["gamma"].max())
    ax.set_ylim(0.8 * noise_sq, 3 * table["risk_mean"].max())
    ax.set_xlabel(r"$\gamma = p / n$")
    ax.set_ylabel(r"risk $E(y - x^\top\hat\beta)^2$")
    ax.set_title(
        rf"Ridgeless least squares, Gaussian features ($\Vert\beta\Vert^2$ = {signal_sq:g}, "
        rf"$\sigma^2$ = {noise_sq:g})",
        fontsize=10,
    )
    ax.legend(fontsize=8, framealpha=0.85, edgecolor="none")
    save_figure(fig, "ridgeless_theory", table)

    # Theory within Monte Carlo error: each mean is within z* standard errors of the
    # finite-n formula, z* the Bonferroni two-sided normal quantile that keeps the chance
    # of a false failure anywhere on the grid at FAMILY_ALPHA (the CLT over the seeds).
    z_star = stats.norm.ppf(1 - FAMILY_ALPHA / (2 * len(table)))
    worst = table.loc[table["z"].abs().idxmax()]
    write_table(
        "ridgeless",
        table.assign(
            p=table["p"].astype(int),
            seeds=table["seeds"].astype(int),
            n=table["n"].astype(int),
        ).rename(
            columns={
                "risk_mean": "simulated risk",
                "risk_se": "MC standard error",
                "risk_finite_n": "finite-n theory",
                "risk_asymptotic": "asymptotic theory",
                "z": "z = (sim - theory) / SE",
            }
        ),
    )
    write_table(
        "ridgeless_summary",
        pd.DataFrame(
            {
                "n": [n],
                "seeds": [n_seeds],
                "grid points": [len(table)],
                "largest abs z": [abs(float(worst["z"]))],
                "at gamma": [float(worst["gamma"])],
                "Bonferroni z*": [float(z_star)],
                "error bars (SE)": [ERROR_BAR],
                "signal norm squared": [signal_sq],
                "noise variance": [noise_sq],
            }
        ),
    )
    assert (table["z"].abs() <= z_star).all(), table[["p", "risk_mean", "risk_finite_n", "z"]]
    # The curve peaks at the threshold: the two grid points nearest gamma = 1 (one on each
    # side) carry the largest simulated risks of their side.
    under, over = table[table["gamma"] < 1], table[table["gamma"] > 1]
    assert under["risk_mean"].idxmax() == under.index[-1]
    assert over["risk_mean"].idxmax() == over.index[0]
