"""Invariant tasks: test, build, lift, enumerate and sample them (THEORY.md section 0).

[paper, Def. 1] An invariant task is a labeling y = g(M(x)) for some g: {0..K-1} -> {0..k-1}.
Here a *task* is g itself, stored as one label per class: an int64 array of shape (K,). Its
labels on the inputs are ``lift(task, classes)`` = g(M(x_i)), shape (n,).

Example::

    >>> from ssltheory import EquivalenceClasses
    >>> classes = EquivalenceClasses.from_labels([0, 0, 1, 2])
    >>> lift(np.array([1, 0, 1]), classes).tolist()
    [1, 1, 0, 1]
    >>> enumerate_binary_tasks(3).tolist()
    [[0, 1, 0], [0, 0, 1], [0, 1, 1]]
"""

from __future__ import annotations

import math

import numpy as np

from ssltheory.equivalence import as_classes
from ssltheory.errors import InputError
from ssltheory.validation import as_count, as_labels

#: enumeration refuses to build more rows than this (use sample_tasks beyond it)
MAX_ENUMERATED = 2_000_000


def as_task(task, n_classes: int, name: str = "task") -> np.ndarray:
    """Check a task: non-negative integer labels, one per class, shape (K,) -> int64."""
    return as_labels(task, n_classes, name=name, other="the equivalence", unit="classes")


def is_invariant(y, classes) -> bool:
    """True when the point labels y (n,) are constant on every class of ~ [paper, Def. 1].

    Args:
        y: non-negative integer labels, one per input, shape (n,).
        classes: EquivalenceClasses or one class id per input, shape (n,).
    """
    classes = as_classes(classes)
    y = as_labels(y, classes.n_points, name="y", other="classes", unit="points")
    return np.unique(classes.labels * (int(y.max()) + 1) + y).size == classes.n_classes


def task_from_point_labels(y, classes) -> np.ndarray:
    """The task g with y = g(M(x)), shape (K,) [paper, Def. 1].

    Args:
        y: non-negative integer labels, one per input, shape (n,).
        classes: EquivalenceClasses or one class id per input, shape (n,).

    Returns:
        int64 (K,), indexed like ``lift``'s task (raw ids: by rank among the distinct ids).

    Raises:
        ValueError: y is not invariant; the message names two equivalent points with different
            labels.
    """
    classes = as_classes(classes)
    y = as_labels(y, classes.n_points, name="y", other="classes", unit="points")
    first = np.unique(classes.labels, return_index=True)[1]
    task = y[first]
    wrong = np.flatnonzero(task[classes.labels] != y)
    if wrong.size:
        i = int(wrong[0])
        m = int(classes.labels[i])
        j = int(first[m])
        raise InputError(
            f"y is not invariant: points {j} and {i} are equivalent (class {m}) but have labels {y[j]} and {y[i]}"
        )
    return task


def lift(task, classes) -> np.ndarray:
    """Labels of the inputs under a task: y_i = g(M(x_i)), shape (n,).

    Args:
        task: one label per class, shape (K,).
        classes: EquivalenceClasses or one class id per input, shape (n,); raw ids are ranked
            among the distinct ids (task[m] belongs to the m-th smallest id).
    """
    classes = as_classes(classes)
    return as_task(task, classes.n_classes)[classes.labels]


def enumerate_binary_tasks(n_classes: int) -> np.ndarray:
    """Every non-constant binary task on K classes, up to complement (THEORY.md T1.2(b)).

    A binary task and its complement are realized by the same probes (flip the sign), so each
    split of the classes appears once: class 0 always has label 0.

    Args:
        n_classes: K >= 1 (at most 21, i.e. 2**20 - 1 rows).

    Returns:
        int64 (2**(K-1) - 1, K) with entries in {0, 1}; row r gives class m >= 1 the bit m-1 of
        r + 1 (so rows are ordered by that binary number).
    """
    K = as_count(n_classes, "n_classes", minimum=1)
    if 2 ** (K - 1) - 1 > MAX_ENUMERATED:
        raise InputError(
            f"n_classes={K} gives {2 ** (K - 1) - 1} binary tasks, more than {MAX_ENUMERATED}; use sample_tasks"
        )
    masks = np.arange(1, 2 ** (K - 1), dtype=np.int64)
    tasks = np.zeros((masks.size, K), dtype=np.int64)
    for m in range(1, K):
        tasks[:, m] = (masks >> (m - 1)) & 1
    return tasks


def _stirling2(n: int, k: int) -> int:
    """Stirling number of the second kind S(n, k): partitions of n items into k non-empty blocks."""
    return sum((-1) ** (k - j) * math.comb(k, j) * j**n for j in range(k + 1)) // math.factorial(k)


def enumerate_tasks(n_classes: int, n_labels: int) -> np.ndarray:
    """Every task on K classes with at most k labels, up to renaming the labels (exact).

    A task up to relabeling is a set partition of the classes into at most k blocks; each is
    written once as a restricted growth string (class 0 has label 0 and each class uses at most
    one more than the largest label before it). There are sum_{j=1}^{min(k,K)} S(K, j) of them
    (Stirling numbers of the second kind); the constant task (one block) is included, so
    ``enumerate_tasks(K, 2)`` is the constant task followed by ``enumerate_binary_tasks(K)``'s
    splits, in lexicographic order.

    Args:
        n_classes: K >= 1.
        n_labels: k >= 1, the largest number of labels a task may use.

    Returns:
        int64 (n_tasks, K), rows in lexicographic order.
    """
    K = as_count(n_classes, "n_classes", minimum=1)
    k = as_count(n_labels, "n_labels", minimum=1)
    total = sum(_stirling2(K, j) for j in range(1, min(k, K) + 1))
    if total > MAX_ENUMERATED:
        raise InputError(f"{total} tasks for n_classes={K}, n_labels={k}: more than {MAX_ENUMERATED}; use sample_tasks")
    rows = np.zeros((1, 1), dtype=np.int64)
    largest = np.zeros(1, dtype=np.int64)
    for _ in range(1, K):
        grown, grown_largest = [], []
        for v in range(k):
            keep = largest + 1 >= v
            grown.append(np.column_stack([rows[keep], np.full(int(keep.sum()), v, dtype=np.int64)]))
            grown_largest.append(np.maximum(largest[keep], v))
        rows = np.concatenate(grown)
        largest = np.concatenate(grown_largest)
    order = np.lexsort(rows.T[::-1])
    return rows[order]


def sample_tasks(n_classes: int, n_tasks: int, n_labels: int = 2, random_state=None) -> np.ndarray:
    """Random non-constant tasks: labels i.i.d. uniform on {0..k-1}, constant rows redrawn.

    Args:
        n_classes: K >= 2.
        n_tasks: number of tasks to draw (>= 0).
        n_labels: k >= 2.
        random_state: None, an int seed or a numpy Generator (``np.random.default_rng`` rules).

    Returns:
        int64 (n_tasks, K), each row a non-constant task, uniform over non-constant labelings.
    """
    K = as_count(n_classes, "n_classes", minimum=2)
    n_tasks = as_count(n_tasks, "n_tasks", minimum=0)
    k = as_count(n_labels, "n_labels", minimum=2)
    rng = np.random.default_rng(random_state)
    tasks = rng.integers(0, k, size=(n_tasks, K))
    constant = (tasks == tasks[:, :1]).all(axis=1)
    while constant.any():
        tasks[constant] = rng.integers(0, k, size=(int(constant.sum()), K))
        constant = (tasks == tasks[:, :1]).all(axis=1)
    return tasks.astype(np.int64)


__all__ = [
    "as_task",
    "is_invariant",
    "task_from_point_labels",
    "lift",
    "enumerate_binary_tasks",
    "enumerate_tasks",
    "sample_tasks",
]
