"""``ssltheory sweep CONFIG``: run a grid or random search of training runs, probe and score each, print one table.

Usage::

    ssltheory sweep sweeps/table1.toml --out sweeps/table1             # executor from the file
    ssltheory sweep sweeps/demo.toml --out /tmp/demo --executor local --parallel 2
    ssltheory sweep sweeps/demo.toml --out /tmp/demo --dry-run         # list the runs, submit nothing

The file's format and the output directory's layout: :mod:`ssltheory.sweep`. Re-running the same
command completes an interrupted sweep (finished runs are skipped, killed ones resume). Exit 0
when every run finished, 1 when one failed (its error is printed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from ssltheory.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory sweep``."""
    parser.add_argument("config", help="the sweep file (.toml or .json)")
    parser.add_argument("--out", default=None, help="sweep directory (default: sweeps/<name> in the current directory)")
    parser.add_argument("--executor", default=None,
                        help="override [executor] kind: local, slurm or debug (ssltheory.sweep.EXECUTORS)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="override [executor] parallel (local: processes at once; slurm: array concurrency cap)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs the sweep would submit and stop")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    """``ssltheory sweep``: run (or, with ``--dry-run``, list) the sweep file's runs and write
    their rows and table; exit 0, or 1 when a run failed."""
    from ssltheory.sweep import EXECUTORS, expand_runs, load_sweep_config, run_sweep  # here: --help stays light

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
    summary = run_sweep(config, out, kind=args.executor, parallel=args.parallel, echo=echo)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    else:
        print(open(summary["table"]).read(), end="")
        print(f"{summary['runs']} runs ({summary['skipped']} already finished), {len(summary['failed'])} failed, "
              f"{summary['wall_s']:.1f} s; table: {summary['table']}")
    for run_id, message in summary["failed"]:
        print(f"ssltheory sweep: run {run_id} failed: {message}", file=sys.stderr)
    return 1 if summary["failed"] else 0
