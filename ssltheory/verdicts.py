"""Verdicts of a claim from seeded runs: the difference of two arms against its tolerance.

A claim "arm a beats arm b" is judged on per-seed values (accuracies as fractions):
:func:`compare_arms` gives the difference of means with its tolerance (twice the standard error
of the difference, at least half a point, or a fixed number), :func:`direction` where the
difference lies against the tolerance, :func:`judge` the verdict of one or several differences,
:func:`resolution_note` the sentence that says which difference decided it, and
:func:`seeds_to_resolve` how many seeds would resolve a difference at the measured spreads
[derived rule, docs/THEORY.md section 3].

Used by ``paper_checks`` (the paper's claims) and ``experiments/paper_analogues.py`` (the
analogues of its tables), which therefore judge alike; numpy and the standard library only.
"""

from __future__ import annotations

import math

import numpy as np

from ssltheory.errors import InputError

__all__ = ["compare_arms", "direction", "judge", "resolution_note", "seeds_to_resolve"]


def compare_arms(a, b, tolerance: float | None = None) -> dict:
    """Difference of means a - b (the claim says a > b) with its tolerance, the spreads and the
    difference's direction (`direction`). ``tolerance`` None: twice the standard error of the
    difference over seeds, at least half a point (0.005); a number: that fixed tolerance.

    Args:
        a, b: per-seed values of the two arms (accuracies as fractions).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    tol = tolerance
    if tol is None:
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) if len(a) > 1 and len(b) > 1 else 0.0
        tol = max(2 * se, 0.005)
    return {
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "diff": diff,
        "tolerance": tol,
        "std_a": float(a.std(ddof=1)) if len(a) > 1 else None,
        "std_b": float(b.std(ddof=1)) if len(b) > 1 else None,
        "values_a": a.round(4).tolist(),
        "values_b": b.round(4).tolist(),
        "direction": direction(diff, tol),
    }


def direction(diff: float, tolerance: float) -> str:
    """Where a difference a - b lies against its tolerance [derived rule, docs/THEORY.md section 3]:
    ``"for"`` (above +tolerance: resolved in the claimed direction), ``"against"`` (below
    -tolerance: resolved against it) or ``"within"`` (inside the band, either sign)."""
    if diff > tolerance:
        return "for"
    if diff < -tolerance:
        return "against"
    return "within"


def judge(*cmps: dict) -> str:
    """The verdict of a claim from its compared differences (each with ``diff`` and ``tolerance``):
    ``fail`` when some difference is resolved against the claim, ``pass`` only when every one is
    resolved for it, ``inconclusive`` otherwise (a difference within its tolerance proves nothing,
    whatever its sign). Used when a check runs and when stored results are re-rendered."""
    ways = [direction(float(c["diff"]), float(c["tolerance"])) for c in cmps]
    if not ways:
        raise InputError("judge needs at least one comparison")
    if "against" in ways:
        return "fail"
    return "pass" if all(w == "for" for w in ways) else "inconclusive"


def resolution_note(*cmps: dict) -> str:
    """Suffix for a claim's measured cell, naming the difference that decides :func:`judge`'s
    verdict: for ``fail`` the worst one resolved against the claim, for ``pass`` that every one is
    beyond its tolerance, for ``inconclusive`` the weakest within its tolerance (docs/THEORY.md
    section 3) [derived].

    Args:
        cmps: comparisons with ``diff`` and ``tolerance`` (fractions of accuracy), as in ``judge``.

    Returns:
        str starting ``" [resolved"``, ``" [against"`` or ``" [unresolved"``.
    """
    verdict = judge(*cmps)
    worst = min(cmps, key=lambda c: float(c["diff"]) / float(c["tolerance"]))
    if verdict == "fail":
        return (
            f" [against the claim: difference {100 * worst['diff']:+.1f} "
            f"pt, beyond the {100 * worst['tolerance']:.1f} pt tolerance]"
        )
    if verdict == "pass":
        return " [resolved: every difference beyond its tolerance]"
    weakest = min(
        (c for c in cmps if direction(float(c["diff"]), float(c["tolerance"])) == "within"),
        key=lambda c: float(c["diff"]) / float(c["tolerance"]),
    )
    return (
        f" [unresolved: difference {100 * weakest['diff']:+.1f} pt "
        f"within the {100 * weakest['tolerance']:.1f} pt tolerance]"
    )


def seeds_to_resolve(cmp: dict, max_seeds: int = 1000) -> int | None:
    """Seeds per arm at which twice the standard error of the difference, at the measured spreads,
    falls below the measured |difference| (and the half-point floor too): the smallest n with
    2 sqrt((s_a^2 + s_b^2) / n) < |diff|. None when no n up to ``max_seeds`` would (a difference
    of about zero, or below the floor)."""
    diff, sa, sb = abs(float(cmp["diff"])), cmp.get("std_a"), cmp.get("std_b")
    if sa is None or sb is None or diff <= 0.005:
        return None
    n = math.floor(4 * (sa**2 + sb**2) / diff**2) + 1
    return max(n, 2) if n <= max_seeds else None
