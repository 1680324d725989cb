"""Every exception and warning class of the package is in ``effcomplexity.exceptions``.

Oracle: the package's own source, read with :mod:`ast`. Every ``raise X(...)``
and every ``warnings.warn(..., X)`` (or ``category=X``) names a class; those
the package defines must be importable from ``effcomplexity.exceptions`` and
listed in its ``__all__``, and so must every exception class the source
defines, however it is raised (some are built by helper functions).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib

import pytest

import effcomplexity
from effcomplexity import exceptions

PACKAGE = pathlib.Path(effcomplexity.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of the package except ``__main__`` (importing it runs the command line).
MODULES = {
    _module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if path.name != "__main__.py"
}


def _dotted(node: ast.expr) -> str | None:
    """``a.b.C`` for a name or attribute chain, else None (a call, a subscript...)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _raised_and_warned(tree: ast.AST) -> set[str]:
    """Dotted names after ``raise`` and in the category of ``warn`` calls."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            names.add(_dotted(target))
        elif isinstance(node, ast.Call) and (_dotted(node.func) or "").split(".")[-1] == "warn":
            category = node.args[1] if len(node.args) > 1 else None
            for keyword in node.keywords:
                if keyword.arg == "category":
                    category = keyword.value
            if category is not None:
                names.add(_dotted(category))
    names.discard(None)
    return names


def _resolve(module, dotted: str):
    """The object a dotted name means in ``module``'s namespace, or None (a local)."""
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# Control flow inside one function's caller, never seen by a user: the command line's
# usage error is caught in ``cli.main`` and becomes exit status 2.
INTERNAL = {"effcomplexity.cli._UsageError"}


def _ours(obj) -> bool:
    return (
        inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__.split(".")[0] == "effcomplexity"
        and f"{obj.__module__}.{obj.__qualname__}" not in INTERNAL
    )


def _assert_exported(cls, where: str) -> None:
    name = cls.__name__
    assert name in exceptions.__all__, f"{name} ({where}) is not in effcomplexity.exceptions"
    assert getattr(exceptions, name) is cls, f"effcomplexity.exceptions.{name} is another class"


@pytest.mark.parametrize("module_name", sorted(MODULES))
def test_raised_and_warned_classes_are_exported(module_name):
    tree = ast.parse(MODULES[module_name].read_text())
    module = importlib.import_module(module_name)
    for dotted in sorted(_raised_and_warned(tree)):
        obj = _resolve(module, dotted)
        if _ours(obj):
            _assert_exported(obj, f"raised or warned in {module_name}")


@pytest.mark.parametrize("module_name", sorted(MODULES))
def test_defined_exception_classes_are_exported(module_name):
    tree = ast.parse(MODULES[module_name].read_text())
    module = importlib.import_module(module_name)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.col_offset == 0:
            obj = getattr(module, node.name, None)
            if _ours(obj):
                _assert_exported(obj, f"defined in {module_name}")


def test_the_walk_sees_the_known_classes():
    """The walk finds the classes raised by name (so it is not silently empty)."""
    seen = set()
    for module_name, path in MODULES.items():
        module = importlib.import_module(module_name)
        for dotted in _raised_and_warned(ast.parse(path.read_text())):
            obj = _resolve(module, dotted)
            if _ours(obj):
                seen.add(obj.__name__)
    assert {
        "IncompatibleResultsError",
        "ProbeEstimateWarning",
        "RunReplacedError",
        "TrainingMismatchError",
        "UnverifiedTrainingDataWarning",
    } <= seen


@pytest.mark.parametrize("name", exceptions.__all__)
def test_exports_are_documented_exception_classes(name):
    cls = getattr(exceptions, name)
    assert inspect.isclass(cls) and issubclass(cls, Exception | Warning)
    assert inspect.getdoc(cls), f"{name} has no docstring"


def test_old_import_paths_still_work():
    from effcomplexity import ProbeEstimateWarning, TrainingMismatchError
    from effcomplexity._validation import UnverifiedTrainingDataWarning
    from effcomplexity.sweeps.families._nn_training import RunReplacedError

    assert TrainingMismatchError is exceptions.TrainingMismatchError
    assert ProbeEstimateWarning is exceptions.ProbeEstimateWarning
    assert UnverifiedTrainingDataWarning is exceptions.UnverifiedTrainingDataWarning
    assert RunReplacedError is exceptions.RunReplacedError
