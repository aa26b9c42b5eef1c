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
