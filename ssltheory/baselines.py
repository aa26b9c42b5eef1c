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

Sizes. Distances are computed by blocked matrix products (memory O(block * n), never n^2 at
once for the nearest-neighbour search); the estimators that need all pairs (MST, uniformity) or
all nearest neighbours (TwoNN) work on a seeded random subsample of at most ``max_points`` rows
(documented per function; the default keeps 8,000 x 2,048 codes to seconds). Identical rows are
removed before the intrinsic-dimension estimators run (both papers assume distinct points: a
zero nearest-neighbour distance makes the TwoNN ratio undefined and adds a zero-length MST edge).

Only numpy/scipy: this is a theory room.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg
from scipy.special import logsumexp

from ssltheory.equivalence import as_classes
from ssltheory.errors import InputError
from ssltheory.geometry import power_of_two
from ssltheory.validation import as_count, as_features

__all__ = [
    "DEFAULT_MAX_POINTS",
    "alignment",
    "mst_dimension",
    "nesum",
    "nesum_from_eigenvalues",
    "twonn_dimension",
    "uniformity",
]

#: rows kept (seeded random subsample) by the estimators that look at all pairs of points
DEFAULT_MAX_POINTS = 2048
#: rows per block of the blocked distance computations
_BLOCK = 1024
#: entries of the (rows, m, dim) difference arrays of `alignment`
_DIFFERENCE_ENTRIES = 1 << 22


# --------------------------------------------------------------------------------------------
# shared helpers


def _subsample(Z: np.ndarray, max_points: int | None, random_state) -> np.ndarray:
    """At most ``max_points`` rows of ``Z``, drawn without replacement (all rows if fewer or None)."""
    if max_points is None or Z.shape[0] <= max_points:
        return Z
    rng = np.random.default_rng(random_state)
    return Z[np.sort(rng.choice(Z.shape[0], size=max_points, replace=False))]


def _max_points(max_points) -> int | None:
    return None if max_points is None else as_count(max_points, "max_points", minimum=3)


def _distinct_rows(Z: np.ndarray, minimum: int, what: str) -> np.ndarray:
    """The distinct rows of ``Z``; ValueError if fewer than ``minimum``."""
    unique = np.unique(Z, axis=0)
    if unique.shape[0] < minimum:
        raise InputError(
            f"features have {unique.shape[0]} distinct row(s); {what} needs at least {minimum} distinct points"
        )
    return unique


def _squared_distances(A: np.ndarray, B: np.ndarray, sq_a: np.ndarray, sq_b: np.ndarray) -> np.ndarray:
    """(len(A), len(B)) squared Euclidean distances from norms and one matrix product, clipped at 0."""
    D = sq_a[:, None] + sq_b[None, :] - 2.0 * (A @ B.T)
    np.maximum(D, 0.0, out=D)
    return D


def _in_range(Z: np.ndarray) -> np.ndarray:
    """``Z`` divided by a power of two (exact) so that its largest entry lies in [1, 2): squares of
    entries then neither overflow (features near 1e308) nor underflow (features near 1e-170)."""
    return Z / power_of_two(float(np.max(np.abs(Z)))) if Z.size else Z


def _centred(Z: np.ndarray) -> np.ndarray:
    """``Z`` minus its mean row, brought into range (`_in_range`) before and after: distances keep
    their relative accuracy under a common offset (|a|^2 + |b|^2 - 2ab cancels at offset 1e8)."""
    Z = _in_range(Z)
    return _in_range(Z - Z.mean(axis=0))


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (Wang and Isola's f normalised onto the hypersphere)."""
    Z = _in_range(Z)
    norms = np.linalg.norm(Z, axis=1)
    if np.any(norms == 0):
        raise InputError(
            f"{int(np.sum(norms == 0))} feature row(s) are all zero: they cannot be L2-normalised; drop them first"
        )
    return Z / norms[:, None]


# --------------------------------------------------------------------------------------------
# intrinsic dimension


def _two_nearest(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances r1 <= r2 from each row of ``Z`` to its first and second nearest other rows.

    Candidates come from blocked squared distances (norms and one matrix product); the three
    nearest candidates of each row are then re-measured exactly as ||z_i - z_j|| so that
    cancellation in the product formula cannot reorder or zero close pairs.
    """
    n = Z.shape[0]
    sq = np.einsum("ij,ij->i", Z, Z)
    k = min(3, n - 1)
    cand = np.empty((n, k), dtype=np.intp)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        D = _squared_distances(Z[start:stop], Z, sq[start:stop], sq)
        D[np.arange(stop - start), np.arange(start, stop)] = np.inf
        cand[start:stop] = np.argpartition(D, k - 1, axis=1)[:, :k]
    exact = np.linalg.norm(Z[:, None, :] - Z[cand], axis=2)
    exact.sort(axis=1)
    return exact[:, 0], exact[:, 1]


def twonn_dimension(
    Z, *, discard_fraction: float = 0.1, max_points: int | None = DEFAULT_MAX_POINTS, random_state=0
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

    Raises:
        ValueError: fewer than 3 distinct points, or too few ratios above 1 to fit.
    """
    Z = as_features(Z, "features")
    if not 0 <= discard_fraction < 1:
        raise InputError(f"discard_fraction must be in [0, 1), got {discard_fraction}")
    Z = _distinct_rows(_centred(_subsample(Z, _max_points(max_points), random_state)), 3, "TwoNN")
    r1, r2 = _two_nearest(Z)
    mu = np.sort(r2 / r1)
    n = mu.size
    F = np.arange(1, n + 1) / n
    keep = int(np.floor(n * (1 - discard_fraction)))
    keep = min(keep, n - 1)  # F = 1 at the largest ratio: -log(0) is infinite
    x, y = np.log(mu[:keep]), -np.log1p(-F[:keep])
    if not np.any(x > 0):
        raise InputError("every nearest-neighbour ratio r2/r1 is 1: TwoNN's fit is undefined for these points")
    return float(np.dot(x, y) / np.dot(x, x))


def _mst_length(D: np.ndarray, alpha: float) -> float:
    """Sum over the edges e of the minimum spanning tree of the complete graph with edge lengths
    ``D`` (n, n) of |e|^alpha.

    Prim's algorithm on the dense matrix: n steps, each one vectorised over the points not yet in
    the tree (O(n^2) time and memory for the subsample).
    """
    n = D.shape[0]
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = D[0].copy()
    best[0] = np.inf
    total = 0.0
    for _ in range(n - 1):
        j = int(np.argmin(best))
        total += best[j] ** alpha
        in_tree[j] = True
        best[j] = np.inf
        np.minimum(best, np.where(in_tree, np.inf, D[j]), out=best)
    return float(total)


def mst_dimension(
    Z,
    *,
    alpha: float = 1.0,
    n_sizes: int = 8,
    min_points: int | None = None,
    max_points: int | None = DEFAULT_MAX_POINTS,
    repeats: int = 3,
    random_state=0,
) -> float:
    """Minimum-spanning-tree intrinsic dimension (0-th persistent-homology dimension).

    [paper: Costa and Hero, IEEE TSP 2004; Schweinhart, J. Appl. Comput. Topol. 2020; Birdal,
    Lou, Guibas, Simsekli, NeurIPS 2021; applied to SSL codes by IdEst, ICML 2026] For n points
    drawn from a measure on a d-dimensional set, the alpha-weighted length of their Euclidean
    minimum spanning tree grows as E_alpha(n) = sum_e |e|^alpha ~ C n^((d - alpha) / d). The
    estimator fits log E_alpha(n) = m log n + c by least squares over subsamples of increasing
    size and returns d = alpha / (1 - m); with alpha = 1 (the default, total tree length) this is
    d = 1 / (1 - m).

    Variant implemented: a seeded pool of n_max = min(n distinct points, ``max_points``) rows;
    ``n_sizes`` subsample sizes spaced geometrically from ``min_points`` (default
    max(10, n_max // 10)) to n_max; at each size ``repeats`` seeded subsamples of the pool without
    replacement, each one's Euclidean MST by Prim's algorithm; the fit is ordinary least squares of the
    mean log length against log size (Birdal et al.'s PH_0 dimension, whose 0-th persistence sum
    is exactly the MST length).

    Points uniform on a d-dimensional flat give about d (the estimate approaches d from below as
    n grows; boundary effects bias small samples).

    Args:
        Z: (n, dim) codes. alpha: edge-length exponent, 0 < alpha < the dimension. n_sizes >= 2,
            repeats >= 1, min_points >= 3, max_points: sizes of the subsamples (None: all rows).
            random_state: seed of the subsamples.

    Raises:
        ValueError: fewer than ``min_points`` distinct points or fewer than 2 distinct sizes, or
            a fitted slope m >= 1 (the length does not grow sublinearly: the dimension is undefined).
    """
    Z = as_features(Z, "features")
    if not np.isfinite(alpha) or alpha <= 0:
        raise InputError(f"alpha must be a finite number > 0, got {alpha}")
    n_sizes = as_count(n_sizes, "n_sizes", minimum=2)
    repeats = as_count(repeats, "repeats", minimum=1)
    Z = _distinct_rows(_centred(Z), 3, "the MST dimension")
    n_max = Z.shape[0] if max_points is None else min(Z.shape[0], _max_points(max_points))
    lo = max(10, n_max // 10) if min_points is None else as_count(min_points, "min_points", minimum=3)
    lo = min(lo, n_max)
    sizes = np.unique(np.round(np.geomspace(lo, n_max, n_sizes)).astype(int))
    if sizes.size < 2:
        raise InputError(
            f"the MST dimension needs subsamples of at least 2 sizes; {Z.shape[0]} distinct points give only {sizes}"
        )
    rng = np.random.default_rng(random_state)
    pool = Z[np.sort(rng.choice(Z.shape[0], size=n_max, replace=False))]
    sq = np.einsum("ij,ij->i", pool, pool)
    D = np.sqrt(_squared_distances(pool, pool, sq, sq))  # every subsample is drawn from this pool
    logs = []
    for size in sizes:
        picks = [rng.choice(n_max, size=size, replace=False) for _ in range(repeats)]
        lengths = [_mst_length(D[np.ix_(idx, idx)], alpha) for idx in picks]
        logs.append(np.mean(np.log(lengths)))
    slope = float(np.polyfit(np.log(sizes), np.array(logs), 1)[0])
    if slope >= 1:
        raise InputError(f"the MST length grows with slope {slope:.3f} >= 1 in log n: the MST dimension is undefined")
    return alpha / (1.0 - slope)


# --------------------------------------------------------------------------------------------
# alignment and uniformity


def alignment(Z, classes, *, alpha: float = 2.0) -> float:
    """Alignment (Wang and Isola, "Understanding contrastive representation learning through
    alignment and uniformity on the hypersphere", ICML 2020).

    [paper: L_align] L_align(f; alpha) = E_{(x, y) ~ p_pos} ||f(x) - f(y)||_2^alpha with f the
    L2-normalised features and alpha = 2 by default. Positive pairs here: every ordered pair of
    two different views of the same class (``classes``), all pairs weighted equally. Range
    [0, 2^alpha]; 0 exactly when every class's views share one direction (invariant views);
    lower is better.

    Args:
        Z: (n, dim) codes, no all-zero row. classes: n labels or an EquivalenceClasses, with at
            least one class of two or more views. alpha: exponent > 0.
    """
    Z = as_features(Z, "features")
    classes = as_classes(classes, Z.shape[0])
    if not np.isfinite(alpha) or alpha <= 0:
        raise InputError(f"alpha must be a finite number > 0, got {alpha}")
    U = _unit_rows(Z)
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
            # exact differences (no norm-and-product shortcut): close views keep their small distances
            D = np.linalg.norm(members[start : start + rows, None, :] - members[None, :, :], axis=2)
            total += float(np.sum(D**alpha))
    if pairs == 0:
        raise InputError("every class has a single view: alignment needs positive pairs (two views of one class)")
    return total / pairs


def uniformity(Z, *, t: float = 2.0, max_points: int | None = DEFAULT_MAX_POINTS, random_state=0) -> float:
    """Uniformity (Wang and Isola, ICML 2020).

    [paper: L_uniform] L_uniform(f; t) = log E_{x, y ~ p_data iid} exp(-t ||f(x) - f(y)||_2^2), with
    f the L2-normalised features and t = 2 by default, estimated as in the authors' code over all
    unordered pairs of distinct rows (a log-mean-exp, computed stably). Range [-4t, 0]; lower is
    better (more uniform on the sphere); K points on a regular simplex give -t * 2K / (K - 1).

    Args:
        Z: (n, dim) codes, n >= 2, no all-zero row. t: > 0. max_points: a seeded subsample of at
            most this many rows (None: all; the authors average over a batch). random_state: seed.
    """
    Z = as_features(Z, "features")
    if not np.isfinite(t) or t <= 0:
        raise InputError(f"t must be a finite number > 0, got {t}")
    if Z.shape[0] < 2:
        raise InputError("uniformity needs at least 2 feature rows")
    U = _unit_rows(_subsample(Z, _max_points(max_points), random_state))
    n = U.shape[0]
    sq = np.ones(n)
    parts = []
    for start in range(0, n - 1, _BLOCK):
        stop = min(n, start + _BLOCK)
        D = _squared_distances(U[start:stop], U, sq[start:stop], sq)
        upper = np.arange(n)[None, :] > np.arange(start, stop)[:, None]
        parts.append(logsumexp(-t * D[upper]))
    return float(logsumexp(parts) - np.log(n * (n - 1) / 2))


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
