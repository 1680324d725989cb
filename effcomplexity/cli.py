"""The ``effcomplexity`` command: a demo, and the double-descent sweeps.

::

    effcomplexity demo                      # a quick double-descent curve, explained
    effcomplexity list                      # the built-in sweeps
    effcomplexity sweep belkin_rff --out results.parquet --jobs 2
    effcomplexity sweep curth_trees --full --backend dask --scheduler tcp://host:8786
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import pandas as pd

__all__ = ["main"]

_DEMO_SWEEP = "belkin_rff"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effcomplexity",
        description=(
            "Measure how complex fitted models really are, and replay the classic "
            "double-descent experiments with effective parameters next to raw counts."
        ),
        epilog="Run 'effcomplexity COMMAND --help' for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="min-norm random-feature regressions on bundled MNIST: a double-descent curve",
        description=(
            "Fit minimum-norm least squares on random Fourier features of a bundled MNIST "
            "subset, across a feature grid through the number of training points, and print "
            "test error with the effective number of parameters on training (p_train) and "
            "test (p_test) inputs. Offline; under a minute on a laptop."
        ),
    )
    demo.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel processes")
    demo.add_argument("--quiet", action="store_true", help="hide the progress bar")

    commands.add_parser(
        "list",
        help="list the built-in sweeps",
        description="List the built-in double-descent sweeps with one line on each.",
    )

    sweep = commands.add_parser(
        "sweep",
        help="run a built-in sweep and save its results table",
        description=(
            "Run a built-in sweep (see 'effcomplexity list') at its quick size, or at the "
            "published size with --full, and print the rows along its composite parameter "
            "axis. With --out, every finished unit is saved at once and an interrupted run "
            "resumes where it stopped when started again with the same --out."
        ),
    )
    sweep.add_argument("name", metavar="NAME", help="sweep name, e.g. belkin_rff")
    sweep.add_argument(
        "--full",
        action="store_true",
        help="published size (MNIST sweeps then download full MNIST once and cache it)",
    )
    sweep.add_argument(
        "--out",
        metavar="PATH",
        help="results file (.parquet or .csv; parts and resume state go to PATH.parts/)",
    )
    sweep.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel processes")
    sweep.add_argument(
        "--backend",
        choices=("loky", "dask"),
        default="loky",
        help="local processes (loky) or a dask.distributed cluster (dask)",
    )
    sweep.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="dask scheduler address, e.g. tcp://127.0.0.1:8786 (implies --backend dask)",
    )
    sweep.add_argument("--overwrite", action="store_true", help="discard results already in --out")
    sweep.add_argument("--quiet", action="store_true", help="hide the progress bar")
    return parser


def _fmt_int(value) -> str:
    return f"{int(value):,}"


def _demo_text(table: pd.DataFrame) -> tuple[str, str, str]:
    """The header, the table and the interpretation of a belkin_rff run."""
    n = int(table["n_train"].iloc[0])
    m = int(table["n_test"].iloc[0])
    header = (
        "Double descent of minimum-norm least squares on random Fourier features\n"
        f"MNIST (bundled subset): {_fmt_int(n)} training and {_fmt_int(m)} test images, "
        "one-hot targets, one fit per feature count.\n"
        "p_train, p_test: effective number of parameters on training and test inputs "
        "(Curth et al. 2023)."
    )
    shown = table[["n_features", "train_error", "test_error", "p_train", "p_test"]].copy()
    body = shown.to_string(
        index=False,
        formatters={
            "n_features": _fmt_int,
            "train_error": "{:.3f}".format,
            "test_error": "{:.3f}".format,
            "p_train": "{:,.1f}".format,
            "p_test": "{:,.1f}".format,
        },
    )
    peak = table.loc[table["test_error"].idxmax()]
    interpolating = table[table["p_train"] >= n - 1e-6]
    last = table.iloc[-1]
    sentences = [
        f"Test error peaks at {_fmt_int(peak['n_features'])} features ({peak['test_error']:.1%})"
    ]
    if len(interpolating):
        first = interpolating.iloc[0]
        sentences[0] += (
            f", where the model first fits all {_fmt_int(n)} training points exactly "
            f"(p_train reaches n at {_fmt_int(first['n_features'])} features)."
        )
    else:
        sentences[0] += "."
    if last["n_features"] > peak["n_features"]:
        sentences.append(
            f"Past the peak the raw feature count grows "
            f"{last['n_features'] / peak['n_features']:.0f}-fold, yet p_test falls from "
            f"{peak['p_test']:,.0f} to {last['p_test']:,.0f} and test error falls to "
            f"{last['test_error']:.1%}: counted by effective parameters on test inputs, the "
            f"larger models are the simpler ones."
        )
    return header, body, " ".join(sentences)


def _demo(args) -> int:
    from . import sweeps

    table = sweeps.run(_DEMO_SWEEP, quick=True, n_jobs=args.jobs, verbose=0 if args.quiet else 1)
    header, body, text = _demo_text(table)
    print(header)
    print()
    print(body)
    print()
    print(text)
    return 0


def _list(args) -> int:
    from . import sweeps

    names = sweeps.available()
    width = max(len(name) for name in names)
    for name in names:
        spec = sweeps.get_spec(name)
        print(f"{name:<{width}}  {spec.description}")
    return 0


def _summary(table: pd.DataFrame, spec) -> str:
    """The rows along the composite axis (means over seeds), with the measures that read best."""
    on_path = table[table["axis"].notna()]
    error = "test_error" if table["test_error"].notna().any() else "test_mse"
    keys = ["axis", "n_params", *spec.order]
    shown = on_path.groupby(keys, sort=False)[[error, "p_train", "p_test"]].mean().reset_index()
    text = shown.to_string(
        index=False,
        formatters={
            error: "{:.4f}".format,
            "p_train": "{:,.1f}".format,
            "p_test": "{:,.1f}".format,
        },
    )
    n_seeds = table["seed"].nunique()
    return text if n_seeds == 1 else f"Means over {n_seeds} seeds:\n{text}"


def _sweep(args) -> int:
    from . import sweeps

    spec = sweeps.get_spec(args.name).sized(quick=not args.full)
    table = sweeps.run(
        spec,
        quick=False,
        out=args.out,
        n_jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        verbose=0 if args.quiet else 1,
        overwrite=args.overwrite,
    )
    print(f"{spec.name}: {len(table)} rows ({spec.description})")
    print()
    print(_summary(table, spec))
    if args.out:
        print()
        print(f"Results table: {sweeps.results_path(args.out)[0]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``effcomplexity`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 for a bad request (unknown sweep, bad option).
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if getattr(args, "scheduler", None) and args.backend != "dask":
        args.backend = "dask"
    commands = {"demo": _demo, "list": _list, "sweep": _sweep}
    try:
        return commands[args.command](args)
    except ValueError as exc:
        print(f"effcomplexity: error: {exc}", file=sys.stderr)
        return 2
