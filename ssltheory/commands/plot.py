"""``ssltheory plot RUN``: a run's loss and its monitored ideal-ness scores against the step.

    ssltheory train --method simclr --data patches --steps 600 --monitor-every 200 --out runs/simclr
    ssltheory plot runs/simclr                  # writes runs/simclr/monitor.png

The figure is `ssltheory.monitor.plot_run`'s. Exit 0, or 2 when the run has no monitored scores.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory plot``."""
    parser.add_argument("run", metavar="RUN", help="a run directory of `ssltheory train --monitor-every N`")
    parser.add_argument("--out", default=None, help="the PNG to write (default RUN/monitor.png)")


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print its path."""
    from ssltheory.monitor import plot_run

    print(plot_run(args.run, args.out))
    return 0
