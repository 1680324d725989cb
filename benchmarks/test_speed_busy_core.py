"""Staged boosting and forest measures with another process busy on one core.

Users measure models on machines that are doing other work. Here a second
process spins in pure Python for the whole benchmark, holding one core, while
the package computes the exact ``p_train`` and ``p_test`` of every stage of

* boosting: Curth et al.'s ``GradientBoostingRegressor(max_leaf_nodes=10,
  learning_rate=0.85, max_features="sqrt", init="zero")`` with 200 rounds on
  the bundled MNIST subset, class 0 one-vs-rest (+-0.5), ``m = n / 2`` test
  images (the set-up of ``test_speed_boosting.py``), against the published
  algorithm's last round (``_published_last_round`` there);
* forests: ``RandomForestRegressor(n_estimators=100, max_features="sqrt",
  bootstrap=False)`` grown to full depth on one-hot targets (the set-up of
  ``test_speed_trees.py``), every number of trees, against the published
  algorithm's p_train and p_test of the whole forest (``published_p_hat``
  there).

Every repeat fits the model, runs the reference and runs the package in the
same process, one after the other, with the libraries' default thread
settings (the package sets its own BLAS threads where threads do not pay).
In every repeat from n = 1,000 on the package must be at least 10 times
faster than the reference and take at most 1.5 times the fit, in process CPU
time, and agree with the reference to 1e-10. CPU time counts every thread of
the process, so BLAS threads spinning while they wait for a descheduled
peer (the failure this guards against: 2.6 s of CPU for 0.5 s of work) show
in it, while the scheduling of other processes on a shared machine does not;
a package call of 50 ms can wait several time slices for a core. Wall-clock
times and their ratios are recorded beside it. Quick: n = 1,000 and 1,500, three repeats;
``--full``: n = 1,000, 1,500, 2,000 and 4,000, five repeats. Results (every
repeat, and the smallest and largest ratio over the repeats at each n) go to
``results/speed_busy_core.json``, with the cause measured on the same busy
machine: LAPACK's triangular inversion of the booster's leaf system on two
BLAS threads against one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings

import numpy as np
import pytest
from conftest import record
from scipy.linalg import lapack
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from test_speed_boosting import _mnist_one_vs_rest, _published_last_round
from test_speed_trees import balanced_mnist, published_p_hat
from threadpoolctl import threadpool_limits

import effcomplexity as ec
from effcomplexity.smoothers import get_smoother

RESULTS_FILE = "speed_busy_core.json"
SIZES_FULL, REPEATS_FULL = (1000, 1500, 2000, 4000), 5
SIZES_QUICK, REPEATS_QUICK = (1000, 1500), 3
MIN_SPEEDUP = 10.0
MAX_OVER_FIT = 1.5
TOLERANCE = 1e-10

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)


def _spin(stop) -> None:
    """Keep one core busy in pure Python until ``stop`` is set."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@pytest.fixture(scope="module")
def busy_core():
    """A process spinning on one core for the duration of the module."""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    process = context.Process(target=_spin, args=(stop,), daemon=True)
    process.start()
    time.sleep(0.5)
    yield process.pid
    stop.set()
    process.join(timeout=10)


def _timed(function):
    """Wall and process CPU seconds of one call, and its result."""
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - start_wall, time.process_time() - start_cpu, result


def _staged_pair(model, X_train, X_test):
    """Exact staged p_train and p_test of every stage through one bound smoother."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ec.UnverifiedTrainingDataWarning)
        smoother = get_smoother(model, X_train)
    p_train = ec.staged_effective_parameters(smoother, X_train, method="exact")
    p_test = ec.staged_effective_parameters(smoother, X_train, X_test, method="exact")
    return p_train, p_test


def _boosting_repeat(n: int) -> dict:
    X_train, y_train, X_test = _mnist_one_vs_rest(n // 10, n // 20)

    def fit():
        return GradientBoostingRegressor(
            n_estimators=200,
            max_leaf_nodes=10,
            learning_rate=0.85,
            max_features="sqrt",
            init="zero",
            random_state=0,
        ).fit(X_train, y_train)

    fit_s, fit_cpu, model = _timed(fit)
    ref_s, ref_cpu, (ref_train, ref_test) = _timed(
        lambda: _published_last_round(model, X_train, X_test)
    )
    pkg_s, pkg_cpu, (p_train, p_test) = _timed(lambda: _staged_pair(model, X_train, X_test))
    gap = max(abs(p_train[-1] - ref_train), abs(p_test[-1] - ref_test)) / max(1.0, ref_train)
    return _repeat_record(fit_s, fit_cpu, ref_s, ref_cpu, pkg_s, pkg_cpu, gap, len(p_train))


def _forest_repeat(n: int) -> dict:
    X_train, Y_train, X_test = balanced_mnist(n, n // 2)

    def fit():
        return RandomForestRegressor(
            n_estimators=100, max_features="sqrt", bootstrap=False, random_state=0
        ).fit(X_train, Y_train)

    fit_s, fit_cpu, model = _timed(fit)
    ref_s, ref_cpu, (ref_train, ref_test) = _timed(lambda: published_p_hat(model, X_train, X_test))
    pkg_s, pkg_cpu, (p_train, p_test) = _timed(lambda: _staged_pair(model, X_train, X_test))
    gap = max(abs(p_train[-1] - ref_train), abs(p_test[-1] - ref_test)) / max(1.0, ref_train)
    return _repeat_record(fit_s, fit_cpu, ref_s, ref_cpu, pkg_s, pkg_cpu, gap, len(p_train))


def _repeat_record(fit_s, fit_cpu, ref_s, ref_cpu, pkg_s, pkg_cpu, gap, n_stages) -> dict:
    return {
        "fit_wall_s": fit_s,
        "reference_wall_s": ref_s,
        "package_wall_s": pkg_s,
        "fit_cpu_s": fit_cpu,
        "reference_cpu_s": ref_cpu,
        "package_cpu_s": pkg_cpu,
        "speedup": ref_s / pkg_s,
        "package_over_fit": pkg_s / fit_s,
        "rel_diff_last_stage": float(gap),
        "n_stages": int(n_stages),
    }


def _cause(n: int) -> dict:
    """LAPACK ``dtrtri`` of the booster's leaf system on two BLAS threads against one.

    The leaf-factor engine inverts one unit lower-triangular matrix of the
    size of all leaves of all rounds; here a random one of that size, three
    times each way, alternating.
    """
    n_leaves = 200 * 10
    rng = np.random.default_rng(0)
    T = np.tril(rng.normal(size=(n_leaves, n_leaves)) * 0.01, k=-1) + np.eye(n_leaves)
    times = {"two_threads_wall_s": [], "one_thread_wall_s": []}
    for _ in range(3):
        for key, threads in (("two_threads_wall_s", 2), ("one_thread_wall_s", 1)):
            with threadpool_limits(limits=threads, user_api="blas"):
                start = time.perf_counter()
                lapack.dtrtri(T.T, lower=0, unitdiag=1)
                times[key].append(time.perf_counter() - start)
    return {"triangular_size": n_leaves, **times}


def _summary(family: str, n: int, repeats: list[dict], mode: str) -> dict:
    speedups = [r["speedup"] for r in repeats]
    over_fit = [r["package_over_fit"] for r in repeats]
    return {
        "family": family,
        "mode": mode,
        "n_train": n,
        "n_test": n // 2,
        "repeats": repeats,
        "speedup_min": min(speedups),
        "speedup_max": max(speedups),
        "package_over_fit_min": min(over_fit),
        "package_over_fit_max": max(over_fit),
        "speedup_cpu_min": min(r["reference_cpu_s"] / r["package_cpu_s"] for r in repeats),
        "speedup_cpu_max": max(r["reference_cpu_s"] / r["package_cpu_s"] for r in repeats),
        "package_over_fit_cpu_min": min(r["package_cpu_s"] / r["fit_cpu_s"] for r in repeats),
        "package_over_fit_cpu_max": max(r["package_cpu_s"] / r["fit_cpu_s"] for r in repeats),
        "package_wall_s_min": min(r["package_wall_s"] for r in repeats),
        "package_wall_s_max": max(r["package_wall_s"] for r in repeats),
        # Other work on the machine beyond the busy process, for reading the wall times.
        "load_average_1min_after": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
    }


@pytest.mark.parametrize(
    ("family", "repeat"), [("boosting", _boosting_repeat), ("forest", _forest_repeat)]
)
def test_staged_measures_with_a_busy_core(full, busy_core, family, repeat):
    sizes, n_repeats = (SIZES_FULL, REPEATS_FULL) if full else (SIZES_QUICK, REPEATS_QUICK)
    mode = "full" if full else "quick"
    summaries = []
    for n in sizes:
        summary = _summary(family, n, [repeat(n) for _ in range(n_repeats)], mode)
        summary["busy_process"] = "one process spinning in pure Python (multiprocessing, fork)"
        record(RESULTS_FILE, f"{family}_n{n}", summary)
        summaries.append(summary)
    if family == "boosting":
        record(RESULTS_FILE, "cause_dtrtri_busy_core", _cause(max(sizes)))
    for s in summaries:
        for i, r in enumerate(s["repeats"]):
            where = f"{family}, n={s['n_train']}, repeat {i}"
            speedup = r["reference_cpu_s"] / r["package_cpu_s"]
            over_fit = r["package_cpu_s"] / r["fit_cpu_s"]
            assert r["rel_diff_last_stage"] <= TOLERANCE, (where, r)
            assert speedup >= MIN_SPEEDUP, (
                f"{where}: {speedup:.1f}x the reference in CPU time (need {MIN_SPEEDUP:.0f}x)",
                r,
            )
            assert over_fit <= MAX_OVER_FIT, (
                f"{where}: {over_fit:.2f} times the fit in CPU time (need <= {MAX_OVER_FIT})",
                r,
            )
