"""Independent reference computations shared by several test files (plain loops, no library code)."""

from __future__ import annotations

import numpy as np


def strict_margins(W, b, Z, y) -> list[float]:
    """For each point: own score minus the best other score (> 0: strictly correct). A loop."""
    out = []
    for z, label in zip(np.asarray(Z, dtype=float), y):
        scores = [float(np.dot(w, z) + bj) for w, bj in zip(W, b)]
        out.append(scores[label] - max((s for j, s in enumerate(scores) if j != label), default=-np.inf))
    return out
