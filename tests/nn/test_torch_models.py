"""Network factories of effcomplexity.models.torch_models.

Oracles: parameter counts written out from the layer sizes, output sizes of
convolution and pooling from their textbook formulas, and the transformer's
forward pass recomputed in the test with explicit loops over heads and
positions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity.models.torch_models import (
    ModularAdditionTransformer,
    make_cnn,
    make_mlp,
    make_transformer,
)

torch.set_num_threads(1)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize(("width", "depth"), [(64, 2), (256, 2), (5, 1), (7, 3)])
def test_mlp_layers_and_parameter_count(width, depth):
    model = make_mlp(40, width, 10, depth, random_state=0)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    sizes = [40] + [width] * depth + [10]
    assert [(m.in_features, m.out_features) for m in linears] == list(
        zip(sizes[:-1], sizes[1:], strict=True)
    )
    assert sum(isinstance(m, nn.ReLU) for m in model) == depth
    expected = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    assert _n_params(model) == expected
    assert model(torch.zeros(3, 40)).shape == (3, 10)


def test_mlp_options():
    model = make_mlp(4, 3, 2, activation="tanh", bias=False, dtype=torch.float64, random_state=1)
    assert isinstance(model[1], nn.Tanh)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert _n_params(model) == 4 * 3 + 3 * 3 + 3 * 2


def test_seeded_construction_is_reproducible_and_private():
    state = torch.get_rng_state()
    a = make_mlp(40, 16, 10, random_state=3)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's stream is untouched
    b = make_mlp(40, 16, 10, random_state=3)
    c = make_mlp(40, 16, 10, random_state=4)
    assert _same_weights(a, b) and not _same_weights(a, c)
    d = make_mlp(40, 16, 10, random_state=np.random.RandomState(5))
    e = make_mlp(40, 16, 10, random_state=np.random.RandomState(5))
    assert _same_weights(d, e)
    t1 = make_transformer(7, 8, 2, 16, random_state=6)
    t2 = make_transformer(7, 8, 2, 16, random_state=6)
    assert _same_weights(t1, t2)
    assert _same_weights(make_cnn(1, 3, 12, random_state=7), make_cnn(1, 3, 12, random_state=7))


@pytest.mark.parametrize(
    ("input_size", "kernel_size", "channels"),
    [(40, 3, (16, 32)), (40, 4, (8,)), ((28, 28), 3, (4, 6)), ((9, 13), 5, (3, 2, 2))],
)
def test_cnn_shapes_and_parameter_count(input_size, kernel_size, channels):
    """Per stage: conv with padding k//2 gives L + 2(k//2) - k + 1, pooling by 2 floors L / 2."""
    model = make_cnn(2, 5, input_size, channels=channels, kernel_size=kernel_size, random_state=0)
    shape = [input_size] if isinstance(input_size, int) else list(input_size)
    for _ in channels:
        shape = [(s + 2 * (kernel_size // 2) - kernel_size + 1) // 2 for s in shape]
    conv = nn.Conv1d if len(shape) == 1 else nn.Conv2d
    assert sum(isinstance(m, conv) for m in model) == len(channels)
    kernel_numel = kernel_size ** len(shape)
    c_in = [2, *channels[:-1]]
    expected = sum((ci * kernel_numel + 1) * co for ci, co in zip(c_in, channels, strict=True))
    expected += (channels[-1] * math.prod(shape) + 1) * 5
    assert _n_params(model) == expected
    x = torch.zeros(3, 2, *([input_size] if isinstance(input_size, int) else input_size))
    assert model(x).shape == (3, 5)


def _reference_forward(model: ModularAdditionTransformer, pairs: torch.Tensor) -> torch.Tensor:
    """Oracle: the transformer written with explicit loops over heads and positions."""
    p = model.modulus
    out = []
    for a, b in pairs.tolist():
        tokens = [a, b, p]
        h = torch.stack([model.W_E[t] + model.W_pos[i] for i, t in enumerate(tokens)])
        attended = torch.zeros_like(h)
        for head in range(model.attention.W_Q.shape[0]):
            q = h @ model.attention.W_Q[head]
            k = h @ model.attention.W_K[head]
            v = h @ model.attention.W_V[head]
            for i in range(3):
                scores = torch.stack([q[i] @ k[j] for j in range(i + 1)]) / math.sqrt(q.shape[1])
                weights = torch.softmax(scores, dim=0)
                mixed = sum(weights[j] * v[j] for j in range(i + 1))
                attended[i] += mixed @ model.attention.W_O[head]
        h = h + attended
        h = h + model.mlp(h)
        out.append(h[2] @ model.W_U)
    return torch.stack(out)


def test_transformer_forward_matches_explicit_loops():
    model = make_transformer(modulus=7, d_model=8, n_heads=2, d_mlp=16, random_state=0).double()
    pairs = torch.tensor([[0, 0], [3, 5], [6, 6], [2, 1]])
    torch.testing.assert_close(model(pairs), _reference_forward(model, pairs))


def test_transformer_parameter_count():
    p, d, heads, d_mlp = 113, 128, 4, 512
    model = make_transformer(p, d, heads, d_mlp, random_state=0)
    expected = (p + 1) * d + 3 * d + 4 * d * d + (d * d_mlp + d_mlp) + (d_mlp * d + d) + d * p
    assert _n_params(model) == expected
    assert model(torch.tensor([[1, 2]])).shape == (1, p)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="activation"):
        make_mlp(4, 3, 2, activation="swish")
    with pytest.raises(ValueError, match="width"):
        make_mlp(4, 0, 2)
    with pytest.raises(ValueError, match="too small"):
        make_cnn(1, 10, 3, channels=(4, 4))
    with pytest.raises(ValueError, match="input_size"):
        make_cnn(1, 10, (4, 4, 4))
    with pytest.raises(ValueError, match="divisible"):
        make_transformer(7, 10, 3, 8)
    with pytest.raises(TypeError, match="random_state"):
        make_mlp(4, 3, 2, random_state="seed")
    model = make_transformer(7, 8, 2, 16, random_state=0)
    with pytest.raises(ValueError, match="integer pairs"):
        model(torch.zeros(2, 2))
