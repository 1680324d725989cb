"""The verdict: :func:`illusion_test`."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import draw_seed
from ..sweeps import table as _table
from .curve import MIN_POINTS
from .grid import _paired
from .group import _one_group

logger = logging.getLogger(__name__)

VERDICTS = (
    "double descent",
    "folds back",
    "single U",
    "monotone decreasing",
    "monotone increasing",
    "no single curve",
    "inconclusive",
)


def _check_real(value, name, low=None, high=None, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if (low is not None and value <= low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in ({low}, {high}], got {value!r}.")


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def illusion_test(
    df: pd.DataFrame,
    error: str = "test_error",
    measures: Sequence[str] = ("n_params", "p_train", "p_test"),
    by: str | Sequence[str] | None = None,
    *,
    gap: str | None = "auto",
    frac: float | None = None,
    tol: float | None = None,
    z: float | None = None,
    alpha: float = 0.05,
    n_boot: int = 1000,
    n_perm: int = 999,
    level: float = 0.9,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
) -> pd.DataFrame:
    r"""Does the double descent survive a change of complexity measure?

    For each measure (and each group of ``by``), the test error of the
    composite path is read as a curve against the measure and described by
    the statistics below; a plain-words ``verdict`` summarises them.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table (:func:`effcomplexity.sweeps.run`): one row per seed and
        grid point, with ``seed``, ``axis``, ``n_params``, the raw axes, the
        error column and the measures.
    error : str
        Error column, e.g. ``"test_error"`` (0-1) or ``"test_mse"``.
    measures : sequence of str
        Complexity measures to put on the x-axis.
    by : str or sequence of str, optional
        Columns to group by (e.g. ``"sweep"``); one result row per group and
        measure.
    gap : str, "auto" or None
        Train-error column of the generalization gap ``error - gap``; "auto"
        pairs ``test_*`` with ``train_*``; None skips the gap statistics.
    frac : float, optional
        LOWESS span (fraction of points). Default: chosen by leave-one-out
        cross-validation over spans of 3 to all points (see Notes).
    tol : float, optional
        A fixed smallest rise or fall counted as a move of the smoothed curve
        (and of the error along the path), in place of the data-driven
        thresholds.
    z : float, optional
        A move of the smoothed curve counts when it exceeds ``z`` standard
        errors of the difference of the two smoothed values (see Notes).
        Default: the simultaneous critical value at level ``alpha``.
    alpha : float
        Chance that pure noise makes one spurious move anywhere on the curve
        (sets the default ``z``).
    n_boot : int
        Bootstrap replicates over seeds (used when there are several seeds);
        when the seeds have at most ``n_boot`` distinct resamples (up to 6
        seeds at the default), every one is used with its multinomial weight.
    n_perm : int
        Permutations for the p-value of the granulated tau.
    level : float
        Coverage of the bootstrap intervals, and the share of replicates that
        must agree before a verdict is stated.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the bootstrap and the permutations (see :ref:`random-state`);
        the default makes two identical calls return identical numbers.

    Returns
    -------
    pandas.DataFrame
        One row per group and measure, with the ``by`` columns and:

        * ``measure``, ``error``, ``n_points`` (path points), ``n_grid`` (grid
          points), ``n_seeds``;
        * ``verdict`` (one of :data:`VERDICTS`) and ``evidence`` (one
          sentence why); ``n_descents``: the descents behind the verdict;
          ``pooled_shape``: the shape of the pooled smooth alone;
          ``n_rising_descents``, ``n_fold_descents``: significant falls of
          the error along the path while the measure rises, and while it
          falls (see :func:`segments`); ``lack_of_fit``: root-mean-square
          distance of the path points from the pooled smooth, in units of
          the noise scale (at least the noise floor);
        * ``peak_measure``, ``peak_n_params``: the highest interior peak;
          ``peak_location``: "interpolation threshold" (first path point with
          ``p_train`` = n or zero train error), "axis switch" (last point of
          the first axis), both, "elsewhere", "no peak", or "unknown" where
          the table records neither ``p_train`` with ``n_train``, nor a
          train MSE or train error (the threshold cannot be located);
          ``peak_steps_from_threshold``, ``peak_steps_from_switch``;
        * ``fold_back``: share of steps along the later axis of the path
          (from the switch on) in which the measure decreases;
          ``fold_back_grid``: the same off the path (product grids);
        * ``tau_error``, ``tau_error_p``, ``tau_gap``, ``tau_gap_p``: Kendall
          tau-b (scipy) of the measure with the error and with the
          generalization gap over every grid point;
          ``granulated_tau_error``, ``granulated_tau_gap`` with permutation
          p-values (``*_p``): Jiang et al.'s granulated tau over the raw axes;
        * ``u_r2``: R² of the best single valley (isotonic decreasing then
          increasing) over the grid; ``quad_r2``, ``quad_curvature``: the
          quadratic in the (log) measure fitted by OLS;
        * ``frac``, ``noise_sd``, ``z``, ``log_x``, ``log_error``: the
          smoothing and the noise threshold used;
        * ``*_lo``, ``*_hi``: bootstrap intervals over seeds,
          ``verdict_support`` (share of replicates with the same verdict) and
          ``uncertainty`` (what the intervals are, or that there is one seed).

    Raises
    ------
    ValueError
        If a required column is missing, the error or a measure has missing,
        infinite or non-numeric values, a seed has two rows at one grid point
        (see :func:`effcomplexity.sweeps.table.check_table`), or a curve has
        fewer than :data:`MIN_POINTS` distinct measure values.

    See Also
    --------
    effcomplexity.analysis.segments : The path read piece by piece.
    effcomplexity.analysis.composite_path : The rows the curve is read from.
    effcomplexity.analysis.granulated_tau : Jiang et al.'s rank agreement over raw axes.
    effcomplexity.plotting.verdict_grid : One panel per measure, titled with its verdict.
    effcomplexity.plotting.back_to_u : Error against one measure, segment by segment.

    Notes
    -----
    The curve is the composite path (rows with an ``axis``; see
    :func:`composite_path`), averaged over seeds, sorted by the measure, with
    ties averaged; groups without a path use all their grid points. It is
    smoothed by LOWESS (local linear, no robustness iterations, so that a
    real peak is not down-weighted as an outlier) on :math:`\log_{10}` of the
    measure when it is positive and spans a factor 10 or more. The span holds
    :math:`r` of the :math:`k` points, with :math:`r \in \{3, \dots, k\}`
    minimising the leave-one-out error at the interior points.

    The noise scale :math:`\hat\sigma` of the error is read along the path
    (against :math:`\log_{10}` ``n_params``, where the error is a function of
    the position even when the measure folds back; in a table at one model
    size, such as an epoch-wise one, along its one varying raw axis, e.g.
    ``step``): 1.4826 times the median
    absolute pseudo-residual of Gasser, Sroka and Jennen-Steinmetz (1986),
    and at least the median standard error over seeds. LOWESS without
    robustness iterations is a linear smoother, :math:`\hat s = W y`, so a
    move between smoothed points :math:`i` and :math:`j` has standard error
    :math:`\hat\sigma \lVert w_i - w_j \rVert`; a *move* of the smoothed
    curve is a rise or fall between turning points larger than ``z`` such
    standard errors (and than 1% of the median error), with ``z`` by default
    the simultaneous critical value at which pure noise makes a move that
    large anywhere on the curve with probability ``alpha`` (the 1 - ``alpha``
    quantile of the largest standardised pairwise move of :math:`W e`,
    :math:`e \sim N(0, I)`, by simulation); a descent is a falling
    move. Two or more descents: "double descent"; one followed by a rise:
    "single U"; one alone: "monotone decreasing"; only a rise: "monotone
    increasing"; no move, or a rise then a fall: "inconclusive". An error
    spanning a factor 100 or more (the MSE at a min-norm threshold) is read
    on a :math:`\log_{10}` scale.

    The pooled smooth assumes the error is a function of the measure. The
    path is therefore also read in its own order, piece by piece
    (:func:`segments`): each raw axis, cut where the measure turns by more
    than its noise (and 1% of its median). Moves of the unsmoothed error
    count when larger than a simultaneous critical value (level 0.01) times
    the noise of a difference of two points (from seed-paired differences of
    neighbours when there are seeds, which cancel what a seed shares along
    the path; from pseudo-residuals with one seed) and than the noise
    floor. The verdict is then, in order: "folds back" when the error falls
    beyond noise while the measure falls (the curve against the measure
    turns back on itself, Curth et al.'s signature); "double descent" when
    the measure never falls and the error makes two descents while it rises,
    separated by a rise beyond noise (a fall on each axis with none between is
    one long descent),
    or shows a one-point spike (a point above both neighbours beyond noise
    and, on the error's own scale, beyond the noise floor, after a fall
    beyond the floor; a peak in every seed, so the seed-paired noise stays
    small); "no single curve" when the measure falls or stalls
    somewhere and the path points lie further than ``LACK_OF_FIT_MAX`` (3)
    noise units from the pooled smooth (no pooled shape is claimed: the
    error is not one function of the measure); otherwise the pooled shape.
    The rates at which synthetic curves get each verdict are in
    :mod:`effcomplexity.analysis.calibration` and the documentation.

    With several seeds, each statistic gets a percentile interval from
    ``n_boot`` resamples of the seeds (with replacement), the span, the
    critical value and the noise scale held fixed (the noise scale times
    :math:`\sqrt 2`: a replicate's means carry the sampling noise twice, and
    so does the path threshold); a
    verdict that fewer than ``level`` of the
    replicates reach is replaced by "inconclusive".

    References
    ----------
    A. Curth, A. Jeffares, M. van der Schaar. A U-turn on double descent:
    rethinking parameter counting in statistical learning. NeurIPS 2023.
    Y. Jiang et al. Fantastic generalization measures and where to find them.
    ICLR 2020. W. S. Cleveland. Robust locally weighted regression and
    smoothing scatterplots. JASA 74, 1979. T. Gasser, L. Sroka, C.
    Jennen-Steinmetz. Residual variance and residual pattern in nonlinear
    regression. Biometrika 73, 1986.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from effcomplexity.analysis import illusion_test
    >>> n = np.array([10, 20, 40, 80, 160, 320, 640, 1280, 2560])
    >>> err = np.array([0.50, 0.40, 0.35, 0.45, 0.60, 0.40, 0.30, 0.25, 0.22])
    >>> t = pd.concat([pd.DataFrame({"seed": s, "axis": "n_features", "n_features": n,
    ...                              "n_params": n, "test_error": err + d})
    ...                for s, d in enumerate([-0.01, 0.0, 0.01])])
    >>> illusion_test(t, measures=["n_params"])[["measure", "n_descents", "verdict"]]
        measure  n_descents         verdict
    0  n_params           2  double descent
    """
    measures = [measures] if isinstance(measures, str) else list(measures)
    if not measures:
        raise ValueError("measures must name at least one column.")
    by_cols = [] if by is None else [by] if isinstance(by, str) else list(by)
    _table.check_table(df, [error, *measures], by_cols)
    _check_real(frac, "frac", 0.0, 1.0)
    _check_real(tol, "tol", 0.0, None)
    _check_real(z, "z", 0.0, None)
    _check_real(alpha, "alpha", 0.0, 1.0)
    _check_real(level, "level", 0.0, 1.0)
    if level == 1.0:
        raise ValueError("level must be below 1.")
    _check_count(n_boot, "n_boot", 1)
    _check_count(n_perm, "n_perm", 0)
    if len(df) < MIN_POINTS:
        raise ValueError(
            f"illusion_test needs a sweep table with at least {MIN_POINTS} rows; got {len(df)}."
        )
    if gap == "auto":
        train = _paired(error)
        gap_cols = (error, train) if train is not None and train in df.columns else None
    elif gap is None:
        gap_cols = None
    else:
        _table.check_table(df, [gap], complete=[])
        gap_cols = (error, gap)
    train_error = _paired(error)
    if train_error is not None and train_error not in df.columns:
        train_error = None
    if gap_cols is not None and df[gap_cols[1]].isna().any():
        logger.info("Gap column %r has missing values; gap statistics skipped.", gap_cols[1])
        gap_cols = None
    rng = np.random.default_rng(draw_seed(random_state))
    options = {
        "frac": frac,
        "tol": tol,
        "z": z,
        "alpha": alpha,
        "n_boot": n_boot,
        "n_perm": n_perm,
        "level": level,
    }
    groups = df.groupby(by_cols, sort=False, dropna=False) if by_cols else [((), df)]
    rows = []
    for key, table in groups:
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip(by_cols, key, strict=True))
        where = ", ".join(f"{k}={v!r}" for k, v in labels.items())
        where = f" in group {where}" if where else ""
        for measure in measures:
            row = _one_group(table, measure, error, gap_cols, train_error, options, rng, where)
            rows.append({**labels, **row})
    return pd.DataFrame(rows)
