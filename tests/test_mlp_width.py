"""The ``mlp_width`` family and the ``telescoping_width`` spec.

Oracles: a plain training loop written in the test, with its own
``TelescopingTracker``, numpy's errors on the network it trains, and torch's
own count of the network's parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from effcomplexity import datasets, sweeps
from effcomplexity import nn as ecnn
from effcomplexity.models.torch_models import make_mlp
from effcomplexity.sweeps.families import _nn_measures, families, get_family, unit_seed
from effcomplexity.sweeps.families.mlp_width import mlp_parameters

# Tiny sizes: seconds on one core.
_DATA = {"digits": (3, 5), "label_noise_kind": "flip", "source": "subset"}
_OPTIONS = {"batch_size": 20, "lr": 0.01, "momentum": 0.9, "telescoping_eval": 10, "measures": ()}


def _tiny(**changes) -> sweeps.SweepSpec:
    fields = {
        "name": "tiny_width",
        "family": "mlp_width",
        "dataset": "mnist",
        "dataset_kwargs": _DATA,
        "grid": {"width": (3, 8), "epoch": (0, 1, 3)},
        "n_train": 60,
        "n_test": 30,
        "label_noise": 0.2,
        "model_kwargs": _OPTIONS,
    }
    return sweeps.SweepSpec(**{**fields, **changes})


def test_rows_match_a_plain_training_loop(monkeypatch):
    """Errors, MSE, p_train and p_test equal a loop and tracker written here."""
    # Three steps from a near-zero output leave a large relative gap at width 3; the
    # comparison is of the recursion itself, so every row reports p.
    monkeypatch.setattr(_nn_measures, "TRACKING_TOLERANCE", np.inf)
    spec = _tiny(model_kwargs={**_OPTIONS, "telescoping": "exact"})
    table = sweeps.run(spec, verbose=0)
    data = datasets.mnist(60, 30, random_state=0, label_noise=0.2, **_DATA)
    X = torch.tensor(data.X_train, dtype=torch.float32)
    X_test = torch.tensor(data.X_test, dtype=torch.float32)
    Y = torch.eye(2)[torch.as_tensor(data.labels_train)]
    for unit in sweeps.plan(spec):
        width = unit.params["width"]
        seed = unit_seed(unit.seed, unit.key)
        torch.manual_seed(seed)
        model = make_mlp(784, width, 2, 1, random_state=seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        tracker = ecnn.TelescopingTracker(model, X, Y, X_eval=X_test[:10], method="exact")
        order = torch.Generator().manual_seed(seed)
        expected = {0: (0.0, 0.0)}
        for epoch in range(1, 4):
            for idx in torch.randperm(60, generator=order).split(20):
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(X[idx]), Y[idx]).backward()
                tracker.step(opt, idx)
                opt.step()
            expected[epoch] = (tracker.p_train(), tracker.p_test())
        rows = table[table.width == width].set_index("epoch")
        for epoch in rows.index:
            p_train, p_test = expected[epoch]
            assert rows.loc[epoch, "p_train"] == pytest.approx(p_train, rel=1e-9, abs=1e-12)
            assert rows.loc[epoch, "p_test"] == pytest.approx(p_test, rel=1e-9, abs=1e-12)
        with torch.no_grad():
            out = model(X_test).numpy()
        # numpy on the loop's network: 0-1 error and squared error summed over the outputs.
        onehot = np.eye(2)[data.labels_test]
        assert rows.loc[3, "test_error"] == pytest.approx(
            np.mean(out.argmax(axis=1) != data.labels_test)
        )
        assert rows.loc[3, "test_mse"] == pytest.approx(
            np.mean(np.sum((out - onehot) ** 2, axis=1)), rel=1e-5
        )
        # torch's own parameter count.
        assert rows.loc[3, "n_params"] == sum(p.numel() for p in model.parameters())
    assert (table.telescoping == "exact").all()


def test_probe_rows_carry_standard_errors_and_the_flipped_labels():
    spec = _tiny(grid={"width": (8, 16), "epoch": (0, 1, 3)})
    table = sweeps.run(spec.replace(model_kwargs={**_OPTIONS, "n_probes": 4}), verbose=0)
    trained = table[table.epoch > 0]
    assert (table.telescoping == "probe").all() and (table.telescoping_m == 10).all()
    assert (trained[["p_train_se", "p_test_se"]] > 0).all().all()
    assert ((trained.p_train > 0) & (trained.p_train < 60)).all()
    assert table[["weight_norm", "train_mse", "train_error"]].notna().all().all()
    assert (table.n_train == 60).all() and (table.dataset == "mnist").all()


def test_defaults_are_the_telescoping_set_up():
    family = get_family("mlp_width")
    assert family.defaults["loss"] == "mse" and family.defaults["depth"] == 1
    assert family.defaults["telescoping"] == "probe" and family.defaults["n_probes"] >= 10
    assert "mlp_width" in families()


@pytest.mark.parametrize(("depth", "n_features"), [(1, 784), (2, 64)])
def test_parameter_count_and_cost_use_the_dataset_inputs(depth, n_features):
    # Oracle: torch's count of make_mlp's parameters.
    model = make_mlp(n_features, 7, 3, depth)
    assert mlp_parameters(n_features, 7, 3, depth) == sum(p.numel() for p in model.parameters())
    dataset = "mnist" if n_features == 784 else "digits"
    kwargs = _DATA if dataset == "mnist" else {}
    spec = _tiny(dataset=dataset, dataset_kwargs=kwargs, model_kwargs={**_OPTIONS, "depth": depth})
    family = get_family("mlp_width")
    points = [{"width": 7, "epoch": 0}, {"width": 7, "epoch": 5}]
    n_classes = 2 if dataset == "mnist" else 10
    expected = 5 * sum(p.numel() for p in make_mlp(n_features, 7, n_classes, depth).parameters())
    assert family.cost(spec, {"width": 7}, points) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": 0.0}, "lr must be positive"),
        ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
        ({"batch_size": 61}, "batch_size = 61 exceeds n_train = 60"),
        ({"depth": 0}, "depth must be a positive integer"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"loss": "cross_entropy"}, "telescoping needs loss='mse'"),
        ({"n_probes": 1}, "n_probes must be an integer >= 2"),
        ({"architecture": "cnn"}, "Unknown model option"),
    ],
)
def test_bad_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        _tiny(model_kwargs={**_OPTIONS, **options})


def test_a_regression_dataset_is_refused():
    spec = _tiny(dataset="gaussian_linear", dataset_kwargs={}, label_noise=0.0)
    with pytest.raises(ValueError, match="fits class labels"):
        sweeps.run(spec, verbose=0)


def test_telescoping_width_spec():
    spec = sweeps.get_spec("telescoping_width")
    for sized in (spec.sized(quick=True), spec.sized(quick=False)):
        opts = sized.resolved_model_kwargs()
        assert sized.family == "mlp_width" and sized.label_noise == 0.2
        assert sized.dataset_kwargs["digits"] == (3, 5)
        assert sized.dataset_kwargs["label_noise_kind"] == "flip"
        assert opts["loss"] == "mse" and opts["depth"] == 1
        assert opts["telescoping"] == "probe" and opts["n_probes"] >= 10
        assert len(sized.seeds) >= 3
        # The bundled subset holds 500 images of each digit.
        assert sized.n_train + sized.n_test <= 1000
