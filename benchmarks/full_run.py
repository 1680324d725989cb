"""Run sweeps at full size into the committed store ``paper/runs/full/``, unit by unit.

Each finished unit is written at once (atomically) as a part that records the
package version, the spec fingerprint and the git commit that computed it, so
killing the run loses at most the units in flight; running the same command
again, at the same or a later commit, continues where it stopped. By default it
runs Curth et al.'s sweeps at their published size::

    python benchmarks/full_run.py
    python benchmarks/full_run.py --only curth_trees_published,curth_boosting_published
    python benchmarks/full_run.py --jobs 2
    python benchmarks/full_run.py --scheduler tcp://HOST:8786

``--only`` takes library sweep names (``effcomplexity list``). Progress goes to
stderr and to ``paper/runs/full/full_run.log``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _paper  # noqa: E402

from effcomplexity import sweeps  # noqa: E402

PUBLISHED = ("curth_trees_published", "curth_boosting_published", "curth_rff_published")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        default=",".join(PUBLISHED),
        help="comma-separated library sweep names (default: the published-size sweeps)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="local processes per sweep")
    parser.add_argument("--scheduler", default=None, help="dask scheduler address")
    parser.add_argument(
        "--store",
        type=Path,
        default=_paper.FULL_RUNS,
        help=f"the store folder (default: {_paper.FULL_RUNS.relative_to(_paper.ROOT)})",
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(sweeps.available()))
    if unknown:
        parser.error(f"unknown sweeps {unknown}; choose from: {', '.join(sweeps.available())}")

    _paper.FULL_RUNS = args.store.resolve()
    _paper.FULL_RUNS.mkdir(parents=True, exist_ok=True)
    handlers = [
        logging.StreamHandler(sys.stderr),
        logging.FileHandler(_paper.FULL_RUNS / "full_run.log"),
    ]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", handlers=handlers
    )
    log = logging.getLogger("full_run")
    _paper.SETTINGS.update(scheduler=args.scheduler, n_jobs=args.jobs)
    for name in names:
        spec = sweeps.get_spec(name)
        n_units = len(sweeps.plan(spec.sized(quick=False)))
        log.info("%s: %d units, commit %s", name, n_units, _paper.git_commit())
        start = time.perf_counter()
        table = _paper.run_sweep(spec, full=True, verbose=1)
        log.info("%s: done, %d rows, %.0f s", name, len(table), time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
