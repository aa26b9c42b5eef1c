"""``ssltheory figures``: regenerate every figure in ``figures/`` from its experiment.

Every committed figure is written by a registered experiment (``experiments/runner.py``,
``EXPERIMENTS``) as a PNG with the CSV it was drawn from beside it. This command runs them all
(or the ones named) at one scale into one directory, so the figures of the README regenerate from
a single command::

    ssltheory figures                      # every experiment, cpu scale, into ./figures
    ssltheory figures synthetic --scale quick --out /tmp/figs
    ssltheory figures --list

Run it from the repository root (the default ``--out`` is ``figures`` relative to the current
directory). An experiment that fails stops the command with its error; figures already written by
earlier experiments are kept, each file being written whole by its experiment.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="EXPERIMENT", help="experiments to run (default: all registered)")
    parser.add_argument("--scale", choices=("quick", "cpu", "gpu"), default="cpu", help="problem sizes (default cpu: the committed figures)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output directory (default ./figures)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--list", action="store_true", help="list the experiments and the files their parts write, then exit")


def run(args: argparse.Namespace) -> int:
    from experiments import runner

    experiments = runner.available()
    names = list(args.names) or list(experiments)
    unknown = [n for n in names if n not in experiments]
    if unknown:
        raise ValueError(f"unknown experiment {unknown[0]!r}; available: {', '.join(experiments)}")
    if args.list:
        for name in names:
            module = runner.load(name)
            print(f"{name}: {module.DESCRIPTION}")
            for part in module.PARTS:
                print(f"  {part}")
        return 0
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} exists and is not a directory")
    args.out.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    for name in names:
        module = runner.load(name)
        print(f"{name} ({args.scale}) -> {args.out}", flush=True)
        for part, make in module.PARTS.items():
            start = time.perf_counter()
            written = make(args.scale, args.out, args.seed)
            print(f"  {part}: {time.perf_counter() - start:.1f} s -> {', '.join(Path(p).name for p in written)}", flush=True)
    print(f"all figures written in {time.perf_counter() - total:.0f} s")
    return 0
