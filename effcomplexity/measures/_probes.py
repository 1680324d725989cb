"""Random probe vectors shared by the probe estimators."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

PROBE_KINDS = ("rademacher", "gaussian")


def random_probes(n: int, k: int, kind: str = "rademacher", random_state=None) -> np.ndarray:
    """Draw ``k`` probe vectors of length ``n`` with ``E[z z^T] = I``.

    Parameters
    ----------
    n, k : int
        Probe length and count.
    kind : {"rademacher", "gaussian"}
        Rademacher probes (+-1) have the lower variance for traces and
        squared norms; Gaussian probes make every estimate rotation-invariant.
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of shape (n, k)
    """
    rng = check_random_state(random_state)
    if kind == "rademacher":
        return rng.randint(0, 2, size=(n, k)).astype(np.float64) * 2.0 - 1.0
    if kind == "gaussian":
        return rng.standard_normal((n, k))
    raise ValueError(f"probe must be one of {PROBE_KINDS}, got {kind!r}.")
