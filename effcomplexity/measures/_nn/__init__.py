"""Implementation of the network measures (private).

The one public name is :mod:`effcomplexity.nn`: import
``from effcomplexity import nn as ecnn``, which re-exports every public
measure defined in the modules here.
"""

from ..._optional import require

# Every module here imports torch: one clear error for all of them.
require("torch", "the network measures (effcomplexity.nn)")
