"""Weight-norm measures of effcomplexity.measures._nn.norms.

Oracles: numpy on the same weights (norms, margins, Jiang et al.'s formulas
written out), explicit enumeration of every input-output path (path norm), the
largest singular value of the convolution matrix built column by column from
basis inputs (conv operator norm), and the unfolded model's own outputs
(batch-norm folding).
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity import nn as ecnn
from effcomplexity.measures._nn._layers import folded_copy, weight_layers
from effcomplexity.measures._nn.norms import MEASURE_NAMES

torch.set_num_threads(1)


def _mlp(seed: int, widths=(4, 6, 5, 3)) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).double()


def _data(n=40, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


def _np_weights(model):
    return [m.weight.detach().numpy().copy() for m in model if isinstance(m, nn.Linear)]


def _np_forward(model, X):
    """Plain numpy forward pass of a Linear/ReLU stack."""
    h = X
    for m in model:
        if isinstance(m, nn.Linear):
            h = h @ m.weight.detach().numpy().T + m.bias.detach().numpy()
        else:
            h = np.maximum(h, 0.0)
    return h


def _np_margin(outputs, y, q):
    margins = []
    for row, label in zip(outputs, y, strict=True):
        others = [row[j] for j in range(len(row)) if j != label]
        margins.append(row[label] - max(others))
    return float(np.quantile(margins, q))


def test_weight_measures_match_numpy_formulas():
    model, init = _mlp(0), _mlp(1)
    X, _ = _data()
    y = _np_forward(model, X).argmax(axis=1)  # every point classified correctly: margin > 0
    got = ecnn.weight_measures(model, init_model=init, X=X, y=y)
    assert list(got.index) == list(MEASURE_NAMES)

    # Oracle: Jiang et al. (2020) Appendix C written out in numpy.
    W, W0 = _np_weights(model), _np_weights(init)
    d = len(W)
    fro2 = np.array([np.sum(w**2) for w in W])
    spec2 = np.array([np.linalg.norm(w, 2) ** 2 for w in W])
    dfro2 = np.array([np.sum((w - w0) ** 2) for w, w0 in zip(W, W0, strict=True)])
    dspec2 = np.array([np.linalg.norm(w - w0, 2) ** 2 for w, w0 in zip(W, W0, strict=True)])
    gamma = _np_margin(_np_forward(model, X), y, 0.1)
    assert gamma > 0
    lg = 2 * np.log(gamma)
    expected = {
        "params": sum(w.size for w in W),
        "param_norm": fro2.sum(),
        "fro_dist": dfro2.sum(),
        "spec_dist": dspec2.sum(),
        "fro_over_spec": np.sum(fro2 / spec2),
        "log_prod_spec": np.sum(np.log(spec2)),
        "log_sum_spec": np.log(d) + np.mean(np.log(spec2)),
        "log_prod_fro": np.sum(np.log(fro2)),
        "log_sum_fro": np.log(d) + np.mean(np.log(fro2)),
        "margin": gamma,
        "inverse_margin": 1 / gamma**2,
        "log_prod_spec_over_margin": np.sum(np.log(spec2)) - lg,
        "log_sum_spec_over_margin": np.log(d) + (np.sum(np.log(spec2)) - lg) / d,
        "log_prod_fro_over_margin": np.sum(np.log(fro2)) - lg,
        "log_sum_fro_over_margin": np.log(d) + (np.sum(np.log(fro2)) - lg) / d,
        "log_spec_init_main": np.sum(np.log(spec2)) - lg + np.log(np.sum(dfro2 / spec2)),
        "log_spec_orig_main": np.sum(np.log(spec2)) - lg + np.log(np.sum(fro2 / spec2)),
    }
    # Bartlett, Foster, Telgarsky (2017), reference matrices = initial weights;
    # ||A^T - M^T||_{2,1} = sum of the row norms of A - M.
    spec = np.sqrt(spec2)
    two_one = np.array([np.linalg.norm(w - w0, axis=1).sum() for w, w0 in zip(W, W0, strict=True)])
    expected["spectral_complexity"] = np.prod(spec) * np.sum((two_one / spec) ** (2 / 3)) ** 1.5
    expected["spectral_complexity_over_margin"] = expected["spectral_complexity"] / gamma
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-10), name
    assert got["path_norm_over_margin"] == pytest.approx(got["path_norm"] / gamma**2, rel=1e-12)


def test_spectral_complexity_without_init_uses_zero_reference():
    model = _mlp(3)
    W = _np_weights(model)
    spec = np.array([np.linalg.norm(w, 2) for w in W])
    two_one = np.array([np.linalg.norm(w, axis=1).sum() for w in W])
    expected = np.prod(spec) * np.sum((two_one / spec) ** (2 / 3)) ** 1.5
    assert ecnn.spectral_complexity(model) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("p", [1, 2])
def test_path_norm_equals_sum_over_enumerated_paths(p):
    model = _mlp(5, widths=(3, 4, 2))
    W1, W2 = (m.weight.detach().numpy() for m in (model[0], model[2]))
    b1, b2 = (m.bias.detach().numpy() for m in (model[0], model[2]))
    # Every path input i -> hidden h -> output k, plus the paths that start at
    # the constant unit feeding each bias: b1[h] -> h -> k, and b2[k] alone.
    total = 0.0
    for i, h, k in itertools.product(range(3), range(4), range(2)):
        total += abs(W1[h, i]) ** p * abs(W2[k, h]) ** p
    for h, k in itertools.product(range(4), range(2)):
        total += abs(b1[h]) ** p * abs(W2[k, h]) ** p
    for k in range(2):
        total += abs(b2[k]) ** p
    assert ecnn.path_norm(model, p=p) == pytest.approx(total, rel=1e-12)


def _bn_net(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(12, 5, bias=False),
        nn.BatchNorm1d(5),
        nn.ReLU(),
        nn.Linear(5, 3),
    ).double()
    g = torch.Generator().manual_seed(seed)
    for bn in (net[1], net[7]):
        n = bn.num_features
        bn.running_mean.copy_(torch.randn(n, generator=g, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(n, generator=g, dtype=torch.float64) + 0.5)
        with torch.no_grad():
            bn.weight.copy_(torch.randn(n, generator=g, dtype=torch.float64))
            bn.bias.copy_(torch.randn(n, generator=g, dtype=torch.float64))
    return net


def test_batchnorm_folding_reproduces_eval_outputs():
    net = _bn_net()
    X = torch.randn(7, 2, 4, 4, dtype=torch.float64)
    net.eval()
    with torch.no_grad():
        expected = net(X)
    net.train()
    layers = weight_layers(net)
    assert [la.name for la in layers] == ["0", "6", "9"]
    assert [la.batchnorm for la in layers] == ["1", "7", None]
    # Oracle: the unfolded model in eval mode; the chain is replayed by hand.
    conv, lin1, lin2 = layers
    h = torch.nn.functional.conv2d(X, conv.weight, conv.bias, padding=1)
    h = torch.nn.functional.max_pool2d(torch.relu(h), 2).flatten(1)
    h = torch.relu(h @ lin1.weight.T + lin1.bias)
    out = h @ lin2.weight.T + lin2.bias
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(
            folded_copy(net, layers)(X).numpy(), expected.numpy(), atol=1e-12
        )
    assert net.training and net[1].training


def test_margin_warning_of_an_untrained_batch_norm_net():
    """Modes and running statistics are checked for every measure in test_common_nn."""
    net = _bn_net(1)
    net.train()
    X = np.random.default_rng(0).standard_normal((20, 2, 4, 4))
    y = np.arange(20) % 3
    with pytest.warns(RuntimeWarning, match="margin"):
        ecnn.weight_measures(net, X=X, y=y)


def _explicit_conv_matrix(conv, spatial):
    """Columns = the layer (bias removed) applied to each basis input."""
    shape = (1, conv.in_channels, *spatial)
    n = int(np.prod(shape))
    with torch.no_grad():
        zero = conv(torch.zeros(shape, dtype=torch.float64)).reshape(-1)
        cols = [
            (conv(torch.eye(n, dtype=torch.float64)[j].reshape(shape)).reshape(-1) - zero).numpy()
            for j in range(n)
        ]
    return np.column_stack(cols)


CONV_CASES = [
    ("conv2d zero padding", lambda: nn.Conv2d(2, 3, 3, padding=1), (5, 5)),
    ("conv2d stride 2 no padding", lambda: nn.Conv2d(2, 2, 3, stride=2), (7, 6)),
    ("conv1d dilated", lambda: nn.Conv1d(2, 3, 3, padding=2, dilation=2), (9,)),
    (
        "conv2d circular (fft)",
        lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
        (4, 5),
    ),
    ("conv1d circular wraps", lambda: nn.Conv1d(1, 2, 5, padding=2, padding_mode="circular"), (3,)),
    (
        "conv2d groups reflect",
        lambda: nn.Conv2d(4, 2, 3, padding=1, groups=2, padding_mode="reflect"),
        (4, 4),
    ),
]


@pytest.mark.parametrize("name,make,spatial", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_operator_norm_matches_explicit_matrix(name, make, spatial):
    torch.manual_seed(len(name))
    conv = make().double()
    expected = np.linalg.svd(_explicit_conv_matrix(conv, spatial), compute_uv=False)[0]
    assert ecnn.conv_operator_norm(conv, spatial) == pytest.approx(expected, rel=1e-9)
    assert ecnn.conv_operator_norm(conv, (conv.in_channels, *spatial), method="lanczos") == (
        pytest.approx(expected, rel=1e-9)
    )
    if conv.padding_mode == "circular":
        assert ecnn.conv_operator_norm(conv, spatial, method="fft") == pytest.approx(
            expected, rel=1e-9
        )


def test_conv_power_iteration_is_a_converging_lower_bound():
    torch.manual_seed(0)
    conv = nn.Conv1d(1, 1, 3, padding=1).double()
    expected = np.linalg.svd(_explicit_conv_matrix(conv, (6,)), compute_uv=False)[0]
    value = ecnn.conv_operator_norm(conv, (6,), method="power", max_iter=5000, tol=1e-14)
    assert value <= expected * (1 + 1e-12)
    assert value == pytest.approx(expected, rel=1e-6)


def test_conv_fft_refuses_non_circular():
    with pytest.raises(ValueError, match="circular"):
        ecnn.conv_operator_norm(nn.Conv2d(1, 1, 3, padding=1), (4, 4), method="fft")


def _conv_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(2, 2, 3, stride=2),
        nn.Flatten(),
        nn.Linear(8, 3),
    ).double()


def test_conv_spectral_norms_operator_and_reshaped():
    net = _conv_net()
    # Oracle: explicit matrices at each layer's input size (6x6, then 6x6 with 2 channels).
    op = [
        np.linalg.svd(_explicit_conv_matrix(net[0], (6, 6)), compute_uv=False)[0],
        np.linalg.svd(_explicit_conv_matrix(net[2], (6, 6)), compute_uv=False)[0],
        np.linalg.norm(net[4].weight.detach().numpy(), 2),
    ]
    reshaped = [
        np.linalg.norm(m.weight.detach().numpy().reshape(m.weight.shape[0], -1), 2)
        for m in (net[0], net[2], net[4])
    ]
    got = ecnn.weight_measures(net, input_shape=(1, 6, 6), measures=["log_prod_spec"])
    assert got["log_prod_spec"] == pytest.approx(np.sum(2 * np.log(op)), rel=1e-9)
    got = ecnn.weight_measures(net, conv_norm="reshaped", measures=["log_prod_spec"])
    assert got["log_prod_spec"] == pytest.approx(np.sum(2 * np.log(reshaped)), rel=1e-12)
    with pytest.raises(ValueError, match="input_shape"):
        ecnn.weight_measures(net, measures=["log_prod_spec"])


def test_spec_dist_of_convolution_uses_difference_operator():
    net, init = _conv_net(0), _conv_net(1)
    diff = copy.deepcopy(net)
    with torch.no_grad():
        for p, q in zip(diff.parameters(), init.parameters(), strict=True):
            p.sub_(q)
    expected = (
        sum(
            np.linalg.svd(_explicit_conv_matrix(diff[i], (6, 6)), compute_uv=False)[0] ** 2
            for i in (0, 2)
        )
        + np.linalg.norm(diff[4].weight.detach().numpy(), 2) ** 2
    )
    got = ecnn.weight_measures(net, init_model=init, input_shape=(1, 6, 6), measures=["spec_dist"])
    assert got["spec_dist"] == pytest.approx(expected, rel=1e-9)


def test_dataset_size_normalisation():
    model = _mlp(0)
    W = _np_weights(model)
    m = 250
    got = ecnn.weight_measures(
        model, measures=["params", "log_prod_spec"], normalize=True, dataset_size=m
    )
    # Jiang et al.: sqrt(mu / m) for a measure, (mu - log m) / 2 for a log measure.
    assert got["params"] == pytest.approx(math.sqrt(sum(w.size for w in W) / m), rel=1e-12)
    log_prod = sum(np.log(np.linalg.norm(w, 2) ** 2) for w in W)
    assert got["log_prod_spec"] == pytest.approx(0.5 * (log_prod - np.log(m)), rel=1e-10)
    with pytest.raises(ValueError, match="dataset_size"):
        ecnn.weight_measures(model, measures=["params"], normalize=True)


def test_missing_init_model():
    model = _mlp(0)
    got = ecnn.weight_measures(model)
    assert "fro_dist" not in got.index and "spec_dist" not in got.index
    assert "margin" not in got.index
    with pytest.raises(ValueError, match="init_model"):
        ecnn.weight_measures(model, measures=["fro_dist"])
    with pytest.raises(ValueError, match="X and y"):
        ecnn.weight_measures(model, measures=["log_prod_spec_over_margin"])
    with pytest.raises(ValueError, match="unknown"):
        ecnn.weight_measures(model, measures=["vc_dimension"])


def test_mismatched_architectures():
    with pytest.raises(ValueError, match="different architectures"):
        ecnn.weight_measures(_mlp(0), init_model=_mlp(1, widths=(4, 7, 5, 3)))
    with pytest.raises(ValueError, match="different architectures"):
        ecnn.weight_measures(_mlp(0), init_model=_mlp(1, widths=(4, 6, 3)))


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


@pytest.mark.parametrize(
    "model,layer",
    [
        (_Recurrent(), "LSTM at 'rnn'"),
        (nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4)), "BatchNorm1d at '2'"),
    ],
)
def test_unsupported_layers_raise_type_error_naming_layer(model, layer):
    for call in (ecnn.weight_measures, ecnn.path_norm, ecnn.spectral_complexity):
        with pytest.raises(TypeError) as info:
            call(model)
        message = str(info.value)
        assert layer in message
        assert "margin" in message and "sharpness" in message and "fro_dist" in message


@pytest.mark.parametrize(
    "model,layer",
    [
        (
            nn.Sequential(nn.Linear(4, 4), nn.TransformerEncoderLayer(4, 2)),
            "MultiheadAttention at '1.self_attn'",
        ),
        (nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2)), "Embedding at '0'"),
        (nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)), "LayerNorm at '1'"),
    ],
)
def test_path_norm_refuses_transformer_parts_naming_them(model, layer):
    with pytest.raises(TypeError, match="path_norm does not apply") as info:
        ecnn.path_norm(model, input_shape=(4,))
    assert layer in str(info.value)
    # The other measures read the matrices by the transformer convention.
    values = ecnn.weight_measures(model)
    assert "path_norm" not in values.index and np.isfinite(values["log_prod_spec"])


def test_attention_is_measured_and_generic_measures_apply_to_recurrent_nets():
    torch.manual_seed(0)
    attention = nn.MultiheadAttention(4, 2)
    # Oracle: four matrices per head cut from in_proj_weight and out_proj.weight.
    w_in = attention.in_proj_weight.detach().numpy()
    w_out = attention.out_proj.weight.detach().numpy()
    heads = [w_in[r : r + 2] for r in range(0, 12, 2)] + [w_out[:, c : c + 2] for c in (0, 2)]
    got = ecnn.weight_measures(attention, measures=["params", "log_prod_spec"])
    assert got["params"] == 64
    assert got["log_prod_spec"] == pytest.approx(
        sum(2 * np.log(np.linalg.norm(m.astype(np.float64), 2)) for m in heads), rel=1e-6
    )
    model = _Recurrent()
    got = ecnn.weight_measures(model, measures=["params", "param_norm", "log_prod_fro"])
    # Oracle: every parameter with two or more dimensions, straight from named_parameters.
    mats = [p.detach().numpy() for _, p in model.named_parameters() if p.dim() >= 2]
    assert got["params"] == sum(w.size for w in mats)
    assert got["param_norm"] == pytest.approx(sum(np.sum(w**2) for w in mats), rel=1e-6)
    assert got["log_prod_fro"] == pytest.approx(
        sum(np.log(np.sum(w.astype(np.float64) ** 2)) for w in mats), rel=1e-6
    )


def test_nonpositive_margin_gives_nan_with_warning():
    model = _mlp(0)
    X, _ = _data()
    y_wrong = _np_forward(model, X).argmin(axis=1)
    with pytest.warns(RuntimeWarning, match="margin"):
        got = ecnn.weight_measures(
            model, X=X, y=y_wrong, measures=["margin", "path_norm_over_margin"]
        )
    assert got["margin"] < 0 and math.isnan(got["path_norm_over_margin"])
