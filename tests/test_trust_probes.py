"""Probe estimates never surprise the caller: seeded, announced, checked, bounded.

Defect classes, one test each:

* ``method="auto"`` falling back to probes without a fixed seed or a word;
* invalid probe arguments accepted when the exact path happens to be taken;
* ``random_state`` given as a ``numpy.random.Generator``;
* ``degrees_of_freedom(kind="variance" | "residual")`` forming a dense
  ``n x n`` matrix at any size.

Oracles: smoother matrices written out in this file (kernel ridge
``K (K + lambda I)^-1``, a centred ridge hat matrix, brute-force k-nearest
neighbour weights), their exact traces and Frobenius norms, and repeat-call
equality.
"""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor, VotingRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

import effcomplexity as ec
from effcomplexity.measures import effective
from effcomplexity.smoothers.registry import Smoother

# -- fixtures written from first principles ---------------------------------------


def _kernel_ridge(n=60, alpha=0.5, seed=0):
    """A kernel ridge fit and its smoother ``K (K + alpha I)^-1`` (numpy solve)."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, 2)), rng.normal(size=n)
    model = KernelRidge(alpha=alpha, kernel="rbf", gamma=0.5).fit(X, y)
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(-0.5 * sq)
    S = np.linalg.solve(K + alpha * np.eye(n), K).T
    return model, X, S


def _knn_weights(X_train, X, k):
    """Brute-force k-nearest-neighbour weights: 1/k on the k closest rows."""
    d = np.sum((X[:, None, :] - X_train[None, :, :]) ** 2, axis=-1)
    W = np.zeros((X.shape[0], X_train.shape[0]))
    W[np.arange(X.shape[0])[:, None], np.argsort(d, axis=1, kind="stable")[:, :k]] = 1.0 / k
    return W


def _voting(n, seed=0):
    """An unweighted vote of a ridge and a 5-NN regressor, with its smoother written out."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    vote = VotingRegressor(
        [("ridge", Ridge(alpha=2.0)), ("knn", KNeighborsRegressor(n_neighbors=5))]
    ).fit(X, y)
    return vote, X, y


def _voting_matrix(X):
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    H = 1.0 / n + Xc @ np.linalg.solve(Xc.T @ Xc + 2.0 * np.eye(X.shape[1]), Xc.T)
    return 0.5 * H + 0.5 * _knn_weights(X, X, 5)


def _voting_of_boosters(n=40):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(n, 2)), rng.normal(size=n)
    boosters = [
        (f"s{s}", GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=s))
        for s in range(2)
    ]
    return VotingRegressor(boosters).fit(X, y), X


@pytest.fixture
def tiny_budget(monkeypatch):
    """Budgets so small that ``method="auto"`` probes even these tiny models."""
    monkeypatch.setattr(effective, "AUTO_EXACT_MAX_ENTRIES", 100)
    monkeypatch.setattr(effective, "AUTO_EXACT_MAX_STAGED_ENTRIES", 100)


# -- no silent randomness ---------------------------------------------------------

AUTO_CALLS = {
    "effective_parameters": lambda model, X, **kw: ec.effective_parameters(model, X, **kw),
    "p_test": lambda model, X, **kw: ec.effective_parameters(model, X, X[:25], **kw),
    "df_variance": lambda model, X, **kw: ec.degrees_of_freedom(model, X, kind="variance", **kw),
    "df_residual": lambda model, X, **kw: ec.degrees_of_freedom(model, X, kind="residual", **kw),
}


def _oracle(name, S):
    S_test = S[:25]
    return {
        "effective_parameters": np.sum(S**2),
        "p_test": S.shape[0] / 25 * np.sum(S_test**2),
        "df_variance": np.sum(S**2),
        "df_residual": 2 * np.trace(S) - np.sum(S**2),
    }[name]


@pytest.mark.parametrize("name", sorted(AUTO_CALLS))
def test_auto_probes_are_seeded_announced_and_report_their_error(name, tiny_budget, caplog):
    """Two identical calls give identical numbers; a ProbeEstimateWarning and a
    log record on the package logger say probes were used; return_std gives the
    probe error, and the exact value (oracle: K (K + alpha I)^-1 written out)
    lies within 4 of those standard errors."""
    model, X, S = _kernel_ridge()
    call = AUTO_CALLS[name]
    with caplog.at_level(logging.INFO, logger="effcomplexity"):
        with pytest.warns(ec.ProbeEstimateWarning, match="probes"):
            first, std = call(model, X, return_std=True)
    assert any("probes" in r.getMessage() for r in caplog.records)
    assert all(r.name.startswith("effcomplexity") for r in caplog.records)
    with pytest.warns(ec.ProbeEstimateWarning):
        second = call(model, X)
    assert first == second
    assert 0 < std < np.inf
    assert abs(first - _oracle(name, S)) < 4 * std
    # The seed the caller passes is the one used: same as method="probe".
    with pytest.warns(ec.ProbeEstimateWarning, match="random_state=7"):
        seeded = call(model, X, random_state=7)
    assert seeded == call(model, X, method="probe", random_state=7)


def test_auto_probes_warning_can_be_filtered(tiny_budget, recwarn):
    import warnings

    model, X, _ = _kernel_ridge()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ec.ProbeEstimateWarning)
        ec.effective_parameters(model, X)
    assert issubclass(ec.ProbeEstimateWarning, UserWarning)
    assert "ProbeEstimateWarning" in ec.__all__


def test_exact_auto_path_says_nothing(recwarn):
    model, X, S = _kernel_ridge()
    assert ec.effective_parameters(model, X) == pytest.approx(np.sum(S**2), rel=1e-10)
    assert not [w for w in recwarn if issubclass(w.category, ec.ProbeEstimateWarning)]


@pytest.mark.parametrize(
    "call",
    [
        lambda m, X, **kw: ec.staged_effective_parameters(m, X, **kw),
        lambda m, X, **kw: ec.staged_degrees_of_freedom(m, X, **kw),
    ],
    ids=["staged_effective_parameters", "staged_degrees_of_freedom"],
)
def test_staged_auto_probes_are_seeded_and_announced(call, tiny_budget):
    """Repeat-call equality for the staged measures when "auto" probes."""
    model, X = _voting_of_boosters()
    with pytest.warns(ec.ProbeEstimateWarning):
        first, std = call(model, X, return_std=True)
    with pytest.warns(ec.ProbeEstimateWarning):
        second = call(model, X)
    np.testing.assert_array_equal(first, second)
    assert np.all(std > 0)


def test_explicit_probe_method_without_seed_is_reproducible():
    """method="probe" without random_state uses the documented default seed."""
    model, X, _ = _kernel_ridge()
    calls = [
        lambda: ec.effective_parameters(model, X, method="probe"),
        lambda: ec.degrees_of_freedom(model, X, kind="variance", method="probe"),
        lambda: ec.smoother_trace(model, X, method="hutchpp"),
        lambda: ec.smoother_trace(model, X, method="hutchinson"),
    ]
    for call in calls:
        assert call() == call()
    assert ec.effective_parameters(model, X, method="probe") == ec.effective_parameters(
        model, X, method="probe", random_state=effective.DEFAULT_PROBE_SEED
    )


# -- invalid probe arguments raise on every path ----------------------------------

BAD_PROBE_ARGS = [
    ({"n_probes": 0}, ValueError, "n_probes must be an integer >= 2"),
    ({"n_probes": -5}, ValueError, "n_probes must be an integer >= 2"),
    ({"n_probes": 1}, ValueError, "n_probes must be an integer >= 2"),
    ({"n_probes": 2.5}, ValueError, "n_probes must be an integer >= 2"),
    ({"n_probes": True}, ValueError, "n_probes must be an integer >= 2"),
    ({"n_probes": "10"}, ValueError, "n_probes must be an integer >= 2"),
    ({"probe": "uniform"}, ValueError, "probe must be one of"),
    ({"random_state": 1.5}, TypeError, "random_state must be None, an integer seed"),
    ({"random_state": "0"}, TypeError, "random_state must be None, an integer seed"),
]


def _ridge():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    return Ridge(alpha=1.0).fit(X, y), X


def _booster():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    return GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y), X


PROBE_MEASURES = {
    "effective_parameters": (_ridge, ec.effective_parameters, {}),
    "degrees_of_freedom[trace]": (_ridge, ec.degrees_of_freedom, {"kind": "trace"}),
    "degrees_of_freedom[variance]": (_ridge, ec.degrees_of_freedom, {"kind": "variance"}),
    "degrees_of_freedom[residual]": (_ridge, ec.degrees_of_freedom, {"kind": "residual"}),
    "staged_effective_parameters": (_booster, ec.staged_effective_parameters, {}),
    "staged_degrees_of_freedom": (_booster, ec.staged_degrees_of_freedom, {}),
}


@pytest.mark.parametrize("method", ["auto", "exact", "probe"])
@pytest.mark.parametrize("measure", sorted(PROBE_MEASURES))
@pytest.mark.parametrize("bad, error, message", BAD_PROBE_ARGS, ids=repr)
def test_invalid_probe_arguments_raise_on_every_path(measure, method, bad, error, message):
    """ "auto" on these small models takes the exact path, which used to ignore
    every probe argument; each now raises before any work."""
    make, function, kwargs = PROBE_MEASURES[measure]
    model, X = make()
    with pytest.raises(error, match=message):
        function(model, X, method=method, **kwargs, **bad)


SMOOTHER_TRACE_BAD = [
    ({"n_matvecs": 0}, ValueError, "n_matvecs must be an integer"),
    ({"n_matvecs": -1}, ValueError, "n_matvecs must be an integer"),
    ({"n_matvecs": 9.0}, ValueError, "n_matvecs must be an integer"),
    ({"probe": "uniform"}, ValueError, "probe must be one of"),
    ({"random_state": 0.5}, TypeError, "random_state must be None, an integer seed"),
]


@pytest.mark.parametrize("method", ["exact", "hutchpp", "hutchinson"])
@pytest.mark.parametrize("bad, error, message", SMOOTHER_TRACE_BAD, ids=repr)
def test_smoother_trace_checks_probe_arguments_on_every_path(method, bad, error, message):
    model, X = _ridge()
    with pytest.raises(error, match=message):
        ec.smoother_trace(model, X, method=method, **bad)


# -- random_state accepts a Generator everywhere ------------------------------------

GENERATOR_CALLS = {
    "effective_parameters": lambda rs: ec.effective_parameters(
        *_ridge(), method="probe", random_state=rs
    ),
    "degrees_of_freedom": lambda rs: ec.degrees_of_freedom(
        *_ridge(), kind="residual", method="probe", random_state=rs
    ),
    "staged_effective_parameters": lambda rs: ec.staged_effective_parameters(
        *_booster(), method="probe", random_state=rs
    ),
    "staged_degrees_of_freedom": lambda rs: ec.staged_degrees_of_freedom(
        *_booster(), method="probe", random_state=rs
    ),
    "smoother_trace": lambda rs: ec.smoother_trace(*_ridge(), method="hutchinson", random_state=rs),
    "hutchinson": lambda rs: ec.hutchinson(np.diag(np.arange(1.0, 9.0)) + 0.1, 8, random_state=rs),
    "hutchpp": lambda rs: ec.hutchpp(np.diag(np.arange(1.0, 40.0)) + 0.1, 39, 12, random_state=rs),
    "generalized_degrees_of_freedom": lambda rs: ec.generalized_degrees_of_freedom(
        lambda: Ridge(alpha=1.0), *_ridge_data(), sigma=0.5, n_perturbations=5, random_state=rs
    ),
}


def _ridge_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(30, 4)), rng.normal(size=30)


@pytest.mark.parametrize("name", sorted(GENERATOR_CALLS))
def test_random_state_accepts_a_generator(name):
    """Twin Generators give identical numbers, as an integer seed does, and the
    Generator's stream advances (it is used, not copied)."""
    call = GENERATOR_CALLS[name]
    generator = np.random.default_rng(11)
    before = generator.bit_generator.state
    first = call(generator)
    assert generator.bit_generator.state != before
    np.testing.assert_array_equal(first, call(np.random.default_rng(11)))
    np.testing.assert_array_equal(call(4), call(4))
    np.testing.assert_array_equal(call(4), call(np.random.RandomState(4)))


# -- degrees of freedom without a dense n x n matrix ----------------------------------


@pytest.mark.parametrize("kind", ["variance", "residual"])
def test_df_kinds_probe_match_exact_within_reported_error(kind):
    """Oracle: tr(S S^T) and tr(2 S - S S^T) of the voting smoother written out
    (centred ridge hat matrix and brute-force 5-NN weights, averaged)."""
    vote, X, y = _voting(120)
    S = _voting_matrix(X)
    np.testing.assert_allclose(S @ y, vote.predict(X), atol=1e-10)
    exact = {"variance": np.sum(S**2), "residual": 2 * np.trace(S) - np.sum(S**2)}[kind]
    assert ec.degrees_of_freedom(vote, X, kind=kind) == pytest.approx(exact, rel=1e-10)
    assert ec.degrees_of_freedom(vote, X, kind=kind, method="exact") == pytest.approx(exact)
    value, std = ec.degrees_of_freedom(
        vote, X, kind=kind, method="probe", n_probes=400, random_state=0, return_std=True
    )
    assert 0 < std < 0.05 * exact
    assert abs(value - exact) < 4 * std
    assert ec.degrees_of_freedom(vote, X, kind=kind, return_std=True) == (
        pytest.approx(exact, rel=1e-10),
        0.0,
    )


def test_df_trace_probe_matches_exact_within_reported_error():
    vote, X, _ = _voting(120)
    exact = np.trace(_voting_matrix(X))
    value, std = ec.degrees_of_freedom(
        vote, X, method="probe", n_probes=400, random_state=1, return_std=True
    )
    assert abs(value - exact) < 4 * std
    assert ec.degrees_of_freedom(vote, X) == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("kind", ["variance", "residual"])
def test_large_df_kinds_never_form_the_dense_matrix(kind, monkeypatch):
    """Above effective_parameters' budget (n * n > 25 million at n = 5001) the
    variance and residual kinds probe, as effective_parameters does: the dense
    route is never called and the traced peak (25 probes: a few (n, 25) blocks and
    the 5-NN gather of (n, 5, 25) labels) stays below a tenth of one n x n array."""
    n = 5001
    vote, X, _ = _voting(n)
    smoother = ec.get_smoother(vote, X)
    assert not effective.use_exact(smoother, n, "auto")

    def dense(*args, **kwargs):
        raise AssertionError("the dense n x n smoother matrix was formed")

    monkeypatch.setattr(Smoother, "_matrix", dense)
    monkeypatch.setattr(type(smoother), "_matrix", dense)
    tracemalloc.start()
    try:
        with pytest.warns(ec.ProbeEstimateWarning):
            value, std = ec.degrees_of_freedom(smoother, X, kind=kind, n_probes=25, return_std=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense_bytes = n * n * 8
    assert peak < dense_bytes / 10, f"peak {peak / 1e6:.0f} MB, dense {dense_bytes / 1e6:.0f} MB"
    assert np.isfinite(value) and 0 < std < 0.1 * abs(value)
