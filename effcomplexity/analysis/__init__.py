r"""Replot a sweep against other complexity measures, and judge the double descent.

The sweeps write one tidy table (one row per fitted model); this module reads
only that table. :func:`illusion_test` asks, for each complexity measure,
whether test error against that measure shows a double descent, a single U
or a monotone curve, with the statistics a referee would ask for: smoothed
descents with a noise tolerance, the position of the peak, the fold-back of
the measure along the second axis of the composite path, rank agreement
with test error and with the generalization gap, a U-shape fit, and
bootstrap intervals over seeds.

Curth, Jeffares and van der Schaar (2023) argue that the second descent is
an artefact of the raw parameter axis: the composite path switches from one
complexity mechanism to another, and measured by effective parameters on
test inputs (:math:`\hat p_{test}`) the curve folds back into a U.

The package holds one concept a module: :mod:`~effcomplexity.analysis.grid`
(the results table read as grid means and a composite path; its columns are
documented in :mod:`effcomplexity.sweeps.table`),
:mod:`~effcomplexity.analysis.tau` (Kendall and granulated tau),
:mod:`~effcomplexity.analysis.smoothing` (LOWESS, the noise scale, the noise
floor and every threshold), :mod:`~effcomplexity.analysis.shapes` (moves and
shape words), :mod:`~effcomplexity.analysis.paths` (the path segment by
segment: :func:`segments`), :mod:`~effcomplexity.analysis.curve` (the
statistics of one curve), :mod:`~effcomplexity.analysis.bootstrap` and
:mod:`~effcomplexity.analysis.group` (the bootstrap over seeds),
:mod:`~effcomplexity.analysis.verdict` (:func:`illusion_test`) and
:mod:`~effcomplexity.analysis.calibration` (verdict rates on synthetic
curves).
"""

from __future__ import annotations

from .bootstrap import _bootstrap_draws  # noqa: F401  (tests read the private helpers)
from .grid import (
    THRESHOLD_COLUMNS,
    _interpolation_index,  # noqa: F401  (plotting locates the threshold)
    _switch_index,  # noqa: F401
    composite_path,
    grid_means,
)
from .paths import segments
from .smoothing import _lowess_matrix  # noqa: F401
from .tau import granulated_tau
from .verdict import MIN_POINTS, VERDICTS, illusion_test

__all__ = [
    "MIN_POINTS",
    "RAW_AXES",
    "THRESHOLD_COLUMNS",
    "VERDICTS",
    "composite_path",
    "granulated_tau",
    "grid_means",
    "illusion_test",
    "segments",
]


def __getattr__(name: str):
    # Derived on access: families registered after import add their axes.
    if name == "RAW_AXES":
        from ..sweeps import table

        return table.raw_axes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
