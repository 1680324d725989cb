"""RandomFourierFeatures and MinNormLeastSquares: scikit-learn compatibility and
their definitions, checked against numpy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from effcomplexity.models import MinNormLeastSquares, RandomFourierFeatures
from tests.cases.linear import data


@parametrize_with_checks(
    [RandomFourierFeatures(n_features=7, random_state=0), MinNormLeastSquares()]
)
def test_sklearn_compatible(estimator, check):
    """scikit-learn's estimator checks (all apply; none is expected to fail)."""
    check(estimator)


# -- RandomFourierFeatures ------------------------------------------------------


def test_rff_definition():
    """Oracle: the feature map written out column by column,
    [1, cos(v_1.x), sin(v_1.x), cos(v_2.x), ...] truncated to n_features."""
    X = np.random.default_rng(0).uniform(size=(6, 4))
    rff = RandomFourierFeatures(n_features=5, include_bias=True, random_state=1).fit(X)
    V = rff.random_weights_
    assert V.shape == (4, 3)
    columns = [np.ones(6)]
    for k in range(3):
        columns += [np.cos(X @ V[:, k]), np.sin(X @ V[:, k])]
    np.testing.assert_allclose(rff.transform(X), np.column_stack(columns)[:, :6], atol=1e-14)


@pytest.mark.parametrize("random_state", [0, 123])
def test_rff_prefix_is_nested(random_state):
    """Definition (documented convention): for a fixed seed, the frequencies of
    an N-column map are the first ones of a larger map, bit for bit, so its
    columns equal the first N columns (up to the rounding of the product X V,
    which BLAS blocks differently for different widths)."""
    X = np.random.default_rng(1).uniform(size=(5, 3))
    large = RandomFourierFeatures(n_features=40, random_state=random_state).fit(X)
    for n_features in (1, 2, 7, 25):
        small = RandomFourierFeatures(n_features=n_features, random_state=random_state).fit(X)
        n_freq = small.random_weights_.shape[1]
        np.testing.assert_array_equal(small.random_weights_, large.random_weights_[:, :n_freq])
        np.testing.assert_allclose(
            small.transform(X), large.transform(X)[:, :n_features], rtol=0, atol=1e-14
        )


def test_rff_frequency_scale():
    """Closed form: v ~ N(0, bandwidth^-2 I). With 20,000 draws the sample
    standard deviation is within 4 standard errors (sd/sqrt(2N), under 2%)
    of 1/bandwidth, and the mean within 4 sd/sqrt(N) of 0."""
    X = np.zeros((1, 4))
    for bandwidth in (5.0, 0.5):
        V = RandomFourierFeatures(n_features=10_000, bandwidth=bandwidth, random_state=0).fit(X)
        draws = V.random_weights_.ravel()
        sd = 1.0 / bandwidth
        assert abs(draws.std() - sd) < 4 * sd / np.sqrt(2 * draws.size)
        assert abs(draws.mean()) < 4 * sd / np.sqrt(draws.size)


def test_rff_pairs_lie_on_unit_circle():
    """Closed form: cos^2 + sin^2 = 1 for every frequency."""
    X = np.random.default_rng(2).normal(size=(8, 3))
    Z = RandomFourierFeatures(n_features=10, random_state=0).fit_transform(X)
    np.testing.assert_allclose(Z[:, 0::2] ** 2 + Z[:, 1::2] ** 2, 1.0)


@pytest.mark.parametrize(
    "params",
    [{"n_features": 0}, {"n_features": 2.5}, {"bandwidth": 0.0}, {"bandwidth": -1.0}],
)
def test_rff_invalid_parameters(params):
    """Invalid parameters raise ValueError at fit."""
    with pytest.raises(ValueError, match="must be a positive"):
        RandomFourierFeatures(**params).fit(np.ones((3, 2)))


def test_rff_feature_names():
    """One output name per column, bias included."""
    rff = RandomFourierFeatures(n_features=3, include_bias=True, random_state=0)
    names = rff.fit(np.ones((2, 2))).get_feature_names_out()
    assert len(names) == 4


# -- MinNormLeastSquares --------------------------------------------------------


@pytest.mark.parametrize(("n", "p"), [(30, 5), (12, 40)])
def test_min_norm_without_intercept_is_pinv(n, p):
    """Oracle: numpy's pseudo-inverse, coef = pinv(X) @ y."""
    X, y, _ = data(n, p, n_targets=2, seed=3)
    model = MinNormLeastSquares(fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(model.coef_, (np.linalg.pinv(X) @ y).T, atol=1e-10)
    assert model.intercept_.shape == (2,)
    np.testing.assert_array_equal(model.intercept_, 0.0)


@pytest.mark.parametrize(("n", "p"), [(30, 5), (12, 40)])
def test_min_norm_with_intercept_matches_sklearn(n, p):
    """Oracle: scikit-learn's LinearRegression (centring plus scipy lstsq),
    which also returns the minimum-norm solution for p >= n."""
    X, y, X_test = data(n, p, seed=4)
    ours = MinNormLeastSquares().fit(X, y)
    theirs = LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-10)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-10)
    np.testing.assert_allclose(ours.predict(X_test), theirs.predict(X_test), atol=1e-10)
    assert ours.rank_ == min(n - 1, p)


def test_min_norm_rank_cutoff():
    """Closed form: a duplicated column adds no rank; the default cutoff
    eps * max(n, p) * max(d) drops its zero singular value, and a large rcond
    drops real ones."""
    X, y, _ = data(25, 4, seed=5)
    X = np.column_stack([X, 2 * X[:, 1]])
    model = MinNormLeastSquares(fit_intercept=False).fit(X, y)
    assert model.rank_ == 4
    assert model.U_.shape == (25, 4) and model.Vt_.shape == (4, 5)
    np.testing.assert_allclose(model.coef_, np.linalg.pinv(X) @ y, atol=1e-10)
    d = np.linalg.svd(X, compute_uv=False)
    truncated = MinNormLeastSquares(fit_intercept=False, rcond=1.01 * d[2] / d[0]).fit(X, y)
    assert truncated.rank_ == 2


def test_min_norm_stores_training_size_and_svd():
    """The stored thin SVD reproduces the centred design (Golub & Van Loan)."""
    X, y, _ = data(20, 30, seed=6)
    model = MinNormLeastSquares(solver="svd").fit(X, y)
    assert model.n_samples_fit_ == 20 and model.solver_ == "svd"
    reconstructed = (model.U_ * model.singular_[: model.rank_]) @ model.Vt_
    np.testing.assert_allclose(reconstructed, X - X.mean(axis=0), atol=1e-10)


def _pinv_fit(X, y, X_test, fit_intercept):
    """Oracle: numpy's pseudo-inverse of the (centred) design, coefficients and predictions."""
    offset = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    y_offset = y.mean(axis=0) if fit_intercept else 0.0
    coef = np.linalg.pinv(X - offset) @ (y - y_offset)
    return coef, (X_test - offset) @ coef + y_offset


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("n", "p"), [(60, 12), (25, 90), (40, 41)])
def test_min_norm_gram_and_svd_routes_match_pinv(n, p, fit_intercept):
    """Oracle: numpy's pseudo-inverse. The Gram route (Cholesky of X X^T past
    the threshold, of X^T X below it) and the thin SVD give the same
    coefficients, predictions and rank."""
    X, y, X_test = data(n, p, m=11, n_targets=3, seed=7)
    gram = MinNormLeastSquares(fit_intercept=fit_intercept).fit(X, y)
    svd = MinNormLeastSquares(fit_intercept=fit_intercept, solver="svd").fit(X, y)
    assert (gram.solver_, svd.solver_) == ("gram", "svd")
    assert gram.U_ is None and gram.gram_cholesky_.shape == (min(n, p), min(n, p))
    coef, predictions = _pinv_fit(X, y, X_test, fit_intercept)
    scale = np.abs(coef).max()
    for model in (gram, svd):
        np.testing.assert_allclose(model.coef_.T, coef, atol=1e-9 * scale)
        np.testing.assert_allclose(model.predict(X_test), predictions, atol=1e-9)
    assert gram.rank_ == svd.rank_ == min(n - int(fit_intercept), p)


def ill_conditioned(n, p, *, seed=0):
    """A design with singular values from 1 down to 1e-6: its Gram matrix has
    condition number 1e12, beyond the Gram route, while the QR route resolves it."""
    rng = np.random.default_rng(seed)
    k = min(n, p)
    U = np.linalg.qr(rng.normal(size=(n, k)))[0]
    V = np.linalg.qr(rng.normal(size=(p, k)))[0]
    X = (U * np.logspace(0, -6, k)) @ V.T
    return X, rng.normal(size=(n, 2)), rng.normal(size=(5, p))


@pytest.mark.parametrize(
    ("n", "p", "fit_intercept"), [(40, 10, False), (40, 10, True), (10, 40, False)]
)
def test_min_norm_qr_route_matches_pinv(n, p, fit_intercept):
    """Oracle: numpy's pseudo-inverse. A design too ill-conditioned for the Gram
    route is solved through its QR factorisation, to the SVD's accuracy."""
    X, y, X_test = ill_conditioned(n, p)
    model = MinNormLeastSquares(fit_intercept=fit_intercept).fit(X, y)
    assert model.solver_ == "qr" and model.rank_ == min(n, p)
    coef, predictions = _pinv_fit(X, y, X_test, fit_intercept)
    np.testing.assert_allclose(model.coef_.T, coef, rtol=1e-7, atol=1e-7 * np.abs(coef).max())
    np.testing.assert_allclose(model.predict(X_test), predictions, atol=1e-7)


@pytest.mark.parametrize("shape", ["duplicated column", "duplicated row"])
def test_min_norm_rank_deficient_gram_takes_svd(shape):
    """Oracle: numpy's pseudo-inverse. A singular Gram matrix (a repeated column
    below the threshold, a repeated row past it) is not factorised: the fit
    falls back to the thin SVD, which drops the zero singular value."""
    X, y, X_test = data(30, 6, seed=8) if shape == "duplicated column" else data(8, 30, seed=8)
    if shape == "duplicated column":
        X, X_test = np.column_stack([X, X[:, 0]]), np.column_stack([X_test, X_test[:, 0]])
    else:
        X, y = np.vstack([X, X[:1]]), np.concatenate([y, y[:1]])
    model = MinNormLeastSquares(fit_intercept=False).fit(X, y)
    assert model.solver_ == "svd" and model.gram_cholesky_ is None
    np.testing.assert_allclose(model.coef_, np.linalg.pinv(X) @ y, atol=1e-9)


def test_min_norm_large_rcond_takes_svd():
    """Closed form: an rcond that truncates a singular value rules out the
    full-rank Gram route; the SVD keeps the singular values above it."""
    X, y, _ = data(30, 6, seed=9)
    d = np.linalg.svd(X, compute_uv=False)
    model = MinNormLeastSquares(fit_intercept=False, rcond=1.01 * d[3] / d[0]).fit(X, y)
    assert model.solver_ == "svd" and model.rank_ == 3


@pytest.mark.parametrize("solver", ["gram", None])
def test_min_norm_invalid_solver(solver):
    """An unknown solver raises ValueError."""
    with pytest.raises(ValueError, match="solver"):
        MinNormLeastSquares(solver=solver).fit(np.ones((3, 2)), np.ones(3))


@pytest.mark.parametrize("rcond", [-0.1, 1.0, "auto"])
def test_min_norm_invalid_rcond(rcond):
    """An rcond outside [0, 1) raises ValueError."""
    with pytest.raises(ValueError, match="rcond"):
        MinNormLeastSquares(rcond=rcond).fit(np.ones((3, 2)), np.ones(3))
