"""``ssltheory bench``: run the side-by-side benchmarks, print JSON rows, write RESULTS.md.

Usage::

    ssltheory bench                      # full run, writes ./benchmarks/RESULTS.md
    ssltheory bench --quick --json       # small sizes, JSON lines on stdout, no file
    ssltheory bench --only losses ideal  # some benchmarks (or single rows, e.g. loss_dissl)
    ssltheory bench --only ideal --update benchmarks/RESULTS.md   # re-measure those rows in the report
    ssltheory bench --peers              # our losses against lightly's (where lightly imports),
                                         # writes benchmarks/PEERS.md

Output: one JSON object per row with ``--json`` (schema in :mod:`ssltheory.benchmarks.harness`), else a
table. A full run (no ``--quick``, no ``--only``) writes ``benchmarks/RESULTS.md`` under the current
directory (the committed file when run from the repository's root); ``--out``
writes that report elsewhere (or for quick / partial runs too). Exit 0 when every benchmark ran
(missed targets and pending rows included), 1 when one raised (its row has status ``error``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ssltheory.errors import InputError

if TYPE_CHECKING:  # the library is imported inside the functions that run it: --help stays light
    from ssltheory.benchmarks.harness import BenchConfig, Row

#: benchmark name -> module; each module exposes ``run(config: BenchConfig) -> list[Row]``.
BENCHMARKS = {
    "probe": "ssltheory.benchmarks.probe_fit",
    "ideal": "ssltheory.benchmarks.ideal",
    "losses": "ssltheory.benchmarks.losses",
    "throughput": "ssltheory.benchmarks.throughput",
    "gpu": "ssltheory.benchmarks.gpu",
    "startup": "ssltheory.benchmarks.startup",
    "monitor": "ssltheory.benchmarks.monitor",
    "scoring": "ssltheory.benchmarks.scoring",
}
#: row-name prefixes of each benchmark, so that ``--only loss_dissl`` picks one row.
ROW_PREFIX = {
    "probe": "probe_fit",
    "ideal": "is_ideal",
    "losses": "loss_",
    "throughput": "train_throughput",
    "gpu": "gpu_",
    "startup": "cli_help",
    "monitor": "monitor_overhead",
    "scoring": ("score_", "check_cli"),
}
#: a full run's report, relative to the current directory (run from the repository's root, the
#: committed benchmarks/RESULTS.md), never inside the installed package
DEFAULT_RESULTS = Path("benchmarks") / "RESULTS.md"
#: ``--peers``: our losses against lightly's, run from an environment where lightly imports, so
#: its own report (RESULTS.md is one run of the project's environment), also under the current directory
PEERS = "ssltheory.benchmarks.peers"
PEERS_RESULTS = Path("benchmarks") / "PEERS.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory bench``."""
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run (no report file unless --out)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row instead of a table")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        default=None,
        help=f"benchmarks to run ({', '.join(BENCHMARKS)}) or row names (e.g. loss_dissl)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="time our losses against lightly's (needs lightly; writes benchmarks/PEERS.md unless --quick)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads on both sides (default 1: on a shared machine, more threads than "
        "free cores make OpenMP regions wait for descheduled threads and the timings meaningless)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed rounds per comparison (default: per benchmark)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every generated input")
    parser.add_argument(
        "--out",
        default=None,
        help="write the Markdown report here (default: ./benchmarks/RESULTS.md on a full run, none otherwise)",
    )
    parser.add_argument(
        "--update",
        default=None,
        metavar="FILE",
        help="with --only: replace those rows in the existing report FILE (stamped with date, command "
        "and load), keeping its other rows",
    )


def _select(only: list[str] | None) -> dict[str, set[str] | None]:
    """benchmark -> row names to keep (None: all its rows), in run order; ValueError on an unknown name."""
    if not only:
        return {b: None for b in BENCHMARKS}
    chosen: dict[str, set[str] | None] = {}
    for name in only:
        if name in BENCHMARKS:
            chosen[name] = None
            continue
        owner = next((b for b, prefix in ROW_PREFIX.items() if name.startswith(prefix)), None)
        if owner is None:
            raise InputError(f"--only {name!r} names no benchmark ({', '.join(BENCHMARKS)}) and no row of one")
        if owner not in chosen:
            chosen[owner] = set()
        if chosen[owner] is not None:
            chosen[owner].add(name)
    return {b: chosen[b] for b in BENCHMARKS if b in chosen}


def run_benchmarks(config: BenchConfig, selection: dict[str, set[str] | None], echo=None) -> list[Row]:
    """Run the selected benchmarks in order, keeping the rows named (a row is kept when its name
    starts with a kept name); ``echo(row)`` is called as each row is ready. A progress meter over
    the benchmarks goes to stderr."""
    from ssltheory.progress import Progress, ticking

    rows: list[Row] = []
    with (
        Progress(len(selection), "bench" + (" --quick" if config.quick else ""), unit="benchmark") as bar,
        ticking(bar),
    ):
        for bench, keep in selection.items():
            module = importlib.import_module(PEERS if bench == "peers" else BENCHMARKS[bench])
            bench_config = dataclasses.replace(config, rows=None if keep is None else frozenset(keep))
            for row in module.run(bench_config):
                if bench_config.wants(row.name):
                    rows.append(row)
                    if echo:
                        echo(row)
            bar.update(1, done=bench)
    return rows


def run(args: argparse.Namespace) -> int:
    """``ssltheory bench``: run the selected benchmarks, print their rows, write the report where asked.

    Exit 0, or 1 when a benchmark raised."""
    from ssltheory.benchmarks.harness import BenchConfig, limited_threads, load_average, machine_info
    from ssltheory.files import writable_folder

    threads = args.threads
    if threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
    if args.repeats is not None and args.repeats < 1:
        raise InputError(f"repeats must be at least 1, got {args.repeats}")
    peers = getattr(args, "peers", False)
    if peers and args.only:
        raise InputError("--peers runs the lightly comparison only; drop --only (or drop --peers)")
    selection = {"peers": None} if peers else _select(args.only)
    update = getattr(args, "update", None)
    if update is not None:
        if not args.only or args.out or args.quick or peers:
            raise InputError(
                "--update FILE re-measures rows of a full report: give "
                "--only NAME ..., without --out, --quick or --peers"
            )
        if not Path(update).is_file():
            raise InputError(f"--update {update}: no such report; write one first with ssltheory bench --out {update}")
    default_out = PEERS_RESULTS if peers else DEFAULT_RESULTS
    out = Path(args.out) if args.out else (default_out if not args.quick and not args.only else None)
    if out is not None:
        if out.is_dir():
            raise InputError(f"--out {out} is a folder; give the report's file name, e.g. {out / 'RESULTS.md'}")
        writable_folder(out.parent)  # refuse an unusable --out before the benchmarks run

    config = BenchConfig(quick=args.quick, threads=threads, seed=args.seed, repeats=args.repeats)
    machine = machine_info(threads)
    load_before = load_average()
    started = time.perf_counter()
    if not args.json:
        print(_table_header(), flush=True)
    echo = (
        (lambda r: print(json.dumps(r.to_dict()), flush=True))
        if args.json
        else (lambda r: print(_table_line(r), flush=True))
    )
    with limited_threads(threads):
        rows = run_benchmarks(config, selection, echo=echo)
    elapsed = time.perf_counter() - started
    load_after = load_average()

    command = ("ssltheory bench " + " ".join(_argv_of(args))).strip()
    if out is not None:
        from ssltheory.benchmarks.report import write_results

        write_results(out, rows, machine, command, elapsed, load_before, load_after)
        print(f"wrote {out}", file=sys.stderr)
    if update is not None:
        from ssltheory.benchmarks.report import update_results

        update_results(update, rows, f"{machine['date_utc']} UTC by `{command}`, load {load_before} -> {load_after}")
        print(f"updated {len(rows)} row(s) of {update}", file=sys.stderr)
    return 1 if any(r.status == "error" for r in rows) else 0


def _argv_of(args: argparse.Namespace) -> list[str]:
    argv = []
    if args.quick:
        argv.append("--quick")
    if args.json:
        argv.append("--json")
    if args.only:
        argv += ["--only", *args.only]
    if getattr(args, "update", None):
        argv += ["--update", str(args.update)]
    if getattr(args, "peers", False):
        argv.append("--peers")
    if args.threads != 1:
        argv += ["--threads", str(args.threads)]
    for flag in ("repeats",):
        if getattr(args, flag) is not None:
            argv += [f"--{flag}", str(getattr(args, flag))]
    if args.seed:
        argv += ["--seed", str(args.seed)]
    return argv


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _table_header() -> str:
    return (
        f"{'name':<36} {'ours_s':>10} {'baseline_s':>10} {'ratio':>8} "
        f" {'definition':<20} {'target':<10} {'meets':<6} status"
    )


def _table_line(row: Row) -> str:
    meets = "-" if row.meets_target is None else ("yes" if row.meets_target else "NO")
    return (
        f"{row.name:<36} {_fmt(row.ours_s, '10.4f')} {_fmt(row.baseline_s, '10.4f')} {_fmt(row.ratio, '8.2f')}  "
        f"{row.ratio_def:<20} {row.target.split(' and ')[0]:<10} {meets:<6} {row.status}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssltheory.benchmarks.cli", description="side-by-side benchmarks")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
