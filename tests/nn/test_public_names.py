"""Every name of ``effcomplexity.nn`` that the docs, docstrings or code use is public.

Oracle: the text itself. The documentation pages, README, benchmarks and every
module of the package are scanned for ``ecnn.<name>``,
``effcomplexity.nn.<name>`` and ``from effcomplexity.nn import <names>``, and
the docstrings of the public objects for bare ``:func:`` / ``:class:``
references; each name found must be in ``effcomplexity.nn.__all__`` (and
importable from there).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import effcomplexity
from effcomplexity import nn as ecnn

ROOT = Path(effcomplexity.__file__).resolve().parent.parent
DOTTED = re.compile(r"\b(?:ecnn|effcomplexity\.nn)\.([A-Za-z_]\w*)")
FROM_IMPORT = re.compile(r"from effcomplexity\.nn import \(?([\w\s,]+)\)?")
BARE_ROLE = re.compile(r":(?:func|class):`~?([A-Za-z_]\w*)`")


def _texts() -> dict[str, str]:
    paths = [
        *sorted((ROOT / "docs").glob("*.rst")),
        ROOT / "README.md",
        *sorted((ROOT / "effcomplexity").rglob("*.py")),
        *sorted((ROOT / "benchmarks").rglob("*.py")),
    ]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths if p.exists()}


def _used_names(text: str) -> set[str]:
    names = set(DOTTED.findall(text))
    for group in FROM_IMPORT.findall(text):
        names.update(part.strip() for part in group.split(",") if part.strip())
    return {name for name in names if not name.startswith("__")}


def test_scanner_finds_the_three_forms():
    # The scanner itself, on a text whose uses are known.
    text = (
        ">>> ecnn.margin(model, X, y)\n:func:`effcomplexity.nn.path_norm`\n"
        "from effcomplexity.nn import (\n    SGLD,\n    sharpness,\n)\necnn.__all__\n"
    )
    assert _used_names(text) == {"margin", "path_norm", "SGLD", "sharpness"}


@pytest.mark.parametrize("path", list(_texts()))
def test_every_nn_name_used_in_the_text_is_public(path):
    missing = sorted(_used_names(_texts()[path]) - set(ecnn.__all__))
    assert not missing, f"{path} uses effcomplexity.nn names that are not public: {missing}"


def test_every_public_name_is_importable():
    for name in ecnn.__all__:
        assert getattr(ecnn, name) is not None


def _docstrings(obj) -> list[str]:
    docs = [inspect.getdoc(obj) or ""]
    if inspect.isclass(obj):
        # members defined here; inherited ones (torch.optim.Optimizer's) are torch's docs
        docs += [inspect.getdoc(member) or "" for member in vars(obj).values() if callable(member)]
    return docs


@pytest.mark.parametrize("name", ecnn.__all__)
def test_bare_references_in_public_docstrings_are_public(name):
    # A bare :func:`x` in an effcomplexity.nn docstring resolves inside effcomplexity.nn.
    obj = getattr(ecnn, name)
    refs = set()
    for doc in _docstrings(obj):
        refs.update(BARE_ROLE.findall(doc))
    missing = sorted(refs - set(ecnn.__all__))
    assert not missing, f"the docstring of {name} refers to non-public {missing}"
