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
    model = MinNormLeastSquares().fit(X, y)
    assert model.n_samples_fit_ == 20
    reconstructed = (model.U_ * model.singular_[: model.rank_]) @ model.Vt_
    np.testing.assert_allclose(reconstructed, X - X.mean(axis=0), atol=1e-10)


@pytest.mark.parametrize("rcond", [-0.1, 1.0, "auto"])
def test_min_norm_invalid_rcond(rcond):
    """An rcond outside [0, 1) raises ValueError."""
    with pytest.raises(ValueError, match="rcond"):
        MinNormLeastSquares(rcond=rcond).fit(np.ones((3, 2)), np.ones(3))
