"""Every network measure on transformers, against brute force on a tiny one.

Models: the ``torch.nn`` transformer of ``make_grokking_transformer``
(``Embedding``, fused ``MultiheadAttention``), the hand-written one of
``make_transformer`` (per-head weight tensors, einsum attention) carrying the
same weights, and a ``TransformerEncoderLayer`` model. Oracles: numpy norms of
the matrices cut out of ``named_parameters`` by hand; the hand-written twin's
outputs; the dense Hessian of the twin by ``torch.autograd.functional.hessian``
(plain einsum and softmax, no attention kernel), whose eigenvalues equal the
``torch.nn`` model's because the two parametrisations differ by a permutation
and transposition of the same numbers; the LLC's chains run one by one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from effcomplexity import nn as ecnn
from effcomplexity.measures._nn import llc as llc_module
from effcomplexity.measures._nn._layers import weight_layers
from effcomplexity.models import (
    make_grokking_transformer,
    make_transformer,
    modular_addition_tokens,
)

torch.set_num_threads(1)

P, D, HEADS, D_MLP = 5, 8, 2, 8
D_HEAD = D // HEADS


def _data():
    pairs = torch.tensor([(a, b) for a in range(P) for b in range(P)])
    return pairs, modular_addition_tokens(pairs, P), (pairs[:, 0] + pairs[:, 1]) % P


def _twins(seed: int = 0, train_steps: int = 0):
    """The torch.nn model and the hand-written one with the same weights (float64)."""
    ours = make_grokking_transformer(
        P, D, HEADS, D_HEAD, D_MLP, random_state=seed, dtype=torch.float64
    )
    if train_steps:
        _, tokens, y = _data()
        optimizer = torch.optim.Adam(ours.parameters(), lr=1e-2)
        for _ in range(train_steps):
            optimizer.zero_grad()
            nn.functional.cross_entropy(ours(tokens), y).backward()
            optimizer.step()
    hand = make_transformer(P, D, HEADS, D_MLP, random_state=seed + 1).double()
    attn = ours.blocks[0].attn
    with torch.no_grad():
        hand.W_E.copy_(ours.embed.weight)
        hand.W_pos.copy_(ours.pos_embed.weight)
        q, k, v = attn.in_proj_weight.chunk(3)
        for h in range(HEADS):
            rows = slice(h * D_HEAD, (h + 1) * D_HEAD)
            hand.attention.W_Q[h].copy_(q[rows].T)
            hand.attention.W_K[h].copy_(k[rows].T)
            hand.attention.W_V[h].copy_(v[rows].T)
            hand.attention.W_O[h].copy_(attn.out_proj.weight[:, rows].T)
        hand.mlp.load_state_dict(ours.blocks[0].mlp.state_dict())
        hand.W_U.copy_(ours.unembed.weight.T)
    return ours, hand


def _matrices_by_hand(model) -> list[np.ndarray]:
    """Oracle: the convention of weight_measures, written out from named_parameters."""
    w = {name: p.detach().numpy() for name, p in model.named_parameters()}
    mats = [w["embed.weight"].T, w["pos_embed.weight"].T]
    q, k, v = np.split(w["blocks.0.attn.in_proj_weight"], 3)
    for part in (q, k, v):
        mats += [part[h * D_HEAD : (h + 1) * D_HEAD] for h in range(HEADS)]
    out = w["blocks.0.attn.out_proj.weight"]
    mats += [out[:, h * D_HEAD : (h + 1) * D_HEAD] for h in range(HEADS)]
    mats += [w["blocks.0.mlp.0.weight"], w["blocks.0.mlp.2.weight"], w["unembed.weight"]]
    return mats


def test_twins_compute_the_same_function():
    ours, hand = _twins()
    pairs, tokens, _ = _data()
    # Oracle: the hand-written einsum attention of make_transformer.
    torch.testing.assert_close(ours(tokens), hand(pairs), rtol=1e-12, atol=1e-12)


def test_weight_layers_follow_the_stated_convention():
    ours, _ = _twins()
    layers = weight_layers(ours)
    expected = _matrices_by_hand(ours)
    assert len(layers) == len(expected) == 2 + 4 * HEADS + 3
    for layer, matrix in zip(layers, expected, strict=True):
        np.testing.assert_array_equal(layer.matrix.numpy(), matrix)
    names = [la.name for la in layers]
    assert names[:4] == ["embed", "pos_embed", "blocks.0.attn.q.0", "blocks.0.attn.q.1"]
    assert {la.kind for la in layers} == {"embedding", "attention", "linear"}


def test_weight_measures_against_numpy_norms():
    ours, _ = _twins()
    init, _ = _twins(seed=3)
    pairs, tokens, y = _data()
    got = ecnn.weight_measures(ours, tokens, y, init_model=init)
    mats = _matrices_by_hand(ours)
    mats0 = _matrices_by_hand(init)
    d = len(mats)
    fro2 = np.array([np.sum(m**2) for m in mats])
    spec2 = np.array([np.linalg.norm(m, 2) ** 2 for m in mats])
    out = ours(tokens).detach().numpy()
    rows = np.arange(len(y))
    others = out.copy()
    others[rows, y.numpy()] = -np.inf
    gamma = np.quantile(out[rows, y.numpy()] - others.max(axis=1), 0.1)
    pairs_of = zip(mats, mats0, strict=True)
    two_one = np.array([np.linalg.norm(m - m0, axis=1).sum() for m, m0 in pairs_of])
    spec = np.sqrt(spec2)
    expected = {
        "params": sum(m.size for m in mats),
        "param_norm": fro2.sum(),
        "fro_dist": sum(np.sum((m - m0) ** 2) for m, m0 in zip(mats, mats0, strict=True)),
        "spec_dist": sum(np.linalg.norm(m - m0, 2) ** 2 for m, m0 in zip(mats, mats0, strict=True)),
        "fro_over_spec": (fro2 / spec2).sum(),
        "log_prod_spec": np.log(spec2).sum(),
        "log_sum_spec": math.log(d) + np.log(spec2).sum() / d,
        "log_prod_fro": np.log(fro2).sum(),
        "log_sum_fro": math.log(d) + np.log(fro2).sum() / d,
        "margin": gamma,
        "spectral_complexity": np.prod(spec) * np.sum((two_one / spec) ** (2 / 3)) ** 1.5,
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-10), name
    assert "path_norm" not in got.index


def test_hand_written_twin_has_the_same_norms():
    """Per-head slices of raw (heads, d_model, d_head) tensors are the transposes of
    the fused matrix's slices, so every norm but the (2,1) one agrees."""
    ours, hand = _twins()
    pairs, tokens, y = _data()
    names = ["params", "param_norm", "fro_over_spec", "log_prod_spec", "log_sum_spec"]
    names += ["log_prod_fro", "log_sum_fro", "margin", "log_prod_spec_over_margin"]
    a = ecnn.weight_measures(ours, tokens, y, measures=names)
    b = ecnn.weight_measures(hand, pairs, y, measures=names)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10)


def _linear_attention():
    """A hand-written attention block from Linear layers only: no module reveals it."""

    class LinearAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(4, 12)
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            q, k, v = self.qkv(x.view(-1, 2, 4)).chunk(3, dim=-1)
            pattern = (q @ k.transpose(1, 2)).softmax(dim=-1)
            return self.out((pattern @ v)[:, -1])

    return LinearAttention()


@pytest.mark.parametrize("which", ["nn", "hand", "linear"])
def test_path_norm_does_not_apply(which):
    model = {"nn": lambda: _twins()[0], "hand": lambda: _twins()[1], "linear": _linear_attention}
    with pytest.raises(TypeError, match="path_norm does not apply") as info:
        ecnn.path_norm(model[which](), input_shape=(8,) if which == "linear" else None)
    assert "log_prod_spec" in str(info.value) and "local_learning_coefficient" in str(info.value)
    if which != "linear":
        with pytest.raises(TypeError, match="path_norm does not apply"):
            ecnn.weight_measures(model[which](), measures=["params", "path_norm"])


def test_spectral_diagnostics_reads_every_matrix():
    ours, _ = _twins()
    table = ecnn.spectral_diagnostics(ours)
    mats = _matrices_by_hand(ours)
    assert list(table["layer"]) == [la.name for la in weight_layers(ours)]
    for row, m in zip(table.itertuples(), mats, strict=True):
        s = np.linalg.svd(m, compute_uv=False)
        assert row.stable_rank == pytest.approx(np.sum(s**2) / s[0] ** 2, rel=1e-10)
        assert row.log_spectral_norm == pytest.approx(np.log10(s[0]), rel=1e-10) or (
            row.log_spectral_norm == pytest.approx(np.log(s[0]), rel=1e-10)
        )


def test_sharpness_passes_token_ids_through():
    ours, hand = _twins(train_steps=100)
    pairs, tokens, y = _data()
    # Oracle: accuracy of the unperturbed network on the integer tokens.
    accuracy = float((ours(tokens).argmax(1) == y).double().mean())
    assert accuracy == 1.0
    for model, X in ((ours, tokens), (hand, pairs)):
        got = ecnn.sharpness(model, X, y, n_samples=2, search_depth=4, random_state=0)
        assert got["train_accuracy"] == pytest.approx(accuracy)
        assert 0 < got["sigma"] < got["sigma_upper"] < math.inf
    # The noise is drawn per parameter tensor, so the twins' sigmas differ; both are finite.
    for model, X in ((ours, tokens), (hand, pairs)):
        values = ecnn.pac_bayes_measures(model, X, y, n_samples=2, random_state=0)
        assert np.isfinite(values.to_numpy()).all()


def _full_hessian(model, X, y) -> torch.Tensor:
    """Oracle: dense Hessian of the mean cross-entropy in the flat parameters."""
    named = list(model.named_parameters())
    sizes = [p.numel() for _, p in named]

    def loss_of(flat):
        params = {n: part.view_as(p) for (n, p), part in zip(named, flat.split(sizes), strict=True)}
        return nn.functional.cross_entropy(functional_call(model, params, (X,)), y)

    return torch.autograd.functional.hessian(loss_of, torch.cat([p.reshape(-1) for _, p in named]))


def test_hessian_measures_against_the_dense_hessian_of_the_twin():
    ours, hand = _twins()
    pairs, tokens, y = _data()
    eigenvalues = torch.linalg.eigvalsh(_full_hessian(hand, pairs, y)).numpy()[::-1]
    loss_fn = nn.CrossEntropyLoss()
    got = ecnn.hessian_eigenvalues(ours, tokens, y, loss_fn=loss_fn, k=4)
    np.testing.assert_allclose(got, eigenvalues[:4], rtol=1e-8)
    # Oracle for N_eff: sum of lambda / (lambda + z) over the top k exact eigenvalues.
    n_eff = ecnn.effective_dimensionality(ours, tokens, y, loss_fn=loss_fn, k=6, z=0.5)
    top = eigenvalues[:6]
    assert n_eff == pytest.approx(np.sum(top / (top + 0.5)), rel=1e-7)
    hand_top = ecnn.hessian_eigenvalues(hand, pairs, y, loss_fn=loss_fn, k=4)
    np.testing.assert_allclose(hand_top, eigenvalues[:4], rtol=1e-8)


def _encoder_model():
    torch.manual_seed(0)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(P + 1, D)
            self.layer = nn.TransformerEncoderLayer(D, HEADS, 16, dropout=0.0, batch_first=True)
            self.unembed = nn.Linear(D, P)

        def forward(self, x):
            return self.unembed(self.layer(self.embed(x))[:, -1])

    return Encoder().double()


def test_encoder_layer_hessian_and_weights():
    model = _encoder_model()
    _, tokens, y = _data()
    eigenvalues = torch.linalg.eigvalsh(_full_hessian_math(model, tokens, y)).numpy()[::-1]
    got = ecnn.hessian_eigenvalues(model, tokens, y, loss_fn=nn.CrossEntropyLoss(), k=3)
    np.testing.assert_allclose(got, eigenvalues[:3], rtol=1e-8)
    kinds = [la.kind for la in weight_layers(model)]
    # embedding, 4 per head, the feed-forward pair, the unembedding; layer norms left out.
    assert kinds == ["embedding"] + ["attention"] * 4 * HEADS + ["linear"] * 3


def _full_hessian_math(model, X, y) -> torch.Tensor:
    from effcomplexity.measures._nn._layers import math_attention

    model.eval()
    with math_attention():
        return _full_hessian(model, X, y)


@pytest.mark.parametrize("factory", ["nn", "encoder"])
def test_llc_vectorised_chains_equal_chains_one_by_one(factory, monkeypatch):
    model = _twins()[0] if factory == "nn" else _encoder_model()
    _, tokens, y = _data()
    settings = dict(
        loss_fn=nn.CrossEntropyLoss(), n_chains=2, n_burnin=2, n_samples=5, random_state=0
    )
    vectorised = ecnn.local_learning_coefficient(model, tokens, y, **settings)
    original = llc_module._ChainLosses.__init__

    def one_by_one(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.vectorised = False

    monkeypatch.setattr(llc_module._ChainLosses, "__init__", one_by_one)
    looped = ecnn.local_learning_coefficient(model, tokens, y, **settings)
    np.testing.assert_allclose(vectorised.loss_trace, looped.loss_trace, rtol=1e-10)
    assert np.isfinite(vectorised.estimate)


def test_fast_path_flag_is_restored():
    ours, _ = _twins()
    _, tokens, y = _data()
    before = torch.backends.mha.get_fastpath_enabled()
    ecnn.hessian_eigenvalues(ours, tokens, y, loss_fn=nn.CrossEntropyLoss(), k=1)
    assert torch.backends.mha.get_fastpath_enabled() == before
