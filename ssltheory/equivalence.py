"""The equivalence ~ induced by augmentations and its maximal invariant M (THEORY.md section 0).

[paper] The classes of ~ are the connected components of the undirected augmentation graph
("x can be augmented into a"); M maps an input to the index of its class and K = |X/~|.
With sampled augmentations two inputs are joined when some of their sampled views coincide,
exactly (same dtype, shape and bytes) or under a user key.

Classes are numbered 0..K-1 by first appearance, so two ways of building the same partition give
identical ``labels``.

Example::

    >>> classes = EquivalenceClasses.from_pairs(5, [(0, 2), (3, 4)])
    >>> classes.labels.tolist(), classes.n_classes
    ([0, 1, 0, 2, 2], 3)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from functools import cached_property

import numpy as np

from ssltheory.errors import InputError
from ssltheory.validation import as_count, as_features, as_labels

#: rows per block when features are streamed through float64 (keeps float32 input uncopied)
BLOCK_ROWS = 2048


def _first_appearance(labels: np.ndarray) -> np.ndarray:
    """Renumber arbitrary int labels (n,) to 0..K-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.reshape(-1)]


def _view_key(view) -> Hashable:
    """Default key of a sampled view: dtype, shape and raw bytes (exact coincidence)."""
    arr = np.ascontiguousarray(view)
    return (arr.dtype.str, arr.shape, arr.tobytes())


class EquivalenceClasses:
    """A partition of n inputs into K classes, the classes of ~ (THEORY.md section 0) [paper].

    Build it with :meth:`from_labels`, :meth:`from_pairs` or :meth:`from_views` (classes numbered
    by first appearance); the constructor itself trusts its argument, any int64 numbering
    0..K-1 with every class present.

    Attributes:
        labels: int64 (n_points,), the maximal invariant M: class index of each input, numbered
            0..K-1 by first appearance.
        n_classes: K.
        n_points: n.
        sizes: int64 (K,), number of inputs in each class.
        members: list of K int64 index arrays, the inputs of each class in increasing order.
    """

    def __init__(self, labels: np.ndarray):
        self.labels = labels
        self.labels.setflags(write=False)
        self.n_points = int(labels.shape[0])
        self.n_classes = int(labels.max()) + 1

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_labels(cls, labels) -> "EquivalenceClasses":
        """Classes given directly by one non-negative integer label per input (n,)."""
        return cls(_first_appearance(as_labels(labels, name="labels")))

    @classmethod
    def from_pairs(cls, n: int, pairs) -> "EquivalenceClasses":
        """Classes of the smallest equivalence containing the given augmentation pairs [paper].

        Args:
            n: number of inputs (>= 1).
            pairs: array-like (m, 2) of input indices in [0, n): "x_i can be augmented into x_j".
                Direction is ignored; m may be 0 (every input is its own class).

        Returns:
            the connected components of the undirected augmentation graph
            (``scipy.sparse.csgraph.connected_components``).
        """
        n = as_count(n, "n", minimum=1)
        arr = np.asarray(pairs)
        if arr.size == 0:
            arr = np.zeros((0, 2), dtype=np.int64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise InputError(f"pairs must have shape (m, 2), got {arr.shape}")
        flat = as_labels(arr.reshape(-1), name="pairs") if arr.size else np.zeros(0, dtype=np.int64)
        if flat.size and flat.max() >= n:
            i = int(np.argmax(flat >= n))
            raise InputError(f"pairs refers to input {flat[i]} (pair {i // 2}) but n is {n}")
        return cls(_first_appearance(components(flat.reshape(-1, 2), n)[1]))

    @classmethod
    def from_views(cls, views: Iterable, key: Callable | None = None) -> "EquivalenceClasses":
        """Classes from sampled augmentations: inputs are joined when some sampled views coincide.

        [paper, section 0 of THEORY.md] With finitely many sampled views per input, ~ is
        approximated by the components of the graph linking i and j whenever a view of x_i and
        a view of x_j have the same key.

        Args:
            views: a sequence of length n; ``views[i]`` is an iterable of the sampled views of
                input i (an array with a leading views axis works). Include x_i itself among its
                views if it should count.
            key: callable view -> hashable. Default: exact coincidence, i.e. the same dtype, shape
                and bytes (note that 0.0 and -0.0 differ in bytes).

        Returns:
            EquivalenceClasses over the n inputs.
        """
        if key is not None and not callable(key):
            raise InputError(f"key must be callable or None, got {type(key).__name__}")
        key = _view_key if key is None else key
        views = list(views)
        if not views:
            raise InputError("views is empty: it needs one sequence of sampled views per input")
        owner: dict = {}
        pairs = []
        for i, sampled in enumerate(views):
            try:
                sampled = list(sampled)
            except TypeError:
                raise InputError(
                    f"views[{i}] must be an iterable of sampled views, got {type(sampled).__name__}"
                ) from None
            for view in sampled:
                k = key(view)
                j = owner.setdefault(k, i)
                if j != i:
                    pairs.append((j, i))
        return cls.from_pairs(len(views), np.asarray(pairs, dtype=np.int64).reshape(-1, 2))

    # ---------------------------------------------------------------- structure
    @cached_property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_classes).astype(np.int64)

    @cached_property
    def members(self) -> list[np.ndarray]:
        order = np.argsort(self.labels, kind="stable")
        return np.split(order, np.cumsum(self.sizes)[:-1])

    def refines(self, other: "EquivalenceClasses") -> bool:
        """True when every class of ``self`` lies inside a class of ``other`` (THEORY.md T4)."""
        if not isinstance(other, EquivalenceClasses):
            raise InputError(f"other must be an EquivalenceClasses, got {type(other).__name__}")
        if other.n_points != self.n_points:
            raise InputError(f"other has {other.n_points} points but these classes have {self.n_points}")
        joint = np.unique(self.labels * other.n_classes + other.labels)
        return joint.size == self.n_classes

    @cached_property
    def first(self) -> np.ndarray:
        """int64 (K,): the first input of each class (its representative)."""
        return np.unique(self.labels, return_index=True)[1].astype(np.int64)

    def class_codes(self, Z) -> np.ndarray:
        """Per-class mean of the codes: c_m = mean of z_i over x_i in class m.

        For an invariant encoder this is the class code c_m of THEORY.md section 0, exactly: the
        mean is taken as z_first + mean(z_i - z_first), so identical rows give back that row
        bit for bit; for a non-invariant encoder it is the class mean (a point of the convex
        hull of the class's codes).

        Args:
            Z: array-like (n_points, d), one code per input.

        Returns:
            float64 (K, d). Sums accumulate in float64, streamed in row blocks.
        """
        Z = as_features(Z, "Z", dtype=None)
        if Z.shape[0] != self.n_points:
            raise InputError(f"Z has {Z.shape[0]} rows but the classes cover {self.n_points} points")
        return np.asarray(Z[self.first], dtype=np.float64) + self.mean_offsets(Z)

    def mean_offsets(self, Z: np.ndarray, unit: float = 1.0) -> np.ndarray:
        """mean over class m of (z_i - z_first(m)) / unit, (K, d) float64, for a validated Z (n, d).

        Each difference is taken against a member of the same class, so it is rounded relative to
        the spread within the class, never to an offset all codes share; identical rows give
        exactly 0. ``unit`` (a power of two, e.g. ``geometry.power_of_two(max |Z|)``) divides
        the rows before they are subtracted, so that features near float64's range do not
        overflow (`scaled_rows`). Sums accumulate in float64, in the batches of
        `member_batches` (each class's first row, a zero difference, is skipped).
        """
        n, d = Z.shape
        sums = np.zeros((self.n_classes, d))
        reference = scaled_rows(Z, self.first, unit)
        buffer = np.empty((min(n, BLOCK_ROWS), d))
        for rows, labels, one_class in member_batches(self.labels, skip_first=True):
            block = scaled_rows(Z, rows, unit, out=buffer)
            block -= class_rows(reference, labels, one_class)
            add_by_class(sums, block, labels, one_class)
        return sums / self.sizes[:, None]

    # ---------------------------------------------------------------- dunder
    def __eq__(self, other) -> bool:
        return isinstance(other, EquivalenceClasses) and np.array_equal(self.labels, other.labels)

    __hash__ = None

    def __repr__(self) -> str:
        return f"EquivalenceClasses(n_points={self.n_points}, n_classes={self.n_classes})"


def scaled_rows(Z: np.ndarray, rows, unit: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Z[rows] / unit in float64, (m, d), written into the first m rows of ``out`` when given.

    Args:
        Z: (n, d) float array; rows: a slice or int index array selecting m rows; unit: a power of
            two (dividing by it is exact in float64's normal range); out: optional float64 buffer
            of at least m rows and d columns, reused across blocks (a fresh large array costs its
            page faults on every block).

    The rows are widened (exactly) and divided in place: no temporary float64 copies, and no
    mixed-precision arithmetic (NumPy's casting loops are several times slower).
    """
    stored = Z[rows]
    m = stored.shape[0]
    block = np.empty((m, Z.shape[1])) if out is None else out[:m]
    np.copyto(block, stored)
    if unit != 1.0:
        np.divide(block, unit, out=block)
    return block


#: classes up to this size are batched by member (the j-th rows of many classes together, `member_batches`)
_GATHERED_CLASS_SIZE = 64


def member_batches(labels: np.ndarray, *, skip_first: bool = False, max_rows: int = BLOCK_ROWS):
    """Indices 0..c-1 grouped for class-wise accumulation without sparse matrices or sorting copies.

    Args:
        labels: (c,) int class of each row; skip_first: leave out the first row (lowest index) of
            every class; max_rows: most rows per batch.

    Yields:
        (rows (b,) int64, labels of those rows (b,), one_class) with 1 <= b <= max_rows; together
        the batches cover every index once (every index but each class's first with
        ``skip_first``). Classes of at most _GATHERED_CLASS_SIZE rows come as the j-th rows of
        every class that has one, j = 0, 1, ... (no class twice in a batch, one_class False);
        each larger class comes alone, in chunks of its rows (one_class True).
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    sizes = np.diff(np.append(starts, labels.size))
    skip = 1 if skip_first else 0
    small = np.flatnonzero(sizes <= _GATHERED_CLASS_SIZE)
    for j in range(skip, int(sizes[small].max()) if small.size else 0):
        have = small[sizes[small] > j]
        rows = order[starts[have] + j]
        for s in range(0, rows.size, max_rows):
            yield rows[s : s + max_rows], ordered[starts[have[s : s + max_rows]]], False
    for c in np.flatnonzero(sizes > _GATHERED_CLASS_SIZE):
        rows = order[starts[c] + skip : starts[c] + sizes[c]]
        for s in range(0, rows.size, max_rows):
            yield rows[s : s + max_rows], ordered[starts[c] : starts[c] + min(max_rows, rows.size - s)], True


def class_rows(per_class: np.ndarray, labels: np.ndarray, one_class: bool) -> np.ndarray:
    """per_class[labels] for one batch of `member_batches` (K, d) -> (b, d) or a broadcastable (d,).

    A batch's labels are increasing and distinct, or all one class; so a batch of K labels is
    0..K-1 and gets per_class itself, and a one-class batch its single row (views, no copies).
    """
    if one_class:
        return per_class[labels[0]]
    return per_class if labels.size == per_class.shape[0] else per_class[labels]


def add_by_class(sums: np.ndarray, block: np.ndarray, labels: np.ndarray, one_class: bool) -> None:
    """sums[labels[i]] += block[i] for one batch of `member_batches` (labels increasing and distinct, or one class)."""
    if one_class:
        sums[labels[0]] += block.sum(axis=0, dtype=np.float64)
    elif labels.size == sums.shape[0]:  # every class once, in increasing order: labels is 0..K-1
        sums += block
    else:
        sums[labels] += block


def class_sums(rows: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Sum of the rows of each class: S[m] = sum of rows[i] over labels[i] == m, (K, d) float64.

    Args:
        rows: (c, d) float array; labels: (c,) int in [0, n_classes); n_classes: K.

    NumPy only (no sparse matrices): the rows are added in the batches of `member_batches` (the
    j-th rows of the small classes together, each large class by a contiguous sum), accumulating
    in float64. Classes without rows get 0.
    """
    rows = np.asarray(rows)
    sums = np.zeros((n_classes, rows.shape[1]))
    for index, batch_labels, one_class in member_batches(labels):
        add_by_class(sums, rows[index], batch_labels, one_class)
    return sums


def components(pairs: np.ndarray, n: int) -> tuple[int, np.ndarray]:
    """Connected components of the graph on 0..n-1 with edges ``pairs`` (m, 2) int64.

    Returns (number of components, component id (n,) int64), by
    ``scipy.sparse.csgraph.connected_components`` (not even imported when there are no edges).
    """
    if len(pairs) == 0:
        return n, np.arange(n, dtype=np.int64)
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    graph = sp.coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    return int(count), labels.astype(np.int64)


def as_classes(classes, n: int | None = None, name: str = "classes", other: str = "features") -> EquivalenceClasses:
    """Accept an EquivalenceClasses or one class id per point (n,); check it covers n points.

    Raw ids are numbered by their rank among the distinct ids (``np.unique``), not by first
    appearance: class m is the m-th smallest id, so when the ids are 0..K-1 a task's entry m
    belongs to the class the user calls m.

    Raises:
        ValueError: wrong type, bad ids (see ``as_labels``) or a point count that differs from n.
    """
    if isinstance(classes, EquivalenceClasses):
        if n is not None and classes.n_points != n:
            raise InputError(f"{name} covers {classes.n_points} points but {other} has {n} rows")
        return classes
    ids = as_labels(classes, n, name=name, other=other)
    return EquivalenceClasses(np.unique(ids, return_inverse=True)[1].reshape(-1).astype(np.int64))
