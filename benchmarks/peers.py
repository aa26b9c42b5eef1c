"""``ssltheory bench --peers``: every SSL loss lightly also implements, timed against lightly's.

The cases and the timing live in :mod:`ssltheory.benchmarks.losses` (``peer_cases``, ``run_peers``); this
module is the benchmark entry the command line imports. Rows ``peer_loss_*`` are pending when
lightly does not import (README, "Benchmarks": the separate environment where it does).
"""

from __future__ import annotations

from ssltheory.benchmarks.losses import run_peers as run

NAME = "peers"
__all__ = ["run", "NAME"]
