"""Implementation of the network measures; the public name is ``effcomplexity.nn``.

Import ``from effcomplexity import nn as ecnn``: that module re-exports every
public measure defined in the modules here.
"""
