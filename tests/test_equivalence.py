"""The classes of ~ (THEORY.md section 0): labels, augmentation graphs, sampled views."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssltheory import EquivalenceClasses
from ssltheory.testing import strategies


def components_by_search(n: int, pairs) -> list[set[int]]:
    """Connected components of the undirected graph, by a plain depth-first search."""
    neighbours = {i: set() for i in range(n)}
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen, parts = set(), []
    for start in range(n):
        if start in seen:
            continue
        stack, part = [start], set()
        while stack:
            i = stack.pop()
            if i in part:
                continue
            part.add(i)
            stack.extend(neighbours[i] - part)
        seen |= part
        parts.append(part)
    return parts


def partition_of(labels) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, m in enumerate(np.asarray(labels).tolist()):
        groups.setdefault(m, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def is_first_appearance_numbering(labels) -> bool:
    largest = -1
    for m in np.asarray(labels).tolist():
        if m > largest + 1:
            return False
        largest = max(largest, m)
    return True


graphs = strategies.augmentation_pairs(max_points=12, max_pairs=15)


# ---------------------------------------------------------------- from_pairs
def test_from_pairs_fixed_example():
    classes = EquivalenceClasses.from_pairs(5, [(0, 2), (3, 4)])
    assert classes.labels.tolist() == [0, 1, 0, 2, 2]
    assert classes.n_classes == 3 and classes.n_points == 5
    assert classes.sizes.tolist() == [2, 1, 2]
    assert [m.tolist() for m in classes.members] == [[0, 2], [1], [3, 4]]


@given(graphs)
def test_classes_of_pairs_are_the_connected_components_of_the_augmentation_graph(graph):
    n, pairs = graph
    classes = EquivalenceClasses.from_pairs(n, pairs)
    assert partition_of(classes.labels) == {frozenset(p) for p in components_by_search(n, pairs)}
    assert is_first_appearance_numbering(classes.labels)
    assert classes.sizes.sum() == n
    for m, members in enumerate(classes.members):
        assert (classes.labels[members] == m).all()


def test_from_pairs_without_pairs_makes_singletons():
    assert EquivalenceClasses.from_pairs(3, []).labels.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([(0, 5)], "pairs refers to input 5"),
        ([(0, 1, 2)], r"shape \(m, 2\)"),
        ([(-1, 0)], "non-negative"),
        ([(0.5, 1)], "integers"),
    ],
)
def test_from_pairs_rejects_bad_pairs(pairs, message):
    with pytest.raises(ValueError, match=message):
        EquivalenceClasses.from_pairs(3, pairs)


def test_from_pairs_rejects_bad_n():
    with pytest.raises(ValueError, match="n must be >= 1"):
        EquivalenceClasses.from_pairs(0, [])


# ---------------------------------------------------------------- from_labels
def test_from_labels_fixed_example():
    assert EquivalenceClasses.from_labels([7, 3, 7, 9]).labels.tolist() == [0, 1, 0, 2]


@given(st.lists(st.integers(0, 5), min_size=1, max_size=20), st.permutations(range(6)))
def test_from_labels_keeps_the_partition_and_ignores_label_names(labels, renaming):
    classes = EquivalenceClasses.from_labels(labels)
    renamed = EquivalenceClasses.from_labels([renaming[m] for m in labels])
    assert partition_of(classes.labels) == partition_of(labels)
    assert is_first_appearance_numbering(classes.labels)
    assert classes == renamed


@pytest.mark.parametrize(
    "labels, message", [([], "empty"), ([0, -1], "non-negative"), ([0.5, 1], "integers"), ([[0, 1]], "1-D")]
)
def test_from_labels_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        EquivalenceClasses.from_labels(labels)


# ---------------------------------------------------------------- from_views
def test_from_views_fixed_example():
    a, b, c = np.zeros((2, 2)), np.ones((2, 2)), np.full((2, 2), 2.0)
    views = [[a, b], [c], [b.copy()], [np.zeros((2, 2), dtype=np.float32)]]
    # inputs 0 and 2 share a view; input 3's view has the same values as a but another dtype
    assert EquivalenceClasses.from_views(views).labels.tolist() == [0, 1, 0, 2]
    rounded = EquivalenceClasses.from_views(views, key=lambda v: float(np.asarray(v).sum()))
    assert rounded.labels.tolist() == [0, 1, 0, 0]


@given(strategies.sampled_views(max_points=8, max_views=3, n_distinct_views=7, min_views=0))
def test_inputs_are_joined_exactly_when_sampled_views_coincide(view_ids):
    pool = [np.arange(4, dtype=np.int16) * v for v in range(7)]  # 7 distinct "images"
    views = [[pool[v].copy() for v in ids] for ids in view_ids]
    classes = EquivalenceClasses.from_views(views)
    n = len(views)
    linked = [
        (i, j) for i in range(n) for j in range(n) if any(np.array_equal(x, y) for x in views[i] for y in views[j])
    ]
    assert partition_of(classes.labels) == {frozenset(p) for p in components_by_search(n, linked)}


def test_from_views_rejects_bad_input():
    with pytest.raises(ValueError, match="views is empty"):
        EquivalenceClasses.from_views([])
    with pytest.raises(ValueError, match="key must be callable"):
        EquivalenceClasses.from_views([[np.zeros(1)]], key=3)
    with pytest.raises(ValueError, match=r"views\[0\]"):
        EquivalenceClasses.from_views([5])


# ---------------------------------------------------------------- refines
def test_refines_fixed_example():
    fine = EquivalenceClasses.from_labels([0, 1, 2, 2])
    coarse = EquivalenceClasses.from_labels([0, 0, 1, 1])
    assert fine.refines(coarse) and not coarse.refines(fine) and fine.refines(fine)


@given(st.lists(st.integers(0, 4), min_size=1, max_size=15), st.lists(st.integers(0, 4), min_size=1, max_size=15))
def test_refines_means_every_class_lies_inside_a_class_of_the_other(a, b):
    n = min(len(a), len(b))
    fine, coarse = EquivalenceClasses.from_labels(a[:n]), EquivalenceClasses.from_labels(b[:n])
    inside = all(len({b[i] for i in range(n) if a[i] == m}) == 1 for m in set(a[:n]))
    assert fine.refines(coarse) == inside
    merged = EquivalenceClasses.from_labels([m // 2 for m in a[:n]])  # a coarsening by construction
    assert fine.refines(merged)


def test_refines_rejects_other_sizes():
    with pytest.raises(ValueError, match="other has 3 points"):
        EquivalenceClasses.from_labels([0, 1]).refines(EquivalenceClasses.from_labels([0, 1, 1]))


# ---------------------------------------------------------------- class codes
def test_class_codes_fixed_example():
    classes = EquivalenceClasses.from_labels([0, 1, 0])
    Z = np.array([[0.0, 2.0], [5.0, 5.0], [2.0, 4.0]])
    np.testing.assert_array_equal(classes.class_codes(Z), [[1.0, 3.0], [5.0, 5.0]])


@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=12).flatmap(
        lambda labels: st.tuples(st.just(labels), strategies.float_matrices(len(labels), 3, bound=10.0))
    )
)
def test_class_codes_are_the_class_means(drawn):
    labels, Z = drawn
    classes = EquivalenceClasses.from_labels(labels)
    codes = classes.class_codes(Z)
    for m in range(classes.n_classes):
        rows = [Z[i] for i in range(len(labels)) if classes.labels[i] == m]
        np.testing.assert_allclose(codes[m], sum(rows) / len(rows), rtol=1e-12, atol=1e-12)


def test_class_codes_of_identical_rows_are_exact_despite_a_large_offset():
    code = np.array([1e8 + 0.1, -3e7 + 0.3, 0.7])
    Z = np.tile(code, (7, 1))
    assert (EquivalenceClasses.from_labels([0] * 7).class_codes(Z) == code).all()
    Z32 = Z.astype(np.float32)
    assert (EquivalenceClasses.from_labels([0] * 7).class_codes(Z32) == Z32[0].astype(np.float64)).all()


def test_class_codes_rejects_wrong_rows():
    with pytest.raises(ValueError, match="Z has 2 rows but the classes cover 3 points"):
        EquivalenceClasses.from_labels([0, 1, 1]).class_codes(np.zeros((2, 2)))


# ---------------------------------------------------------------- class sums without sparse matrices
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=300),
    st.integers(1, 5),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1, 3, 64, None]),
)
def test_class_sums_and_member_batches_agree_with_a_loop(labels, d, dtype, seed, max_rows):
    """class_sums equals a loop over the rows (classes empty, small and above the gathered size of
    64 rows); member_batches covers every row once (all but each class's first with skip_first),
    its batches hold distinct classes or a single one, within max_rows."""
    from ssltheory.equivalence import class_sums, member_batches

    rng = np.random.default_rng(seed)
    labels = np.array(labels)
    if rng.random() < 0.5:  # one class far above the gathered size
        labels = np.concatenate([labels, np.full(150, labels[0])])
        rng.shuffle(labels)
    K = int(labels.max()) + 2  # the last class has no rows
    rows = rng.standard_normal((labels.size, d)).astype(dtype)
    want = np.zeros((K, d))
    for i, m in enumerate(labels):
        want[m] += rows[i].astype(np.float64)
    np.testing.assert_allclose(class_sums(rows, labels, K), want, rtol=1e-12, atol=1e-12)
    firsts = {int(np.flatnonzero(labels == m)[0]) for m in np.unique(labels)}
    for skip_first in (False, True):
        seen = []
        kwargs = {} if max_rows is None else {"max_rows": max_rows}
        for index, batch_labels, one_class in member_batches(labels, skip_first=skip_first, **kwargs):
            assert 1 <= index.size <= (max_rows or index.size) and np.array_equal(labels[index], batch_labels)
            distinct = np.unique(batch_labels).size
            assert distinct == 1 if one_class else distinct == batch_labels.size
            seen.extend(index.tolist())
        expected = set(range(labels.size)) - (firsts if skip_first else set())
        assert sorted(seen) == sorted(expected)


def test_mean_offsets_of_identical_rows_are_exactly_zero_and_match_a_loop():
    """mean_offsets: exact zeros for classes of identical rows (float32 and float64, offset 1e8), and a loop's
    means of z_i - z_first elsewhere, with classes larger than the gathered size."""
    rng = np.random.default_rng(3)
    labels = np.concatenate([np.repeat(np.arange(5), 3), np.full(100, 5), np.arange(6, 9)])
    rng.shuffle(labels)
    for dtype in (np.float32, np.float64):
        Z = (1e8 + rng.standard_normal((9, 4))[labels]).astype(dtype)
        moved = labels == 5
        Z[moved] += rng.standard_normal((moved.sum(), 4)).astype(dtype)
        classes = EquivalenceClasses.from_labels(labels)
        got = classes.mean_offsets(Z, unit=2.0**27)
        for m in range(classes.n_classes):
            members = classes.members[m]
            diffs = Z[members].astype(np.float64) / 2.0**27 - Z[members[0]].astype(np.float64) / 2.0**27
            np.testing.assert_allclose(got[m], diffs.mean(axis=0), rtol=1e-12, atol=1e-15)
            if np.unique(Z[members], axis=0).shape[0] == 1:
                assert (got[m] == 0).all()
