"""Sweep specs and the published experiments they encode.

Oracles, named on each test: closed-form risk of min-norm least squares
(Belkin, Hsu & Xu 2020; Hastie et al. 2022), the rank of the design for
p_train of least squares, leaf counts of a tree, scikit-learn's own
predictions of separately refitted models, and plain dense smoother matrices
written in this file.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

from effcomplexity import datasets, sweeps
from effcomplexity.sweeps import runner
from effcomplexity.sweeps.families import boosting as boosting_family
from effcomplexity.sweeps.families import load_data


@pytest.fixture(scope="module")
def belkin():
    return sweeps.run("belkin_rff", verbose=0)


# -- specs -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sweeps.available())
def test_library_specs_are_valid_at_both_sizes(name):
    spec = sweeps.get_spec(name)
    quick, full = spec.sized(quick=True), spec.sized(quick=False)
    assert quick.quick == {} and full.quick == {}
    assert sweeps.plan(quick) and sweeps.plan(full)
    if spec.dataset == "mnist":
        # Quick sizes run offline on the 5,000-image bundled subset.
        assert quick.n_train + quick.n_test <= 5000
        assert not quick.dataset_kwargs.get("download", False)


def test_published_settings():
    """Grids and options of Curth et al.'s public code (their appendix)."""
    trees = sweeps.get_spec("curth_trees").sized(quick=False)
    assert trees.grid["P_leaf"] == (2, 5, 10, 20, 50, 75, 100, 500, 1000, 2000, None)
    assert trees.grid["P_ens"] == (1, 2, 5, 10, 20, 50, 100)
    assert trees.resolved_model_kwargs()["bootstrap"] is False
    boost = sweeps.get_spec("curth_boosting").sized(quick=False)
    assert boost.grid == {"P_boost": (1, 2, 10, 25, 50, 100, 200), "P_ens": (1, 2, 5, 10, 20)}
    opts = boost.resolved_model_kwargs()
    assert (opts["max_leaf_nodes"], opts["learning_rate"]) == (10, 0.85)
    assert boost.dataset_kwargs["targets"] == "onehot_centered"
    rff = sweeps.get_spec("curth_rff").sized(quick=False)
    assert rff.grid["P_PC"][-1] == rff.n_train == 10000
    assert sweeps.get_spec("belkin_rff").sized(quick=False).grid["n_features"][-1] == 60000


def test_replace_edits_without_copying_and_applies_to_both_sizes():
    spec = sweeps.get_spec("belkin_rff")
    edited = spec.replace(n_train=200, seeds=(0, 1, 2))
    assert edited.sized(quick=True).n_train == 200
    assert edited.sized(quick=False).n_train == 200
    assert edited.sized(quick=True).n_test == spec.sized(quick=True).n_test
    assert spec.n_train == 10000  # the library spec is untouched
    assert edited.fingerprint() != spec.fingerprint()


def test_path_axis_and_switch():
    """Which axis grows at each point of a composite path (definition in SweepSpec)."""
    spec = sweeps.get_spec("curth_trees").replace(
        n_train=100, grid={"P_leaf": (2, 10, "full"), "P_ens": (1, 5)}, quick={}
    )
    axes = {(p["P_leaf"], p["P_ens"]): spec.path_axis(p) for p in spec.points()}
    assert axes == {
        (2, 1): "P_leaf",
        (10, 1): "P_leaf",
        (None, 1): "P_leaf",
        (2, 5): None,
        (10, 5): None,
        (None, 5): "P_ens",
    }
    early = spec.replace(switch=10, product=False)
    assert [(p["P_leaf"], p["P_ens"]) for p in early.points()] == [(2, 1), (10, 1), (10, 5)]
    reverse = spec.replace(order=("P_ens", "P_leaf"), product=False)
    assert {(p["P_leaf"], p["P_ens"]): reverse.path_axis(p) for p in reverse.points()} == {
        (2, 1): "P_ens",
        (2, 5): "P_ens",
        (10, 5): "P_leaf",
        (None, 5): "P_leaf",
    }


BAD_EDITS = [
    ({"dataset": "imagenet"}, "Unknown dataset"),
    ({"n_train": -5}, "n_train must be a positive integer"),
    ({"n_test": 0}, "n_test must be a positive integer"),
    ({"seeds": ()}, "at least one seed"),
    ({"seeds": (1, 1)}, "distinct"),
    ({"label_noise": 1.5}, "label_noise"),
    ({"grid": {"n_features": (50, 10)}}, "strictly increasing"),
    ({"grid": {"n_features": (-10, 10)}}, ">= 1"),
    ({"grid": {"P_leaf": (2, 5)}}, "sweeps axes"),
    ({"family": "svm"}, "Unknown sweep family"),
    ({"model_kwargs": {"bandwith": 5.0}}, "Unknown model option"),
    ({"model_kwargs": {"intercept": "sometimes"}}, "intercept"),
    ({"dataset_kwargs": {"colour": True}}, "takes no argument"),
    ({"dataset_kwargs": {"n_train": 10}}, "may not set"),
    ({"quick": {"n_train": -1}}, "n_train must be a positive integer"),
    ({"quick": {"name": "x"}}, "quick may override only"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_EDITS, ids=[e[1] for e in BAD_EDITS])
def test_bad_specs_raise_clear_errors(edit, message):
    with pytest.raises(ValueError, match=message):
        sweeps.get_spec("belkin_rff").replace(**edit)


def test_grid_past_n_raises_where_the_family_cannot_go():
    with pytest.raises(ValueError, match="goes past n_train = 500"):
        sweeps.get_spec("curth_trees").replace(
            n_train=500, grid={"P_leaf": (2, 800), "P_ens": (1,)}, quick={}
        )
    rff = sweeps.get_spec("curth_rff")
    with pytest.raises(ValueError, match="at most 300 principal components"):
        rff.replace(quick={**rff.quick, "grid": {"P_PC": (10, 301), "P_ex": (0,)}})
    # Random features may go past n: that is the point of the sweep.
    sweeps.get_spec("belkin_rff").replace(n_train=100, grid={"n_features": (50, 1000)})


def test_label_noise_needs_labels():
    with pytest.raises(ValueError, match="no labels to corrupt"):
        sweeps.get_spec("ridgeless_theory").replace(label_noise=0.1)


def test_label_noise_reaches_the_training_labels():
    """Oracle: the loader's own corruption at the same seed and fraction."""
    spec = sweeps.get_spec("belkin_rff").sized(quick=True).replace(label_noise=0.25)
    data = load_data(spec, seed=0)
    direct = datasets.mnist(
        spec.n_train, spec.n_test, label_noise=0.25, targets="onehot", random_state=0
    )
    np.testing.assert_array_equal(data.labels_train, direct.labels_train)
    assert data.metadata["n_labels_changed"] > 0.2 * spec.n_train


def test_bad_specs_fail_before_any_work(monkeypatch, tmp_path):
    def forbidden(*args, **kwargs):
        raise AssertionError("a unit ran")

    monkeypatch.setattr(runner, "run_unit", forbidden)
    with pytest.raises(ValueError, match="Unknown sweep"):
        sweeps.run("no_such_sweep", out=tmp_path / "a.parquet", verbose=0)
    with pytest.raises(ValueError, match="n_jobs"):
        sweeps.run("belkin_rff", out=tmp_path / "a.parquet", n_jobs=0, verbose=0)
    with pytest.raises(ValueError, match="backend"):
        sweeps.run("belkin_rff", out=tmp_path / "a.parquet", backend="spark", verbose=0)
    assert list(tmp_path.iterdir()) == []


# -- ridgeless least squares against theory ---------------------------------------------


def _bhx_risk(p, n, r2, s2):
    """Belkin, Hsu & Xu (2020), Theorem 1 with every feature used."""
    if p <= n - 2:
        return s2 * (1 + p / (n - p - 1))
    return r2 * (1 - n / p) + s2 * (1 + n / (p - n - 1))


def _hmrt_risk(gamma, r2, s2):
    """Hastie et al. (2022) limit of the excess risk, plus the noise variance."""
    if gamma < 1:
        return s2 + s2 * gamma / (1 - gamma)
    return s2 + r2 * (1 - 1 / gamma) + s2 / (gamma - 1)


def test_ridgeless_risk_matches_finite_n_theory():
    """Oracle: closed-form finite-n risk; simulation within 4 Monte Carlo standard errors."""
    n, features = 100, (25, 50, 200, 400)  # gamma = 0.25, 0.5, 2, 4: away from 1
    spec = sweeps.get_spec("ridgeless_theory").replace(
        n_train=n, n_test=200, grid={"n_features": features}, seeds=tuple(range(100)), quick={}
    )
    table = sweeps.run(spec, verbose=0)
    r2, s2 = 2.0**2, 1.0**2  # the spec's signal ||beta|| = 2 and noise sd 1
    assert len(table) == 100 * len(features)
    for p, rows in table.groupby("n_features"):
        sem = rows["risk"].std(ddof=1) / np.sqrt(len(rows))
        assert abs(rows["risk"].mean() - _bhx_risk(p, n, r2, s2)) < 4 * sem, p
        np.testing.assert_allclose(rows["risk_finite_n"], _bhx_risk(p, n, r2, s2), rtol=1e-12)
        np.testing.assert_allclose(rows["risk_asymptotic"], _hmrt_risk(p / n, r2, s2), rtol=1e-12)
        # The exact conditional risk and the fresh test error estimate the same mean.
        diff = rows["test_mse"] - rows["risk"]
        assert abs(diff.mean()) < 4 * diff.std(ddof=1) / np.sqrt(len(rows)), p
        # Oracle: rank of an n x p Gaussian design is min(n, p).
        np.testing.assert_allclose(rows["p_train"], min(n, p), rtol=1e-10)
        np.testing.assert_allclose(rows["df_trace"], min(n, p), rtol=1e-10)


def test_ridgeless_risk_is_the_conditional_risk_of_the_fit():
    """Oracle: ||beta - b||^2 + sigma^2 recomputed from a plain pseudo-inverse fit."""
    spec = sweeps.get_spec("ridgeless_theory").replace(
        n_train=30, n_test=10, grid={"n_features": (12, 60)}, seeds=(3,), quick={}
    )
    table = sweeps.run(spec, verbose=0)
    for p, risk in zip(table["n_features"], table["risk"], strict=True):
        data = datasets.gaussian_linear(30, 10, p, noise=1.0, signal=2.0, random_state=3)
        b = np.linalg.pinv(data.X_train) @ data.y_train
        assert risk == pytest.approx(np.sum((data.metadata["beta"] - b) ** 2) + 1.0, rel=1e-9)


# -- Belkin et al.: random Fourier features through n ------------------------------------


def test_belkin_rff_has_every_design_column(belkin):
    for column in sweeps.columns(sweeps.get_spec("belkin_rff")):
        assert column in belkin.columns
    assert (belkin["axis"] == "n_features").all()
    assert (belkin["n_params"] == belkin["n_features"]).all()


def test_belkin_rff_interpolates_from_n_features_n(belkin):
    n = int(belkin["n_train"].iloc[0])
    past = belkin[belkin["n_features"] >= n]
    below = belkin[belkin["n_features"] < n - 1]
    assert len(past) >= 3 and len(below) >= 3
    assert (past["train_error"] == 0).all()
    assert (past["train_mse"] < 1e-12).all()
    assert (below["train_mse"] > 1e-4).all()


def test_belkin_rff_test_error_peaks_at_n(belkin):
    n = int(belkin["n_train"].iloc[0])
    grid = list(belkin["n_features"])
    peak = int(np.argmax(belkin["test_error"].to_numpy()))
    at_n = int(np.argmin(np.abs(np.array(grid) - n)))
    assert abs(peak - at_n) <= 1
    assert belkin["test_error"].iloc[peak] > belkin["test_error"].iloc[-1] + 0.2


def test_belkin_rff_p_train_is_the_rank(belkin):
    """Oracle: with an intercept column, p_train of min-norm fits is the rank, min(N + 1, n)."""
    n = int(belkin["n_train"].iloc[0])
    expected = np.minimum(belkin["n_features"].to_numpy(dtype=float) + 1, n)
    np.testing.assert_allclose(belkin["p_train"], expected, rtol=1e-8)
    np.testing.assert_allclose(belkin["df_trace"], expected, rtol=1e-8)


# -- Curth et al.: principal components, then excess features ---------------------------


def test_curth_rff_back_to_u():
    """Claim (c): along P_ex, p_train stays at n while p_test falls (oracle for p_train: rank)."""
    table = sweeps.run("curth_rff", verbose=0)
    n = int(table["n_train"].iloc[0])
    pc = table[table["P_PC"] < n]
    np.testing.assert_allclose(pc["p_train"], pc["P_PC"].to_numpy(dtype=float) + 1, rtol=1e-8)
    excess = table[table["axis"] == "P_ex"].sort_values("P_ex")
    assert len(excess) >= 3
    np.testing.assert_allclose(excess["p_train"], n, rtol=1e-8)
    assert np.all(np.diff(excess["p_test"].to_numpy()) < 0)
    assert excess["test_error"].iloc[-1] < excess["test_error"].iloc[0]


# -- Curth et al.: forests and boosting, staged -----------------------------------------


def _dense_tree_smoother(tree, X_train, X):
    """Leaf-mean weights of one tree trained without bootstrap, written plainly."""
    leaf_train, leaf_x = tree.apply(X_train), tree.apply(X)
    same = (leaf_x[:, None] == leaf_train[None, :]).astype(float)
    return same / same.sum(axis=1, keepdims=True)


def test_forest_rows_match_refitted_forests_and_dense_smoothers():
    """Oracles: leaf count of one tree; refitted forests' predict; dense smoothers."""
    spec = (
        sweeps.get_spec("curth_trees")
        .sized(quick=True)
        .replace(n_train=120, n_test=60, grid={"P_leaf": (4, "full"), "P_ens": (1, 3, 8)})
    )
    table = sweeps.run(spec, verbose=0)
    data = datasets.mnist(n_train=120, n_test=60, targets="onehot", random_state=0)
    assert len(table) == 6
    for row in table.itertuples():
        leaves = None if row.P_leaf == 120 else int(row.P_leaf)
        forest = RandomForestRegressor(
            n_estimators=int(row.P_ens),
            max_leaf_nodes=leaves,
            max_features="sqrt",
            bootstrap=False,
            random_state=42,
        ).fit(data.X_train, data.y_train)
        pred = forest.predict(data.X_test)
        assert row.test_mse == pytest.approx(np.mean(np.sum((pred - data.y_test) ** 2, 1)))
        assert row.test_error == pytest.approx(np.mean(pred.argmax(1) != data.labels_test))
        S = np.mean([_dense_tree_smoother(t, data.X_train, data.X_test) for t in forest], 0)
        assert row.p_test == pytest.approx(120 / 60 * np.sum(S**2), rel=1e-10)
        S_train = np.mean([_dense_tree_smoother(t, data.X_train, data.X_train) for t in forest], 0)
        assert row.p_train == pytest.approx(np.sum(S_train**2), rel=1e-10)
        assert row.df_trace == pytest.approx(np.trace(S_train), rel=1e-10)
        if row.P_ens == 1:
            assert row.p_train == pytest.approx(forest.estimators_[0].get_n_leaves())


def _dense_boosting(booster, X_train, X):
    """S_m = S_{m-1} + lr L_m (I - S_{m-1}), zero init, step by step (Buhlmann & Yu 2003)."""
    n = len(X_train)
    S_train, S_x = np.zeros((n, n)), np.zeros((len(X), n))
    for (tree,) in booster.estimators_:
        L_train = _dense_tree_smoother(tree, X_train, X_train)
        L_x = _dense_tree_smoother(tree, X_train, X)
        residual = np.eye(n) - S_train
        S_x = S_x + booster.learning_rate * L_x @ residual
        S_train = S_train + booster.learning_rate * L_train @ residual
    return S_train, S_x


def test_boosting_rows_match_refitted_boosters_and_the_recursion():
    """Oracles: refitted boosters' predict (one-vs-rest argmax); the dense recursion."""
    spec = (
        sweeps.get_spec("curth_boosting")
        .sized(quick=True)
        .replace(
            n_train=80,
            n_test=40,
            grid={"P_boost": (1, 4, 12), "P_ens": (1, 2)},
            model_kwargs={"max_leaf_nodes": 4, "learning_rate": 0.85, "max_features": "sqrt"},
        )
    )
    table = sweeps.run(spec, verbose=0)
    data = datasets.mnist(n_train=80, n_test=40, targets="onehot_centered", random_state=0)
    assert len(table) == 6
    for row in table.itertuples():
        seeds = boosting_family.member_seeds(42, int(row.P_ens))
        per_class, class0 = [], None
        for c in range(10):
            members = [
                GradientBoostingRegressor(
                    n_estimators=int(row.P_boost),
                    max_leaf_nodes=4,
                    learning_rate=0.85,
                    max_features="sqrt",
                    init="zero",
                    random_state=s,
                ).fit(data.X_train, data.y_train[:, c])
                for s in seeds
            ]
            per_class.append(np.mean([m.predict(data.X_test) for m in members], 0))
            class0 = members if c == 0 else class0
        pred = np.column_stack(per_class)
        assert row.test_mse == pytest.approx(np.mean(np.sum((pred - data.y_test) ** 2, 1)))
        assert row.test_error == pytest.approx(np.mean(pred.argmax(1) != data.labels_test))
        dense = [_dense_boosting(m, data.X_train, data.X_test) for m in class0]
        S_train = np.mean([d[0] for d in dense], 0)
        S_test = np.mean([d[1] for d in dense], 0)
        assert row.p_train == pytest.approx(np.sum(S_train**2), rel=1e-8)
        assert row.p_test == pytest.approx(80 / 40 * np.sum(S_test**2), rel=1e-8)
        # Exact at this size (the exact-or-probe policy): no probe spread.
        assert row.df_trace == pytest.approx(np.trace(S_train), rel=1e-10)
        assert row.df_trace_se == 0.0


def test_staged_rows_come_from_one_fit_per_unit():
    spec = sweeps.get_spec("curth_trees").sized(quick=True)
    units = sweeps.plan(spec)
    assert len(units) == len(spec.grid["P_leaf"])
    assert all(len(u.points) == len(spec.grid["P_ens"]) for u in units)
    switch = sweeps.get_spec("curth_boosting_switch").sized(quick=True)
    assert [len(u.points) for u in sweeps.plan(switch)] == [3, 1, 1]
    # Ensembles are nested in P_ens: a larger ensemble adds members to a smaller one.
    assert boosting_family.member_seeds(7, 3)[:2] == boosting_family.member_seeds(7, 2)
