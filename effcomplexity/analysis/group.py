"""One group and one measure: the statistics of the curve and their bootstrap over seeds."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .bootstrap import _bootstrap_draws, _exact_bootstrap, _weighted_quantile
from .curve import _evidence, _peak, _prepare, _stats
from .grid import THRESHOLD_COLUMNS
from .shapes import _quadratic
from .smoothing import _log_x
from .tau import _granulated

_BOOT_STATS = (
    "n_descents",
    "lack_of_fit",
    "fold_back",
    "fold_back_grid",
    "u_r2",
    "tau_error",
    "tau_gap",
    "granulated_tau_error",
    "granulated_tau_gap",
)


def _one_group(
    table: pd.DataFrame,
    measure: str,
    error: str,
    gap_cols: tuple[str, str] | None,
    train_error: str | None,
    options: Mapping,
    rng,
    where: str,
) -> dict:
    columns = list(dict.fromkeys([error, measure, *(gap_cols or ())]))
    extra = [c for c in THRESHOLD_COLUMNS if c in table and c not in columns]
    if train_error is not None and train_error in table and train_error not in columns + extra:
        extra.append(train_error)
    prep = _prepare(table, measure, error, columns, extra, gap_cols, where)
    means, curve, path, gap = prep["means"], prep["curve"], prep["path"], prep["gap"]
    per_seed, n_seeds, log_y = prep["per_seed"], prep["n_seeds"], prep["log_y"]
    noise_sd = prep["noise_sd"]
    shape = {
        "log_x": _log_x(path[measure].to_numpy(float))[1],
        "log_y": log_y,
        "frac": options["frac"],
        "noise_sd": noise_sd,
        "studentize": prep["studentize"],
        "z": options["z"],
        "alpha": options["alpha"],
        "tol": options["tol"],
        "floor": prep["floor"],
        "pieces": prep["pieces"],
        "seed_peaks": prep["seed_peaks"],
        # A fixed tolerance replaces the noise threshold on the path too.
        "y_threshold": prep["y_threshold"] if options["tol"] is None else options["tol"],
    }
    values = {c: means[c].to_numpy(float) for c in columns}
    if gap:
        values[gap] = means[gap].to_numpy(float)
    stats = _stats(curve, values, shape, full=True)
    stats["noise_sd"] = noise_sd
    stats["log_x"], stats["log_error"] = shape["log_x"], log_y
    stats.update(_peak(stats, path, curve.switch, train_error))
    import statsmodels.api  # noqa: F401  (imported once, outside the bootstrap)
    from scipy.stats import kendalltau

    grid_m = values[measure]
    for name, target in (("error", error), ("gap", gap)):
        if target is None:
            stats[f"tau_{name}"] = stats[f"tau_{name}_p"] = float("nan")
            continue
        res = kendalltau(grid_m, values[target])
        stats[f"tau_{name}"], stats[f"tau_{name}_p"] = float(res.statistic), float(res.pvalue)
        stats[f"granulated_tau_{name}"], stats[f"granulated_tau_{name}_p"] = _granulated(
            means, measure, target, n_perm=options["n_perm"], rng=rng
        )
    if gap is None:
        stats["granulated_tau_gap"] = stats["granulated_tau_gap_p"] = float("nan")
    stats["quad_r2"], stats["quad_curvature"] = _quadratic(stats["_gx"], values[error])

    row = {
        "measure": measure,
        "error": error,
        "n_points": len(path),
        "n_grid": len(means),
        "n_seeds": n_seeds,
    }
    row.update({k: v for k, v in stats.items() if not k.startswith("_")})
    row["evidence"] = _evidence(stats, measure, error, n_seeds)
    row["verdict_support"] = float("nan")
    for name in _BOOT_STATS:
        row[f"{name}_lo"] = row[f"{name}_hi"] = float("nan")
    if n_seeds == 1:
        row["uncertainty"] = "one seed: statistics without intervals"
        return row

    # A replicate's means carry the sampling noise twice (the data's, then the resample's),
    # so its moves are judged against sqrt(2) sigma.
    fixed = {
        **shape,
        "frac": stats["frac"],
        "z": stats["z"],
        "noise_sd": np.sqrt(2) * noise_sd,
        "y_threshold": np.sqrt(2) * shape["y_threshold"],
    }
    counts, weights = _bootstrap_draws(n_seeds, options["n_boot"], rng)
    boot = {name: [] for name in _BOOT_STATS}
    verdicts = []
    present = ~np.isnan(per_seed)
    for c in counts:
        w = c[:, None, None] * present
        with np.errstate(invalid="ignore"):
            sample = np.nansum(per_seed * c[:, None, None], axis=0) / w.sum(axis=0)
        replicate = {col: sample[:, j] for j, col in enumerate(columns)}
        if gap:
            replicate[gap] = replicate[gap_cols[0]] - replicate[gap_cols[1]]
        s = _stats(curve, replicate, fixed, full=False)
        verdicts.append(s["verdict"])
        for name in _BOOT_STATS:
            boot[name].append(s[name])
    alpha = (1 - options["level"]) / 2
    for name in _BOOT_STATS:
        vals = np.asarray(boot[name], dtype=float)
        row[f"{name}_lo"] = _weighted_quantile(vals, weights, alpha)
        row[f"{name}_hi"] = _weighted_quantile(vals, weights, 1 - alpha)
    support = float(np.sum(weights[np.asarray(verdicts) == row["verdict"]]))
    row["verdict_support"] = support
    exact = _exact_bootstrap(n_seeds, options["n_boot"])
    row["uncertainty"] = (
        f"bootstrap over {n_seeds} seeds ("
        + ("all resamples, exact" if exact else f"{len(counts)} resamples")
        + ")"
    )
    if support < options["level"]:
        row["evidence"] += (
            f" Only {support:.0%} of bootstrap resamples of the seeds agree on "
            f"'{row['verdict']}' (needs {options['level']:.0%}), so the verdict is withheld."
        )
        row["verdict"] = "inconclusive"
    return row
