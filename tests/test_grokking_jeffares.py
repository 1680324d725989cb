"""Grokking as Jeffares et al. ran it: the quadratic teacher, Kumar's network, the two families.

Oracles: the teacher's defining formulas and the moments of Gaussian inputs
(sample variance within 5 standard errors); a forward pass and a gradient-descent
loop written in numpy in the test; the scaling of a norm by a constant; the
definition of the tracking rule (rows diverged from the first gap above the
tolerance).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from effcomplexity import datasets, models, sweeps
from effcomplexity.sweeps.families import unit_seed
from effcomplexity.sweeps.families._nn_measures import TRACKING_TOLERANCE, _evaluate
from effcomplexity.sweeps.families._nn_problem import Problem
from effcomplexity.sweeps.families._nn_tracking import mark_tracking
from effcomplexity.sweeps.families._nn_training import _step_batch

# -- the quadratic teacher ----------------------------------------------------------------


def test_quadratic_teacher_targets_follow_the_teacher_formula():
    data = datasets.quadratic_teacher(n_train=30, n_test=12, dim=7, random_state=3)
    beta = data.metadata["beta"]
    # Oracle: y = (beta . x)^2 / 2 row by row.
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        expected = np.array([0.5 * float(np.dot(beta, x)) ** 2 for x in X])
        np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert data.task == "regression" and data.labels_train is None
    assert data.X_train.shape == (30, 7) and data.X_test.shape == (12, 7)
    assert data.metadata["dim"] == 7 and data.metadata["seed"] == 3


def test_quadratic_teacher_inputs_are_gaussian_with_variance_one_over_dim():
    n, dim = 20_000, 10
    data = datasets.quadratic_teacher(n_train=n, n_test=0, dim=dim, random_state=0)
    X = data.X_train
    # Oracle: x ~ N(0, I/D): mean 0 (SE sqrt(1/(D n))), variance 1/D (SE sqrt(2/n)/D).
    assert np.all(np.abs(X.mean(axis=0)) < 5 * math.sqrt(1 / (dim * n)))
    assert np.all(np.abs(X.var(axis=0) - 1 / dim) < 5 * math.sqrt(2 / n) / dim)
    # Oracle: beta ~ N(0, I_D), so given beta, beta . x ~ N(0, |beta|^2 / D) and
    # E[y] = |beta|^2 / (2 D), Var[y] = 2 (|beta|^2 / (2 D))^2 (a scaled chi-square(1)).
    beta = data.metadata["beta"]
    mean_y = beta @ beta / (2 * dim)
    se = math.sqrt(2 * mean_y**2 / n)
    assert abs(data.y_train.mean() - mean_y) < 5 * se


def test_quadratic_teacher_is_reproducible_and_keeps_teacher_and_test_set_across_n_train():
    a = datasets.quadratic_teacher(n_train=10, n_test=5, dim=4, random_state=1)
    b = datasets.quadratic_teacher(n_train=40, n_test=5, dim=4, random_state=1)
    np.testing.assert_array_equal(a.metadata["beta"], b.metadata["beta"])
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.X_train, b.X_train[:10])
    assert datasets.load("quadratic_teacher", n_train=3, n_test=2, dim=2).n_features == 2
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        datasets.quadratic_teacher(dim=0)


# -- Kumar's network ----------------------------------------------------------------------


def test_kumar_network_matches_a_hand_written_forward_pass():
    net = models.make_kumar_network(6, 9, eps=0.3, alpha=2.5, dtype=torch.float64, random_state=4)
    W = net.hidden.weight.detach().numpy()
    X = np.random.default_rng(0).standard_normal((11, 6))
    # Oracle: f(x) = alpha / N * sum_i phi(w_i . x), phi(z) = z + eps z^2 / 2.
    Z = X @ W.T
    expected = 2.5 * np.mean(Z + 0.5 * 0.3 * Z**2, axis=1)
    out = net(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert [name for name, _ in net.named_parameters()] == ["hidden.weight"]


def test_kumar_network_first_layer_is_standard_normal_and_seeded():
    net = models.make_kumar_network(50, 400, eps=0.0, random_state=0)
    W = net.hidden.weight.detach().double().numpy()
    # Oracle: N(0, 1) entries; 20,000 of them give mean SE 0.007 and variance SE 0.01.
    assert abs(W.mean()) < 0.035 and abs(W.var() - 1) < 0.05
    again = models.make_kumar_network(50, 400, eps=0.0, random_state=0)
    assert torch.equal(net.hidden.weight, again.hidden.weight)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eps": -0.1}, "eps must be a finite number >= 0"),
        ({"eps": 0.1, "alpha": 0.0}, "alpha must be a finite number > 0"),
        ({"eps": float("nan")}, "eps must be a finite number"),
    ],
)
def test_kumar_network_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.make_kumar_network(3, 4, **kwargs)


# -- the regression evaluation ------------------------------------------------------------


def test_regression_problem_reports_mse_and_no_zero_one_error():
    X_train, X_test = torch.randn(8, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    y_train, y_test = np.arange(8.0), -np.arange(5.0)
    problem = Problem.regression(X_train, X_test, y_train, y_test, batch_size=None)
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    scalar = torch.nn.Sequential(model, torch.nn.Flatten(0))
    row = _evaluate(scalar, problem)
    with torch.no_grad():
        # Oracle: the mean squared error written out.
        for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
            expected = float(np.mean((scalar(X).numpy() - y) ** 2))
            assert row[f"{split}_mse"] == pytest.approx(expected, rel=1e-12)
            assert row[f"{split}_loss"] == pytest.approx(expected, rel=1e-12)
            assert math.isnan(row[f"{split}_error"])
    expected_norm = math.sqrt(sum(float((p.detach() ** 2).sum()) for p in model.parameters()))
    assert row["weight_norm"] == pytest.approx(expected_norm, rel=1e-12)


def _small_polynomial(**model_kwargs) -> sweeps.SweepSpec:
    return sweeps.get_spec("grokking_polynomial").replace(
        n_train=20,
        n_test=10,
        seeds=(0,),
        dataset_kwargs={"dim": 5},
        grid={"eps": (0.5,), "alpha": (2.0,), "step": (0, 1, 3)},
        model_kwargs={
            "width": 8,
            "dtype": "float64",
            "n_probes": 4,
            "telescoping_eval": 10,
            "measures": ("weights",),
            **model_kwargs,
        },
        quick={},
    )


def test_polynomial_family_trains_by_plain_gradient_descent():
    # A small step: the tracker follows so narrow a network only at a fraction of lr N / alpha^2.
    spec = _small_polynomial(lr_scale=0.2)
    df = sweeps.run(spec, verbose=0)
    data = datasets.quadratic_teacher(n_train=20, n_test=10, dim=5, random_state=0)
    net = models.make_kumar_network(
        5,
        8,
        eps=0.5,
        alpha=2.0,
        dtype=torch.float64,
        random_state=unit_seed(0, "polynomial_grokking"),
    )
    W = net.hidden.weight.detach().numpy().copy()
    X, y, Xt, yt = data.X_train, data.y_train, data.X_test, data.y_test

    # Oracle: full-batch gradient descent on mean((f - y)^2), written by hand, at lr N / alpha^2.
    def forward(W, X):
        Z = X @ W.T
        return 2.0 * np.mean(Z + 0.25 * Z**2, axis=1), Z

    lr = 0.2 * 8 / 2.0**2
    expected = {}
    for step in range(4):
        if step in (0, 1, 3):
            expected[step] = (
                np.mean((forward(W, X)[0] - y) ** 2),
                np.mean((forward(W, Xt)[0] - yt) ** 2),
                np.linalg.norm(W),
            )
        f, Z = forward(W, X)
        grad = 2 / len(y) * ((f - y)[:, None] * (2.0 / 8) * (1 + 0.5 * Z)).T @ X
        W = W - lr * grad
    for _, row in df.iterrows():
        train, test, norm = expected[int(row["step"])]
        assert row["train_mse"] == pytest.approx(train, rel=1e-10)
        assert row["test_mse"] == pytest.approx(test, rel=1e-10)
        assert row["weight_norm"] == pytest.approx(norm, rel=1e-10)
        assert math.isnan(row["train_error"]) and math.isnan(row["test_error"])
    tracked = df[df["step"] > 0]
    assert (tracked["telescoping_gap"] < TRACKING_TOLERANCE).all()
    np.testing.assert_allclose(tracked["p_ratio"], tracked["p_test"] / tracked["p_train"])
    assert df["tracker_left_at"].isna().all() and (df["n_params"] == 40).all()


def test_polynomial_family_refuses_classification_data_and_sharpness():
    with pytest.raises(ValueError, match="sharpness"):
        _small_polynomial(measures=("sharpness",))
    spec = _small_polynomial().replace(dataset="digits", dataset_kwargs={})
    with pytest.raises(ValueError, match="regression dataset"):
        sweeps.run(spec, verbose=0)


# -- the MNIST family ---------------------------------------------------------------------


def _small_mnist(**changes) -> sweeps.SweepSpec:
    spec = sweeps.get_spec("grokking_mnist").replace(
        n_train=40,
        n_test=20,
        seeds=(0,),
        dataset_kwargs={"source": "subset"},
        grid={"init_scale": (1.0, 3.0), "step": (0, 2, 5)},
        model_kwargs={
            "width": 8,
            "depth": 2,
            "batch_size": 16,
            "lr": 1e-3,
            "n_probes": 3,
            "telescoping_eval": 10,
            "measures": ("weights",),
        },
        quick={},
    )
    return spec.replace(**changes) if changes else spec


def test_mnist_family_scales_every_initial_parameter():
    df = sweeps.run(_small_mnist(), verbose=0).set_index(["init_scale", "step"])
    one, three = df.loc[(1.0, 0)], df.loc[(3.0, 0)]
    # Oracle: every parameter (biases included) times 3 multiplies the norm by 3 and the
    # squared norm (param_norm) by 9; the same replicate seed gives both scales one network.
    assert three["weight_norm"] == pytest.approx(3 * one["weight_norm"], rel=1e-12)
    assert three["param_norm"] == pytest.approx(9 * one["param_norm"], rel=1e-12)
    assert three["fro_dist"] == 0 and one["fro_dist"] == 0
    assert df.loc[(3.0, 5), "fro_dist"] > 0
    assert set(df["telescoping"]) <= {"probe", "diverged"}


def test_mnist_family_trains_in_float64_on_minibatch_steps():
    df = sweeps.run(_small_mnist(grid={"init_scale": (2.0,), "step": (0, 1, 5)}), verbose=0)
    # Five steps of batches of 16 from 40 rows cross an epoch boundary (3 batches an epoch).
    assert list(df["step"]) == [0, 1, 5]
    assert df["weight_norm"].iloc[2] != df["weight_norm"].iloc[1]
    assert np.isfinite(df["test_error"]).all() and np.isfinite(df["train_mse"]).all()


def test_step_batches_are_a_shuffle_per_epoch():
    n, size, seed = 10, 4, 7
    epoch0 = [_step_batch(n, size, seed, k) for k in range(3)]
    # Oracle: an epoch's batches partition the rows; the last is the remainder.
    assert sorted(torch.cat(epoch0).tolist()) == list(range(n))
    assert [len(b) for b in epoch0] == [4, 4, 2]
    assert torch.equal(_step_batch(n, size, seed, 1), epoch0[1])
    assert not torch.equal(
        torch.cat([_step_batch(n, size, seed, k) for k in range(3, 6)]), torch.cat(epoch0)
    )


# -- the tracking rule --------------------------------------------------------------------


def test_rows_are_diverged_from_the_first_gap_above_the_tolerance():
    def row(gap):
        return {
            "telescoping": "probe",
            "telescoping_gap": gap,
            "p_train": 4.0,
            "p_test": 2.0,
            "p_train_se": 0.1,
            "p_test_se": 0.1,
        }

    rows = [row(0.0), row(0.05), row(0.5), row(0.01)]
    first = mark_tracking(rows, [0, 10, 20, 30])
    assert first == 20
    assert rows[1]["p_ratio"] == 0.5 and rows[1]["telescoping"] == "probe"
    for later in rows[2:]:
        assert later["telescoping"] == "diverged" and "p_test" not in later
        assert "p_ratio" not in later
    assert all(r["tracker_left_at"] == 20 for r in rows)
    rows = [row(0.0), row(float("nan"))]
    assert mark_tracking(rows, [0, 5]) == 5
    rows = [row(0.0), row(0.01)]
    assert mark_tracking(rows, [0, 5]) is None and rows[1]["tracker_left_at"] is None
