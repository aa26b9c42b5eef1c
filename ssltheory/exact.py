"""Exact rational arithmetic for the certificates: floats taken as the binary fractions they are.

Every float is a rational p / 2^k, so a float array is an exact rational matrix; python-flint
(FLINT's ``fmpq_mat``: reduced row echelon form, rank, products) decides rank, affine
dependence and probe margins on it with no rounding at all, and sympy's rational simplex
(``sympy.solvers.simplex.linprog``) decides a strict-separability LP exactly when the quick
exact checks below do not settle it.

- :func:`rational_matrix`: float array -> ``flint.fmpq_mat``, entry for entry (exact).
- :func:`exact_affine_rank`: rank[c_1 - c_0, ..., c_{K-1} - c_0] in rationals [paper, T1.2(c)].
- :func:`exact_dependence`: a *circuit* (an inclusion-minimal affinely dependent set of codes)
  and its rational lambda, with sum_m lambda_m c_m = 0, sum_m lambda_m = 0, exactly (T1.3).
- :func:`dependence_holds`: re-checks such a lambda in rationals (the recipe anyone can follow).
- :func:`probe_is_strict`: an affine argmax probe (W, b) has strictly positive margins on every
  point, in rationals.
- :func:`farkas_holds`: u >= 0 with A^T u = 0 and 1^T u = 1 exactly, the proof that
  A x >= 1 has no solution (Farkas' lemma) [derived].
- :func:`strictly_separable`: the exact LP decision of strict argmax realizability.

Nothing here is at a tolerance: each function either proves its statement or says it could not.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ssltheory.errors import InputError

if TYPE_CHECKING:
    import flint

# flint is imported inside the functions that use it: it costs 40 ms, and most verdicts never need it.

#: largest LP (constraint rows x variables) handed to sympy's rational simplex
EXACT_LP_MAX_ENTRIES = 1_000


def flint_missing() -> str | None:
    """None when python-flint can be imported; otherwise the one-line reason why rational
    verification is replaced by the float LP (``float-lp``) wherever ``auto`` would have run it."""
    try:
        import flint  # noqa: F401
    except ImportError:
        return "python-flint is not installed, so the exact (rational) check was replaced by HiGHS's LP (float-lp)"
    return None


def rational_matrix(A) -> flint.fmpq_mat:
    """The float matrix A (m, n) as an exact rational matrix (each entry its binary fraction)."""
    import flint

    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise InputError(f"expected a 2-D array, got shape {A.shape}")
    m, n = A.shape
    return flint.fmpq_mat(m, n, [flint.fmpq(*x.as_integer_ratio()) for x in A.ravel().tolist()])


def _fraction(q) -> Fraction:
    return Fraction(int(q.p), int(q.q))


def _affine_matrix(C, cols=None) -> flint.fmpq_mat:
    """(d + 1, |cols|) rational matrix with columns (c_m, 1), m in cols (default all).

    C is a float array (K, d) or a ``flint.fmpq_mat`` (K, d) of rational codes.
    """
    import flint

    if isinstance(C, flint.fmpq_mat):
        K, d = C.nrows(), C.ncols()
        cols = range(K) if cols is None else [int(c) for c in cols]
        entries = [C[m, j] for j in range(d) for m in cols] + [flint.fmpq(1)] * len(cols)
        return flint.fmpq_mat(d + 1, len(cols), entries)
    C = np.asarray(C, dtype=np.float64)
    if cols is not None:
        C = C[np.asarray(cols, dtype=np.int64)]
    return rational_matrix(np.vstack([C.T, np.ones(C.shape[0])]))


def exact_affine_rank(C) -> int:
    """Affine rank of the codes C (K, d) in exact rational arithmetic: rank([C^T; 1]) - 1.

    C: float array (K, d) (each float its exact binary fraction) or a ``flint.fmpq_mat``.
    """

    return int(_affine_matrix(C).rank()) - 1


def class_means(Z, labels, n_classes: int) -> flint.fmpq_mat:
    """The exact rational class means (K, d) of float codes Z (n, d) under labels (n,) in 0..K-1."""
    import flint

    labels = np.asarray(labels, dtype=np.int64)
    Z = np.asarray(Z, dtype=np.float64)
    entries = []
    for m in range(n_classes):
        rows = Z[labels == m]
        total = flint.fmpq_mat(1, rows.shape[0], [1] * rows.shape[0]) * rational_matrix(rows)
        entries.extend(total[0, j] / rows.shape[0] for j in range(Z.shape[1]))
    return flint.fmpq_mat(n_classes, Z.shape[1], entries)


def rational_rows(C) -> list[tuple]:
    """Hashable exact rows of a float array or ``fmpq_mat`` (K, d): tuples of (p, q) pairs."""
    import flint

    if isinstance(C, flint.fmpq_mat):
        return [tuple((int(C[m, j].p), int(C[m, j].q)) for j in range(C.ncols())) for m in range(C.nrows())]
    return [tuple(float(x).as_integer_ratio() for x in row) for row in np.asarray(C, dtype=np.float64).tolist()]


def exact_dependence(C, support=None) -> tuple[np.ndarray, list[Fraction]] | None:
    """An exact circuit of the codes: classes S and rationals lambda_S, or None if independent.

    [paper, T1.3; derived] Columns (c_m, 1) of the (d + 1) x K matrix are linearly dependent iff
    the codes are affinely dependent. In the reduced row echelon form R of the matrix (restricted
    to ``support`` when given), a non-pivot column e equals sum_b R[b, e] * (pivot column b), so
    lambda_e = 1, lambda_pivot(b) = -R[b, e] is a dependence whose support is a *fundamental
    circuit*: no proper subset of it is dependent. Its size is at most affine rank + 2. Among
    the non-pivot columns the one with the fewest nonzeros is taken.

    Args:
        C: (K, d) float codes (or a ``flint.fmpq_mat`` of rational codes).
        support: optional class indices to search within (e.g. a float estimate of the support).

    Returns:
        (classes (s,) int64 increasing, lambda as s Fractions, scaled so the positive ones sum
        to 1, the first class's negative), or None when the columns (restricted to ``support``) are independent.
    """
    import flint

    K = C.nrows() if isinstance(C, flint.fmpq_mat) else np.asarray(C).shape[0]
    cols = np.arange(K) if support is None else np.asarray(sorted(set(int(s) for s in support)), dtype=np.int64)
    R, rank = _affine_matrix(C, cols).rref()
    rank = int(rank)
    if rank == cols.size:
        return None
    pivots, row = [], 0
    for j in range(cols.size):
        if row < rank and R[row, j] != 0:
            pivots.append(j)
            row += 1
    free = [j for j in range(cols.size) if j not in set(pivots)]
    best = None
    for e in free:
        nonzero = [b for b in range(rank) if R[b, e] != 0]
        if best is None or len(nonzero) < len(best[1]):
            best = (e, nonzero)
    e, nonzero = best
    lam = {int(cols[e]): Fraction(1)}
    for b in nonzero:
        lam[int(cols[pivots[b]])] = -_fraction(R[b, e])
    classes = np.array(sorted(lam), dtype=np.int64)
    values = [lam[int(m)] for m in classes]
    if values[0] > 0:  # orientation: the first class of the circuit gets label 0 (lambda < 0)
        values = [-v for v in values]
    positive = sum(v for v in values if v > 0)
    return classes, [v / positive for v in values]


def dependence_holds(C, classes, lam) -> bool:
    """True iff sum_s lam_s c_{classes_s} = 0 and sum_s lam_s = 0 exactly, with some lam_s != 0.

    The recipe to check an affine-dependence certificate by hand: read every code as the exact
    binary fraction of its float, multiply by the rational lambda and add. Then the hull of the
    classes with lambda > 0 and the hull of those with lambda < 0 share the point
    sum_{lambda_s > 0} lambda_s c_s (the lambdas are scaled so the positive ones sum to 1), so
    the task "lambda > 0 versus the rest" is realized by no affine argmax probe (T1.3).
    """
    lam = [Fraction(v) for v in lam]
    if not any(lam) or sum(lam) != 0:
        return False
    C = np.asarray(C, dtype=np.float64)[np.asarray(classes, dtype=np.int64)]
    for j in range(C.shape[1]):
        if sum(v * Fraction(float(x)) for v, x in zip(lam, C[:, j].tolist()) if v) != 0:
            return False
    return True


def probe_is_strict(W, b, Z, y) -> bool:
    """True iff (W z_i + b)_{y_i} > (W z_i + b)_j for every point i and label j != y_i, exactly.

    Args:
        W: (k, d) float weights; b: (k,) float biases; Z: (n, d) float codes; y: (n,) labels < k.
    """
    import flint

    W = np.asarray(W, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    k = W.shape[0]
    if k == 1:
        return True
    if not (np.isfinite(W).all() and np.isfinite(np.asarray(b, dtype=np.float64)).all()):
        return False  # weights that overflowed (codes near float64's bottom): no real probe to check
    scores = rational_matrix(Z) * rational_matrix(W).transpose()  # (n, k), exact
    b_q = [flint.fmpq(*float(v).as_integer_ratio()) for v in np.asarray(b, dtype=np.float64).tolist()]
    for i, label in enumerate(y.tolist()):
        own = scores[i, label] + b_q[label]
        for j in range(k):
            if j != label and not own > scores[i, j] + b_q[j]:
                return False
    return True


def farkas_holds(A, u) -> bool:
    """True iff u >= 0, A^T u = 0 and sum(u) = 1 exactly: then A x >= 1 has no solution.

    [derived, Farkas' lemma] If A x >= 1 then 0 = (A^T u) . x = u . (A x) >= sum(u) = 1.

    Args:
        A: (m, n) float constraint matrix; u: m rationals (Fractions or ints).
    """
    u = [Fraction(v) for v in u]
    if any(v < 0 for v in u) or sum(u) != 1:
        return False
    A = np.asarray(A, dtype=np.float64)
    rows = [i for i, v in enumerate(u) if v]
    for j in range(A.shape[1]):
        if sum(u[i] * Fraction(float(A[i, j])) for i in rows) != 0:
            return False
    return True


def farkas_on_support(A, rows) -> list[Fraction] | None:
    """Exact u >= 0 supported on ``rows`` with A^T u = 0, sum(u) = 1, or None if none was found.

    Solves the equality system [A_T^T; 1^T] u_T = e_last exactly (reduced row echelon form, free
    variables 0) and keeps the solution when it is non-negative; a float LP supplies ``rows``.
    """
    A = np.asarray(A, dtype=np.float64)
    rows = [int(r) for r in rows]
    if not rows:
        return None
    sub = np.vstack([A[rows].T, np.ones(len(rows))])  # (n + 1, |T|)
    rhs = np.zeros((sub.shape[0], 1))
    rhs[-1, 0] = 1.0
    R, rank = rational_matrix(np.hstack([sub, rhs])).rref()
    rank, width = int(rank), len(rows)
    sol = [Fraction(0)] * width
    row = 0
    for j in range(width + 1):
        if row < rank and R[row, j] != 0:
            if j == width:  # a pivot in the right-hand side: inconsistent
                return None
            sol[j] = _fraction(R[row, width])
            row += 1
    u = [Fraction(0)] * A.shape[0]
    for r, v in zip(rows, sol):
        u[r] = v
    return u if farkas_holds(A, u) else None


def strictly_separable(A) -> tuple[bool, list[Fraction] | None] | None:
    """Exact LP: does A x >= 1 (x free) have a solution? None when the LP is too large.

    Returns (True, x as Fractions) or (False, None).

    [derived] Solved by sympy's rational simplex (``sympy.solvers.simplex.linprog``) on the
    exact binary fractions of A, for at most EXACT_LP_MAX_ENTRIES entries of A.
    """
    from sympy import (  # imported here: sympy costs half a second to import
        Matrix,
        Rational,
        denom as sympy_denom,
        numer as sympy_numer,
    )
    from sympy.solvers.simplex import InfeasibleLPError, linprog

    A = np.asarray(A, dtype=np.float64)
    m, n = A.shape
    if m * n > EXACT_LP_MAX_ENTRIES:
        return None
    A_ub = Matrix(m, n, [-Rational(*x.as_integer_ratio()) for x in A.ravel().tolist()])
    # x = x_plus - x_minus with both >= 0 (sympy's default bounds): its free-variable bounds
    # option reports some feasible systems as infeasible
    try:
        _, x = linprog(Matrix([[0] * (2 * n)]), A_ub.row_join(-A_ub), Matrix([-1] * m))
    except InfeasibleLPError:
        return False, None
    x = [Fraction(int(sympy_numer(v)), int(sympy_denom(v))) for v in x]
    return True, [a - b for a, b in zip(x[:n], x[n:])]
