"""``ssltheory sweep CONFIG``: run a grid or random search of training runs, probe and score each, print one table.

Usage::

    ssltheory sweep sweeps/table1.toml --out sweeps/table1             # executor from the file
    ssltheory sweep sweeps/demo.toml --out /tmp/demo --executor local --parallel 2
    ssltheory sweep sweeps/demo.toml --out /tmp/demo --dry-run         # list the runs, submit nothing
    ssltheory sweep sweeps/table1.toml --out sweeps/table1 --executor slurm          # submits, returns
    ssltheory sweep --status sweeps/table1                             # each run's state
    ssltheory sweep sweeps/table1.toml --out sweeps/table1 --wait      # block until every job ends

The file's format and the output directory's layout: :mod:`ssltheory.sweep`. Re-running the same
command completes an interrupted sweep (finished runs are skipped, killed ones resume); on Slurm
it submits and returns (``--wait`` blocks), and a re-run never resubmits a run whose job is queued
or running (the job ids are in OUT/jobs.json). Exit 0 when every run finished or is on its way, 1
when one failed (its error is printed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from ssltheory.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory sweep``."""
    parser.add_argument("config", nargs="?", default=None, help="the sweep file (.toml or .json)")
    parser.add_argument(
        "--status",
        metavar="DIR",
        default=None,
        help="print the state of every run of the sweep in DIR (finished, queued, running, failed, "
        "unknown, not submitted) and stop",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="slurm: block until every job ends and write the table (default: submit and return)",
    )
    parser.add_argument(
        "--resubmit-unknown",
        action="store_true",
        help="slurm: resubmit runs whose recorded job neither sacct nor squeue knows (only when you know it is dead)",
    )
    parser.add_argument("--out", default=None, help="sweep directory (default: sweeps/<name> in the current directory)")
    parser.add_argument(
        "--executor", default=None, help="override [executor] kind: local, slurm or debug (ssltheory.sweep.EXECUTORS)"
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="override [executor] parallel (local: processes at once; slurm: array concurrency cap)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the runs the sweep would submit and stop")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    """``ssltheory sweep``: run (or, with ``--dry-run``, list) the sweep file's runs and write
    their rows and table; exit 0, or 1 when a run failed."""
    from ssltheory.sweep import EXECUTORS, expand_runs, load_sweep_config, run_sweep  # here: --help stays light

    if args.status is not None:
        return _status(args.status, args.json)
    if args.config is None:
        raise InputError("give the sweep file (or --status DIR for an existing sweep)")
    if args.executor is not None and args.executor not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {args.executor!r}")
    config = load_sweep_config(args.config)
    out = args.out or f"sweeps/{config.name}"
    if args.parallel is not None and args.parallel < 1:
        raise InputError(f"--parallel must be at least 1, got {args.parallel}")
    if args.dry_run:
        for spec in expand_runs(config):
            print(f"{spec.run_id}  seed {spec.seed}  {spec.label}")
        return 0
    echo = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    summary = run_sweep(
        config,
        out,
        kind=args.executor,
        parallel=args.parallel,
        wait=args.wait or None,
        resubmit_unknown=args.resubmit_unknown,
        echo=echo,
    )
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    elif not summary["waited"]:
        print(
            f"{summary['runs']} runs: {summary['skipped']} finished, {len(summary['submitted'])} submitted now, "
            f"{len(summary['active'])} already queued or running; see them with: ssltheory sweep --status {out} "
            f"(or --wait to block)"
        )
    else:
        print(open(summary["table"]).read(), end="")
        print(
            f"{summary['runs']} runs ({summary['skipped']} already finished), {len(summary['failed'])} failed, "
            f"{summary['wall_s']:.1f} s; table: {summary['table']}"
        )
    for run_id, message in summary["failed"]:
        print(f"ssltheory sweep: run {run_id} failed: {message}", file=sys.stderr)
    return 1 if summary["failed"] else 0


def _status(folder: str, as_json: bool) -> int:
    """``--status DIR``: one line per run of the sweep in DIR, then the counts."""
    from ssltheory.sweep import read_sweep_dir, sweep_status

    states = sweep_status(read_sweep_dir(folder), folder)
    if as_json:
        print(json.dumps([vars(s) for s in states]))
        return 0
    for s in states:
        job = f"job {s.job_id}" if s.job_id else "no job"
        detail = f"  ({s.detail})" if s.detail else ""
        print(f"{s.run_id}  {s.state:<13}  {job:<14}  seed {s.seed}  {s.label}{detail}")
    counts = {}
    for s in states:
        counts[s.state] = counts.get(s.state, 0) + 1
    print(", ".join(f"{n} {state}" for state, n in counts.items()))
    return 0
