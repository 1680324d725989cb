"""One ``random_state`` rule for every public callable that takes it.

The rule is scikit-learn's (its glossary, "random_state"): an integer seeds a
fresh stream, a ``RandomState`` or ``Generator`` is drawn from, and ``None``
is numpy's global ``RandomState``. The callables are found by introspection,
so a new one without a case here fails ``test_every_callable_has_a_case``.

Oracles: the rule itself, read from numpy's own state. A seeded
``RandomState`` and the global stream after ``np.random.seed`` with the same
seed are the same Mersenne Twister state, so ``None`` after
``np.random.seed(k)`` must give what ``RandomState(k)`` gives; the states of
the generator passed in, of numpy's global stream and of torch's global
generator before and after a call say whether each was drawn from.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

import effcomplexity as ec
from effcomplexity import datasets, models
from effcomplexity import nn as ecnn
from effcomplexity.analysis import calibration

# numpy's legacy global stream (np.random.seed, get_state) is what random_state=None means.
# ruff: noqa: NPY002

#: The public modules named in the API reference; every other module without a
#: leading underscore that declares ``__all__`` is walked too.
ROOTS = (
    "effcomplexity",
    "effcomplexity.nn",
    "effcomplexity.models",
    "effcomplexity.datasets",
    "effcomplexity.sweeps",
    "effcomplexity.analysis",
)


def _modules():
    import effcomplexity

    names = set(ROOTS)
    for info in pkgutil.walk_packages(effcomplexity.__path__, "effcomplexity."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.add(info.name)
    for name in sorted(names):
        module = importlib.import_module(name)
        if name in ROOTS or hasattr(module, "__all__"):
            yield name, module


def _takes_random_state(obj) -> bool:
    try:
        return "random_state" in inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return False


def _discover() -> dict[str, object]:
    """Public name -> callable, for every public callable that takes ``random_state``."""
    found: dict[int, tuple[str, object]] = {}
    for module_name, module in _modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            members = [(name, obj)]
            if inspect.isclass(obj):
                members += [
                    (f"{name}.{attr}", value)
                    for attr, value in vars(obj).items()
                    if callable(value) and not attr.startswith("_")
                ]
            for qualname, member in members:
                if callable(member) and _takes_random_state(member):
                    found.setdefault(id(member), (f"{module_name}.{qualname}", member))
    return dict(found.values())


# -- tiny inputs ---------------------------------------------------------------------------


def _xy(n=24, p=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.standard_normal(n)


def _boosted():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _xy()
    return GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y), X, y


def _regression_net():
    X, y = _xy(16, 2)
    model = models.make_mlp(2, 3, 1, dtype=torch.float64, random_state=0)
    return model, torch.as_tensor(X), torch.as_tensor(y).reshape(-1, 1)


def _classifier():
    X, y = _xy(20, 2)
    model = models.make_mlp(2, 4, 2, dtype=torch.float64, random_state=0)
    return model, torch.as_tensor(X), torch.as_tensor((y > 0).astype(np.int64))


def _weights(model: torch.nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def _dataset(data) -> tuple:
    return data.X_train, data.y_train, data.X_test, data.y_test


def _effective_parameters(rs):
    X, y = _xy()
    knn = KNeighborsRegressor(n_neighbors=3).fit(X, y)
    return ec.effective_parameters(knn, X, method="probe", n_probes=4, random_state=rs)


def _staged_effective_parameters(rs):
    est, X, y = _boosted()
    return ec.staged_effective_parameters(
        est, X, method="probe", n_probes=4, random_state=rs, y_train=y
    )


def _degrees_of_freedom(rs):
    X, y = _xy()
    knn = KNeighborsRegressor(n_neighbors=3).fit(X, y)
    return ec.degrees_of_freedom(
        knn, X, kind="variance", method="probe", n_probes=4, random_state=rs
    )


def _staged_degrees_of_freedom(rs):
    est, X, y = _boosted()
    return ec.staged_degrees_of_freedom(
        est, X, method="probe", n_probes=4, random_state=rs, y_train=y
    )


def _smoother_trace(rs):
    X, y = _xy()
    knn = KNeighborsRegressor(n_neighbors=3).fit(X, y)
    return ec.smoother_trace(knn, X, method="hutchinson", n_matvecs=4, random_state=rs)


def _gdf(rs):
    X, y = _xy(12)
    return ec.generalized_degrees_of_freedom(
        DecisionTreeRegressor(max_depth=2, random_state=0),
        X,
        y,
        n_perturbations=3,
        random_state=rs,
    )


def _efron(rs):
    X, y = _xy(12)
    return ec.efron_covariance_df(LinearRegression(), X, y, n_perturbations=3, random_state=rs)


def _hutchinson(rs):
    return ec.hutchinson(np.diag(np.arange(1.0, 7.0)), 6, n_probes=3, random_state=rs)


def _hutchpp(rs):
    return ec.hutchpp(np.diag(np.arange(1.0, 13.0)), 12, n_matvecs=6, random_state=rs)


def _hessian_eigenvalues(rs):
    model, X, y = _regression_net()
    return ecnn.hessian_eigenvalues(
        model, X, y, loss_fn=torch.nn.MSELoss(), k=2, n_iter=4, random_state=rs
    )


def _hessian_trace(rs):
    model, X, y = _regression_net()
    return ecnn.hessian_trace(model, X, y, loss_fn=torch.nn.MSELoss(), n_probes=2, random_state=rs)


def _spectral_density(rs):
    model, X, y = _regression_net()
    out = ecnn.spectral_density(
        model, X, y, loss_fn=torch.nn.MSELoss(), n_probes=2, n_iter=3, n_grid=5, random_state=rs
    )
    return out["nodes"], out["weights"]


def _effective_dimensionality(rs):
    model, X, y = _regression_net()
    return ecnn.effective_dimensionality(
        model, X, y, loss_fn=torch.nn.MSELoss(), k=2, n_iter=4, random_state=rs
    )


def _llc(rs):
    model, X, y = _regression_net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # chains this short do not mix
        result = ecnn.local_learning_coefficient(
            model,
            X,
            y,
            loss_fn=torch.nn.MSELoss(),
            n_samples=3,
            n_chains=2,
            n_burnin=1,
            batch_size=8,
            random_state=rs,
        )
    return result.loss_trace


def _sharpness(rs):
    model, X, y = _classifier()
    return ecnn.sharpness(model, X, y, n_samples=2, search_depth=2, random_state=rs)


def _pac_bayes(rs):
    model, X, y = _classifier()
    return ecnn.pac_bayes_measures(model, X, y, n_samples=2, search_depth=2, random_state=rs)


def _measure(rs):
    model, X, y = _classifier()
    row = ecnn.measure(model, X, y, measures=["sharpness"], sharpness_samples=2, random_state=rs)
    return pd.to_numeric(row, errors="coerce").dropna()


def _conv_operator_norm(rs):
    with torch.random.fork_rng(devices=[]):  # the layer's own init draws from torch
        conv = torch.nn.Conv1d(1, 2, 3, padding=1, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(6.0, dtype=torch.float64).reshape(2, 1, 3))
    return ecnn.conv_operator_norm(conv, (1, 6), method="lanczos", random_state=rs)


def _telescoping(rs):
    model, X, _ = _regression_net()
    return ecnn.TelescopingTracker(model, X, method="probe", n_probes=2, random_state=rs).probes_


def _rff(rs):
    X, _ = _xy(5, 3)
    return models.RandomFourierFeatures(n_features=4, random_state=rs).fit(X).transform(X)


def _illusion_test(rs):
    table = calibration.synthetic_table("U", 2, 0.01, np.random.default_rng(0))
    out = ec.analysis.illusion_test(
        table, measures=["m"], gap=None, n_boot=5, n_perm=5, random_state=rs
    )
    return out.select_dtypes("number").to_numpy(dtype=float)


def _calibrate(rs):
    out = calibration.calibrate(n_draws=1, seeds=(2,), noises=(0.01,), cases=["U"], random_state=rs)
    return out.select_dtypes("number").to_numpy(dtype=float)


#: Public name -> a tiny call of it whose result depends on ``random_state``.
CASES = {
    "effcomplexity.effective_parameters": _effective_parameters,
    "effcomplexity.staged_effective_parameters": _staged_effective_parameters,
    "effcomplexity.degrees_of_freedom": _degrees_of_freedom,
    "effcomplexity.staged_degrees_of_freedom": _staged_degrees_of_freedom,
    "effcomplexity.smoother_trace": _smoother_trace,
    "effcomplexity.generalized_degrees_of_freedom": _gdf,
    "effcomplexity.efron_covariance_df": _efron,
    "effcomplexity.hutchinson": _hutchinson,
    "effcomplexity.hutchpp": _hutchpp,
    "effcomplexity.nn.hessian_eigenvalues": _hessian_eigenvalues,
    "effcomplexity.nn.hessian_trace": _hessian_trace,
    "effcomplexity.nn.spectral_density": _spectral_density,
    "effcomplexity.nn.effective_dimensionality": _effective_dimensionality,
    "effcomplexity.nn.local_learning_coefficient": _llc,
    "effcomplexity.nn.sharpness": _sharpness,
    "effcomplexity.nn.pac_bayes_measures": _pac_bayes,
    "effcomplexity.nn.conv_operator_norm": _conv_operator_norm,
    "effcomplexity.nn.TelescopingTracker": _telescoping,
    "effcomplexity.models.RandomFourierFeatures": _rff,
    "effcomplexity.models.make_mlp": lambda rs: _weights(models.make_mlp(3, 4, 2, random_state=rs)),
    "effcomplexity.models.make_cnn": lambda rs: _weights(
        models.make_cnn(1, 2, 8, channels=(2,), random_state=rs)
    ),
    "effcomplexity.models.make_transformer": lambda rs: _weights(
        models.make_transformer(5, 4, 1, 4, random_state=rs)
    ),
    "effcomplexity.models.make_grokking_transformer": lambda rs: _weights(
        models.make_grokking_transformer(5, 4, 1, 4, 4, random_state=rs)
    ),
    "effcomplexity.models.make_kumar_network": lambda rs: _weights(
        models.make_kumar_network(4, 3, eps=0.25, random_state=rs)
    ),
    "effcomplexity.nn.measure": _measure,
    "effcomplexity.datasets.quadratic_teacher": lambda rs: _dataset(
        datasets.quadratic_teacher(n_train=5, n_test=3, dim=4, random_state=rs)
    ),
    "effcomplexity.datasets.digits": lambda rs: _dataset(
        datasets.digits(n_train=20, n_test=10, label_noise=0.2, random_state=rs)
    ),
    "effcomplexity.datasets.gaussian_linear": lambda rs: _dataset(
        datasets.gaussian_linear(n_train=5, n_test=3, n_features=2, random_state=rs)
    ),
    "effcomplexity.datasets.mnist": lambda rs: _dataset(
        datasets.mnist(n_train=20, n_test=10, random_state=rs)
    ),
    "effcomplexity.datasets.mnist1d": lambda rs: _dataset(
        datasets.mnist1d(n_train=20, n_test=10, random_state=rs)
    ),
    "effcomplexity.datasets.modular_addition": lambda rs: _dataset(
        datasets.modular_addition(modulus=5, random_state=rs)
    ),
    "effcomplexity.analysis.illusion_test": _illusion_test,
    "effcomplexity.analysis.calibration.calibrate": _calibrate,
}

DISCOVERED = _discover()


def _flat(result) -> np.ndarray:
    """Every number of a result, in order, as one float array (NaN kept)."""
    if isinstance(result, tuple | list):
        parts = [_flat(r) for r in result]
        return np.concatenate(parts) if parts else np.empty(0)
    if isinstance(result, pd.Series | pd.DataFrame):
        return np.asarray(result.to_numpy(dtype=float)).ravel()
    return np.asarray(result, dtype=float).ravel()


def _same(a, b) -> None:
    np.testing.assert_array_equal(_flat(a), _flat(b))


def test_every_callable_has_a_case():
    """A public callable with ``random_state`` and no case here must get one."""
    resolved = {}
    for name in CASES:
        module_name, attr = name.rsplit(".", 1)
        resolved[name] = getattr(importlib.import_module(module_name), attr)
    by_id = {id(obj): name for name, obj in resolved.items()}
    missing = sorted(name for name, obj in DISCOVERED.items() if id(obj) not in by_id)
    assert not missing, f"add a case to CASES for {missing}"
    assert len(DISCOVERED) == len(CASES)


@pytest.mark.parametrize("name", sorted(DISCOVERED))
def test_docstring_links_the_rule(name):
    """The ``random_state`` entry of every docstring points to the one rule."""
    from numpydoc.docscrape import ClassDoc, FunctionDoc

    obj = DISCOVERED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    entries = [p for p in doc["Parameters"] if "random_state" in p.name.replace(" ", "").split(",")]
    assert len(entries) == 1, f"{name} documents random_state {len(entries)} times"
    assert ":ref:`random-state`" in " ".join(entries[0].desc), (
        f"{name}: the random_state entry should link :ref:`random-state`"
    )


@pytest.fixture
def call():
    """Run a case, and say whether it drew from numpy's and torch's global streams."""

    def run(case, random_state):
        numpy_before = np.random.get_state()[1].copy()
        torch_before = torch.random.get_rng_state().clone()
        result = case(random_state)
        numpy_drawn = not np.array_equal(np.random.get_state()[1], numpy_before)
        assert torch.equal(torch.random.get_rng_state(), torch_before), (
            "torch's global generator was used; seed a private one from the numpy stream"
        )
        return result, numpy_drawn

    return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_integer_seeds_a_fresh_stream(name, call):
    case = CASES[name]
    first, drew_global = call(case, 3)
    again, _ = call(case, 3)
    _same(first, again)
    assert not drew_global, "an integer random_state must not draw from numpy's global stream"


@pytest.mark.parametrize("name", sorted(CASES))
def test_random_state_and_generator_are_drawn_from(name, call):
    case = CASES[name]
    rs = np.random.RandomState(4)
    state = rs.get_state()[1].copy()
    first, drew_global = call(case, rs)
    assert not np.array_equal(rs.get_state()[1], state), "the RandomState was not drawn from"
    assert not drew_global
    _same(first, call(case, np.random.RandomState(4))[0])

    generator = np.random.default_rng(4)
    state = generator.bit_generator.state
    first, drew_global = call(case, generator)
    assert generator.bit_generator.state != state, "the Generator was not drawn from"
    assert not drew_global
    _same(first, call(case, np.random.default_rng(4))[0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_none_is_numpy_global_random_state(name, call):
    case = CASES[name]
    saved, torch_saved = np.random.get_state(), torch.random.get_rng_state()
    try:
        np.random.seed(5)
        torch.manual_seed(1)  # restored below
        first, drew_global = call(case, None)
        assert drew_global, "random_state=None must draw from numpy's global RandomState"
        np.random.seed(5)
        torch.manual_seed(2)  # torch's global seed must not matter
        _same(first, call(case, None)[0])
        # The global stream after np.random.seed(5) is RandomState(5): the same call.
        _same(first, call(case, np.random.RandomState(5))[0])
    finally:
        np.random.set_state(saved)
        torch.random.set_rng_state(torch_saved)


@pytest.mark.parametrize("bad", [1.5, "0", True, -1])
@pytest.mark.parametrize("name", ["effcomplexity.hutchinson", "effcomplexity.models.make_mlp"])
def test_other_values_are_refused(name, bad):
    with pytest.raises((TypeError, ValueError), match="random_state"):
        CASES[name](bad)
