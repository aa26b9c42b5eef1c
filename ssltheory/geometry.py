"""Convex geometry of class codes: affine rank, Radon splits, exact LP separability, exact probes.

THEORY.md T1 [paper Thm 1 in spirit; proof by separating hyperplanes and Radon]:

- ``affine_rank``: rank[c_1 - c_0, ..., c_{K-1} - c_0] at a stated tolerance; the codes are
  affinely independent iff it equals K - 1 (T1.2(c)).
- ``radon_split``: a nonzero lambda with sum_m lambda_m c_m = 0 and sum_m lambda_m = 0 (a null
  vector of the (d+1) x K matrix with columns (c_m, 1)); the task "lambda_m > 0 versus the rest"
  is not LIN-realizable because both hulls contain the same point (T1.3, failure certificate).
- ``linearly_separable`` / ``separating_probe``: exact LP feasibility (scipy HiGHS) of a strict
  affine argmax probe (T1.1; the LIN family of THEORY.md section 0).
- ``pseudo_inverse_probe``: W, b with W c_m + b = e_{g(m)} (T1.3, success certificate).
- ``probe_predict``: argmax_j (W z + b)_j.

Example::

    >>> C = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])   # collinear codes (span 1; T1.4 uses (0,1),(1,1),(2,1))
    >>> affine_rank(C)
    1
    >>> radon_split(C).task.tolist()       # the middle class versus the ends
    [0, 1, 0]
    >>> linearly_separable(C, [0, 1, 0])
    False
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from ssltheory._validate import as_features, as_labels, as_tolerance


# ------------------------------------------------------------------------ tolerance and rank
def default_rtol(n_rows: int, dim: int, dtype=np.float64) -> float:
    """The default relative tolerance: max(K, d) * eps(dtype).

    eps is float32's machine epsilon (1.19e-7) for float32 data and float64's (2.22e-16)
    otherwise; this is numpy's ``matrix_rank`` rule. A singular value counts as zero when it is
    at most ``rtol * s_max`` (s_max the largest singular value of the centred code matrix).
    """
    eps = np.finfo(np.float32 if np.dtype(dtype) == np.float32 else np.float64).eps
    return float(max(n_rows, dim) * eps)


def _centred_singular_values(C: np.ndarray) -> np.ndarray:
    """Singular values (descending, min(K, d) of them) of C - mean(C), as float64.

    The centring is done in float64; the SVD then runs in C's precision (float32 for float32
    input, float64 otherwise), matching the eps of the default tolerance and halving the cost
    for float32 features.
    """
    work = np.float32 if C.dtype == np.float32 else np.float64
    centred = np.asarray(C, dtype=np.float64)
    centred = (centred - centred.mean(axis=0)).astype(work, copy=False)
    try:
        s = sla.svd(centred, compute_uv=False, check_finite=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:  # gesdd can fail to converge where gesvd does not
        s = sla.svd(centred, compute_uv=False, check_finite=False, lapack_driver="gesvd")
    return s.astype(np.float64)


def _rank_from_singular_values(s: np.ndarray, n_rows: int, rtol: float) -> tuple[int, float]:
    """Affine rank (capped at K - 1) and the absolute threshold rtol * s_max it used."""
    threshold = rtol * float(s[0]) if s.size else 0.0
    return min(int((s > threshold).sum()), n_rows - 1), threshold


def affine_singular_values(C) -> np.ndarray:
    """Singular values of the centred code matrix C - mean(C), descending, min(K, d) of them.

    The affine rank of the codes is the number of these above the tolerance; the K-th one (when
    K <= d) is zero in exact arithmetic because the rows of C - mean(C) sum to zero. Computed
    in float32 for float32 C, else in float64.

    Args:
        C: array-like (K, d), one code per class.
    """
    return _centred_singular_values(as_features(C, "C", dtype=None))


def affine_rank(C, tol: float | None = None) -> int:
    """Affine rank of the codes: rank[c_1 - c_0, ..., c_{K-1} - c_0] (THEORY.md T1.2(c)) [paper].

    Computed as the number of singular values of C - mean(C) (same rank as the differences)
    strictly greater than ``rtol * s_max``, where s_max is the largest of them and
    ``rtol = tol`` if given, else ``max(K, d) * eps`` with eps the machine epsilon of C's dtype
    (float32: 1.19e-7, otherwise float64: 2.22e-16); see :func:`default_rtol`.

    Args:
        C: array-like (K, d), one code per class.
        tol: relative tolerance (>= 0), or None for the default above.

    Returns:
        int in [0, K - 1]; the codes are affinely independent iff it equals K - 1.
    """
    C = as_features(C, "C", dtype=None)
    tol = as_tolerance(tol)
    rtol = default_rtol(*C.shape, C.dtype) if tol is None else tol
    return _rank_from_singular_values(_centred_singular_values(C), C.shape[0], rtol)[0]


# ------------------------------------------------------------------------ Radon
@dataclass(frozen=True)
class RadonSplit:
    """An affine dependence of codes and the task it makes unrealizable (THEORY.md T1.3) [paper].

    Attributes:
        lambda_: float64 (K,), sum_m lambda_m c_m ~ 0 and sum_m lambda_m = 0, scaled so that the
            positive entries sum to 1; entries below 1e-12 * max|lambda| are set to 0.
        positive: bool (K,), lambda_m > 0.
        common_point: float64 (d,), sum over lambda_m > 0 of lambda_m c_m, a point of
            conv{c_m : lambda_m > 0}; it equals sum over lambda_m < 0 of |lambda_m| c_m, a point of
            conv{c_m : lambda_m < 0}, up to ``residual``.
        residual: ||sum_m lambda_m c_m||_2 as computed in float64.
    """

    lambda_: np.ndarray
    positive: np.ndarray
    common_point: np.ndarray
    residual: float

    @property
    def task(self) -> np.ndarray:
        """The Radon task, int64 (K,): 1 for lambda_m > 0, 0 for the rest."""
        return self.positive.astype(np.int64)


def _radon_from_rank(C: np.ndarray, rank: int, atol: float | None = None) -> RadonSplit:
    """Sparse null vector of [[C^T], [1^T]] given that the affine rank is ``rank`` < K - 1.

    Column-pivoted QR of the differences c_m - c_0 picks ``rank`` well-conditioned classes; the
    next pivot is expressed in them by least squares (a triangular solve with the QR's R, which
    is that least-squares solution). The resulting lambda lives on at most rank + 2 classes and is
    the unique dependence (up to scale) on that support.

    Any rank + 2 codes are affinely dependent when all K span an affine space of dimension
    ``rank``, so with ``atol`` given and K > rank + 2 the first rank + 2 classes are tried first
    (a QR of d x (rank + 1) instead of d x (K - 1): the K = 512, d = 128 dimension-deficit case
    costs 0.4 ms instead of 5 ms); their split is kept when its residual ||sum_m lambda_m c_m|| is
    at most ``atol``, the tolerance at which the rank was decided, else all classes are used.
    """
    C = np.asarray(C, dtype=np.float64)
    K = C.shape[0]
    if atol is not None and K > rank + 2:
        split = _radon_on_support(C, np.arange(rank + 2), rank)
        if split.residual <= atol:
            return split
    return _radon_on_support(C, np.arange(K), rank)


def _radon_on_support(C: np.ndarray, support: np.ndarray, rank: int) -> RadonSplit:
    """:func:`_radon_from_rank` restricted to the classes ``support`` (lambda is 0 elsewhere)."""
    K = C.shape[0]
    S = C[support]
    lam_s = np.zeros(len(support))
    diffs = (S[1:] - S[0]).T  # (d, |support| - 1)
    rank = min(rank, diffs.shape[1] - 1)
    if rank == 0:
        lam_s[1] = 1.0
    else:
        R, pivots = sla.qr(diffs, mode="r", pivoting=True, check_finite=False)
        basis, extra = pivots[:rank], pivots[rank]
        coef = sla.solve_triangular(R[:rank, :rank], R[:rank, rank], check_finite=False)
        lam_s[extra + 1] = 1.0
        lam_s[basis + 1] = -coef
    lam_s[0] = -lam_s[1:].sum()
    lam = np.zeros(K)
    lam[support] = lam_s
    lam[np.abs(lam) <= 1e-12 * np.abs(lam).max()] = 0.0
    lam /= lam[lam > 0].sum()
    positive = lam > 0
    return RadonSplit(
        lambda_=lam,
        positive=positive,
        common_point=lam[positive] @ C[positive],
        residual=float(np.linalg.norm(lam @ C)),
    )


def radon_split(C, tol: float | None = None) -> RadonSplit | None:
    """A Radon split of affinely dependent codes, or None if they are affinely independent.

    [paper, THEORY.md T1.3] lambda is a null vector of the (d+1) x K matrix with columns
    (c_m, 1): sum_m lambda_m c_m = 0 and sum_m lambda_m = 0. Then
    conv{c_m : lambda_m > 0} and conv{c_m : lambda_m <= 0} share ``common_point``, so the task
    "lambda_m > 0 versus the rest" (``.task``) is realized by no affine argmax probe.

    Args:
        C: array-like (K, d), one code per class.
        tol: relative tolerance of :func:`affine_rank` (None: max(K, d) * eps(dtype)).

    Returns:
        RadonSplit, or None when ``affine_rank(C, tol) == K - 1``.
    """
    C = as_features(C, "C", dtype=None)
    tol = as_tolerance(tol)
    rtol = default_rtol(*C.shape, C.dtype) if tol is None else tol
    rank, atol = _rank_from_singular_values(_centred_singular_values(C), C.shape[0], rtol)
    if rank == C.shape[0] - 1:
        return None
    return _radon_from_rank(C, rank, atol)


# ------------------------------------------------------------------------ LP separability
def _strict_argmax_lp(Z: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact feasibility LP for a strict affine argmax probe on validated data.

    Labels y (n,) are 0..k-1, all present. The data are centred and scaled first (separability
    is invariant under this affine map); the probe is mapped back. Binary: find w, b with
    s_i (w.z_i + b) >= 1, s_i = +-1. Multi-class: find W, b with
    (w_{y_i} - w_j).z_i + b_{y_i} - b_j >= 1 for every j != y_i. Scale-free: the margin 1 only
    fixes the scale, so the LP is feasible iff strict separation exists.

    Returns (W (k, d), b (k,)) or None if infeasible.
    """
    from scipy.optimize import linprog  # imported here: it costs a quarter second

    n, d = Z.shape
    if k == 1:
        return np.zeros((1, d)), np.zeros(1)
    mean = Z.mean(axis=0)
    scale = float(np.abs(Z - mean).max()) or 1.0
    X = np.column_stack([(Z - mean) / scale, np.ones(n)])  # (n, d+1)
    if k == 2:
        sign = np.where(y == 1, 1.0, -1.0)
        A = -sign[:, None] * X
        n_vars = d + 1
    else:
        rows_i = np.repeat(np.arange(n), k - 1)
        others = np.array([[j for j in range(k) if j != yi] for yi in y]).reshape(-1)
        r = np.arange(rows_i.size)
        # row r: -(x_i . v_{y_i}) + x_i . v_j <= -1, with v_j = (w_j, b_j) at columns j*(d+1)...
        cols = np.arange(d + 1)
        data = np.concatenate([-X[rows_i], X[rows_i]], axis=1).reshape(-1)
        col_idx = np.concatenate([y[rows_i, None] * (d + 1) + cols, others[:, None] * (d + 1) + cols], axis=1).reshape(-1)
        row_idx = np.repeat(r, 2 * (d + 1))
        n_vars = k * (d + 1)
        A = sp.csr_matrix((data, (row_idx, col_idx)), shape=(r.size, n_vars))
    # HiGHS occasionally stops undecided (numerical difficulties near the separability
    # threshold); then the other HiGHS algorithms are tried before giving up.
    for method in ("highs", "highs-ds", "highs-ipm"):
        result = linprog(np.zeros(n_vars), A_ub=A, b_ub=-np.ones(A.shape[0]), bounds=(None, None), method=method)
        if result.status in (0, 2):
            break
    if result.status == 2:
        return None
    if result.status != 0:
        raise RuntimeError(f"HiGHS could not decide separability: {result.message}")
    if k == 2:
        V = np.vstack([np.zeros(d + 1), result.x])
    else:
        V = result.x.reshape(k, d + 1)
    W = V[:, :d] / scale
    b = V[:, d] - W @ mean
    return W, b


def separating_probe(Z, y) -> tuple[np.ndarray, np.ndarray] | None:
    """An affine argmax probe realizing the labels exactly, or None if none exists (exact LP).

    [paper; THEORY.md section 0, the LIN family] The probe f(z) = argmax_j (W z + b)_j realizes
    y when every point's own label scores strictly highest. Decided by an LP feasibility problem
    solved with scipy's HiGHS (see THEORY.md T1.1).

    Args:
        Z: array-like (n, d), the codes.
        y: non-negative integer labels (n,).

    Returns:
        (W, b) with W (k, d) and b (k,), k = max(y) + 1, such that
        ``probe_predict(W, b, Z) == y`` with strict margins; labels absent from y get rows that
        score below every present label on Z. None when no such probe exists.
    """
    Z = as_features(Z, "Z")
    y = as_labels(y, Z.shape[0], name="y", other="Z")
    present, compact = np.unique(y, return_inverse=True)
    solved = _strict_argmax_lp(Z, compact.reshape(-1), present.size)
    if solved is None:
        return None
    W_c, b_c = solved
    k = int(y.max()) + 1
    W = np.zeros((k, Z.shape[1]))
    b = np.full(k, float((Z @ W_c.T + b_c).min()) - 1.0)
    W[present], b[present] = W_c, b_c
    return W, b


def linearly_separable(Z, y) -> bool:
    """True iff some affine argmax probe realizes the labels y on Z with strict margins (exact LP).

    For two labels this is strict linear separability (THEORY.md T1.1); for k labels, strict
    argmax realizability (the LIN family of THEORY.md section 0). One label: always True.

    Args:
        Z: array-like (n, d), the codes.
        y: non-negative integer labels (n,).
    """
    return separating_probe(Z, y) is not None


# ------------------------------------------------------------------------ exact probes
def pseudo_inverse_probe(C, task) -> tuple[np.ndarray, np.ndarray]:
    """The probe W c_m + b = e_{g(m)} for affinely independent codes (THEORY.md T1.3) [paper].

    With affinely independent codes the K x (d+1) matrix with rows (c_m, 1) has full row rank,
    so the minimum-norm least-squares solution (``scipy.linalg.lstsq``) solves the system
    exactly; the probe then scores 1 for each class's own label and 0 for the others.

    Args:
        C: array-like (K, d), one code per class.
        task: non-negative integer labels (K,), one per class; k = max(task) + 1 score rows.

    Returns:
        (W (k, d), b (k,)).

    Raises:
        ValueError: the system has no exact solution (residual above 1e-6, e.g. affinely
            dependent codes and a task that their dependence forbids).
    """
    C = as_features(C, "C")
    task = as_labels(task, C.shape[0], name="task", other="C")
    K, d = C.shape
    k = int(task.max()) + 1
    mean = C.mean(axis=0)
    A = np.column_stack([C - mean, np.ones(K)])
    E = np.zeros((K, k))
    E[np.arange(K), task] = 1.0
    X = sla.lstsq(A, E, check_finite=False)[0]  # (d+1, k)
    residual = float(np.abs(A @ X - E).max())
    if residual > 1e-6:
        raise ValueError(
            f"no exact probe W c + b = e_task for these codes (residual {residual:.3g}); "
            f"codes are affinely dependent (affine rank {affine_rank(C)} < K-1 = {K - 1})"
        )
    W = X[:d].T
    b = X[d] - W @ mean
    return W, b


def probe_predict(W, b, Z) -> np.ndarray:
    """Predictions of the affine argmax probe: argmax_j (W z_i + b)_j, shape (n,) int64.

    Ties go to the lowest label (numpy's argmax); realizability in THEORY.md asks for a strict
    maximum, which :func:`separating_probe` and :func:`pseudo_inverse_probe` provide.

    Args:
        W: (k, d) weights; b: (k,) biases; Z: (n, d) codes.
    """
    W = as_features(W, "W")
    Z = as_features(Z, "Z")
    b = np.asarray(b, dtype=np.float64)
    if W.shape[1] != Z.shape[1]:
        raise ValueError(f"W has {W.shape[1]} columns but Z has {Z.shape[1]} (dimension d)")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape ({W.shape[0]},) to match W, got {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("b contains NaN or Inf")
    return np.argmax(Z @ W.T + b, axis=1).astype(np.int64)
