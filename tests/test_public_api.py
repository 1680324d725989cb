"""The public surface: names, example import paths and raw LaTeX docstrings.

Oracle: the package's own ``__all__`` lists and source files, read here.
"""

from __future__ import annotations

import io
import pathlib
import re
import tokenize

import pytest

import effcomplexity as ec

PACKAGE = pathlib.Path(ec.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: Modules a user imports; everything else is implementation.
PUBLIC_MODULES = {
    "effcomplexity",
    "effcomplexity.nn",
    "effcomplexity.datasets",
    "effcomplexity.models",
    "effcomplexity.sweeps",
    "effcomplexity.sweeps.store",
    "effcomplexity.exceptions",
    "effcomplexity.analysis",
    "effcomplexity.plotting",
}


def _strings(path: pathlib.Path):
    source = path.read_text()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING:
            yield token


def test_every_public_name_resolves():
    for name in ec.__all__:
        assert getattr(ec, name) is not None
    assert ec.get_smoother is ec.smoothers.get_smoother
    from effcomplexity import models

    assert {"make_mlp", "make_cnn", "make_transformer"} <= set(dir(models))


def test_network_measures_have_one_name():
    """``effcomplexity.nn`` is the only public name of the network measures."""
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("effcomplexity.measures.nn")
    from effcomplexity import nn as ecnn

    for name in ecnn.__all__:
        assert getattr(ecnn, name).__module__.startswith("effcomplexity.measures._nn.")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_examples_import_public_modules_only(path):
    imports = re.findall(
        r">>> (?:from (effcomplexity[\w.]*) import|import (effcomplexity[\w.]*))", path.read_text()
    )
    used = {a or b for a, b in imports}
    assert used <= PUBLIC_MODULES, f"examples import {sorted(used - PUBLIC_MODULES)}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_docstrings_with_backslashes_are_raw(path):
    escaped = [
        token.start[0]
        for token in _strings(path)
        if token.string.startswith('"""') and "\\" in token.string
    ]
    assert not escaped, f"docstrings with backslashes should be r-strings (lines {escaped})"


def test_dir_lists_public_names_only():
    """``dir(effcomplexity)`` shows what a user may use, not this file's own imports."""
    names = dir(ec)
    assert "annotations" not in names and "importlib" not in names
    assert set(ec.__all__) <= set(names)
    assert {"nn", "sweeps", "analysis", "exceptions"} <= set(names)
    for name in names:
        assert getattr(ec, name) is not None, f"dir lists {name}, which does not resolve"
