"""The earlier ways of passing data to the network measures still work, with a warning.

Every measure takes ``(model, X, y, *, ...)``; each old spelling must emit a
``FutureWarning`` that shows the new call and give exactly the numbers of the
new call (the oracle here is the new spelling on the same inputs and seeds,
whose values the other test modules check against closed forms).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from effcomplexity import nn as ecnn

torch.set_num_threads(1)

RNG = np.random.default_rng(0)
X = torch.as_tensor(RNG.standard_normal((12, 3)))
Y_REG = torch.as_tensor(RNG.standard_normal((12, 1)))
LABELS = np.arange(12) % 2
MSE = nn.MSELoss()


def _net(seed: int = 0, outputs: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, outputs)).double()


def _new(call):
    """Run a call in the new spelling, which must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        return call()


def _old(call, new_call: str):
    """Run a call in an old spelling: one FutureWarning that shows ``new_call``."""
    with pytest.warns(FutureWarning, match=re.escape(f"call {new_call} instead")):
        return call()


def _same(a, b) -> None:
    if isinstance(a, tuple):
        for left, right in zip(a, b, strict=True):
            _same(left, right)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif hasattr(a, "estimate"):
        _same(a.loss_trace, b.loss_trace)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


V = np.linspace(-1.0, 1.0, sum(p.numel() for p in _net().parameters()))
LOADER = [(X[:6], Y_REG[:6]), (X[6:], Y_REG[6:])]
LLC = {"n_samples": 20, "n_burnin": 5, "n_chains": 2, "random_state": 0}

# name -> (old call, new call, the new call as the warning shows it)
CASES = {
    "hessian_vector_product": (
        lambda: ecnn.hessian_vector_product(_net(), MSE, (X, Y_REG), V),
        lambda: ecnn.hessian_vector_product(_net(), X, Y_REG, loss_fn=MSE, v=V),
        "hessian_vector_product(model, X, y, loss_fn=loss_fn, v=v)",
    ),
    "hessian_vector_product_loader": (
        lambda: ecnn.hessian_vector_product(_net(), MSE, LOADER, V),
        lambda: ecnn.hessian_vector_product(_net(), LOADER, loss_fn=MSE, v=V),
        "hessian_vector_product(model, loader, loss_fn=loss_fn, v=v)",
    ),
    "hessian_vector_product_keywords": (
        lambda: ecnn.hessian_vector_product(_net(), loss_fn=MSE, data=(X, Y_REG), v=V),
        lambda: ecnn.hessian_vector_product(_net(), X, Y_REG, loss_fn=MSE, v=V),
        "hessian_vector_product(model, X, y, loss_fn=loss_fn)",
    ),
    "hessian_eigenvalues": (
        lambda: ecnn.hessian_eigenvalues(_net(), MSE, (X, Y_REG), 3, random_state=0),
        lambda: ecnn.hessian_eigenvalues(_net(), X, Y_REG, loss_fn=MSE, k=3, random_state=0),
        "hessian_eigenvalues(model, X, y, loss_fn=loss_fn, k=k)",
    ),
    "hessian_trace": (
        lambda: ecnn.hessian_trace(_net(), MSE, (X, Y_REG), n_probes=3, random_state=0),
        lambda: ecnn.hessian_trace(_net(), X, Y_REG, loss_fn=MSE, n_probes=3, random_state=0),
        "hessian_trace(model, X, y, loss_fn=loss_fn)",
    ),
    "spectral_density": (
        lambda: ecnn.spectral_density(_net(), MSE, (X, Y_REG), n_probes=2, random_state=0),
        lambda: ecnn.spectral_density(_net(), X, Y_REG, loss_fn=MSE, n_probes=2, random_state=0),
        "spectral_density(model, X, y, loss_fn=loss_fn)",
    ),
    "effective_dimensionality": (
        lambda: ecnn.effective_dimensionality(_net(), MSE, (X, Y_REG), k=3, random_state=0),
        lambda: ecnn.effective_dimensionality(_net(), X, Y_REG, loss_fn=MSE, k=3, random_state=0),
        "effective_dimensionality(model, X, y, loss_fn=loss_fn)",
    ),
    "local_learning_coefficient": (
        lambda: ecnn.local_learning_coefficient(_net(), MSE, (X, Y_REG), **LLC),
        lambda: ecnn.local_learning_coefficient(_net(), X, Y_REG, loss_fn=MSE, **LLC),
        "local_learning_coefficient(model, X, y, loss_fn=loss_fn)",
    ),
    "weight_measures": (
        lambda: ecnn.weight_measures(_net(outputs=2), _net(1, 2), X=X, y=LABELS),
        lambda: ecnn.weight_measures(_net(outputs=2), X, LABELS, init_model=_net(1, 2)),
        "weight_measures(model, X, y, init_model=init_model)",
    ),
    "weight_measures_no_data": (
        lambda: ecnn.weight_measures(_net(), _net(1)),
        lambda: ecnn.weight_measures(_net(), init_model=_net(1)),
        "weight_measures(model, init_model=init_model)",
    ),
    "spectral_complexity": (
        lambda: ecnn.spectral_complexity(_net(), _net(1)),
        lambda: ecnn.spectral_complexity(_net(), init_model=_net(1)),
        "spectral_complexity(model, init_model=init_model)",
    ),
    "path_norm": (
        lambda: ecnn.path_norm(_net(), 1),
        lambda: ecnn.path_norm(_net(), p=1),
        "path_norm(model, p=p)",
    ),
    "margin": (
        lambda: ecnn.margin(_net(outputs=2), X, LABELS, 0.3),
        lambda: ecnn.margin(_net(outputs=2), X, LABELS, quantile=0.3),
        "margin(model, X, y, quantile=quantile)",
    ),
    "pac_bayes_measures": (
        lambda: ecnn.pac_bayes_measures(
            _net(0, 2), X, LABELS, _net(1, 2), sigma=0.1, mag_sigma=0.1
        ),
        lambda: ecnn.pac_bayes_measures(
            _net(0, 2), X, LABELS, init_model=_net(1, 2), sigma=0.1, mag_sigma=0.1
        ),
        "pac_bayes_measures(model, X, y, init_model=init_model)",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_old_spelling_warns_and_gives_the_same_numbers(name):
    old, new, shown = CASES[name]
    _same(_old(old, shown), _new(new))


def _tracked(tracker: ecnn.TelescopingTracker, model: nn.Module):
    """Two SGD steps through the tracker; its smoother and predictions after them."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for idx in (torch.arange(6), torch.arange(6, 12)):
        optimizer.zero_grad()
        MSE(model(X[idx]), Y_REG[idx]).backward()
        tracker.step(optimizer, idx)
        optimizer.step()
    return tracker.smoother_matrix("eval"), tracker.predictions("eval")


X_EVAL = torch.as_tensor(RNG.standard_normal((5, 3)))
TRACKERS = {
    "positional_eval_and_y_train": (
        lambda m: ecnn.TelescopingTracker(m, X, X_EVAL, y_train=Y_REG),
        "TelescopingTracker(model, X, y, X_eval=X_eval)",
    ),
    "keywords": (
        lambda m: ecnn.TelescopingTracker(m, X_train=X, X_eval=X_EVAL, y_train=Y_REG),
        "TelescopingTracker(model, X, y, X_eval=X_eval)",
    ),
}


@pytest.mark.parametrize("name", list(TRACKERS))
def test_old_tracker_spelling_warns_and_tracks_the_same(name):
    old, shown = TRACKERS[name]
    model = _net()
    got = _tracked(_old(lambda: old(model), shown), model)
    model = _net()
    expected = _tracked(
        _new(lambda: ecnn.TelescopingTracker(model, X, Y_REG, X_eval=X_EVAL)), model
    )
    _same(got, expected)


def test_old_tracker_third_argument_as_held_out_inputs():
    # (5, 3) rows cannot be targets of 12 training rows: the old X_eval.
    model = _net()
    with pytest.warns(
        FutureWarning, match=re.escape("TelescopingTracker(model, X, X_eval=X_eval)")
    ):
        tracker = ecnn.TelescopingTracker(model, X, X_EVAL)
    assert (tracker.n_train_, tracker.n_eval_) == (12, 5)


def test_tracker_third_argument_that_fits_both_is_y_with_a_warning():
    # X of shape (12, 1) and a one-output model: a (12, 1) array is y or X_eval.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    X1 = X[:, :1]
    with pytest.warns(FutureWarning, match="now the targets y"):
        tracker = ecnn.TelescopingTracker(model, X1, Y_REG)
    assert tracker.n_eval_ == 0
    np.testing.assert_array_equal(tracker._y.numpy(), Y_REG.numpy())
    tracker = _new(lambda: ecnn.TelescopingTracker(model, X1, y=Y_REG))
    assert tracker.n_eval_ == 0


def test_new_tracker_spelling_with_targets_does_not_warn():
    tracker = _new(lambda: ecnn.TelescopingTracker(_net(), X, Y_REG, X_eval=X_EVAL))
    assert (tracker.n_train_, tracker.n_eval_) == (12, 5)


def test_loss_data_without_targets_raises():
    with pytest.raises(TypeError, match="y is missing"):
        ecnn.hessian_trace(_net(), X, loss_fn=MSE)
    with pytest.raises(TypeError, match="loss_fn"):
        ecnn.hessian_trace(_net(), X, Y_REG)


def test_old_spelling_with_a_clashing_keyword_raises():
    with pytest.raises(TypeError, match="multiple values for argument 'k'"):
        ecnn.hessian_eigenvalues(_net(), MSE, (X, Y_REG), 3, k=2)
    with pytest.raises(TypeError, match="multiple values for argument 'init_model'"):
        ecnn.spectral_complexity(_net(), _net(1), init_model=_net(1))
