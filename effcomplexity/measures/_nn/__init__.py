"""Implementation of the network measures (private).

The one public name is :mod:`effcomplexity.nn`: import
``from effcomplexity import nn as ecnn``, which re-exports every public
measure defined in the modules here.
"""
