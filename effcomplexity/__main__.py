"""``python -m effcomplexity``: the same command line as ``effcomplexity``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
