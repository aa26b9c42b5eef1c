"""The ``ssltheory experiment`` subcommand: run a registered experiment and write CSV + PNG.

Usage::

    ssltheory experiment synthetic --scale quick --out out/synthetic
    ssltheory experiment synthetic --scale cpu --out figures --part phase_transition
    python -m experiments.runner synthetic --scale quick --out out/x
    ssltheory experiment --list

Scales (DESIGN.md): ``quick`` (seconds, CI), ``cpu`` (minutes on two cores; the committed
figures), ``gpu`` (the largest configuration; the synthetic experiments are numpy/scipy only, so
``gpu`` only means "bigger").

Registry: :data:`EXPERIMENTS` maps an experiment name to the module that defines it. To add one
(e.g. ``score-validation``), write ``experiments/score_validation.py`` with ``DESCRIPTION`` and
``PARTS`` (see :mod:`experiments`) and add a line here; a module that is not importable yet is
simply not offered.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path

#: experiment name -> module defining DESCRIPTION and PARTS
EXPERIMENTS: dict[str, str] = {
    "synthetic": "experiments.synthetic",
    "score-validation": "experiments.score_validation",
    "controlled": "experiments.controlled",
    "paper-analogues": "experiments.paper_analogues",
    "fig7b": "experiments.fig7b",
}

SCALES = ("quick", "cpu", "gpu")


def available() -> dict[str, str]:
    """The registered experiments whose module exists."""
    out = {}
    for name, module in EXPERIMENTS.items():
        try:
            if importlib.util.find_spec(module) is not None:
                out[name] = module
        except ModuleNotFoundError:
            continue
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help=f"experiment to run: {', '.join(available()) or 'none available'}")
    parser.add_argument("--scale", choices=SCALES, default="quick", help="problem sizes (default quick)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default out/<name>)")
    parser.add_argument("--part", action="append", default=None, metavar="PART", help="run only this part (repeatable); default all parts")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--list", action="store_true", help="list experiments and their parts, then exit")


def load(name: str):
    """The module of a registered experiment (ValueError naming the available ones if unknown)."""
    experiments = available()
    if name not in experiments:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(experiments)}")
    return importlib.import_module(experiments[name])


def run(args: argparse.Namespace) -> int:
    if args.list:
        for name in available():
            module = load(name)
            print(f"{name}: {module.DESCRIPTION}")
            for part in module.PARTS:
                print(f"  {part}")
        return 0
    if not args.name:
        raise ValueError("an experiment name is required (see --list)")
    module = load(args.name)
    parts = list(module.PARTS) if not args.part else args.part
    unknown = [p for p in parts if p not in module.PARTS]
    if unknown:
        raise ValueError(f"experiment {args.name!r} has no part {unknown[0]!r}; parts: {', '.join(module.PARTS)}")
    out = Path(args.out) if args.out is not None else Path("out") / args.name
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    print(f"experiment {args.name}, scale {args.scale}, seed {args.seed}, writing to {out}", flush=True)
    for part in parts:
        start = time.perf_counter()
        written = module.PARTS[part](args.scale, out, args.seed)
        print(f"  {part}: {time.perf_counter() - start:.1f} s -> {', '.join(str(p) for p in written)}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.runner``: the same as ``ssltheory experiment``."""
    from ssltheory.cli import main as cli_main

    return cli_main(["experiment", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
