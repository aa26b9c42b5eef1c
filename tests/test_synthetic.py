"""Synthetic worlds and representations: each generator's claimed properties, checked.

Worlds: classes computed by the library (scipy components, from_views) are compared with a
union-find loop over the pairs, or with orbits computed from an explicit enumeration of the whole
group (canonical forms). Representations: each knob's claimed verdict is checked through
``is_ideal`` and its certificate is checked on its own (an LP, equal codes, exact rational rank).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssltheory.conditions import is_ideal
from ssltheory.equivalence import EquivalenceClasses
from ssltheory.geometry import linearly_separable
from ssltheory.synthetic import (
    continuous_world,
    finite_world,
    ideal_representation,
    image_world,
    merged_representation,
    noisy_representation,
    rank_deficient_representation,
    relu_head,
    simplex_codes,
    t9_representation,
)
from ssltheory.tasks import enumerate_tasks
from ssltheory.testing.oracles import exact_affine_rank


def union_find_partition(n, pairs):
    """Partition of range(n) under the pairs, as a set of frozensets (plain loop)."""
    parent = list(range(n))

    def root(a):
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in pairs:
        parent[root(int(a))] = root(int(b))
    groups = {}
    for a in range(n):
        groups.setdefault(root(a), set()).add(a)
    return {frozenset(g) for g in groups.values()}


def partition_of(labels):
    groups = {}
    for i, lab in enumerate(labels):
        groups.setdefault(int(lab), set()).add(i)
    return {frozenset(g) for g in groups.values()}


# ------------------------------------------------------------------------------ finite worlds


def test_chain_world_fixed_example():
    world = finite_world(2, class_size=3, graph="chain", shuffle=False)
    assert world.pairs.tolist() == [[0, 1], [1, 2], [3, 4], [4, 5]]
    assert world.classes.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert {0, 2} not in [set(p) for p in world.pairs.tolist()]  # joined only by transitivity
    assert np.allclose(world.p, 1 / 6)


@given(
    st.integers(1, 6),
    st.lists(st.integers(1, 5), min_size=6, max_size=6),
    st.sampled_from(["chain", "star", "random"]),
    st.sampled_from(["uniform", "skewed"]),
    st.integers(0, 10**6),
)
def test_finite_world_classes_are_the_components_of_the_augmentation_graph(K, sizes, graph, masses, seed):
    sizes = sizes[:K]
    world = finite_world(K, class_size=sizes, graph=graph, masses=masses, random_state=seed)
    assert partition_of(world.classes.labels) == union_find_partition(world.n_points, world.pairs)
    assert sorted(len(g) for g in partition_of(world.classes.labels)) == sorted(sizes)
    assert world.p.sum() == pytest.approx(1.0) and np.all(world.p > 0)
    P = np.sort(world.class_masses())[::-1]
    if masses == "uniform":
        assert np.allclose(P, 1 / K)
    else:
        zipf = 1 / np.arange(1, K + 1)
        assert np.allclose(P, zipf / zipf.sum())
    if graph == "chain":  # the ends of a chain of >= 3 inputs never share an augmentation pair
        edges = {frozenset(map(int, e)) for e in world.pairs}
        for members in world.classes.members:
            if len(members) >= 3:
                assert (
                    sum(frozenset((int(a), int(b))) in edges for a in members for b in members if a < b)
                    == len(members) - 1
                )


# ------------------------------------------------------------------------------ continuous


def test_continuous_world_maximal_invariant_is_the_latent_class():
    world = continuous_world(4, nuisance_dim=3, nuisance_scale=2.0, random_state=0)
    x, m = world.sample(200, random_state=1)
    views = [world.augment(m, random_state=s) for s in (2, 3)]
    assert np.array_equal(world.maximal_invariant(x), m)
    assert all(np.array_equal(world.maximal_invariant(v), m) for v in views)
    assert not np.allclose(views[0], views[1])  # the nuisance really was resampled
    # classes from sampled views joined by the invariant key recover the latent partition
    per_input = [[x[i], views[0][i], views[1][i]] for i in range(len(m))]
    classes = EquivalenceClasses.from_views(per_input, key=lambda v: int(world.maximal_invariant(v[None])[0]))
    assert partition_of(classes.labels) == partition_of(m)
    assert is_ideal(world.invariant_encoder(x), m).ok
    raw = is_ideal(x, m)
    assert not raw.ok and not raw.conditions["invariance"].ok


# ------------------------------------------------------------------------------ image worlds


def group_orbit_keys(images, step):
    """Canonical form of each image: the smallest byte string over the whole group, enumerated
    explicitly as flip^f o rot90^r o shift(a, b) for every f, r and shift (a, b)."""
    size = images.shape[1]
    keys = []
    for a0 in images:
        forms = []
        for a in range(0, size, step):
            for b in range(0, size, step):
                shifted = np.roll(np.roll(a0, a, axis=0), b, axis=1)
                for r in range(4):
                    rotated = np.rot90(shifted, r)
                    forms += [rotated.tobytes(), rotated[:, ::-1].tobytes()]
        keys.append(min(forms))
    return keys


def test_image_world_fixed_example():
    base = np.zeros((4, 4), dtype=np.uint8)
    base[0, 1] = 255
    flat = np.full((4, 4), 7, dtype=np.uint8)
    world = image_world(images=np.stack([base, np.rot90(base).copy(), flat]), transforms=("rot90",))
    # the second source is a rotation of the first: one orbit of 4 images; the flat image is alone
    assert world.classes.n_classes == 2
    assert sorted(world.classes.sizes.tolist()) == [1, 4]


@given(st.lists(st.lists(st.integers(0, 1), min_size=16, max_size=16), min_size=1, max_size=3), st.sampled_from([2, 4]))
def test_image_world_classes_are_the_group_orbits(bits, step):
    sources = (np.asarray(bits, dtype=np.uint8) * 255).reshape(-1, 4, 4)
    world = image_world(images=sources, shift_step=step)
    keys = group_orbit_keys(world.images, step)
    assert partition_of(world.classes.labels) == partition_of([hash(k) for k in keys])
    # every source is an input, and the inputs are distinct arrays
    assert len({a.tobytes() for a in world.images}) == len(world.images)
    assert {s.tobytes() for s in sources} <= {a.tobytes() for a in world.images}


def test_image_world_from_real_digits_and_photos():
    digits = image_world("digits", 3, random_state=0)
    keys = group_orbit_keys(digits.images, digits.shift_step)
    assert partition_of(digits.classes.labels) == partition_of([hash(k) for k in keys])
    assert digits.classes.n_classes <= 3 and digits.images.dtype == np.uint8
    photos = image_world("photos", 4, size=8, levels=8, transforms=("flip", "rot90"), random_state=1)
    keys = group_orbit_keys(photos.images, photos.shift_step)
    assert partition_of(photos.classes.labels) == partition_of([hash(k) for k in keys])
    textures = image_world("textures", 3, size=8, transforms=("flip", "rot90"), random_state=2)
    assert textures.classes.sizes.max() <= 8  # the dihedral group has 8 elements


# ------------------------------------------------------------------------------ representations


def test_simplex_codes_fixed_example():
    codes = simplex_codes(3)
    assert codes.shape == (3, 2)
    dist = np.linalg.norm(codes[:, None] - codes[None], axis=2)
    assert np.allclose(dist[~np.eye(3, dtype=bool)], np.sqrt(3))
    assert np.allclose(codes.sum(axis=0), 0)


@given(st.integers(2, 6), st.sampled_from(["simplex", "random"]), st.integers(0, 2), st.integers(0, 10**6))
def test_ideal_representations_are_ideal_for_both_families(K, kind, extra, seed):
    classes = EquivalenceClasses.from_labels(np.repeat(np.arange(K), 2))
    Z = ideal_representation(classes, kind=kind, dim=K - 1 + extra, random_state=seed)
    assert is_ideal(Z, classes, "linear").ok and is_ideal(Z, classes, "universal").ok
    codes = Z[[members[0] for members in classes.members]]
    assert exact_affine_rank(codes) == K - 1
    assert all(np.array_equal(Z[i], codes[classes.labels[i]]) for i in range(len(Z)))


@given(st.integers(2, 5), st.floats(1e-3, 1.0), st.integers(0, 10**6))
def test_within_class_noise_breaks_invariance(K, sigma, seed):
    classes = EquivalenceClasses.from_labels(np.repeat(np.arange(K), 2))
    Z = noisy_representation(classes, sigma, random_state=seed)
    verdict = is_ideal(Z, classes, "linear")
    assert not verdict.ok and not verdict.conditions["invariance"].ok
    i, j = verdict.certificate.witness["pair"]
    assert classes.labels[i] == classes.labels[j] and not np.array_equal(Z[i], Z[j])


@given(st.integers(3, 7), st.data())
def test_rank_deficient_codes_are_universal_but_not_linear_ideal(K, data):
    d = data.draw(st.integers(1, K - 2))
    classes = EquivalenceClasses.from_labels(np.arange(K))
    Z = rank_deficient_representation(classes, d, random_state=data.draw(st.integers(0, 10**6)))
    assert is_ideal(Z, classes, "universal").ok
    verdict = is_ideal(Z, classes, "linear")
    assert not verdict.ok
    assert not linearly_separable(Z, verdict.certificate.task[classes.labels])


def test_merged_classes_are_not_universal_ideal():
    classes = EquivalenceClasses.from_labels([0, 1, 1, 2, 3])
    Z = merged_representation(classes, [(0, 2)])
    verdict = is_ideal(Z, classes, "universal")
    assert not verdict.ok and verdict.certificate.kind == "shared-code"
    a, b = verdict.certificate.witness["classes"]
    assert {a, b} == {0, 2}
    assert np.array_equal(Z[classes.members[a][0]], Z[classes.members[b][0]])
    task = verdict.certificate.task
    assert task[a] != task[b]  # a task that no function of z realizes


def test_t9_relu_head_fixed_example():
    codes = np.array([[0.0], [1.0], [2.0]])  # collinear: the middle versus the ends (cf. docs/THEORY.md T1.4)
    head = relu_head(codes, [0, 1, 0])
    assert head.predict(codes).tolist() == [0, 1, 0]
    assert not linearly_separable(codes, [0, 1, 0])


@given(st.integers(3, 6), st.sampled_from(["line", "circle"]), st.integers(0, 10**6))
def test_t9_codes_defeat_linear_probes_but_a_relu_head_realizes_every_task(K, shape, seed):
    classes = EquivalenceClasses.from_labels(np.arange(K))
    Z = t9_representation(classes, shape=shape, random_state=seed)
    assert Z.shape[1] == (1 if shape == "line" else 2)
    assert is_ideal(Z, classes, "universal").ok
    if Z.shape[1] < K - 1:
        verdict = is_ideal(Z, classes, "linear")
        assert not verdict.ok and not linearly_separable(Z, verdict.certificate.task)
    for task in enumerate_tasks(K, 3):
        head = relu_head(Z, task, n_labels=3, random_state=seed)
        assert head.W2.shape[1] <= K - 1
        scores = head.scores(Z)
        own = scores[np.arange(K), task]
        rival = np.where(np.arange(3)[None, :] == task[:, None], -np.inf, scores).max(axis=1)
        assert np.all(own - rival > 0.5)  # one-hot outputs: strict margin


def test_generators_reject_bad_knobs():
    classes = EquivalenceClasses.from_labels([0, 1, 2, 3])
    with pytest.raises(ValueError, match="below K - 1"):
        ideal_representation(classes, dim=2)
    with pytest.raises(ValueError, match="rank-deficient"):
        rank_deficient_representation(classes, 3)
    with pytest.raises(ValueError, match="graph must be"):
        finite_world(3, graph="tree")
    with pytest.raises(ValueError, match="not pairwise distinct"):
        relu_head(np.zeros((2, 1)), [0, 1])
    with pytest.raises(ValueError, match="source must be"):
        image_world("cifar")
