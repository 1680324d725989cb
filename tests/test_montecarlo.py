"""The Monte-Carlo core: one probe generator, one mean-and-standard-error rule,
one ``random_state`` rule and one ``return_std`` convention for every estimator.

Oracles: ``scipy.stats.sem`` for the standard error, the definition of
Rademacher probes, and scikit-learn's ``check_random_state`` for integer seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.utils import check_random_state as sklearn_check_random_state

import effcomplexity as ec
from effcomplexity._validation import check_random_state
from effcomplexity.measures._probes import mean_std_error, random_probes
from effcomplexity.measures.trace import hutchinson, hutchpp, smoother_trace


def test_mean_std_error_matches_scipy():
    samples = np.random.default_rng(0).normal(size=(3, 17))
    mean, se = mean_std_error(samples, axis=1)
    np.testing.assert_allclose(mean, samples.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(se, scipy.stats.sem(samples, axis=1), rtol=1e-12)
    value, one_se = mean_std_error(samples[0])
    assert isinstance(value, float) and one_se == pytest.approx(scipy.stats.sem(samples[0]))
    assert np.isnan(mean_std_error([2.0])[1])


@pytest.mark.parametrize(
    "random_state", [3, np.random.RandomState(3), np.random.default_rng(3)], ids=type
)
def test_probes_accept_every_random_state(random_state):
    Z = random_probes(40, 6, "rademacher", random_state)
    assert Z.shape == (40, 6) and set(np.unique(Z)) == {-1.0, 1.0}
    assert random_probes(5, 2, "gaussian", random_state).shape == (5, 2)


def test_integer_seeds_follow_scikit_learn():
    ours = check_random_state(11).standard_normal(4)
    np.testing.assert_array_equal(ours, sklearn_check_random_state(11).standard_normal(4))
    # A Generator is wrapped around its own bit generator: drawing advances its stream.
    generator, twin = np.random.default_rng(1), np.random.default_rng(1)
    wrapped = check_random_state(generator)
    assert isinstance(wrapped, np.random.RandomState)
    first = wrapped.random_sample()
    assert np.random.RandomState(twin.bit_generator).random_sample() == first
    assert generator.bit_generator.state == twin.bit_generator.state
    for bad in (1.5, "0", True):
        with pytest.raises(TypeError, match="random_state must be None, an integer seed"):
            check_random_state(bad)


def _ridge():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    return Ridge(alpha=1.0).fit(X, y), X


def _booster():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    return GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y), X


A = np.diag(np.arange(1.0, 31.0)) + 0.1


ESTIMATORS = {
    "effective_parameters": lambda **kw: ec.effective_parameters(*_ridge(), method="probe", **kw),
    "degrees_of_freedom": lambda **kw: ec.degrees_of_freedom(
        *_ridge(), kind="residual", method="probe", **kw
    ),
    "staged_effective_parameters": lambda **kw: ec.staged_effective_parameters(
        *_booster(), method="probe", **kw
    ),
    "staged_degrees_of_freedom": lambda **kw: ec.staged_degrees_of_freedom(
        *_booster(), method="probe", **kw
    ),
    "smoother_trace": lambda **kw: smoother_trace(*_ridge(), method="hutchinson", **kw),
    "hutchinson": lambda **kw: hutchinson(A, 30, n_probes=10, **kw),
    "hutchpp": lambda **kw: hutchpp(A, 30, n_matvecs=12, **kw),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_return_std_convention(name):
    """A value alone by default; (value, standard error) with return_std=True, the
    value identical for the same seed, from a Generator as from an integer seed."""
    estimate = ESTIMATORS[name]
    value = estimate(random_state=5)
    with_std = estimate(random_state=5, return_std=True)
    assert isinstance(with_std, tuple) and len(with_std) == 2
    np.testing.assert_array_equal(with_std[0], value)
    assert np.all(np.asarray(with_std[1]) > 0)
    assert np.shape(estimate(random_state=np.random.default_rng(5))) == np.shape(value)
