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

Tolerance. Everything is decided at one absolute threshold ``atol = rtol * s_max``, where s_max
is the largest singular value of the centred class-code matrix (class means minus their mean)
and ``rtol`` is ``tol`` if given, else max(K, d) * eps(dtype of the features) (float32:
1.19e-7, otherwise float64: 2.22e-16; :func:`ssltheory.geometry.default_rtol`). A point is
"equal" to its class code when within atol of it (Euclidean), two codes are equal when within
atol of each other, and a singular value counts as zero when at most atol. Class sums and
distances are accumulated in float64; the one SVD runs in the features' precision (float32 or
float64), matching the eps of the default.

Example::

    >>> Z = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])   # collinear codes (span 1; T1.4 uses (0,1),(1,1),(2,1))
    >>> verdict = is_ideal(Z, [0, 1, 2])
    >>> verdict.ok, verdict.certificate.kind, verdict.certificate.task.tolist()
    (False, 'affine-dependence', [0, 1, 0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ssltheory._json import jsonable
from ssltheory._validate import as_count, as_features, as_tolerance
from ssltheory.equivalence import _BLOCK_ROWS, as_classes
from ssltheory.geometry import (
    _centred_singular_values,
    _radon_from_rank,
    _rank_from_singular_values,
    default_rtol,
    linearly_separable,
)
from ssltheory.tasks import enumerate_binary_tasks

PROBES = ("linear", "universal")

#: LP verification of a certificate (an independent re-check; the certificates are exact by
#: construction, T1.3 / T2): with ``verify_lp=None`` (default) it runs when the LP has at most
#: LP_VERIFY_AUTO_ENTRIES entries (points x (d + 1) x (labels - 1); milliseconds), with
#: ``verify_lp=True`` up to LP_VERIFY_MAX_ENTRIES, never with ``verify_lp=False``. On a (512, 128)
#: code matrix the LP alone took 0.56 s against 4 ms for the SVD that decides the verdict.
LP_VERIFY_AUTO_ENTRIES = 5_000
LP_VERIFY_MAX_ENTRIES = 400_000
#: non-invariant features: search every binary task by LP when K and the LP are at most this big
SEARCH_MAX_CLASSES = 10
SEARCH_MAX_ENTRIES = 20_000
#: random directions used to find near-equal rows, and candidate pairs filtered at once
_N_PROJECTIONS = 8
_PAIR_BLOCK = 1 << 18
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
            "affine-dependence": ``lambda`` (K,) with sum lambda_m c_m = 0 and sum lambda_m = 0,
            ``support``, ``common_point`` (d,) in both hulls, ``residual``, ``lp_verified``.
            "shared-code": ``classes`` [m, m'], their ``distance`` (<= ``tolerance``), ``code``,
            ``lp_verified``. "not-invariant": ``pair`` [i, j] of equivalent points, their
            ``class`` and ``distance``, and when a task is given, ``task_reason`` and its evidence.
            ``lp_verified`` is True when an independent LP found the task unrealizable on the
            data, False when the LP found a probe (the failure then holds only at the tolerance),
            None when the LP was not run (too large for ``verify_lp``, not asked for, or HiGHS
            failed), with ``lp_note`` saying which.
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
        rtol, atol: the relative tolerance used and the absolute threshold rtol * s_max.
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

    def to_dict(self) -> dict:
        """JSON-ready dict with exactly the fields of DESIGN.md's ``check --json``."""
        return {
            "ideal": bool(self.ok),
            "probe": self.probe,
            "n_points": int(self.n_points),
            "n_classes": int(self.n_classes),
            "dim": int(self.dim),
            "conditions": {name: c.to_dict() for name, c in self.conditions.items()},
            "certificate": None if self.certificate is None else self.certificate.to_dict(),
        }

    def summary(self) -> str:
        """A few readable lines: the verdict, each condition, the certificate."""
        required = _REQUIRED[self.probe]
        lines = [
            f"{self.probe} probes: {'IDEAL' if self.ok else 'NOT IDEAL'} "
            f"(n_points={self.n_points}, n_classes={self.n_classes}, dim={self.dim}; "
            f"tolerance {self.atol:.3g} = {self.rtol:.3g} x s_max)"
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


# ------------------------------------------------------------------------ numerical helpers
def _deviations(Z: np.ndarray, classes, offsets: np.ndarray) -> np.ndarray:
    """||z_i - c_{M(i)}||_2 for every point, (n,) float64, streamed in row blocks.

    Computed as ||(z_i - z_first) - offset_m|| (offsets from ``_mean_offsets``), so that a
    large common offset of the codes does not drown small deviations in rounding.
    """
    n = Z.shape[0]
    labels, first = classes.labels, classes.first
    out = np.empty(n)
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        rows = labels[start:stop]
        block = np.asarray(Z[start:stop], dtype=np.float64) - Z[first[rows]]
        block -= offsets[rows]
        out[start:stop] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return out


def _exact_duplicates(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Representatives of identical rows: (rep (U,) first index of each distinct row, inv (n,))."""
    rows = np.ascontiguousarray(X).view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).reshape(-1)
    _, rep, inv = np.unique(rows, return_index=True, return_inverse=True)
    return rep, inv.reshape(-1)


def _candidate_pairs(X: np.ndarray, atol: float):
    """Yield blocks (a, b) of index pairs that may be within atol: sort-and-sweep on projections.

    For a unit vector u, |u.(x - x')| <= ||x - x'||, so every pair within atol has projections
    within atol (plus rounding) on each of a few random directions: the sweep along the first
    direction lists those pairs, the other directions discard most of the rest, and the caller
    checks the true distances of what is left.
    """
    n, d = X.shape
    U = np.random.default_rng(0).standard_normal((d, _N_PROJECTIONS))
    U /= np.linalg.norm(U, axis=0)
    P = np.empty((n, _N_PROJECTIONS))
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        P[start:stop] = np.asarray(X[start:stop], dtype=np.float64) @ U
    # the projections are rounded: widen the window by a bound on that error
    radius = max(abs(float(X.max())), abs(float(X.min()))) * math.sqrt(d)
    slack = atol * (1 + 1e-9) + 8 * d * np.finfo(np.float64).eps * radius
    order = np.argsort(P[:, 0], kind="stable")
    P = P[order]
    counts = np.searchsorted(P[:, 0], P[:, 0] + slack, side="right") - np.arange(n) - 1
    ends = np.cumsum(counts)
    start = 0
    while start < n:
        # as many sorted positions as fit in one block of candidate pairs
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - counts[start] + _PAIR_BLOCK, side="right")))
        total = int(counts[start:stop].sum())
        if total:
            first = np.repeat(np.arange(start, stop), counts[start:stop])
            second = first + np.arange(total) - np.repeat(np.cumsum(counts[start:stop]) - counts[start:stop], counts[start:stop]) + 1
            near = (np.abs(P[first] - P[second]) <= slack).all(axis=1)
            if near.any():
                yield order[first[near]], order[second[near]]
        start = stop


def _pair_distances(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """||x_a - x_b||_2 for index arrays a, b (m,), in float64, a bounded number of rows at a time."""
    out = np.empty(a.size)
    step = max(1, _PAIR_BLOCK_FLOATS // X.shape[1])
    for start in range(0, a.size, step):
        diff = np.asarray(X[a[start:start + step]], dtype=np.float64) - X[b[start:start + step]]
        out[start:start + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _close_pairs(X: np.ndarray, atol: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows within atol, through exact duplicates: ((m, 2) int64, (m,) distances).

    Exact duplicates are linked to their first occurrence (distance 0); the distinct rows are
    then swept. Pairs among duplicates of two near rows follow by transitivity through their
    representatives, which is all that counting distinct codes (connected components) needs.
    """
    rep, inv = _exact_duplicates(X)
    dup = np.flatnonzero(rep[inv] != np.arange(X.shape[0]))
    found = [np.column_stack([rep[inv[dup]], dup])]
    dists = [np.zeros(dup.size)]
    U = X[rep]
    for a, b in _candidate_pairs(U, atol):
        dist = _pair_distances(U, a, b)
        near = dist <= atol
        found.append(np.column_stack([rep[a[near]], rep[b[near]]]))
        dists.append(dist[near])
    return np.concatenate(found).astype(np.int64), np.concatenate(dists)


def _first_cross_class_pair(Z: np.ndarray, labels: np.ndarray, atol: float) -> tuple[int, int, float] | None:
    """Two points of different classes within atol of each other, or None if there are none."""
    rep, inv = _exact_duplicates(Z)
    clash = np.flatnonzero(labels[rep[inv]] != labels)
    if clash.size:
        i = int(clash[0])
        return int(rep[inv[i]]), i, 0.0
    if rep.size == Z.shape[0]:  # no duplicates: sweep Z itself, without a copy
        rep, U = np.arange(Z.shape[0]), Z
    else:
        U = Z[rep]
    rep_labels = labels[rep]
    for a, b in _candidate_pairs(U, atol):
        cross = rep_labels[a] != rep_labels[b]
        a, b = a[cross], b[cross]
        if a.size:
            dist = _pair_distances(U, a, b)
            hit = np.flatnonzero(dist <= atol)
            if hit.size:
                h = int(hit[0])
                return int(rep[a[h]]), int(rep[b[h]]), float(dist[h])
    return None


def _lp_unrealizable(X: np.ndarray, y: np.ndarray, verify_lp: bool | None) -> tuple[bool | None, str | None]:
    """Independent LP check that labels y (n,) on points X (n, d) are not LIN-realizable.

    Returns (True (no probe) / False (an LP found a probe) / None (not run), None or why not).
    ``verify_lp``: None runs LPs of at most LP_VERIFY_AUTO_ENTRIES entries, True of at most
    LP_VERIFY_MAX_ENTRIES, False none. A HiGHS failure is recorded, not raised: the certificate
    stands on its own and the input was not at fault.
    """
    if verify_lp is False:
        return None, "LP verification not requested (verify_lp=False)"
    entries = X.shape[0] * (X.shape[1] + 1) * max(1, int(y.max()))
    limit = LP_VERIFY_MAX_ENTRIES if verify_lp else LP_VERIFY_AUTO_ENTRIES
    if entries > limit:
        hint = "" if verify_lp else "; pass verify_lp=True to run it"
        return None, f"LP of {entries} entries not run (limit {limit}{hint}); the certificate is exact by construction"
    try:
        return not linearly_separable(X, y), None
    except RuntimeError as exc:  # HiGHS gave no answer (numerical trouble, time or iteration limit)
        return None, f"LP verification failed: {exc}"


def _separating_task(n_classes: int, m: int) -> np.ndarray:
    """The task putting class m alone against every other class, (K,) int64."""
    task = np.zeros(n_classes, dtype=np.int64)
    task[m] = 1
    return task


# ------------------------------------------------------------------------ the predicate
def is_ideal(Z, classes, probe: str = "linear", tol: float | None = None, *, verify_lp: bool | None = None) -> IdealVerdict:
    """Is the representation Z ideal for the probe family? (THEORY.md T1, T2) [paper].

    Args:
        Z: array-like (n_points, d), one code per input (float32 is kept, not copied).
        classes: EquivalenceClasses, or one non-negative integer class id per input (n,).
            At least two classes. Certificates index classes by the EquivalenceClasses'
            numbering, or by the rank of each raw id among the distinct ids (the ids themselves
            when they are 0..K-1).
        probe: "linear" (affine argmax probes, T1) or "universal" (any function of z, T2).
        tol: relative tolerance, or None for max(K, d) * eps(dtype of Z); every comparison uses
            atol = rtol * s_max (see the module docstring).
        verify_lp: re-check a linear certificate's task by an independent exact LP (witness
            ``lp_verified``). None (default): only small LPs (LP_VERIFY_AUTO_ENTRIES), so that a
            failing verdict costs about one SVD; True: up to LP_VERIFY_MAX_ENTRIES; False: never.
            The verdict and the certificate do not depend on it.

    Returns:
        IdealVerdict with the four conditions and, when not ideal, a certificate. For
        non-invariant Z the class codes are undefined: distinct codes, affine independence and
        dimension are then evaluated on the class means (and the details say so), and the
        certificate ("not-invariant") names two equivalent points with different codes; its task
        is an invariant task shown unrealizable on the points themselves, when one was found.

    Raises:
        ValueError: bad features or classes (shape, NaN / Inf, non-integer or negative ids,
            lengths that disagree), a single class, an unknown probe or a negative tol.
    """
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
    if verify_lp not in (None, True, False):
        raise ValueError(f"verify_lp must be None, True or False, got {verify_lp!r}")
    tol = as_tolerance(tol)
    Z = as_features(Z, "features", dtype=None)
    classes = as_classes(classes, Z.shape[0], name="classes", other="features")
    n, d = Z.shape
    K = classes.n_classes
    if K < 2:
        raise ValueError("classes has a single class: ideal-ness needs at least two classes")
    labels = classes.labels

    offsets = classes._mean_offsets(Z)
    codes = np.asarray(Z[classes.first], dtype=np.float64) + offsets
    rtol = default_rtol(K, d, Z.dtype) if tol is None else tol
    s = _centred_singular_values(codes.astype(Z.dtype, copy=False))  # SVD in the features' precision
    rank, atol = _rank_from_singular_values(s, K, rtol)
    deviation = _deviations(Z, classes, offsets)
    invariant = bool(deviation.max() <= atol)
    on_means = "" if invariant else " (on class means: the features are not invariant, so class codes are undefined)"
    not_required = "; reported, not required for universal probes (T2)" if probe == "universal" else ""

    # ---- invariance
    worst = int(np.argmax(deviation))
    if invariant:
        inv_detail = f"every point is within {atol:.3g} of its class code (largest distance {deviation[worst]:.3g})"
        pair = None
    else:
        m = int(labels[worst])
        members = classes.members[m]
        spread = _pair_distances(Z, np.full(members.size, worst), members)
        partner = int(members[np.argmax(spread)])
        pair = (min(worst, partner), max(worst, partner), float(spread.max()), m)
        inv_detail = (
            f"points {pair[0]} and {pair[1]} are equivalent (class {m}) but their codes differ by "
            f"{pair[2]:.3g} > {atol:.3g}; even if every invariant task were realizable, a "
            f"non-invariant encoder is not sample-optimal (T3)"
        )
    invariance = Condition(invariant, float(deviation[worst]), inv_detail)

    # ---- affine independence and dimension
    s_km1 = float(s[K - 2]) if K - 2 < s.size else 0.0
    affine = Condition(
        rank == K - 1,
        rank,
        f"affine rank {rank} of {K} class codes, K-1 = {K - 1} needed; singular values of the "
        f"centred codes: largest {s[0]:.3g}, (K-1)-th {s_km1:.3g}, zero at or below {atol:.3g}"
        f"{on_means}{not_required}",
    )
    dim_ok = d >= K - 1
    dimension = Condition(
        dim_ok,
        d,
        (f"d = {d} >= K-1 = {K - 1}" if dim_ok else f"d = {d} < K-1 = {K - 1}: codes of {K} classes cannot be affinely independent")
        + (" (d = 1 suffices for universal probes)" if probe == "universal" else "")
        + not_required,
    )

    # ---- distinct codes
    shared = None
    if rank == K - 1:
        distinct = Condition(True, K, f"all {K} class codes are distinct (implied by affine independence){on_means}")
    else:
        pairs, dists = _close_pairs(codes, atol)
        graph = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(K, K))
        n_distinct = int(connected_components(graph, directed=False)[0])
        if len(pairs):
            h = int(np.argmin(dists))
            shared = (int(pairs[h].min()), int(pairs[h].max()), float(dists[h]))
            text = f"{n_distinct} distinct codes for {K} classes: classes {shared[0]} and {shared[1]} share a code (distance {shared[2]:.3g} <= {atol:.3g})"
        else:
            text = f"all {K} class codes are distinct (no two within {atol:.3g})"
        distinct = Condition(n_distinct == K, n_distinct, text + on_means)

    conditions = {"invariance": invariance, "distinct_codes": distinct, "affine_independence": affine, "dimension": dimension}
    required = _REQUIRED[probe]
    ok = all(conditions[name].ok for name in required)

    certificate = None
    if not ok:
        if invariant:
            certificate = _invariant_certificate(probe, codes, rank, shared, atol, verify_lp)
        else:
            certificate = _non_invariant_certificate(probe, Z, classes, codes, rank, shared, pair, atol, verify_lp)
    return IdealVerdict(ok, probe, n, K, d, conditions, certificate, rtol=rtol, atol=atol)


def _with_lp_check(witness: dict, X: np.ndarray, y: np.ndarray, verify_lp: bool | None) -> dict:
    """witness plus ``lp_verified`` (and ``lp_note`` when the LP did not run)."""
    verified, note = _lp_unrealizable(X, y, verify_lp)
    witness["lp_verified"] = verified
    if note is not None:
        witness["lp_note"] = note
    return witness


def _invariant_certificate(probe, codes, rank, shared, atol, verify_lp) -> Certificate:
    """Certificate for invariant codes: two classes sharing a code, else a Radon split (T1.3, T2)."""
    K = codes.shape[0]
    if shared is not None:
        m, m2, dist = shared
        task = _separating_task(K, m2)
        witness = {"classes": [m, m2], "distance": dist, "tolerance": atol, "code": codes[m]}
        if probe == "linear":
            _with_lp_check(witness, codes, task, verify_lp)
        return Certificate(task, witness, "shared-code")
    radon = _radon_from_rank(codes, rank, atol)
    witness = {
        "lambda": radon.lambda_,
        "support": np.flatnonzero(radon.lambda_),
        "common_point": radon.common_point,
        "residual": radon.residual,
    }
    return Certificate(radon.task, _with_lp_check(witness, codes, radon.task, verify_lp), "affine-dependence")


def _non_invariant_certificate(probe, Z, classes, codes, rank, shared, pair, atol, verify_lp) -> Certificate:
    """Certificate for non-invariant features: the pair, plus an unrealizable task if one is found.

    Tasks tried, each valid on the points themselves [derived]: two points of different classes
    that coincide (no probe of any family separates them); for linear probes, two classes with
    the same mean or affinely dependent class means (each mean lies in its class's hull, so the
    hulls of the two sides share a point, T1.1); and, for small problems, every binary task by
    LP. A task from the means is kept unless the LP (when run, see ``verify_lp``) finds a probe.
    """
    K = classes.n_classes
    labels = classes.labels
    i, j, dist, m = pair
    witness: dict = {"pair": [i, j], "class": m, "distance": dist, "tolerance": atol}
    task = None
    clash = _first_cross_class_pair(Z, labels, atol)
    if probe == "universal":
        witness["every_task_realizable"] = clash is None
    if clash is not None:
        a, b, d_ab = clash
        task = _separating_task(K, int(labels[b]))
        task[labels[a]] = 0
        witness.update(task_reason=f"points {a} (class {labels[a]}) and {b} (class {labels[b]}) have the same code (distance {d_ab:.3g})", points=[a, b])
        if probe == "linear":
            witness["every_binary_task_realizable"] = False
    elif probe == "linear":
        X, y_of = Z, lambda t: t[labels]
        if shared is not None:
            candidate = _separating_task(K, shared[1])
            reason = f"classes {shared[0]} and {shared[1]} have the same mean, a point of both hulls"
            evidence = {"classes": [shared[0], shared[1]]}
        elif rank < K - 1:
            radon = _radon_from_rank(codes, rank, atol)
            candidate = radon.task
            reason = "the class means are affinely dependent: their Radon split's hulls share a point"
            evidence = {"lambda": radon.lambda_, "common_point": radon.common_point}
        else:
            candidate, reason, evidence = None, "", {}
        if candidate is not None:
            verified, note = _lp_unrealizable(X, y_of(candidate), verify_lp)
            if verified is not False:
                task = candidate
                witness.update(task_reason=reason, lp_verified=verified, **evidence)
                if note is not None:
                    witness["lp_note"] = note
        small = K <= SEARCH_MAX_CLASSES and Z.shape[0] * (Z.shape[1] + 1) <= SEARCH_MAX_ENTRIES
        witness["every_binary_task_realizable"] = None  # undetermined unless the search runs
        if small and verify_lp is not False:
            try:
                failing = [t for t in enumerate_binary_tasks(K) if not linearly_separable(Z, t[labels])]
            except RuntimeError as exc:  # HiGHS gave no answer: the search is undetermined
                witness["search_note"] = f"LP search over binary tasks failed: {exc}"
            else:
                witness["every_binary_task_realizable"] = not failing
                if task is None and failing:
                    task = failing[0]
                    witness.update(task_reason="found by LP over every binary task", lp_verified=True)
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
    return 2 * sum(math.comb(N - 1, i) for i in range(d + 1))
