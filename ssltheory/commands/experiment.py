"""``ssltheory experiment``: run one registered experiment (or list them) into ``--out``.

    ssltheory experiment synthetic --scale quick --out out/synthetic
    ssltheory experiment synthetic --scale cpu --out figures --part phase_transition
    ssltheory experiment --list

The experiments and the runner are `ssltheory.experiments` and `ssltheory.experiments.runner`;
this module parses the options and calls :func:`ssltheory.experiments.runner.run_experiments`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssltheory.commands import seed_argument
from ssltheory.errors import InputError
from ssltheory.experiments import EXPERIMENTS, SCALES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory experiment``."""
    parser.add_argument("name", nargs="?", help=f"experiment to run: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--scale", choices=SCALES, default="quick", help="problem sizes (default quick)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default ./out/<name>)")
    parser.add_argument(
        "--part",
        action="append",
        default=None,
        metavar="PART",
        help="run only this part (repeatable); default all parts",
    )
    parser.add_argument("--seed", type=seed_argument, default=0, help="random seed (default 0)")
    parser.add_argument("--list", action="store_true", help="list experiments and their parts, then exit")


def run(args: argparse.Namespace) -> int:
    """``ssltheory experiment``: list, or run one experiment's parts into ``--out``."""
    from ssltheory.experiments import runner

    if args.list:
        print("\n".join(runner.describe()))
        return 0
    if not args.name:
        raise InputError("an experiment name is required (see --list)")
    out = Path(args.out) if args.out is not None else Path("out") / args.name
    runner.run_experiments([args.name], args.scale, out, args.seed, args.part)
    return 0
