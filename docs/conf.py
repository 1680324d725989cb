"""Sphinx configuration for the effcomplexity reference documentation.

Build with warnings as errors, as CI and Read the Docs do::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The build is offline: intersphinx reads the inventories in ``_inventories/``
(written by ``_inventories/make_inventories.py``) and links to the real sites.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

# The gallery's examples are tiny: threads only add overhead, and CI has two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import effcomplexity  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the gallery's hooks, _gallery.py

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
    "sphinx_gallery.gen_gallery",
]
templates_path = []
exclude_patterns = ["_build", "_inventories"]

# Formulas render offline: MathJax 3 (Apache-2.0, its LICENSE beside it) ships in
# _static/mathjax instead of being fetched from a CDN.
html_static_path = ["_static"]
mathjax_path = "mathjax/tex-chtml-full.js"
html_css_files = ["effcomplexity.css"]

# The gallery: every examples/plot_*.py runs when the docs build and its figures,
# drawn by effcomplexity.plotting, appear on its page (docs/_gallery.py).
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "_gallery.ExampleOrder",
    "image_scrapers": ("_gallery.scrape_figures",),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
}

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
# The left sidebar lists a page's children; pages without any (the guide, the
# background pages) would show an empty "Section Navigation" box, so they have none.
html_sidebars = {page.stem: [] for page in HERE.glob("*.rst") if page.stem not in ("index", "api")}
