"""Write the reduced intersphinx inventories the documentation links against.

The documentation is built offline (Read the Docs builds and CI must not depend
on other projects' sites being reachable), so ``docs/conf.py`` points
intersphinx at the real documentation sites for the links but reads the
objects from the files in this folder. Each file is a standard Sphinx
inventory (version 2, zlib-compressed), holding only the objects this
documentation refers to, with the URL layout each project uses:

* Python: ``library/<module>.html#<name>``, glossary terms ``glossary.html#term-<term>``;
* NumPy: ``reference/generated/<name>.html#<name>``, random generators under
  ``reference/random/``, glossary ``glossary.html#term-<term>``;
* SciPy: ``reference/generated/<name>.html#<name>``;
* pandas: ``reference/api/<name>.html#<name>``;
* scikit-learn: ``modules/generated/<name>.html#<name>``, glossary
  ``glossary.html#term-<term>``;
* statsmodels: ``generated/<name>.html#<name>``;
* PyTorch: ``generated/<name>.html#<name>``, with ``torch.Tensor`` on
  ``tensors.html`` and ``torch.utils.data`` on ``data.html``.

To link a new object, add it to ``OBJECTS`` and run
``python docs/_inventories/make_inventories.py``; a reference to an object
missing here is left as plain text, never a broken link.
``tests/test_docs_examples.py`` checks that the files match this script.
"""

from __future__ import annotations

import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Project name, version label and base URL of each inventory (the base URL
#: is repeated in ``docs/conf.py``'s ``intersphinx_mapping``).
PROJECTS = {
    "python": ("Python", "3", "https://docs.python.org/3"),
    "numpy": ("NumPy", "stable", "https://numpy.org/doc/stable"),
    "scipy": ("SciPy", "stable", "https://docs.scipy.org/doc/scipy"),
    "pandas": ("pandas", "stable", "https://pandas.pydata.org/docs"),
    "sklearn": ("scikit-learn", "stable", "https://scikit-learn.org/stable"),
    "statsmodels": ("statsmodels", "stable", "https://www.statsmodels.org/stable"),
    "torch": ("PyTorch", "stable", "https://docs.pytorch.org/docs/stable"),
}


def _generated(names, role="py:class", folder="generated"):
    return [(name, role, f"{folder}/{name}.html#$") for name in names]


def _on_page(page, names, role="py:class"):
    return [(name, role, f"{page}#$") for name in names]


def _terms(page, terms):
    return [(term, "std:term", f"{page}#term-{term.replace(' ', '-')}") for term in terms]


#: (name, domain:role, relative URI) per project; ``$`` in a URI stands for the name.
OBJECTS = {
    "python": [
        *_on_page("library/functions.html", ["int", "float", "bool"]),
        *_on_page("library/stdtypes.html", ["str", "dict", "list", "tuple"]),
        ("callable", "py:function", "library/functions.html#$"),
        *_on_page("library/constants.html", ["None", "True", "False"], "py:data"),
        *_on_page(
            "library/exceptions.html",
            ["ValueError", "TypeError", "RuntimeWarning", "KeyError"],
            "py:exception",
        ),
        ("pathlib.Path", "py:class", "library/pathlib.html#$"),
        ("dataclasses.replace", "py:function", "library/dataclasses.html#$"),
        ("bltin-boolean-values", "std:label", "library/stdtypes.html#bltin-boolean-values"),
        *_terms("glossary.html", ["iterable", "sequence", "mapping", "path-like object"]),
    ],
    "numpy": [
        *_generated(["numpy.ndarray"], folder="reference/generated"),
        *_generated(
            ["numpy.linalg.lstsq", "numpy.linalg.matrix_rank", "numpy.trace"],
            role="py:function",
            folder="reference/generated",
        ),
        ("numpy.random.Generator", "py:class", "reference/random/generator.html#$"),
        ("numpy.random.default_rng", "py:function", "reference/random/generator.html#$"),
        ("numpy.random.RandomState", "py:class", "reference/random/legacy.html#$"),
        ("numpy", "py:module", "reference/index.html#module-numpy"),
        ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars"),
        *_terms("glossary.html", ["array_like"]),
    ],
    "scipy": [
        *_generated(["scipy.sparse.linalg.LinearOperator"], folder="reference/generated"),
        *_generated(
            [
                "scipy.sparse.linalg.eigsh",
                "scipy.linalg.eigh_tridiagonal",
                "scipy.linalg.lstsq",
                "scipy.optimize.isotonic_regression",
                "scipy.stats.kendalltau",
            ],
            role="py:function",
            folder="reference/generated",
        ),
    ],
    "pandas": [
        *_generated(["pandas.DataFrame", "pandas.Series"], folder="reference/api"),
        *_generated(["pandas.read_csv", "pandas.read_parquet"], "py:function", "reference/api"),
    ],
    "sklearn": [
        *_generated(
            [
                "sklearn.linear_model.LinearRegression",
                "sklearn.linear_model.Ridge",
                "sklearn.kernel_ridge.KernelRidge",
                "sklearn.neighbors.KNeighborsRegressor",
                "sklearn.neighbors.KNeighborsClassifier",
                "sklearn.model_selection.GridSearchCV",
                "sklearn.model_selection.RandomizedSearchCV",
                "sklearn.tree.DecisionTreeRegressor",
                "sklearn.ensemble.RandomForestRegressor",
                "sklearn.ensemble.BaggingRegressor",
                "sklearn.ensemble.ExtraTreesRegressor",
                "sklearn.ensemble.GradientBoostingRegressor",
                "sklearn.ensemble.HistGradientBoostingRegressor",
                "sklearn.ensemble.VotingRegressor",
                "sklearn.pipeline.Pipeline",
                "sklearn.dummy.DummyRegressor",
            ],
            folder="modules/generated",
        ),
        ("sklearn.exceptions.NotFittedError", "py:exception", "modules/generated/$.html#$"),
        ("sklearn.metrics.r2_score", "py:function", "modules/generated/$.html#$"),
        ("r2_score", "std:label", "modules/model_evaluation.html#r2-score"),
        *_terms("glossary.html", ["random_state"]),
    ],
    "statsmodels": [
        *_generated(
            [
                "statsmodels.regression.linear_model.OLS",
                "statsmodels.regression.linear_model.RegressionResults",
                "statsmodels.gam.generalized_additive_model.GLMGam",
                "statsmodels.stats.outliers_influence.OLSInfluence",
            ]
        ),
        *_generated(["statsmodels.nonparametric.smoothers_lowess.lowess"], "py:function"),
    ],
    "torch": [
        *_generated(
            [
                "torch.nn.Module",
                "torch.nn.Sequential",
                "torch.nn.Linear",
                "torch.nn.Conv1d",
                "torch.nn.Conv2d",
                "torch.nn.MSELoss",
                "torch.nn.CrossEntropyLoss",
                "torch.optim.SGD",
                "torch.optim.AdamW",
                "torch.Generator",
            ]
        ),
        *_generated(
            ["torch.func.vmap", "torch.nn.utils.parameters_to_vector", "torch.load"],
            "py:function",
        ),
        ("torch.Tensor", "py:class", "tensors.html#$"),
        ("torch.dtype", "py:class", "tensor_attributes.html#$"),
        ("torch.utils.data.DataLoader", "py:class", "data.html#$"),
    ],
}


def inventory_bytes(key: str) -> bytes:
    """The inventory file of one project, as Sphinx writes it."""
    project, version, _ = PROJECTS[key]
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = [f"{name} {role} 1 {uri} -\n" for name, role, uri in sorted(OBJECTS[key])]
    return header.encode() + zlib.compress("".join(lines).encode(), 9)


def main(folder: Path = HERE) -> list[Path]:
    """Write every inventory into ``folder``; return the files written."""
    written = []
    for key in PROJECTS:
        path = folder / f"{key}.inv"
        path.write_bytes(inventory_bytes(key))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(path)
