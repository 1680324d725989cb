"""One harness for every network measure: modes restored, state untouched, dtypes.

Every public measure of ``effcomplexity.nn`` runs here on the same network with
batch norm and dropout, left in a mixed train/eval state. Oracles: the model's
own flags and ``state_dict`` before the call (a measure must leave both as they
were: batch-norm running statistics are not updated, each module's own
training flag is restored), and the float64 value of the same measure for the
float32 copy of the network (deterministic measures agree to float32 precision).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity import nn as ecnn

torch.set_num_threads(1)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((24, 4))
Y = np.arange(24) % 3
LOSS = nn.CrossEntropyLoss()
SEARCH = {"n_samples": 3, "search_depth": 3, "random_state": 0}


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _net(dtype=torch.float64, device="cpu") -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3)
    ).to(dtype)
    with torch.no_grad():
        net(torch.as_tensor(X, dtype=dtype))  # non-trivial running statistics
    net.to(device)
    net.train()
    net[3].eval()  # mixed flags: each module's own flag must come back
    return net


def _data(net):
    ref = next(net.parameters())
    return torch.as_tensor(X, dtype=ref.dtype), torch.as_tensor(Y)


def _n_params(net) -> int:
    return sum(p.numel() for p in net.parameters())


# name -> (call(net), deterministic: compare float32 with float64)
MEASURES = {
    "weight_measures": (
        lambda net: ecnn.weight_measures(net, X=X, y=Y, measures=["param_norm", "margin"]),
        True,
    ),
    "path_norm": (lambda net: ecnn.path_norm(net), True),
    "spectral_complexity": (lambda net: ecnn.spectral_complexity(net), True),
    "margin": (lambda net: ecnn.margin(net, X, Y), True),
    "spectral_diagnostics": (
        lambda net: ecnn.spectral_diagnostics(net).select_dtypes("number").to_numpy(),
        False,
    ),
    "sharpness": (lambda net: ecnn.sharpness(net, X, Y, **SEARCH), False),
    "pac_bayes_measures": (lambda net: ecnn.pac_bayes_measures(net, X, Y, **SEARCH), False),
    "hessian_vector_product": (
        lambda net: ecnn.hessian_vector_product(
            net, *_data(net), loss_fn=LOSS, v=np.ones(_n_params(net))
        ),
        True,
    ),
    "hessian_eigenvalues": (
        lambda net: ecnn.hessian_eigenvalues(net, *_data(net), loss_fn=LOSS, k=2, random_state=0),
        False,
    ),
    "hessian_trace": (
        lambda net: ecnn.hessian_trace(net, *_data(net), loss_fn=LOSS, n_probes=3, random_state=0),
        True,
    ),
    "spectral_density": (
        lambda net: ecnn.spectral_density(
            net, *_data(net), loss_fn=LOSS, n_probes=2, random_state=0
        )["weights"],
        False,
    ),
    "effective_dimensionality": (
        lambda net: ecnn.effective_dimensionality(
            net, *_data(net), loss_fn=LOSS, k=2, random_state=0
        ),
        False,
    ),
}


def _values(result) -> np.ndarray:
    if hasattr(result, "to_numpy"):
        result = result.to_numpy(dtype=float)
    return np.asarray(result, dtype=float)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(MEASURES))
def test_measure_restores_modes_and_state(name, device):
    """Inputs given as numpy or CPU tensors are moved to the model's device."""
    call, _ = MEASURES[name]
    net = _net(device=device)
    flags = [m.training for m in net.modules()]
    state = copy.deepcopy(net.state_dict())
    result = call(net)
    assert [m.training for m in net.modules()] == flags
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), f"{name} changed {key}"
    assert _values(result).size


@pytest.mark.parametrize("name", sorted(n for n, (_, exact) in MEASURES.items() if exact))
def test_float32_network_agrees_with_float64(name):
    call, _ = MEASURES[name]
    single, double = _values(call(_net(torch.float32))), _values(call(_net()))
    np.testing.assert_allclose(single, double, rtol=1e-3, atol=1e-4)
