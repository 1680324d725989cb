"""The bootstrap over seeds: exact enumeration of resamples or random draws."""

from __future__ import annotations

import numpy as np


def _exact_bootstrap(n_seeds: int, n_boot: int) -> bool:
    """Whether every distinct resample of the seeds fits in ``n_boot`` replicates."""
    from math import comb

    return comb(2 * n_seeds - 1, n_seeds) <= n_boot


def _bootstrap_draws(n_seeds: int, n_boot: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Seed-count vectors of bootstrap resamples, with their probabilities.

    Every distinct resample (a multiset of seeds, multinomially weighted) when
    there are at most ``n_boot`` of them: the exact bootstrap distribution.
    Otherwise ``n_boot`` random resamples of equal weight.
    """
    from math import factorial, prod

    if _exact_bootstrap(n_seeds, n_boot):
        import itertools

        counts, weights = [], []
        for draw in itertools.combinations_with_replacement(range(n_seeds), n_seeds):
            c = np.bincount(draw, minlength=n_seeds)
            counts.append(c)
            weights.append(factorial(n_seeds) / prod(factorial(int(k)) for k in c))
        weights = np.asarray(weights, float)
        return np.asarray(counts), weights / weights.sum()
    draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    counts = np.stack([np.bincount(d, minlength=n_seeds) for d in draws])
    return counts, np.full(n_boot, 1.0 / n_boot)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    order = np.argsort(values[keep], kind="stable")
    v, w = values[keep][order], weights[keep][order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cum, q - 1e-12), v.size - 1)])
