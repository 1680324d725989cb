"""Stochastic trace estimators.

Oracles: ``np.trace`` of explicit matrices, closed-form traces of smoothers
built in the test (``tr(K (K + lam I)^-1) = sum mu / (mu + lam)`` over the
eigenvalues of ``K``; the ridge formula of Hastie,
Tibshirani & Friedman 2009, eq. 3.50), and the known
variance of Hutchinson's estimator.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import Ridge

import effcomplexity as ec
from effcomplexity.measures._probes import mean_std_error
from effcomplexity.measures.trace import hutchinson, hutchpp, smoother_trace
from effcomplexity.smoothers import Smoother, registered_types
from effcomplexity.smoothers import registry as smoother_registry


def _matrix(n=60, seed=0, symmetric=False):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) + 3.0 * np.eye(n)
    return A + A.T if symmetric else A


def _decaying(n=300, seed=0, power=2.0):
    """Symmetric positive definite matrix with eigenvalues i^-power."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (U * np.arange(1, n + 1) ** -power) @ U.T


# -- Hutchinson ----------------------------------------------------------------------------


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
@pytest.mark.parametrize("symmetric", [False, True])
def test_hutchinson_within_three_standard_errors(probe, symmetric):
    A = _matrix(symmetric=symmetric)
    estimate, se = hutchinson(
        lambda V: A @ V, 60, n_probes=200, probe=probe, random_state=1, return_std=True
    )
    assert se > 0
    assert abs(estimate - np.trace(A)) < 3 * se


def test_hutchinson_standard_error_matches_known_variance():
    # Oracle: for symmetric A and Gaussian probes, Var(z^T A z) = 2 ||A||_F^2.
    A = _matrix(symmetric=True)
    _, se = hutchinson(A, 60, n_probes=4000, probe="gaussian", random_state=0, return_std=True)
    expected = np.sqrt(2.0 * np.sum(A**2) / 4000)
    assert se == pytest.approx(expected, rel=0.1)


def test_hutchinson_is_exact_on_diagonal_with_rademacher():
    A = np.diag(np.linspace(-1.0, 5.0, 40))
    estimate, se = hutchinson(A, 40, n_probes=3, random_state=0, return_std=True)
    assert estimate == pytest.approx(np.trace(A), abs=1e-12)
    assert se == pytest.approx(0.0, abs=1e-12)


def test_hutchinson_error_decreases_with_probes():
    A = _matrix(symmetric=True)
    exact = np.trace(A)

    def rmse(k):
        errors = [hutchinson(A, 60, n_probes=k, random_state=s) - exact for s in range(20)]
        return np.sqrt(np.mean(np.square(errors)))

    # Error shrinks like 1/sqrt(k): 16x the probes, about a quarter of the error.
    assert rmse(256) < 0.5 * rmse(16)


def test_hutchinson_blocks_do_not_change_the_result():
    A = _matrix()
    whole = hutchinson(A, 60, n_probes=50, random_state=3)
    blocked = hutchinson(A, 60, n_probes=50, random_state=3, block_size=7)
    np.testing.assert_allclose(blocked, whole, rtol=1e-12)


def test_accepts_sparse_matrices_and_seeds_reproduce():
    A = scipy.sparse.random(80, 80, density=0.1, random_state=0, format="csr")
    first = hutchinson(A, 80, n_probes=30, random_state=5)
    assert first == hutchinson(A, 80, n_probes=30, random_state=5)
    assert hutchpp(A, 80, n_matvecs=30, random_state=5) == hutchpp(
        A, 80, n_matvecs=30, random_state=5
    )


# -- Hutch++ -------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 5, 9])
def test_hutchpp_exact_on_low_rank(rank):
    rng = np.random.default_rng(rank)
    B, C = rng.normal(size=(150, rank)), rng.normal(size=(rank, 150))
    A = B @ C  # not symmetric; rank < n_matvecs / 3 = 10
    estimate, se = hutchpp(lambda V: A @ V, 150, n_matvecs=30, random_state=0, return_std=True)
    assert estimate == pytest.approx(np.trace(A), abs=1e-9 * np.abs(A).sum())
    assert se < 1e-9 * np.abs(A).sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hutchpp_within_three_standard_errors(seed):
    A = _matrix(symmetric=True, seed=seed)
    estimate, se = hutchpp(A, 60, n_matvecs=90, random_state=seed, return_std=True)
    assert abs(estimate - np.trace(A)) < 3 * se


def _hutchpp_bias_z(n_seeds: int = 400) -> float:
    """z-score of the mean Hutch++ estimate over many seeds against np.trace.

    A matrix with slowly decaying eigenvalues i^-1/2 and a budget of 12 products
    (sketch of 4, 4 probes) leaves most of the trace (about 14 of 17) to the probed
    remainder, so a bias of a tenth of the remainder is many standard errors.
    """
    A = _decaying(n=80, power=0.5)
    runs = np.array([hutchpp(A, 80, n_matvecs=12, random_state=s) for s in range(n_seeds)])
    return float((runs.mean() - np.trace(A)) / (runs.std(ddof=1) / np.sqrt(n_seeds)))


def test_hutchpp_is_unbiased_over_many_seeds(monkeypatch):
    """Unbiased given the sketch (trace cyclicity, Meyer et al. 2021): the mean of 400
    independent estimates is within 4 standard errors of the exact trace. The same
    check must reject an estimator whose probed remainder is 10% too large."""
    assert abs(_hutchpp_bias_z()) < 4
    from effcomplexity.measures import trace

    def inflated(samples, axis=-1):
        mean, se = mean_std_error(samples, axis)
        return 1.1 * mean, se

    monkeypatch.setattr(trace, "mean_std_error", inflated)
    assert _hutchpp_bias_z() > 4


def test_hutchpp_full_sketch_is_exact():
    A = _matrix(n=10)
    estimate, se = hutchpp(A, 10, n_matvecs=40, random_state=0, return_std=True)
    assert estimate == pytest.approx(np.trace(A), abs=1e-10)
    assert se == 0.0


def test_hutchpp_beats_hutchinson_on_decaying_spectrum():
    A = _decaying()
    exact = np.trace(A)
    seeds = range(30)
    err_hutch = [hutchinson(A, 300, n_probes=60, random_state=s) - exact for s in seeds]
    err_pp = [hutchpp(A, 300, n_matvecs=60, random_state=s) - exact for s in seeds]
    # Same budget of 60 products; the sketch removes the 20 leading eigenvalues, which
    # carry most of the Frobenius norm, so the mean squared error drops by far more
    # than the factor 4 asserted here.
    assert np.mean(np.square(err_pp)) < 0.25 * np.mean(np.square(err_hutch))


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hutchinson(np.eye(5), 5, n_probes=1), "n_probes must be an integer >= 2"),
        (lambda: hutchpp(np.eye(5), 5, n_matvecs=3), "n_matvecs must be an integer >= 4"),
        (lambda: hutchinson(np.eye(5), 0), "n must be a positive integer"),
        (lambda: hutchinson(np.eye(4), 5), r"shape \(4, 4\); expected \(5, 5\)"),
        (lambda: hutchinson(lambda V: V[:2], 5), "matvec returned shape"),
        (lambda: hutchinson(np.eye(5), 5, probe="sobol"), "probe must be one of"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_operator_is_a_type_error():
    with pytest.raises(TypeError, match="matvec must be a callable"):
        hutchinson("A", 5)


# -- smoother_trace --------------------------------------------------------------------------


class KernelRidgeModel:
    """Kernel ridge with a Gaussian kernel: S = K (K + lam I)^-1 (a test-only family)."""

    def __init__(self, lam=1.0):
        self.lam = lam

    def fit(self, X, y):
        self.X_ = np.asarray(X, dtype=float)
        K = self._kernel(self.X_, self.X_)
        self.alpha_ = np.linalg.solve(K + self.lam * np.eye(len(K)), y)
        return self

    def _kernel(self, A, B):
        return np.exp(-0.5 * np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1))

    def predict(self, X):
        return self._kernel(np.asarray(X, dtype=float), self.X_) @ self.alpha_


class KernelRidgeSmoother(Smoother):
    """Matrix-free products only; ``matrix`` refuses, so a dense path cannot hide."""

    calls: list[int] = []

    def _matrix(self, X):
        raise AssertionError("smoother_trace must not form S")

    def _smooth(self, Y, X):
        type(self).calls.append(Y.shape[1])
        est = self.estimator
        K = est._kernel(self.X_train, self.X_train)
        Xe = self.X_train if X is None else X
        return est._kernel(Xe, self.X_train) @ np.linalg.solve(K + est.lam * np.eye(len(K)), Y)

    def _trace(self):
        K = self.estimator._kernel(self.X_train, self.X_train)
        return float(np.trace(K @ np.linalg.inv(K + self.estimator.lam * np.eye(len(K)))))


@pytest.fixture
def kernel_ridge(monkeypatch):
    # A private copy of the registry, so the test family never leaks into other tests.
    monkeypatch.setattr(smoother_registry, "_REGISTRY", dict(smoother_registry._REGISTRY))
    ec.register_smoother(KernelRidgeModel)(KernelRidgeSmoother)
    KernelRidgeSmoother.calls.clear()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    est = KernelRidgeModel(lam=0.5).fit(X, rng.normal(size=120))
    K = est._kernel(X, X)
    mu = np.linalg.eigvalsh(K)
    return est, X, float(np.sum(mu / (mu + 0.5)))


@pytest.mark.parametrize("method", ["hutchpp", "hutchinson"])
def test_smoother_trace_uses_the_smooth_route(kernel_ridge, method):
    est, X, exact = kernel_ridge
    value, se = smoother_trace(est, X, method=method, n_matvecs=60, random_state=0, return_std=True)
    assert abs(value - exact) < 3 * se
    assert sum(KernelRidgeSmoother.calls) == 60
    assert smoother_trace(est, X, method=method, n_matvecs=60, random_state=0) == value


def test_smoother_trace_hutchpp_tighter_than_hutchinson(kernel_ridge):
    # A Gaussian-kernel smoother has a fast-decaying spectrum: Hutch++ reports a smaller
    # standard error for the same products.
    est, X, _ = kernel_ridge
    _, se_pp = smoother_trace(est, X, n_matvecs=60, random_state=0, return_std=True)
    _, se_h = smoother_trace(
        est, X, method="hutchinson", n_matvecs=60, random_state=0, return_std=True
    )
    assert se_pp < se_h


def test_smoother_trace_exact_and_bad_method(kernel_ridge):
    est, X, exact = kernel_ridge
    assert smoother_trace(est, X, method="exact", return_std=True) == (
        pytest.approx(exact, rel=1e-10),
        0.0,
    )
    with pytest.raises(ValueError, match="method must be one of"):
        smoother_trace(est, X, method="lanczos")


def test_smoother_trace_unregistered_type():
    with pytest.raises(TypeError, match="No smoother is registered"):
        smoother_trace(KernelRidgeModel().fit(np.eye(3), np.ones(3)), np.eye(3))


@pytest.mark.skipif(
    "sklearn.linear_model._ridge.Ridge" not in registered_types(),
    reason="the ridge smoother family is not registered",
)
def test_smoother_trace_of_ridge_matches_closed_form():
    # Oracle (Hastie, Tibshirani & Friedman 2009, eq. 3.50): tr(S) = sum d^2 / (d^2 +
    # lambda) over singular values of the centred design, plus 1 for the unpenalised intercept.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 30))
    est = Ridge(alpha=20.0).fit(X, rng.normal(size=200))
    d = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    exact = float(np.sum(d**2 / (d**2 + 20.0)) + 1.0)
    value, se = smoother_trace(est, X, n_matvecs=90, random_state=0, return_std=True)
    assert abs(value - exact) < 3 * se + 1e-8
