"""Label-free baselines of the field: intrinsic dimension, alignment and uniformity, NESum.

Each function implements one published formula on an (n, d) matrix of codes, one row per view,
and names its source in its docstring. They are the anchors that the toolkit's headline score
is compared against (the score registry of `ssltheory.metrics` and the score-validation
experiment); RankMe, alpha-ReQ and LiDAR live in `ssltheory.metrics`.

- `twonn_dimension`      TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez, Laio, Sci. Rep. 2017)
- `mst_dimension`        minimum-spanning-tree (persistent-homology, 0-th order) dimension
                         (Costa and Hero 2004; Schweinhart 2020; Birdal et al. 2021), the estimator
                         that IdEst (Mordacq, Kalogeiton, Oudot, ICML 2026) applies to SSL codes
- `alignment`            Wang and Isola (ICML 2020): mean ||f(x) - f(y)||^alpha over positive pairs
- `uniformity`           Wang and Isola (ICML 2020): log of the mean Gaussian potential over pairs
- `nesum`                He and Ozay (ICML 2022): sum of covariance eigenvalues over the largest

Sizes. The estimators that need all pairs (MST, uniformity) or all nearest neighbours (TwoNN)
work on one seeded random subsample of at most ``max_points`` rows, a `PairwisePool`: drawn once,
centred and brought into range once, with one float64 Gram matrix of the centred rows from which
TwoNN's candidates, the MST's distances and uniformity's chords all come (the default keeps
8,000 x 2,048 codes to a fraction of a second). Each function builds the pool itself, or takes one
built once for all three (``pool=``, as `metrics.score_all` does). Identical rows are removed
before the intrinsic-dimension estimators run (both papers assume distinct points: a zero
nearest-neighbour distance makes the TwoNN ratio undefined and adds a zero-length MST edge).
`alignment` reads every view, in row blocks.

Only numpy/scipy: this is a theory room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse.linalg

from ssltheory.conditions import exact_duplicate_rows
from ssltheory.equivalence import as_classes
from ssltheory.errors import InputError
from ssltheory.geometry import power_of_two, row_norms
from ssltheory.validation import as_count, as_features

__all__ = [
    "DEFAULT_MAX_POINTS",
    "PairwisePool",
    "alignment",
    "mst_dimension",
    "nesum",
    "nesum_from_eigenvalues",
    "twonn_dimension",
    "uniformity",
]

#: rows kept (seeded random subsample) by the estimators that look at all pairs of points
DEFAULT_MAX_POINTS = 2048
#: rows per block of `alignment`'s passes over the views, and of TwoNN's exact re-measure (a
#: block of float64 rows stays in cache)
_BLOCK = 32
#: entries of the (rows, m, dim) difference arrays of `alignment` at alpha != 2
_DIFFERENCE_ENTRIES = 1 << 22
#: rows per band of the pool's passes over (m, m) arrays (its squared distances, `PairwisePool.chord_bands`):
#: a band of float64 rows stays in cache
_BAND = 128


# --------------------------------------------------------------------------------------------
# the shared subsample


def _subsample_indices(n: int, max_points: int | None, random_state) -> np.ndarray:
    """Increasing indices of at most ``max_points`` of n rows, drawn without replacement (all rows
    if fewer or None)."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def _max_points(max_points) -> int | None:
    return None if max_points is None else as_count(max_points, "max_points", minimum=3)


def _into_range(X: np.ndarray) -> float:
    """Divides the float64 array ``X`` in place by unit, a power of two (exact division) such that
    its largest entry then lies in [1, 2), and returns unit: squares of entries then neither
    overflow (features near 1e308) nor underflow (features near 1e-170)."""
    unit = power_of_two(max(float(X.max()), -float(X.min()))) if X.size else 1.0
    if unit != 1.0:
        X /= unit
    return unit


def _row_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows of X (m, d) float64: one pass of squares, and `row_norms`
    (each row at its own scale) only for the rows whose sum of squares may have underflowed or
    overflowed."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    risky = ~((norms > 2.0**-480) & (norms < 2.0**480))
    if np.any(risky):
        norms[risky] = row_norms(X[risky])
    return norms


@dataclass(frozen=True, eq=False)
class PairwisePool:
    """The seeded subsample of at most ``max_points`` views that TwoNN, the MST dimension and
    uniformity share, with the squared distances of its centred rows from one Gram matrix.

    Build it with :meth:`from_features`. With X (m, d) the subsample divided by a power of two
    (its largest entry in [1, 2)) and mu its mean row, the centred rows are c_i = (x_i - mu) / s,
    s a second power of two (largest entry in [1, 2) again): distances between views keep their
    relative accuracy under an offset all views share. G = C C^T (m, m) is formed once, in float64,
    and gives every pairwise quantity.

    Attributes:
        shape: (n, d) of the features the pool was drawn from.
        max_points, random_state: the arguments it was drawn with (a function given a pool
            checks that they are its own).
        rows: int64 (m,), increasing indices of the subsample's rows in the features.
        centred: float64 (m, d), the centred rows c_i.
        scale: s, the power of two of the centring.
        norms: float64 (m,), ||x_i||.
        mean_projections: float64 (m,), <c_i, mu>.
        squared_norms: float64 (m,), G_ii = ||c_i||^2.
        squared_distances: float64 (m, m), ||c_i - c_j||^2 = G_ii + G_jj - 2 G_ij clipped at 0,
            diagonal +inf (no row is its own neighbour).
        distinct: int64 (u,), increasing positions in the subsample of its distinct centred rows
            (the first of each group of identical rows).

    Derived on first use and kept: `distinct_centred` (TwoNN) and `distinct_squared_distances`
    (TwoNN, the MST dimension). Computed a band at a time on each call: `chord_bands` (uniformity).
    """

    shape: tuple[int, int]
    max_points: int | None
    random_state: object
    rows: np.ndarray
    centred: np.ndarray
    scale: float
    norms: np.ndarray
    mean_projections: np.ndarray
    squared_norms: np.ndarray
    squared_distances: np.ndarray
    distinct: np.ndarray

    @classmethod
    def from_features(cls, Z, *, max_points: int | None = DEFAULT_MAX_POINTS, random_state=0) -> "PairwisePool":
        """The pool of features ``Z`` (n, d) (any float dtype: the subsample is read in float64)."""
        Z = as_features(Z, "features", dtype=None)
        max_points = _max_points(max_points)
        rows = _subsample_indices(Z.shape[0], max_points, random_state)
        X = np.empty((rows.size, Z.shape[1]))  # the subsample in float64, read a block of rows at a time
        for start in range(0, rows.size, _BLOCK):
            X[start : start + _BLOCK] = Z[rows[start : start + _BLOCK]]
        _into_range(X)
        norms = _row_norms(X)
        mean = X.mean(axis=0)
        centred = X
        centred -= mean
        scale = _into_range(centred)
        G = centred @ centred.T  # numpy's product of a matrix and its transpose: BLAS syrk, one triangle's work
        squared_norms = np.diagonal(G).copy()
        nearest = np.empty(rows.size)  # each row's squared distance to its nearest other row
        for b in range(0, rows.size, _BAND):  # G_ii + G_jj - 2 G_ij, a band of rows (in cache) at a time
            band = G[b : b + _BAND]
            band *= -2.0
            band += squared_norms[b : b + _BAND, None]
            band += squared_norms[None, :]
            np.maximum(band, 0.0, out=band)
            np.fill_diagonal(band[:, b:], np.inf)
            np.min(band, axis=1, out=nearest[b : b + _BAND])
        return cls(
            shape=Z.shape,
            max_points=max_points,
            random_state=random_state,
            rows=rows,
            centred=centred,
            scale=scale,
            norms=norms,
            mean_projections=centred @ mean,
            squared_norms=squared_norms,
            squared_distances=G,
            distinct=_distinct_positions(centred, nearest, squared_norms),
        )

    def check(self, Z, max_points, random_state) -> None:
        """ValueError unless this pool was drawn from features of Z's shape with these arguments."""
        if (
            np.shape(Z) != self.shape
            or self.max_points != _max_points(max_points)
            or not _same_seed(self.random_state, random_state)
        ):
            raise InputError(
                f"the pairwise pool was drawn from {self.shape} features with max_points={self.max_points}, "
                f"random_state={self.random_state!r}, not from these {np.shape(Z)} features with "
                f"max_points={max_points}, random_state={random_state!r}: build it from the same arguments or "
                "leave pool out"
            )

    @property
    def all_distinct(self) -> bool:
        """Whether every row of the subsample is distinct (then the distinct views are the arrays themselves)."""
        return self.distinct.size == self.rows.size

    @cached_property
    def distinct_centred(self) -> np.ndarray:
        """float64 (u, d): the distinct centred rows."""
        return self.centred if self.all_distinct else self.centred[self.distinct]

    @cached_property
    def distinct_squared_distances(self) -> np.ndarray:
        """float64 (u, u): `squared_distances` between the distinct rows."""
        d = self.distinct
        return self.squared_distances if self.all_distinct else self.squared_distances[np.ix_(d, d)]

    def chord_bands(self, block: int = _BAND):
        """Yields the squared chords ||x_i / ||x_i|| - x_j / ||x_j|| ||^2 between the subsample's
        unit rows a band of rows at a time, each unordered pair once (no (m, m) matrix is formed).

        For each band of ``block`` rows [b, e), in order: K, float64 (e - b, m - b), the chords of
        rows b..e-1 against columns b..m-1, +inf where j <= i (not a pair of this band). K is one
        reused buffer, overwritten by the next band: change it in place if you like, never keep it.

        Computed without the cancellation of 2 - 2 cos (which loses everything at a common
        offset of 1e8): ||u_i - u_j||^2 = (||x_i - x_j||^2 - (||x_i|| - ||x_j||)^2) / (||x_i|| ||x_j||),
        with ||x_i - x_j||^2 = s^2 ||c_i - c_j||^2 and
        ||x_i|| - ||x_j|| = (s^2 (G_ii - G_jj) + 2 s (<c_i, mu> - <c_j, mu>)) / (||x_i|| + ||x_j||),
        both free of the offset.

        Raises:
            ValueError: a row of the subsample is all zero (it has no direction).
        """
        zero = int(np.sum(self.norms == 0))
        if zero:
            raise InputError(f"{zero} feature row(s) are all zero: they cannot be L2-normalised; drop them first")
        s, norms = self.scale, self.norms
        m = norms.size
        a = s * self.squared_norms + 2.0 * self.mean_projections  # (||x_i||^2 - ||mu||^2) / s
        weights = s / norms
        chords, sums = np.empty(min(block, m) * m), np.empty(min(block, m) * m)
        for b in range(0, m, block):
            e = min(m, b + block)
            K = chords[: (e - b) * (m - b)].reshape(e - b, m - b)
            den = sums[: K.size].reshape(K.shape)  # ||x_i|| + ||x_j||
            # ((||x_i|| - ||x_j||) / s)^2, in the units of the centred rows
            np.subtract(a[b:e, None], a[None, b:], out=K)
            np.add(norms[b:e, None], norms[None, b:], out=den)
            K /= den
            K *= K
            np.subtract(self.squared_distances[b:e, b:], K, out=K)
            np.maximum(K, 0.0, out=K)
            K *= weights[b:e, None]
            K *= weights[None, b:]
            K[:, : e - b][np.tri(e - b, dtype=bool)] = np.inf  # j <= i
            yield K


def _distinct_positions(centred: np.ndarray, nearest: np.ndarray, squared_norms: np.ndarray) -> np.ndarray:
    """Increasing positions of the distinct rows of ``centred`` (m, d) (the first of each group of
    identical rows), given each row's squared distance from the Gram matrix to its nearest other
    row (m,).

    Two identical rows c have a computed G_ii + G_jj - 2 G_ij of at most (4 gamma_d + 8 u) ||c||^2
    (u the unit roundoff, gamma_d = d u / (1 - d u), the error bound of a dot product in any
    order): a row farther than twice that from every other row has no copy. The rest are grouped
    exactly (`conditions.exact_duplicate_rows`).
    """
    m, d = centred.shape
    if m < 2:
        return np.arange(m)
    bound = 8.0 * (d + 4) * np.finfo(np.float64).eps / 2 * float(np.max(squared_norms))
    near = np.flatnonzero(nearest <= bound)
    if near.size == 0:
        return np.arange(m)
    rep, _ = exact_duplicate_rows(centred[near])
    alone = np.ones(m, dtype=bool)
    alone[near] = False
    alone[near[rep]] = True
    return np.flatnonzero(alone)


def _same_seed(a, b) -> bool:
    """Whether two random_state arguments are the same seed (a Generator only equals itself)."""
    if a is b:
        return True
    try:
        return bool(np.all(np.asarray(a == b)))
    except (TypeError, ValueError):
        return False


def _pool(Z, pool: PairwisePool | None, max_points, random_state) -> PairwisePool:
    """``pool`` checked against the call's arguments, or a new pool of ``Z``."""
    if pool is None:
        return PairwisePool.from_features(Z, max_points=max_points, random_state=random_state)
    if not isinstance(pool, PairwisePool):
        raise InputError(f"pool must be a PairwisePool or None, got {type(pool).__name__}")
    pool.check(Z, max_points, random_state)
    return pool


def _distinct_count(pool: PairwisePool, minimum: int, what: str) -> int:
    """The number of distinct rows of the pool; ValueError if fewer than ``minimum``."""
    u = pool.distinct.size
    if u < minimum:
        raise InputError(f"features have {u} distinct row(s); {what} needs at least {minimum} distinct points")
    return u


def _unit_rows(rows: np.ndarray, features: np.ndarray) -> np.ndarray:
    """A float64 copy of ``rows`` (taken from ``features``) with rows of unit L2 norm (Wang and
    Isola's f normalised onto the hypersphere); norms by `_row_norms` (no underflow or overflow
    at any scale).

    Raises:
        ValueError: a row is all zero (the message counts the zero rows of all ``features``).
    """
    rows = np.array(rows, dtype=np.float64)
    norms = _row_norms(rows)
    if np.any(norms == 0):
        zero = int(np.sum(~np.asarray(features).any(axis=1)))
        raise InputError(f"{zero} feature row(s) are all zero: they cannot be L2-normalised; drop them first")
    rows /= norms[:, None]
    return rows


# --------------------------------------------------------------------------------------------
# intrinsic dimension


def _two_nearest(pool: PairwisePool) -> tuple[np.ndarray, np.ndarray]:
    """Distances r1 <= r2 from each distinct row of the pool to its first and second nearest
    other distinct rows.

    Candidates are the three nearest by the Gram matrix's squared distances; they are then
    re-measured exactly as ||c_i - c_j|| so that cancellation in G_ii + G_jj - 2 G_ij cannot
    reorder or zero close pairs. (The pool's matrix has its candidates hidden and restored in
    place: a pool is not for concurrent use.)
    """
    C = pool.distinct_centred
    n = C.shape[0]
    k = min(3, n - 1)
    D = pool.distinct_squared_distances
    rows = np.arange(n)
    cand = np.empty((n, k), dtype=np.intp)
    taken = []
    try:  # the k smallest of each row by k argmins, each hidden (+inf) for the next, then restored
        for q in range(k):
            cand[:, q] = D.argmin(axis=1)
            taken.append(D[rows, cand[:, q]])
            D[rows, cand[:, q]] = np.inf
    finally:
        for q, values in enumerate(taken):
            D[rows, cand[:, q]] = values
    exact = np.empty((n, k))
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        diff = C[start:stop, None, :] - C[cand[start:stop]]
        exact[start:stop] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    exact.sort(axis=1)
    return exact[:, 0], exact[:, 1]


def twonn_dimension(
    Z,
    *,
    discard_fraction: float = 0.1,
    max_points: int | None = DEFAULT_MAX_POINTS,
    random_state=0,
    pool: PairwisePool | None = None,
) -> float:
    """TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez, Laio, Sci. Rep. 7, 12140, 2017).

    [paper: TwoNN] For each point i, mu_i = r2_i / r1_i, the ratio of the distances to its second
    and first nearest neighbours. If the density is locally constant on a d-dimensional manifold,
    mu is Pareto distributed, F(mu) = 1 - mu^(-d), so -log(1 - F(mu)) = d log mu. The paper sorts
    the N ratios, takes the empirical F(mu_(i)) = i / N, discards the largest ``discard_fraction``
    of them (10% in the paper, the ratios most affected by density variation) and fits the line
    through the origin: d = sum_i x_i y_i / sum_i x_i^2 with x = log mu, y = -log(1 - F).

    Points uniform on a d-dimensional flat give about d.

    Args:
        Z: (n, dim) codes. discard_fraction: in [0, 1), share of the largest ratios left out of the
            fit. max_points: the estimate uses a seeded subsample of at most this many rows (None:
            all); identical rows are counted once. random_state: seed of the subsample.
            pool: the `PairwisePool` of Z drawn with the same max_points and random_state (None:
            built here).

    Raises:
        ValueError: fewer than 3 distinct points, or too few ratios above 1 to fit.
    """
    if not 0 <= discard_fraction < 1:
        raise InputError(f"discard_fraction must be in [0, 1), got {discard_fraction}")
    pool = _pool(Z, pool, max_points, random_state)
    _distinct_count(pool, 3, "TwoNN")
    r1, r2 = _two_nearest(pool)
    mu = np.sort(r2 / r1)
    n = mu.size
    F = np.arange(1, n + 1) / n
    keep = int(np.floor(n * (1 - discard_fraction)))
    keep = min(keep, n - 1)  # F = 1 at the largest ratio: -log(0) is infinite
    x, y = np.log(mu[:keep]), -np.log1p(-F[:keep])
    if not np.any(x > 0):
        raise InputError("every nearest-neighbour ratio r2/r1 is 1: TwoNN's fit is undefined for these points")
    return float(np.dot(x, y) / np.dot(x, x))


def _mst_lengths(squared: np.ndarray, subsets: np.ndarray, alpha: float) -> np.ndarray:
    """For each row S of ``subsets`` (r, k) (indices into ``squared``, distinct within a row), the
    sum over the edges e of the minimum spanning tree of the complete graph on S with edge lengths
    sqrt(squared[S][:, S]) of |e|^alpha: float64 (r,).

    ``squared`` (N, N) C-ordered: the symmetric squared edge lengths, +inf on the diagonal. The
    tree is grown on the squared lengths (squaring is increasing: a minimum spanning tree of the
    squares is one of the lengths) and only its k - 1 edges are square-rooted. Prim's algorithm,
    the r trees grown side by side: k - 1 steps, each one vectorised over the r subsets and their
    points (O(r k^2) time, O(r k) memory beyond ``squared``); a point that has joined its tree
    reads from then on a position past the end of the flattened matrix, which the clipped gather
    maps to its last entry, the +inf of the diagonal.
    """
    r, k = subsets.shape
    flat = squared.reshape(-1)
    if flat[-1] != np.inf:
        raise InputError("the squared edge lengths must have +inf on the diagonal")
    past_the_end = flat.size  # the column of a point already in its tree
    firsts = np.arange(r) * k  # where each tree's points begin in the flattened (r, k) arrays
    starts = (subsets * squared.shape[1]).reshape(-1)  # where each point's row begins in ``flat``
    columns = subsets.copy()  # the column each point reads: its own, or past the end once in the tree
    columns[:, 0] = past_the_end
    column_of = columns.reshape(-1)
    best = flat.take(starts[firsts][:, None] + columns, mode="clip")  # squared distance of each point to its tree
    best_of = best.reshape(-1)
    edges = np.empty((k - 1, r))
    where, row, joined = np.empty((r, k), dtype=np.intp), np.empty((r, k)), np.empty(r, dtype=np.intp)
    for step in range(k - 1):
        np.add(best.argmin(axis=1), firsts, out=joined)  # each tree's nearest outside point, flat position
        best_of.take(joined, out=edges[step])
        best_of[joined] = np.inf
        column_of[joined] = past_the_end
        np.add(columns, starts.take(joined)[:, None], out=where)
        flat.take(where, out=row, mode="clip")
        np.minimum(best, row, out=best)
    return np.sum(np.sqrt(np.ascontiguousarray(edges.T)) ** alpha, axis=1)


def mst_dimension(
    Z,
    *,
    alpha: float = 1.0,
    n_sizes: int = 8,
    min_points: int | None = None,
    max_points: int | None = DEFAULT_MAX_POINTS,
    repeats: int = 3,
    random_state=0,
    pool: PairwisePool | None = None,
) -> float:
    """Minimum-spanning-tree intrinsic dimension (0-th persistent-homology dimension).

    [paper: Costa and Hero, IEEE TSP 2004; Schweinhart, J. Appl. Comput. Topol. 2020; Birdal,
    Lou, Guibas, Simsekli, NeurIPS 2021; applied to SSL codes by IdEst, ICML 2026] For n points
    drawn from a measure on a d-dimensional set, the alpha-weighted length of their Euclidean
    minimum spanning tree grows as E_alpha(n) = sum_e |e|^alpha ~ C n^((d - alpha) / d). The
    estimator fits log E_alpha(n) = m log n + c by least squares over subsamples of increasing
    size and returns d = alpha / (1 - m); with alpha = 1 (the default, total tree length) this is
    d = 1 / (1 - m).

    Variant implemented: the pool is the distinct rows (in order of first appearance) of the
    seeded subsample of at most ``max_points`` rows that TwoNN and uniformity use (`PairwisePool`:
    the subsample is drawn first, identical rows are then counted once), n_max of them;
    ``n_sizes`` subsample sizes spaced geometrically from ``min_points`` (default
    max(10, n_max // 10)) to n_max; at each size ``repeats`` subsamples of the pool without
    replacement, drawn by a generator seeded with ``random_state`` (at n_max each one is the whole
    pool, whose tree is grown once), each one's Euclidean MST by Prim's algorithm; the fit is
    ordinary least squares of the mean log length against log size (Birdal et al.'s PH_0
    dimension, whose 0-th persistence sum is exactly the MST length).

    Points uniform on a d-dimensional flat give about d (the estimate approaches d from below as
    n grows; boundary effects bias small samples).

    Args:
        Z: (n, dim) codes. alpha: edge-length exponent, 0 < alpha < the dimension. n_sizes >= 2,
            repeats >= 1, min_points >= 3, max_points: sizes of the subsamples (None: all rows).
            random_state: seed of the subsamples. pool: the `PairwisePool` of Z drawn with the same
            max_points and random_state (None: built here).

    Raises:
        ValueError: fewer than ``min_points`` distinct points or fewer than 2 distinct sizes, or
            a fitted slope m >= 1 (the length does not grow sublinearly: the dimension is undefined).
    """
    if not np.isfinite(alpha) or alpha <= 0:
        raise InputError(f"alpha must be a finite number > 0, got {alpha}")
    n_sizes = as_count(n_sizes, "n_sizes", minimum=2)
    repeats = as_count(repeats, "repeats", minimum=1)
    lo = None if min_points is None else as_count(min_points, "min_points", minimum=3)
    pool = _pool(Z, pool, max_points, random_state)
    n_max = _distinct_count(pool, 3, "the MST dimension")
    lo = max(10, n_max // 10) if lo is None else lo
    lo = min(lo, n_max)
    sizes = np.unique(np.round(np.geomspace(lo, n_max, n_sizes)).astype(int))
    if sizes.size < 2:
        raise InputError(
            f"the MST dimension needs subsamples of at least 2 sizes; {n_max} distinct points give only {sizes}"
        )
    rng = np.random.default_rng(random_state)
    logs = []
    for size in sizes:
        if size == n_max:  # every subsample is the whole pool: one tree
            picks = np.arange(n_max)[None, :]
        else:
            picks = np.stack([rng.choice(n_max, size=size, replace=False) for _ in range(repeats)])
            picks.sort(axis=1)  # a tree does not depend on the order of its points: rows are then read forward
        logs.append(np.mean(np.log(_mst_lengths(pool.distinct_squared_distances, picks, alpha))))
    slope = float(np.polyfit(np.log(sizes), np.array(logs), 1)[0])
    if slope >= 1:
        raise InputError(f"the MST length grows with slope {slope:.3f} >= 1 in log n: the MST dimension is undefined")
    return alpha / (1.0 - slope)


# --------------------------------------------------------------------------------------------
# alignment and uniformity


def _class_scatter_of_unit_rows(Z: np.ndarray, classes) -> tuple[float, int]:
    """(sum over classes c of 2 m_c sum_{i in c} ||u_i - ubar_c||^2, sum over classes of m_c (m_c - 1)).

    The first is the sum of ||u_i - u_j||^2 over the ordered pairs i != j of views of one class
    (for each class, sum_{i, j} ||u_i - u_j||^2 = 2 m sum_i ||u_i - ubar||^2, exactly), with u the
    unit rows; the residuals u_i - ubar are formed directly (no ||u||^2 - ||ubar||^2 cancellation
    for nearly invariant views). O(n d): the classes of each size m >= 2 are read together, in
    blocks of about ``_BLOCK`` rows held as a (classes, m, d) array (a class's mean is a sum along
    its middle axis); classes of one view have no pair and are not read.
    """
    order = np.argsort(classes.labels, kind="stable")  # the views of each class, consecutive
    sizes = classes.sizes
    begins = np.cumsum(sizes) - sizes
    total, pairs = 0.0, int(np.sum(sizes * (sizes - 1)))
    for size in np.unique(sizes[sizes >= 2]):
        of_size = np.flatnonzero(sizes == size)
        per_block = max(1, _BLOCK // int(size))
        for start in range(0, of_size.size, per_block):
            block = of_size[start : start + per_block]
            views = order[(begins[block][:, None] + np.arange(size)).reshape(-1)]
            U = _unit_rows(Z[views], Z).reshape(block.size, size, Z.shape[1])
            means = U.sum(axis=1)
            means /= size
            U -= means[:, None, :]
            total += 2.0 * float(size) * float(np.vdot(U, U))  # sum of squared residuals (BLAS dot)
    return total, pairs


def alignment(Z, classes, *, alpha: float = 2.0) -> float:
    """Alignment (Wang and Isola, "Understanding contrastive representation learning through
    alignment and uniformity on the hypersphere", ICML 2020).

    [paper: L_align] L_align(f; alpha) = E_{(x, y) ~ p_pos} ||f(x) - f(y)||_2^alpha with f the
    L2-normalised features and alpha = 2 by default. Positive pairs here: every ordered pair of
    two different views of the same class (``classes``), all pairs weighted equally. Range
    [0, 2^alpha]; 0 exactly when every class's views share one direction (invariant views);
    lower is better. At alpha = 2 the sum over a class's pairs is 2 m sum_i ||u_i - ubar||^2 (an
    identity), computed in O(n d); other alphas sum the pairs' exact distances.

    Args:
        Z: (n, dim) codes, no all-zero row. classes: n labels or an EquivalenceClasses, with at
            least one class of two or more views. alpha: exponent > 0.
    """
    Z = as_features(Z, "features", dtype=None)
    classes = as_classes(classes, Z.shape[0])
    if not np.isfinite(alpha) or alpha <= 0:
        raise InputError(f"alpha must be a finite number > 0, got {alpha}")
    if alpha == 2:
        total, pairs = _class_scatter_of_unit_rows(Z, classes)
    else:
        total, pairs = _pairwise_distance_sum(_unit_rows(Z, Z), classes, alpha)
    if pairs == 0:
        raise InputError("every class has a single view: alignment needs positive pairs (two views of one class)")
    return total / pairs


def _pairwise_distance_sum(U: np.ndarray, classes, alpha: float) -> tuple[float, int]:
    """(sum of ||u_i - u_j||^alpha over ordered pairs i != j of one class, their number), from
    exact differences (no norm-and-product shortcut: close views keep their small distances)."""
    labels = classes.labels
    total, pairs = 0.0, 0
    for c in range(classes.n_classes):
        members = U[labels == c]
        m = members.shape[0]
        if m < 2:
            continue
        pairs += m * (m - 1)
        rows = max(1, _DIFFERENCE_ENTRIES // (m * U.shape[1]))
        for start in range(0, m, rows):
            D = np.linalg.norm(members[start : start + rows, None, :] - members[None, :, :], axis=2)
            total += float(np.sum(D**alpha))
    return total, pairs


def uniformity(
    Z,
    *,
    t: float = 2.0,
    max_points: int | None = DEFAULT_MAX_POINTS,
    random_state=0,
    pool: PairwisePool | None = None,
) -> float:
    """Uniformity (Wang and Isola, ICML 2020).

    [paper: L_uniform] L_uniform(f; t) = log E_{x, y ~ p_data iid} exp(-t ||f(x) - f(y)||_2^2), with
    f the L2-normalised features and t = 2 by default, estimated as in the authors' code over all
    unordered pairs of distinct rows (a log-mean-exp, computed stably). Range [-4t, 0]; lower is
    better (more uniform on the sphere); K points on a regular simplex give -t * 2K / (K - 1).
    The squared chords ||f(x) - f(y)||^2 come from the pool's Gram matrix without cancellation
    (`PairwisePool.chord_bands`).

    Args:
        Z: (n, dim) codes, n >= 2, no all-zero row. t: > 0. max_points: a seeded subsample of at
            most this many rows (None: all; the authors average over a batch). random_state: seed.
            pool: the `PairwisePool` of Z drawn with the same max_points and random_state (None:
            built here).
    """
    if not np.isfinite(t) or t <= 0:
        raise InputError(f"t must be a finite number > 0, got {t}")
    pool = _pool(Z, pool, max_points, random_state)
    if pool.shape[0] < 2:
        raise InputError("uniformity needs at least 2 feature rows")
    m = pool.rows.size
    pairs = m * (m - 1) // 2
    # log mean exp(-t K) = -t min K + log mean exp(-t (K - min K)), every term in (0, 1], one of them
    # 1; over the bands of chords with the nearest chord so far, the sum re-expressed whenever a
    # band brings a nearer one
    nearest, exps = np.inf, 0.0
    for K in pool.chord_bands():
        low = float(K.min())
        if low < nearest:
            exps *= math.exp(-t * (nearest - low))
            nearest = low
        K -= nearest
        K *= -t  # the exponents, <= 0; -inf where not a pair
        np.exp(K, out=K)
        exps += float(K.sum())
    if exps < 0.5 * pairs:
        return float(np.log(exps / pairs) - t * nearest)
    # every chord near the nearest: the log of a mean near 1 keeps few digits, while log1p of the
    # mean of expm1 keeps its relative accuracy where every chord is tiny (views at a common offset)
    expm1s = 0.0
    for K in pool.chord_bands():
        K -= nearest
        K *= -t
        K[np.isinf(K)] = 0.0  # not a pair: expm1(0) = 0 adds nothing
        np.expm1(K, out=K)
        expm1s += float(K.sum())
    return float(np.log1p(expm1s / pairs) - t * nearest)


# --------------------------------------------------------------------------------------------
# spectrum


def nesum_from_eigenvalues(eigenvalues) -> float:
    """NESum of a covariance spectrum: sum_i lambda_i / max_i lambda_i (negative round-off clipped)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=float), 0.0, None)
    if lam.size == 0 or lam.max() == 0:
        raise InputError("the covariance is zero (every feature constant): NESum is undefined")
    return float(lam.sum() / lam.max())


def nesum(Z) -> float:
    """NESum (He and Ozay, "Exploring the gap between collapsed and whitened features in
    self-supervised learning", ICML 2022).

    [paper: NESum] NESum(Z) = sum_i lambda_i / lambda_1, the eigenvalues lambda_1 >= lambda_2 >= ...
    of the covariance of the features. Range [1, d]: 1 for collapsed features (rank one), d for
    whitened ones (isotropic spectrum). The sum is the trace (sum of squared centred entries);
    lambda_1 comes from a Lanczos solve on the centred matrix, so no d x d matrix is formed.

    Args:
        Z: (n, dim) codes, n >= 2, not all rows equal.
    """
    Z = as_features(Z, "features")
    if Z.shape[0] < 2:
        raise InputError("NESum needs at least 2 feature rows to form a covariance")
    Zc = Z - Z.mean(axis=0)
    trace = float(np.einsum("ij,ij->", Zc, Zc))
    if trace == 0:
        raise InputError("the covariance is zero (every feature constant): NESum is undefined")
    if min(Zc.shape) < 3:
        top = float(np.linalg.norm(Zc, 2)) ** 2
    else:
        top = float(scipy.sparse.linalg.svds(Zc, k=1, return_singular_vectors=False, tol=0, random_state=0)[0]) ** 2
    return trace / top
