"""Independent reference computations shared by the test files (plain loops, no library code).

Exact oracles read every float as the binary fraction it is (``fractions.Fraction(float)``) and
compute with Python's Fractions: Gaussian elimination for ranks, and a small dense simplex
(phase one, Bland's rule) of our own for strict separability. They share no code path with
``ssltheory.exact`` (python-flint, sympy) or ``ssltheory.geometry`` (HiGHS).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.optimize import linprog


def strict_margins(W, b, Z, y) -> list[float]:
    """For each point: own score minus the best other score (> 0: strictly correct). A loop."""
    out = []
    for z, label in zip(np.asarray(Z, dtype=float), y):
        scores = [float(np.dot(w, z) + bj) for w, bj in zip(W, b)]
        out.append(scores[label] - max((s for j, s in enumerate(scores) if j != label), default=-np.inf))
    return out


# ---------------------------------------------------------------- float LP oracle
def hulls_intersect(A, B) -> bool:
    """Is there mu, nu >= 0, sum 1 each, with sum mu_i a_i = sum nu_j b_j? (HiGHS feasibility LP)

    A float oracle, for tests whose points are far from degenerate; :func:`exact_hulls_intersect`
    is the exact one.
    """
    A, B = np.atleast_2d(np.asarray(A, dtype=float)), np.atleast_2d(np.asarray(B, dtype=float))
    d = A.shape[1]
    eq = np.zeros((d + 2, len(A) + len(B)))
    eq[:d, : len(A)], eq[:d, len(A):] = A.T, -B.T
    eq[d, : len(A)] = 1
    eq[d + 1, len(A):] = 1
    res = linprog(np.zeros(len(A) + len(B)), A_eq=eq, b_eq=np.r_[np.zeros(d), 1.0, 1.0], bounds=(0, None), method="highs")
    assert res.status in (0, 2), res.message
    return res.status == 0


# ---------------------------------------------------------------- exact rational oracles
def fractions(X) -> list[list[Fraction]]:
    """A float array (rows, cols) as lists of exact Fractions (float32 entries widened exactly)."""
    return [[Fraction(float(v)) for v in row] for row in np.asarray(X, dtype=np.float64)]


def rational_rank(rows: list[list[Fraction]]) -> int:
    """Rank of a matrix of Fractions by Gaussian elimination."""
    M = [list(r) for r in rows]
    rank, n_cols = 0, len(M[0]) if M else 0
    for col in range(n_cols):
        pivot = next((i for i in range(rank, len(M)) if M[i][col] != 0), None)
        if pivot is None:
            continue
        M[rank], M[pivot] = M[pivot], M[rank]
        for i in range(len(M)):
            if i != rank and M[i][col] != 0:
                f = M[i][col] / M[rank][col]
                M[i] = [a - f * b for a, b in zip(M[i], M[rank])]
        rank += 1
    return rank


def exact_affine_rank(C) -> int:
    """rank[c_1 - c_0, ..., c_{K-1} - c_0] in exact rational arithmetic of the float values."""
    rows = fractions(C)
    if len(rows) <= 1:
        return 0
    return rational_rank([[a - b for a, b in zip(r, rows[0])] for r in rows[1:]])


def _phase_one_feasible(B: list[list[Fraction]], c: list[Fraction]) -> bool:
    """Is {u >= 0 : B u = c} non-empty? Dense phase-one simplex in Fractions, Bland's rule."""
    m, n = len(B), len(B[0])
    rows = []
    for i in range(m):
        sign = -1 if c[i] < 0 else 1
        rows.append([sign * v for v in B[i]] + [Fraction(int(j == i)) for j in range(m)] + [sign * c[i]])
    basis = list(range(n, n + m))
    width = n + m
    while True:
        # reduced costs of the phase-one objective (sum of artificials)
        cost = [Fraction(int(j >= n)) for j in range(width)]
        reduced = [cost[j] - sum(cost[basis[i]] * rows[i][j] for i in range(m)) for j in range(width)]
        entering = next((j for j in range(width) if reduced[j] < 0 and j not in basis), None)
        if entering is None:
            return sum(rows[i][-1] for i in range(m) if basis[i] >= n) == 0
        ratios = [(rows[i][-1] / rows[i][entering], basis[i], i) for i in range(m) if rows[i][entering] > 0]
        if not ratios:  # cannot happen for a bounded phase-one problem
            return False
        _, _, leave = min(ratios)
        p = rows[leave][entering]
        rows[leave] = [v / p for v in rows[leave]]
        for i in range(m):
            if i != leave and rows[i][entering] != 0:
                f = rows[i][entering]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[leave])]
        basis[leave] = entering


def exact_strictly_separable(Z, y) -> bool:
    """Does an affine argmax probe realize labels y (n,) on Z (n, d) strictly? Exact.

    Farkas [derived]: the system (v_{y_i} - v_j).(z_i, 1) >= 1 (all i, j != y_i) is infeasible iff
    some u >= 0 with sum(u) = 1 has sum_{i,j} u_ij (e_{y_i} - e_j) (z_i, 1) = 0; that is decided by
    :func:`_phase_one_feasible` on the exact binary fractions of Z.
    """
    y = [int(v) for v in y]
    labels = sorted(set(y))
    if len(labels) <= 1:
        return True
    index = {lab: k for k, lab in enumerate(labels)}
    k = len(labels)
    X = [row + [Fraction(1)] for row in fractions(Z)]
    width = len(X[0])
    columns = []  # one column of B per constraint (i, j)
    for i, yi in enumerate(y):
        for j in range(k):
            if j == index[yi]:
                continue
            col = [Fraction(0)] * (k * width)
            for t in range(width):
                col[index[yi] * width + t] += X[i][t]
                col[j * width + t] -= X[i][t]
            columns.append(col)
    B = [[col[r] for col in columns] for r in range(k * width)] + [[Fraction(1)] * len(columns)]
    c = [Fraction(0)] * (k * width) + [Fraction(1)]
    return not _phase_one_feasible(B, c)


def exact_hulls_intersect(A, B) -> bool:
    """conv(A) and conv(B) share a point, in exact arithmetic (not strictly separable)."""
    A, B = np.atleast_2d(A), np.atleast_2d(B)
    return not exact_strictly_separable(np.vstack([A, B]), [1] * len(A) + [0] * len(B))


def exact_is_ideal(Z, labels, probe: str = "linear") -> bool:
    """The exact verdict of THEORY.md T1 / T2 for class ids 0..K-1: invariant and affinely
    independent codes (linear) or invariant and distinct codes (universal)."""
    rows = fractions(Z)
    labels = [int(v) for v in labels]
    code: dict[int, list[Fraction]] = {}
    for row, m in zip(rows, labels):
        if code.setdefault(m, row) != row:
            return False
    codes = [code[m] for m in sorted(code)]
    if probe == "universal":
        return len({tuple(c) for c in codes}) == len(codes)
    return rational_rank([[a - b for a, b in zip(c, codes[0])] for c in codes[1:]]) == len(codes) - 1


def exact_dependence_holds(C, lambda_exact: dict) -> bool:
    """sum_m lambda_m c_m = 0 and sum_m lambda_m = 0 exactly, lambda given as {class: "p/q"}."""
    lam = {int(m): Fraction(v) for m, v in lambda_exact.items()}
    rows = fractions(C)
    if sum(lam.values()) != 0 or not any(lam.values()):
        return False
    return all(sum(v * rows[m][j] for m, v in lam.items()) == 0 for j in range(len(rows[0])))
