"""The grokking transformer factory and the ``grokking_transformer`` sweep.

Oracles: Nanda et al.'s published architecture and parameter count (closed
form), a forward pass written out from the parameters with numpy, and the
interrupted unit's rows against an uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from effcomplexity import sweeps
from effcomplexity.models import (
    GrokkingTransformer,
    make_grokking_transformer,
    modular_addition_tokens,
)
from effcomplexity.sweeps.families import UnitContext, get_family

torch.set_num_threads(1)


def test_defaults_are_the_published_architecture():
    model = make_grokking_transformer(random_state=0)
    assert isinstance(model, GrokkingTransformer)
    attn = model.blocks[0].attn
    assert len(model.blocks) == 1 and attn.num_heads == 4 and attn.head_dim == 32
    assert model.embed.weight.shape == (114, 128) and model.pos_embed.weight.shape == (3, 128)
    assert model.blocks[0].mlp[0].weight.shape == (512, 128)
    assert isinstance(model.blocks[0].mlp[1], torch.nn.ReLU)
    assert attn.in_proj_bias is None and model.unembed.bias is None
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
    # Closed form: (p + 1 + n_ctx) d + 4 d^2 + 2 d d_mlp + d_mlp + d + d p.
    p, d, d_mlp = 113, 128, 512
    expected = (p + 1 + 3) * d + 4 * d * d + 2 * d * d_mlp + d_mlp + d + d * p
    assert sum(q.numel() for q in model.parameters()) == expected


def _numpy_forward(model, tokens: np.ndarray) -> np.ndarray:
    """Oracle: the one-layer model written out in numpy (causal softmax attention)."""
    w = {n: q.detach().double().numpy() for n, q in model.named_parameters()}
    d = w["embed.weight"].shape[1]
    heads = model.blocks[0].attn.num_heads
    dh = d // heads
    h = w["embed.weight"][tokens] + w["pos_embed.weight"]
    q, k, v = np.split(w["blocks.0.attn.in_proj_weight"], 3)
    Q, K, V = h @ q.T, h @ k.T, h @ v.T
    n_ctx = tokens.shape[1]
    future = np.triu(np.ones((n_ctx, n_ctx), bool), 1)
    z = np.zeros_like(h)
    for i in range(heads):
        s = slice(i * dh, (i + 1) * dh)
        scores = Q[..., s] @ np.swapaxes(K[..., s], 1, 2) / np.sqrt(dh)
        scores[:, future] = -np.inf
        pattern = np.exp(scores - scores.max(-1, keepdims=True))
        pattern /= pattern.sum(-1, keepdims=True)
        z[..., s] = pattern @ V[..., s]
    h = h + z @ w["blocks.0.attn.out_proj.weight"].T
    hidden = np.maximum(h @ w["blocks.0.mlp.0.weight"].T + w["blocks.0.mlp.0.bias"], 0)
    h = h + hidden @ w["blocks.0.mlp.2.weight"].T + w["blocks.0.mlp.2.bias"]
    return h[:, -1] @ w["unembed.weight"].T


def test_forward_against_numpy():
    model = make_grokking_transformer(7, 16, 4, 4, 24, random_state=1)
    pairs = np.array([(a, b) for a in range(7) for b in range(7)])
    tokens = modular_addition_tokens(pairs, 7)
    got = model(tokens).detach().double().numpy()
    np.testing.assert_allclose(got, _numpy_forward(model, tokens.numpy()), atol=1e-5)
    assert tokens[:, 2].eq(7).all()


def test_factory_checks_and_seeds():
    with pytest.raises(ValueError, match="n_heads \\* d_head must equal d_model"):
        make_grokking_transformer(7, 16, 4, 8)
    with pytest.raises(ValueError, match="activation"):
        make_grokking_transformer(7, 16, 4, 4, activation="swish")
    with pytest.raises(ValueError, match="integer tokens"):
        make_grokking_transformer(7, 16, 4, 4, 8)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="0 .. 6"):
        modular_addition_tokens([[7, 1]], 7)
    a = make_grokking_transformer(7, 16, 4, 4, 8, random_state=3, layer_norm=True, n_layers=2)
    b = make_grokking_transformer(7, 16, 4, 4, 8, random_state=3, layer_norm=True, n_layers=2)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(x, y)
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in a.modules()) == 5


def _tiny_spec(steps=(0, 4, 8)):
    return sweeps.get_spec("grokking_transformer").replace(
        grid={"weight_decay": (1.0,), "train_fraction": (0.5,), "step": steps},
        model_kwargs={
            "modulus": 5,
            "d_model": 8,
            "n_heads": 2,
            "d_mlp": 8,
            "lr": 1e-2,
            "hessian_k": 2,
            "sharpness_samples": 2,
        },
    )


def test_sweep_records_every_measure():
    table = sweeps.run(_tiny_spec(), quick=False, verbose=0)
    assert list(table["step"]) == [0, 4, 8]
    for column in ("train_loss", "test_loss", "weight_norm", "param_norm", "sigma", "n_eff"):
        assert table[column].notna().all(), column
    assert table["llc"].notna().all() and table["path_norm"].isna().all()
    # Closed form: (p + 1 + n_ctx) d + 4 d^2 + 2 d d_mlp + d_mlp + d + d p at p=5, d=8.
    assert table["n_params"].iloc[0] == 9 * 8 + 4 * 64 + 2 * 64 + 8 + 8 + 8 * 5
    accuracy = 1 - table["train_error"]
    assert accuracy.between(0, 1).all()


class _Killed(Exception):
    pass


def test_a_killed_unit_resumes_from_its_checkpoint(tmp_path):
    """Stopped mid-training, a unit resumes from its checkpoint to the same rows."""
    spec = _tiny_spec(steps=(0, 3, 6)).replace(
        model_kwargs={**_tiny_spec().model_kwargs, "checkpoint_every": 1, "measures": ("llc",)}
    )
    family = get_family("grokking_transformer")
    sized = spec.sized(quick=False)
    unit = sweeps.plan(sized)[0]
    whole, _ = family.run(sized, dict(unit.params), list(unit.points), UnitContext(unit.key, 0))
    seen = []

    def stop_after_four(n):
        seen.append(n)
        if sum(seen) == 4:
            raise _Killed

    ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=stop_after_four)
    with pytest.raises(_Killed):
        family.run(sized, dict(unit.params), list(unit.points), ctx)
    resumed_from = []
    ctx = UnitContext(unit.key, 0, checkpoint_dir=tmp_path, progress=resumed_from.append)
    rows, _ = family.run(sized, dict(unit.params), list(unit.points), ctx)
    assert resumed_from[0] == 4 and sum(resumed_from) == 6
    pd.testing.assert_frame_equal(pd.DataFrame(rows), pd.DataFrame(whole))


def test_quick_and_full_sizes():
    spec = sweeps.get_spec("grokking_transformer")
    full, quick = spec.sized(quick=False), spec.sized(quick=True)
    assert full.model_kwargs["modulus"] == 113 and full.grid["train_fraction"] == (0.3,)
    assert full.grid["weight_decay"] == (1.0,) and max(full.grid["step"]) == 40000
    assert quick.model_kwargs["modulus"] < 113 and max(quick.grid["step"]) <= 3000
