"""Cases for pyGAM's ``LinearGAM`` (the optional extra ``effcomplexity[gam]``):
spline, linear and tensor terms, with and without the intercept, a basis wider
than the training set, and sample weights. Without pyGAM the cases skip."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import pytest

from tests.cases import Case

PYGAM = "pygam.pygam.GAM"


def data(n=60, p=2, *, m=9, seed=0):
    """Uniform inputs, a smooth additive signal plus noise, held-out inputs inside the range."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, p))
    X_test = rng.uniform(-1.8, 1.8, size=(m, p))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.2 * rng.normal(size=n)
    return X, y, X_test


def linear_gam(terms: str, n: int = 60, **params):
    """A fitted LinearGAM with terms built from a spec ('s0+l1', 'te01', 'by', ...)."""
    pygam = pytest.importorskip("pygam")
    X, y, X_test = data(n=n)
    built = {
        "s0+l1": lambda: pygam.s(0) + pygam.l(1),
        "s0+s1": lambda: pygam.s(0, n_splines=12) + pygam.s(1, n_splines=12),
        "te01": lambda: pygam.te(0, 1, n_splines=5),
        "by": lambda: pygam.s(0, by=1) + pygam.l(1),
        "wide": lambda: pygam.s(0, n_splines=25) + pygam.s(1, n_splines=25),
    }[terms]()
    return pygam.LinearGAM(built, **params).fit(X, y), X, y, X_test


def refit(gam, X, y):
    """The same configuration fitted afresh (scikit-learn's clone loses pyGAM's terms)."""
    return type(gam)(deepcopy(gam.terms), **_params(gam)).fit(X, y)


def _params(gam) -> dict:
    return {k: v for k, v in gam.get_params().items() if k not in ("terms", "callbacks")}


def _case(id_, *args, **params):
    return Case(id_, PYGAM, lambda: linear_gam(*args, **params), refit=refit)


CASES = [
    _case("pygam-spline-linear", "s0+l1"),
    _case("pygam-two-splines", "s0+s1", lam=0.3),
    _case("pygam-tensor", "te01"),
    _case("pygam-by-variable", "by"),
    _case("pygam-no-intercept", "s0+l1", fit_intercept=False),
    # 51 coefficients on 30 rows: pyGAM keeps the 30 largest singular values.
    _case("pygam-basis-wider-than-n", "wide", n=30, lam=0.01),
]
