"""The experiment runner: ``ssltheory experiment`` (one experiment, `ssltheory.commands.experiment`)
and ``ssltheory figures`` (every experiment at one scale, the committed figures) both run
experiments through :func:`run_experiments`.

Usage::

    ssltheory experiment synthetic --scale quick --out out/synthetic
    ssltheory experiment synthetic --scale cpu --out figures --part phase_transition
    python -m ssltheory.experiments.runner synthetic --scale quick --out out/x
    ssltheory experiment --list

Scales (docs/ARCHITECTURE.md, "Command line"): ``quick`` (seconds, CI), ``cpu`` (minutes on two cores; the committed
figures), ``gpu`` (the largest configuration; the synthetic experiments are numpy/scipy only, so
``gpu`` only means "bigger").

Registry: ``ssltheory.experiments.EXPERIMENTS`` maps an experiment name to the module that defines
it (in the package's ``__init__``, so help texts read it without importing the runner). To add
one, write ``experiments/<name>.py`` with ``DESCRIPTION`` and ``PARTS`` and add a line there.

Progress: one line per part as it finishes (its time and the files written), and a
:class:`ssltheory.progress.Progress` meter over the parts on stderr (a bar on a terminal, a line
every few seconds elsewhere).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

from ssltheory.errors import InputError
from ssltheory.experiments import EXPERIMENTS, SCALES
from ssltheory.files import writable_folder
from ssltheory.progress import Progress, ticking


def available() -> dict[str, str]:
    """The registered experiments, name -> module (every registered module ships with the package)."""
    return dict(EXPERIMENTS)


def load(name: str) -> ModuleType:
    """The module of a registered experiment (ValueError naming the available ones if unknown)."""
    if name not in EXPERIMENTS:
        raise InputError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])


def describe(names: list[str] | None = None) -> list[str]:
    """Lines listing experiments (default: all) and their parts, for ``--list``."""
    lines = []
    for name in names or list(EXPERIMENTS):
        module = load(name)
        lines.append(f"{name}: {module.DESCRIPTION}")
        lines += [f"  {part}" for part in module.PARTS]
    return lines


def plan(names: list[str], parts: list[str] | None = None) -> list[tuple[str, str, Callable]]:
    """The (experiment, part, function) triples to run, in order; ValueError on an unknown name.

    ``parts`` (default: every part) are looked up in each experiment named.
    """
    jobs = []
    for name in names:
        module = load(name)
        chosen = list(module.PARTS) if not parts else list(parts)
        unknown = [p for p in chosen if p not in module.PARTS]
        if unknown:
            raise InputError(f"experiment {name!r} has no part {unknown[0]!r}; parts: {', '.join(module.PARTS)}")
        jobs += [(name, part, module.PARTS[part]) for part in chosen]
    return jobs


def prepare_out(out: Path) -> Path:
    """Create the output folder and check that files can be written in it, before any work
    (:func:`ssltheory.files.writable_folder`); returns it."""
    try:
        return writable_folder(out)
    except ValueError:
        raise InputError(f"--out {out} exists and is not a directory; give a folder") from None


def run_experiments(
    names: list[str],
    scale: str,
    out: Path,
    seed: int,
    parts: list[str] | None = None,
    *,
    echo: Callable[[str], None] | None = None,
) -> list[Path]:
    """Run the parts of the named experiments at ``scale`` into ``out``; returns the paths written.

    Every part writes whole files (its CSV and PNG), so an experiment that fails leaves the files
    of the parts before it intact. ``echo`` gets a first line once the names and ``out`` are
    checked, then one line per finished part (its time and files; default: printed above the
    progress meter, on stderr).
    """
    if scale not in SCALES:
        raise InputError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    jobs = plan(names, parts)
    out = prepare_out(out)
    written: list[Path] = []
    with (
        Progress(
            len(jobs), f"{'experiment ' + names[0] if len(names) == 1 else 'figures'} ({scale})", unit="part"
        ) as bar,
        ticking(bar),
    ):
        (echo or bar.write)(f"{', '.join(names)}: {len(jobs)} parts, scale {scale}, seed {seed}, writing to {out}")
        for name, part, make in jobs:
            bar.update(0, part=f"{name}/{part}")
            start = time.perf_counter()
            paths = [Path(p) for p in make(scale, out, seed)]
            written += paths
            (echo or bar.write)(
                f"  {name}/{part}: {time.perf_counter() - start:.1f} s -> {', '.join(str(p) for p in paths)}"
            )
            bar.update(1)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m ssltheory.experiments.runner``: the same as ``ssltheory experiment``."""
    from ssltheory.cli import main as cli_main

    return cli_main(["experiment", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
