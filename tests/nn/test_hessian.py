"""Hessian-based measures of effcomplexity.measures._nn.hessian.

Oracles: the full Hessian of the loss in the flattened parameters from
``torch.autograd.functional.hessian`` (products, eigenvalues by
``torch.linalg.eigvalsh``, exact trace and effective dimensionality), and
closed forms for linear least squares, where the Hessian of the mean squared
error is :math:`\\frac{2}{n} X^\\top X`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.utils.data import DataLoader, TensorDataset

from effcomplexity import nn as ecnn
from effcomplexity.models.torch_models import make_transformer

torch.set_num_threads(1)


def _tanh_net(seed: int, sizes=(3, 4, 2)) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.Tanh()]
    return nn.Sequential(*layers[:-1]).double()


def _data(seed: int, n: int = 10, d: int = 3, k: int = 2):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, k, generator=g, dtype=torch.float64)
    return X, y


def _full_hessian(model: nn.Module, loss_fn, X, y) -> torch.Tensor:
    """Oracle: dense Hessian of loss_fn(model(X), y) in the flattened trainable parameters."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    sizes = [p.numel() for _, p in named]
    theta = torch.cat([p.detach().reshape(-1) for _, p in named])

    def loss_of(flat):
        parts = flat.split(sizes)
        params = {name: part.view_as(p) for (name, p), part in zip(named, parts, strict=True)}
        return loss_fn(functional_call(model, params, (X,)), y)

    return torch.autograd.functional.hessian(loss_of, theta)


@pytest.fixture
def tiny():
    model, (X, y) = _tanh_net(0), _data(1)
    H = _full_hessian(model, nn.MSELoss(), X, y)
    return model, X, y, H


# ----------------------------------------------------------------- products


def test_hvp_matches_explicit_hessian(tiny):
    model, X, y, H = tiny
    v = np.random.default_rng(0).standard_normal(H.shape[0])
    hv = ecnn.hessian_vector_product(model, X, y, loss_fn=nn.MSELoss(), v=v)
    assert isinstance(hv, np.ndarray) and hv.dtype == np.float64
    np.testing.assert_allclose(hv, H.numpy() @ v, rtol=1e-10, atol=1e-12)
    hv_t = ecnn.hessian_vector_product(model, X, y, loss_fn=nn.MSELoss(), v=torch.as_tensor(v))
    assert isinstance(hv_t, torch.Tensor)
    np.testing.assert_allclose(hv_t.numpy(), H.numpy() @ v, rtol=1e-10, atol=1e-12)


def test_hvp_weights_uneven_batches_by_size(tiny):
    """Batches of 4, 4 and 2 samples: the full-data Hessian weights their means
    4/10, 4/10, 2/10; a plain average of batch Hessians would not match."""
    model, X, y, H = tiny
    v = np.random.default_rng(1).standard_normal(H.shape[0])
    expected = H.numpy() @ v
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    for data, kw in [((loader,), {}), ((list(loader),), {}), ((X, y), {"batch_size": 4})]:
        hv = ecnn.hessian_vector_product(model, *data, loss_fn=nn.MSELoss(), v=v, **kw)
        np.testing.assert_allclose(hv, expected, rtol=1e-10, atol=1e-12)
    naive = np.mean(
        [_full_hessian(model, nn.MSELoss(), Xb, yb).numpy() @ v for Xb, yb in loader], axis=0
    )
    assert not np.allclose(naive, expected, rtol=1e-6)


def test_hvp_of_classifier_with_numpy_data():
    """Cross-entropy with integer labels given as numpy arrays."""
    model = _tanh_net(2, sizes=(3, 5, 4))
    X, _ = _data(3, n=12)
    labels = np.arange(12) % 4
    H = _full_hessian(model, nn.CrossEntropyLoss(), X, torch.as_tensor(labels))
    v = np.random.default_rng(2).standard_normal(H.shape[0])
    hv = ecnn.hessian_vector_product(model, X.numpy(), labels, loss_fn=nn.CrossEntropyLoss(), v=v)
    np.testing.assert_allclose(hv, H.numpy() @ v, rtol=1e-10, atol=1e-12)


def test_hvp_with_token_inputs_of_a_transformer():
    """Integer token pairs stay integer; the oracle differentiates the same network."""
    model = make_transformer(modulus=5, d_model=4, n_heads=2, d_mlp=6, random_state=0).double()
    pairs = torch.tensor([[a, b] for a in range(5) for b in range(5)])[::3]
    labels = pairs.sum(1) % 5
    H = _full_hessian(model, nn.CrossEntropyLoss(), pairs, labels)
    v = np.random.default_rng(3).standard_normal(H.shape[0])
    hv = ecnn.hessian_vector_product(model, pairs, labels, loss_fn=nn.CrossEntropyLoss(), v=v)
    np.testing.assert_allclose(hv, H.numpy() @ v, rtol=1e-9, atol=1e-11)


def test_eval_mode_during_computation():
    """Dropout would make products random in train mode; the oracle is the
    Hessian of the eval-mode network."""
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Dropout(0.5), nn.Linear(6, 2)).double()
    X, y = _data(5)
    model.train()
    v = np.random.default_rng(4).standard_normal(sum(p.numel() for p in model.parameters()))
    first = ecnn.hessian_vector_product(model, X, y, loss_fn=nn.MSELoss(), v=v)
    model.eval()
    H = _full_hessian(model, nn.MSELoss(), X, y)
    np.testing.assert_allclose(first, H.numpy() @ v, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------- eigenvalues


def test_lanczos_with_full_iterations_recovers_whole_spectrum(tiny):
    model, X, y, H = tiny
    p = H.shape[0]
    exact = torch.linalg.eigvalsh(H).numpy()[::-1]
    values = ecnn.hessian_eigenvalues(
        model, X, y, loss_fn=nn.MSELoss(), k=p, n_iter=p, random_state=0
    )
    np.testing.assert_allclose(values, exact, atol=1e-9 * abs(exact).max())


def test_lanczos_top_eigenvalues_with_fewer_iterations_than_parameters():
    model = _tanh_net(6, sizes=(3, 8, 8, 2))
    X, y = _data(7, n=30)
    H = _full_hessian(model, nn.MSELoss(), X, y)
    exact = torch.linalg.eigvalsh(H).numpy()[::-1]
    p = H.shape[0]
    values = ecnn.hessian_eigenvalues(model, X, y, loss_fn=nn.MSELoss(), k=3, random_state=1)
    assert values.shape == (3,) and np.all(np.diff(values) <= 0)
    np.testing.assert_allclose(values, exact[:3], rtol=1e-8)
    assert p > 3 * 3 + 30  # the default Lanczos run is shorter than p


def test_lanczos_finds_repeated_eigenvalues():
    """Least squares with X = diag(1, 1, 2, 2): H = (2/n) X^T X = diag(.5, .5, 2, 2);
    all p eigenvalues, which come from the dense Hessian."""
    model = nn.Linear(4, 1, bias=False).double()
    X = torch.diag(torch.tensor([1.0, 1.0, 2.0, 2.0], dtype=torch.float64))
    y = torch.zeros(4, 1, dtype=torch.float64)
    values = ecnn.hessian_eigenvalues(model, X, y, loss_fn=nn.MSELoss(), k=4, random_state=0)
    np.testing.assert_allclose(values, [2.0, 2.0, 0.5, 0.5], atol=1e-12)


def _diagonal_least_squares(eigenvalues: np.ndarray):
    """Least squares with X = diag(sqrt(n lambda / 2)): H = (2/n) X^T X = diag(lambda)."""
    p = eigenvalues.shape[0]
    X = torch.diag(torch.as_tensor(np.sqrt(p * eigenvalues / 2)))
    return nn.Linear(p, 1, bias=False).double(), X, torch.zeros(p, 1, dtype=torch.float64)


def test_top_eigenvalues_converge_on_a_uniform_spectrum():
    """Closed form: 600 evenly spaced eigenvalues, the hardest case for Lanczos;
    one unrestarted run of the default length is 13% off at k = 10."""
    lam = np.linspace(0.001, 1.0, 600)
    model, X, y = _diagonal_least_squares(lam)
    values = ecnn.hessian_eigenvalues(model, X, y, loss_fn=nn.MSELoss(), k=10, random_state=0)
    np.testing.assert_allclose(values, lam[::-1][:10], rtol=1e-10)


def test_repeated_eigenvalues_without_the_whole_spectrum():
    """Closed form diag(2, 2, 2, 1.5, 1.5, spread): multiplicities found with k < p."""
    lam = np.r_[[2.0] * 3, [1.5] * 2, np.linspace(0.01, 1.0, 35)]
    model, X, y = _diagonal_least_squares(lam)
    for seed in range(3):
        values = ecnn.hessian_eigenvalues(model, X, y, loss_fn=nn.MSELoss(), k=6, random_state=seed)
        np.testing.assert_allclose(values, [2.0, 2.0, 2.0, 1.5, 1.5, 1.0], rtol=1e-10)


def test_top_eigenpairs_of_a_network_match_the_full_hessian():
    """Oracle: torch.autograd.functional.hessian and numpy's eigh, both ends of the spectrum."""
    model = _tanh_net(3, sizes=(3, 6, 6, 2))
    X, y = _data(4, n=25)
    H = _full_hessian(model, nn.MSELoss(), X, y).numpy()
    exact, vectors_exact = np.linalg.eigh(H)
    top = np.argsort(-np.abs(exact))[:5]
    values, vectors = ecnn.hessian_eigenvalues(
        model,
        X,
        y,
        loss_fn=nn.MSELoss(),
        k=5,
        which="LM",
        random_state=2,
        return_eigenvectors=True,
    )
    np.testing.assert_allclose(values, exact[top], rtol=1e-6)
    overlap = np.abs(np.sum(vectors * vectors_exact[:, top], axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)


def test_which_largest_magnitude_and_eigenvectors():
    """Indefinite closed form: loss mean(w_i (x_i . theta)^2) has H = (2/n) X^T diag(w) X."""
    g = torch.Generator().manual_seed(8)
    X = torch.randn(6, 5, generator=g, dtype=torch.float64)
    w = torch.tensor([3.0, -4.0, 1.0, -0.5, 2.0, -6.0], dtype=torch.float64)
    model = nn.Linear(5, 1, bias=False).double()

    def loss_fn(out, weights):
        return (weights * out[:, 0] ** 2).mean()

    H = 2 / 6 * X.T @ torch.diag(w) @ X
    exact = torch.linalg.eigvalsh(H).numpy()
    largest = ecnn.hessian_eigenvalues(model, X, w, loss_fn=loss_fn, k=2, random_state=0)
    np.testing.assert_allclose(largest, exact[::-1][:2], rtol=1e-10)
    by_magnitude, vectors = ecnn.hessian_eigenvalues(
        model, X, w, loss_fn=loss_fn, k=2, which="LM", random_state=0, return_eigenvectors=True
    )
    np.testing.assert_allclose(by_magnitude, exact[np.argsort(-np.abs(exact))][:2], rtol=1e-10)
    residual = H.numpy() @ vectors - vectors * by_magnitude
    assert np.abs(residual).max() < 1e-9 and vectors.shape == (5, 2)


# ----------------------------------------------------------------- trace and density


def test_hutchinson_trace_within_three_standard_errors(tiny):
    model, X, y, H = tiny
    trace, std = ecnn.hessian_trace(
        model, X, y, loss_fn=nn.MSELoss(), n_probes=300, random_state=0, return_std=True
    )
    exact = float(torch.trace(H))
    assert std > 0
    assert abs(trace - exact) < 3 * std


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    """v^T D v = tr(D) for every Rademacher v: zero spread (closed form H = (2/n) X^T X)."""
    model = nn.Linear(3, 1, bias=False).double()
    X = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    y = torch.ones(3, 1, dtype=torch.float64)
    trace, std = ecnn.hessian_trace(
        model, X, y, loss_fn=nn.MSELoss(), n_probes=5, random_state=1, return_std=True
    )
    assert trace == pytest.approx(2 / 3 * 14, rel=1e-12) and std == pytest.approx(0, abs=1e-12)


def test_slq_density_integrates_to_one_and_matches_mean_eigenvalue(tiny):
    model, X, y, H = tiny
    out = ecnn.spectral_density(model, X, y, loss_fn=nn.MSELoss(), n_probes=40, random_state=0)
    p = H.shape[0]
    assert out["n_params"] == p and out["nodes"].shape == out["weights"].shape == (40, p)
    np.testing.assert_allclose(out["weights"].sum(axis=1), 1.0, atol=1e-10)
    assert np.trapezoid(out["density"], out["grid"]) == pytest.approx(1.0, abs=1e-3)
    # The quadrature is exact for degree one: each probe's first moment is a
    # Hutchinson sample of tr(H) / p.
    first = (out["weights"] * out["nodes"]).sum(axis=1)
    std = first.std(ddof=1) / np.sqrt(first.size)
    assert abs(first.mean() - float(torch.trace(H)) / p) < 3 * std


def test_slq_effective_dimensionality_close_to_exact(tiny):
    model, X, y, H = tiny
    lam = np.clip(torch.linalg.eigvalsh(H).numpy(), 0, None)
    z = 0.05
    exact = float(np.sum(lam / (lam + z)))
    value, std = ecnn.effective_dimensionality(
        model,
        X,
        y,
        loss_fn=nn.MSELoss(),
        z=z,
        method="slq",
        n_probes=60,
        random_state=2,
        return_std=True,
    )
    assert std > 0 and abs(value - exact) < 3 * std
    assert value == pytest.approx(exact, rel=0.15)


def test_effective_dimensionality_from_top_eigenvalues(tiny):
    model, X, y, H = tiny
    lam = torch.linalg.eigvalsh(H).numpy()[::-1][:5]
    for z in (0.01, 1.0):
        expected = float(np.sum(np.clip(lam, 0, None) / (np.clip(lam, 0, None) + z)))
        value = ecnn.effective_dimensionality(
            model, X, y, loss_fn=nn.MSELoss(), z=z, k=5, random_state=0
        )
        assert value == pytest.approx(expected, rel=1e-9)
    # default k covers all 26 parameters here: the sum over the whole spectrum
    lam_all = np.clip(torch.linalg.eigvalsh(H).numpy(), 0, None)
    value = ecnn.effective_dimensionality(model, X, y, loss_fn=nn.MSELoss(), random_state=0)
    assert value == pytest.approx(float(np.sum(lam_all / (lam_all + 1.0))), rel=1e-9)


# ----------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors(tiny):
    model, X, y, H = tiny
    p = H.shape[0]
    mse = nn.MSELoss()
    with pytest.raises(ValueError, match="length 26"):
        ecnn.hessian_vector_product(model, X, y, loss_fn=mse, v=np.ones(p + 1))
    with pytest.raises(ValueError, match="reduction='mean'"):
        ecnn.hessian_vector_product(model, X, y, loss_fn=nn.MSELoss(reduction="sum"), v=np.ones(p))
    with pytest.raises(TypeError, match="one-shot iterator"):
        ecnn.hessian_trace(model, iter([(X, y)]), loss_fn=mse)
    with pytest.raises(ValueError, match="one target per input"):
        ecnn.hessian_trace(model, X, y[:5], loss_fn=mse)
    with pytest.raises(TypeError, match="y is missing"):
        ecnn.hessian_trace(model, X, loss_fn=mse)
    with pytest.raises(ValueError, match="exceeds the number"):
        ecnn.hessian_eigenvalues(model, X, y, loss_fn=mse, k=p + 1)
    with pytest.raises(ValueError, match="which"):
        ecnn.hessian_eigenvalues(model, X, y, loss_fn=mse, which="SA")
    with pytest.raises(ValueError, match="n_probes"):
        ecnn.hessian_trace(model, X, y, loss_fn=mse, n_probes=1)
    with pytest.raises(ValueError, match="z must be"):
        ecnn.effective_dimensionality(model, X, y, loss_fn=mse, z=0.0)
    with pytest.raises(ValueError, match="method"):
        ecnn.effective_dimensionality(model, X, y, loss_fn=mse, method="exact")
    frozen = nn.Linear(3, 2).double().requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        ecnn.hessian_trace(frozen, X, y, loss_fn=mse)
