"""The sweep family registry: declarations, checks, and a family added in one place.

Oracles: the declarations written in this file, plain numpy means computed
here for the toy family, and the runner's own column rules (ID columns, axes,
common measures, extra columns, sizes).
"""

from __future__ import annotations

import numpy as np
import pytest

from effcomplexity import datasets, sweeps
from effcomplexity.sweeps.families import _base, families, load_data


class _MeanFamily(sweeps.SweepFamily):
    """Predicts the mean of the first ``k`` training labels: a family in one class."""

    name = "toy_mean"
    axes = (sweeps.Axis("k", max_n_train=True, label="labels averaged"),)
    unit_axis = "k"
    defaults = {"shift": 0.0}
    extra_columns = {"label_mean": "float64", "n_used": "Int64"}
    description = "mean of the first k labels"
    seen: list = []

    def validate(self, spec, where):
        if not isinstance(spec.resolved_model_kwargs()["shift"], float):
            raise ValueError(f"shift must be a float in {where}.")

    def cost(self, spec, params, points):
        return float(params["k"])

    def run(self, spec, params, points, ctx):
        self.seen.append(ctx)
        data = load_data(spec, ctx.seed)
        k = params["k"]
        mean = float(np.mean(data.y_train[:k])) + spec.resolved_model_kwargs()["shift"]
        row = {
            "k": k,
            "n_params": 1,
            "train_mse": float(np.mean((data.y_train - mean) ** 2)),
            "test_mse": float(np.mean((data.y_test - mean) ** 2)),
            "label_mean": mean,
            "n_used": k,
        }
        return [row], data


@pytest.fixture
def toy():
    family = sweeps.register_family(_MeanFamily())
    yield family
    del _base._REGISTRY[family.name]
    family.seen.clear()


def _toy_spec(**changes):
    fields = {
        "name": "toy",
        "family": "toy_mean",
        "dataset": "gaussian_linear",
        "grid": {"k": (1, 5, 20)},
        "n_train": 20,
        "n_test": 10,
    }
    return sweeps.SweepSpec(**{**fields, **changes})


def test_builtin_families_are_registered():
    assert families() == [
        "boosting",
        "forest",
        "grokking",
        "grokking_transformer",
        "mlp_width",
        "mnist1d",
        "mnist_grokking",
        "polynomial_grokking",
        "rff",
        "rff_pca",
        "ridgeless",
    ]
    forest = sweeps.get_family("forest")
    assert forest.axis_names == ("P_leaf", "P_ens") and forest.unit_axis == "P_leaf"
    assert forest.axes[0].allow_full and forest.axes[0].max_n_train
    with pytest.raises(ValueError, match="Unknown sweep family 'svm'.*forest"):
        sweeps.get_family("svm")


def test_a_family_registered_in_one_place_runs_end_to_end(toy, tmp_path):
    spec = _toy_spec()
    assert sweeps.columns(spec) == [
        *("sweep", "dataset", "seed", "axis", "n_params", "k"),
        *("train_mse", "test_mse", "train_error", "test_error", "p_train", "p_test"),
        *("df_trace", "p_train_se", "p_test_se", "label_mean", "n_used", "n_train", "n_test"),
    ]
    table = sweeps.run(spec, out=tmp_path / "toy.csv", verbose=0)
    data = datasets.gaussian_linear(n_train=20, n_test=10, random_state=0)
    for row in table.itertuples():
        mean = np.mean(data.y_train[: row.k])
        assert row.label_mean == pytest.approx(mean, abs=1e-12)
        assert row.train_mse == pytest.approx(np.mean((data.y_train - mean) ** 2), abs=1e-12)
    assert table["n_used"].dtype == "Int64" and table["k"].dtype == "Int64"
    assert table["p_train"].isna().all()
    assert list(table["axis"]) == ["k"] * 3
    # Each unit got its own existing checkpoint folder inside the parts folder,
    # removed once its rows were stored.
    folders = [ctx.checkpoint_dir for ctx in toy.seen]
    assert len(set(folders)) == 3
    parts = tmp_path / "toy.csv.parts"
    assert all(folder.parent.parent.parent == parts for folder in folders)  # checkpoints/RUN/
    assert not any(folder.exists() for folder in folders)
    assert sweeps.run(spec, verbose=0).equals(table)


def test_family_checks_run_from_the_spec(toy):
    with pytest.raises(ValueError, match="shift must be a float in sweep spec 'toy'"):
        _toy_spec(model_kwargs={"shift": 1})
    with pytest.raises(ValueError, match="at most 20 labels averaged"):
        _toy_spec(grid={"k": (1, 21)})
    with pytest.raises(ValueError, match="takes no 'full' value"):
        _toy_spec(grid={"k": (1, "full")})
    with pytest.raises(ValueError, match="Unknown model option"):
        _toy_spec(model_kwargs={"scale": 1.0})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"axes": ()}, "non-empty tuple of Axis"),
        ({"unit_axis": "j"}, "unit_axis must be one of"),
        ({"extra_columns": {"p_test": "float64"}}, "redeclares column"),
        ({"extra_columns": {"k": "float64"}}, "redeclares column"),
        ({"extra_columns": {"note": "object"}}, "dtypes must be in"),
        ({"name": ""}, "non-empty string name"),
        ({"name": "forest"}, "already registered"),
    ],
)
def test_bad_declarations_are_refused_at_registration(changes, message):
    family = type("Bad", (_MeanFamily,), changes)()
    with pytest.raises(ValueError, match=message):
        sweeps.register_family(family)
    assert "toy_mean" not in families()
    with pytest.raises(TypeError, match="SweepFamily instance"):
        sweeps.register_family(_MeanFamily)


class _ResumingFamily(_MeanFamily):
    """Fails once after saving a checkpoint, then resumes from it."""

    name = "toy_resume"

    def run(self, spec, params, points, ctx):
        marker = ctx.checkpoint_dir / "state.txt"
        if not marker.exists():
            marker.write_text(str(params["k"]))
            raise KeyboardInterrupt  # as if the process were stopped mid-unit
        rows, data = super().run(spec, params, points, ctx)
        rows[0]["n_used"] = int(marker.read_text())  # proves the state was read back
        return rows, data


def test_checkpoint_folder_survives_an_interruption_and_goes_after(tmp_path):
    family = sweeps.register_family(_ResumingFamily())
    try:
        spec = _toy_spec(family="toy_resume", grid={"k": (2, 4)})
        out = tmp_path / "toy.csv"
        with pytest.raises(KeyboardInterrupt):
            sweeps.run(spec, out=out, verbose=0)
        states = sorted((tmp_path / "toy.csv.parts" / "checkpoints").rglob("state.txt"))
        assert [state.read_text() for state in states] == ["2"]
        with pytest.raises(KeyboardInterrupt):  # unit 1 resumes, unit 2 is interrupted
            sweeps.run(spec, out=out, verbose=0)
        table = sweeps.run(spec, out=out, verbose=0)
        assert list(table["n_used"]) == [2, 4]
        assert not (tmp_path / "toy.csv.parts").exists()  # a finished sweep keeps no parts
    finally:
        del _base._REGISTRY[family.name]
        family.seen.clear()


class _ShortFamily(_MeanFamily):
    name = "toy_short"

    def run(self, spec, params, points, ctx):
        return [], load_data(spec, ctx.seed)


def test_a_family_must_return_one_row_per_point():
    family = sweeps.register_family(_ShortFamily())
    try:
        with pytest.raises(RuntimeError, match="returned 0 rows for 1 points"):
            sweeps.run(_toy_spec(family="toy_short"), verbose=0)
    finally:
        del _base._REGISTRY[family.name]
