"""Network measures in the user's own loop: effcomplexity.nn.measure and Monitor.

Oracles: the individual measure functions called directly on the same network
with the same settings and seed (the row must hold their values); errors and
losses computed plainly here with torch; the telescoping tracker's own
``p_train`` / ``p_test``; and, for the table, ``illusion_test`` and
``training_curves`` on a table built by hand from values computed here.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from effcomplexity import analysis, plotting
from effcomplexity import nn as ecnn
from effcomplexity.sweeps.families._nn_measures import llc_settings

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _data(seed=0, n=40, m=20, d=4, k=3):
    g = torch.Generator().manual_seed(seed)
    X, X_test = torch.randn(n, d, generator=g), torch.randn(m, d, generator=g)
    w = torch.randn(d, k, generator=g)
    return X, (X @ w).argmax(1), X_test, (X_test @ w).argmax(1)


def _model(seed=0, d=4, k=3, width=8):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, k))


def _train(model, X, y, steps, lr=0.5, callback=None):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(1, steps + 1):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        if callback is not None:
            callback(step)


def _plain_errors(model, X, y, X_test, y_test) -> dict:
    with torch.no_grad():
        out, out_test = model(X), model(X_test)
    return {
        "train_error": np.mean(out.argmax(1).numpy() != y.numpy()),
        "test_error": np.mean(out_test.argmax(1).numpy() != y_test.numpy()),
        "train_loss": float(nn.functional.cross_entropy(out, y)),
        "test_loss": float(nn.functional.cross_entropy(out_test, y_test)),
        "weight_norm": float(
            torch.sqrt(sum((p.double() ** 2).sum() for p in model.parameters())).detach()
        ),
    }


def test_measure_row_equals_the_measure_functions():
    X, y, X_test, y_test = _data()
    model = _model()
    init = copy.deepcopy(model)
    _train(model, X, y, 60)
    row = ecnn.measure(
        model, X, y, X_test=X_test, y_test=y_test, init_model=init, random_state=7, hessian_k=5
    )
    assert isinstance(row, pd.Series)
    # Oracle: errors, losses and the weight norm computed plainly here.
    for name, value in _plain_errors(model, X, y, X_test, y_test).items():
        assert row[name] == pytest.approx(value, rel=1e-6), name
    assert np.isnan(row["train_mse"])  # cross-entropy: no MSE
    assert row["n_params"] == sum(p.numel() for p in model.parameters())
    assert (row["n_train"], row["n_test"]) == (40, 20)
    # Oracle: each measure function called directly with the sweeps' settings and the seed.
    weights = ecnn.weight_measures(model, X, y, init_model=init)
    for name, value in weights.items():
        np.testing.assert_allclose(row[name], value, rtol=1e-12, err_msg=name)
    pac = ecnn.pac_bayes_measures(model, X, y, init_model=init, n_samples=5, random_state=7)
    for name, value in pac.items():
        np.testing.assert_allclose(row[name], value, rtol=1e-12, err_msg=name)
    loss_fn = nn.CrossEntropyLoss()
    n_eff = ecnn.effective_dimensionality(model, X, y, loss_fn=loss_fn, z=1.0, k=5, random_state=7)
    assert row["n_eff"] == pytest.approx(n_eff, rel=1e-12)
    llc = ecnn.local_learning_coefficient(
        model, X, y, loss_fn=loss_fn, random_state=7, **llc_settings(None, len(X))
    )
    assert row["llc"] == pytest.approx(llc.estimate, rel=1e-12)
    assert row["llc_se"] == pytest.approx(llc.std_error, rel=1e-12)
    assert row["telescoping"] == "off" and "p_test" not in row


def test_measure_with_mse_and_a_tracker_reports_the_trackers_p():
    X, y, X_test, y_test = _data(seed=1, n=24, m=10)
    model = _model(seed=1)
    targets = nn.functional.one_hot(y, 3).float()
    tracker = ecnn.TelescopingTracker(model, X, targets, X_eval=X_test, method="exact")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(15):
        opt.zero_grad()
        nn.functional.mse_loss(model(X), targets).backward()
        tracker.step(opt)
        opt.step()
    row = ecnn.measure(
        model, X, y, X_test=X_test, y_test=y_test, loss="mse", tracker=tracker, measures=[]
    )
    # Oracle: the tracker's own effective parameters.
    assert row["p_train"] == pytest.approx(tracker.p_train(), rel=1e-12)
    assert row["p_test"] == pytest.approx(tracker.p_test(), rel=1e-12)
    assert row["telescoping"] == "exact" and row["telescoping_m"] == 10
    # Oracle: the relative RMS gap of the linearised eval predictions, computed here.
    with torch.no_grad():
        net = model(X_test).double().numpy()
    lin = tracker.predictions("eval").reshape(net.shape)
    gap = np.sqrt(np.mean((lin - net) ** 2)) / np.sqrt(np.mean(net**2))
    assert row["telescoping_gap"] == pytest.approx(gap, rel=1e-9)
    # Oracle: the MSE against one-hot rows, summed over outputs, mean over rows.
    with torch.no_grad():
        mse = float(((model(X) - targets) ** 2).sum(1).mean())
    assert row["train_mse"] == pytest.approx(mse, rel=1e-6)


def _monitored_run(every=5, steps=40):
    X, y, X_test, y_test = _data(seed=2)
    model = _model(seed=2)
    init = copy.deepcopy(model)
    mon = ecnn.Monitor(X, y, X_test, y_test, init_model=init, measures=["weights"], every=every)
    snapshots = {}

    def callback(step):
        if mon.record(model, step=step, lr=0.5) is not None:
            snapshots[step] = copy.deepcopy(model)

    _train(model, X, y, steps, callback=callback)
    return mon, snapshots, init, (X, y, X_test, y_test)


def test_monitor_table_equals_direct_measures_at_each_checkpoint():
    mon, snapshots, init, (X, y, X_test, y_test) = _monitored_run()
    table = mon.table()
    assert table["step"].tolist() == [5, 10, 15, 20, 25, 30, 35, 40] == sorted(snapshots)
    assert (table["axis"] == "step").all() and (table["seed"] == 0).all()
    assert (table["lr"] == 0.5).all()
    assert str(table["seed"].dtype) == "Int64" and str(table["p_test"].dtype) == "float64"
    for i, step in enumerate(table["step"]):
        snap = snapshots[step]
        # Oracle: plain errors and weight_measures called directly on the snapshot.
        for name, value in _plain_errors(snap, X, y, X_test, y_test).items():
            assert table.loc[i, name] == pytest.approx(value, rel=1e-6), (step, name)
        for name, value in ecnn.weight_measures(snap, X, y, init_model=init).items():
            np.testing.assert_allclose(table.loc[i, name], value, rtol=1e-12, err_msg=name)


def test_analysis_and_plotting_read_the_monitor_table():
    mon, snapshots, _, (X, y, X_test, y_test) = _monitored_run(every=2, steps=24)
    table = mon.table()
    # Oracle: a table built by hand from values computed here.
    rows = []
    for step, snap in sorted(snapshots.items()):
        plain = _plain_errors(snap, X, y, X_test, y_test)
        norm = float(ecnn.weight_measures(snap, measures=["param_norm"])["param_norm"])
        rows.append(
            {"seed": 0, "axis": "step", "step": step, "n_params": 67, **plain, "param_norm": norm}
        )
    hand = pd.DataFrame(rows)
    kwargs = {"measures": ["step", "param_norm"], "n_perm": 0}
    got = analysis.illusion_test(table, **kwargs)
    want = analysis.illusion_test(hand, **kwargs)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-6)
    fig = plotting.training_curves(table, x="step", measures=["param_norm", "fro_dist"])
    assert [ax.get_xlabel() for ax in fig.axes[:1]] == ["step"]
    assert len(fig.axes) == 4  # two panels, each with its twin axis


def test_monitor_call_and_skips():
    X, y, X_test, y_test = _data()
    model = _model()
    mon = ecnn.Monitor(X, y, measures=[], every=3, time="epoch", seed=4, sweep="mine")
    assert mon(1, model) is None  # not a multiple of every
    row = mon(3, model)
    assert row["epoch"] == 3 and row["seed"] == 4 and row["sweep"] == "mine"
    table = mon.table()
    assert list(table[["axis", "epoch"]].iloc[0]) == ["epoch", 3]
    assert table["test_error"].isna().all() and table["n_test"].iloc[0] == 0
    assert len(mon) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y": np.linspace(0, 1, 40)}, ValueError, "integer class labels"),
        ({"y": np.zeros(39, dtype=int)}, ValueError, "39 labels but X has 40"),
        ({"y": np.full(40, 5)}, ValueError, "0..2"),
        ({"X_test": np.zeros((3, 4))}, ValueError, "together"),
        ({"measures": ["nope"]}, ValueError, "Unknown network measure"),
        ({"measures": "weights"}, ValueError, "sequence of names"),
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"tracker": object()}, TypeError, "TelescopingTracker"),
        ({"X": np.full((40, 4), np.nan)}, ValueError, "NaN or infinite"),
        ({"model": "net"}, TypeError, "torch.nn.Module"),
    ],
)
def test_measure_bad_input(kwargs, error, match):
    X, y, _, _ = _data()
    args = {"model": _model(), "X": X, "y": y, **kwargs}
    model, X, y = args.pop("model"), args.pop("X"), args.pop("y")
    with pytest.raises(error, match=match):
        ecnn.measure(model, X, y, **args)


def test_measure_rejects_a_tracker_on_other_rows_and_a_regressor():
    X, y, _, _ = _data()
    model = _model()
    tracker = ecnn.TelescopingTracker(model, X[:10])
    with pytest.raises(ValueError, match="10 training rows but X has 40"):
        ecnn.measure(model, X, y, tracker=tracker, measures=[])
    broken = _model()
    with torch.no_grad():
        broken[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="training diverged"):
        ecnn.measure(broken, X, y, measures=[])
    with pytest.raises(ValueError, match=r"shape \(n, K\)"):
        ecnn.measure(nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)), X, y, measures=[])


def test_monitor_bad_steps_and_columns():
    X, y, _, _ = _data()
    model = _model()
    mon = ecnn.Monitor(X, y, measures=[])
    mon.record(model, step=2)
    with pytest.raises(ValueError, match="not after the last recorded"):
        mon.record(model, step=2)
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        mon.record(model, step=-1)
    with pytest.raises(ValueError, match="clash"):
        mon.record(model, step=3, train_error=0.0)
    with pytest.raises(ValueError, match="every must be an integer"):
        ecnn.Monitor(X, y, every=0)
    with pytest.raises(ValueError, match="time must be a column name"):
        ecnn.Monitor(X, y, time="seed")


def test_all_leaves_out_a_measure_the_architecture_lacks(caplog):
    X, y, _, _ = _data(n=20)
    # A BatchNorm after the ReLU cannot be folded into a layer: weight_measures raises.
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 3)).eval()
    with pytest.raises(TypeError):
        ecnn.measure(model, X, y, measures=["weights"])
    with caplog.at_level("INFO"):
        row = ecnn.measure(model, X, y, hessian_k=2, sharpness_samples=1)
    assert "params" not in row and "does not apply" in caplog.text
    # Oracle: the measures that do apply equal their functions called directly.
    n_eff = ecnn.effective_dimensionality(
        model, X, y, loss_fn=nn.CrossEntropyLoss(), z=1.0, k=2, random_state=0
    )
    assert row["n_eff"] == pytest.approx(n_eff, rel=1e-12)
