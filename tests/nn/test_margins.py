"""Output margins (effcomplexity.measures._nn.margins).

Oracle: a brute-force loop over points and classes on outputs computed in
numpy from the same weights, followed by ``numpy.quantile``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity import nn as ecnn
from effcomplexity.measures._nn.margins import margins

torch.set_num_threads(1)


def _net(seed=0, out=4, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(3, 5), nn.ReLU(), nn.Dropout(dropout), nn.Linear(5, out)
    ).double()


def _numpy_outputs(net, X):
    W1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    W2, b2 = net[3].weight.detach().numpy(), net[3].bias.detach().numpy()
    return np.maximum(X @ W1.T + b1, 0) @ W2.T + b2


def _brute_force_margins(outputs, y):
    result = []
    for i in range(outputs.shape[0]):
        best_other = -np.inf
        for j in range(outputs.shape[1]):
            if j != y[i] and outputs[i, j] > best_other:
                best_other = outputs[i, j]
        result.append(outputs[i, y[i]] - best_other)
    return np.array(result)


@pytest.mark.parametrize("quantile", [0.0, 0.1, 0.37, 1.0])
def test_margin_matches_brute_force(quantile):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((53, 3)), rng.integers(0, 4, 53)
    net = _net()
    expected_all = _brute_force_margins(_numpy_outputs(net, X), y)
    np.testing.assert_allclose(margins(net, X, y), expected_all, rtol=1e-12)
    assert ecnn.margin(net, X, y, quantile=quantile) == pytest.approx(
        np.quantile(expected_all, quantile), rel=1e-12
    )


def test_margin_in_batches_equals_full_pass():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((31, 3)), rng.integers(0, 4, 31)
    net = _net(3)
    assert ecnn.margin(net, X, y, batch_size=7) == pytest.approx(ecnn.margin(net, X, y), rel=1e-14)


def test_binary_logit_margin():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 1)).double()
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 2)), rng.integers(0, 2, 20)
    w, b = net[0].weight.detach().numpy()[0], net[0].bias.item()
    # Scores (0, f(x)): the margin is f(x) for label 1 and -f(x) for label 0.
    expected = [(X[i] @ w + b) * (1 if y[i] == 1 else -1) for i in range(20)]
    np.testing.assert_allclose(margins(net, X, y), expected, rtol=1e-12)


def test_margin_uses_eval_mode():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((25, 3)), rng.integers(0, 4, 25)
    net = _net(5, dropout=0.9)
    net.train()
    expected = np.quantile(_brute_force_margins(_numpy_outputs(net, X), y), 0.1)
    assert ecnn.margin(net, X, y) == pytest.approx(expected, rel=1e-12)


def test_margin_bad_inputs():
    net = _net()
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match="quantile"):
        ecnn.margin(net, X, [0, 1, 2, 3], quantile=1.5)
    with pytest.raises(ValueError, match="labels go up to 4"):
        ecnn.margin(net, X, [0, 1, 2, 4])
    with pytest.raises(ValueError, match="one label per row"):
        ecnn.margin(net, X, [0, 1, 2])
    with pytest.raises(ValueError, match="integer"):
        ecnn.margin(net, X, [0.5, 1, 2, 3])
