"""Invariant tasks (THEORY.md section 0, [paper] Def. 1): tests, lifting, enumeration, sampling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssltheory import EquivalenceClasses
from ssltheory.tasks import (
    enumerate_binary_tasks,
    enumerate_tasks,
    is_invariant,
    lift,
    sample_tasks,
    task_from_point_labels,
)


def canonical(labeling) -> tuple[int, ...]:
    """Rename labels by first appearance (a labeling up to relabeling)."""
    names: dict[int, int] = {}
    return tuple(names.setdefault(v, len(names)) for v in labeling)


point_labelings = st.integers(1, 10).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n), st.lists(st.integers(0, 2), min_size=n, max_size=n)
    )
)


# ---------------------------------------------------------------- invariance of point labels
def test_is_invariant_fixed_example():
    classes = EquivalenceClasses.from_labels([0, 0, 1])
    assert is_invariant([1, 1, 0], classes)
    assert not is_invariant([1, 0, 0], classes)


@given(point_labelings)
def test_labels_are_invariant_iff_constant_on_every_class(pair):
    classes, y = pair
    constant = all(y[i] == y[j] for i in range(len(y)) for j in range(len(y)) if classes[i] == classes[j])
    assert is_invariant(y, classes) == constant


def test_task_from_point_labels_names_the_offending_pair():
    with pytest.raises(ValueError, match=r"points 0 and 2 are equivalent \(class 0\) but have labels 1 and 0"):
        task_from_point_labels([1, 0, 0], [0, 1, 0])


@given(point_labelings)
def test_an_invariant_labeling_is_a_task_composed_with_the_maximal_invariant(pair):
    classes, y = pair
    eq = EquivalenceClasses.from_labels(classes)
    if is_invariant(y, eq):
        task = task_from_point_labels(y, eq)
        assert task.shape == (eq.n_classes,)
        assert [task[eq.labels[i]] for i in range(len(y))] == list(y)
        assert lift(task, eq).tolist() == list(y)
    else:
        with pytest.raises(ValueError, match="not invariant"):
            task_from_point_labels(y, eq)


def test_lift_fixed_example_and_bad_task():
    classes = EquivalenceClasses.from_labels([0, 0, 1, 2])
    assert lift([1, 0, 1], classes).tolist() == [1, 1, 0, 1]
    with pytest.raises(ValueError, match="task has 2 entries but the equivalence has 3 classes"):
        lift([1, 0], classes)


# ---------------------------------------------------------------- enumeration
def test_enumerate_binary_tasks_fixed_example():
    assert enumerate_binary_tasks(3).tolist() == [[0, 1, 0], [0, 0, 1], [0, 1, 1]]
    assert enumerate_binary_tasks(1).shape == (0, 1)


@given(st.integers(1, 9))
def test_binary_tasks_are_every_nonconstant_split_once_up_to_complement(K):
    tasks = enumerate_binary_tasks(K)
    assert tasks.shape == (2 ** (K - 1) - 1, K)
    assert (tasks[:, 0] == 0).all()
    brute = {t for t in itertools.product((0, 1), repeat=K) if len(set(t)) == 2}
    with_complements = {tuple(t) for t in tasks} | {tuple(1 - t) for t in tasks}
    assert with_complements == brute
    assert len({tuple(t) for t in tasks}) == len(tasks)


def test_enumerate_tasks_fixed_example():
    assert enumerate_tasks(3, 3).tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [0, 1, 2]]


@given(st.integers(1, 6), st.integers(1, 4))
def test_enumerated_tasks_are_the_labelings_up_to_relabeling(K, k):
    tasks = enumerate_tasks(K, k)
    brute = {canonical(t) for t in itertools.product(range(k), repeat=K)}
    assert {tuple(t) for t in tasks} == brute
    assert len(tasks) == len(brute)
    assert [tuple(t) for t in tasks] == sorted(tuple(t) for t in tasks)


def test_enumeration_refuses_huge_outputs():
    with pytest.raises(ValueError, match="use sample_tasks"):
        enumerate_binary_tasks(30)
    with pytest.raises(ValueError, match="use sample_tasks"):
        enumerate_tasks(16, 16)


# ---------------------------------------------------------------- sampling
def test_sample_tasks_fixed_example():
    a = sample_tasks(4, 3, n_labels=3, random_state=0)
    assert a.shape == (3, 4) and a.dtype == np.int64
    np.testing.assert_array_equal(a, sample_tasks(4, 3, n_labels=3, random_state=0))


@given(st.integers(2, 8), st.integers(0, 30), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_sampled_tasks_are_nonconstant_labelings_in_range(K, n_tasks, k, seed):
    tasks = sample_tasks(K, n_tasks, n_labels=k, random_state=seed)
    assert tasks.shape == (n_tasks, K)
    for t in tasks.tolist():
        assert len(set(t)) >= 2 and all(0 <= v < k for v in t)


def test_sample_tasks_covers_every_binary_split():
    seen = {canonical(t) for t in sample_tasks(4, 400, random_state=1)}
    assert seen == {tuple(t) for t in enumerate_binary_tasks(4)}


@pytest.mark.parametrize(
    "args, message",
    [((1, 3), "n_classes must be >= 2"), ((3, -1), "n_tasks must be >= 0"), ((3, 2, 1), "n_labels must be >= 2")],
)
def test_sample_tasks_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        sample_tasks(*args)
