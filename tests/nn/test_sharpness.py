"""Sharpness search and PAC-Bayes measures (effcomplexity.measures._nn.sharpness).

Oracles: an independent Monte Carlo estimate in numpy of the accuracy change
at the returned scale; exact rescaling identities (a linear classifier with
weights times 4 has sigma times 4; a ReLU net whose first layer is multiplied
by 4 and second divided by 4 computes the same function, and magnitude-aware
noise is unchanged by that); Jiang et al.'s closed forms written out in numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity import nn as ecnn

torch.set_num_threads(1)

SEARCH = {"n_samples": 10, "search_depth": 8}


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = 2.0 * np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])
    y = np.arange(n) % 3
    return centers[y] + 0.8 * rng.standard_normal((n, 2)), y, centers


def _centroid_classifier(scale=1.0):
    _, _, centers = _blobs()
    net = nn.Sequential(nn.Linear(2, 3)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(scale * centers))
        net[0].bias.copy_(torch.from_numpy(-scale * 0.5 * (centers**2).sum(axis=1)))
    return net


def _relu_net(seed=0, first_scale=1.0):
    """ReLU net computing the centroid classifier, h = relu([z; -z]), f = h+ - h-."""
    _, _, centers = _blobs()
    W = centers
    b = -0.5 * (centers**2).sum(axis=1)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 3)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(first_scale * np.vstack([W, -W])))
        net[0].bias.copy_(torch.from_numpy(first_scale * np.concatenate([b, -b])))
        net[3].weight.copy_(torch.from_numpy(np.hstack([np.eye(3), -np.eye(3)]) / first_scale))
        net[3].bias.copy_(0.1 * torch.randn(3, dtype=torch.float64))
    return net


def test_deterministic_given_seed():
    X, y, _ = _blobs()
    net = _relu_net(1)
    net.train()
    first = ecnn.sharpness(net, X, y, random_state=7, **SEARCH)
    second = ecnn.sharpness(net, X, y, random_state=7, **SEARCH)
    assert first.equals(second)
    assert first["flatness"] == pytest.approx(1 / first["sigma"] ** 2)
    assert first["sigma"] < first["sigma_upper"] <= first["sigma"] * (1 + 2.0**-8) + 1e-15


def test_plain_sigma_scales_with_a_linear_classifier():
    # argmax((4W + s Z) x + 4b + s z) = argmax((W + (s/4) Z) x + b + (s/4) z) with the
    # same directions, so the threshold scale is multiplied by 4 exactly.
    X, y, _ = _blobs()
    base = ecnn.sharpness(_centroid_classifier(1.0), X, y, random_state=3, **SEARCH)
    scaled = ecnn.sharpness(_centroid_classifier(4.0), X, y, random_state=3, **SEARCH)
    assert scaled["sigma"] == pytest.approx(4 * base["sigma"], rel=1e-12)
    assert scaled["train_accuracy"] == base["train_accuracy"]


def test_magnitude_aware_sigma_is_invariant_to_relu_rescaling():
    # Layer 1 times 4 and layer 2 divided by 4 is the same function (Dinh et al. 2017);
    # noise proportional to |w| (eps = 0) rescales with it, so alpha' cannot change.
    X, y, _ = _blobs()
    net, rescaled = _relu_net(2), _relu_net(2, first_scale=4.0)
    with torch.no_grad():
        np.testing.assert_allclose(
            net.eval()(torch.from_numpy(X)), rescaled.eval()(torch.from_numpy(X))
        )
    mag = ecnn.sharpness(net, X, y, magnitude_aware=True, eps=0.0, random_state=5, **SEARCH)
    mag_rescaled = ecnn.sharpness(
        rescaled, X, y, magnitude_aware=True, eps=0.0, random_state=5, **SEARCH
    )
    assert 0 < mag["sigma"] < math.inf
    assert mag_rescaled["sigma"] == pytest.approx(mag["sigma"], rel=1e-12)
    plain = ecnn.sharpness(net, X, y, random_state=5, **SEARCH)
    plain_rescaled = ecnn.sharpness(rescaled, X, y, random_state=5, **SEARCH)
    assert plain_rescaled["sigma"] != pytest.approx(plain["sigma"], rel=1e-3)


def _numpy_accuracy_change(net, X, y, sigma, n_draws, seed):
    """Independent Monte Carlo: numpy noise on every parameter, numpy forward pass."""
    rng = np.random.default_rng(seed)
    W = net[0].weight.detach().numpy()
    b = net[0].bias.detach().numpy()
    clean = np.mean(np.argmax(X @ W.T + b, axis=1) == y)
    accs = []
    for _ in range(n_draws):
        Wp = W + sigma * rng.standard_normal(W.shape)
        bp = b + sigma * rng.standard_normal(b.shape)
        accs.append(np.mean(np.argmax(X @ Wp.T + bp, axis=1) == y))
    accs = np.asarray(accs)
    return abs(accs.mean() - clean), accs.std(ddof=1) / math.sqrt(n_draws), accs.std(ddof=1)


def test_bisection_result_satisfies_the_accuracy_constraint():
    X, y, _ = _blobs()
    net = _centroid_classifier(4.0)  # threshold scale far from the starting sigma = 1
    n_samples, target = 50, 0.1
    found = ecnn.sharpness(
        net, X, y, target=target, n_samples=n_samples, search_depth=8, random_state=11
    )
    assert found["train_accuracy"] > 0.8
    change, se, spread = _numpy_accuracy_change(net, X, y, found["sigma"], 400, seed=99)
    # The search sees a 50-draw mean; allow 3 standard errors of both estimates.
    tolerance = 3 * math.hypot(se, spread / math.sqrt(n_samples))
    assert change <= target + tolerance
    change_upper, se_u, spread_u = _numpy_accuracy_change(net, X, y, found["sigma_upper"], 400, 98)
    assert change_upper >= target - 3 * math.hypot(se_u, spread_u / math.sqrt(n_samples))
    # A scale twice as large clearly breaks the constraint.
    change_double, _, _ = _numpy_accuracy_change(net, X, y, 2 * found["sigma"], 400, 97)
    assert change_double > target + tolerance


def test_sharpness_bad_arguments():
    X, y, _ = _blobs()
    net = _centroid_classifier()
    with pytest.raises(ValueError, match="target"):
        ecnn.sharpness(net, X, y, target=0.0)
    with pytest.raises(ValueError, match="n_samples"):
        ecnn.sharpness(net, X, y, n_samples=0)
    with pytest.raises(ValueError, match="labels go up to 5"):
        ecnn.sharpness(net, X, np.full(len(X), 5))


def _flat(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def test_pac_bayes_measures_closed_forms():
    X, y, _ = _blobs()
    net, init = _relu_net(3), _relu_net(4, first_scale=0.5)
    sigma, alpha, eps, m = 0.3, 0.2, 1e-3, len(X)
    got = ecnn.pac_bayes_measures(net, X, y, init_model=init, sigma=sigma, mag_sigma=alpha, eps=eps)
    w, w0 = _flat(net), _flat(init)
    omega = w.size

    def mag(r):
        # Jiang et al. (2020), eq. for the magnitude-aware bound, with reference r
        terms = [
            math.log((eps**2 + (alpha**2 + 1) * np.sum(r**2) / omega) / (eps**2 + alpha**2 * ri**2))
            for ri in r
        ]
        return 0.25 * sum(terms) + math.log(m / alpha) + 10

    expected = {
        "sigma": sigma,
        "mag_sigma": alpha,
        "pacbayes_init": np.sum((w - w0) ** 2) / (4 * sigma**2) + math.log(m / sigma) + 10,
        "pacbayes_orig": np.sum(w**2) / (4 * sigma**2) + math.log(m / sigma) + 10,
        "pacbayes_flatness": 1 / sigma**2,
        "pacbayes_mag_init": mag(w - w0),
        "pacbayes_mag_orig": mag(w),
        "pacbayes_mag_flatness": 1 / alpha**2,
    }
    assert list(got.index) == list(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-10), name
    normalized = ecnn.pac_bayes_measures(
        net, X, y, init_model=init, sigma=sigma, mag_sigma=alpha, normalize=True
    )
    assert normalized["pacbayes_orig"] == pytest.approx(math.sqrt(expected["pacbayes_orig"] / m))
    assert normalized["sigma"] == sigma


def test_pac_bayes_measures_search_and_missing_init():
    X, y, _ = _blobs()
    net = _relu_net(3)
    got = ecnn.pac_bayes_measures(net, X, y, random_state=2, **SEARCH)
    assert "pacbayes_init" not in got.index and "pacbayes_mag_init" not in got.index
    assert 0 < got["sigma"] < math.inf and 0 < got["mag_sigma"] < math.inf
    assert got["sigma"] == ecnn.sharpness(net, X, y, random_state=2, **SEARCH)["sigma"]
    mag = ecnn.sharpness(net, X, y, magnitude_aware=True, random_state=2, **SEARCH)["sigma"]
    assert got["mag_sigma"] == mag
    wider = nn.Sequential(nn.Linear(2, 7), nn.ReLU(), nn.Dropout(0.5), nn.Linear(7, 3)).double()
    with pytest.raises(ValueError, match="different architectures"):
        ecnn.pac_bayes_measures(net, X, y, init_model=wider, sigma=0.1, mag_sigma=0.1)
