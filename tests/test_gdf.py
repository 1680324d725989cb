"""Generalized degrees of freedom (Ye 1998) and Efron's covariance penalty (2004).

Oracles: closed forms for linear smoothers (OLS: tr(H) = p + 1 with an
intercept; ridge and RidgeClassifier: sum d^2 / (d^2 + alpha) + 1 over the
singular values of the centred design, Hastie, Tibshirani & Friedman 2009), the GLM identity that
the mean-scale sensitivity of maximum-likelihood logistic regression,
W X (X^T W X)^-1 X^T, has trace p + 1; statsmodels' OLS residual scale for
the estimated sigma; and a fixed-partition tree written in the test, whose
df is its leaf count.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
from sklearn.tree import DecisionTreeRegressor

from effcomplexity.measures.gdf import efron_covariance_df, generalized_degrees_of_freedom

METHODS = ["ye", "efron"]


def _linear_data(n=100, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, X @ np.linspace(-1.0, 1.0, p) + rng.normal(size=n)


def _ridge_trace(X, alpha):
    d = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    return float(np.sum(d**2 / (d**2 + alpha)) + 1.0)


def _logistic_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    prob = 1.0 / (1.0 + np.exp(-(X @ [1.0, -1.0, 0.5])))
    return X, (rng.uniform(size=n) < prob).astype(int)


# -- linear smoothers: GDF = tr(S) ---------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("fit_intercept", "expected"), [(True, 6.0), (False, 5.0)])
def test_ols_gdf_is_number_of_coefficients(method, fit_intercept, expected):
    X, y = _linear_data()
    gdf, se = generalized_degrees_of_freedom(
        LinearRegression(fit_intercept=fit_intercept),
        X,
        y,
        method=method,
        random_state=0,
        return_std=True,
    )
    assert 0 < se < 1
    assert abs(gdf - expected) < 3 * se


@pytest.mark.parametrize("method", METHODS)
def test_standard_error_is_calibrated(method):
    # Over independent seeds, z = (GDF - p - 1) / se should be roughly standard normal:
    # the sum of 20 squared z-scores is compared with the chi-square(20) 1e-4 tails.
    X, y = _linear_data(n=60, p=3)
    z = []
    for seed in range(20):
        gdf, se = generalized_degrees_of_freedom(
            LinearRegression(),
            X,
            y,
            method=method,
            n_perturbations=30,
            random_state=seed,
            return_std=True,
        )
        z.append((gdf - 4.0) / se)
    chi2 = stats.chi2(20)
    assert chi2.ppf(1e-4) < np.sum(np.square(z)) < chi2.ppf(1 - 1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_ridge_gdf_matches_trace_of_smoother(method):
    X, y = _linear_data(n=80, p=10, seed=1)
    gdf, se = generalized_degrees_of_freedom(
        Ridge(alpha=30.0), X, y, sigma=1.0, method=method, random_state=1, return_std=True
    )
    assert abs(gdf - _ridge_trace(X, 30.0)) < 3 * se


def test_estimated_sigma_is_ols_residual_scale():
    # sigma=None uses sqrt(RSS / (n - p - 1)); oracle: statsmodels OLS with a constant.
    X, y = _linear_data(n=50, p=4, seed=2)
    sigma = float(np.sqrt(sm.OLS(y, sm.add_constant(X)).fit().scale))
    for method in METHODS:
        estimated = generalized_degrees_of_freedom(
            Ridge(alpha=5.0), X, y, method=method, n_perturbations=10, random_state=3
        )
        given = generalized_degrees_of_freedom(
            Ridge(alpha=5.0), X, y, sigma=sigma, method=method, n_perturbations=10, random_state=3
        )
        assert estimated == pytest.approx(given, rel=1e-9)


# -- adaptive trees ---------------------------------------------------------------------------


class FixedPartitionTree:
    """Leaf means on the partition of a tree grown once: a linear smoother, df = leaves."""

    def __init__(self, tree):
        self.tree = tree

    def fit(self, X, y):
        leaves = self.tree.apply(X)
        self.means_ = {leaf: y[leaves == leaf].mean() for leaf in np.unique(leaves)}
        return self

    def predict(self, X):
        return np.array([self.means_[leaf] for leaf in self.tree.apply(X)])


@pytest.fixture(scope="module")
def noise_tree():
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(200, 3)), rng.normal(size=200)
    tree = DecisionTreeRegressor(max_leaf_nodes=8, random_state=0).fit(X, y)
    return X, y, tree


@pytest.mark.parametrize("method", METHODS)
def test_adaptive_tree_on_noise_exceeds_leaf_count(noise_tree, method):
    X, y, tree = noise_tree
    n_leaves = tree.get_n_leaves()
    assert n_leaves == 8
    gdf, se = generalized_degrees_of_freedom(
        DecisionTreeRegressor(max_leaf_nodes=8, random_state=0),
        X,
        y,
        sigma=1.0,
        method=method,
        random_state=0,
        return_std=True,
    )
    assert gdf - 3 * se > n_leaves


def test_tree_with_partition_held_fixed_has_leaf_count_df(noise_tree):
    # The excess above is the split search: with the partition frozen, GDF = leaves.
    X, y, tree = noise_tree
    gdf, se = generalized_degrees_of_freedom(
        lambda: FixedPartitionTree(tree), X, y, sigma=1.0, random_state=0, return_std=True
    )
    assert abs(gdf - tree.get_n_leaves()) < 3 * se


# -- classifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_logistic_regression_probability_df_is_number_of_coefficients(method):
    X, y = _logistic_data()
    model = LogisticRegression(C=np.inf, solver="newton-cholesky")
    gdf, se = generalized_degrees_of_freedom(
        model, X, y, method=method, random_state=0, return_std=True
    )
    assert abs(gdf - 4.0) < 3 * se


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_classifier_decision_function(n_classes):
    # RidgeClassifier scores class c by ridge regression on +-1 targets, so a unit change
    # of the class-c indicator moves the targets by 2: GDF = 2 tr(S).
    X, _ = _logistic_data(seed=1)
    y = np.random.default_rng(2).integers(0, n_classes, size=X.shape[0])
    gdf, se = generalized_degrees_of_freedom(
        RidgeClassifier(alpha=10.0), X, y, positive_class=0, random_state=0, return_std=True
    )
    assert abs(gdf - 2.0 * _ridge_trace(X, 10.0)) < 3 * se


def test_binary_decision_function_sign_follows_positive_class():
    X, y = _logistic_data(n=120)
    kwargs = {"output": "decision_function", "n_perturbations": 20, "random_state": 0}
    model = RidgeClassifier(alpha=1.0)
    assert generalized_degrees_of_freedom(model, X, y, positive_class=0, **kwargs) > 0
    assert generalized_degrees_of_freedom(model, X, y, positive_class=1, **kwargs) > 0


# -- reproducibility and factories ---------------------------------------------------------------


def test_same_seed_same_value_and_independent_of_jobs():
    X, y = _linear_data(n=40, p=3)
    tree = DecisionTreeRegressor(max_depth=3, random_state=0)
    kwargs = {"sigma": 1.0, "n_perturbations": 12, "return_std": True}
    first = generalized_degrees_of_freedom(tree, X, y, random_state=5, **kwargs)
    assert first == generalized_degrees_of_freedom(tree, X, y, random_state=5, **kwargs)
    assert first != generalized_degrees_of_freedom(tree, X, y, random_state=6, **kwargs)
    # Threads keep the test light; any joblib backend receives the same pre-drawn labels.
    with joblib.parallel_config(backend="threading"):
        parallel = generalized_degrees_of_freedom(tree, X, y, random_state=5, n_jobs=2, **kwargs)
    assert parallel == first


def test_factory_forms_agree_and_template_is_untouched():
    X, y = _linear_data(n=40, p=3)
    template = LinearRegression()
    kwargs = {"n_perturbations": 8, "random_state": 0}
    from_instance = generalized_degrees_of_freedom(template, X, y, **kwargs)
    from_class = generalized_degrees_of_freedom(LinearRegression, X, y, **kwargs)
    from_callable = generalized_degrees_of_freedom(lambda: LinearRegression(), X, y, **kwargs)
    assert from_instance == pytest.approx(from_class, rel=1e-12)
    assert from_instance == pytest.approx(from_callable, rel=1e-12)
    assert not hasattr(template, "coef_")


def test_efron_helper_is_the_efron_method():
    X, y = _linear_data(n=40, p=3)
    kwargs = {"sigma": 1.0, "n_perturbations": 10, "random_state": 4, "return_std": True}
    assert efron_covariance_df(Ridge(), X, y, **kwargs) == generalized_degrees_of_freedom(
        Ridge(), X, y, method="efron", **kwargs
    )


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": 0.0}, "sigma must be positive"),
        ({"sigma": -1.0}, "sigma must be positive"),
        ({"sigma": float("nan")}, "sigma must be a finite positive number"),
        ({"tau": 0.0}, "tau must be positive"),
        ({"n_perturbations": 1}, "n_perturbations must be an integer >= 2"),
        ({"n_perturbations": 2, "return_std": True}, "needs n_perturbations >= 3"),
        ({"method": "stein"}, "method must be one of"),
        ({"output": "score"}, "output must be one of"),
        ({"output": "predict_proba"}, "applies to classifiers"),
        ({"positive_class": 1}, "positive_class applies to classifiers only"),
        ({"method": "efron", "tau": 0.5}, "method='efron' uses sigma"),
    ],
)
def test_bad_arguments(kwargs, message):
    X, y = _linear_data(n=30, p=2)
    with pytest.raises(ValueError, match=message):
        generalized_degrees_of_freedom(LinearRegression(), X, y, **kwargs)


def test_mismatched_and_malformed_data():
    X, y = _linear_data(n=30, p=2)
    with pytest.raises(ValueError, match="X has 30 rows but y has 29"):
        generalized_degrees_of_freedom(LinearRegression(), X, y[:-1])
    with pytest.raises(ValueError, match="y must be 1-D"):
        generalized_degrees_of_freedom(LinearRegression(), X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="NaN"):
        generalized_degrees_of_freedom(LinearRegression(), X, np.where(y > 0, np.nan, y))


def test_sigma_needed_when_least_squares_cannot_estimate_it():
    X, y = _linear_data(n=10, p=12)
    with pytest.raises(ValueError, match="Pass sigma"):
        generalized_degrees_of_freedom(Ridge(), X, y)


def test_classifier_specific_errors():
    X, y = _logistic_data(n=60)
    model = LogisticRegression()
    with pytest.raises(ValueError, match="sigma applies to regression"):
        generalized_degrees_of_freedom(model, X, y, sigma=1.0)
    with pytest.raises(ValueError, match="flip probability"):
        generalized_degrees_of_freedom(model, X, y, tau=1.5)
    with pytest.raises(ValueError, match="positive_class 7 is not one of the labels"):
        generalized_degrees_of_freedom(model, X, y, positive_class=7)
    with pytest.raises(ValueError, match="has no predict_proba"):
        generalized_degrees_of_freedom(RidgeClassifier(), X, y, method="efron")
    with pytest.raises(ValueError, match="single class"):
        generalized_degrees_of_freedom(model, X, np.zeros(60, dtype=int))


def test_factory_must_produce_an_estimator():
    X, y = _linear_data(n=30, p=2)
    with pytest.raises(TypeError, match="estimator_factory must be"):
        generalized_degrees_of_freedom(42, X, y)
    with pytest.raises(TypeError, match="has no fit method"):
        generalized_degrees_of_freedom(lambda: "model", X, y)


@pytest.mark.parametrize("variance", [None, 0.7, "per_observation"])
def test_jackknife_matches_brute_force(variance):
    # Oracle: the estimate and its jackknife recomputed plainly, one left-out refit at a
    # time, with numpy's own slopes (polyfit) and covariances (np.cov).
    from effcomplexity.measures.gdf import _covariance_df

    rng = np.random.default_rng(0)
    T, n = 9, 6
    D = rng.normal(size=(T, n))
    M = 0.3 * D + rng.normal(size=(T, n)) + 5.0
    if variance == "per_observation":
        variance = np.array([0.5, 1.0, 0.0, 2.0, 0.25, 1.5])

    def estimate(rows):
        if variance is None:
            return sum(np.polyfit(D[rows, i], M[rows, i], 1)[0] for i in range(n))
        v = np.broadcast_to(variance, (n,))
        return sum(np.cov(D[rows, i], M[rows, i])[0, 1] / v[i] for i in range(n) if v[i] > 0)

    loo = np.array([estimate(np.delete(np.arange(T), t)) for t in range(T)])
    expected_std = np.sqrt((T - 1) / T * np.sum((loo - loo.mean()) ** 2))
    value, std = _covariance_df(D, M, variance)
    assert value == pytest.approx(estimate(np.arange(T)), rel=1e-10)
    assert std == pytest.approx(expected_std, rel=1e-10)
