"""Optional dependencies: imported on first use, or an error naming the install command.

The core of the package (smoothers, the measures of scikit-learn and
statsmodels models, the classical sweeps, analysis and plotting) needs none
of these; the network measures and some datasets do.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: The extra of the package that installs each optional dependency.
EXTRAS = {"torch": "nn", "mlxtend": "data", "mnist1d": "data"}

_TORCH_CPU = (
    " (for the CPU-only build of torch, run "
    "'pip install torch --index-url https://download.pytorch.org/whl/cpu' first)"
)


def missing_dependency(module: str, purpose: str) -> ModuleNotFoundError:
    """The error for an absent optional dependency, naming the command that installs it.

    Parameters
    ----------
    module : str
        Top-level name of the dependency, a key of :data:`EXTRAS`.
    purpose : str
        What needs it, as the message names it.

    Returns
    -------
    ModuleNotFoundError
        With ``name`` set to ``module`` (a subclass of :class:`ImportError`).

    Examples
    --------
    >>> print(missing_dependency("mnist1d", "MNIST-1D"))
    mnist1d is needed by MNIST-1D and is not installed: pip install "effcomplexity[data]"
    """
    extra = EXTRAS[module]
    hint = _TORCH_CPU if module == "torch" else ""
    command = f'pip install "effcomplexity[{extra}]"'
    return ModuleNotFoundError(
        f"{module} is needed by {purpose} and is not installed: {command}{hint}", name=module
    )


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise the error that names the extra installing it.

    Parameters
    ----------
    module : str
        Module to import; its top-level package must be a key of :data:`EXTRAS`.
    purpose : str
        What needs it, as the error message names it.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ModuleNotFoundError
        When the dependency is not installed; the message names
        ``pip install "effcomplexity[EXTRA]"``. A module missing inside an
        installed dependency is raised unchanged, with its own message.

    Examples
    --------
    >>> require("torch.nn", "An example").__name__
    'torch.nn'
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise
        raise missing_dependency(top, purpose) from exc
