"""Independent oracles: reference computations that share no code with the library's float paths.

Public API (``from ssltheory.testing import oracles``), for checking a statement about
representations against an answer computed another way. Every exact oracle reads each float as
the binary fraction it is (``fractions.Fraction(float)``, float32 widened exactly) and computes
with Python's Fractions only: Gaussian elimination for ranks (:func:`exact_affine_rank`), a small
dense phase-one simplex with Bland's rule for strict separability (:func:`exact_strictly_separable`,
:func:`exact_hulls_intersect`), and plain enumeration for the worst ERM risk of small worlds
(:func:`worst_erm_risk_by_enumeration`). None of them calls ``ssltheory.exact`` (python-flint,
sympy), ``ssltheory.geometry`` (HiGHS) or ``ssltheory.conditions``. Two float helpers are
marked as such: :func:`strict_margins` (a loop) and :func:`hulls_intersect` (a HiGHS LP, for
points far from degenerate).

The statements checked are those of docs/THEORY.md: T1.1 (separability of splits), T1.2
(ideal for linear probes iff invariant with affinely independent class codes), T2 (universal
probes: distinct codes), T3 (worst ERM risk). Sizes: the exact LP grows as (n k) x (k (d + 1));
keep n k d in the hundreds; the enumeration is k^(distinct codes) LPs.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from ssltheory.errors import InputError


def strict_margins(W, b, Z, y) -> list[float]:
    """For each point: own score minus the best other score (> 0: strictly correct). A loop."""
    out = []
    for z, label in zip(np.asarray(Z, dtype=float), y):
        scores = [float(np.dot(w, z) + bj) for w, bj in zip(W, b)]
        out.append(scores[label] - max((s for j, s in enumerate(scores) if j != label), default=-np.inf))
    return out


# ---------------------------------------------------------------- float LP oracle
def hull_common_point(A, B) -> np.ndarray | None:
    """A point in conv(A) and in conv(B), or None: mu, nu >= 0, sum 1 each, with
    sum mu_i a_i = sum nu_j b_j (a HiGHS feasibility LP on A (a, d), B (b, d)).

    A float oracle, for points far from degenerate; :func:`exact_hulls_intersect` is the exact one.
    """
    A, B = np.atleast_2d(np.asarray(A, dtype=float)), np.atleast_2d(np.asarray(B, dtype=float))
    d = A.shape[1]
    eq = np.zeros((d + 2, len(A) + len(B)))
    eq[:d, : len(A)], eq[:d, len(A) :] = A.T, -B.T
    eq[d, : len(A)] = 1
    eq[d + 1, len(A) :] = 1
    res = linprog(
        np.zeros(len(A) + len(B)), A_eq=eq, b_eq=np.r_[np.zeros(d), 1.0, 1.0], bounds=(0, None), method="highs"
    )
    if res.status not in (0, 2):
        raise RuntimeError(f"HiGHS could not decide the hull intersection: {res.message}")
    return res.x[: len(A)] @ A if res.status == 0 else None


def hulls_intersect(A, B) -> bool:
    """Do conv(A) and conv(B) share a point? (:func:`hull_common_point`, a float LP.)"""
    return hull_common_point(A, B) is not None


# ---------------------------------------------------------------- exact rational oracles
def fractions(X) -> list[list[Fraction]]:
    """A float array (rows, cols) as lists of exact Fractions (float32 entries widened exactly)."""
    return [[Fraction(float(v)) for v in row] for row in np.asarray(X, dtype=np.float64)]


def rational_rank(rows: list[list[Fraction]]) -> int:
    """Rank of a matrix (a list of rows of Fractions) by Gaussian elimination."""
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
    """rank[c_1 - c_0, ..., c_{K-1} - c_0] of codes C (K, d), in exact rational arithmetic of the
    float values (THEORY.md T1.2: affinely independent iff this is K - 1)."""
    rows = fractions(C)
    if len(rows) <= 1:
        return 0
    return rational_rank([[a - b for a, b in zip(r, rows[0])] for r in rows[1:]])


def _phase_one_feasible(B: list[list[Fraction]], c: list[Fraction]) -> bool:
    """Is {u >= 0 : B u = c} non-empty? Dense phase-one simplex in Fractions, Bland's rule.

    The tableau holds [B | I | c] (rows with c_i < 0 negated) and the reduced costs of the
    phase-one objective (the sum of the artificial variables), updated by each pivot.
    """
    m, n = len(B), len(B[0])
    zero, one = Fraction(0), Fraction(1)
    rows = []
    for i in range(m):
        sign = -1 if c[i] < 0 else 1
        rows.append([sign * v for v in B[i]] + [one if j == i else zero for j in range(m)] + [sign * c[i]])
    basis = list(range(n, n + m))
    width = n + m
    # reduced costs (and, last, minus the objective): cost 1 on artificials, minus the basic rows
    reduced = [(one if n <= j < width else zero) - sum((rows[i][j] for i in range(m)), zero) for j in range(width + 1)]
    while True:
        entering = next((j for j in range(width) if reduced[j] < 0), None)
        if entering is None:
            return reduced[width] == 0  # the objective (sum of artificials) reached 0
        ratios = [(rows[i][-1] / rows[i][entering], basis[i], i) for i in range(m) if rows[i][entering] > 0]
        if not ratios:  # cannot happen for a bounded phase-one problem
            return False
        _, _, leave = min(ratios)
        p = rows[leave][entering]
        pivot_row = [v / p for v in rows[leave]]
        rows[leave] = pivot_row
        support = [j for j, v in enumerate(pivot_row) if v != 0]
        for target in [*rows[:leave], *rows[leave + 1 :], reduced]:
            f = target[entering]
            if f != 0:
                for j in support:
                    target[j] -= f * pivot_row[j]
        basis[leave] = entering


def _score_difference(x: list[Fraction], a: int, b: int, k: int) -> list[Fraction]:
    """The row r with r . v = (v_a - v_b) . x for stacked scores v = (v_0, ..., v_{k-1}) (k x len(x))."""
    width = len(x)
    row = [Fraction(0)] * (k * width)
    for t in range(width):
        row[a * width + t] += x[t]
        row[b * width + t] -= x[t]
    return row


def _scores_exist(strict: list, weak: list, equal: list) -> bool:
    """Is there v with r . v > 0 (strict rows), >= 0 (weak rows), = 0 (equal rows)? Exact.

    Motzkin's transposition theorem [derived]: there is none iff some u >= 0 with sum(u) = 1 (on
    the strict rows), u' >= 0 (weak rows) and free w (equal rows, as w+ - w-) give
    sum u_i r_i + sum u'_j r'_j + sum w_k r''_k = 0; that is decided by :func:`_phase_one_feasible`.
    """
    if not strict:
        return True  # v = 0
    columns = [*strict, *weak, *equal, *([-v for v in row] for row in equal)]
    n_rows = len(strict[0])
    B = [[col[r] for col in columns] for r in range(n_rows)]
    B.append([Fraction(1)] * len(strict) + [Fraction(0)] * (len(columns) - len(strict)))
    return not _phase_one_feasible(B, [Fraction(0)] * n_rows + [Fraction(1)])


def exact_strictly_separable(Z, y) -> bool:
    """Does an affine argmax probe realize labels y (n,) on Z (n, d) strictly? Exact.

    The system (v_{y_i} - v_j).(z_i, 1) > 0 (all i, j != y_i), decided in the exact binary
    fractions of Z by a transposition theorem and our own phase-one simplex (:func:`_scores_exist`).
    """
    y = [int(v) for v in y]
    labels = sorted(set(y))
    if len(labels) <= 1:
        return True
    index = {lab: k for k, lab in enumerate(labels)}
    k = len(labels)
    X = [row + [Fraction(1)] for row in fractions(Z)]
    strict = [_score_difference(X[i], index[yi], j, k) for i, yi in enumerate(y) for j in range(k) if j != index[yi]]
    return _scores_exist(strict, [], [])


def exact_hulls_intersect(A, B) -> bool:
    """conv(A) and conv(B) share a point, in exact arithmetic (T1.1: A and B are then not
    strictly separable). A (a, d), B (b, d) arrays of floats."""
    A, B = np.atleast_2d(A), np.atleast_2d(B)
    return not exact_strictly_separable(np.vstack([A, B]), [1] * len(A) + [0] * len(B))


def exact_is_ideal(Z, labels, probe: str = "linear") -> bool:
    """The exact verdict of THEORY.md T1.2 / T2 for points Z (n, d) with class ids labels (n,):
    invariant (every point of a class equals its first) and affinely independent class codes
    (``probe="linear"``) or invariant and pairwise distinct class codes (``"universal"``)."""
    if probe not in ("linear", "universal"):
        raise InputError(f"probe must be 'linear' or 'universal', got {probe!r}")
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
    """sum_m lambda_m c_m = 0 and sum_m lambda_m = 0 exactly, not all zero (THEORY.md T1.3), for
    codes C (K, d) and lambda given as {class: "p/q" or Fraction or int} (a certificate's
    ``lambda_exact``)."""
    lam = {int(m): Fraction(v) for m, v in lambda_exact.items()}
    rows = fractions(C)
    if sum(lam.values()) != 0 or not any(lam.values()):
        return False
    return all(sum(v * rows[m][j] for m, v in lam.items()) == 0 for j in range(len(rows[0])))


def _linear_outcomes(points: list[list[Fraction]], k: int):
    """Every outcome an affine argmax probe can have on the distinct codes: per code a label that
    scores strictly highest, or None (a tie at the top: correct for no label). Exact."""
    X = [row + [Fraction(1)] for row in points]
    choices = [*range(k), *itertools.combinations(range(k), 2)]  # a strict winner, or a tied top pair
    seen = set()
    for pattern in itertools.product(choices, repeat=len(X)):
        strict, weak, equal = [], [], []
        for x, choice in zip(X, pattern):
            if isinstance(choice, int):
                strict += [_score_difference(x, choice, j, k) for j in range(k) if j != choice]
            else:
                a, b = choice
                equal.append(_score_difference(x, a, b, k))
                weak += [_score_difference(x, a, j, k) for j in range(k) if j not in choice]
        outcome = tuple(c if isinstance(c, int) else None for c in pattern)
        if outcome not in seen and _scores_exist(strict, weak, equal):
            seen.add(outcome)
            yield outcome


def worst_erm_risk_by_enumeration(Z, y, sample, probe: str = "linear", p=None, n_labels: int | None = None) -> Fraction:
    """sup over f in ERM_F(D) of the 0-1 risk R(f), by enumerating every outcome (THEORY.md T3).

    A probe of either family acts on the code, so it is enumerated by what it does on each distinct
    code of Z. ``"universal"`` (every function of z): any label per code. ``"linear"`` (affine
    argmax, correct only where the point's label scores strictly highest, THEORY.md section 0): per
    code a strict winner or a tie at the top (then every point there is an error), kept when some
    scores realize it (exact, :func:`_scores_exist`). Among the outcomes with the fewest errors on the
    sample D (counted with repetitions; zero when some probe fits D: the ERM set) the largest risk
    sum_i p_i [f(z_i) != y_i] is returned, exactly.

    Args:
        Z: (n, d) codes of the whole (small) world.
        y: (n,) labels of every point.
        sample: indices of the labelled points D (repetitions allowed).
        probe: "linear" or "universal".
        p: (n,) point masses (floats, read exactly, or Fractions), default uniform.
        n_labels: k, default max(y) + 1 (at least 2).

    Cost: (k + k(k-1)/2)^(distinct codes) exact LPs for linear probes; meant for a handful of codes.
    """
    if probe not in ("linear", "universal"):
        raise InputError(f"probe must be 'linear' or 'universal', got {probe!r}")
    rows = [tuple(r) for r in fractions(Z)]
    y = [int(v) for v in y]
    n = len(rows)
    p = [Fraction(1, n)] * n if p is None else [v if isinstance(v, Fraction) else Fraction(float(v)) for v in p]
    k = max(max(y) + 1, 2) if n_labels is None else int(n_labels)
    distinct = sorted(set(rows))
    code_of = [distinct.index(r) for r in rows]
    if probe == "linear":
        outcomes = _linear_outcomes([list(r) for r in distinct], k)
    else:
        outcomes = itertools.product(range(k), repeat=len(distinct))
    best_errors, worst = None, Fraction(0)
    for outcome in outcomes:
        errors = sum(outcome[code_of[i]] != y[i] for i in sample)
        risk = sum((p[i] for i in range(n) if outcome[code_of[i]] != y[i]), Fraction(0))
        if best_errors is None or errors < best_errors:
            best_errors, worst = errors, risk
        elif errors == best_errors:
            worst = max(worst, risk)
    return worst
