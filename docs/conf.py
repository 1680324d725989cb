"""Sphinx configuration for the effcomplexity reference documentation.

Build with warnings as errors, as CI and Read the Docs do::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The build is offline: intersphinx reads the inventories in ``_inventories/``
(written by ``_inventories/make_inventories.py``) and links to the real sites.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import effcomplexity

HERE = Path(__file__).resolve().parent

project = "effcomplexity"
author = "The effcomplexity developers"
copyright = "2026, The effcomplexity developers"
release = effcomplexity.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.autosectionlabel",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
templates_path = []
exclude_patterns = ["_build", "_inventories"]

# Reference pages: one per public name (docs/api.rst lists them all).
autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"

# Sections are linked as :ref:`page:Section title`.
autosectionlabel_prefix_document = True
autosectionlabel_maxdepth = 3

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Types in Parameters and Returns link to their documentation; only the names
# below (and numpydoc's defaults for builtins and NumPy) are linked.
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
_EXTERNAL_TYPES = (
    "numpy.random.Generator",
    "pandas.DataFrame",
    "pandas.Series",
    "pathlib.Path",
    "torch.Tensor",
    "torch.dtype",
    "torch.nn.Module",
    "torch.nn.Sequential",
    "torch.nn.Conv1d",
    "torch.nn.Conv2d",
    "sklearn.exceptions.NotFittedError",
)
numpydoc_xref_aliases = {
    **{name: name for name in _EXTERNAL_TYPES},
    "Generator": "numpy.random.Generator",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "tensor": "torch.Tensor",
    "mapping": ":term:`python:mapping`",
    "path-like": ":term:`path-like <python:path-like object>`",
    "ValueError": "ValueError",
    "TypeError": "TypeError",
    "Smoother": "effcomplexity.Smoother",
    "Dataset": "effcomplexity.datasets.Dataset",
    "SweepSpec": "effcomplexity.sweeps.SweepSpec",
    "SweepFamily": "effcomplexity.sweeps.SweepFamily",
    "Axis": "effcomplexity.sweeps.Axis",
    "Unit": "effcomplexity.sweeps.Unit",
    "LLCResult": "effcomplexity.nn.LLCResult",
}

# Links to the real documentation sites, objects read from the shipped files
# (the sites are listed once, in make_inventories.PROJECTS).
_PROJECTS = runpy.run_path(str(HERE / "_inventories" / "make_inventories.py"))["PROJECTS"]
intersphinx_mapping = {
    key: (url, str(HERE / "_inventories" / f"{key}.inv")) for key, (_, _, url) in _PROJECTS.items()
}

html_theme = "pydata_sphinx_theme"
html_title = "effcomplexity"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
