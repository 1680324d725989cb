"""Calibration of the verdict: how often :func:`illusion_test` names synthetic curves right.

Each case is a sweep table of known shape along a composite path (two raw
axes ``"A"`` then ``"B"``, or one axis ``"n_features"``), with the error
against a measure ``m``; noise draws add, per seed, a seed offset and
independent noise at every point (both of sd ``noise``) and 2% relative noise
to the measure. :func:`calibrate` gives the rate of every verdict over many
draws; :func:`markdown` writes the rates as a table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import draw_seed

__all__ = ["CASES", "calibrate", "markdown", "synthetic_table"]

_A = np.geomspace(2, 200, 8)
_T = np.linspace(-1.0, 1.0, 15)
# One descent then a rise to the switch, as along the first axis of a composite path.
_DIP = np.array([0.45, 0.38, 0.32, 0.30, 0.33, 0.38, 0.44, 0.50])
_FALL = np.array([0.40, 0.33, 0.27, 0.23, 0.21, 0.20, 0.20])

#: Case name -> (the right verdict, one line on what the curve is).
CASES = {
    "fold-back loop": (
        "folds back",
        "error dips then peaks at the switch along A (m rises), then falls along B while m falls",
    ),
    "double descent": (
        "double descent",
        "the same error, with m rising along both axes",
    ),
    "one-point spike": (
        "double descent",
        "error falls, one point 100 times its neighbours (in every seed), falls again",
    ),
    "U": ("single U", "0.2 + 0.5 t^2 over 15 points, m rising"),
    "L": ("monotone decreasing", "0.2 + 0.3 exp(-5 (t + 1)), m rising"),
    "monotone": ("monotone increasing", "0.2 + 0.15 (t + 1), m rising"),
    "flat noise": ("inconclusive", "error 0.3 along the loop's path (m rises, then falls)"),
}


def _mean_curve(case: str) -> dict:
    """Columns of the noiseless path of one case (axis, n_params, m, error, log noise)."""
    if case in ("fold-back loop", "double descent", "flat noise"):
        b = np.array([2, 4, 8, 16, 32, 64, 128])
        n_params = np.r_[_A, _A[-1] * b]
        falls = case != "double descent"
        m = np.r_[_A, _A[-1] * (b[::-1] / 256 if falls else b)]
        error = np.r_[_DIP, _FALL] if case != "flat noise" else np.full(15, 0.3)
        grid = {"A": np.r_[np.round(_A), [200] * 7], "B": np.r_[[1] * 8, b]}
        return {"axis": ["A"] * 8 + ["B"] * 7, "n_params": n_params, "m": m, "error": error, **grid}
    n_params = np.geomspace(10, 10000, 15)
    if case == "one-point spike":
        error = 0.8 - 0.3 * (_T + 1) / 2
        error[7] *= 100.0
    else:
        error = {
            "U": 0.2 + 0.5 * _T**2,
            "L": 0.2 + 0.3 * np.exp(-5 * (_T + 1)),
            "monotone": 0.2 + 0.15 * (_T + 1),
        }[case]
    return {
        "axis": ["n_features"] * 15,
        "n_params": n_params,
        "m": n_params,
        "error": error,
        "n_features": np.round(n_params),
    }


def synthetic_table(
    case: str, n_seeds: int, noise: float, rng: np.random.Generator
) -> pd.DataFrame:
    """One noise draw of a calibration case as a sweep table.

    Parameters
    ----------
    case : str
        A key of :data:`CASES`.
    n_seeds : int
        Seeds (replicates) in the table.
    noise : float
        Sd of the seed offset and of the independent noise at every point (the
        spike's errors get relative noise of ``noise / 0.3`` instead).
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        Columns ``seed``, ``axis``, ``n_params``, the raw axis, ``m`` and
        ``test_error``.

    Examples
    --------
    >>> import numpy as np
    >>> from effcomplexity.analysis import calibration
    >>> t = calibration.synthetic_table("U", 3, 0.01, np.random.default_rng(0))
    >>> t.shape, t["seed"].unique().tolist()
    ((45, 6), [0, 1, 2])
    """
    if case not in CASES:
        raise ValueError(f"Unknown case {case!r}; choose one of {list(CASES)}.")
    base = _mean_curve(case)
    k = len(base["error"])
    frames = []
    for seed in range(n_seeds):
        shift = noise * (rng.standard_normal() + rng.standard_normal(k))
        if case == "one-point spike":
            error = base["error"] * np.exp(shift / 0.3)
        else:
            error = base["error"] + shift
        frame = pd.DataFrame(
            {
                "seed": seed,
                "axis": base["axis"],
                "n_params": np.round(base["n_params"]).astype(int),
                "m": base["m"] * (1 + 0.02 * rng.standard_normal(k)),
                "test_error": error,
            }
        )
        for axis in dict.fromkeys(base["axis"]):
            frame[axis] = base[axis].astype(int)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def calibrate(
    n_draws: int = 100,
    seeds: Sequence[int] = (1, 3, 5),
    noises: Sequence[float] = (0.01, 0.03),
    cases: Sequence[str] | None = None,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Rate of every verdict over noise draws of the calibration cases.

    Parameters
    ----------
    n_draws : int
        Noise draws per case, seed count and noise level.
    seeds : sequence of int
        Seed counts.
    noises : sequence of float
        Noise levels (see :func:`synthetic_table`).
    cases : sequence of str, optional
        Keys of :data:`CASES` (default: all).
    random_state : int, RandomState, Generator or None, default=0
        Seed of the draws (see :ref:`random-state`).
    n_jobs : int, optional
        Processes (joblib; -1: every core) over the cases and settings; the
        rates do not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per case, seed count and noise level: ``case``, ``expected``,
        ``n_seeds``, ``noise``, ``n_draws``, one column per verdict of
        :data:`~effcomplexity.analysis.VERDICTS` (its share of the draws) and
        ``right`` (the share of the expected verdict).
    """
    from joblib import Parallel, delayed

    settings = [
        (case, n_seeds, noise)
        for case in cases or list(CASES)
        for n_seeds in seeds
        for noise in noises
    ]
    seed = draw_seed(random_state)
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_rates)(case, n_seeds, noise, n_draws, seed) for case, n_seeds, noise in settings
    )
    return pd.DataFrame(rows)


def _rates(case: str, n_seeds: int, noise: float, n_draws: int, random_state: int) -> dict:
    """Verdict shares of one case at one seed count and noise level."""
    from .verdict import VERDICTS, illusion_test

    expected = CASES[case][0]
    # Each setting draws from its own stream: the rates do not depend on the order or n_jobs.
    rng = np.random.default_rng([random_state, n_seeds, int(noise * 1e6), list(CASES).index(case)])
    verdicts = [
        illusion_test(
            synthetic_table(case, n_seeds, noise, rng), measures=["m"], gap=None, n_perm=0
        )["verdict"].iloc[0]
        for _ in range(n_draws)
    ]
    share = pd.Series(verdicts).value_counts() / n_draws
    row = {"case": case, "expected": expected, "n_seeds": n_seeds, "noise": noise}
    row["n_draws"] = n_draws
    row.update({v: float(share.get(v, 0.0)) for v in VERDICTS})
    row["right"] = row[expected]
    return row


def markdown(rates: pd.DataFrame) -> str:
    """The rates of :func:`calibrate` as a markdown table (percent, empty for zero)."""
    from .verdict import VERDICTS

    head = ["case", "expected", "seeds", "noise", "draws", *VERDICTS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in rates.iterrows():
        cells = [r["case"], r["expected"], str(r["n_seeds"]), f"{r['noise']:g}"]
        cells.append(str(r["n_draws"]))
        cells += [f"{100 * r[v]:.0f}%" if r[v] > 0 else "" for v in VERDICTS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
