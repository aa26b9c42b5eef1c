"""Convex geometry of class codes: affine rank, Radon splits, exact separability, exact probes.

THEORY.md T1 [paper Thm 1 in spirit; proof by separating hyperplanes and Radon]:

- ``affine_rank``: rank[c_1 - c_0, ..., c_{K-1} - c_0] at the tolerance rule below; the codes
  are affinely independent iff it equals K - 1 (T1.2(c)). ``exact.exact_affine_rank`` is the
  same rank in rational arithmetic.
- ``radon_split``: a nonzero lambda with sum_m lambda_m c_m = 0 and sum_m lambda_m = 0 (a null
  vector of the (d+1) x K matrix with columns (c_m, 1)); the task "lambda_m > 0 versus the rest"
  is not LIN-realizable because both hulls contain the same point (T1.3, failure certificate).
- ``separability`` / ``linearly_separable`` / ``separating_probe``: strict affine argmax
  realizability (T1.1; the LIN family of THEORY.md section 0), decided by a float LP (scipy
  HiGHS) whose answer is then proved in rational arithmetic (``ssltheory.exact``).
- ``pseudo_inverse_probe``: W, b with W c_m + b = e_{g(m)} (T1.3, success certificate).
- ``probe_predict``: argmax_j (W z + b)_j.

The tolerance rule (the one rule of the toolkit, used by every function that decides at a
tolerance): the codes are first centred by one of them, an exactly representable point, and
rescaled by powers of two (exact), so that where the codes sit and their scale change nothing;
a singular value of the centred codes counts as zero when it is at most
``atol = rtol * s_max`` (:func:`rank_threshold`), s_max the largest singular value and ``rtol``
given by :func:`resolve_rtol`: the caller's ``tol`` in [0, 1), else max(K, d) * eps(dtype)
(:func:`default_rtol`, numpy's ``matrix_rank`` rule). Distances (invariance, shared codes) are
compared with the same atol.

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

import math
from dataclasses import dataclass, field

import numpy as np

from ssltheory import exact
from ssltheory.errors import InputError
from ssltheory.validation import as_features, as_labels, as_tolerance

# scipy is imported inside the functions that need it: its import (0.1-0.3 s) costs more than
# most verdicts, and a verdict on ideal codes needs none of it.


# ------------------------------------------------------------------------ the tolerance rule
def default_rtol(n_rows: int, dim: int, dtype=np.float64) -> float:
    """The default relative tolerance: max(K, d) * eps(dtype).

    eps is float32's machine epsilon (1.19e-7) for float32 data and float64's (2.22e-16)
    otherwise; this is numpy's ``matrix_rank`` rule. A singular value counts as zero when it is
    at most ``rtol * s_max`` (s_max the largest singular value of the centred code matrix).
    """
    eps = np.finfo(np.float32 if np.dtype(dtype) == np.float32 else np.float64).eps
    return float(max(n_rows, dim) * eps)


def resolve_rtol(tol, n_rows: int, dim: int, dtype=np.float64) -> float:
    """The relative tolerance every decision uses: ``tol`` if given (in [0, 1)), else the default.

    Args:
        tol: None or a relative tolerance in [0, 1) (ValueError otherwise: a tolerance of 1 or
            more would call every singular value zero).
        n_rows, dim, dtype: K, d and the features' dtype, for :func:`default_rtol`.
    """
    tol = as_tolerance(tol)
    return default_rtol(n_rows, dim, dtype) if tol is None else tol


def rank_threshold(s_max: float, rtol: float) -> float:
    """The absolute threshold of the tolerance rule: values at or below rtol * s_max count as 0."""
    return float(rtol) * float(s_max)


def power_of_two(value: float) -> float:
    """2**e with |value| / 2**e in [1, 2) (1.0 for 0): dividing by it is exact (no rounding).

    Representable for every finite float (2**1023 at most), so it never overflows.
    """
    value = abs(float(value))
    if value == 0.0 or not math.isfinite(value):
        return 1.0
    return math.ldexp(1.0, math.frexp(value)[1] - 1)


def scaled(value: float, *units: float) -> float:
    """value * units[0] * units[1] * ... as a Python float, rounded once, without a warning.

    The units are scale factors such as :func:`power_of_two` and :func:`centre_codes` give, kept
    apart because their product alone may overflow (2**1023 * 2 is inf) where value times it does
    not. Each factor is split into mantissa and exponent (``math.frexp``), so the result is
    +-inf only when the true product exceeds float64's range, 0.0 when value is 0 (never
    0 * inf = nan), and nan only for a nan value.
    """
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value
    mantissa, exponent = math.frexp(value)
    for unit in units:
        unit = float(unit)
        if math.isinf(unit):
            return math.copysign(math.inf, mantissa * unit)
        unit_mantissa, unit_exponent = math.frexp(unit)
        mantissa, exponent = mantissa * unit_mantissa, exponent + unit_exponent
    try:
        return math.ldexp(mantissa, exponent)
    except OverflowError:
        return math.copysign(math.inf, mantissa)


def row_norms(X: np.ndarray, squares: np.ndarray | None = None) -> np.ndarray:
    """Euclidean norms of the rows of X (m, d), float64, without underflow or overflow.

    Rows whose plain sum of squares lies in [2**-960, 2**960] keep it: no square overflowed, and
    a square below 2**-1022 (subnormal) is rounded by at most 2**-1075, so all of them move the
    sum by at most d 2**-1075, relatively d 2**-115, far below rounding. Every other row is divided
    by a power of two near its largest entry before squaring, so rows of size 1e-200 or 1e300
    keep their norms. ``squares``: ``np.einsum("ij,ij->i", X, X)`` when the caller has it already
    (the plain sums of squares; the result is then the same).
    """
    X = np.asarray(X, dtype=np.float64)
    if squares is None:
        with np.errstate(over="ignore", under="ignore"):
            squares = np.einsum("ij,ij->i", X, X)
    out = np.sqrt(squares)
    extreme = np.flatnonzero(~((squares >= 2.0**-960) & (squares <= 2.0**960)))
    if extreme.size:
        rows = X[extreme]
        peak = np.abs(rows).max(axis=1) if rows.size else np.zeros(extreme.size)
        exponent = np.frexp(peak)[1]
        scaled = np.ldexp(rows, -exponent[:, None])
        out[extreme] = np.ldexp(np.sqrt(np.einsum("ij,ij->i", scaled, scaled)), exponent)
    return out


def centre_codes(C) -> tuple[np.ndarray, float]:
    """Offset- and scale-free centring: (M (K, d) float64, unit) with M * unit ~ C - mean(C).

    The codes are reduced by one of them (c_0, an exactly representable point: the difference
    of two floats is rounded relative to the difference, never to the offset the codes share,
    and identical codes give exactly equal rows; codes beyond 2**1021 are first divided by a
    power of two, so that no difference overflows), divided by a power of two so that the
    largest entry is below 2, and finally centred by their mean (twice). The rounding of that
    mean is the same vector in every row, which leaves every affine dependence
    sum lambda_m c_m = 0, sum lambda_m = 0 of the codes exact. So exactly dependent codes stay
    dependent up to rounding relative to their spread, whatever their offset (up to 1e300 times
    the spread) and scale (1e-300 to 1e300).

    Args:
        C: array-like (K, d) of floats.

    Returns:
        M with max |M| <= 4 (0 when all codes are equal), and unit, a power of two (inf when
        the codes' spread exceeds float64's range; ``affine_singular_values(C,
        with_exponent=True)`` gives such scales exactly).
    """
    X = np.asarray(C, dtype=np.float64)
    unit = 1.0
    if max(float(X.max()), -float(X.min())) >= 2.0**1021:  # X - X[0] could overflow
        unit = power_of_two(max(float(X.max()), -float(X.min())))
        X = X / unit
    D = X - X[0]  # a difference that is subnormal is exact, so no scaling is needed before it
    unit2 = power_of_two(max(float(D.max()), -float(D.min())))
    if unit2 != 1.0:
        D /= unit2
    D -= D.sum(axis=0) / D.shape[0]
    D -= D.sum(axis=0) / D.shape[0]
    return D, unit * unit2


def gram_is_accurate(n_rows: int, dim: int, rtol: float, dtype) -> bool:
    """Whether :func:`centred_singular_values` may use the float64 Gram matrix at this tolerance.

    For float32 features and ``rtol >= 4 sqrt(K d eps64)``. The Gram matrix G = M^T M (or
    M M^T) of centred codes M (K, d), formed in float64, is rounded by at most
    max(K, d) eps64 |M|^T |M| entrywise, of norm at most max(K, d) ||M||_F^2 <=
    K d eps64 s_max^2 (as ||M||_F^2 <= min(K, d) s_max^2), and the symmetric eigensolver is
    backward stable; so each eigenvalue is within about K d eps64 s_max^2 of a squared singular
    value, each singular value within sqrt(K d eps64) s_max of its true value, and near the
    threshold rtol * s_max far closer (error / (2 * threshold)). That is a quarter of the
    threshold at most, and below the error bound of a float32 SVD (about max(K, d) eps32 s_max,
    the default threshold itself). The default float32 tolerance max(K, d) eps32 always
    qualifies, because max(K, d) >= sqrt(K d).
    """
    eps64 = float(np.finfo(np.float64).eps)
    return np.dtype(dtype) == np.float32 and rtol >= 4.0 * math.sqrt(n_rows * dim * eps64)


def centred_singular_values(M: np.ndarray, dtype=np.float64, rtol: float | None = None) -> np.ndarray:
    """Singular values (descending, min(K, d) of them, float64) of centred codes M (K, d).

    For float32 features decided at a tolerance ``rtol`` that :func:`gram_is_accurate` accepts
    (the default one always is), they are the square roots of the eigenvalues of M's float64
    Gram matrix on its smaller side: accurate enough for the rank decision (see there), and half
    the cost of an SVD or less. Otherwise an SVD: in float32 when ``dtype`` is float32 (matching
    the eps of the default tolerance), else in float64. M comes from :func:`centre_codes`, so
    its entries are of order 1 and neither precision under- or overflows.
    """
    K, d = M.shape
    if rtol is not None and K and d and gram_is_accurate(K, d, rtol, dtype):
        return _gram_singular_values(M)[0]
    import scipy.linalg as sla

    work = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    A = np.asarray(M).astype(work, copy=False)
    try:
        s = sla.svd(A, compute_uv=False, check_finite=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:  # gesdd can fail to converge where gesvd does not
        s = sla.svd(A, compute_uv=False, check_finite=False, lapack_driver="gesvd")
    return s.astype(np.float64)


def _gram_singular_values(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(singular values descending, G): the Gram route of :func:`centred_singular_values`, with the
    float64 Gram matrix G of M on its smaller side (M M^T (K, K) when K <= d, else M^T M)."""
    A = np.asarray(M, dtype=np.float64)
    G = A.T @ A if A.shape[0] > A.shape[1] else A @ A.T
    return np.sqrt(np.clip(np.linalg.eigvalsh(G)[::-1], 0.0, None)), G


def rank_from_singular_values(s: np.ndarray, n_rows: int, rtol: float) -> tuple[int, float]:
    """Affine rank (capped at K - 1) and the threshold rtol * s_max it used (same units as s)."""
    threshold = rank_threshold(s[0], rtol) if s.size else 0.0
    return min(int((s > threshold).sum()), n_rows - 1), threshold


#: centred codes with at least this many entries (K x d) get their affine independence proved
#: without an SVD when they are not decided through the Gram matrix (:func:`affine_spectrum`)
CERTIFY_MIN_ENTRIES = 1 << 20


@dataclass(frozen=True)
class Spectrum:
    """What the tolerance rule reads off centred codes M (K, d), in M's units.

    Attributes:
        rank: affine rank at the tolerance (at most K - 1).
        atol: the threshold rtol * s_max.
        s_max: the largest singular value.
        s_kept: the (K-1)-th singular value (0 when min(K, d) < K - 1), or, when ``how`` is
            "certified", a proved lower bound on it.
        values: all min(K, d) singular values, descending; None when ``how`` is "certified".
        how: "svd", "gram" (:func:`gram_is_accurate`) or "certified"
            (:func:`certified_independence`).
        gram: when ``how`` is "gram", the float64 Gram matrix of M on its smaller side whose
            eigenvalues gave ``values`` (M M^T (K, K) when K <= d), for a caller that wants its
            eigenvectors too; else None.
    """

    rank: int
    atol: float
    s_max: float
    s_kept: float
    values: np.ndarray | None
    how: str
    gram: np.ndarray | None = field(default=None, compare=False, repr=False)


def affine_spectrum(M: np.ndarray, dtype, rtol: float) -> Spectrum:
    """The tolerance rule on centred codes M (K, d) (from :func:`centre_codes`): rank and threshold.

    Large codes (K d >= CERTIFY_MIN_ENTRIES, K <= d + 1) that the Gram route does not cover
    (float64 features) are first offered to :func:`certified_independence`, which proves full
    affine rank in a few times less than an SVD; when it cannot, or for any other codes, the
    singular values of :func:`centred_singular_values` decide.
    """
    K, d = M.shape
    gram = gram_is_accurate(K, d, rtol, dtype) if K and d else False
    if K * d >= CERTIFY_MIN_ENTRIES and 2 <= K <= d + 1 and not gram:
        proof = certified_independence(M, rtol)
        if proof is not None:
            s_max, s_low = proof
            return Spectrum(K - 1, rank_threshold(s_max, rtol), s_max, s_low, None, "certified")
    s, G = _gram_singular_values(M) if gram else (centred_singular_values(M, dtype, rtol), None)
    rank, atol = rank_from_singular_values(s, K, rtol)
    kept = float(s[K - 2]) if 0 <= K - 2 < s.size else 0.0
    return Spectrum(rank, atol, float(s[0]) if s.size else 0.0, kept, s, "gram" if gram else "svd", G)


def certified_independence(M: np.ndarray, rtol: float) -> tuple[float, float] | None:
    """Prove, without an SVD, that centred codes M (K, d), 2 <= K <= d + 1, have affine rank K - 1.

    [derived] Returns (s_max, s_low): an estimate of the largest singular value (Lanczos,
    ``scipy.sparse.linalg.svds``) and a proved lower bound on the (K-1)-th, with
    s_low > 4 rtol s_hi for a proved upper bound s_hi >= s_max, so that every one of the K - 1
    singular values lies above the threshold rtol * s_max by more than a float64 SVD's error;
    None when the bounds do not show that (the caller then takes the SVD). The argument:

    1. s_hi = min(||M||_F, sqrt(||M||_1 ||M||_inf)) >= s_max (with its rounding).
    2. M's columns sum to r (rounding of the centring); M~ = M - 1 r^T / K sums exactly to 0 and
       ||M - M~||_2 = ||r|| / sqrt(K) =: drift. A = [M~ | alpha 1] with alpha = s_hi / sqrt(K) has
       singular values {s_1(M~), ..., s_{K-1}(M~), s_hi} (1 is a null vector of M~ M~^T), so
       s_{K-1}(M~) >= s_min(A).
    3. Householder QR of [M | alpha 1]^T (within drift of A^T) gives R (K, K) that is exact for
       a perturbation of norm at most err_qr = 4 (d + 1) K eps ||A||_F (Higham, Accuracy and
       Stability of Numerical Algorithms, 2002, Thm 19.4, with a factor 8 on u = eps / 2).
    4. Its computed inverse X has residual ||R X - I||_F <= f = 2 K eps ||X||_F ||R||_F (the
       residual bound of triangular inversion, Du Croz and Higham 1992 and Higham 2002 section
       14.2, with a factor 4 on its constant; checked on random vectors, and the proof refused
       if a probe exceeds it), so ||R^{-1}||_2 <= ||X||_F / (1 - f) when f < 1.
    5. Hence s_{K-1}(M) >= (1 - f) / ||X||_F - err_qr - 2 drift =: s_low (steps 2-4: A is within
       drift of [M | alpha 1], and M within drift of M~).

    Cost: one QR (4/3 K^2 d flops, blocked), one triangular inverse (K^3 / 3) and a Lanczos run
    (matrix-vector products): about a quarter of an SVD at K = d = 4096.
    """
    import scipy.linalg as sla
    from scipy.linalg import lapack

    K, d = M.shape
    if K < 2 or K > d + 1:
        return None
    eps = float(np.finfo(np.float64).eps)
    absM = np.abs(M)
    fro = float(np.sqrt(np.einsum("ij,ij->", M, M)))
    if fro == 0.0:
        return None
    s_hi = min(fro, math.sqrt(float(absM.sum(axis=0).max()) * float(absM.sum(axis=1).max()))) * (1 + 4 * (K + d) * eps)
    r = M.sum(axis=0)
    drift = (float(np.linalg.norm(r)) + 2 * K * eps * float(np.linalg.norm(absM.sum(axis=0)))) / math.sqrt(K)
    del absM
    A = np.empty((d + 1, K))
    A[:d] = M.T
    A[d] = s_hi / math.sqrt(K)
    norm_a = math.sqrt(fro * fro + s_hi * s_hi)
    R = sla.qr(A, mode="r", overwrite_a=True, check_finite=False)[0][:K]
    del A
    X, info = lapack.dtrtri(R, lower=0)
    if info != 0 or not np.isfinite(X).all():
        return None
    norm_x = float(np.linalg.norm(X))
    f = 2 * K * eps * norm_x * float(np.linalg.norm(R))
    if f >= 0.5:
        return None
    probes = np.random.default_rng(1).standard_normal((K, 4))
    residual = R @ (X @ probes) - probes  # each column's norm is at most ||R X - I||_2 ||v|| (plus rounding)
    if (
        np.linalg.norm(residual, axis=0)
        > (f + 4 * K * eps * norm_x * float(np.linalg.norm(R))) * np.linalg.norm(probes, axis=0)
    ).any():
        return None
    s_low = (1 - f) / norm_x - 4 * (d + 1) * K * eps * norm_a - 2 * drift
    if not s_low > 4 * rtol * s_hi:
        return None
    from scipy.sparse.linalg import ArpackError, svds

    try:
        v0 = np.random.default_rng(0).standard_normal(min(K, d))
        s_max = float(svds(M, k=1, v0=v0, tol=1e-12, return_singular_vectors=False)[0])
    except (ArpackError, ValueError):
        return None
    if not fro / math.sqrt(min(K, d)) * (1 - 1e-9) <= s_max <= s_hi:  # s_max is at least the RMS value
        return None
    return s_max, s_low


def affine_singular_values(C, *, with_exponent: bool = False):
    """Singular values of the centred code matrix C - mean(C), descending, min(K, d) of them.

    The affine rank of the codes is the number of these above the tolerance; the K-th one (when
    K <= d) is zero in exact arithmetic because the rows of C - mean(C) sum to zero. Centred by
    :func:`centre_codes` (independent of the codes' offset), computed in float32 for float32 C,
    else in float64.

    Args:
        C: array-like (K, d), one code per class.
        with_exponent: return (s, e), the values being s * 2**e with s of order 1: exact for
            codes of any range. Without it the values themselves, which are inf where they exceed
            float64's range (codes near +-1e308).
    """
    C = as_features(C, "C", dtype=None)
    big = power_of_two(max(abs(float(C.max())), abs(float(C.min()))))  # dividing by it is exact
    M, unit = centre_codes(C / big)
    s = centred_singular_values(M, C.dtype)
    exponent = (math.frexp(big)[1] - 1) + (math.frexp(unit)[1] - 1)
    if with_exponent:
        return s, exponent
    with np.errstate(over="ignore"):
        return np.ldexp(s, exponent)


def affine_rank(C, tol: float | None = None) -> int:
    """Affine rank of the codes: rank[c_1 - c_0, ..., c_{K-1} - c_0] (THEORY.md T1.2(c)) [paper].

    At a tolerance: the number of singular values of the centred codes (:func:`centre_codes`)
    strictly greater than ``rtol * s_max`` (the module's tolerance rule, :func:`resolve_rtol`).
    Exactly dependent codes are found whatever their offset and scale; codes within the
    tolerance of a dependence count as dependent. ``exact.exact_affine_rank`` gives the rank in
    rational arithmetic.

    Args:
        C: array-like (K, d), one code per class.
        tol: relative tolerance in [0, 1), or None for ``max(K, d) * eps(dtype)``.

    Returns:
        int in [0, K - 1]; the codes are affinely independent iff it equals K - 1.
    """
    C = as_features(C, "C", dtype=None)
    rtol = resolve_rtol(tol, *C.shape, C.dtype)
    M, _ = centre_codes(C)
    return affine_spectrum(M, C.dtype, rtol).rank


# ------------------------------------------------------------------------ Radon
@dataclass(frozen=True)
class RadonSplit:
    """An affine dependence of codes and the task it makes unrealizable (THEORY.md T1.3) [paper].

    Attributes:
        lambda_: float64 (K,), sum_m lambda_m c_m ~ 0 and sum_m lambda_m = 0 (at the tolerance),
            scaled so that the positive entries sum to 1, nonzero on at most rank + 2 classes.
        positive: bool (K,), lambda_m > 0.
        common_point: float64 (d,), sum over lambda_m > 0 of lambda_m c_m, a point of
            conv{c_m : lambda_m > 0}; it equals sum over lambda_m < 0 of |lambda_m| c_m, a point of
            conv{c_m : lambda_m < 0}, up to ``residual``.
        residual: ||sum_m lambda_m c_m||_2, computed on the centred codes (so without the
            rounding of their common offset).
    """

    lambda_: np.ndarray
    positive: np.ndarray
    common_point: np.ndarray
    residual: float

    @property
    def task(self) -> np.ndarray:
        """The Radon task, int64 (K,): 1 for lambda_m > 0, 0 for the rest."""
        return self.positive.astype(np.int64)


def radon_from_rank(C: np.ndarray, M: np.ndarray, units: tuple[float, ...], rank: int, atol: float) -> RadonSplit:
    """A sparse Radon split of codes C (K, d) whose affine rank at the tolerance is ``rank`` < K - 1.

    [paper, T1.3; derived] M is :func:`centre_codes` of C (or of C divided by a power of two),
    ``units`` the factors whose product maps M's units to C's (centre_codes' unit, then that power
    of two: kept apart, since their product may overflow, see :func:`scaled`), and atol the
    threshold (in M's units) at which the rank was decided. Column-pivoted QR of the differences m_k - m_0 picks
    ``rank`` well-conditioned classes; the next pivot is expressed in them by least squares, so
    lambda lives on at most rank + 2 classes. Any rank + 2 codes are affinely dependent when all
    K span an affine space of dimension ``rank``, so when K > rank + 2 the first rank + 2
    classes are tried first (their split is kept when its residual is at most atol).

    The support is then shrunk: the classes with the largest |lambda| are tried in sets of
    2, 4, 8, ... (up to a quarter of the support) and then bisected, and the smallest such set
    whose centred codes have a singular value at most atol carries the split instead. A
    dependence among three of two thousand classes is then certified by three classes.

    lambda is scaled so that its positive entries sum to 1 and signed so that the support's first
    (lowest-index) class has lambda < 0, as :func:`ssltheory.exact.exact_dependence` does: the
    negated split is an equally valid certificate, and this choice makes the task the same on
    every BLAS kernel.
    """
    K = M.shape[0]
    lam = None
    if K > rank + 2:
        for pivoted in (False, True):
            lam = _dependence_on_support(M, np.arange(rank + 2), rank, pivoted)
            if _residual(M, lam) <= atol:
                break
            lam = None
    if lam is None:
        lam = _dependence_on_support(M, np.arange(K), rank)
    lam = _shrink_support(M, lam, atol)
    lam[np.abs(lam) <= 1e-12 * np.abs(lam).max()] = 0.0
    # lambda is defined up to sign and scale: the sign of exact.exact_dependence (the first class's
    # lambda negative), so the split does not depend on the sign a BLAS kernel gives a null vector
    if lam[np.flatnonzero(lam)[0]] > 0:
        lam = -lam
    lam /= lam[lam > 0].sum()
    positive = lam > 0
    common_point = lam[positive] @ np.asarray(C, dtype=np.float64)[positive]
    return RadonSplit(
        lambda_=lam, positive=positive, common_point=common_point, residual=scaled(_residual(M, lam), *units)
    )


def _residual(M: np.ndarray, lam: np.ndarray) -> float:
    """||sum_m lam_m m_m|| for lambda scaled so its positive part sums to 1 (M's units)."""
    pos = lam[lam > 0].sum()
    return float(row_norms((lam / pos)[None, :] @ M)[0]) if pos > 0 else math.inf


def _dependence_on_support(M: np.ndarray, support: np.ndarray, rank: int, pivoted: bool = False) -> np.ndarray:
    """A null vector of [[M_S^T], [1^T]] on the classes ``support`` (lambda is 0 elsewhere).

    With ``rank + 2`` classes in dimension ``rank`` (d + 2 codes in R^d) the differences form a
    square system, solved by LU; otherwise, or with ``pivoted``, by column-pivoted QR. The caller
    checks the residual (and asks again with ``pivoted`` when the square system was ill-posed).
    """
    K = M.shape[0]
    S = M[support]
    lam_s = np.zeros(len(support))
    diffs = (S[1:] - S[0]).T  # (d, |support| - 1)
    rank = min(rank, diffs.shape[1] - 1)
    coef = None
    if rank == 0:
        lam_s[1] = 1.0
    else:
        if not pivoted and diffs.shape == (rank, rank + 1):
            try:
                coef, basis, extra = np.linalg.solve(diffs[:, :rank], diffs[:, rank]), np.arange(rank), rank
            except np.linalg.LinAlgError:
                coef = None
        if coef is None:
            import scipy.linalg as sla

            R, pivots = sla.qr(diffs, mode="r", pivoting=True, check_finite=False)
            basis, extra = pivots[:rank], pivots[rank]
            diag = np.abs(np.diag(R[:rank, :rank]))
            if diag.min() > 0:
                coef = sla.solve_triangular(R[:rank, :rank], R[:rank, rank], check_finite=False)
            else:  # a rank-deficient triangle: least squares on the chosen columns
                coef = sla.lstsq(diffs[:, basis], diffs[:, extra], check_finite=False)[0]
        lam_s[extra + 1] = 1.0
        lam_s[basis + 1] = -coef
    lam_s[0] = -lam_s[1:].sum()
    lam = np.zeros(K)
    lam[support] = lam_s
    return lam


def _dependent_subset(M: np.ndarray, subset: np.ndarray, atol: float) -> np.ndarray | None:
    """lambda on ``subset`` from its centred codes' last affine singular vector if it is <= atol.

    A float64 Gram eigenvalue test first rejects subsets whose singular value is above atol by
    more than its error bound (4 (d + |S|) eps64 ||S||_F^2 on the squared value); only the rest
    get the SVD that decides and gives the vector.
    """
    S = M[subset]
    S = S - S.mean(axis=0)
    j = subset.size - 2  # the (|S| - 1)-th singular value; the |S|-th belongs to the ones vector
    if j < min(S.shape):
        lam2 = np.linalg.eigvalsh(S @ S.T)[::-1][j]
        bound = 4.0 * (S.shape[0] + S.shape[1]) * np.finfo(np.float64).eps * float(np.einsum("ij,ij->", S, S))
        if lam2 - bound > atol * atol:
            return None
    import scipy.linalg as sla

    U, s, _ = sla.svd(S, full_matrices=False, check_finite=False)
    if j >= s.size or s[j] > atol:
        if j < s.size:
            return None
        u = np.zeros(subset.size)  # more classes than dimensions: a null vector of S^T
        u[:] = sla.null_space(np.vstack([S.T, np.ones(subset.size)]))[:, 0]
    else:
        # the left singular vectors from j on span the (near) dependences and the ones vector; with
        # several zero singular values U[:, j] may be the ones vector itself, whose centred part is
        # 0: take the one whose centred part is largest
        tail = U[:, j:] - U[:, j:].mean(axis=0)
        u = tail[:, int(np.argmax(np.einsum("ij,ij->j", tail, tail)))]
    lam = np.zeros(M.shape[0])
    lam[subset] = u - u.mean()
    return lam


def _shrink_support(M: np.ndarray, lam: np.ndarray, atol: float) -> np.ndarray:
    """Carry the dependence on the fewest of its largest-|lambda| classes (see radon_from_rank)."""
    order = np.argsort(-np.abs(lam), kind="stable")
    size = int((lam != 0).sum())
    if size <= 3:
        return lam
    found, lo, j = None, 2, 3
    while j <= max(3, size // 4):
        found = _dependent_subset(M, order[:j], atol)
        if found is not None:
            break
        lo, j = j, 2 * j
    if found is None:
        return lam
    hi = j  # order[:hi] is dependent, order[:lo] is not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        trial = _dependent_subset(M, order[:mid], atol)
        if trial is not None:
            hi, found = mid, trial
        else:
            lo = mid
    return found


def radon_split(C, tol: float | None = None) -> RadonSplit | None:
    """A Radon split of affinely dependent codes, or None if they are affinely independent.

    [paper, THEORY.md T1.3] lambda is a null vector of the (d+1) x K matrix with columns
    (c_m, 1): sum_m lambda_m c_m = 0 and sum_m lambda_m = 0. Then
    conv{c_m : lambda_m > 0} and conv{c_m : lambda_m <= 0} share ``common_point``, so the task
    "lambda_m > 0 versus the rest" (``.task``) is realized by no affine argmax probe.

    At the tolerance rule: the dependence holds up to ``residual`` (exactly when the codes are
    exactly dependent and ``exact.exact_dependence`` confirms it), on at most rank + 2 classes.

    Args:
        C: array-like (K, d), one code per class.
        tol: relative tolerance of :func:`affine_rank` in [0, 1) (None: max(K, d) * eps(dtype)).

    Returns:
        RadonSplit, or None when ``affine_rank(C, tol) == K - 1``.
    """
    C = as_features(C, "C", dtype=None)
    rtol = resolve_rtol(tol, *C.shape, C.dtype)
    M, unit = centre_codes(C)
    spectrum = affine_spectrum(M, C.dtype, rtol)
    if spectrum.rank == C.shape[0] - 1:
        return None
    return radon_from_rank(C, M, (unit,), spectrum.rank, spectrum.atol)


# ------------------------------------------------------------------------ LP separability
#: verification labels of a separability answer (and of certificates)
EXACT, FLOAT_LP, NONE = "exact", "float-lp", "none"


@dataclass(frozen=True)
class Separability:
    """The answer of :func:`separability`.

    Attributes:
        separable: a strict affine argmax probe realizes the labels.
        verification: "exact" (proved in rational arithmetic: the probe's margins, or a Farkas
            certificate, or sympy's rational simplex), "float-lp" (HiGHS's answer only, at its
            feasibility tolerance ``lp_tolerance``) or "none".
        probe: (W (k, d), b (k,)) when separable, else None.
        note: why the verification is what it is.
        lp_tolerance: HiGHS's primal feasibility tolerance (on the centred, rescaled data).
    """

    separable: bool
    verification: str
    probe: tuple[np.ndarray, np.ndarray] | None
    note: str
    lp_tolerance: float = 1e-7


def _lp_rows(X: np.ndarray, y: np.ndarray, k: int):
    """Constraint matrix A of the strict argmax system A v >= 1 on points X (n, d + 1)."""
    n, width = X.shape
    if k == 2:
        sign = np.where(y == 1, 1.0, -1.0)
        return sign[:, None] * X, width
    rows_i = np.repeat(np.arange(n), k - 1)
    others = np.array([[j for j in range(k) if j != yi] for yi in y]).reshape(-1)
    r = np.arange(rows_i.size)
    cols = np.arange(width)
    data = np.concatenate([X[rows_i], -X[rows_i]], axis=1).reshape(-1)
    col_idx = np.concatenate([y[rows_i, None] * width + cols, others[:, None] * width + cols], axis=1).reshape(-1)
    row_idx = np.repeat(r, 2 * width)
    import scipy.sparse as sp

    return sp.csr_matrix((data, (row_idx, col_idx)), shape=(r.size, k * width)), k * width


def _strict_argmax_lp(Z: np.ndarray, y: np.ndarray, k: int, *, exact_check: bool = True) -> Separability:
    """Strict affine argmax realizability of validated labels y (n,) in 0..k-1 (all present).

    The data are centred by one point and rescaled by a power of two (an exact affine map,
    which separability ignores) and HiGHS solves A v >= 1 (binary: s_i (w.x_i + b) >= 1;
    multi-class: (v_{y_i} - v_j).x_i >= 1). Then the answer is proved in rationals: a found
    probe by its exact margins, infeasibility by an exact Farkas vector on the support of
    HiGHS's dual solution; failing both, sympy's rational simplex decides (small LPs).
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    n, d = Z.shape
    if k == 1:
        return Separability(True, EXACT, (np.zeros((1, d)), np.zeros(1)), "one label: the zero probe")
    ref = np.asarray(Z[0], dtype=np.float64)
    unit = power_of_two(np.abs(np.asarray(Z, dtype=np.float64) - ref).max())
    X = np.column_stack([(np.asarray(Z, dtype=np.float64) - ref) / unit, np.ones(n)])
    A, n_vars = _lp_rows(X, y, k)
    result = None
    for method in ("highs", "highs-ds", "highs-ipm"):
        result = linprog(np.zeros(n_vars), A_ub=-A, b_ub=-np.ones(A.shape[0]), bounds=(None, None), method=method)
        if result.status in (0, 2):
            break
    dense = A.toarray() if sp.issparse(A) else A
    probe = None
    if result.status == 0:
        V = np.vstack([np.zeros(d + 1), result.x]) if k == 2 else result.x.reshape(k, d + 1)
        W = V[:, :d] / unit
        probe = (W, V[:, d] - W @ ref)
    missing = exact.flint_missing() if exact_check else None
    if not exact_check or missing:
        if result.status not in (0, 2):
            raise RuntimeError(f"HiGHS could not decide separability: {result.message}")
        return Separability(result.status == 0, FLOAT_LP, probe, missing or "HiGHS only (exact check not asked for)")
    if probe is not None and exact.probe_is_strict(*probe, Z, y):
        return Separability(True, EXACT, probe, "the probe's margins are strictly positive in rational arithmetic")
    if result.status == 2:
        u = _farkas_lp(dense)
        if u is not None and exact.farkas_on_support(dense, np.flatnonzero(u > 1e-12)) is not None:
            return Separability(False, EXACT, None, "an exact Farkas vector proves the LP infeasible")
    decided = exact.strictly_separable(dense)
    if decided is not None and decided[0]:
        V = np.array([float(v) for v in decided[1]])
        V = np.vstack([np.zeros(d + 1), V]) if k == 2 else V.reshape(k, d + 1)
        W = V[:, :d] / unit
        probe = (W, V[:, d] - W @ ref)
        if not exact.probe_is_strict(*probe, Z, y):
            probe = None  # margins below float resolution: separable, but no float probe shows it
        return Separability(True, EXACT, probe, "sympy's rational simplex found a strict probe")
    if decided is not None:
        return Separability(False, EXACT, None, "sympy's rational simplex proves the LP infeasible")
    if result.status not in (0, 2):
        raise RuntimeError(f"HiGHS could not decide separability: {result.message}")
    why = f"the exact LP has {dense.size} entries, more than exact.EXACT_LP_MAX_ENTRIES = {exact.EXACT_LP_MAX_ENTRIES}"
    return Separability(result.status == 0, FLOAT_LP, probe, f"HiGHS's answer, not proved: {why}")


def _farkas_lp(A: np.ndarray) -> np.ndarray | None:
    """A float u >= 0 with A^T u = 0, sum(u) = 1 (HiGHS), or None."""
    from scipy.optimize import linprog

    m = A.shape[0]
    res = linprog(
        np.zeros(m),
        A_eq=np.vstack([A.T, np.ones(m)]),
        b_eq=np.r_[np.zeros(A.shape[1]), 1.0],
        bounds=(0, None),
        method="highs",
    )
    return res.x if res.status == 0 else None


def separability(Z, y, *, exact_check: bool = True) -> Separability:
    """Strict affine argmax realizability of labels y on codes Z, proved in rationals when it can be.

    [paper; THEORY.md section 0, the LIN family, and T1.1] The probe f(z) = argmax_j (W z + b)_j
    realizes y when every point's own label scores strictly highest. A float LP (HiGHS) answers
    first; its answer is then proved exactly (``verification="exact"``): a probe by its
    rational margins, infeasibility by a rational Farkas vector, otherwise by sympy's rational
    simplex when the LP has at most ``exact.EXACT_LP_MAX_ENTRIES`` entries. Only beyond that is
    the answer HiGHS's (``"float-lp"``). Floats are read as the exact binary fractions they are.

    Args:
        Z: array-like (n, d), the codes.
        y: non-negative integer labels (n,).
        exact_check: False skips the rational proof (``verification="float-lp"``).
    """
    Z = as_features(Z, "Z")
    y = as_labels(y, Z.shape[0], name="y", other="Z")
    present, compact = np.unique(y, return_inverse=True)
    answer = _strict_argmax_lp(Z, compact.reshape(-1), present.size, exact_check=exact_check)
    if answer.probe is None:
        return answer
    W_c, b_c = answer.probe
    k = int(y.max()) + 1
    if k == present.size:
        return answer
    W = np.zeros((k, Z.shape[1]))
    b = np.full(k, float((Z @ W_c.T + b_c).min()) - 1.0)
    W[present], b[present] = W_c, b_c
    return Separability(answer.separable, answer.verification, (W, b), answer.note, answer.lp_tolerance)


def separating_probe(Z, y) -> tuple[np.ndarray, np.ndarray] | None:
    """An affine argmax probe realizing the labels, or None if none exists (see :func:`separability`).

    [paper; THEORY.md section 0, the LIN family] Exact: the None is proved in rational
    arithmetic (up to ``exact.EXACT_LP_MAX_ENTRIES`` LP entries; beyond, HiGHS's answer). A
    returned probe realizes y with strict margins; when only sympy's rational simplex could
    prove separability (margins below float resolution) the float probe may be None.

    Args:
        Z: array-like (n, d), the codes.
        y: non-negative integer labels (n,).

    Returns:
        (W, b) with W (k, d) and b (k,), k = max(y) + 1, such that
        ``probe_predict(W, b, Z) == y`` with strict margins; labels absent from y get rows that
        score below every present label on Z. None when no such probe exists.
    """
    return separability(Z, y).probe


def linearly_separable(Z, y) -> bool:
    """True iff some affine argmax probe realizes the labels y on Z with strict margins (exact).

    For two labels this is strict linear separability (THEORY.md T1.1); for k labels, strict
    argmax realizability (the LIN family of THEORY.md section 0). One label: always True. The
    answer is proved in rational arithmetic (:func:`separability`), so it agrees with
    ``is_ideal``: for codes that are exactly affinely independent every task is separable.

    Args:
        Z: array-like (n, d), the codes.
        y: non-negative integer labels (n,).
    """
    return separability(Z, y).separable


# ------------------------------------------------------------------------ exact probes
def pseudo_inverse_probe(C, task) -> tuple[np.ndarray, np.ndarray]:
    """The probe W c_m + b = e_{g(m)} for affinely independent codes (THEORY.md T1.3) [paper].

    With affinely independent codes the K x (d+1) matrix with rows (c_m, 1) has full row rank,
    so the minimum-norm least-squares solution (``scipy.linalg.lstsq``) solves the system
    exactly; the probe then scores 1 for each class's own label and 0 for the others. In floats
    the scores are 1 and 0 up to rounding (the codes are centred by c_0 and rescaled by a power
    of two first, so their offset does not enter); ``exact.probe_is_strict`` proves the margins.

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
    mean = C[0]
    unit = power_of_two(np.abs(C - mean).max())
    A = np.column_stack([(C - mean) / unit, np.ones(K)])
    E = np.zeros((K, k))
    E[np.arange(K), task] = 1.0
    import scipy.linalg as sla

    X = sla.lstsq(A, E, check_finite=False)[0]  # (d+1, k)
    residual = float(np.abs(A @ X - E).max())
    if residual > 1e-6:
        raise InputError(
            f"no exact probe W c + b = e_task for these codes (residual {residual:.3g}); "
            f"codes are affinely dependent (affine rank {affine_rank(C)} < K-1 = {K - 1})"
        )
    W = X[:d].T / unit
    b = X[d] - W @ mean
    return W, b


def probe_predict(W, b, Z) -> np.ndarray:
    """Predictions of the affine argmax probe: argmax_j (W z_i + b)_j, shape (n,) int64.

    Ties go to the lowest label (numpy's argmax); realizability in THEORY.md asks for a strict
    maximum, which :func:`separating_probe` and :func:`pseudo_inverse_probe` provide. The scores
    are float64 products (rounded); ``exact.probe_is_strict`` decides the margins exactly.

    Args:
        W: (k, d) weights; b: (k,) biases; Z: (n, d) codes.
    """
    W = as_features(W, "W")
    Z = as_features(Z, "Z")
    b = np.asarray(b, dtype=np.float64)
    if W.shape[1] != Z.shape[1]:
        raise InputError(f"W has {W.shape[1]} columns but Z has {Z.shape[1]} (dimension d)")
    if b.shape != (W.shape[0],):
        raise InputError(f"b must have shape ({W.shape[0]},) to match W, got {b.shape}")
    if not np.isfinite(b).all():
        raise InputError("b contains NaN or Inf")
    return np.argmax(Z @ W.T + b, axis=1).astype(np.int64)
