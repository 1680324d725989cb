"""Shapes: the moves of a curve, the verdict words, and the shape fits."""

from __future__ import annotations

import numpy as np


def _zigzag(values: np.ndarray, threshold) -> list[tuple[int, int]]:
    """Significant moves of a curve: (start, end) index pairs of its legs.

    A leg ends at a turning point from which the curve moves back by more
    than ``threshold(i, j)`` (the tolerance for a move between points i and
    j); smaller moves are noise.
    """
    legs = []
    lo = hi = 0  # lowest and highest points while no direction is known
    direction, start, extreme = 0, 0, 0
    for i in range(1, values.size):
        v = values[i]
        if direction == 0:
            if v - values[lo] > threshold(lo, i):
                direction, start, extreme = 1, lo, i
            elif values[hi] - v > threshold(hi, i):
                direction, start, extreme = -1, hi, i
            else:
                lo = i if v < values[lo] else lo
                hi = i if v > values[hi] else hi
            continue
        if direction * (v - values[extreme]) >= 0:
            extreme = i
        elif direction * (values[extreme] - v) > threshold(extreme, i):
            legs.append((start, extreme))
            start, extreme, direction = extreme, i, -direction
    if direction != 0:
        legs.append((start, extreme))
    return legs


def _describe_shape(values: np.ndarray, threshold) -> tuple[str, int, list]:
    legs = _zigzag(values, threshold)
    kinds = ["down" if values[b] < values[a] else "up" for a, b in legs]
    n_descents = kinds.count("down")
    if n_descents >= 2:
        verdict = "double descent"
    elif n_descents == 1:
        down = kinds.index("down")
        if "up" in kinds[down + 1 :]:
            verdict = "single U"
        elif "up" in kinds[:down]:
            verdict = "inconclusive"
        else:
            verdict = "monotone decreasing"
    else:
        verdict = "monotone increasing" if kinds else "inconclusive"
    return verdict, n_descents, list(zip(legs, kinds, strict=True))


def _prefix_antitonic_sse(y: np.ndarray) -> np.ndarray:
    """SSE of the non-increasing least-squares fit of every prefix ``y[:k]``, k = 1..n.

    Pool-adjacent-violators run left to right: after point k its stack of
    blocks is the fit of the first k points, so one pass gives every prefix.
    """
    sums, counts, squares = [], [], []
    out = np.empty(y.size)
    total = 0.0  # SSE of the blocks on the stack
    for k, v in enumerate(y):
        s, c, q = float(v), 1, float(v) ** 2
        while sums and sums[-1] / counts[-1] < s / c:
            ps, pc, pq = sums.pop(), counts.pop(), squares.pop()
            total -= pq - ps**2 / pc
            s, c, q = s + ps, c + pc, q + pq
        sums.append(s)
        counts.append(c)
        squares.append(q)
        total += q - s**2 / c
        out[k] = total
    return np.maximum(out, 0.0)


def _valley_r2(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of the best unimodal valley: isotonic decreasing, then increasing.

    Least squares over every split point: a non-increasing fit of the points
    before it, a non-decreasing fit of those after, each by
    pool-adjacent-violators (one pass for all prefixes, one for all suffixes).
    """
    ys = np.asarray(y, float)[np.argsort(x, kind="stable")]
    sst = float(np.sum((ys - ys.mean()) ** 2))
    if sst == 0:
        return 1.0
    head = _prefix_antitonic_sse(ys)  # head[k - 1]: the first k points
    tail = _prefix_antitonic_sse(ys[::-1])[::-1]  # tail[k]: points k..n-1 (reversed: antitonic)
    sse = head.copy()
    sse[:-1] += tail[1:]
    return 1.0 - float(sse.min()) / sst


def _quadratic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """R^2 and curvature of the least-squares quadratic (statsmodels OLS)."""
    import statsmodels.api as sm

    if np.unique(x).size < 3:
        return float("nan"), float("nan")
    xc = (x - x.mean()) / (x.std() or 1.0)
    design = np.column_stack([np.ones_like(xc), xc, xc**2])
    fit = sm.OLS(y, design).fit()
    return float(fit.rsquared), float(fit.params[2])
