"""What one unit of work computes, for every model family a sweep can run.

A *unit* is one fit (or one staged fit) for one seed; it returns the rows of
the results table it accounts for. Units read only the spec, their seed and
their grid points, so any process on any machine computes the same numbers.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .spec import SweepSpec

__all__ = [
    "EXACT_MAX_N_TRAIN",
    "FAMILY_COLUMNS",
    "group_points",
    "load_data",
    "member_seeds",
    "run_unit",
    "unit_cost",
    "unit_seed",
]

#: Raw-axis and extra columns each family adds to the common ones, in order.
FAMILY_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rff": (("n_features",), ("coef_norm",)),
    "rff_pca": (("P_PC", "P_ex"), ("n_raw_features", "coef_norm")),
    "forest": (("P_leaf", "P_ens"), ("n_leaves",)),
    "boosting": (("P_boost", "P_ens"), ("df_trace_se",)),
    "ridgeless": (
        ("n_features",),
        ("gamma", "risk", "risk_finite_n", "risk_asymptotic", "coef_norm"),
    ),
}

# Rademacher probes for the Hutchinson trace of boosting stages.
_TRACE_PROBES = 32
#: Staged effective parameters are exact when the family's exact norms avoid
#: dense matrices, or when n_train is at most this; random probes otherwise.
EXACT_MAX_N_TRAIN = 500


def unit_seed(seed: int, key: str) -> int:
    """A 32-bit seed for the auxiliary randomness of one unit (probes).

    Derived from the replicate seed and the unit's key only, never from the
    process or worker that runs it.
    """
    state = np.random.SeedSequence([int(seed), zlib.crc32(key.encode())])
    return int(state.generate_state(1)[0])


def member_seeds(seed: int, n_members: int) -> list[int]:
    """Seeds of the members of an ensemble of boosters, nested in ``n_members``."""
    children = np.random.SeedSequence(int(seed)).spawn(n_members)
    return [int(child.generate_state(1)[0]) for child in children]


# -- data ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cached_load(name: str, frozen_kwargs: tuple):
    from .. import datasets

    return datasets.load(name, **dict(frozen_kwargs))


def load_data(spec: SweepSpec, seed: int, **extra):
    """Load the spec's dataset for one replicate (cached per process).

    Parameters
    ----------
    spec : SweepSpec
    seed : int
        Replicate seed; the data seed when ``spec.data_seed`` is None.
    **extra
        Loader arguments set by the unit (``n_features`` of a simulation).

    Returns
    -------
    Dataset
    """
    kwargs: dict[str, Any] = {
        "n_train": spec.n_train,
        "n_test": spec.n_test,
        "random_state": seed if spec.data_seed is None else spec.data_seed,
        **spec.dataset_kwargs,
        **extra,
    }
    if spec.label_noise:
        kwargs["label_noise"] = float(spec.label_noise)
    return _cached_load(spec.dataset, tuple(sorted(kwargs.items())))


# -- measures shared by the families -------------------------------------------------


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of the squared error summed over outputs (Curth et al.)."""
    err = np.asarray(pred, dtype=float) - np.asarray(y, dtype=float)
    return float(np.mean(np.sum(err.reshape(err.shape[0], -1) ** 2, axis=1)))


def _zero_one(pred: np.ndarray, data, split: str) -> float:
    """0-1 error: argmax over one-hot outputs, or the midpoint of binary targets."""
    if data.task != "classification":
        return float("nan")
    labels = getattr(data, f"labels_{split}")
    pred = np.asarray(pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        return float(np.mean(np.argmax(pred, axis=1) != labels))
    y = np.asarray(getattr(data, f"y_{split}")).reshape(-1)
    levels = np.unique(np.asarray(data.y_train).reshape(-1))
    if levels.size != 2:
        return float("nan")
    cut = levels.mean()
    return float(np.mean((pred.reshape(-1) > cut) != (y > cut)))


def _fit_measures(smoother, X_train, X_test, seed: int) -> dict[str, float]:
    from ..measures.effective import degrees_of_freedom, effective_parameters

    p_train, p_train_se = effective_parameters(
        smoother, X_train, random_state=seed, return_std=True
    )
    p_test, p_test_se = effective_parameters(
        smoother, X_train, X_test, random_state=seed, return_std=True
    )
    return {
        "p_train": p_train,
        "p_test": p_test,
        "p_train_se": p_train_se,
        "p_test_se": p_test_se,
        "df_trace": degrees_of_freedom(smoother, X_train, kind="trace"),
    }


def _staged_measures(smoother, X_train, X_test, seed: int, n_probes: int) -> dict:
    from ..measures.effective import staged_effective_parameters

    exact = smoother.exact_norms_are_cheap or smoother.n_train <= EXACT_MAX_N_TRAIN
    kwargs = {
        "method": "exact" if exact else "probe",
        "n_probes": n_probes,
        "random_state": seed,
        "return_std": True,
    }
    p_train, p_train_se = staged_effective_parameters(smoother, X_train, **kwargs)
    p_test, p_test_se = staged_effective_parameters(smoother, X_train, X_test, **kwargs)
    return {"p_train": p_train, "p_test": p_test, "p_train_se": p_train_se, "p_test_se": p_test_se}


def _errors(pred_train, pred_test, data) -> dict[str, float]:
    return {
        "train_mse": _mse(pred_train, data.y_train),
        "test_mse": _mse(pred_test, data.y_test),
        "train_error": _zero_one(pred_train, data, "train"),
        "test_error": _zero_one(pred_test, data, "test"),
    }


def _min_norm(features_train, y, intercept: str):
    from ..models import MinNormLeastSquares

    return MinNormLeastSquares(fit_intercept=intercept == "centred").fit(features_train, y)


def _with_bias(features: np.ndarray, intercept: str) -> np.ndarray:
    if intercept != "column":
        return features
    return np.hstack([np.ones((features.shape[0], 1)), features])


def _linear_rows(model, F_train, F_test, data, seed) -> dict[str, float]:
    from ..smoothers import get_smoother

    smoother = get_smoother(model, F_train)
    row = _errors(model.predict(F_train), model.predict(F_test), data)
    row.update(_fit_measures(smoother, F_train, F_test, seed))
    row["coef_norm"] = float(np.linalg.norm(model.coef_))
    return row


# -- families ------------------------------------------------------------------------


def _run_rff(spec, seed, params, points, key) -> tuple[list[dict], Any]:
    from ..models import RandomFourierFeatures

    opts = spec.resolved_model_kwargs()
    data = load_data(spec, seed)
    n_features = params["n_features"]
    rff = RandomFourierFeatures(
        n_features,
        bandwidth=opts["bandwidth"],
        include_bias=opts["intercept"] == "column",
        random_state=seed,
    ).fit(data.X_train)
    F_train, F_test = rff.transform(data.X_train), rff.transform(data.X_test)
    model = _min_norm(F_train, data.y_train, opts["intercept"])
    row = _linear_rows(model, F_train, F_test, data, unit_seed(seed, key))
    return [{**row, "n_features": n_features, "n_params": n_features}], data


def _run_rff_pca(spec, seed, params, points, key) -> tuple[list[dict], Any]:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from ..models import RandomFourierFeatures

    opts = spec.resolved_model_kwargs()
    data = load_data(spec, seed)
    n_excess = params["P_ex"]
    n_raw = data.n_train + n_excess
    rff = RandomFourierFeatures(n_raw, bandwidth=opts["bandwidth"], random_state=seed)
    raw_train = rff.fit_transform(data.X_train)
    scaler = StandardScaler().fit(raw_train)
    n_components = max(p["P_PC"] for p in points)
    pca = PCA(n_components=n_components, svd_solver="full").fit(scaler.transform(raw_train))
    T_train = pca.transform(scaler.transform(raw_train))
    T_test = pca.transform(scaler.transform(rff.transform(data.X_test)))
    rows = []
    probe_seed = unit_seed(seed, key)
    for point in points:
        k = point["P_PC"]
        F_train = _with_bias(T_train[:, :k], opts["intercept"])
        F_test = _with_bias(T_test[:, :k], opts["intercept"])
        model = _min_norm(F_train, data.y_train, opts["intercept"])
        row = _linear_rows(model, F_train, F_test, data, probe_seed)
        row.update(P_PC=k, P_ex=n_excess, n_params=k + n_excess, n_raw_features=n_raw)
        rows.append(row)
    return rows, data


def _risk_finite_n(p: int, n: int, signal_sq: float, noise_sq: float) -> float:
    """Belkin, Hsu & Xu (2020), Gaussian design, all ``p`` features used."""
    if p <= n - 2:
        return noise_sq * (1.0 + p / (n - p - 1.0))
    if p >= n + 2:
        return signal_sq * (1.0 - n / p) + noise_sq * (1.0 + n / (p - n - 1.0))
    return float("nan")


def _risk_asymptotic(gamma: float, signal_sq: float, noise_sq: float) -> float:
    """Hastie, Montanari, Rosset & Tibshirani (2022) limit, plus the noise floor."""
    if gamma < 1.0:
        return noise_sq + noise_sq * gamma / (1.0 - gamma)
    if gamma > 1.0:
        return noise_sq + signal_sq * (1.0 - 1.0 / gamma) + noise_sq / (gamma - 1.0)
    return float("nan")


def _run_ridgeless(spec, seed, params, points, key) -> tuple[list[dict], Any]:
    opts = spec.resolved_model_kwargs()
    p = params["n_features"]
    data = load_data(spec, seed, n_features=p)
    model = _min_norm(data.X_train, data.y_train, opts["intercept"])
    row = _linear_rows(model, data.X_train, data.X_test, data, unit_seed(seed, key))
    beta = np.asarray(data.metadata["beta"], dtype=float)
    noise_sq = float(data.metadata["noise"]) ** 2
    signal_sq = float(beta @ beta)
    n = data.n_train
    # x ~ N(0, I): E[(y - x^T b)^2] = ||beta - b||^2 + sigma^2 for a fitted b.
    risk = float(np.sum((beta - model.coef_) ** 2) + model.intercept_**2) + noise_sq
    row.update(
        n_features=p,
        n_params=p,
        gamma=p / n,
        risk=risk,
        risk_finite_n=_risk_finite_n(p, n, signal_sq, noise_sq),
        risk_asymptotic=_risk_asymptotic(p / n, signal_sq, noise_sq),
    )
    return [row], data


def _run_forest(spec, seed, params, points, key) -> tuple[list[dict], Any]:
    from sklearn.ensemble import RandomForestRegressor

    from ..smoothers import get_smoother

    opts = spec.resolved_model_kwargs()
    data = load_data(spec, seed)
    leaves = params["P_leaf"]
    n_trees = max(p["P_ens"] for p in points)
    forest = RandomForestRegressor(
        n_estimators=n_trees,
        max_leaf_nodes=leaves,
        max_features=opts["max_features"],
        bootstrap=opts["bootstrap"],
        random_state=seed,
        n_jobs=1,
    ).fit(data.X_train, data.y_train)
    smoother = get_smoother(forest, data.X_train)
    staged = _staged_measures(
        smoother, data.X_train, data.X_test, unit_seed(seed, key), opts["n_probes"]
    )
    leaf_counts = np.array([tree.get_n_leaves() for tree in forest.estimators_], dtype=float)
    sum_train = np.zeros(np.shape(data.y_train))
    sum_test = np.zeros(np.shape(data.y_test))
    wanted = {p["P_ens"]: p for p in points}
    rows = []
    for t, tree in enumerate(forest.estimators_, start=1):
        sum_train += tree.predict(data.X_train).reshape(sum_train.shape)
        sum_test += tree.predict(data.X_test).reshape(sum_test.shape)
        if t not in wanted:
            continue
        row = _errors(sum_train / t, sum_test / t, data)
        row.update({name: float(values[t - 1]) for name, values in staged.items()})
        n_leaves = float(leaf_counts[:t].mean())
        p_leaf = data.n_train if leaves is None else leaves
        # tr(S) of one tree is its number of leaves (each leaf's weights sum to
        # one on its own rows, bootstrap or not), so a forest's is their mean.
        row.update(df_trace=n_leaves, n_leaves=n_leaves, P_leaf=p_leaf, P_ens=t)
        row["n_params"] = p_leaf * t
        rows.append((wanted[t], row))
    return _in_point_order(points, rows), data


def _run_boosting(spec, seed, params, points, key) -> tuple[list[dict], Any]:
    from sklearn.ensemble import GradientBoostingRegressor, VotingRegressor

    from ..smoothers import get_smoother

    opts = spec.resolved_model_kwargs()
    data = load_data(spec, seed)
    n_members = params["P_ens"]
    n_rounds = max(p["P_boost"] for p in points)
    seeds = member_seeds(seed, n_members)
    Y = np.asarray(data.y_train, dtype=float)
    targets = Y if Y.ndim == 2 else Y[:, None]
    n_out = targets.shape[1]
    if opts["effective_class"] >= n_out:
        raise ValueError(
            f"effective_class = {opts['effective_class']} but the targets have {n_out} output(s)."
        )

    def booster(member_seed):
        return GradientBoostingRegressor(
            n_estimators=n_rounds,
            max_leaf_nodes=opts["max_leaf_nodes"],
            learning_rate=opts["learning_rate"],
            max_features=opts["max_features"],
            init="zero",
            subsample=1.0,
            random_state=member_seed,
        )

    wanted = sorted({p["P_boost"] for p in points})
    pred_train = np.zeros((len(wanted), data.n_train, n_out))
    pred_test = np.zeros((len(wanted), data.n_test, n_out))
    models = []
    for c in range(n_out):
        if n_members == 1:
            model = booster(seeds[0]).fit(data.X_train, targets[:, c])
            members = [model]
        else:
            estimators = [(f"booster_{j}", booster(s)) for j, s in enumerate(seeds)]
            model = VotingRegressor(estimators).fit(data.X_train, targets[:, c])
            members = model.estimators_
        models.append(model)
        for member in members:
            for X, out in ((data.X_train, pred_train), (data.X_test, pred_test)):
                stage = 0
                for r, pred in enumerate(member.staged_predict(X), start=1):
                    if r == wanted[stage]:
                        out[stage, :, c] += pred / n_members
                        stage += 1
                        if stage == len(wanted):
                            break

    effective = models[opts["effective_class"]]
    probe_seed = unit_seed(seed, key)
    smoother = get_smoother(effective, data.X_train)
    staged = _staged_measures(smoother, data.X_train, data.X_test, probe_seed, opts["n_probes"])
    trace, trace_se = _hutchinson_staged_trace(smoother, data.n_train, probe_seed)
    by_rounds = {p["P_boost"]: p for p in points}
    rows = []
    for i, r in enumerate(wanted):
        ptr, pte = pred_train[i], pred_test[i]
        if Y.ndim == 1:
            ptr, pte = ptr[:, 0], pte[:, 0]
        row = _errors(ptr, pte, data)
        row.update({name: float(values[r - 1]) for name, values in staged.items()})
        row.update(
            df_trace=float(trace[r - 1]),
            df_trace_se=float(trace_se[r - 1]),
            P_boost=r,
            P_ens=n_members,
            n_params=r * n_members,
        )
        rows.append((by_rounds[r], row))
    return _in_point_order(points, rows), data


def _hutchinson_staged_trace(smoother, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``tr(S_t)`` after every stage, by Rademacher probes (Hutchinson 1990)."""
    from ..measures._probes import random_probes

    Z = random_probes(n, _TRACE_PROBES, "rademacher", seed)
    per_probe = np.array([np.einsum("ij,ij->j", Z, SZ) for SZ in smoother.staged_smooth(Z)])
    return per_probe.mean(axis=1), per_probe.std(axis=1, ddof=1) / np.sqrt(_TRACE_PROBES)


def _in_point_order(points: Sequence[Mapping], rows: list[tuple[Mapping, dict]]) -> list[dict]:
    position = {id(p): i for i, p in enumerate(points)}
    return [row for _, row in sorted(rows, key=lambda item: position[id(item[0])])]


_RUNNERS = {
    "rff": _run_rff,
    "rff_pca": _run_rff_pca,
    "forest": _run_forest,
    "boosting": _run_boosting,
    "ridgeless": _run_ridgeless,
}

# The axis whose value defines a unit; the other axis comes out of one staged fit.
_UNIT_AXIS = {
    "rff": "n_features",
    "rff_pca": "P_ex",
    "forest": "P_leaf",
    "boosting": "P_ens",
    "ridgeless": "n_features",
}


def group_points(spec: SweepSpec) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Group the spec's grid points into units: ``(unit params, points)`` pairs."""
    axis = _UNIT_AXIS[spec.family]
    groups: dict[Any, list[dict[str, Any]]] = {}
    for point in spec.points():
        groups.setdefault(point[axis], []).append(point)
    ordered = [v for v in spec.grid[axis] if v in groups]
    return [({axis: value}, groups[value]) for value in ordered]


def unit_cost(spec: SweepSpec, params: Mapping, points: Sequence) -> float:
    """Rough relative cost of a unit, to start the longest first in parallel runs."""
    if spec.family == "forest":
        return float(max(p["P_ens"] for p in points))
    if spec.family == "boosting":
        return float(params["P_ens"] * max(p["P_boost"] for p in points))
    if spec.family == "rff_pca":
        return float(spec.n_train + params["P_ex"])
    return float(params["n_features"])


def run_unit(spec: SweepSpec, seed: int, params: Mapping, points: Sequence, key: str):
    """Fit one unit and return its rows.

    Parameters
    ----------
    spec : SweepSpec
        A sized spec (no pending quick overrides).
    seed : int
        The replicate seed.
    params : mapping
        The unit's value of its defining axis.
    points : sequence of mapping
        Grid points the unit accounts for.
    key : str
        The unit's stable key (seeds the probes).

    Returns
    -------
    list of dict
        Measure and raw-axis columns, one dict per point, in point order.
    """
    rows, data = _RUNNERS[spec.family](spec, seed, dict(params), list(points), key)
    for row in rows:
        row.update(dataset=data.name, n_train=data.n_train, n_test=data.n_test)
    return rows
