"""The field's label-free baselines (ssltheory.baselines) against their papers.

Each baseline has an analytic case (a value known in closed form, or the dimension of a flat the
points are drawn from) and a parity test against a from-the-paper loop written here in plain
Python (explicit loops over points and pairs, Kruskal's algorithm for the tree), on
hypothesis-generated inputs.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, strategies as st

from ssltheory import baselines
from ssltheory.baselines import (
    PairwisePool,
    alignment,
    mst_dimension,
    nesum,
    nesum_from_eigenvalues,
    twonn_dimension,
    uniformity,
)
from ssltheory.testing.strategies import fraction_of_profile

seeds = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------------------------------
# from-the-paper loops


def twonn_loop(Z, discard_fraction=0.1):
    """Facco et al. 2017: mu = r2/r1 by brute force over all pairs, the line through the origin."""
    rows = [tuple(r) for r in {tuple(r) for r in np.asarray(Z).tolist()}]
    mus = []
    for i, a in enumerate(rows):
        dists = sorted(math.dist(a, b) for j, b in enumerate(rows) if j != i)
        mus.append(dists[1] / dists[0])
    mus.sort()
    n = len(mus)
    keep = min(math.floor(n * (1 - discard_fraction)), n - 1)
    xs = [math.log(mus[i]) for i in range(keep)]
    ys = [-math.log(1 - (i + 1) / n) for i in range(keep)]
    return sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)


def kruskal_length(points, alpha=1.0):
    """Total |e|^alpha of the Euclidean minimum spanning tree, by Kruskal with union-find."""
    n = len(points)
    edges = sorted((math.dist(points[i], points[j]), i, j) for i in range(n) for j in range(i + 1, n))
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    total, used = 0.0, 0
    for w, i, j in edges:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            total += w**alpha
            used += 1
    assert used == n - 1
    return total


def mst_dimension_loop(Z, n_sizes, min_points, repeats, seed, alpha=1.0):
    """The documented protocol of `mst_dimension` on all rows (pool: the distinct rows in order of
    first appearance; geometric sizes; seeded subsamples), with Kruskal's tree and a
    least-squares slope written out."""
    pool = np.array(list(dict.fromkeys(tuple(r) for r in np.asarray(Z, dtype=float).tolist())))
    rng = np.random.default_rng(seed)
    n_max = pool.shape[0]
    sizes = sorted({round(s) for s in np.geomspace(min_points, n_max, n_sizes)})
    xs, ys = [], []
    for size in sizes:
        lengths = [
            kruskal_length(pool[rng.choice(n_max, size=size, replace=False)].tolist(), alpha) for _ in range(repeats)
        ]
        xs.append(math.log(size))
        ys.append(sum(math.log(v) for v in lengths) / repeats)
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return alpha / (1 - slope)


def unit(row):
    norm = math.sqrt(sum(v * v for v in row))
    return [v / norm for v in row]


def alignment_loop(Z, labels, alpha=2.0):
    """Wang and Isola: mean ||f(x) - f(y)||^alpha over ordered pairs of distinct views of one class."""
    U = [unit(r) for r in np.asarray(Z).tolist()]
    total, count = 0.0, 0
    for i in range(len(U)):
        for j in range(len(U)):
            if i != j and labels[i] == labels[j]:
                total += math.dist(U[i], U[j]) ** alpha
                count += 1
    return total / count


def uniformity_loop(Z, t=2.0):
    """Wang and Isola: log of the mean of exp(-t ||f(x) - f(y)||^2) over unordered pairs."""
    U = [unit(r) for r in np.asarray(Z).tolist()]
    vals = [math.exp(-t * math.dist(U[i], U[j]) ** 2) for i in range(len(U)) for j in range(i + 1, len(U))]
    return math.log(sum(vals) / len(vals))


def decimal_unit_rows(Z):
    """The rows of Z as unit vectors in 60-digit decimal arithmetic (an oracle free of rounding
    at float64's scale: offsets of 1e8 and scales of 1e-150 cost it nothing)."""
    rows = []
    for row in np.asarray(Z).tolist():
        values = [Decimal(v) for v in row]
        norm = sum(v * v for v in values).sqrt()
        rows.append([v / norm for v in values])
    return rows


def decimal_chord(a, b):
    return sum((x - y) * (x - y) for x, y in zip(a, b))


def alignment_decimal(Z, labels):
    """Wang and Isola at alpha = 2: mean ||u_i - u_j||^2 over ordered pairs of one class, in 60 digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        U = decimal_unit_rows(Z)
        pairs = [(i, j) for i in range(len(U)) for j in range(len(U)) if i != j and labels[i] == labels[j]]
        return float(sum(decimal_chord(U[i], U[j]) for i, j in pairs) / len(pairs))


def uniformity_decimal(Z, t):
    """Wang and Isola's log mean exp(-t ||u_i - u_j||^2) over unordered pairs, in 60 digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        U = decimal_unit_rows(Z)
        terms = [(-Decimal(t) * decimal_chord(U[i], U[j])).exp() for i in range(len(U)) for j in range(i + 1, len(U))]
        return float((sum(terms) / len(terms)).ln())


def nesum_loop(Z):
    """He and Ozay: covariance by explicit sums, its eigenvalues, their sum over the largest."""
    Z = np.asarray(Z, dtype=float)
    n, d = Z.shape
    mean = [sum(Z[i, k] for i in range(n)) / n for k in range(d)]
    cov = [
        [sum((Z[i, a] - mean[a]) * (Z[i, b] - mean[b]) for i in range(n)) / (n - 1) for b in range(d)] for a in range(d)
    ]
    lam = scipy.linalg.eigvalsh(np.array(cov))
    return float(lam.sum() / lam.max())


# ------------------------------------------------------------------------------------------
# generators


@st.composite
def point_clouds(draw, min_n=5, max_n=40, max_d=6):
    """Gaussian clouds with a random scale per axis, sometimes on a lower-dimensional flat, with
    an occasional exact duplicate row."""
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    n = draw(st.integers(min_n, max_n))
    d = draw(st.integers(1, max_d))
    flat = draw(st.integers(1, d))
    Z = rng.standard_normal((n, flat)) * rng.uniform(0.1, 3.0, flat) @ rng.standard_normal((flat, d))
    Z = Z + rng.standard_normal(d) * draw(st.sampled_from([0.0, 5.0]))
    if draw(st.booleans()):
        Z = np.vstack([Z, Z[:1]])
    return Z


@st.composite
def labelled_views(draw):
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    K = draw(st.integers(1, 6))
    views = draw(st.integers(2, 5))
    d = draw(st.integers(2, 6))
    centres = rng.standard_normal((K, d)) * 3
    spread = draw(st.sampled_from([0.0, 0.1, 1.0, 5.0]))
    labels = np.repeat(np.arange(K), views)
    Z = centres[labels] + spread * rng.standard_normal((K * views, d))
    perm = rng.permutation(labels.size)
    return Z[perm], labels[perm]


# ------------------------------------------------------------------------------------------
# TwoNN


def flat_points(n, dim, ambient, seed):
    """n points uniform in the unit cube of a random dim-dimensional flat in R^ambient."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((ambient, dim)))[0]
    return rng.uniform(size=(n, dim)) @ basis.T + rng.standard_normal(ambient)


@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_twonn_recovers_the_dimension_of_a_flat(dim):
    Z = flat_points(4000, dim, 20, seed=dim)
    assert abs(twonn_dimension(Z, max_points=None) - dim) < 0.12 * dim


@given(point_clouds())
@fraction_of_profile(0.67)
def test_twonn_matches_the_paper_loop(Z):
    ok = np.unique(Z, axis=0).shape[0] >= 3
    if not ok:
        with pytest.raises(ValueError):
            twonn_dimension(Z)
        return
    try:
        expected = twonn_loop(Z)
    except ZeroDivisionError:  # every ratio is 1 (a lattice): the fit is undefined
        with pytest.raises(ValueError, match="undefined"):
            twonn_dimension(Z)
        return
    assert twonn_dimension(Z) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_twonn_subsample_is_seeded_and_documented_size():
    Z = flat_points(3000, 2, 10, seed=5)
    a = twonn_dimension(Z, max_points=500, random_state=1)
    assert a == twonn_dimension(Z, max_points=500, random_state=1)
    assert abs(a - 2) < 0.3


def test_twonn_undefined_cases():
    with pytest.raises(ValueError, match="distinct"):
        twonn_dimension(np.ones((10, 3)))
    with pytest.raises(ValueError, match="undefined"):
        twonn_dimension(np.eye(6))  # a regular simplex: every r2/r1 is 1
    with pytest.raises(ValueError, match="discard_fraction"):
        twonn_dimension(np.random.default_rng(0).standard_normal((10, 2)), discard_fraction=1.0)


# ------------------------------------------------------------------------------------------
# MST dimension


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_mst_dimension_recovers_the_dimension_of_a_flat(dim):
    Z = flat_points(2048, dim, 16, seed=10 + dim)
    assert abs(mst_dimension(Z, random_state=dim) - dim) < 0.12 * dim


@given(point_clouds(min_n=3, max_n=30), st.floats(0.5, 2.0))
@fraction_of_profile(0.67)
def test_mst_length_matches_kruskal(Z, alpha):
    U = np.unique(Z, axis=0)
    squared = np.sum((U[:, None, :] - U[None, :, :]) ** 2, axis=2)
    np.fill_diagonal(squared, np.inf)  # the diagonal the tree grower reads for points already in a tree
    whole = baselines._mst_lengths(squared, np.arange(U.shape[0])[None, :], alpha)
    assert whole[0] == pytest.approx(kruskal_length(U.tolist(), alpha), rel=1e-7, abs=1e-9)
    # trees grown side by side on subsets of the points, each one its own Kruskal tree
    rng = np.random.default_rng(U.shape[0])
    size = max(2, U.shape[0] // 2)
    subsets = np.stack([rng.choice(U.shape[0], size=size, replace=False) for _ in range(3)])
    lengths = baselines._mst_lengths(squared, subsets, alpha)
    for got, subset in zip(lengths, subsets):
        assert got == pytest.approx(kruskal_length(U[subset].tolist(), alpha), rel=1e-7, abs=1e-9)


@given(seeds, st.integers(2, 4))
@fraction_of_profile(0.25)
def test_mst_dimension_matches_the_documented_loop(seed, dim):
    rng = np.random.default_rng(seed)
    Z = rng.uniform(size=(60, dim)) @ rng.standard_normal((dim, dim + 2))
    got = mst_dimension(Z, n_sizes=4, min_points=15, repeats=2, random_state=seed, max_points=None)
    assert got == pytest.approx(mst_dimension_loop(Z, 4, 15, 2, seed), rel=1e-7)


def test_mst_dimension_undefined_cases():
    with pytest.raises(ValueError, match="distinct"):
        mst_dimension(np.zeros((50, 4)))
    with pytest.raises(ValueError, match="2 sizes"):
        mst_dimension(np.random.default_rng(0).standard_normal((12, 3)), min_points=12)
    with pytest.raises(ValueError, match="alpha"):
        mst_dimension(np.random.default_rng(0).standard_normal((50, 3)), alpha=0)


# ------------------------------------------------------------------------------------------
# alignment and uniformity


def test_alignment_of_invariant_views_is_zero_and_of_antipodal_views_is_two_to_the_alpha():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((7, 5))
    labels = np.repeat(np.arange(7), 4)
    scales = rng.uniform(0.5, 2.0, labels.size)[:, None]  # alignment reads directions only
    assert alignment(centres[labels] * scales, labels) == pytest.approx(0.0, abs=1e-12)
    signs = np.where(np.arange(labels.size) % 2 == 0, 1.0, -1.0)[:, None]
    for alpha in (1.0, 2.0, 3.0):
        # each class: 2 views at u, 2 at -u; 8 of the 12 ordered pairs are antipodal
        got = alignment(centres[labels] * signs, labels, alpha=alpha)
        assert got == pytest.approx(2**alpha * 8 / 12, rel=1e-12)


@given(labelled_views(), st.sampled_from([1.0, 2.0, 0.5]))
@fraction_of_profile(0.67)
def test_alignment_matches_the_paper_loop(views, alpha):
    Z, labels = views
    assert alignment(Z, labels, alpha=alpha) == pytest.approx(alignment_loop(Z, labels, alpha), rel=1e-7, abs=1e-10)


@given(seeds, st.lists(st.integers(1, 12), min_size=1, max_size=30))
@fraction_of_profile(0.34)
def test_alignment_with_classes_of_many_sizes_matches_the_paper_loop(seed, sizes):
    # classes of one view (no pair), and classes of several sizes, more views than one block of
    # the class-residual pass, in shuffled order
    if max(sizes) < 2:
        return
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    d = int(rng.integers(2, 6))
    Z = rng.standard_normal((len(sizes), d))[labels] + rng.uniform(0.0, 1.0) * rng.standard_normal((labels.size, d))
    assert alignment(Z, labels) == pytest.approx(alignment_loop(Z, labels), rel=1e-9, abs=1e-12)


@st.composite
def offset_labelled_views(draw):
    """Views of K classes at a common offset (0 or 1e8) and scale (1 or 1e-150), their spread
    within a class from exactly invariant (0) to nearly invariant (1e-6 of the codes) to wide."""
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    K, views, d = draw(st.integers(1, 5)), draw(st.integers(2, 5)), draw(st.integers(2, 6))
    labels = rng.permutation(np.repeat(np.arange(K), views))
    centres = rng.standard_normal((K, d))
    spread = draw(st.sampled_from([0.0, 1e-6, 1e-2, 1.0]))
    offset = draw(st.sampled_from([0.0, 1e8])) * rng.standard_normal(d)
    scale = draw(st.sampled_from([1.0, 1e-150]))
    Z = (offset + centres[labels] + spread * rng.standard_normal((labels.size, d))) * scale
    return Z, labels


@given(offset_labelled_views())
@fraction_of_profile(0.67)
def test_alignment_at_alpha_2_equals_the_pairwise_definition(views):
    # the O(n d) class-residual path against the definition's ordered pairs, in 60 digits
    Z, labels = views
    expected = alignment_decimal(Z, labels)
    # float64 unit rows are each rounded by ~eps per entry: a squared chord c moves by about
    # 2 sqrt(c) eps sqrt(d) (the rounding of ||u||^2 - ||ubar||^2 instead would be ~eps, absolute)
    rounding = 8 * np.finfo(float).eps * math.sqrt(Z.shape[1] * expected)
    assert alignment(Z, labels) == pytest.approx(expected, rel=1e-9, abs=rounding + 1e-30)


def test_alignment_at_alpha_2_keeps_nearly_invariant_views_at_an_offset():
    # 1e8 offset, spread 1: squared chords near 1e-16, below the rounding of ||u||^2 - ||ubar||^2
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(20), 4)
    Z = 1e8 * rng.standard_normal(64) + rng.standard_normal((20, 64))[labels] + rng.standard_normal((80, 64))
    expected = alignment_decimal(Z, labels)
    assert 0 < expected < 1e-14
    assert alignment(Z, labels) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("K", [2, 3, 10, 50])
def test_uniformity_of_a_regular_simplex(K):
    simplex = np.eye(K) - 1.0 / K  # K unit-distance-equal points, every pair at squared chord 2K/(K-1)
    rotated = simplex @ np.linalg.qr(np.random.default_rng(K).standard_normal((K, K)))[0] * 3.0
    for t in (1.0, 2.0):
        assert uniformity(rotated, t=t) == pytest.approx(-t * 2 * K / (K - 1), rel=1e-10)


def test_uniformity_of_an_antipodal_pair_is_minus_four_t():
    assert uniformity(np.array([[1.0, 2.0], [-2.0, -4.0]]), t=2.0) == pytest.approx(-8.0, rel=1e-12)


@given(point_clouds(min_n=2, max_n=30), st.sampled_from([0.5, 2.0, 5.0]))
@fraction_of_profile(0.67)
def test_uniformity_matches_the_paper_loop(Z, t):
    if np.any(np.linalg.norm(Z, axis=1) == 0):
        with pytest.raises(ValueError, match="zero"):
            uniformity(Z, t=t)
        return
    assert uniformity(Z, t=t, max_points=None) == pytest.approx(uniformity_loop(Z, t), rel=1e-7, abs=1e-9)


@given(point_clouds(min_n=2, max_n=25), st.sampled_from([0.0, 1e8]), st.sampled_from([0.5, 2.0]))
@fraction_of_profile(0.67)
def test_uniformity_from_the_shared_gram_equals_the_direct_definition(Z, offset, t):
    # the chords come from the Gram matrix of the centred rows; at a common offset of 1e8 they
    # are near 1e-16, where 2 - 2 cos would keep no digit
    Z = Z + offset * np.random.default_rng(Z.shape[0]).standard_normal(Z.shape[1])
    norms = np.linalg.norm(Z, axis=1)
    if np.any(norms == 0):
        return
    # each chord is exact up to a few eps of ||x_i - x_j||^2 / (||x_i|| ||x_j||) (parallel rows of
    # different lengths: the subtraction of two equal terms); at the offset that scale is ~1e-16
    scale = np.max(np.sum((Z[:, None] - Z[None, :]) ** 2, axis=2) / np.outer(norms, norms))
    expected = uniformity_decimal(Z, t)
    assert uniformity(Z, t=t, max_points=None) == pytest.approx(expected, rel=1e-6, abs=64e-16 * t * scale)


@pytest.mark.parametrize("n, d", [(60, 32), (150, 2)])
def test_uniformity_at_an_offset_reads_the_directions(n, d):
    # every chord near 1e-16 (the expm1 pass); 150 rows are two bands of chords
    rng = np.random.default_rng(11)
    Z = 1e8 * rng.standard_normal(d) + rng.standard_normal((n, d))
    expected = uniformity_decimal(Z, 2.0)
    assert -1e-14 < expected < 0
    assert uniformity(Z, max_points=None) == pytest.approx(expected, rel=1e-6)


def uniformity_over_ordered_pairs_decimal(Z, t):
    """Wang and Isola's log mean exp(-t ||u_i - u_j||^2) over the ordered pairs i != j (both triangles
    of the chord matrix, each unordered pair twice), in 60 digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        U = decimal_unit_rows(Z)
        n = len(U)
        terms = [(-Decimal(t) * decimal_chord(U[i], U[j])).exp() for i in range(n) for j in range(n) if i != j]
        return float((sum(terms) / len(terms)).ln())


@st.composite
def hard_direction_sets(draw):
    """Rows on few directions: exact copies, scaled copies (chord 0 between distinct rows), tied
    chords (the vertices of a cross-polytope), one close pair among far ones, all at a common offset
    (0 or 1e8) and scale (1, 1e-150 or 1e150)."""
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    d = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["copies", "scaled copies", "cross-polytope", "one close pair"]))
    if kind == "cross-polytope":
        Z = np.vstack([np.eye(d), -np.eye(d)]) @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    elif kind == "one close pair":
        Z = rng.standard_normal((draw(st.integers(2, 24)), d))
        Z = np.vstack([Z, Z[:1] + 1e-9 * rng.standard_normal(d)])
    else:
        directions = rng.standard_normal((draw(st.integers(1, 8)), d))
        Z = directions[rng.integers(0, directions.shape[0], draw(st.integers(2, 24)))]
        if kind == "scaled copies":
            Z = Z * rng.choice([0.5, 1.0, 2.0, 3.0], size=(Z.shape[0], 1))
    Z = Z + draw(st.sampled_from([0.0, 1e8])) * rng.standard_normal(d)
    return Z * draw(st.sampled_from([1.0, 1e-150, 1e150]))


@given(hard_direction_sets(), st.sampled_from([0.5, 2.0, 50.0, 400.0]))
@fraction_of_profile(0.67)
def test_uniformity_over_one_triangle_equals_the_mean_over_ordered_pairs(Z, t):
    # uniformity sums each unordered pair once (the upper triangle of the chords); the definition's
    # mean over ordered pairs counts each twice: the same mean, on ties, zero chords between distinct
    # rows, a mean of exponentials near 1 (expm1 path) or far below it (exp path), and a large t where
    # exp(-t K) underflows for every pair but the nearest
    if Z.shape[0] < 2 or not np.all(np.any(Z != 0, axis=1)):
        return
    expected = uniformity_over_ordered_pairs_decimal(Z, t)
    assert expected == pytest.approx(uniformity_decimal(Z, t), rel=1e-12, abs=1e-300)
    # each chord is exact up to a few eps of ||x_i - x_j||^2 / (||x_i|| ||x_j||) (as above; a ratio
    # free of the scale, taken at scale 1 so that squares of 1e158 do not overflow)
    X = Z / np.max(np.abs(Z))
    norms = np.linalg.norm(X, axis=1)
    scale = np.max(np.sum((X[:, None] - X[None, :]) ** 2, axis=2) / np.outer(norms, norms))
    assert uniformity(Z, t=t, max_points=None) == pytest.approx(expected, rel=1e-6, abs=64e-16 * t * scale)


@given(point_clouds(min_n=2, max_n=40), st.sampled_from([0.0, 1e8]), st.sampled_from([1, 2, 3, 7, 16, 40]))
@fraction_of_profile(0.67)
def test_chord_bands_hold_each_pair_once_in_bands_of_any_height(Z, offset, block):
    # the documented layout: bands of ``block`` rows, from the band's first row to the last column,
    # +inf on and below the diagonal; the values do not depend on the band height
    Z = Z + offset * np.random.default_rng(Z.shape[0]).standard_normal(Z.shape[1])
    if np.any(np.linalg.norm(Z, axis=1) == 0):
        return
    pool = PairwisePool.from_features(Z, max_points=None)
    m = Z.shape[0]
    pairs = {}
    bands = pool.chord_bands(block=block)
    for first in range(0, m, block):
        band = next(bands)
        assert band.shape == (min(m, first + block) - first, m - first)
        for i in range(first, first + band.shape[0]):
            for j in range(first, m):
                if j <= i:
                    assert band[i - first, j - first] == np.inf
                else:
                    pairs[i, j] = band[i - first, j - first]
    assert next(bands, None) is None
    assert sorted(pairs) == [(i, j) for i in range(m) for j in range(i + 1, m)]
    values = np.array(list(pairs.values()))
    # the same numbers as the docstring's formula on the whole (m, m) matrix, entry by entry
    s, n = pool.scale, pool.norms
    a = s * pool.squared_norms + 2.0 * pool.mean_projections
    gap = (a[:, None] - a[None, :]) / (n[:, None] + n[None, :])
    full = np.maximum(pool.squared_distances - gap * gap, 0.0) * (s / n)[:, None] * (s / n)[None, :]
    np.testing.assert_array_equal(values, full[np.triu_indices(m, 1)])
    # and the chords of the unit rows, in 60 digits, up to a few eps of the largest
    # ||x_i - x_j||^2 / (||x_i|| ||x_j||) (the bound of the uniformity test above)
    with localcontext() as ctx:
        ctx.prec = 60
        U = decimal_unit_rows(Z)
        exact = np.array([float(decimal_chord(U[i], U[j])) for i, j in pairs])
    norms = np.linalg.norm(Z, axis=1)
    scale = np.max(np.sum((Z[:, None] - Z[None, :]) ** 2, axis=2) / np.outer(norms, norms))
    assert np.all(np.abs(values - exact) <= 64e-16 * scale + 1e-300)


@pytest.mark.parametrize("duplicates", [False, True])
def test_uniformity_of_a_pool_of_several_bands_equals_the_mean_over_ordered_pairs(duplicates):
    # 300 rows: three bands of the chords (the default band height is 128)
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((300, 3)) + np.array([0.5, 0.0, 0.0])
    if duplicates:
        Z[rng.choice(300, size=100)] = Z[rng.choice(300, size=100)]
    U = Z / np.linalg.norm(Z, axis=1)[:, None]
    chords = np.sum((U[:, None] - U[None, :]) ** 2, axis=2)
    off_diagonal = ~np.eye(300, dtype=bool)
    for t in (0.5, 2.0):
        expected = math.log(float(np.mean(np.exp(-t * chords[off_diagonal]))))
        assert uniformity(Z, t=t, max_points=None) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("close_rows", [(3, 4), (150, 151), (297, 298)])
def test_uniformity_finds_the_nearest_pair_in_any_band(close_rows):
    # the bands are summed against the nearest chord seen so far; a nearer one in a later band
    # re-expresses the sum: the same mean wherever the nearest pair lies
    rng = np.random.default_rng(8)
    Z = rng.standard_normal((300, 4))
    i, j = close_rows
    Z[j] = Z[i] + 1e-7 * rng.standard_normal(4)
    U = Z / np.linalg.norm(Z, axis=1)[:, None]
    chords = np.sum((U[:, None] - U[None, :]) ** 2, axis=2)[np.triu_indices(300, 1)]
    for t in (2.0, 400.0):  # at t = 400 exp(-t K) underflows for all but the nearest pairs
        nearest = chords.min()
        expected = math.log(float(np.mean(np.exp(-t * (chords - nearest))))) - t * nearest
        assert uniformity(Z, t=t, max_points=None) == pytest.approx(expected, rel=1e-12)


def test_alignment_and_uniformity_undefined_cases():
    with pytest.raises(ValueError, match="zero"):
        alignment(np.array([[0.0, 0.0], [1.0, 0.0]]), [0, 0])
    with pytest.raises(ValueError, match="single view"):
        alignment(np.eye(3), [0, 1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(np.ones((1, 3)))


# ------------------------------------------------------------------------------------------
# the shared pool


@given(seeds, st.sampled_from([0.0, 1e8]), st.booleans())
@fraction_of_profile(0.34)
def test_the_shared_pool_gives_each_function_its_own_value(seed, offset, duplicates):
    rng = np.random.default_rng(seed)
    Z = rng.uniform(size=(90, 3)) @ rng.standard_normal((3, 5)) + offset * rng.standard_normal(5)
    if duplicates:
        Z[rng.choice(90, size=30)] = Z[rng.choice(90, size=30)]
    kwargs = {"max_points": 60, "random_state": seed}
    pool = PairwisePool.from_features(Z, **kwargs)
    alone = (twonn_dimension(Z, **kwargs), mst_dimension(Z, **kwargs), uniformity(Z, **kwargs))
    shared = (
        twonn_dimension(Z, pool=pool, **kwargs),
        mst_dimension(Z, pool=pool, **kwargs),
        uniformity(Z, pool=pool, **kwargs),
    )
    assert shared == alone
    # the documented subsample, then the definitions on it
    rows = np.sort(np.random.default_rng(seed).choice(90, size=60, replace=False))
    np.testing.assert_array_equal(pool.rows, rows)
    sub = Z[rows]
    if np.unique(sub, axis=0).shape[0] >= 3:
        assert alone[0] == pytest.approx(twonn_loop(sub), rel=1e-6)
    assert alone[2] == pytest.approx(uniformity_decimal(sub, 2.0), rel=1e-6, abs=1e-28)
    distinct = np.unique(sub, axis=0).shape[0]
    min_points = max(10, distinct // 10)
    assert alone[1] == pytest.approx(mst_dimension_loop(sub, 8, min_points, 3, seed), rel=1e-6)


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_one_pool_of_a_flat_gives_its_dimension_to_twonn_and_the_mst(dim):
    # more rows than the pool keeps, at a common offset: both estimators read the same subsample
    Z = flat_points(6000, dim, 64, seed=20 + dim) + 1e8
    pool = PairwisePool.from_features(Z)
    assert pool.rows.size == baselines.DEFAULT_MAX_POINTS
    assert abs(twonn_dimension(Z, pool=pool) - dim) < 0.15 * dim
    assert abs(mst_dimension(Z, pool=pool) - dim) < 0.15 * dim


def test_a_pool_of_other_arguments_is_refused():
    Z = np.random.default_rng(0).standard_normal((50, 4))
    pool = PairwisePool.from_features(Z, max_points=40, random_state=1)
    for fn in (twonn_dimension, mst_dimension, uniformity):
        with pytest.raises(ValueError, match="pool"):
            fn(Z, max_points=30, random_state=1, pool=pool)
        with pytest.raises(ValueError, match="pool"):
            fn(Z, max_points=40, random_state=2, pool=pool)
        with pytest.raises(ValueError, match="pool"):
            fn(Z[:45], max_points=40, random_state=1, pool=pool)
        with pytest.raises(ValueError, match="pool"):
            fn(Z, max_points=40, random_state=1, pool="not a pool")


def test_the_pool_counts_identical_rows_once():
    # copies, near copies (1 ulp apart) and -0.0: only exact copies are merged
    rng = np.random.default_rng(4)
    Z = rng.standard_normal((40, 6))
    Z[10] = Z[3]
    Z[11] = np.nextafter(Z[3], np.inf)
    Z[12, 0], Z[13] = 0.0, Z[12]
    Z[13, 0] = -0.0
    pool = PairwisePool.from_features(Z, max_points=None)
    expected = sorted({tuple(r): i for i, r in reversed(list(enumerate((Z - Z.mean(0)).tolist())))}.values())
    assert pool.distinct.tolist() == expected
    assert 10 not in pool.distinct and 11 in pool.distinct and 13 not in pool.distinct


def test_the_pool_of_several_bands_keeps_every_distance_and_copy():
    # 300 rows: the squared distances are formed a band of 128 rows at a time; copies across bands
    rng = np.random.default_rng(9)
    Z = rng.standard_normal((300, 6))
    Z[250], Z[299], Z[140] = Z[10], Z[0], Z[139]
    pool = PairwisePool.from_features(Z, max_points=None)
    C = pool.centred
    brute = np.sum((C[:, None] - C[None, :]) ** 2, axis=2)
    off = ~np.eye(300, dtype=bool)
    bound = 16 * (6 + 4) * np.finfo(float).eps * np.max(pool.squared_norms)
    assert np.all(np.abs(pool.squared_distances[off] - brute[off]) <= bound)
    assert np.all(np.diagonal(pool.squared_distances) == np.inf)
    assert pool.distinct.tolist() == [i for i in range(300) if i not in (140, 250, 299)]


# ------------------------------------------------------------------------------------------
# NESum


def test_nesum_of_isotropic_and_collapsed_spectra():
    H = scipy.linalg.hadamard(16)[:, 1:]  # 15 orthogonal, centred +-1 columns: covariance = (16/15) I
    assert nesum(H * 7.0) == pytest.approx(15.0, rel=1e-10)
    rng = np.random.default_rng(0)
    collapsed = rng.standard_normal((50, 1)) @ rng.standard_normal((1, 9)) + 3.0
    assert nesum(collapsed) == pytest.approx(1.0, rel=1e-10)
    assert nesum_from_eigenvalues([4.0, 2.0, 2.0, -1e-17]) == pytest.approx(2.0)


@given(point_clouds(min_n=3, max_n=25))
@fraction_of_profile(0.67)
def test_nesum_matches_the_paper_loop(Z):
    if np.allclose(Z, Z[0]):
        return
    assert nesum(Z) == pytest.approx(nesum_loop(Z), rel=1e-7)


def test_nesum_undefined_cases():
    with pytest.raises(ValueError, match="zero"):
        nesum(np.ones((5, 3)))
    with pytest.raises(ValueError, match="zero"):
        nesum_from_eigenvalues([0.0, 0.0])


# ------------------------------------------------------------------------------------------
# in the score registry and in `ssltheory score`

BASELINE_FUNCTIONS = {
    "twonn_dimension": lambda Z, labels: twonn_dimension(Z),
    "mst_dimension": lambda Z, labels: mst_dimension(Z),
    "alignment": lambda Z, labels: alignment(Z, labels),
    "uniformity": lambda Z, labels: uniformity(Z),
    "nesum": lambda Z, labels: nesum(Z),
}


def test_baselines_are_registered_and_scored_as_the_functions_compute_them(tmp_path):
    import contextlib
    import io
    import json

    from ssltheory.cli import main
    from ssltheory.metrics import SCORES, score_all

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(30), 4)
    Z = rng.standard_normal((30, 16))[labels] + 0.3 * rng.standard_normal((120, 16))
    scores = score_all(Z, labels)
    for name, fn in BASELINE_FUNCTIONS.items():
        assert not SCORES[name].ours and SCORES[name].provenance
        assert scores.values[name] == pytest.approx(fn(Z, labels), rel=1e-9)
    np.save(tmp_path / "Z.npy", Z)
    np.save(tmp_path / "c.npy", labels)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["score", str(tmp_path / "Z.npy"), "--classes", str(tmp_path / "c.npy"), "--json"]) == 0
    payload = json.loads(out.getvalue())
    for name, fn in BASELINE_FUNCTIONS.items():
        assert payload[name] == pytest.approx(fn(Z, labels), rel=1e-9)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["score", str(tmp_path / "Z.npy"), "--classes", str(tmp_path / "c.npy")]) == 0
    for label in ("TwoNN ID", "MST ID", "alignment", "uniformity", "NESum"):
        assert label in out.getvalue()
