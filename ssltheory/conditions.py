"""Is a representation ideal for probing? The exact predicates and their certificates.

THEORY.md T1 (linear probes) and T2 (universal probes) [paper: Def. 1, Thm 1 and the three
conditions of section 3, read as in T1.4]:

- ``probe="linear"``: phi is ideal iff it is **invariant** and its class codes are **affinely
  independent** (T1.2: then every invariant task, any k, is LIN-realizable). Affine independence
  implies **distinct codes** and **dimension** d >= K - 1, which are reported as separate
  conditions.
- ``probe="universal"``: phi is ideal iff it is **invariant** and its class codes are
  **pairwise distinct** (T2). Affine independence and dimension are reported, not required.

Invariance is required for both, following the paper: a non-invariant encoder may still realize
every invariant task (population-ideal) but is not sample-optimal (T3).

Every ``False`` comes with a :class:`Certificate`: an invariant task (one label per class) that
no probe of the family realizes, with the points, pair or weights that show it, checkable on its
own (by an LP, or by looking at two equal codes).

Tolerance. By default everything is decided by the tolerance rule of
:mod:`ssltheory.geometry`: one absolute threshold ``atol = rtol * s_max``, s_max the largest
singular value of the centred class codes (centred by one code and rescaled by powers of two, so
independent of the codes' offset and scale), ``rtol`` = ``tol`` in [0, 1) if given, else
max(K, d) * eps(dtype of the features) (:func:`ssltheory.geometry.resolve_rtol`). A point is
"equal" to its class code when within atol of it (Euclidean), two codes are equal when within
atol of each other, and a singular value counts as zero when at most atol.

Verification. Every certificate says which check it passed (witness ``verification``):
``exact`` (re-proved in rational arithmetic, floats read as their exact binary fractions: an
exact circuit lambda with sum lambda_m c_m = 0 and sum lambda_m = 0, identical codes, or an exact
LP), ``float-lp`` (a HiGHS LP at its feasibility tolerance) or ``none``, each with its reason.

Exact mode (``exact=True``, ``ssltheory check --exact``): the verdict itself in rational
arithmetic, a proof rather than a judgement at a tolerance: invariance is equality of the rows,
distinct codes equality of the codes, affine independence the rank of the rational (d+1) x K
matrix with columns (c_m, 1) (python-flint), for at most EXACT_MAX_ENTRIES code entries.

Example::

    >>> Z = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])   # collinear codes (span 1; T1.4 uses (0,1),(1,1),(2,1))
    >>> verdict = is_ideal(Z, [0, 1, 2])
    >>> verdict.ok, verdict.certificate.kind, verdict.certificate.task.tolist()
    (False, 'affine-dependence', [0, 1, 0])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ssltheory import exact as rational
from ssltheory.equivalence import BLOCK_ROWS, as_classes, class_rows, components, member_batches, scaled_rows
from ssltheory.errors import InputError
from ssltheory.files import jsonable
from ssltheory.geometry import (
    EXACT,
    FLOAT_LP,
    NONE,
    Spectrum,
    affine_spectrum,
    centre_codes,
    power_of_two,
    radon_from_rank,
    resolve_rtol,
    row_norms,
    scaled,
    separability,
)
from ssltheory.tasks import enumerate_binary_tasks
from ssltheory.validation import as_count, as_features

PROBES = ("linear", "universal")

#: Verification of a certificate (``verify=``): with None ("auto", the default) an exact check
#: runs when the class codes have at most EXACT_AUTO_ENTRIES entries (K x d; milliseconds), with
#: "exact" up to EXACT_MAX_ENTRIES; "float-lp" re-checks the task by a HiGHS LP of at most
#: LP_VERIFY_MAX_ENTRIES entries; "none" runs nothing. Exact mode needs the same EXACT_MAX_ENTRIES.
VERIFY_MODES = ("auto", "exact", "float-lp", "none")
EXACT_AUTO_ENTRIES = 20_000
EXACT_MAX_ENTRIES = 300_000
EXACT_MAX_POINT_ENTRIES = 2_000_000
LP_VERIFY_MAX_ENTRIES = 400_000
#: non-invariant features: search every binary task by LP when K and the LP are at most this big
SEARCH_MAX_CLASSES = 10
SEARCH_MAX_ENTRIES = 20_000
#: ... and for at most this many seconds (the exact proofs are slow on degenerate codes)
SEARCH_MAX_SECONDS = 5.0
_COLUMN_SALTS: dict[int, np.ndarray] = {}
#: entries of one (block x window) matrix of pair-distance bounds in _candidate_blocks (1 MiB of float64)
_BOUND_BLOCK = 1 << 17
#: rows of the seeded sample from which the pair searches build their projection basis (_projected_rows)
_BASIS_SAMPLE_ROWS = 512
#: floats gathered at once when computing exact distances of candidate pairs
_PAIR_BLOCK_FLOATS = 1 << 22


# ------------------------------------------------------------------------ verdict objects
@dataclass(frozen=True)
class Condition:
    """One condition of the verdict: whether it holds, its measured value and a readable detail."""

    ok: bool
    value: float | int
    detail: str

    def to_dict(self) -> dict:
        return jsonable({"ok": self.ok, "value": self.value, "detail": self.detail})


@dataclass(frozen=True)
class Certificate:
    """Evidence that a representation is not ideal.

    Attributes:
        task: int64 (K,), one label per class: an invariant task that no probe of the family
            realizes; None only for kind "not-invariant" when no such task was found (a
            non-invariant encoder can realize every invariant task and still fail, T3).
        witness: what shows it (plain Python values), by kind:
            "affine-dependence": ``lambda`` (K,) with sum lambda_m c_m = 0 and sum lambda_m = 0
            (at the tolerance, or exactly: then ``lambda_exact`` maps each class of the support
            to its rational lambda as "p/q"), ``support`` (at most rank + 2 classes),
            ``common_point`` (d,) in both hulls, ``residual``.
            "shared-code": ``classes`` [m, m'], their ``distance`` (<= ``tolerance``), ``code``.
            "not-invariant": ``pair`` [i, j] of equivalent points, their ``class`` and
            ``distance``, and when a task is given, ``task_reason`` and its evidence.
            Every witness has ``verification``: {"check": "exact" | "float-lp" | "none",
            "reason": why, and for "float-lp" the LP's "tolerance"}. "exact": re-proved in
            rational arithmetic (the floats read as their binary fractions); "float-lp": a
            HiGHS LP found no probe realizing the task on the points; "none": not checked (too
            large, not asked for) or the check found the task realizable exactly, so that the
            failure holds only at the tolerance (then "realizable": True).
        kind: "affine-dependence", "shared-code" or "not-invariant".
    """

    task: np.ndarray | None
    witness: dict
    kind: str

    def to_dict(self) -> dict:
        return jsonable({"task": self.task, "witness": {"kind": self.kind, **self.witness}})


@dataclass(frozen=True)
class IdealVerdict:
    """The answer of :func:`is_ideal`.

    Attributes:
        ok: the representation is ideal for the probe family.
        probe: "linear" or "universal".
        n_points, n_classes, dim: n, K, d.
        conditions: name -> Condition for "invariance", "distinct_codes", "affine_independence",
            "dimension" (for universal probes the last two are reported, not required).
        certificate: None when ok, else a Certificate.
        rtol, atol: the relative tolerance used and the absolute threshold rtol * s_max
            (both 0 in exact mode).
        mode: "tolerance" (decided by the tolerance rule) or "exact" (decided in rational
            arithmetic: a proof).
    """

    ok: bool
    probe: str
    n_points: int
    n_classes: int
    dim: int
    conditions: dict[str, Condition]
    certificate: Certificate | None
    rtol: float = field(default=0.0)
    atol: float = field(default=0.0)
    mode: str = field(default="tolerance")

    def to_dict(self) -> dict:
        """JSON-ready dict: the fields of ``check --json`` (docs/ARCHITECTURE.md, "Command line")."""
        return {
            "ideal": bool(self.ok),
            "mode": self.mode,
            "probe": self.probe,
            "n_points": int(self.n_points),
            "n_classes": int(self.n_classes),
            "dim": int(self.dim),
            "tol": float(self.rtol),
            "atol": float(self.atol),
            "conditions": {name: c.to_dict() for name, c in self.conditions.items()},
            "certificate": None if self.certificate is None else self.certificate.to_dict(),
        }

    def summary(self) -> str:
        """A few readable lines: the verdict, each condition, the certificate."""
        required = _REQUIRED[self.probe]
        lines = [
            f"{self.probe} probes: {'IDEAL' if self.ok else 'NOT IDEAL'} "
            f"(n_points={self.n_points}, n_classes={self.n_classes}, dim={self.dim}; "
            + (
                "exact rational arithmetic)"
                if self.mode == "exact"
                else f"tolerance {self.atol:.3g} = {self.rtol:.3g} x s_max)"
            )
        ]
        for name, cond in self.conditions.items():
            mark = "ok" if cond.ok else ("FAIL" if name in required else "no")
            lines.append(f"  [{mark:>4}] {name}: {_fmt(cond.value)} - {cond.detail}")
        cert = self.certificate
        if cert is not None:
            lines.append(f"certificate ({cert.kind}):")
            if cert.task is None:
                lines.append("  task: none found (see the witness)")
            else:
                lines.append(f"  task (label per class): {_short(cert.task.tolist())}")
            for key, value in jsonable(cert.witness).items():
                lines.append(f"  {key}: {_short(value)}")
        return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _short(value, limit: int = 12) -> str:
    if isinstance(value, list) and len(value) > limit:
        head = ", ".join(_fmt(v) for v in value[:limit])
        return f"[{head}, ... ({len(value)} entries)]"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return _fmt(value)


_REQUIRED = {
    "linear": ("invariance", "distinct_codes", "affine_independence", "dimension"),
    "universal": ("invariance", "distinct_codes"),
}


def _verdict_conditions(probe: str, invariance, distinct, affine, dimension) -> tuple[dict, bool]:
    """The four conditions by name, and whether every one the probe family requires holds (`_REQUIRED`)."""
    conditions = {
        "invariance": invariance,
        "distinct_codes": distinct,
        "affine_independence": affine,
        "dimension": dimension,
    }
    return conditions, all(conditions[name].ok for name in _REQUIRED[probe])


# ------------------------------------------------------------------------ numerical helpers
def _deviations(Z: np.ndarray, classes, offsets: np.ndarray, unit: float) -> np.ndarray:
    """||z_i - c_{M(i)}|| / unit for every point, (n,) float64, streamed in row batches.

    Computed as ||(z_i - z_first) / unit - offset_m|| (offsets from ``mean_offsets`` in the same
    unit, rows batched as there by `member_batches`; a class's first row is at ||offset_m||), so
    that a large common offset of the codes does not drown small deviations in rounding, and with
    :func:`row_norms`, which neither under- nor overflows.
    """
    n = Z.shape[0]
    out = np.empty(n)
    out[classes.first] = row_norms(offsets)
    reference = scaled_rows(Z, classes.first, unit)
    buffer = np.empty((min(n, BLOCK_ROWS), Z.shape[1]))
    for rows, labels, one_class in member_batches(classes.labels, skip_first=True):
        block = scaled_rows(Z, rows, unit, out=buffer)
        block -= class_rows(reference, labels, one_class)
        block -= class_rows(offsets, labels, one_class)
        out[rows] = row_norms(block)
    return out


def exact_duplicate_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Representatives of identical rows: (rep (U,) first index of each distinct row, inv (n,)).

    Equal rows, and only equal rows, get the same representative. Rows are hashed exactly (each
    entry's bit pattern, -0.0 read as 0.0, mixed with its column by splitmix64's finaliser, the
    results summed modulo 2**64) and grouped by hash; every row is then compared with its
    group's first row, and the rows that differ (hash collisions) are grouped among themselves by
    their bytes.
    """
    X = np.ascontiguousarray(X) + 0.0  # -0.0 becomes 0.0: equal values, equal bits
    h = _mixed(X.view(np.uint64 if X.dtype.itemsize == 8 else np.uint32)).sum(axis=1, dtype=np.uint64)
    _, rep, inv = np.unique(h, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if rep.size < X.shape[0]:
        collided = np.flatnonzero((X != X[rep[inv]]).any(axis=1))
        if collided.size:
            rows = X[collided].view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).reshape(-1)
            _, first, group = np.unique(rows, return_index=True, return_inverse=True)
            inv = inv.copy()
            inv[collided] = rep.size + group.reshape(-1)
            rep = np.concatenate([rep, collided[first]])
    return rep.astype(np.int64), inv.astype(np.int64)


def _mixed(bits: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of each entry's bits plus a per-column constant, (n, d) uint64."""
    with np.errstate(over="ignore"):
        z = bits.astype(np.uint64) + _column_salts(bits.shape[1])
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def _column_salts(d: int) -> np.ndarray:
    """d fixed 64-bit integers (seeded), one per column, cached per d."""
    if d not in _COLUMN_SALTS:
        _COLUMN_SALTS[d] = np.random.default_rng(12345).integers(0, 2**63, size=d, dtype=np.uint64)
    return _COLUMN_SALTS[d]


def _pair_distances(X: np.ndarray, a: np.ndarray, b: np.ndarray, unit: float = 1.0) -> np.ndarray:
    """||x_a - x_b|| / unit for index arrays a, b (m,), in float64, a bounded number of rows at a time."""
    out = np.empty(a.size)
    step = max(1, _PAIR_BLOCK_FLOATS // X.shape[1])
    for start in range(0, a.size, step):
        diff = scaled_rows(X, a[start : start + step], unit)
        diff -= scaled_rows(X, b[start : start + step], unit)
        out[start : start + step] = row_norms(diff)
    return out


def _close_pairs(X: np.ndarray, atol: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows within atol, through exact duplicates: ((m, 2) int64, (m,) distances).

    Exact duplicates are first linked to their first occurrence (distance 0) and only the distinct
    rows are searched (`_candidate_blocks`, then true distances); pairs among duplicates of two
    near rows then follow by transitivity through their representatives, which is all that
    counting distinct codes (connected components) needs.
    """
    rep, inv = exact_duplicate_rows(X)
    dup = np.flatnonzero(rep[inv] != np.arange(X.shape[0]))
    found = [np.column_stack([rep[inv[dup]], dup])]
    dists = [np.zeros(dup.size)]
    U = X[rep]
    for a, b in _candidate_blocks(U, atol, 1.0):
        dist = _pair_distances(U, a, b)
        near = dist <= atol
        found.append(np.column_stack([rep[a[near]], rep[b[near]]]))
        dists.append(dist[near])
    return np.concatenate(found).astype(np.int64), np.concatenate(dists)


def _first_cross_class_pair(
    Z: np.ndarray, labels: np.ndarray, atol: float, unit: float
) -> tuple[int, int, float] | None:
    """Two points of different classes within atol of each other (rows divided by ``unit``), or None.

    Returns (i, j, ||z_i - z_j|| / unit), i < j. The candidates of `_candidate_blocks` (pairs of
    different classes), smallest bound first, are checked by their true distances
    (`_pair_distances`) and the first within atol is returned (identical rows of two classes have
    bound and distance 0, so they come first in their block).
    """
    for a, b in _candidate_blocks(Z, atol, unit, labels):
        for s in range(0, a.size, 4096):
            dist = _pair_distances(Z, a[s : s + 4096], b[s : s + 4096], unit)
            hit = np.flatnonzero(dist <= atol)
            if hit.size:
                h = int(hit[0])
                return int(a[s + h]), int(b[s + h]), float(dist[h])
    return None


def _candidate_blocks(U: np.ndarray, atol: float, unit: float, labels: np.ndarray | None = None):
    """Yield (a, b) index arrays (a < b) of the pairs of rows of U / unit that may be within atol.

    Exact for any atol (every pair whose `_pair_distances` is at most atol is yielded), with
    memory bounded by _BOUND_BLOCK entries (never n x n). The rows x = U / unit, less the first
    row x_0, are projected on an orthonormal basis V (d x k, k = min(d, 24); any orthonormal V
    keeps both bounds below valid, its quality only sets how many pairs survive them) by
    `_projected_rows`, and two bounds prune the pairs:

    1. A sweep along the first coordinate p = (x - x_0) v (v the basis's first column, the
       sample's principal direction): |v^T (x_a - x_b)| <= ||v|| ||x_a - x_b||, so after sorting
       the rows by p a row only meets the later rows whose p is within the window

           w = ||v|| (1 + 1e-9) (atol (1 + 1e-6) + 4 (d + 4) eps r_max),   r_max = max ||x - x_0||.

       The margin covers the rounding of p = fl(fl(x - x_0) V) (at most (d + 1) eps ||x - x_0||
       ||v|| per row, so (d + 1) eps 2 r_max ||v|| for a difference, Higham's dot-product bound), of the
       window's end fl(p + w) (eps (|p| + w)), and of the distance `_pair_distances` computes
       (a correctly rounded difference and a d-term sum: relative (d + 2) eps, far below 1e-6).
    2. For the pairs inside the window, blocked matrix products of

           ||x_a - x_b||^2 >= ||V^T (x_a - x_b)||^2 + (||r_a|| - ||r_b||)^2,   r = y - V V^T y, y = x - x_0,

       (the second term with its rounding margin taken off, `_projected_rows`): a pair is a
       candidate when this bound is within atol^2 (1 + 1e-6) + 32 (d + 8) eps (||y_a||^2 + ||y_b||^2)
       (rounding slack) and, with ``labels``, its rows are of different classes. The bound is
       evaluated as -2 p_a . p_b + (||p_b||^2 - slack_b) <= limit_a - ||p_a||^2 on the block (one
       product and one addition per entry), and the residual term only for the pairs it leaves in.

    Blocks of consecutive rows in the sorted order meet their window of later rows; each block's
    candidates come smallest bound first.
    """
    n, d = U.shape
    eps = np.finfo(np.float64).eps
    P, residual, margin, sq_norms, v_norm = _projected_rows(U, unit)
    order = np.argsort(P[:, 0], kind="stable")
    P, residual, margin, sq_norms = P[order], residual[order], margin[order], sq_norms[order]
    key = np.ascontiguousarray(P[:, 0])
    r_max = math.sqrt(float(sq_norms.max())) * (1 + 1e-9)
    width = v_norm * (1 + 1e-9) * (atol * (1 + 1e-6) + 4 * (d + 4) * eps * r_max)
    reach = np.searchsorted(key, key + width, side="right")  # row i meets rows i+1 .. reach[i]-1
    slack = 32 * (d + 8) * eps
    proj_sq = np.einsum("ij,ij->i", P, P)
    limit = atol * atol * (1 + 1e-6) + slack * sq_norms  # bound_ab <= limit_a + slack sq_b, read as
    row_term = limit - proj_sq  # -2 p_a . p_b + (proj_sq_b - slack sq_b) <= limit_a - proj_sq_a
    column_term = proj_sq - slack * sq_norms
    left = -2.0 * P  # exact
    with_residual = bool(residual.any() or margin.any())
    look = max(1, math.isqrt(_BOUND_BLOCK))  # a block of m rows has at least m^2 entries (reach[i] > i)
    start = 0
    while start < n:
        ahead = reach[start : start + look] - start
        cost = np.arange(1, ahead.size + 1) * ahead
        stop = start + max(1, int(np.searchsorted(cost, _BOUND_BLOCK, side="right")))
        end = int(reach[stop - 1])
        if end <= start + 1:  # a single row with no later row in its window
            start = stop
            continue
        bound = left[start:stop] @ P[start:end].T
        bound += column_term[None, start:end]
        bound[:, : stop - start][np.tri(stop - start, dtype=bool)] = np.inf  # each pair once: a < b in the order
        rows, cols = np.nonzero(bound <= row_term[start:stop, None])
        if rows.size == 0:
            start = stop
            continue
        value = bound[rows, cols] + proj_sq[rows + start]
        rows += start
        cols += start
        if with_residual:  # the residual term only where the projected one leaves the pair in
            gap = np.abs(residual[rows] - residual[cols]) - margin[rows] - margin[cols]
            value += np.maximum(gap, 0.0) ** 2
            near = value <= limit[rows]
            rows, cols, value = rows[near], cols[near], value[near]
        a, b = order[rows], order[cols]
        if labels is not None:
            cross = labels[a] != labels[b]
            a, b, value = a[cross], b[cross], value[cross]
        if a.size:
            rank = np.argsort(value, kind="stable")
            a, b = a[rank], b[rank]
            yield np.minimum(a, b), np.maximum(a, b)
        start = stop


def _projected_rows(X: np.ndarray, unit: float, k: int = 24) -> tuple:
    """Rows of X / unit, less the first row, on an orthonormal basis V of (about) their dominant subspace.

    Returns (P (n, k') the coordinates x V, r (n,) the norms of x - V V^T x as sqrt(||x||^2 -
    ||P||^2), e (n,) = sqrt(8 d eps) ||x|| the most that difference's rounding can move r, (n,)
    the squared norms of x, ||v|| the computed norm of V's first column), with k' = min(d, k).
    V comes from a seeded sample of at most _BASIS_SAMPLE_ROWS rows (two steps of a randomized
    range finder on the centred sample, then rotated by the eigenvectors of the k x k Gram matrix
    of the sample's coordinates, so that the first column is the sample's principal direction);
    one streamed pass over X (float64, row blocks) then gives P and the squared norms. When
    d <= k, V = I with the coordinate of largest spread first, and r = e = 0.
    """
    n, d = X.shape
    origin = scaled_rows(X, [0], unit)  # distances do not move; differences round to the spread
    buffer = np.empty((min(n, BLOCK_ROWS), d))

    def rows(index, out=buffer):
        block = scaled_rows(X, index, unit, out=out)
        block -= origin
        return block

    if d <= k:
        P = rows(slice(None), out=None)
        spread = P.max(axis=0) - P.min(axis=0)
        P = P[:, np.argsort(-spread, kind="stable")]
        return P, np.zeros(n), np.zeros(n), np.einsum("ij,ij->i", P, P), 1.0
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=_BASIS_SAMPLE_ROWS, replace=False)) if n > _BASIS_SAMPLE_ROWS else slice(None)
    S = rows(sample, out=None)
    S -= S.mean(axis=0)
    V = np.linalg.qr(S.T @ (S @ rng.standard_normal((d, k))))[0]
    V = np.linalg.qr(S.T @ (S @ V))[0]
    C = S @ V
    V = V @ np.linalg.eigh(C.T @ C)[1][:, ::-1]  # a rotation (k x k): the sample's principal direction first
    P, sq = np.empty((n, k)), np.empty(n)
    for start in range(0, n, BLOCK_ROWS):
        R = rows(slice(start, start + BLOCK_ROWS))
        stop = start + R.shape[0]
        np.matmul(R, V, out=P[start:stop])
        sq[start:stop] = np.einsum("ij,ij->i", R, R)
    residual = np.sqrt(np.clip(sq - np.einsum("ij,ij->i", P, P), 0.0, None))
    return P, residual, np.sqrt(8 * d * np.finfo(np.float64).eps * sq), sq, float(np.linalg.norm(V[:, 0]))


def _exactly_invariant(Z: np.ndarray, classes) -> bool:
    """Every row equals its class's first row (as numbers), checked in row blocks."""
    labels, first = classes.labels, classes.first
    for start in range(0, Z.shape[0], BLOCK_ROWS):
        stop = min(Z.shape[0], start + BLOCK_ROWS)
        if not np.array_equal(Z[start:stop], Z[first[labels[start:stop]]]):
            return False
    return True


def _separating_task(n_classes: int, m: int) -> np.ndarray:
    """The task putting class m alone against every other class, (K,) int64."""
    task = np.zeros(n_classes, dtype=np.int64)
    task[m] = 1
    return task


# ------------------------------------------------------------------------ verification
class _Verifier:
    """Which check a certificate gets (``verify=``) and the checks themselves."""

    def __init__(self, verify, Z, classes, probe):
        self.mode = "auto" if verify is None else verify
        self.Z, self.classes, self.probe = Z, classes, probe
        K, d = classes.n_classes, Z.shape[1]
        self.entries = K * d
        self._exact_codes = None
        self.flint_missing = False
        if self.mode == "none":
            self.exact, self.reason = False, "verification not requested (verify='none')"
        elif self.mode == "float-lp":
            self.exact, self.reason = False, ""
        else:
            limit = EXACT_AUTO_ENTRIES if self.mode == "auto" else EXACT_MAX_ENTRIES
            self.exact = self.entries <= limit
            missing = rational.flint_missing() if self.exact and self.mode == "auto" else None
            if missing:  # auto falls back on the float LP, and separability() says why in each answer
                self.mode, self.exact, self.reason, self.flint_missing = "float-lp", False, missing, True
                return
            hint = (
                "; pass verify='exact' (check --verify exact) to run it"
                if self.mode == "auto" and self.entries <= EXACT_MAX_ENTRIES
                else ""
            )
            self.reason = (
                "" if self.exact else f"exact check of {self.entries} code entries not run (limit {limit}{hint})"
            )

    def exact_codes(self) -> np.ndarray | None:
        """The class codes as exact floats when every class's rows are identical, else None."""
        if self._exact_codes is None:
            self._exact_codes = (
                (np.asarray(self.Z[self.classes.first], dtype=np.float64),)
                if _exactly_invariant(self.Z, self.classes)
                else (None,)
            )
        return self._exact_codes[0]

    def on_points(self, task: np.ndarray) -> dict:
        """Is the task, lifted to the points, unrealizable by affine argmax probes? (LP, exact or float)."""
        y = task[self.classes.labels]
        if self.mode == "float-lp" or not self.exact:
            if self.mode != "float-lp":
                return {"check": NONE, "reason": self.reason}
            entries = self.Z.shape[0] * (self.Z.shape[1] + 1) * max(1, int(y.max()))
            if entries > LP_VERIFY_MAX_ENTRIES:
                return {"check": NONE, "reason": f"LP of {entries} entries not run (limit {LP_VERIFY_MAX_ENTRIES})"}
        try:
            answer = separability(self.Z, y, exact_check=self.mode != "float-lp" or self.flint_missing)
        except RuntimeError as exc:  # HiGHS gave no answer and the exact LP was too large
            return {"check": NONE, "reason": f"LP verification failed: {exc}"}
        if answer.separable:
            return {
                "check": NONE,
                "realizable": True,
                "by": answer.verification,
                "reason": f"a probe realizes this task on the points ({answer.verification}: "
                f"{answer.note}); the failure holds only at the tolerance",
            }
        out = {
            "check": answer.verification,
            "reason": f"no affine argmax probe realizes the task on the points: {answer.note}",
        }
        if answer.verification == FLOAT_LP:
            out["tolerance"] = answer.lp_tolerance
        return out


def _oriented(found: tuple[np.ndarray, list[Fraction]], lam: np.ndarray) -> tuple[np.ndarray, list[Fraction]]:
    """The exact circuit with the sign that agrees with the float lambda (same task when possible)."""
    classes, values = found
    if float(np.dot([float(v) for v in values], lam[classes])) >= 0:
        return found
    flipped = [-v for v in values]
    positive = sum(v for v in flipped if v > 0)
    return classes, [v / positive for v in flipped]


def _exact_lambda_witness(witness: dict, classes: np.ndarray, lam: list[Fraction], K: int) -> np.ndarray:
    """Put an exact circuit into an affine-dependence witness; returns its task (K,)."""
    full = np.zeros(K)
    full[classes] = [float(v) for v in lam]
    witness["lambda"] = full
    witness["support"] = classes
    witness["lambda_exact"] = {int(m): str(v) for m, v in zip(classes, lam)}
    return (full > 0).astype(np.int64)


@dataclass(frozen=True)
class CodeGeometry:
    """The numbers every tolerance decision of :func:`is_ideal` reads, in scaled units.

    Attributes:
        z_unit: power of two; every length below is in units of z_unit (features / z_unit lie
            in (-2, 2)), except M's.
        offsets: (K, d) class means minus each class's first row, in z units.
        codes: (K, d) class codes (means) in z units.
        M, code_unit: :func:`ssltheory.geometry.centre_codes` of the codes (M * code_unit is
            in z units).
        spectrum: :func:`ssltheory.geometry.affine_spectrum` of M (its singular values, or a
            proof of full rank), in M's units.
        rank: affine rank at the tolerance rule; atol_m its threshold in M's units.
        deviation: (n,) distance of each point to its class code, in z units.
        invariant: every deviation is at most atol_m * code_unit.
        rtol: the relative tolerance used.
    """

    z_unit: float
    offsets: np.ndarray
    codes: np.ndarray
    M: np.ndarray
    code_unit: float
    spectrum: Spectrum
    rank: int
    atol_m: float
    deviation: np.ndarray
    invariant: bool
    rtol: float


def code_geometry(Z, classes, tol: float | None = None) -> CodeGeometry:
    """Class codes, their centred singular values, affine rank and the invariance test [derived].

    The one place where the tolerance rule of :mod:`ssltheory.geometry` meets the features:
    codes are class means taken against a member of each class, all lengths are divided by
    powers of two (so no offset or scale of the features changes a decision), and a point is
    invariant when within atol = rtol * s_max of its class code. ``is_ideal`` decides with it,
    and any score that claims "1 exactly when invariant" should ask its ``invariant``.

    Args:
        Z: (n, d) features (float32 or float64 kept); classes: EquivalenceClasses or ids (n,);
        tol: relative tolerance in [0, 1) or None (see :func:`ssltheory.geometry.resolve_rtol`).
    """
    Z = as_features(Z, "features", dtype=None)
    classes = as_classes(classes, Z.shape[0], name="classes", other="features")
    return _code_geometry(Z, classes, resolve_rtol(tol, classes.n_classes, Z.shape[1], Z.dtype))


def _code_geometry(Z: np.ndarray, classes, rtol: float) -> CodeGeometry:
    """:func:`code_geometry` of validated features and classes at the relative tolerance rtol."""
    n, d = Z.shape
    K = classes.n_classes
    z_unit = power_of_two(max(abs(float(Z.max())), abs(float(Z.min()))))
    # exactly invariant features (every row equal to its class's first one, the usual case for
    # class codes and identical views) have zero offsets and deviations: no float64 pass needed
    exactly = K == n or _exactly_invariant(Z, classes)
    rows = Z if K == n and np.array_equal(classes.first, np.arange(n)) else Z[classes.first]
    codes = np.asarray(rows, dtype=np.float64) / z_unit
    offsets = np.zeros((K, d)) if exactly else classes.mean_offsets(Z, z_unit)
    if not exactly:
        codes += offsets
    deviation = np.zeros(n) if exactly else _deviations(Z, classes, offsets, z_unit)
    return geometry_from_measurements(z_unit, offsets, codes, deviation, Z.dtype, rtol)


def geometry_from_measurements(z_unit: float, offsets, codes, deviation, dtype, rtol: float) -> CodeGeometry:
    """The decisions of :func:`code_geometry` from its measurements (all in z units, z_unit =
    ``geometry.power_of_two(max |Z|)``): ``offsets`` (K, d) from ``EquivalenceClasses.mean_offsets``,
    ``codes`` (K, d) = the classes' first rows + offsets, ``deviation`` (n,) the `geometry.row_norms`
    of each row minus its class code, taken as (z - z_first) - offset. Given the same numbers (the
    scoring engine streams the same rows with the same operations), the same geometry.
    """
    M, code_unit = centre_codes(codes)
    spectrum = affine_spectrum(M, dtype, rtol)
    rank, atol_m = spectrum.rank, spectrum.atol
    peak = float(deviation.max()) if deviation.size else 0.0
    invariant = peak == 0.0 or bool(peak <= atol_m * code_unit)
    return CodeGeometry(z_unit, offsets, codes, M, code_unit, spectrum, rank, atol_m, deviation, invariant, rtol)


# ------------------------------------------------------------------------ the predicate
def is_ideal(
    Z,
    classes,
    probe: str = "linear",
    tol: float | None = None,
    *,
    verify: str | None = None,
    exact: bool = False,
    geometry: CodeGeometry | None = None,
) -> IdealVerdict:
    """Is the representation Z ideal for the probe family? (THEORY.md T1, T2) [paper].

    Args:
        Z: array-like (n_points, d), one code per input (float32 is kept, not copied).
        classes: EquivalenceClasses, or one non-negative integer class id per input (n,).
            At least two classes. Certificates index classes by the EquivalenceClasses'
            numbering, or by the rank of each raw id among the distinct ids (the ids themselves
            when they are 0..K-1).
        probe: "linear" (affine argmax probes, T1) or "universal" (any function of z, T2).
        tol: relative tolerance in [0, 1), or None for max(K, d) * eps(dtype of Z); every
            comparison uses atol = rtol * s_max (see the module docstring). Ignored by exact mode.
        verify: how a certificate is re-checked (witness ``verification``): None or "auto"
            (exact for codes of at most EXACT_AUTO_ENTRIES entries, else none), "exact" (up to
            EXACT_MAX_ENTRIES), "float-lp" (a HiGHS LP) or "none". The verdict does not depend
            on it; an exact check may replace a float certificate by an exact one.
        exact: decide the verdict itself in rational arithmetic (see the module docstring):
            IdealVerdict.mode is then "exact" and every certificate is exact.
        geometry: the :func:`code_geometry` of these Z and classes at this tolerance when the
            caller has it (the scoring engine measures it while streaming the views:
            ``ViewStatistics.code_geometry``), so that it is not measured twice; it must be made
            at the same rtol with K classes and n deviations. Ignored by exact mode.

    Returns:
        IdealVerdict with the four conditions and, when not ideal, a certificate. For
        non-invariant Z the class codes are undefined: distinct codes, affine independence and
        dimension are then evaluated on the class means (and the details say so), and the
        certificate ("not-invariant") names two equivalent points with different codes; its task
        is an invariant task shown unrealizable on the points themselves, when one was found.

    Raises:
        ValueError: bad features or classes (shape, NaN / Inf, non-integer or negative ids,
            lengths that disagree), a single class, an unknown probe or verify mode, a tol
            outside [0, 1), or exact mode on codes beyond EXACT_MAX_ENTRIES.
    """
    if probe not in PROBES:
        raise InputError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
    if verify is not None and verify not in VERIFY_MODES:
        raise InputError(f"verify must be None or one of {', '.join(VERIFY_MODES)}, got {verify!r}")
    if exact not in (True, False):
        raise InputError(f"exact must be True or False, got {exact!r}")
    Z = as_features(Z, "features", dtype=None)
    classes = as_classes(classes, Z.shape[0], name="classes", other="features")
    n, d = Z.shape
    K = classes.n_classes
    if K < 2:
        raise InputError("classes has a single class: ideal-ness needs at least two classes")
    rtol = resolve_rtol(tol, K, d, Z.dtype)
    if exact:
        return _exact_verdict(Z, classes, probe)
    labels = classes.labels
    verifier = _Verifier(verify, Z, classes, probe)

    if geometry is None:
        geo = _code_geometry(Z, classes, rtol)
    elif geometry.rtol != rtol or geometry.codes.shape != (K, d) or geometry.deviation.shape != (n,):
        raise InputError(
            f"geometry was measured at rtol {geometry.rtol:g} on {geometry.codes.shape[0]} codes of dimension "
            f"{geometry.codes.shape[1]} and {geometry.deviation.size} points, not at rtol {rtol:g} on these "
            f"{K} classes of {n} points in dimension {d}; pass geometry=None to measure it here"
        )
    else:
        geo = geometry
    z_unit, codes, M, code_unit, rank, atol_m = geo.z_unit, geo.codes, geo.M, geo.code_unit, geo.rank, geo.atol_m
    atol = atol_m * code_unit  # in z units
    units = (code_unit, z_unit)  # from M's units to the features' own (their product may overflow: see scaled)
    deviation = geo.deviation
    invariant = geo.invariant
    on_means = "" if invariant else " (on class means: the features are not invariant, so class codes are undefined)"
    not_required = "; reported, not required for universal probes (T2)" if probe == "universal" else ""
    atol_true = scaled(atol, z_unit)

    # ---- invariance
    worst = int(np.argmax(deviation))
    if invariant:
        inv_detail = (
            f"every point is within {atol_true:.3g} of its class code "
            f"(largest distance {scaled(deviation[worst], z_unit):.3g})"
        )
        pair = None
    else:
        m = int(labels[worst])
        members = classes.members[m]
        spread = _pair_distances(Z, np.full(members.size, worst), members, z_unit)
        partner = int(members[np.argmax(spread)])
        pair = (min(worst, partner), max(worst, partner), scaled(spread.max(), z_unit), m)
        inv_detail = (
            f"points {pair[0]} and {pair[1]} are equivalent (class {m}) but their codes differ by "
            f"{pair[2]:.3g} > {atol_true:.3g}; even if every invariant task were realizable, a "
            f"non-invariant encoder is not sample-optimal (T3)"
        )
    invariance = Condition(invariant, scaled(deviation[worst], z_unit), inv_detail)

    # ---- affine independence and dimension
    s_true = [scaled(v, *units) for v in (geo.spectrum.s_max, geo.spectrum.s_kept)]
    kept = (
        f"(K-1)-th {s_true[1]:.3g}"
        if geo.spectrum.values is not None
        else f"(K-1)-th at least {s_true[1]:.3g} (proved by QR, no SVD)"
    )
    affine = Condition(
        rank == K - 1,
        rank,
        f"affine rank {rank} of {K} class codes, K-1 = {K - 1} needed; singular values of the "
        f"centred codes: largest {s_true[0]:.3g}, {kept}, zero at or below {atol_true:.3g}"
        f"{on_means}{not_required}",
    )
    dimension = _dimension_condition(probe, K, d, not_required)

    # ---- distinct codes
    shared = None
    if rank == K - 1:
        distinct = Condition(True, K, f"all {K} class codes are distinct (implied by affine independence){on_means}")
    else:
        pairs, dists = _close_pairs(M, atol_m)
        n_distinct = components(pairs, K)[0]
        if len(pairs):
            # the closest pair, preferring classes whose codes are identical numbers (checkable exactly)
            identical = (codes[pairs[:, 0]] == codes[pairs[:, 1]]).all(axis=1)
            h = int(np.lexsort((dists, ~identical))[0])
            shared = (int(pairs[h].min()), int(pairs[h].max()), scaled(dists[h], *units))
            text = (
                f"{n_distinct} distinct codes for {K} classes: classes {shared[0]} and "
                f"{shared[1]} share a code (distance {shared[2]:.3g} <= {atol_true:.3g})"
            )
        else:
            text = f"all {K} class codes are distinct (no two within {atol_true:.3g})"
        distinct = Condition(n_distinct == K, n_distinct, text + on_means)

    conditions, ok = _verdict_conditions(probe, invariance, distinct, affine, dimension)

    certificate = None
    if not ok:
        true_codes = codes * z_unit
        if invariant:
            certificate = _invariant_certificate(probe, true_codes, M, units, rank, shared, atol_m, atol_true, verifier)
        else:
            certificate = _non_invariant_certificate(
                probe,
                Z,
                classes,
                true_codes,
                M,
                units,
                rank,
                shared,
                pair,
                atol_m,
                code_unit,
                z_unit,
                atol_true,
                verifier,
            )
    return IdealVerdict(ok, probe, n, K, d, conditions, certificate, rtol=rtol, atol=atol_true)


def _dimension_condition(probe: str, K: int, d: int, not_required: str) -> Condition:
    """d >= K - 1 (needed for affine independence of K codes)."""
    dim_ok = d >= K - 1
    return Condition(
        dim_ok,
        d,
        (
            f"d = {d} >= K-1 = {K - 1}"
            if dim_ok
            else f"d = {d} < K-1 = {K - 1}: codes of {K} classes cannot be affinely independent"
        )
        + (" (d = 1 suffices for universal probes)" if probe == "universal" else "")
        + not_required,
    )


def _invariant_certificate(probe, codes, M, units, rank, shared, atol_m, atol_true, verifier) -> Certificate:
    """Certificate for invariant codes: two classes sharing a code, else a Radon split (T1.3, T2)."""
    K = codes.shape[0]
    if shared is not None:
        m, m2, dist = shared
        task = _separating_task(K, m2)
        witness = {"classes": [m, m2], "distance": dist, "tolerance": atol_true, "code": codes[m]}
        witness["verification"] = _verify_shared(verifier, m, m2, task)
        return Certificate(task, witness, "shared-code")
    radon = radon_from_rank(codes, M, units, rank, atol_m)
    witness = {
        "lambda": radon.lambda_,
        "support": np.flatnonzero(radon.lambda_),
        "common_point": radon.common_point,
        "residual": radon.residual,
    }
    task = radon.task
    if verifier.mode == "float-lp":
        witness["verification"] = verifier.on_points(task)
    elif not verifier.exact:
        witness["verification"] = {"check": NONE, "reason": verifier.reason}
    else:
        exact_codes = verifier.exact_codes()
        if exact_codes is None:
            witness["verification"] = verifier.on_points(task)
        else:
            found = rational.exact_dependence(exact_codes, support=witness["support"])
            note = "on the support found in floating point"
            if found is None:
                found = rational.exact_dependence(exact_codes)
                note = "a circuit of the codes (the floating-point support is not exactly dependent)"
            if found is None:
                witness["verification"] = {
                    "check": NONE,
                    "reason": "the codes are affinely independent in exact "
                    "arithmetic: the dependence holds only at the "
                    "tolerance, and exactly every task is LIN-realizable (T1.2)",
                }
            else:
                found = _oriented(found, radon.lambda_)
                task = _exact_lambda_witness(witness, found[0], found[1], K)
                witness["common_point"] = np.array(
                    [
                        float(sum(v * Fraction(float(x)) for v, x in zip(found[1], col) if v > 0))
                        for col in exact_codes[found[0]].T
                    ]
                )
                witness["residual"] = 0.0
                witness["verification"] = {
                    "check": EXACT,
                    "reason": f"sum lambda_m c_m = 0 and sum lambda_m = 0 in rational arithmetic, {note}; "
                    f"{len(found[0])} classes, an inclusion-minimal dependent set",
                }
    return Certificate(task, witness, "affine-dependence")


def _verify_shared(verifier, m: int, m2: int, task: np.ndarray) -> dict:
    """Verification of a shared-code certificate: identical exact codes, else an LP on the points."""
    if verifier.mode == "float-lp" and verifier.probe == "linear":
        return verifier.on_points(task)
    if not verifier.exact:
        return {
            "check": NONE,
            "reason": verifier.reason if verifier.mode != "float-lp" else "no LP for universal probes",
        }
    exact_codes = verifier.exact_codes()
    if exact_codes is not None and np.array_equal(exact_codes[m], exact_codes[m2]):
        return {
            "check": EXACT,
            "reason": f"classes {m} and {m2} have identical codes (every row of both "
            "classes is the same vector): every probe gives them the same label",
        }
    if verifier.probe == "universal":
        return {
            "check": NONE,
            "reason": "the two classes' points differ exactly, so a universal probe "
            "can tell them apart: the failure holds only at the tolerance",
        }
    return verifier.on_points(task)


def _non_invariant_certificate(
    probe, Z, classes, codes, M, units, rank, shared, pair, atol_m, code_unit, z_unit, atol_true, verifier
) -> Certificate:
    """Certificate for non-invariant features: the pair, plus an unrealizable task if one is found.

    The pair itself is exact: two equivalent points whose codes differ (their distance exceeds
    the tolerance, so the rows are different numbers). Tasks tried, each valid on the points
    themselves [derived]: two points of different classes that coincide (no probe of any family
    separates them); for linear probes, two classes with the same mean or affinely dependent
    class means (each mean lies in its class's hull, so the hulls of the two sides share a
    point, T1.1), kept unless the verification finds a probe; and, for small problems, every
    binary task by an exact LP (:func:`ssltheory.geometry.separability`).
    """
    K = classes.n_classes
    labels = classes.labels
    i, j, dist, m = pair
    witness: dict = {"pair": [i, j], "class": m, "distance": dist, "tolerance": atol_true}
    task = None
    clash = _first_cross_class_pair(Z, labels, atol_m * code_unit, z_unit)
    if probe == "universal":
        witness["every_task_realizable"] = clash is None
    if clash is not None:
        a, b, d_ab = clash
        task = _separating_task(K, int(labels[b]))
        task[labels[a]] = 0
        d_true = scaled(d_ab, z_unit)
        witness.update(
            task_reason=f"points {a} (class {labels[a]}) and {b} (class "
            f"{labels[b]}) have the same code (distance {d_true:.3g})",
            points=[a, b],
        )
        if d_ab == 0.0:
            witness["verification"] = {
                "check": EXACT,
                "reason": f"points {a} and {b} are identical rows in different classes: every probe labels them alike",
            }
        elif probe == "linear":
            witness["verification"] = verifier.on_points(task)
        else:
            witness["verification"] = {
                "check": NONE,
                "reason": "the two points differ exactly: the failure holds only at the tolerance",
            }
        if probe == "linear":
            witness["every_binary_task_realizable"] = False
    elif probe == "linear":
        if shared is not None:
            candidate = _separating_task(K, shared[1])
            reason = f"classes {shared[0]} and {shared[1]} have the same mean, a point of both hulls"
            evidence = {"classes": [shared[0], shared[1]]}
        elif rank < K - 1:
            radon = radon_from_rank(codes, M, units, rank, atol_m)
            candidate = radon.task
            reason = "the class means are affinely dependent: their Radon split's hulls share a point"
            evidence = {"lambda": radon.lambda_, "common_point": radon.common_point}
        else:
            candidate, reason, evidence = None, "", {}
        if candidate is not None:
            check = verifier.on_points(candidate)
            if not check.get("realizable", False):
                task = candidate
                witness.update(task_reason=reason, verification=check, **evidence)
        small = K <= SEARCH_MAX_CLASSES and Z.shape[0] * (Z.shape[1] + 1) <= SEARCH_MAX_ENTRIES
        witness["every_binary_task_realizable"] = None  # undetermined unless the search runs
        if small and verifier.mode != "none":
            # Each answer is proved in rationals, which on degenerate codes can take seconds per
            # task: the search stops at SEARCH_MAX_SECONDS and then leaves the question open.
            deadline = time.monotonic() + SEARCH_MAX_SECONDS
            tasks, answers = enumerate_binary_tasks(K), []
            try:
                for t in tasks:
                    if time.monotonic() >= deadline:
                        break
                    answers.append((t, separability(Z, t[labels])))
            except RuntimeError as exc:  # HiGHS gave no answer and the exact LP was too large
                witness["search_note"] = f"LP search over binary tasks failed: {exc}"
            else:
                failing = [(t, a) for t, a in answers if not a.separable]
                complete = len(answers) == len(tasks)
                witness["every_binary_task_realizable"] = False if failing else (True if complete else None)
                if not complete:
                    witness["search_note"] = (
                        f"search stopped after {SEARCH_MAX_SECONDS:g} s, {len(answers)} of "
                        f"{len(tasks)} binary tasks proved"
                    )
                if task is None and failing:
                    task, answer = failing[0]
                    check = {
                        "check": answer.verification,
                        "reason": f"no affine argmax probe realizes the task on the points: {answer.note}",
                    }
                    witness.update(task_reason="found by an exact LP over every binary task", verification=check)
    if "verification" not in witness:
        witness["verification"] = {
            "check": EXACT,
            "reason": f"points {i} and {j} are equivalent and their codes are different numbers (no task is claimed)",
        }
    return Certificate(task, witness, "not-invariant")


# ------------------------------------------------------------------------ exact mode
def _exact_verdict(Z: np.ndarray, classes, probe: str) -> IdealVerdict:
    """The verdict in rational arithmetic (``is_ideal(..., exact=True)``); see the module docstring."""
    n, d = Z.shape
    K = classes.n_classes
    labels, first = classes.labels, classes.first
    if K * d > EXACT_MAX_ENTRIES:
        raise InputError(
            f"exact mode handles class codes of at most {EXACT_MAX_ENTRIES} entries (K "
            f"x d), got {K} x {d} = {K * d}; drop --exact to decide at the tolerance"
        )
    invariant = _exactly_invariant(Z, classes)
    if not invariant and n * d > EXACT_MAX_POINT_ENTRIES:
        raise InputError(
            "exact mode on non-invariant features needs the exact class means of at "
            f"most {EXACT_MAX_POINT_ENTRIES} entries (n x d), got {n * d}; drop --exact"
        )
    not_required = "; reported, not required for universal probes (T2)" if probe == "universal" else ""
    on_means = "" if invariant else " (on the exact class means: the features are not invariant)"
    z_unit = power_of_two(max(abs(float(Z.max())), abs(float(Z.min()))))
    deviation = np.zeros(n)
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        deviation[start:stop] = row_norms(
            np.asarray(Z[start:stop], dtype=np.float64) / z_unit
            - np.asarray(Z[first[labels[start:stop]]], dtype=np.float64) / z_unit
        )
    worst = int(np.argmax(deviation))
    pair = None
    if invariant:
        inv_detail = "every point's row equals its class's first row exactly (exact arithmetic)"
        codes = np.asarray(Z[first], dtype=np.float64)
        rows = rational.rational_rows(codes)
    else:
        m = int(labels[worst])
        pair = (int(first[m]), worst, scaled(deviation[worst], z_unit), m)
        inv_detail = (
            f"points {pair[0]} and {pair[1]} are equivalent (class {m}) "
            f"but their rows differ (by {pair[2]:.3g}; exact arithmetic)"
        )
        codes = rational.class_means(Z, labels, K)
        rows = rational.rational_rows(codes)
    invariance = Condition(invariant, scaled(deviation[worst], z_unit), inv_detail)
    rank = rational.exact_affine_rank(codes)
    affine = Condition(
        rank == K - 1,
        rank,
        f"affine rank {rank} of {K} class codes in exact rational "
        f"arithmetic, K-1 = {K - 1} needed{on_means}{not_required}",
    )
    dimension = _dimension_condition(probe, K, d, not_required)
    seen: dict = {}
    shared = None
    for m, row in enumerate(rows):
        if row in seen and shared is None:
            shared = (seen[row], m)
        seen.setdefault(row, m)
    n_distinct = len(seen)
    if shared is None:
        distinct = Condition(True, K, f"all {K} class codes are distinct (exact){on_means}")
    else:
        distinct = Condition(
            False,
            n_distinct,
            f"{n_distinct} distinct codes for {K} classes: classes {shared[0]} "
            f"and {shared[1]} have identical codes (exact){on_means}",
        )
    conditions, ok = _verdict_conditions(probe, invariance, distinct, affine, dimension)
    certificate = None
    if not ok:
        certificate = _exact_certificate(probe, Z, classes, codes, rank, shared, pair)
    return IdealVerdict(ok, probe, n, K, d, conditions, certificate, rtol=0.0, atol=0.0, mode="exact")


def _exact_certificate(probe, Z, classes, codes, rank, shared, pair) -> Certificate:
    """Certificates of exact mode: every one re-proved in rational arithmetic."""
    K = classes.n_classes
    labels = classes.labels
    proof = {"check": EXACT, "reason": ""}
    if pair is None:  # invariant
        if shared is not None:
            m, m2 = shared
            task = _separating_task(K, m2)
            proof["reason"] = f"classes {m} and {m2} have identical codes: every probe gives them the same label"
            return Certificate(
                task,
                {"classes": [m, m2], "distance": 0.0, "tolerance": 0.0, "code": codes[m], "verification": proof},
                "shared-code",
            )
        support, lam = rational.exact_dependence(codes)
        witness: dict = {}
        task = _exact_lambda_witness(witness, support, lam, K)
        witness["common_point"] = np.array(
            [float(sum(v * Fraction(float(x)) for v, x in zip(lam, col) if v > 0)) for col in codes[support].T]
        )
        witness["residual"] = 0.0
        proof["reason"] = (
            "sum lambda_m c_m = 0 and sum lambda_m = 0 in rational arithmetic; "
            f"{len(support)} classes, an inclusion-minimal dependent set"
        )
        witness["verification"] = proof
        return Certificate(task, witness, "affine-dependence")
    i, j, dist, m = pair
    witness = {"pair": [min(i, j), max(i, j)], "class": m, "distance": dist, "tolerance": 0.0}
    task = None
    rep, inv = exact_duplicate_rows(Z)
    clash = np.flatnonzero(labels[rep[inv]] != labels)
    if probe == "universal":
        witness["every_task_realizable"] = clash.size == 0
    if clash.size:
        b = int(clash[0])
        a = int(rep[inv[b]])
        task = _separating_task(K, int(labels[b]))
        task[labels[a]] = 0
        witness.update(
            task_reason=f"points {a} (class {labels[a]}) and {b} (class {labels[b]}) are identical rows", points=[a, b]
        )
        proof["reason"] = "two identical rows in different classes: every probe labels them alike"
    elif probe == "linear":
        if shared is not None:
            task = _separating_task(K, shared[1])
            witness.update(
                task_reason=f"classes {shared[0]} and {shared[1]} have the same exact mean, a point of both hulls",
                classes=[shared[0], shared[1]],
            )
            proof["reason"] = "identical exact class means: a point of both classes' hulls"
        elif rank < K - 1:
            support, lam = rational.exact_dependence(codes)
            task = _exact_lambda_witness(witness, support, lam, K)
            witness["task_reason"] = (
                "the exact class means are affinely dependent: the hulls of the two sides share a point"
            )
            proof["reason"] = (
                "sum lambda_m mean_m = 0 and sum lambda_m = 0 in "
                "rational arithmetic; each mean lies in its class's hull"
            )
        elif K <= SEARCH_MAX_CLASSES and Z.shape[0] * (Z.shape[1] + 1) <= SEARCH_MAX_ENTRIES:
            for t in enumerate_binary_tasks(K):
                answer = separability(Z, t[labels])
                if not answer.separable and answer.verification == EXACT:
                    task = t
                    witness["task_reason"] = "found by an exact LP over every binary task"
                    proof["reason"] = answer.note
                    break
    if task is None:
        proof["reason"] = f"points {i} and {j} are equivalent and their rows are different numbers (no task is claimed)"
    witness["verification"] = proof
    return Certificate(task, witness, "not-invariant")


def cover_count(n_points: int, dim: int) -> int:
    """Cover's function counting dichotomies (THEORY.md T5) [Cover 1965].

    N points in general position in R^d admit exactly C(N, d) = 2 * sum_{i=0}^{d} binom(N-1, i)
    dichotomies realizable by an affine separator; this equals 2^N iff N <= d + 1.

    Args:
        n_points: N >= 1.
        dim: d >= 0.

    Returns:
        exact Python int.
    """
    N = as_count(n_points, "n_points", minimum=1)
    d = as_count(dim, "dim", minimum=0)
    if N <= d + 1:  # every binom(N - 1, i) is summed: 2 * 2^(N-1)
        return 1 << N
    return 2 * sum(math.comb(N - 1, i) for i in range(d + 1))
