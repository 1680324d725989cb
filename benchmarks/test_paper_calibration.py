"""Calibration of the verdict: the rate of every verdict on synthetic curves of known shape.

Seven cases (a fold-back loop, a double descent in a rising measure, a
one-point spike, a U, an L, a monotone rise and flat noise; see
:mod:`effcomplexity.analysis.calibration`), 100 noise draws each, at 1, 3 and 5
seeds and noise levels 0.01 and 0.03 (errors near 0.3). Writes
``paper/tables/verdict_calibration.md`` (included by the documentation) and
checks the published targets: the right verdict in at least 90% of draws at
the lower noise with 3 seeds, and flat noise called a double descent or a
fold-back in at most 5% of draws, at every setting.
"""

from __future__ import annotations

import logging
import time

from _paper import write_table

from effcomplexity.analysis import calibration

N_DRAWS = 100


def test_verdict_calibration():
    start = time.perf_counter()
    rates = calibration.calibrate(n_draws=N_DRAWS, n_jobs=-1)
    seconds = time.perf_counter() - start
    write_table("verdict_calibration", calibration.markdown(rates))
    low = rates[(rates["n_seeds"] == 3) & (rates["noise"] == rates["noise"].min())]
    assert (low["right"] >= 0.9).all(), low[["case", "right"]]
    flat = rates[rates["case"] == "flat noise"]
    assert ((flat["double descent"] + flat["folds back"]) <= 0.05).all(), flat
    logging.getLogger(__name__).info("calibration: %d settings in %.0f s", len(rates), seconds)
