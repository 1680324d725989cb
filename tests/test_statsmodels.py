"""statsmodels OLS, WLS and GLMGam results: statsmodels' own leverages and edf
are the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.gam.api import BSplines, GLMGam
from statsmodels.stats.outliers_influence import OLSInfluence

import effcomplexity as ec
from effcomplexity.smoothers import get_smoother
from tests.cases.linear import _statsmodels_glmgam, data


def _ols(weighted=False, seed=0):
    X, y, X_test = data(40, 3, seed=seed)
    design = sm.add_constant(X)
    if weighted:
        weights = np.random.default_rng(seed).uniform(0.2, 3.0, size=40)
        return sm.WLS(y, design, weights=weights).fit(), design, y, sm.add_constant(X_test)
    return sm.OLS(y, design).fit(), design, y, sm.add_constant(X_test)


@pytest.mark.parametrize("weighted", [False, True])
def test_hat_diagonal_matches_statsmodels(weighted):
    """Oracle: statsmodels OLSInfluence(...).hat_matrix_diag of the OLS fit on
    the whitened data (W^1/2 X, W^1/2 y), whose leverages w_i x_i'(X'WX)^-1 x_i
    are the diagonal of the WLS smoother (for OLS, W = I)."""
    results, design, y, _ = _ols(weighted)
    root_w = np.sqrt(np.broadcast_to(results.model.weights, y.shape))
    whitened = sm.OLS(root_w * y, root_w[:, None] * design).fit()
    leverage = OLSInfluence(whitened).hat_matrix_diag
    np.testing.assert_allclose(np.diag(ec.smoother_matrix(results, design)), leverage, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_degrees_of_freedom_equal_rank(weighted):
    """Closed form: S = X (X'WX)^-1 X'W is idempotent with trace = rank = 4;
    tr(SS^T) = 4 only when S is symmetric (OLS)."""
    results, design, _, _ = _ols(weighted)
    assert ec.degrees_of_freedom(results, design) == pytest.approx(4, abs=1e-10)
    if not weighted:
        for kind in ("variance", "residual"):
            assert ec.degrees_of_freedom(results, design, kind=kind) == pytest.approx(4, abs=1e-10)


def test_wls_weights_match_brute_force():
    """Oracle: the WLS smoother written out, S = X (X'WX)^-1 X'W with numpy."""
    results, design, _, design_test = _ols(weighted=True, seed=3)
    W = np.diag(results.model.weights)
    S_brute = design_test @ np.linalg.solve(design.T @ W @ design, design.T @ W)
    np.testing.assert_allclose(
        ec.smoother_matrix(results, design, design_test), S_brute, atol=1e-12
    )


@pytest.mark.parametrize("n_smooth", [1, 2])
def test_glmgam_trace_is_total_edf(n_smooth):
    """Oracle: statsmodels' total effective degrees of freedom results.edf.sum()
    and its hat diagonal results.hat_matrix_diag."""
    results, design, _, _ = _statsmodels_glmgam(n_smooth)
    assert ec.degrees_of_freedom(results, design) == pytest.approx(results.edf.sum(), rel=1e-10)
    np.testing.assert_allclose(
        np.diag(ec.smoother_matrix(results, design)), results.hat_matrix_diag, atol=1e-12
    )


def test_glmgam_p_test_on_spline_design():
    """Oracle: predictions of statsmodels on a new design built with the
    model's smoother, S(X) @ y == results.predict(exog, transform=False)."""
    results, design, y, design_test = _statsmodels_glmgam(1)
    S = ec.smoother_matrix(results, design, design_test)
    np.testing.assert_allclose(S @ y, results.predict(exog=design_test, transform=False))
    assert ec.effective_parameters(results, design, design_test) == pytest.approx(
        60 / len(design_test) * np.sum(S**2)
    )


def _gam(family=None, **fit_kw):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(50, 1))
    y = np.exp(np.sin(4 * x[:, 0]) + 0.1 * rng.normal(size=50))
    splines = BSplines(x, df=[6], degree=[3])
    model = GLMGam(y, np.ones((50, 1)), smoother=splines, alpha=[1.0], family=family)
    return model.fit(**fit_kw)


def test_glmgam_non_gaussian_is_rejected():
    """A Poisson GAM's weights depend on y: ValueError."""
    results = _gam(family=sm.families.Poisson())
    with pytest.raises(ValueError, match="Gaussian family with the identity link"):
        ec.smoother_matrix(results, results.model.exog)


def test_glmgam_log_link_is_rejected():
    """A Gaussian GAM with a log link is not linear in y: ValueError."""
    results = _gam(family=sm.families.Gaussian(link=sm.families.links.Log()))
    with pytest.raises(ValueError, match="identity link"):
        ec.smoother_matrix(results, results.model.exog)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_glmgam_other_optimiser_is_rejected():
    """Fits by a gradient optimiser solve only to tolerance: ValueError."""
    results = _gam(method="bfgs", max_start_irls=0, maxiter=5, disp=0)
    with pytest.raises(ValueError, match="method='pirls'"):
        ec.smoother_matrix(results, results.model.exog)


def test_other_regression_results_are_rejected():
    """GLS results share the wrapper class but are not supported: TypeError."""
    X, y, _ = data(30, 2)
    results = sm.GLS(y, sm.add_constant(X), sigma=np.linspace(1, 2, 30)).fit()
    with pytest.raises(TypeError, match="GLS results are not supported"):
        ec.smoother_matrix(results, results.model.exog)


def test_design_must_match_exog():
    """X_train must be the model's design: other rows, values or widths raise
    ValueError."""
    results, design, _, _ = _ols()
    with pytest.raises(ValueError, match="fitted on 40 training rows"):
        ec.smoother_matrix(results, design[:30])
    with pytest.raises(ValueError, match="differs from the design"):
        ec.smoother_matrix(results, design[::-1])
    with pytest.raises(ValueError, match="OLS was fitted with 4 features"):
        ec.smoother_matrix(results, design[:, 1:])
    with pytest.raises(ValueError, match="OLS was fitted with 4 features"):
        ec.smoother_matrix(results, design, design[:, 1:])


def test_norms_never_need_the_dense_matrix():
    """The statsmodels families take the exact path under method='auto'."""
    results, design, _, design_test = _ols()
    assert get_smoother(results, design).exact_norms_are_cheap
    _, std = ec.effective_parameters(results, design, design_test, return_std=True)
    assert std == 0.0


@pytest.mark.parametrize("n_smooth", [1, 2])
def test_glmgam_new_inputs_as_predict_takes_them(n_smooth):
    """Oracles: statsmodels' results.predict(exog=..., exog_smooth=...) on new
    inputs, S_test @ y; p_test from the same S computed plainly; tr S(X_train)
    == results.edf.sum() with the training inputs given the same way."""
    results, design, y, _ = _statsmodels_glmgam(n_smooth)
    rng = np.random.default_rng(11)
    new = {
        "exog": np.column_stack([np.ones(7), rng.normal(size=7)]),
        "exog_smooth": rng.uniform(0.05, 0.95, size=(7, n_smooth)),
    }
    S_test = ec.smoother_matrix(results, design, new, y_train=y)
    np.testing.assert_allclose(S_test @ y, results.predict(**new), rtol=0, atol=1e-10)
    assert ec.effective_parameters(results, design, new) == pytest.approx(
        len(y) / 7 * np.sum(S_test**2), rel=1e-12
    )
    smooth_rows = results.model.smoother.x
    train = {"exog": design[:, :2], "exog_smooth": smooth_rows}
    assert ec.degrees_of_freedom(results, train, y_train=y) == pytest.approx(
        results.edf.sum(), rel=1e-10
    )


def test_glmgam_from_formula_new_inputs():
    """A model built from a formula (a categorical linear term): the design of new
    inputs comes from the formula, as in predict. Oracle: results.predict."""
    import pandas as pd

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"a": rng.normal(size=60), "g": rng.choice(["u", "v", "w"], 60), "x": rng.uniform(size=60)}
    )
    frame["y"] = np.sin(6 * frame.x) + frame.a + (frame.g == "v") + 0.2 * rng.normal(size=60)
    splines = BSplines(frame[["x"]], df=[8], degree=[3])
    results = GLMGam.from_formula("y ~ a + g", data=frame, smoother=splines, alpha=[0.7]).fit()
    new_frame = frame.iloc[:9].assign(a=lambda d: d.a + 0.3, x=rng.uniform(0.1, 0.9, 9))
    new = {"exog": new_frame[["a", "g"]], "exog_smooth": new_frame[["x"]]}
    S_test = ec.smoother_matrix(results, results.model.exog, new)
    np.testing.assert_allclose(S_test @ frame.y.to_numpy(), results.predict(**new), atol=1e-10)


def test_glmgam_mapping_without_the_linear_columns_is_refused():
    """A mapping must hold what predict needs: ValueError naming the keys."""
    results, design, _, _ = _statsmodels_glmgam(1)
    x = np.full((3, 1), 0.5)
    with pytest.raises(ValueError, match="'exog' \\(the model's 2 linear columns"):
        ec.smoother_matrix(results, design, {"exog_smooth": x})
    with pytest.raises(ValueError, match="got keys \\['exog_smooth', 'x'\\]"):
        ec.smoother_matrix(results, design, {"exog_smooth": x, "x": x})
