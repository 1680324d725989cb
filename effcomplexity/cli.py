"""The ``effcomplexity`` command: a demo, the double-descent sweeps, and their verdict.

::

    effcomplexity demo                      # double descent, and what it becomes against p_test
    effcomplexity list                      # the built-in sweeps
    effcomplexity sweep belkin_rff --out results.parquet --jobs 2
    effcomplexity sweep curth_trees --full --backend dask --scheduler tcp://host:8786
    effcomplexity analyze results.parquet --error test_mse
    effcomplexity analyze results.parquet --error test_mse --format csv > verdicts.csv
    effcomplexity plot results.parquet --kind back-to-u --out back_to_u.png
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]

_DEMO_SWEEPS = ("curth_trees", "belkin_rff")
#: The error each demo sweep is judged on: Curth et al. report the MSE of their one-hot
#: regressions, Belkin et al. the 0-1 error of random-feature classifiers.
_DEMO_ERRORS = {"curth_trees": "test_mse", "belkin_rff": "test_error"}
_DEMO_SEEDS = (0, 1, 2)
_PLOT_KINDS = ("composite", "decomposed", "measures", "back-to-u", "grid")
#: How ``list`` and ``analyze`` write their result to stdout: for a person, or for a pipe.
_FORMATS = ("table", "csv", "json")
_FORMAT_HELP = (
    "table for reading (default), or csv or json (a list of records) to pipe into other "
    "tools; messages and warnings go to stderr"
)
#: The flag of each argument of ``sweeps.run`` the command line sets, so that its messages
#: name what the user typed (``--overwrite``, not ``overwrite=True``).
_RUN_FLAGS = {
    "out": "--out",
    "overwrite": "--overwrite",
    "n_jobs": "--jobs",
    "scheduler": "--scheduler",
    "backend": "--backend",
}
#: Columns analyze and plot need in any sweep table (see analysis.illusion_test).
_TABLE_COLUMNS = ("seed", "axis", "n_params")


class _UsageError(Exception):
    """A request the command line refuses before reading any file: exit status 2."""


def _n_jobs(text: str) -> int:
    """``--jobs``: a positive integer, or -1 for every core."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer (or -1 for every core), got {value}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="effcomplexity",
        description=(
            "Measure how complex fitted models really are, and replay the classic "
            "double-descent experiments with effective parameters next to raw counts."
        ),
        epilog=(
            "Run 'effcomplexity COMMAND --help' for the options of a command. Exit status: "
            "0 on success, 1 when a file, the data or the run fails, 2 for a usage error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="double descent on bundled MNIST, and whether it survives against p_test",
        description=(
            "Run two quick double-descent sweeps on a bundled MNIST subset (random forests "
            "along P_leaf then P_ens, as Curth et al.; min-norm random-feature regression, as "
            "Belkin et al.), three seeds each, and print the illusion test's verdict: double "
            "descent against the raw parameter count, and what it becomes against the "
            "effective number of parameters on test inputs (p_test). Writes a summary figure. "
            "Offline; about a minute on 2 cores."
        ),
        epilog="example: effcomplexity demo --out demo_results --jobs 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--jobs", type=_n_jobs, default=1, metavar="N", help="parallel processes (-1: every core)"
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        default="effcomplexity_results",
        help="folder for the sweep tables and the summary figure (default: %(default)s)",
    )
    demo.add_argument("--quiet", action="store_true", help="hide the progress bars")

    listing = commands.add_parser(
        "list",
        help="list the built-in sweeps",
        description="List the built-in double-descent sweeps with one line on each.",
        epilog="examples:\n  effcomplexity list\n  effcomplexity list --format csv | cut -d, -f1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--format", choices=_FORMATS, default="table", help=_FORMAT_HELP)

    sweep = commands.add_parser(
        "sweep",
        help="run a built-in sweep and save its results table",
        description=(
            "Run a built-in sweep (see 'effcomplexity list') at its quick size, or at the "
            "published size with --full, and print the rows along its composite parameter "
            "axis. With --out, every finished unit is saved at once and an interrupted run "
            "resumes where it stopped when started again with the same --out."
        ),
        epilog=(
            "examples:\n  effcomplexity sweep belkin_rff --out belkin.csv --jobs 2\n"
            "  effcomplexity sweep curth_trees --scheduler tcp://127.0.0.1:8786"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="results file (.parquet or .csv; resume state goes to PATH.parts/ while the "
        "sweep runs, PATH.manifest.json records the finished one)",
    )
    sweep.add_argument(
        "--jobs", type=_n_jobs, default=1, metavar="N", help="parallel processes (-1: every core)"
    )
    sweep.add_argument(
        "--backend",
        choices=("loky", "dask"),
        default="loky",
        help="local processes (loky) or a dask.distributed cluster (dask)",
    )
    sweep.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="dask scheduler address, e.g. tcp://127.0.0.1:8786 (implies --backend dask; "
        "gives up after dask's connect timeout, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT)",
    )
    sweep.add_argument(
        "--overwrite",
        action="store_true",
        help="discard results already in --out (a file that is not a results table is "
        "never replaced)",
    )
    sweep.add_argument("--quiet", action="store_true", help="hide the progress bar")

    analyze = commands.add_parser(
        "analyze",
        help="print the illusion test's verdict table for a saved sweep table",
        description=(
            "Read a sweep table (CSV or Parquet, as 'effcomplexity sweep --out' writes it) and "
            "print, for each complexity measure, whether test error against it shows a "
            "double descent, folds back (falls while the measure falls), a single U, a "
            "monotone curve or no single curve, with the statistics behind the verdict "
            "(see effcomplexity.analysis.illusion_test)."
        ),
        epilog=(
            "example:\n  effcomplexity sweep curth_trees --out trees.csv\n"
            "  effcomplexity analyze trees.csv --error test_mse --measures n_params p_test\n"
            "  effcomplexity analyze trees.csv --error test_mse --format json > verdicts.json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("results", metavar="RESULTS", help="sweep table (.csv or .parquet)")
    analyze.add_argument("--error", default="test_error", metavar="COL", help="error column")
    analyze.add_argument(
        "--measures",
        nargs="+",
        default=["n_params", "p_train", "p_test"],
        metavar="COL",
        help="measure columns (default: n_params p_train p_test)",
    )
    analyze.add_argument("--by", nargs="+", metavar="COL", help="columns to group by")
    analyze.add_argument("--csv", metavar="PATH", help="also write the full verdict table here")
    analyze.add_argument(
        "--format",
        choices=_FORMATS,
        default="table",
        help=_FORMAT_HELP + "; csv and json hold the full verdict table, as --csv",
    )

    plot = commands.add_parser(
        "plot",
        help="draw a figure of a saved sweep table",
        description=(
            "Draw one figure of a sweep table: composite (error against the raw parameter "
            "count), decomposed (each raw axis on its own), measures (p_train and p_test "
            "along the path), back-to-u (error against a measure, coloured by axis segment) "
            "or grid (error against several measures, with the verdict in each title)."
        ),
        epilog="examples:\n  effcomplexity plot trees.csv --kind back-to-u --error test_mse "
        "--out back_to_u.png\n"
        "  effcomplexity analyze trees.csv --error test_mse --csv verdicts.csv\n"
        "  effcomplexity plot trees.csv --kind grid --error test_mse --verdicts verdicts.csv "
        "--smooth",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plot.add_argument("results", metavar="RESULTS", help="sweep table (.csv or .parquet)")
    plot.add_argument("--kind", required=True, choices=_PLOT_KINDS, help="the figure to draw")
    plot.add_argument("--error", default="test_error", metavar="COL", help="error column")
    plot.add_argument(
        "--measures",
        nargs="+",
        metavar="COL",
        help="measure(s): back-to-u uses the first (default p_test); grid and measures all",
    )
    plot.add_argument(
        "--out",
        metavar="PATH",
        help="image file (.png, .pdf, .svg), or a folder to write KIND.png into "
        "(default: KIND.png)",
    )
    plot.add_argument(
        "--verdicts",
        metavar="FILE",
        help="verdict table written by 'effcomplexity analyze RESULTS --csv FILE' (same "
        "--error): composite, back-to-u and grid take their verdicts from it instead of "
        "recomputing them; a file of another sweep or error column is refused",
    )
    plot.add_argument(
        "--smooth",
        action="store_true",
        help="back-to-u and grid: draw the pooled smooth each verdict read, with its noise band",
    )
    for command in commands.choices.values():
        command.set_defaults(command_parser=command)
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


def _verdict_text(verdicts: pd.DataFrame) -> str:
    """The verdict table as a person reads it: one line per measure, then the evidence."""
    import pandas as pd

    shown = verdicts[
        ["measure", "verdict", "n_descents", "peak_location", "fold_back", "tau_error"]
    ].copy()
    if verdicts["n_seeds"].iloc[0] > 1:
        shown["support"] = verdicts["verdict_support"]
    for column in ("fold_back", "tau_error", "support"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else f"{v:.2f}")
    lines = [shown.to_string(index=False)]
    lines += [f"  {m}: {e}" for m, e in zip(verdicts["measure"], verdicts["evidence"], strict=True)]
    return "\n".join(lines)


def _demo(args) -> int:
    from pathlib import Path

    import pandas as pd

    from . import analysis, plotting, sweeps

    if not args.out.strip():
        raise ValueError(
            "--out '' is empty; give a folder for the sweep tables and the figure, e.g. "
            "--out demo_results."
        )
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder}: exists and is not a folder; give a folder path.")
    # The sweeps create the folder (and remove it again if the first one cannot start).
    tables, verdicts = [], []
    print("Is double descent an artefact of counting parameters? (Curth et al. 2023)")
    print(
        f"Quick sweeps on a bundled MNIST subset, {len(_DEMO_SEEDS)} seeds each; "
        "p_train, p_test: effective parameters on training and test inputs."
    )
    for name in _DEMO_SWEEPS:
        spec = sweeps.get_spec(name).sized(quick=True).replace(seeds=_DEMO_SEEDS)
        table = sweeps.run(
            spec,
            quick=False,
            out=folder / f"{name}.csv",
            n_jobs=args.jobs,
            verbose=0 if args.quiet else 1,
        )
        error = _DEMO_ERRORS[name]
        result = analysis.illusion_test(table, error=error)
        result.insert(0, "sweep", name)
        tables.append(table)
        verdicts.append(result)
        print()
        print(f"== {name}: {spec.description} ==")
        if name == "belkin_rff":
            header, body, text = _demo_text(table[table["seed"] == _DEMO_SEEDS[0]])
            print(body)
            print(text)
            print()
        print(f"Verdict of {error} against each measure:")
        print(_verdict_text(result))
    verdicts = pd.concat(verdicts, ignore_index=True)
    raw = verdicts[verdicts["measure"] == "n_params"].set_index("sweep")["verdict"]
    eff = verdicts[verdicts["measure"] == "p_test"].set_index("sweep")["verdict"]
    print()
    for name in _DEMO_SWEEPS:
        print(f"{name}: against raw parameters '{raw[name]}'; against p_test '{eff[name]}'.")
    figure = plotting.summary(
        pd.concat(tables, ignore_index=True), errors=_DEMO_ERRORS, verdicts=verdicts
    )
    path = folder / "demo_summary.png"
    try:
        plotting.save(figure, path)
        verdicts.to_csv(folder / "demo_verdicts.csv", index=False)
    except OSError as exc:
        raise _flag_error("--out", folder, exc) from None
    print()
    print(f"Summary figure: {path}")
    print(f"Verdict table: {folder / 'demo_verdicts.csv'}; sweep tables: {folder}/")
    return 0


def _read_results(path: str) -> pd.DataFrame:
    from pathlib import Path

    import pandas as pd

    source = Path(path)
    if source.is_dir():
        raise ValueError(f"RESULTS: {path!r} is a folder, not a sweep table (.csv or .parquet).")
    if not source.is_file():
        raise ValueError(f"RESULTS: no such file {path!r}.")
    suffix = source.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(source)
        if suffix == ".csv":
            return pd.read_csv(source, keep_default_na=False, na_values=[""])
    except ImportError as exc:
        raise ValueError(f"RESULTS: reading {path!r} needs {exc.name}; pip install it.") from None
    except Exception as exc:  # a damaged or foreign file: say so in one line
        raise ValueError(f"RESULTS: cannot read {path!r} as a sweep table ({exc}).") from None
    raise ValueError(f"RESULTS: {path!r} is neither .csv nor .parquet.")


def _flag_error(flag: str, value, exc: OSError) -> OSError:
    """An ``OSError`` about a file named by ``flag``, as one line that names the flag."""
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(value) else ""
    return type(exc)(f"{flag} {value}: cannot write{where}: {reason}.")


def _check_table(table: pd.DataFrame, path: str, flags: dict[str, Sequence[str]]) -> None:
    """Refuse a table that is not a sweep table, or lacks the columns the flags name."""
    import pandas as pd

    missing = [c for c in _TABLE_COLUMNS if c not in table]
    if missing:
        shown = list(table.columns)[:10]
        raise ValueError(
            f"RESULTS: {path!r} is not a sweep table: it has no column(s) {missing} (its "
            f"columns: {shown}{' ...' if table.shape[1] > 10 else ''}); "
            f"'effcomplexity sweep NAME --out FILE' writes one."
        )
    for flag, names in flags.items():
        absent = [c for c in dict.fromkeys(names) if c not in table]
        if absent:
            raise ValueError(
                f"{flag}: {path!r} has no column(s) {absent}; it has {list(table.columns)}."
            )
        if flag == "--by":
            continue
        for name in names:
            column = table[name]
            if pd.api.types.is_numeric_dtype(column):
                continue
            bad = column[pd.to_numeric(column, errors="coerce").isna() & column.notna()]
            if len(bad):
                raise ValueError(
                    f"{flag}: column {name!r} of {path!r} is not numeric (it holds "
                    f"{bad.iloc[0]!r}); is RESULTS a sweep table?"
                )
        if flag == "--error" and table[names[0]].isna().all():
            filled = [
                c
                for c in ("test_mse", "test_error", "train_mse", "train_error")
                if c in table and table[c].notna().any()
            ]
            hint = f"; try --error {filled[0]}" if filled else ""
            raise ValueError(
                f"--error: column {names[0]!r} of {path!r} is empty in all {len(table)} rows{hint}."
            )


def _analyze(args) -> int:
    from . import analysis

    table = _read_results(args.results)
    _check_table(
        table,
        args.results,
        {"--error": [args.error], "--measures": args.measures, "--by": args.by or []},
    )
    verdicts = analysis.illusion_test(table, error=args.error, measures=args.measures, by=args.by)
    if args.format == "table":
        groups = verdicts.groupby(args.by, sort=False) if args.by else [(None, verdicts)]
        for key, part in groups:
            if key is not None:
                values = key if isinstance(key, tuple) else (key,)
                named = ", ".join(f"{c} = {v}" for c, v in zip(args.by, values, strict=True))
                print(f"== {named} ==")
            print(_verdict_text(part.reset_index(drop=True)))
    else:
        _write_records(verdicts, args.format)
    if args.csv:
        try:
            verdicts.to_csv(args.csv, index=False)
        except OSError as exc:
            raise _flag_error("--csv", args.csv, exc) from None
        # With csv or json on stdout, the note goes to stderr so that stdout stays parseable.
        print(
            f"Verdict table: {args.csv}", file=sys.stdout if args.format == "table" else sys.stderr
        )
    return 0


def _write_records(table: pd.DataFrame, form: str) -> None:
    """Write ``table`` to stdout as CSV, or as a JSON list of records (NaN as null)."""
    import json

    if form == "csv":
        table.to_csv(sys.stdout, index=False)
        return
    # json.dumps keeps every float's shortest exact repr; to_json rounds to fixed decimals.
    records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    sys.stdout.write(json.dumps(records, allow_nan=False) + "\n")


#: Columns of the verdict table ``analyze --csv`` writes that ``plot --verdicts`` checks.
_VERDICT_COLUMNS = ("measure", "error", "verdict", "n_seeds", "n_grid", "n_points", "tau_error")
#: The plot kinds that show verdicts (composite that of n_params, the others their measures').
_VERDICT_KINDS = ("composite", "back-to-u", "grid")


def _read_verdicts(path: str, table: pd.DataFrame, error: str, measures: Sequence[str]):
    """The verdict table of ``path``, refused unless ``analyze`` wrote it for this table.

    It must judge ``error``, hold one row for each of ``measures``, and match
    the table: its seeds, grid points, path points and the Kendall tau of each
    measure with the error over the grid (scipy), recomputed here.
    """
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from scipy.stats import kendalltau

    from . import analysis

    if not Path(path).is_file():
        raise ValueError(f"--verdicts: no such file {path!r}.")
    try:
        verdicts = pd.read_csv(path)
    except Exception as exc:  # a damaged or foreign file: say so in one line
        raise ValueError(f"--verdicts: cannot read {path!r} as a verdict table ({exc}).") from None
    written = "'effcomplexity analyze RESULTS --csv FILE' writes one"
    missing = [c for c in _VERDICT_COLUMNS if c not in verdicts]
    if missing:
        raise ValueError(
            f"--verdicts: {path!r} is not a verdict table (no column(s) {missing}); {written}."
        )
    judged = list(dict.fromkeys(verdicts["error"]))
    if error not in judged:
        raise ValueError(
            f"--verdicts: {path!r} judges {', '.join(map(str, judged))}, not --error {error}; "
            f"plot with the --error analyze used, or rerun analyze with --error {error}."
        )
    verdicts = verdicts[verdicts["error"] == error]
    if verdicts.duplicated(["measure"]).any():
        raise ValueError(
            f"--verdicts: {path!r} holds several groups (analyze --by); plot draws one table, "
            f"so write the verdicts of this table alone."
        )
    absent = [m for m in measures if m not in set(verdicts["measure"])]
    if absent:
        raise ValueError(
            f"--verdicts: {path!r} has no verdict for {absent}; rerun analyze with "
            f"--measures {' '.join(dict.fromkeys([*verdicts['measure'], *absent]))}."
        )
    if "sweep" in verdicts and "sweep" in table:
        theirs, ours = set(verdicts["sweep"].astype(str)), set(table["sweep"].astype(str))
        if theirs != ours:
            raise ValueError(
                f"--verdicts: {path!r} judges sweep {sorted(theirs)}, RESULTS holds {sorted(ours)}."
            )
    means = analysis.grid_means(table, [error, *measures])
    found = {
        "n_seeds": table["seed"].nunique(),
        "n_grid": len(means),
        "n_points": int(means["axis"].notna().sum()) or len(means),
    }
    for measure in measures:
        row = verdicts[verdicts["measure"] == measure].iloc[0]
        mismatch = [f"{k} {row[k]:g} against {v}" for k, v in found.items() if row[k] != v]
        tau = float(kendalltau(means[measure], means[error]).statistic)
        if pd.notna(row["tau_error"]) and not np.isclose(row["tau_error"], tau, atol=1e-9):
            mismatch.append(f"tau_error of {measure} {row['tau_error']:.4g} against {tau:.4g}")
        if mismatch:
            raise ValueError(
                f"--verdicts: {path!r} was not computed from {error} of this RESULTS table "
                f"({'; '.join(mismatch)}); rerun 'effcomplexity analyze RESULTS --error "
                f"{error} --csv FILE'."
            )
    return verdicts.reset_index(drop=True)


def _plot(args) -> int:
    from . import plotting

    if args.smooth and args.kind not in ("back-to-u", "grid"):
        raise _UsageError(f"--smooth: --kind {args.kind} draws no smooth; use back-to-u or grid.")
    if args.verdicts and args.kind not in _VERDICT_KINDS:
        raise _UsageError(
            f"--verdicts: --kind {args.kind} shows no verdict; use one of {_VERDICT_KINDS}."
        )
    table = _read_results(args.results)
    measures = args.measures
    used = {
        "composite": [],
        "decomposed": [],
        "measures": list(measures or ("p_train", "p_test")),
        "back-to-u": list(measures or ["p_test"])[:1],
        "grid": list(measures or ("n_params", "p_train", "p_test")),
    }[args.kind]
    flags = {"--measures": used} if used else {}
    if args.kind != "measures":
        flags = {"--error": [args.error], **flags}
    _check_table(table, args.results, flags)
    verdicts = None
    if args.verdicts:
        judged = ["n_params"] if args.kind == "composite" else used
        verdicts = _read_verdicts(args.verdicts, table, args.error, judged)
    if args.kind == "composite":
        fig = plotting.composite(table, args.error, verdicts=verdicts)
    elif args.kind == "decomposed":
        fig = plotting.decomposed(table, args.error)
    elif args.kind == "measures":
        fig = plotting.measures_along_path(table, measures or ("p_train", "p_test"))
    elif args.kind == "back-to-u":
        fig = plotting.back_to_u(table, used[0], args.error, verdicts=verdicts, smooth=args.smooth)
    else:
        fig = plotting.verdict_grid(table, used, args.error, verdicts=verdicts, smooth=args.smooth)
    out = _figure_path(args.out, f"{args.kind}.png")
    try:
        plotting.save(fig, out)
    except ValueError as exc:
        raise ValueError(f"--out: {exc}") from None
    except OSError as exc:
        raise _flag_error("--out", out, exc) from None
    print(f"Figure: {out}")
    return 0


def _figure_path(out: str | None, default: str) -> str:
    """Where ``plot --out`` writes: the file it names, or ``default`` inside a folder."""
    import os
    from pathlib import Path

    if out is None:
        return default
    if not out.strip():
        raise ValueError(f"--out '' is empty; give an image file (e.g. {default}) or a folder.")
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return str(Path(out) / default)
    return out


def _list(args) -> int:
    from . import sweeps

    names = sweeps.available()
    descriptions = [sweeps.get_spec(name).description for name in names]
    if args.format == "table":
        width = max(len(name) for name in names)
        for name, description in zip(names, descriptions, strict=True):
            print(f"{name:<{width}}  {description}")
    else:
        import pandas as pd

        _write_records(pd.DataFrame({"name": names, "description": descriptions}), args.format)
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

    if args.backend == "dask" and not args.scheduler:
        raise _UsageError("--backend dask needs --scheduler ADDR, e.g. tcp://127.0.0.1:8786.")
    try:
        spec = sweeps.get_spec(args.name)
    except ValueError as exc:  # an unknown NAME, with the names there are
        raise _UsageError(str(exc)) from None
    spec = spec.sized(quick=not args.full)
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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"effcomplexity: warning: {message}", file=sys.stderr)


def _network_error(exc: BaseException) -> bool:
    import socket
    import urllib.error

    network = (urllib.error.URLError, ConnectionError, socket.gaierror, TimeoutError)
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, network):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _message(exc: BaseException, args) -> str:
    """One line for a user error, naming the flag at fault where the error does not."""
    if getattr(args, "full", False) and _network_error(exc):
        reason = getattr(exc, "reason", None) or exc
        text = (
            f"--full: cannot download full MNIST from OpenML ({reason}); run once with a "
            f"network connection (it is cached afterwards), or run without --full."
        )
    else:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror and exc.filename:
            text = f"{exc.strerror}: {exc.filename}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _silence_stdout() -> None:
    """Point stdout at the null device, so that a reader gone (``| head``) ends the run quietly.

    Without it, the interpreter's last flush of stdout fails again at exit.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (a test's capture): nothing to flush
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``effcomplexity`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success; 1 when a file, the data or the run fails
        (a results file that cannot be read or is not a sweep table, an
        unknown column, a file that cannot be written, an unreachable
        scheduler or download), printed as one line naming the flag at
        fault; 130 when interrupted.

    Raises
    ------
    SystemExit
        With status 0 after ``--help`` or ``--version``, and with status 2
        for a usage error (an unknown command, option or sweep name, a bad
        option value or combination), after argparse's usage line and one
        line naming the option.
    """
    args = _parser().parse_args(argv)
    # After parsing: --help and --version need none of the sweeps' imports.
    from .sweeps.runner import _spelled_as

    # Logging, warnings and progress go to stderr, so stdout holds only the result.
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )
    if getattr(args, "scheduler", None) and args.backend != "dask":
        args.backend = "dask"
    commands = {
        "demo": _demo,
        "list": _list,
        "sweep": _sweep,
        "analyze": _analyze,
        "plot": _plot,
    }
    try:
        with warnings.catch_warnings(), _spelled_as(_RUN_FLAGS):
            warnings.showwarning = _show_warning
            return commands[args.command](args)
    except _UsageError as exc:
        args.command_parser.error(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except (ValueError, OSError, ImportError) as exc:
        print(f"effcomplexity: error: {_message(exc, args)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("effcomplexity: interrupted", file=sys.stderr)
        return 130
