"""Double-descent sweeps: declarative specs and a resumable, parallel runner.

>>> from effcomplexity import sweeps
>>> sweeps.available()[:3]
['belkin_rff', 'curth_boosting', 'curth_boosting_switch']

A sweep is a :class:`SweepSpec`; :func:`run` turns it into units of work,
runs them (one process, local processes, or a Dask cluster), streams rows to
disk as units finish, resumes after interruptions and returns one tidy
:class:`pandas.DataFrame`.
"""

from .library import available, get_spec
from .runner import Unit, columns, plan, results_path, run
from .spec import FAMILIES, MODEL_DEFAULTS, SweepSpec

__all__ = [
    "FAMILIES",
    "MODEL_DEFAULTS",
    "SweepSpec",
    "Unit",
    "available",
    "columns",
    "get_spec",
    "plan",
    "results_path",
    "run",
]
