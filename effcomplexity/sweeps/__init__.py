"""Double-descent sweeps: declarative specs and a resumable, parallel runner.

>>> from effcomplexity import sweeps
>>> sweeps.available()[:3]
['belkin_rff', 'curth_boosting', 'curth_boosting_published']
>>> sweeps.families.families()[:4]
['boosting', 'forest', 'grokking', 'grokking_transformer']
>>> len(sweeps.families.families())
11

A sweep is a :class:`SweepSpec` over a registered :class:`SweepFamily`;
:func:`run` turns it into units of work, runs them (one process, local
processes, or a Dask cluster), streams rows to disk as units finish, resumes
after interruptions and returns one tidy :class:`pandas.DataFrame`.
"""

from . import families
from .families import Axis, SweepFamily, UnitContext, get_family, register_family
from .families._common import log_spaced
from .library import available, get_spec
from .runner import Unit, columns, plan, results_path, run
from .spec import SweepSpec

__all__ = [
    "Axis",
    "SweepFamily",
    "SweepSpec",
    "Unit",
    "UnitContext",
    "available",
    "columns",
    "families",
    "get_family",
    "get_spec",
    "log_spaced",
    "plan",
    "register_family",
    "results_path",
    "run",
]
