"""Imports cost what they use: the package, the sweeps and the command line load no torch.

Oracle: ``sys.modules`` of a fresh interpreter after the import or command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Each snippet runs in a fresh interpreter and prints the heavy modules it loaded.
_REPORT = "print(json.dumps(sorted(m for m in HEAVY if m in sys.modules)))"
HEAVY = ("torch", "sklearn", "pandas", "scipy", "seaborn", "matplotlib", "statsmodels")


def _loaded(code: str) -> set[str]:
    script = f"import json, sys\nHEAVY = {HEAVY!r}\n{textwrap.dedent(code)}\n{_REPORT}\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _cli(*args: str) -> str:
    # The entry point's main, as the installed command runs it; --help exits.
    return f"""
    import contextlib, io
    from effcomplexity.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main({list(args)!r})
        except SystemExit:
            pass
    """


@pytest.mark.parametrize(
    "code",
    [
        "import effcomplexity",
        "import effcomplexity.sweeps",
        _cli("--help"),
        _cli("list"),
    ],
    ids=["import effcomplexity", "import effcomplexity.sweeps", "cli --help", "cli list"],
)
def test_no_torch(code):
    assert "torch" not in _loaded(code)


def test_package_and_help_load_no_scientific_stack():
    """``import effcomplexity`` and ``--help`` need none of scikit-learn, pandas or scipy."""
    assert _loaded("import effcomplexity") == set()
    assert _loaded(_cli("--help")) == set()


def test_sweep_table_columns_of_network_families_load_no_torch():
    code = """
    from effcomplexity import sweeps
    columns = sweeps.columns(sweeps.get_spec("mnist1d_width"))
    assert "llc" in columns and "n_eff" in columns
    """
    assert "torch" not in _loaded(code)


def test_tree_sweep_loads_no_torch():
    code = """
    from effcomplexity import sweeps
    spec = sweeps.get_spec("curth_trees").sized(quick=True).replace(
        seeds=(0,), n_train=100, n_test=50, grid={"P_leaf": (2, 4), "P_ens": (1,)}
    )
    assert len(sweeps.run(spec, verbose=0)) == 2
    """
    assert "torch" not in _loaded(code)


def test_public_names_resolve_on_first_use():
    """A name used first imports its home; the object is the one its module defines."""
    code = """
    import effcomplexity as ec
    from effcomplexity.measures.effective import effective_parameters
    assert ec.effective_parameters is effective_parameters
    from effcomplexity import TrainingMismatchError, get_smoother
    from effcomplexity.exceptions import TrainingMismatchError as home
    assert TrainingMismatchError is home and callable(get_smoother)
    """
    assert "sklearn" in _loaded(code)
