"""Every public function and class has a numpydoc docstring a user can rely on.

The public names are those in ``__all__`` of the package and of its public
modules; each docstring must parse with :mod:`numpydoc.docscrape` and hold
Parameters (when the callable takes any), Returns or Yields (Attributes for
classes) and Examples sections. The examples themselves run as doctests
(``--doctest-modules`` in pyproject), and ``docs/api.rst`` must list every
public name in an autosummary table.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

PUBLIC_MODULES = (
    "effcomplexity",
    "effcomplexity.nn",
    "effcomplexity.sweeps",
    "effcomplexity.sweeps.store",
    "effcomplexity.analysis",
    "effcomplexity.plotting",
    "effcomplexity.datasets",
    "effcomplexity.models",
    "effcomplexity.exceptions",
)
API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def _public_names():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if not name.startswith("__"):
                yield module_name, name, getattr(module, name)


def _callables():
    return [
        pytest.param(obj, id=f"{module}.{name}")
        for module, name, obj in _public_names()
        if inspect.isfunction(obj) or inspect.isclass(obj)
    ]


def _takes_parameters(obj) -> bool:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return True
    return any(name not in ("self", "cls") for name in signature.parameters)


@pytest.mark.parametrize("obj", _callables())
def test_numpydoc_sections(obj):
    assert inspect.getdoc(obj), f"{obj.__qualname__} has no docstring"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a malformed section is a failure
        doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    missing = []
    if inspect.isclass(obj):
        if _takes_parameters(obj) and not (doc["Parameters"] or doc["Attributes"]):
            missing.append("Parameters")
        if not (doc["Attributes"] or doc["Returns"]):
            missing.append("Attributes")
    else:
        if _takes_parameters(obj) and not doc["Parameters"]:
            missing.append("Parameters")
        if not (doc["Returns"] or doc["Yields"]):
            missing.append("Returns (or Yields)")
    if not any(">>>" in line for line in doc["Examples"]):
        missing.append("Examples (with a >>> line)")
    assert not missing, f"{obj.__module__}.{obj.__qualname__} lacks {', '.join(missing)}"


@pytest.mark.parametrize("obj", _callables())
def test_documented_parameters_exist(obj):
    """Documented parameter names are real ones (a typo hides a parameter)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        real = set(inspect.signature(target).parameters)
    except (TypeError, ValueError):  # pragma: no cover
        return
    documented = set()
    for param in doc["Parameters"]:
        for name in param.name.split(","):
            documented.add(name.strip().lstrip("*"))
    unknown = {name for name in documented if name and name not in real}
    assert not unknown, f"{obj.__qualname__} documents unknown parameters {sorted(unknown)}"


def _autosummary_entries() -> set[str]:
    """Fully qualified names listed in autosummary tables of api.rst."""
    entries, module, in_table = set(), None, False
    for line in API_RST.read_text().splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if current:
            module = current.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_table = True
            continue
        if in_table:
            stripped = line.strip()
            if not stripped or stripped.startswith(":"):
                continue
            if not line.startswith(" "):
                in_table = False
                continue
            entries.add(stripped if "." in stripped else f"{module}.{stripped}")
    return entries


def test_api_reference_lists_every_public_name():
    """One page per public object: a class public under two names (the exception
    classes, also exported by ``effcomplexity``) is listed under one of them."""
    entries = _autosummary_entries()
    names_of: dict[object, set[str]] = {}
    for module, name, obj in _public_names():
        # Constants are told apart by name: equal small ints or strings share an id.
        key = id(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else (module, name)
        names_of.setdefault(key, set()).add(f"{module}.{name}")
    missing = sorted(min(names) for names in names_of.values() if not names & entries)
    assert not missing, f"docs/api.rst has no autosummary entry for {missing}"
    twice = sorted(
        sorted(names & entries) for names in names_of.values() if len(names & entries) > 1
    )
    assert not twice, f"docs/api.rst lists one object under several names: {twice}"
    public = set().union(*names_of.values())
    unknown = sorted(entries - public)
    assert not unknown, f"docs/api.rst lists names that are not public: {unknown}"
