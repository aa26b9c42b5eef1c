"""The subcommands of ``ssltheory``: each module parses its arguments, calls the library and prints.

Argument types shared by several commands live here, so that each is checked one way.
"""

from __future__ import annotations

import argparse


def seed_argument(text: str) -> int:
    """argparse type of ``--seed``: an integer >= 0 (numpy's generators refuse negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def add_tolerance_argument(parser: argparse.ArgumentParser) -> None:
    """``--tol``, read the same way by ``check``, ``score`` and ``demo`` (the one tolerance rule)."""
    parser.add_argument(
        "--tol",
        type=float,
        default=None,
        metavar="T",
        help="relative tolerance in [0, 1): values at or below T x (largest singular value of the centred class codes) "
        "count as 0 (default: the one rule of verdicts on views, max(K, d) x machine epsilon of the features' dtype as "
        "given)",
    )
