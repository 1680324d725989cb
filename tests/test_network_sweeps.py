"""Network sweeps: MNIST-1D width and epoch curves, grokking of modular addition.

Oracles: the published MNIST-1D double-descent numbers (Greydanus 2020, as
listed in the project's shared reference notes: peak near w = 47-61 at about
54% test error, 47% at w = 16, 45.5% at w = 300); the definition of grokking
(train accuracy >= 99% well before test accuracy passes 90%); the network
measures recomputed directly by the public ``effcomplexity.nn`` functions on
the model saved at a checkpoint; a plain training loop written in the test
with its own ``TelescopingTracker``; and the same unit run in one piece.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd
import pytest
import torch

from effcomplexity import datasets, sweeps
from effcomplexity import nn as ecnn
from effcomplexity.models.torch_models import make_mlp
from effcomplexity.sweeps.families import UnitContext, _nn_measures, get_family, unit_seed

# A grokking configuration small enough for unit tests (seconds).
_SMALL_GROK = {
    "modulus": 11,
    "width": 16,
    "n_probes": 3,
    "telescoping_eval": 20,
    "sharpness_samples": 2,
    "hessian_k": 3,
}


def _small_grokking(**changes) -> sweeps.SweepSpec:
    spec = sweeps.get_spec("grokking").replace(
        grid={"weight_decay": (0.5,), "train_fraction": (0.4,), "step": (0, 3, 8)},
        model_kwargs=_SMALL_GROK,
    )
    return spec.replace(**changes) if changes else spec


def _first_step(frame: pd.DataFrame, column: str, threshold: float) -> int | None:
    hits = frame.loc[frame[column] >= threshold, "step"]
    return None if hits.empty else int(hits.min())


# -- the claims --------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_grokking_groks_late_and_not_without_weight_decay():
    """Train accuracy >= 99% at least 4x earlier than test accuracy passes 90%.

    The measures are switched off (they do not change training); the control
    is the same spec without weight decay, which must stay below 90% test
    accuracy within the same step budget.
    """
    options = {"measures": (), "telescoping": "off"}
    spec = sweeps.get_spec("grokking").sized(quick=True)
    spec = spec.replace(model_kwargs={**spec.model_kwargs, **options})
    table = (
        sweeps.run(spec, n_jobs=2, verbose=0)
        .groupby("step", as_index=False)
        .mean(numeric_only=True)
    )
    table = table.assign(train_acc=1 - table.train_error, test_acc=1 - table.test_error)
    fit = _first_step(table, "train_acc", 0.99)
    grok = _first_step(table, "test_acc", 0.90)
    assert fit is not None and grok is not None, table[["step", "train_acc", "test_acc"]]
    assert grok >= 4 * fit

    control = sweeps.get_spec("grokking_no_wd").sized(quick=True)
    control = control.replace(model_kwargs={**control.model_kwargs, **options})
    ctrl = sweeps.run(control, n_jobs=2, verbose=0)
    assert (1 - ctrl.train_error).max() >= 0.99
    assert (1 - ctrl.test_error).max() < 0.90
    assert ctrl.step.max() == table.step.max()


@pytest.mark.slow
def test_quick_grokking_tracker_follows_the_network_through_grokking():
    """Oracle: the network's own outputs on the tracked test inputs.

    At every recorded step of the quick run, before, across and after the
    step where test accuracy passes 90%, the telescoping model's predictions
    stay within TRACKING_TOLERANCE (relative RMS) of the network's, so every
    row reports p_train and p_test. (At weight decay 4 the same network
    trains at the edge of stability from about step 90 and the tracker
    diverges; the quick size uses weight decay 16, see the spec.)
    """
    spec = sweeps.get_spec("grokking").sized(quick=True)
    assert spec.resolved_model_kwargs()["telescoping"] == "probe"
    assert spec.resolved_model_kwargs()["n_probes"] >= 10
    spec = spec.replace(model_kwargs={**spec.model_kwargs, "measures": ()})
    assert len(spec.seeds) >= 3
    # One seed of the three (the paper's run checks all of them): a unit test's budget.
    spec = spec.replace(seeds=spec.seeds[:1])
    table = sweeps.run(spec, verbose=0).sort_values("step")
    grok = _first_step(table.assign(test_acc=1 - table.test_error), "test_acc", 0.90)
    assert grok is not None and grok < table.step.max()
    tracked = table[table.step > 0]
    assert (tracked.telescoping == "probe").all(), tracked[["step", "telescoping_gap"]]
    assert (tracked.telescoping_gap <= _nn_measures.TRACKING_TOLERANCE).all()
    assert tracked[["p_train", "p_test", "p_test_se"]].notna().all().all()
    n = int(table.n_train.iloc[0])
    assert ((tracked.p_test > 0) & (tracked.p_test < n)).all()


@pytest.mark.slow
def test_quick_mnist1d_width_peaks_at_an_intermediate_width():
    """Model-wise double descent under 15% label noise, against Greydanus (2020).

    The quick sweep trains 200 epochs (not 500) on 2,000 test points (not
    12,000), three seeds: a binomial standard error of the seed-mean test error
    of about 0.65 points. The tolerance on the published levels is 6 points
    (several standard errors, plus the shorter training); the shape is asserted
    strictly on the seed means: the widest net interpolates, and the test error
    has a local peak at an intermediate width above both the curve to its left
    (at w >= 16) and the widest net.
    """
    spec = sweeps.get_spec("mnist1d_width").sized(quick=True)
    assert len(spec.seeds) >= 3 and len(spec.grid["width"]) >= 9
    assert sum(47 <= w <= 61 for w in spec.grid["width"]) >= 2
    spec = spec.replace(model_kwargs={**spec.model_kwargs, "measures": ()})
    table = sweeps.run(spec, n_jobs=2, verbose=0).groupby("width").mean(numeric_only=True)
    widest = table.index.max()
    assert table.loc[widest, "train_error"] <= 0.01
    over = table.loc[16:]
    peak = int(over.test_error.idxmax())
    assert 16 < peak < widest
    assert over.test_error.max() - table.loc[widest, "test_error"] >= 0.03
    assert over.test_error.max() - table.loc[16:peak, "test_error"].iloc[:-1].min() >= 0.02
    assert abs(over.test_error.max() - 0.54) <= 0.06
    assert abs(table.loc[widest, "test_error"] - 0.455) <= 0.06


# -- measures per checkpoint equal direct computation ---------------------------------------


def _unit(spec, tmp_path, index=0):
    units = sweeps.plan(spec.sized(quick=False))
    unit = units[index]
    ctx = UnitContext(key=unit.key, seed=unit.seed, checkpoint_dir=tmp_path)
    return unit, ctx


def test_grokking_measures_equal_direct_computation(tmp_path):
    """Every recorded measure equals the public function on the saved model."""
    spec = _small_grokking(
        model_kwargs={**_SMALL_GROK, "save_models": True, "telescoping": "exact"}
    )
    family = get_family("grokking")
    unit, ctx = _unit(spec, tmp_path)
    rows, data = family.run(spec.sized(quick=False), dict(unit.params), list(unit.points), ctx)
    opts = spec.resolved_model_kwargs()
    p = opts["modulus"]
    X = torch.tensor(data.X_train, dtype=torch.float32)
    y = torch.as_tensor(data.labels_train)
    X_test = torch.tensor(data.X_test, dtype=torch.float32)
    Y = torch.eye(p)[y]
    seed = unit_seed(unit.seed, unit.key)
    init = make_mlp(
        2 * p, opts["width"], p, 1, activation="quadratic", bias=False, random_state=seed
    )
    for point, row in zip(unit.points, rows, strict=True):
        step = point["step"]
        model = make_mlp(2 * p, opts["width"], p, 1, activation="quadratic", bias=False)
        model.load_state_dict(torch.load(tmp_path / f"model-{step}.pt", weights_only=True))
        with torch.no_grad():
            out, out_test = model(X), model(X_test)
        assert row["train_error"] == pytest.approx(float((out.argmax(1) != y).double().mean()))
        assert row["test_error"] == pytest.approx(
            float((out_test.argmax(1) != torch.as_tensor(data.labels_test)).double().mean())
        )
        assert row["train_loss"] == pytest.approx(float(torch.nn.functional.mse_loss(out, Y)))
        norm = math.sqrt(sum(float((q.double() ** 2).sum()) for q in model.parameters()))
        assert row["weight_norm"] == pytest.approx(norm)
        # Full-batch training: the llc measure runs 2 chains of 10 + 30 SGLD steps
        # on 32-row minibatches at step size 2e-3 (the documented settings).
        measure_seed = int(np.random.SeedSequence([seed, step]).generate_state(1)[0])
        llc = ecnn.local_learning_coefficient(
            model,
            X,
            Y,
            loss_fn=torch.nn.MSELoss(),
            batch_size=min(32, len(X)),
            n_chains=2,
            n_burnin=10,
            n_samples=30,
            step_size=2e-3,
            localization=100.0,
            integrator="euler",
            random_state=measure_seed,
        )
        assert row["llc"] == pytest.approx(llc.estimate, rel=1e-9)
        assert row["llc_se"] == pytest.approx(llc.std_error, rel=1e-9)
        direct = ecnn.weight_measures(model, X, y, init_model=init)
        for name, value in direct.items():
            assert row[name] == pytest.approx(value, rel=1e-9, nan_ok=True), name
        n_eff = ecnn.effective_dimensionality(
            model, X, Y, loss_fn=torch.nn.MSELoss(), k=opts["hessian_k"], random_state=measure_seed
        )
        assert row["n_eff"] == pytest.approx(n_eff, rel=1e-6)
        pac = ecnn.pac_bayes_measures(
            model,
            X,
            y,
            init_model=init,
            n_samples=opts["sharpness_samples"],
            random_state=measure_seed,
        )
        for name, value in pac.items():
            assert row[name] == pytest.approx(value, rel=1e-9, nan_ok=True), name
        assert row["telescoping"] == "exact" and row["telescoping_m"] == 20


def test_grokking_telescoping_matches_a_plain_loop():
    """p_train / p_test equal a tracker driven by a training loop written here."""
    spec = _small_grokking(model_kwargs={**_SMALL_GROK, "telescoping": "exact", "measures": ()})
    table = sweeps.run(spec, quick=False, verbose=0)
    opts = spec.resolved_model_kwargs()
    p = opts["modulus"]
    data = datasets.modular_addition(modulus=p, train_fraction=0.4, random_state=0)
    X = torch.tensor(data.X_train, dtype=torch.float32)
    X_eval = torch.tensor(data.X_test[:20], dtype=torch.float32)
    Y = torch.eye(p)[torch.as_tensor(data.labels_train)]
    unit = sweeps.plan(spec.sized(quick=False))[0]
    seed = unit_seed(unit.seed, unit.key)
    model = make_mlp(
        2 * p, opts["width"], p, 1, activation="quadratic", bias=False, random_state=seed
    )
    opt = torch.optim.AdamW(model.parameters(), lr=opts["lr"], betas=(0.9, 0.98), weight_decay=0.5)
    tracker = ecnn.TelescopingTracker(model, X, Y, X_eval=X_eval, method="exact")
    expected = {0: (0.0, 0.0)}
    for step in range(1, 9):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X), Y).backward()
        tracker.step(opt, None)
        opt.step()
        expected[step] = (tracker.p_train(), tracker.p_test())
    for _, row in table.iterrows():
        assert (row.p_train, row.p_test) == pytest.approx(expected[row.step], rel=1e-9, abs=1e-12)
    assert (table.p_train_se == 0).all()
    assert (table.telescoping == "exact").all()
    assert (table.telescoping_gap <= _nn_measures.TRACKING_TOLERANCE).all()


def test_diverged_telescoping_is_reported_missing(monkeypatch):
    """Past the tracking tolerance the row says "diverged" and p_train / p_test are missing."""
    monkeypatch.setattr(_nn_measures, "TRACKING_TOLERANCE", -1.0)
    spec = _small_grokking(model_kwargs={**_SMALL_GROK, "telescoping": "exact", "measures": ()})
    table = sweeps.run(spec, quick=False, verbose=0)
    assert (table.telescoping == "diverged").all()
    assert table[["p_train", "p_test", "p_train_se", "p_test_se"]].isna().all().all()
    assert table.telescoping_gap.notna().all()


def test_tracker_left_at_is_the_first_step_past_the_tolerance(monkeypatch):
    """Oracle: the recorded gaps of the same (deterministic) run, scanned by hand.

    With the tolerance set between two of the recorded gaps, every row of the
    unit names the first recorded step whose gap exceeds it, rows before it
    report p_train, p_test and their ratio, and rows from it on do not.
    Within the tolerance the column is missing and the exact ratio is
    p_test / p_train with no error (NaN at initialisation, where p_train = 0).
    """
    spec = _small_grokking(model_kwargs={**_SMALL_GROK, "telescoping": "exact", "measures": ()})
    table = sweeps.run(spec, quick=False, verbose=0).sort_values("step")
    assert table.tracker_left_at.isna().all()
    trained = table[table.step > 0]  # p_train is 0 at initialisation: no ratio there
    np.testing.assert_allclose(trained.p_ratio, trained.p_test / trained.p_train, rtol=1e-12)
    assert (trained.p_ratio_se == 0).all() and table.p_ratio.iloc[0] != table.p_ratio.iloc[0]
    gaps = np.sort(table.telescoping_gap.unique())
    assert gaps[-1] > gaps[-2] > 0
    tolerance = (gaps[-2] + gaps[-1]) / 2
    first = int(table.step[table.telescoping_gap > tolerance].min())
    monkeypatch.setattr(_nn_measures, "TRACKING_TOLERANCE", tolerance)
    left = sweeps.run(spec, quick=False, verbose=0).sort_values("step")
    assert (left.tracker_left_at == first).all()
    before, after = left[left.step < first], left[left.step >= first]
    assert before[["p_train", "p_test"]].notna().all().all()
    assert before.loc[before.step > 0, "p_ratio"].notna().all()
    assert after.loc[after.step == first, ["p_train", "p_ratio"]].isna().all().all()


def test_tracker_left_at_scans_the_rows_in_time_order():
    rows = {10: {"telescoping_gap": 0.5}, 0: {"telescoping_gap": 0.0}, 5: {"telescoping_gap": 0.01}}
    assert _nn_measures.tracker_left_at(rows) == 10
    rows[7] = {"telescoping_gap": float("nan")}
    assert _nn_measures.tracker_left_at(rows) == 7
    assert _nn_measures.tracker_left_at({0: {"telescoping_gap": 0.0}}) is None
    assert _nn_measures.tracker_left_at({0: {}, 3: {}}) is None


def test_mnist1d_rows_per_epoch_and_cnn_option():
    """Rows per (width, epoch); the Conv1d option runs; errors equal the saved model's."""
    spec = sweeps.get_spec("mnist1d_epochs").replace(
        n_train=200,
        n_test=100,
        seeds=(0,),
        grid={"width": (4, 8), "epoch": (0, 1, 3)},
        model_kwargs={"architecture": "cnn", "measures": ("weights",), "batch_size": 50},
    )
    table = sweeps.run(spec, quick=False, verbose=0)
    assert table[["width", "epoch"]].values.tolist() == [
        [4, 0],
        [4, 1],
        [4, 3],
        [8, 0],
        [8, 1],
        [8, 3],
    ]
    assert table.telescoping.eq("off").all() and table.p_train.isna().all()
    assert table.groupby("width").n_params.nunique().eq(1).all()
    # Epoch 0 is the initial network: zero distance to it.
    assert (table.loc[table.epoch == 0, "fro_dist"] == 0).all()
    assert (table.loc[table.epoch > 0, "fro_dist"] > 0).all()


# -- determinism and resume ---------------------------------------------------------------


def test_same_numbers_with_one_and_two_jobs(tmp_path):
    spec = _small_grokking(
        grid={"weight_decay": (0.0, 0.5), "train_fraction": (0.4,), "step": (0, 4)}
    )
    one = sweeps.run(spec, quick=False, verbose=0)
    two = sweeps.run(spec, quick=False, n_jobs=2, verbose=0, out=tmp_path / "two.csv")
    pd.testing.assert_frame_equal(one, two)
    assert one.weight_decay.tolist() == [0.0, 0.0, 0.5, 0.5]


class _Killed(Exception):
    pass


def test_a_killed_unit_resumes_from_its_checkpoint(tmp_path):
    """A unit stopped mid-training resumes from the saved state to the same numbers."""
    spec = _small_grokking(
        grid={"weight_decay": (0.5,), "train_fraction": (0.4,), "step": (0, 2, 5, 12)},
        model_kwargs={**_SMALL_GROK, "checkpoint_every": 1},
    )
    family = get_family("grokking")
    sized = spec.sized(quick=False)
    unit, _ = _unit(spec, tmp_path)
    whole, _ = family.run(sized, dict(unit.params), list(unit.points), UnitContext(unit.key, 0))

    seen = []

    def stop_after_seven(n):
        seen.append(n)
        if sum(seen) == 7:
            raise _Killed

    ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=stop_after_seven)
    with pytest.raises(_Killed):
        family.run(sized, dict(unit.params), list(unit.points), ctx)
    assert (tmp_path / "checkpoint.pt").exists()
    resumed_from = []
    ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=resumed_from.append)
    rows, _ = family.run(sized, dict(unit.params), list(unit.points), ctx)
    # The first call reports the steps already done, then one per remaining step.
    assert resumed_from[0] == 7 and sum(resumed_from) == 12
    pd.testing.assert_frame_equal(pd.DataFrame(rows), pd.DataFrame(whole))


def test_checkpoint_loads_with_weights_only(tmp_path):
    spec = _small_grokking(model_kwargs={**_SMALL_GROK, "checkpoint_every": 1})
    unit, ctx = _unit(spec, tmp_path)

    def stop(n):
        raise _Killed

    ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=stop)
    with pytest.raises(_Killed):
        get_family("grokking").run(
            spec.sized(quick=False), dict(unit.params), list(unit.points), ctx
        )
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(state) >= {"model", "optimizer", "order", "torch_rng", "tracker", "rows", "done"}


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"measures": ("nope",)}, "Unknown measure"),
        ({"telescoping": "sometimes"}, "telescoping must be one of"),
        ({"loss": "cross_entropy"}, "telescoping needs loss='mse'"),
        ({"n_probes": 1}, "n_probes"),
        ({"architecture": "rnn"}, "architecture"),
    ],
)
def test_bad_grokking_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        _small_grokking(model_kwargs={**_SMALL_GROK, **options})


def test_bad_grids_raise():
    with pytest.raises(ValueError, match="train_fraction values must be in"):
        _small_grokking(grid={"weight_decay": (0.5,), "train_fraction": (1.5,), "step": (1,)})
    with pytest.raises(ValueError, match=r"grid\['weight_decay'\] values must be finite numbers"):
        _small_grokking(grid={"weight_decay": (-1.0,), "train_fraction": (0.3,), "step": (1,)})
    with pytest.raises(ValueError, match="batch_size"):
        sweeps.get_spec("mnist1d_width").replace(n_train=50, model_kwargs={"batch_size": 100})


def test_transformer_option_with_cross_entropy():
    spec = _small_grokking(
        model_kwargs={
            **_SMALL_GROK,
            "architecture": "transformer",
            "loss": "cross_entropy",
            "telescoping": "off",
            "d_model": 8,
            "n_heads": 2,
        }
    )
    table = sweeps.run(spec, quick=False, verbose=0)
    assert table.telescoping.eq("off").all()
    assert table.train_mse.isna().all() and table.param_norm.notna().all()
    assert table.spectral_complexity.isna().all()  # needs a feed-forward chain


def test_modular_addition_dataset():
    data = datasets.modular_addition(modulus=7, train_fraction=0.3, random_state=1)
    pairs = np.concatenate([data.metadata["pairs_train"], data.metadata["pairs_test"]])
    # Every pair exactly once, the label their sum mod 7, the inputs their one-hot codes.
    assert sorted(map(tuple, pairs.tolist())) == [(a, b) for a in range(7) for b in range(7)]
    assert data.n_train == round(0.3 * 49)
    assert np.array_equal(data.labels_train, data.metadata["pairs_train"].sum(1) % 7)
    assert np.array_equal(data.X_train.argmax(1), data.metadata["pairs_train"][:, 0])
    assert np.array_equal(data.X_train[:, 7:].argmax(1), data.metadata["pairs_train"][:, 1])
    smaller = datasets.modular_addition(modulus=7, train_fraction=0.2, random_state=1)
    assert np.array_equal(smaller.metadata["pairs_train"], data.metadata["pairs_train"][:10])
    with pytest.raises(ValueError, match="leaves no test pair"):
        datasets.modular_addition(modulus=3, n_train=9)


def test_llc_settings_follow_the_training_batch():
    """Minibatch training runs 2 Euler chains of 20 + 40 steps (step size 1e-3, localization
    100) on its batch; full batch 2 chains of 10 + 30 steps on 32 rows at step size 2e-3;
    never more rows than n."""
    from effcomplexity.sweeps.families._nn_measures import llc_settings

    short = {
        "n_chains": 2,
        "n_burnin": 20,
        "n_samples": 40,
        "step_size": 1e-3,
        "localization": 100.0,
        "integrator": "euler",
    }
    assert llc_settings(100, 4000) == {**short, "batch_size": 100}
    assert llc_settings(100, 60) == {**short, "batch_size": 60}
    full = {**short, "batch_size": 32, "n_burnin": 10, "n_samples": 30, "step_size": 2e-3}
    assert llc_settings(None, 1882) == full
    assert llc_settings(None, 20) == {**full, "batch_size": 20}


# -- damaged and foreign checkpoints -------------------------------------------------------
# Oracle: the same unit run in one piece, without any checkpoint.


def _stopped_unit(tmp_path, steps: int = 5, stamp=None):
    """A grokking unit stopped after ``steps`` steps, its checkpoint left in ``tmp_path``."""
    from effcomplexity.sweeps.store import stamped

    spec = _small_grokking(
        grid={"weight_decay": (0.5,), "train_fraction": (0.4,), "step": (0, 2, 5, 12)},
        model_kwargs={**_SMALL_GROK, "checkpoint_every": 1},
    )
    sized = spec.sized(quick=False)
    unit = sweeps.plan(sized)[0]
    family = get_family("grokking")
    whole, _ = family.run(sized, dict(unit.params), list(unit.points), UnitContext(unit.key, 0))
    seen = []

    def stop(n):
        seen.append(n)
        if sum(seen) == steps:
            raise _Killed

    with stamped(stamp), pytest.raises(_Killed):
        ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=stop)
        family.run(sized, dict(unit.params), list(unit.points), ctx)
    assert (tmp_path / "checkpoint.pt").is_file()

    def rerun(stamp=None):
        progress = []
        ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=progress.append)
        with stamped(stamp):
            rows, _ = family.run(sized, dict(unit.params), list(unit.points), ctx)
        return pd.DataFrame(rows), progress

    return pd.DataFrame(whole), rerun


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "not a state"])
def test_a_damaged_checkpoint_is_set_aside_and_the_unit_recomputed(tmp_path, caplog, damage):
    whole, rerun = _stopped_unit(tmp_path)
    path = tmp_path / "checkpoint.pt"
    payload = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(payload[: len(payload) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        torch.save({"weights": torch.zeros(3)}, path)  # loads, but is no training state
    damaged = path.read_bytes()
    with caplog.at_level("WARNING"):
        rows, progress = rerun()
    pd.testing.assert_frame_equal(rows, whole)
    assert progress[0] == 1  # trained from the start, not resumed
    assert (tmp_path / "checkpoint.pt.corrupt").read_bytes() == damaged
    assert "is damaged" in caplog.text and "set aside as checkpoint.pt.corrupt" in caplog.text
    # The next rerun finds the good checkpoint the recomputation wrote, not the damaged one.
    caplog.clear()
    again, progress = rerun()
    pd.testing.assert_frame_equal(again, whole)
    assert progress[0] == 12 and "damaged" not in caplog.text


def test_a_checkpoint_that_loads_but_does_not_fit_is_set_aside(tmp_path, caplog):
    whole, rerun = _stopped_unit(tmp_path)
    path = tmp_path / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    state["model"] = {name: value[:1] for name, value in state["model"].items()}  # wrong shapes
    torch.save(state, path)
    with caplog.at_level("WARNING"):
        rows, progress = rerun()
    pd.testing.assert_frame_equal(rows, whole)
    assert progress[0] == 1 and "does not fit this unit" in caplog.text
    assert (tmp_path / "checkpoint.pt.corrupt").is_file()


def test_a_checkpoint_of_another_run_is_ignored(tmp_path, caplog):
    old = {"version": "x", "sweep": "grokking", "fingerprint": "f" * 64, "unit": "u", "run": "a"}
    whole, rerun = _stopped_unit(tmp_path, stamp=old)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["stamp"] == old
    # Resumed by the run that wrote it.
    rows, progress = rerun(stamp=old)
    assert progress[0] == 5
    pd.testing.assert_frame_equal(rows, whole)
    # Not by another run: warned, ignored, trained from the start.
    (tmp_path / "other").mkdir()
    whole, rerun = _stopped_unit(tmp_path / "other", stamp=old)
    with caplog.at_level("WARNING"):
        rows, progress = rerun(stamp={**old, "run": "b"})
    assert progress[0] == 1
    assert "Ignoring checkpoint" in caplog.text and "'run': 'a'" in caplog.text
    pd.testing.assert_frame_equal(rows, whole)


def test_checkpoints_are_written_atomically_and_flushed(tmp_path, monkeypatch):
    """Every checkpoint is fsynced, then renamed into place, then its folder fsynced."""
    import os as _os

    events = []
    real_fsync, real_replace = _os.fsync, _os.replace

    def fsync(fd):
        events.append(("fsync", _os.path.basename(_os.readlink(f"/proc/self/fd/{fd}"))))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", _os.path.basename(dst)))
        return real_replace(src, dst)

    if not _os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc to name file descriptors")
    monkeypatch.setattr(_os, "fsync", fsync)
    monkeypatch.setattr(_os, "replace", replace)
    _stopped_unit(tmp_path, steps=1)
    monkeypatch.undo()
    saves = [i for i, e in enumerate(events) if e == ("replace", "checkpoint.pt")]
    assert saves
    for i in saves:
        assert events[i - 1][0] == "fsync" and events[i - 1][1].startswith(".checkpoint.pt.tmp-")
        assert events[i + 1] == ("fsync", tmp_path.name)


# -- workers of a replaced run --------------------------------------------------------------
# Oracle: the new spec run from scratch without ``out``.


def _two_unit_grokking(lr: float) -> sweeps.SweepSpec:
    return _small_grokking(
        grid={"weight_decay": (0.0, 0.5), "train_fraction": (0.4,), "step": (0, 4, 9)},
        model_kwargs={**_SMALL_GROK, "checkpoint_every": 1, "measures": ("weights",), "lr": lr},
    ).sized(quick=False)


def test_workers_of_a_replaced_run_cannot_write_into_the_new_one(tmp_path, caplog, monkeypatch):
    """A run killed mid-unit, then replaced (``overwrite=True``, another ``lr``) while its
    worker lives on: the worker can no longer write, and its checkpoint is not resumed."""
    import json

    from effcomplexity.sweeps import runner
    from effcomplexity.sweeps.families._nn_training import RunReplacedError
    from effcomplexity.sweeps.store import stamped

    old, new = _two_unit_grokking(1e-3), _two_unit_grokking(1e-2)
    out = tmp_path / "g.csv"
    original = runner.run_unit

    def killed(spec, seed, params, points, key, folder, progress=None):
        def kill(n, seen=[]):  # noqa: B006  (one counter for the call)
            seen.append(n)
            if sum(seen) >= 3:
                raise KeyboardInterrupt  # not caught by the runner: like SIGKILL, no cleanup

        return original(spec, seed, params, points, key, folder, kill)

    monkeypatch.setattr(runner, "run_unit", killed)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(old, quick=False, out=out, verbose=0)
    run_a = json.loads((tmp_path / "g.csv.parts" / "manifest.json").read_text())["run"]
    folder_a = next((tmp_path / "g.csv.parts" / "checkpoints" / run_a).iterdir())
    stale = (folder_a / "checkpoint.pt").read_bytes()
    stamp_a = torch.load(folder_a / "checkpoint.pt", weights_only=True)["stamp"]
    assert stamp_a["run"] == run_a and stamp_a["fingerprint"] == old.fingerprint()
    unit_a = sweeps.plan(old)[0]

    def with_orphan(spec, seed, params, points, key, folder, progress=None):
        if key == unit_a.key and not (folder / "checkpoint.pt").exists():
            # The old run's worker, still training after the new run took over: it can
            # neither start a unit nor save its next checkpoint ...
            with pytest.raises(RuntimeError, match="another run replaced"):
                runner._work(old, unit_a, 1, (folder_a, stamp_a))
            ctx = UnitContext(unit_a.key, unit_a.seed, checkpoint_dir=folder_a)
            with stamped(stamp_a), pytest.raises(RunReplacedError, match="another run"):
                get_family("grokking").run(old, dict(unit_a.params), list(unit_a.points), ctx)
            assert not folder_a.parent.exists()
            # ... and a checkpoint it wrote where the new run looks is ignored.
            folder.mkdir(exist_ok=True)
            (folder / "checkpoint.pt").write_bytes(stale)
        return original(spec, seed, params, points, key, folder, progress)

    monkeypatch.setattr(runner, "run_unit", with_orphan)
    with caplog.at_level("WARNING"):
        table = sweeps.run(new, quick=False, out=out, verbose=0, overwrite=True)
    assert "Ignoring checkpoint" in caplog.text and run_a in caplog.text
    monkeypatch.undo()
    pd.testing.assert_frame_equal(table, sweeps.run(new, quick=False, verbose=0))
    assert not (tmp_path / "g.csv.parts").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.csv", "g.csv.manifest.json"]


@pytest.mark.slow
def test_sigkilled_two_job_sweep_rerun_with_another_lr_is_not_polluted(tmp_path):
    """The case as it happens: SIGKILL a two-job network sweep, rerun the same ``out``
    with another ``lr`` and ``overwrite=True`` while its workers still train (about a
    minute on 2 busy cores, mostly process start-up; the test above is its quick twin)."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time
    from pathlib import Path

    psutil = pytest.importorskip("psutil")
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "g.csv"

    def spec(lr):
        return _small_grokking(
            grid={"weight_decay": (0.0, 0.5), "train_fraction": (0.4,), "step": (0, 300, 600)},
            model_kwargs={**_SMALL_GROK, "measures": ("weights",), "lr": lr, "checkpoint_every": 5},
        ).sized(quick=False)

    script = textwrap.dedent(
        f"""
        from effcomplexity import sweeps
        spec = sweeps.get_spec("grokking").replace(
            grid={dict(spec(1e-3).grid)!r}, model_kwargs={dict(spec(1e-3).model_kwargs)!r})
        sweeps.run(spec, quick=False, out={str(out)!r}, n_jobs=2, verbose=0)
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=repo, env=env)
    checkpoints = tmp_path / "g.csv.parts" / "checkpoints"
    workers = []
    try:
        deadline = time.monotonic() + 240
        while len(list(checkpoints.rglob("checkpoint.pt"))) < 2:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep wrote no checkpoints"
            time.sleep(0.02)
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert any(w.is_running() for w in workers), "no worker outlived the kill"
        table = sweeps.run(spec(1e-2), quick=False, out=out, verbose=0, overwrite=True)
        time.sleep(1)  # time for a surviving worker to try its next write
        listing = sorted(p.name for p in tmp_path.iterdir())
    finally:
        for process in [*workers, psutil.Process(proc.pid)] if proc.poll() is None else workers:
            with contextlib.suppress(psutil.Error):
                process.kill()
    pd.testing.assert_frame_equal(table, sweeps.run(spec(1e-2), quick=False, verbose=0))
    assert listing == ["g.csv", "g.csv.manifest.json"]


# -- the network measure registry -------------------------------------------------------


def test_weight_columns_are_the_weight_measures():
    """The columns are written out (no torch to list them); oracle: the measure's own names."""
    from effcomplexity.measures._nn.norms import MEASURE_NAMES

    assert _nn_measures.WEIGHT_COLUMNS == MEASURE_NAMES
    assert list(_nn_measures.get_measure("weights").columns) == list(MEASURE_NAMES)


def test_measure_registry_orders_defaults_and_columns():
    from effcomplexity.sweeps.families._nn_problem import NETWORK_DEFAULTS

    names = ["weights", "sharpness", "hessian", "llc"]
    assert _nn_measures.measure_names() == names
    assert NETWORK_DEFAULTS["measures"] == tuple(names)
    columns = list(_nn_measures.BASE_COLUMNS)
    for name in names:
        columns += list(_nn_measures.get_measure(name).columns)
    assert list(get_family("mnist1d").extra_columns) == columns


def test_register_measure_checks_its_declaration(monkeypatch):
    monkeypatch.setattr(_nn_measures, "_REGISTRY", dict(_nn_measures._REGISTRY))
    NetworkMeasure = _nn_measures.NetworkMeasure
    register = _nn_measures.register_measure

    def compute(cp):
        return {}

    with pytest.raises(TypeError, match="NetworkMeasure instance"):
        register({"name": "x"})
    with pytest.raises(ValueError, match="non-empty string name"):
        register(NetworkMeasure("", {"x": "float64"}, compute))
    with pytest.raises(ValueError, match="fills no column"):
        register(NetworkMeasure("x", {}, compute))
    with pytest.raises(ValueError, match="dtypes must be in"):
        register(NetworkMeasure("x", {"x": "float32"}, compute))
    for taken in ("n_eff", "train_loss", "p_test"):
        with pytest.raises(ValueError, match=f"redeclares column.*{taken}"):
            register(NetworkMeasure("x", {taken: "float64"}, compute))
    with pytest.raises(ValueError, match="already registered"):
        register(NetworkMeasure("llc", {"llc2": "float64"}, compute))
    llc = _nn_measures.get_measure("llc")
    assert register(llc) is llc
    extra = register(NetworkMeasure("extra", {"extra": "float64"}, compute))
    assert _nn_measures.measure_names()[-1] == "extra"
    assert _nn_measures.get_measure("extra") is extra
    with pytest.raises(ValueError, match=r"Unknown network measure 'nope'.*'weights'"):
        _nn_measures.get_measure("nope")
