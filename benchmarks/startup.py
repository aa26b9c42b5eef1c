"""Benchmark: start-up of ``ssltheory COMMAND --help`` versus ``python -c "import argparse"``.

A person types ``--help`` to learn a command; it should answer as fast as any small Python
script. The floor to compare against is the interpreter starting and importing argparse, which
every command line pays. One timed call = one fresh child process, started and waited for, on
each side (``python -m ssltheory.cli COMMAND --help``, stdout discarded), alternately.

Row ``cli_help_<command>`` (``cli_help`` for bare ``ssltheory --help``): ``ratio = ours_s /
baseline_s`` (a slowdown), target ``<= 2``. ``details["heavy_imports"]`` lists which of torch,
scipy, numpy, matplotlib and scikit-learn the help imported (``python -X importtime``): the
help of no command should import torch or scipy. ``--quick`` times the bare help and ``check``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ssltheory
from ssltheory.benchmarks.harness import (
    SLOWDOWN,
    BenchConfig,
    Row,
    error_row,
    median,
    slowdown_row,
    spread,
    time_alternately,
)
from ssltheory.cli import SUBCOMMANDS

NAME = "startup"
TARGET = 2.0
HEAVY = ("torch", "scipy", "numpy", "matplotlib", "sklearn")
#: the folder holding the ``ssltheory`` package (checkout root or site-packages), put first on the
#: children's path so that they import the code being benchmarked
IMPORT_ROOT = Path(os.path.abspath(ssltheory.__file__)).parents[1]


def row_name(command: str | None) -> str:
    return "cli_help" if command is None else f"cli_help_{command.replace('-', '_')}"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(IMPORT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def heavy_imports(command: str | None) -> list[str]:
    """Which of :data:`HEAVY` ``ssltheory [COMMAND] --help`` imports (top-level names)."""
    argv = [sys.executable, "-X", "importtime", "-m", "ssltheory.cli", *([command] if command else []), "--help"]
    proc = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:])} exited with {proc.returncode}: {proc.stderr.strip()[-300:]}")
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in imported]


def run(config: BenchConfig) -> list[Row]:
    """The rows of this benchmark (see the module docstring) that ``config`` keeps."""
    commands: list[str | None] = [None, "check"] if config.quick else [None, *SUBCOMMANDS]
    repeats = config.rounds(3, 7)
    rows = []
    for command in commands:
        name = row_name(command)
        if not config.wants(name):
            continue
        try:
            rows.append(_compare(name, command, repeats))
        except Exception as exc:  # a command whose help fails: report it, keep going
            rows.append(error_row(name, SLOWDOWN, f"<= {TARGET:g}", exc))
    return rows


def _compare(name: str, command: str | None, repeats: int) -> Row:
    env = _env()
    ours_argv = [sys.executable, "-m", "ssltheory.cli", *([command] if command else []), "--help"]
    base_argv = [sys.executable, "-c", "import argparse"]

    def child(argv):
        return lambda: subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=300
        )

    ours_t, base_t = time_alternately(child(ours_argv), child(base_argv), repeats=repeats, warmup=1)
    details = {
        "call": f"one child process: {' '.join(['python', *ours_argv[1:]])} vs python -c 'import argparse'",
        "heavy_imports": heavy_imports(command),
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return slowdown_row(name, median(ours_t), median(base_t), TARGET, details)
