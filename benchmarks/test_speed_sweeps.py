"""Wall time of the Curth et al. forest and boosting sweeps, against the dense baseline.

The package runs every unit of the effective-parameter grid (one staged fit
per unit) with 1 and 2 jobs. The baseline is the published algorithm, written
plainly here: one dense n x n leaf-equality matrix per tree for forests, and
for boosting the dense recursion S_m = S_{m-1} + lr L_m (I - S_{m-1}) corrected
leaf by leaf. The baseline is too slow to run on the whole grid, so it runs on
a sample of units and its total is extrapolated; the record says which units
were measured and how the rest was extrapolated.

Quick by default (n = 1,000 training images, P_ens grids cut short: labelled
"quick"); ``pytest benchmarks/ --full`` runs the published grids on the
largest balanced split of the bundled MNIST subset (4,000 + 1,000 images).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
from conftest import record
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor, VotingRegressor
from threadpoolctl import threadpool_limits

from effcomplexity import sweeps
from effcomplexity.measures.effective import AUTO_EXACT_MAX_ENTRIES, AUTO_EXACT_MAX_STAGED_ENTRIES
from effcomplexity.smoothers import get_smoother
from effcomplexity.sweeps.families import _common
from effcomplexity.sweeps.families.boosting import member_seeds

RESULTS = "speed_sweeps.json"
# Largest balanced split of the bundled 5,000-image subset.
FULL_SIZE = {"n_train": 4000, "n_test": 1000}
QUICK_SIZE = {"n_train": 1000, "n_test": 500}


def _spec(name: str, full: bool):
    spec = sweeps.get_spec(name).sized(quick=False)
    size = FULL_SIZE if full else QUICK_SIZE
    grid = dict(spec.grid)
    if not full:
        grid["P_ens"] = tuple(
            e for e in grid["P_ens"] if e <= (5 if name == "curth_boosting" else 20)
        )
    if "P_leaf" in grid:
        grid["P_leaf"] = tuple(v for v in grid["P_leaf"] if v is None or v < size["n_train"])
    targets = spec.dataset_kwargs["targets"]
    return spec.replace(dataset_kwargs={"targets": targets}, grid=grid, **size)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _leaf_equality_smoother(leaves_x: np.ndarray, leaves_train: np.ndarray) -> np.ndarray:
    same = (leaves_x[:, None] == leaves_train[None, :]).astype(float)
    return same / same.sum(axis=1, keepdims=True)


def _fit_forest(spec, data, unit) -> RandomForestRegressor:
    opts = spec.resolved_model_kwargs()
    return RandomForestRegressor(
        n_estimators=max(p["P_ens"] for p in unit.points),
        max_leaf_nodes=unit.params["P_leaf"],
        max_features=opts["max_features"],
        bootstrap=opts["bootstrap"],
        random_state=unit.seed,
        n_jobs=1,
    ).fit(data.X_train, data.y_train)


def _fit_class(spec, data, unit, c: int):
    """The unit's booster (P_ens = 1) or ensemble of boosters for one class."""
    opts = spec.resolved_model_kwargs()
    seeds = member_seeds(unit.seed, unit.params["P_ens"])
    members = [
        (
            f"booster_{j}",
            GradientBoostingRegressor(
                n_estimators=max(p["P_boost"] for p in unit.points),
                max_leaf_nodes=opts["max_leaf_nodes"],
                learning_rate=opts["learning_rate"],
                max_features=opts["max_features"],
                init="zero",
                random_state=s,
            ),
        )
        for j, s in enumerate(seeds)
    ]
    if len(members) == 1:
        return members[0][1].fit(data.X_train, data.y_train[:, c])
    return VotingRegressor(members).fit(data.X_train, data.y_train[:, c])


def _dense_forest(forest, data, wanted) -> dict[int, tuple[float, float]]:
    """The published forest algorithm: one dense leaf-equality matrix per tree."""
    n, m = data.n_train, data.n_test
    S_train, S_test = np.zeros((n, n)), np.zeros((m, n))
    out = {}
    for t, tree in enumerate(forest.estimators_, start=1):
        leaves = tree.apply(data.X_train)
        S_train += _leaf_equality_smoother(leaves, leaves)
        S_test += _leaf_equality_smoother(tree.apply(data.X_test), leaves)
        if t in wanted:
            out[t] = (np.sum((S_train / t) ** 2), n / m * np.sum((S_test / t) ** 2))
    return out


def _dense_boosting(model, data, wanted) -> dict[int, tuple[float, float]]:
    """The published boosting algorithm: dense smoothers corrected leaf by leaf.

    For an ensemble the weights are the members' average, so every member's
    dense smoother is kept (cross terms need all of them).
    """
    members = list(model.estimators_) if isinstance(model, VotingRegressor) else [model]
    n, m = data.n_train, data.n_test
    S_train = [np.zeros((n, n)) for _ in members]
    S_test = [np.zeros((m, n)) for _ in members]
    out = {}
    for r in range(max(wanted)):
        for j, booster in enumerate(members):
            tree = booster.estimators_[r, 0]
            leaves_train, leaves_test = tree.apply(data.X_train), tree.apply(data.X_test)
            residual = np.eye(n) - S_train[j]
            for leaf in np.unique(leaves_train):
                in_train, in_test = leaves_train == leaf, leaves_test == leaf
                update = booster.learning_rate * residual[in_train].mean(axis=0)
                S_train[j][in_train] += update
                S_test[j][in_test] += update
        if r + 1 in wanted:
            mean_train, mean_test = sum(S_train) / len(members), sum(S_test) / len(members)
            out[r + 1] = (np.sum(mean_train**2), n / m * np.sum(mean_test**2))
    return out


def _dense_forest_unit(spec, data, unit) -> dict[int, tuple[float, float]]:
    """A whole forest unit by the baseline: the fit, then the dense passes."""
    return _dense_forest(_fit_forest(spec, data, unit), data, {p["P_ens"] for p in unit.points})


def _dense_boosting_unit(spec, data, unit) -> dict[int, tuple[float, float]]:
    """A whole boosting unit by the baseline: every class fitted, dense passes for class 0."""
    models = [_fit_class(spec, data, unit, c) for c in range(data.y_train.shape[1])]
    return _dense_boosting(models[0], data, {p["P_boost"] for p in unit.points})


def _baseline(spec, table: pd.DataFrame, sample: list[int], dense_unit) -> dict:
    """Run the baseline on sampled units; compare with the package's rows."""
    units = sweeps.plan(spec)
    data = _common.load_data(spec, spec.seeds[0])
    times, worst_rel, worst_z = {}, 0.0, 0.0
    axis = "P_ens" if spec.family == "forest" else "P_boost"
    for index in sample:
        unit = units[index]
        with threadpool_limits(1):
            values, seconds = _timed(dense_unit, spec, data, unit)
        times[unit.key] = seconds
        rows = table.set_index([*spec.order]).sort_index()
        for point in unit.points:
            key = tuple(point[a] if point[a] is not None else spec.n_train for a in spec.order)
            row = rows.loc[key]
            for measure, exact in zip(("p_train", "p_test"), values[point[axis]], strict=True):
                se = row[f"{measure}_se"]
                if se == 0:
                    worst_rel = max(worst_rel, abs(row[measure] - exact) / abs(exact))
                else:
                    worst_z = max(worst_z, abs(row[measure] - exact) / se)
    return {"times": times, "max_rel_diff_exact": worst_rel, "max_z_probe": worst_z}


def _run_both(spec) -> tuple[pd.DataFrame, dict[str, float]]:
    one, t1 = _timed(sweeps.run, spec, n_jobs=1, verbose=0)
    two, t2 = _timed(sweeps.run, spec, n_jobs=2, verbose=0)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    return one, {"1": round(t1, 2), "2": round(t2, 2)}


@pytest.mark.parametrize("name", ["curth_trees", "curth_boosting"])
def test_speed_sweeps(name, full):
    spec = _spec(name, full)
    units = sweeps.plan(spec)
    table, wall = _run_both(spec)
    if spec.family == "forest":
        sample = [i for i, u in enumerate(units) if u.params["P_leaf"] in (10, None)]
        baseline = _baseline(spec, table, sample, _dense_forest_unit)
        per_unit = np.mean(list(baseline["times"].values()))
        extrapolated = per_unit * len(units)
        how = (
            f"mean of the {len(sample)} measured units (P_leaf = 10 and full, all "
            f"{max(spec.grid['P_ens'])} trees) times the {len(units)} units: the dense "
            f"passes, one per tree, do not depend on the number of leaves"
        )
    else:
        sample = [i for i, u in enumerate(units) if u.params["P_ens"] in (1, 2)]
        baseline = _baseline(spec, table, sample, _dense_boosting_unit)
        t1, t2 = (baseline["times"][units[i].key] for i in sample)
        per_member = t2 - t1
        extrapolated = sum(t1 + (u.params["P_ens"] - 1) * per_member for u in units)
        how = (
            "linear in the number of boosters, from the measured P_ens = 1 and 2 units "
            "(fits and dense passes both grow with the members)"
        )
    assert baseline["max_rel_diff_exact"] < 1e-8
    assert baseline["max_z_probe"] < 5
    record(
        RESULTS,
        f"{name}_{'full' if full else 'quick'}",
        {
            "size": "full (published grid)" if full else "quick (reduced grid)",
            "n_train": spec.n_train,
            "n_test": spec.n_test,
            "grid": {
                k: [v if v is not None else "full" for v in vs] for k, vs in spec.grid.items()
            },
            "units": len(units),
            "rows": len(table),
            "package_wall_s_by_jobs": wall,
            "baseline_measured_units_s": {k: round(v, 2) for k, v in baseline["times"].items()},
            "baseline_total_s_extrapolated": round(float(extrapolated), 1),
            "baseline_extrapolation": how,
            "speedup_1_job_vs_baseline_extrapolated": round(float(extrapolated) / wall["1"], 1),
            "max_rel_diff_exact_rows": baseline["max_rel_diff_exact"],
            "max_abs_z_probe_rows": baseline["max_z_probe"],
            "p_hat_exact_when_dense_entries_at_most": AUTO_EXACT_MAX_ENTRIES,
            "p_hat_exact_when_staged_entries_at_most": AUTO_EXACT_MAX_STAGED_ENTRIES,
            "dataset": "mnist, bundled 5,000-image subset (balanced)",
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "cpu_count": os.cpu_count(),
        },
    )


@pytest.mark.parametrize("name", ["curth_trees", "curth_boosting"])
def test_speed_effective_parameters_of_fitted_units(name, full):
    """Effective parameters only, from the same fitted models: package against baseline.

    Every stage of the sampled units (all tree counts of a forest, all rounds
    of a booster or ensemble of boosters), p_train and p_test, on one core.
    """
    spec = _spec(name, full)
    data = _common.load_data(spec, spec.seeds[0])
    units = sweeps.plan(spec)
    if spec.family == "forest":
        sample = [u for u in units if u.params["P_leaf"] in (10, None)]
    else:
        sample = [u for u in units if u.params["P_ens"] in (1, 2)]
    timings = {}
    for unit in sample:
        with threadpool_limits(1):
            if spec.family == "forest":
                model, fit_s = _timed(_fit_forest, spec, data, unit)
                dense, dense_s = _timed(
                    _dense_forest, model, data, range(1, model.n_estimators + 1)
                )
            else:
                model, fit_s = _timed(_fit_class, spec, data, unit, 0)
                rounds = max(p["P_boost"] for p in unit.points)
                dense, dense_s = _timed(_dense_boosting, model, data, range(1, rounds + 1))
            staged, package_s = _timed(
                _common.staged_measures,
                get_smoother(model, data.X_train),
                data.X_train,
                data.X_test,
                _common.unit_seed(unit.seed, unit.key),
                spec.resolved_model_kwargs()["n_probes"],
            )
        exact = np.array([dense[t] for t in sorted(dense)])
        ours = np.column_stack([staged["p_train"], staged["p_test"]])
        se = np.column_stack([staged["p_train_se"], staged["p_test_se"]])
        # Exact entries (standard error 0) must agree to rounding, probe entries
        # within 5 of their standard errors; a unit can hold both (exact p_train,
        # probed p_test).
        probed = se > 0
        agreement = {}
        if (~probed).any():
            rel = np.abs(ours - exact)[~probed] / np.abs(exact)[~probed]
            agreement["max_rel_diff"] = float(np.max(rel))
            assert agreement["max_rel_diff"] < 1e-8
        if probed.any():
            agreement["max_abs_z"] = float(np.max(np.abs(ours - exact)[probed] / se[probed]))
            assert agreement["max_abs_z"] < 5
        timings[unit.key] = {
            "stages": len(exact),
            "fit_one_class_s": round(fit_s, 2),
            "package_s": round(package_s, 3),
            "baseline_dense_s": round(dense_s, 2),
            "speedup": round(dense_s / package_s, 1),
            **agreement,
        }
    record(
        RESULTS,
        f"{name}_effective_parameters_{'full' if full else 'quick'}",
        {
            "what": (
                "p_train and p_test after every stage, from the same fitted model (class 0 "
                "for boosting), package staged API against the dense published algorithm, "
                "one BLAS thread"
            ),
            "n_train": spec.n_train,
            "n_test": spec.n_test,
            "units": timings,
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
    )
