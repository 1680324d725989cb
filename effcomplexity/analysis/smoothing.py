"""Smoothing and noise: LOWESS, its span, the noise scale and critical values."""

from __future__ import annotations

import functools

import numpy as np

#: An error spanning this factor or more (the MSE at a min-norm threshold) is read in logs.
LOG_ERROR_SPAN = 100.0
#: A measure spanning this factor or more is smoothed against its logarithm.
LOG_MEASURE_SPAN = 10.0
#: The noise floor: no move of the error smaller than this share of its median counts.
NOISE_FLOOR = 0.01
#: A measure moves along the path only by more than this share of its median magnitude.
MEASURE_RTOL = 0.01
#: Root-mean-square distance of the points from the pooled smooth, in noise units, above
#: which the error is not one function of the measure (no pooled shape is claimed).
LACK_OF_FIT_MAX = 3.0
#: Chance that pure noise makes one spurious move on the unsmoothed path.
PATH_ALPHA = 0.01
# The critical values are properties of the design, not the data: one fixed stream.
_SIM_SEED = 20231210
_N_SIM = 2000


def _log_x(x: np.ndarray, span: float = LOG_MEASURE_SPAN) -> tuple[np.ndarray, bool]:
    """log10 of positive values spanning a factor ``span`` or more, else the values."""
    if np.all(x > 0) and x.max() / x.min() >= span:
        return np.log10(x), True
    return x.astype(float), False


def _lowess_weights(x: np.ndarray, frac: float, xvals: np.ndarray | None = None) -> np.ndarray:
    """Rows mapping y (at sorted ``x``) to LOWESS fits at ``xvals`` (default ``x``).

    Local linear fits with tricube weights over the ``int(frac * n)`` nearest
    points, no robustness iterations: statsmodels' ``lowess(it=0, delta=0)``
    step by step, as a matrix (a fit with fewer than two positive weights is
    y itself at ``x``, NaN elsewhere, as there).
    """
    n = x.size
    k = min(max(int(frac * n + 1e-10), 2), n)
    at_x = xvals is None
    xvals = x if at_x else np.asarray(xvals, float)
    W = np.zeros((xvals.size, n))
    left = 0
    for i, xval in enumerate(xvals):
        while left + k < n and xval > (x[left] + x[left + k]) / 2.0:
            left += 1
        right = left + k
        xj = x[left:right]
        radius = max(xval - x[left], x[right - 1] - xval)
        w = (1.0 - (np.abs(xj - xval) / radius) ** 3) ** 3 if radius > 0 else np.ones(k)
        if np.count_nonzero(w > 1e-12) < 2:
            if at_x:
                W[i, i] = 1.0
            else:
                W[i] = np.nan
            continue
        w = w / w.sum()
        mean = w @ xj
        var = max(float(w @ (xj - mean) ** 2), 1e-12)
        W[i, left:right] = w * (1.0 + (xval - mean) * (xj - mean) / var)
    return W


def _lowess(x, y, frac, xvals=None):
    """LOWESS fit of y at sorted x (or at ``xvals``), without robustness iterations."""
    return _lowess_weights(np.asarray(x, float), frac, xvals) @ np.asarray(y, float)


def _choose_frac(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """LOWESS span by leave-one-out cross-validation over interior points.

    Candidate spans hold r = 3, ..., k neighbours of the k points; the one
    with the smallest leave-one-out squared error wins (ties: the widest).
    """
    k = x.size
    best = (np.inf, k)
    for r in range(3, k + 1):
        errors = []
        for i in range(1, k - 1):
            keep = np.arange(k) != i
            fit = _lowess(x[keep], y[keep], min(1.0, r / (k - 1)), xvals=x[i : i + 1])
            errors.append((fit[0] - y[i]) ** 2)
        score = float(np.mean(errors))
        if np.isfinite(score) and score <= best[0] * (1 + 1e-9):
            best = (score, r)
    r = best[1]
    return r / k, r


def _pseudo_residuals(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Second-difference pseudo-residuals of every row of Y, scaled to the noise variance."""
    x0, x1, x2 = x[:-2], x[1:-1], x[2:]
    a = (x2 - x1) / (x2 - x0)
    b = (x1 - x0) / (x2 - x0)
    return (a * Y[..., :-2] + b * Y[..., 2:] - Y[..., 1:-1]) / np.sqrt(a**2 + b**2 + 1)


def _noise_sd(x: np.ndarray, y: np.ndarray) -> float:
    """Robust noise scale from second-difference pseudo-residuals.

    Gasser, Sroka and Jennen-Steinmetz (1986): each interior point minus the
    straight line through its neighbours, scaled to unit variance, with the
    median absolute value (robust to a few points of a real peak).
    """
    x, order = np.unique(x, return_index=True)
    if x.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(_pseudo_residuals(x, np.asarray(y)[order]))))


def _critical_z(
    weights: np.ndarray,
    position: np.ndarray,
    alpha: float,
    studentize: bool = True,
    n_sim: int = 2000,
) -> float:
    """Studentised simultaneous critical value for the moves of a smoothed noise curve.

    ``weights`` maps the path's errors to the smoothed curve. The value is the
    (1 - alpha) quantile over simulations of max_{i<j} |(W e)_i - (W e)_j| /
    (sigma(e) ||w_i - w_j||), e ~ N(0, I) along the path and sigma(e) its own
    noise estimate (:func:`_noise_sd`), so that pure noise makes a move that
    large anywhere on the curve with probability alpha (a max-t band). Without
    ``studentize`` (noise known from the spread between seeds) sigma(e) = 1.
    """
    k = weights.shape[0]
    iu = np.triu_indices(k, 1)
    diff = weights[iu[0]] - weights[iu[1]]
    norms = np.linalg.norm(diff, axis=1)
    keep = norms > 1e-12
    if not keep.any():
        return float("inf")
    # A fixed stream: the critical value is a property of the smoother, not of the data.
    noise = np.random.default_rng(_SIM_SEED).standard_normal((n_sim, weights.shape[1]))
    moves = np.abs(noise @ diff[keep].T) / norms[keep]
    if not studentize:
        return float(np.quantile(moves.max(axis=1), 1 - alpha))
    order = np.argsort(position, kind="stable")
    xs = position[order]
    distinct = np.concatenate([[True], np.diff(xs) > 0])
    sigma = 1.4826 * np.median(
        np.abs(_pseudo_residuals(xs[distinct], noise[:, order][:, distinct])), axis=1
    )
    return float(np.quantile(moves.max(axis=1) / np.maximum(sigma, 1e-300), 1 - alpha))


def _lowess_matrix(x: np.ndarray, frac: float) -> np.ndarray:
    """The LOWESS smoother matrix at sorted x (it is linear in y without robustness iterations)."""
    return _lowess_weights(np.asarray(x, float), frac)


def _smoother(x_path: np.ndarray, logged: bool, frac: float | None, y_fit: np.ndarray):
    """(curve x, W mapping path errors to the smoothed curve, the span used)."""
    ux, inverse = np.unique(x_path, return_inverse=True)
    # The curve averages ties in the measure: uy = A y along the path.
    A = np.zeros((ux.size, x_path.size))
    A[inverse, np.arange(x_path.size)] = 1.0
    A /= A.sum(axis=1, keepdims=True)
    xs = np.log10(ux) if logged else ux
    if frac is None:
        frac, _ = _choose_frac(xs, A @ y_fit)
    return ux, xs, A, _lowess_matrix(xs, frac) @ A, frac


def _paired_sd(per_seed: np.ndarray) -> np.ndarray:
    """Noise sd of one seed's value, from seed-paired differences of neighbours.

    ``per_seed`` is (..., seeds, points). Differences between neighbouring
    points within a seed cancel whatever the seed shares along the path; half
    their variance over seeds, the median over neighbours (robust to a real
    jump) rescaled by the median of a chi-square, estimates the variance.
    """
    from scipy.stats import chi2

    from .tau import _quiet_nan

    n_seeds = per_seed.shape[-2]
    d = np.diff(per_seed, axis=-1)
    dof = n_seeds - 1
    with _quiet_nan():  # a pair that fewer than two seeds reach has no variance
        var = np.nanvar(d, axis=-2, ddof=1) / 2
        return np.sqrt(np.nanmedian(var, axis=-1) / (chi2.ppf(0.5, dof) / dof))


@functools.lru_cache(maxsize=512)
def _path_z(position: tuple, n_seeds: int, alpha: float) -> float:
    """Critical value for a move between any two raw points of the path.

    The (1 - alpha) quantile over pure-noise simulations of the largest
    difference between two point means, in units of its estimated standard
    error (the seed-paired sd with several seeds, the pseudo-residual sd
    along ``position`` with one).
    """
    x = np.asarray(position, float)
    rng = np.random.default_rng(_SIM_SEED)
    noise = rng.standard_normal((_N_SIM, n_seeds, x.size))
    means = noise.mean(axis=1)
    spread = means.max(axis=1) - means.min(axis=1)
    if n_seeds > 1:
        sigma = _paired_sd(noise) / np.sqrt(n_seeds)
    else:
        xs, first = np.unique(x, return_index=True)
        sigma = 1.4826 * np.median(np.abs(_pseudo_residuals(xs, means[:, first])), axis=1)
    return float(np.quantile(spread / (np.sqrt(2) * np.maximum(sigma, 1e-300)), 1 - alpha))


def _lack_of_fit(xs: np.ndarray, smooth: np.ndarray, x_points: np.ndarray, y_points, scale):
    """RMS distance of the points from the smoothed curve, in units of ``scale``."""
    fitted = np.interp(x_points, xs, smooth)
    rms = float(np.sqrt(np.mean((np.asarray(y_points) - fitted) ** 2)))
    return rms / scale if scale > 0 else (0.0 if rms == 0 else float("inf"))
