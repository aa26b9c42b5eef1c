"""``ssltheory figures``: regenerate every figure of ``figures/`` from its experiment.

Every committed figure is written by a registered experiment (``ssltheory.experiments.EXPERIMENTS``)
as a PNG with the CSV it was drawn from beside it. This command runs them all (or the ones named)
at one scale into one directory through the runner, so the README's figures regenerate from a
single command::

    ssltheory figures                      # every experiment, cpu scale, into ./figures
    ssltheory figures synthetic --scale quick --out /tmp/figs
    ssltheory figures --list

The default ``--out`` is ``figures`` under the current directory (the committed folder when run
from the repository's root). An experiment that fails stops the command with its error; the
figures already written are kept, each file being written whole.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ssltheory.commands import seed_argument
from ssltheory.experiments import EXPERIMENTS, SCALES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory figures``."""
    parser.add_argument(
        "names", nargs="*", metavar="EXPERIMENT", help=f"experiments to run (default all: {', '.join(EXPERIMENTS)})"
    )
    parser.add_argument(
        "--scale", choices=SCALES, default="cpu", help="problem sizes (default cpu: the committed figures)"
    )
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output directory (default ./figures)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="random seed (default 0)")
    parser.add_argument("--list", action="store_true", help="list the experiments and their parts, then exit")


def run(args: argparse.Namespace) -> int:
    """Run (or list) the named experiments, all by default."""
    from ssltheory.experiments import runner

    names = list(args.names) or list(EXPERIMENTS)
    if args.list:
        print("\n".join(runner.describe(names)))
        return 0
    start = time.perf_counter()
    runner.run_experiments(names, args.scale, args.out, args.seed)
    print(
        f"figures: {len(names)} experiments written to {args.out} in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    return 0
