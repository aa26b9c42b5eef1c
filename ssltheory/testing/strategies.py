"""Hypothesis strategies for the objects of the theory, built so that failures shrink to small ones.

Public API (``from ssltheory.testing import strategies``; needs ``pip install 'ssltheory[testing]'``).
Every strategy draws its numbers through hypothesis (``hypothesis.extra.numpy.arrays``, integers,
permutations), never a seed: a failing example shrinks towards few classes, few points, small
integer codes and no transform, e.g. three collinear codes in the plane.

- Equivalence classes (THEORY.md section 0): :func:`class_labels`, :func:`augmentation_pairs`,
  :func:`sampled_views`, and :func:`equivalence_classes` (built from any of the three).
- Invariant tasks: :func:`invariant_tasks` (one label per class, binary or k-way).
- Points: :func:`float_matrices` (bounded finite floats), :func:`orthogonal_matrices`,
  :func:`general_position_points`
  (integer points on the moment curve under an invertible integer affine map: every d + 1 of
  them affinely independent, exactly, as T5 asks).
- Class codes **with their answer attached** (:class:`CodesWithAnswer`): :func:`ideal_codes`
  (affinely independent, T1.2), :func:`dependent_codes` (a planted exact dependence),
  :func:`shared_codes`, :func:`non_invariant_codes`, :func:`deficient_codes` (d < K - 1) and
  :func:`class_codes` (any of them). The codes are integer lattices moved by exact transforms (a
  common integer offset up to 1e12 x the spread, a power-of-two scale from 2^-1000 to 2^960 in
  float64, 2^-120 to 2^100 in float32), so the floats hold the lattice exactly and the exact
  verdict is the lattice's. ``near_degenerate=True`` puts ideal codes within 2^-p of a dependence.
- :func:`fraction_of_profile`: ``@settings`` for an expensive property that runs a fixed share of
  the active profile's ``max_examples`` (so that a ``thorough`` profile still scales it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ssltheory.errors import InputError

try:
    from hypothesis import settings, strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "ssltheory.testing.strategies needs hypothesis, the 'testing' extra: pip install 'ssltheory[testing]'"
    ) from error

from ssltheory.equivalence import EquivalenceClasses
from ssltheory.geometry import default_rtol

#: the kinds of :func:`class_codes`, in the order of the module docstring
KINDS = ("ideal", "dependent", "shared", "non-invariant", "deficient")
DTYPES = (np.float64, np.float32)
#: half the integers a float holds exactly: sums and differences of two lattice entries stay exact
_EXACT_INTEGERS = {np.float64: 2**52, np.float32: 2**23}
#: power-of-two scales (exponents) the transforms draw from, per dtype, all keeping every lattice
#: entry a normal float
_SCALE_EXPONENTS = {np.float64: (-1000, 960), np.float32: (-120, 100)}
#: the largest offset, as a power of ten of the lattice spread, per dtype
_OFFSET_EXPONENTS = {np.float64: 12, np.float32: 4}
#: how far inside the tolerance rule an answer must be to count as determined at the tolerance
_DETERMINED = 1e3


def fraction_of_profile(share: float, **kwargs) -> settings:
    """``settings`` with ``max_examples`` a share of the loaded profile's (at least 1; a share above 1
    for a cheap property that deserves more).

    For an expensive property: ``@fraction_of_profile(0.25)`` runs a quarter of what the
    profile asks for, so ``--hypothesis-profile=thorough`` (or ``SSLTHEORY_PROFILE``) still
    scales it, where ``@settings(max_examples=15)`` would pin it. Other keyword arguments go to
    ``settings``. Evaluated when the test module is imported, after the profile is loaded.
    """
    if not 0 < share < 100:
        raise InputError(f"share must be a positive multiple of the profile's max_examples below 100, got {share}")
    return settings(max_examples=max(1, round(settings.default.max_examples * share)), **kwargs)


# ------------------------------------------------------------------------ equivalence classes
@st.composite
def class_labels(draw, max_points: int = 12, max_classes: int = 4, min_classes: int = 1) -> np.ndarray:
    """int64 (n,) class ids 0..K-1 with every id present, in any order (shrinks to 0, 1, 2, ...)."""
    K = draw(st.integers(min_classes, max_classes))
    n = draw(st.integers(K, max(K, max_points)))
    extra = draw(hnp.arrays(np.int64, n - K, elements=st.integers(0, K - 1)))
    order = draw(st.permutations(range(n)))
    return np.concatenate([np.arange(K), extra])[list(order)]


@st.composite
def augmentation_pairs(draw, max_points: int = 12, max_pairs: int = 15) -> tuple[int, list[tuple[int, int]]]:
    """(n, pairs): an augmentation graph on n inputs, pairs (i, j) meaning "x_i augments to x_j"."""
    n = draw(st.integers(1, max_points))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=max_pairs))
    return n, pairs


@st.composite
def sampled_views(
    draw, max_points: int = 10, max_views: int = 3, n_distinct_views: int = 12, min_views: int = 1
) -> list[list[int]]:
    """views[i]: the sampled views of input i, as ints from a small pool (equal ints: equal views);
    ``min_views=0`` lets an input have none."""
    n = draw(st.integers(1, max_points))
    views = st.lists(st.integers(0, n_distinct_views - 1), min_size=min_views, max_size=max_views)
    return draw(st.lists(views, min_size=n, max_size=n))


def equivalence_classes(source: str = "labels", **kwargs):
    """EquivalenceClasses built by the library from labels, augmentation pairs or sampled views.

    Args:
        source: "labels" (:meth:`EquivalenceClasses.from_labels` of :func:`class_labels`),
            "pairs" (``from_pairs`` of :func:`augmentation_pairs`) or "views" (``from_views``
            of :func:`sampled_views`).
        kwargs: sizes for the underlying strategy.
    """
    if source == "labels":
        return class_labels(**kwargs).map(EquivalenceClasses.from_labels)
    if source == "pairs":
        return augmentation_pairs(**kwargs).map(lambda graph: EquivalenceClasses.from_pairs(*graph))
    if source == "views":
        return sampled_views(**kwargs).map(EquivalenceClasses.from_views)
    raise InputError(f"source must be 'labels', 'pairs' or 'views', got {source!r}")


def invariant_tasks(n_classes: int, n_labels: int | None = 2, nonconstant: bool = True):
    """int64 (K,) one label per class in 0..k-1: an invariant task g (THEORY.md section 0).

    ``n_labels=None`` draws k in 2..K (k-way tasks). ``nonconstant`` asks for at least two
    different labels (needs K >= 2). A task shrinks towards [0, ..., 0, 1].
    """
    if n_classes < 1 or (nonconstant and n_classes < 2):
        raise InputError(f"n_classes must be >= {2 if nonconstant else 1} here, got {n_classes}")

    @st.composite
    def draw_task(draw):
        k = n_labels if n_labels is not None else draw(st.integers(2, max(2, n_classes)))
        task = draw(hnp.arrays(np.int64, n_classes, elements=st.integers(0, k - 1)))
        if nonconstant and (task == task[0]).all():
            task[-1] = (task[0] + 1) % k
        return task

    return draw_task()


# ------------------------------------------------------------------------ points
def float_matrices(n_rows, n_cols, bound: float = 10.0, dtype=np.float64):
    """(n_rows, n_cols) arrays of finite floats in [-bound, bound] (no subnormals); sizes may be
    ints or strategies. Shrinks to zeros, so a property on them must hold for degenerate input."""
    rows = n_rows if isinstance(n_rows, st.SearchStrategy) else st.just(n_rows)
    cols = n_cols if isinstance(n_cols, st.SearchStrategy) else st.just(n_cols)
    width = 32 if np.dtype(dtype) == np.float32 else 64
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)
    return st.tuples(rows, cols).flatmap(lambda shape: hnp.arrays(dtype, shape, elements=elements))


@st.composite
def orthogonal_matrices(draw, n: int, max_reflections: int = 3) -> np.ndarray:
    """(n, n) float64 orthogonal matrices (to rounding): a product of up to ``max_reflections``
    Householder reflections of drawn vectors (each a constant background with a few drawn
    entries, so n may be in the hundreds). Shrinks to the identity."""
    Q = np.eye(n)
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    for _ in range(draw(st.integers(0, max_reflections))):
        v = draw(hnp.arrays(np.float64, n, elements=unit, fill=unit))
        norm = float(v @ v)
        if norm > 1e-12:
            Q = Q - np.outer(Q @ v, v) * (2.0 / norm)
    return Q


@st.composite
def _invertible_integer_matrix(draw, d: int, bound: int = 3) -> np.ndarray:
    """A (d, d) integer matrix with nonzero determinant: a permuted triangular one, nonzero diagonal."""
    diagonal = draw(hnp.arrays(np.int64, d, elements=st.sampled_from([1, -1, 2, -2, 3])))
    upper = draw(hnp.arrays(np.int64, (d, d), elements=st.integers(-bound, bound)))
    T = np.triu(upper, 1) + np.diag(diagonal)
    return T[list(draw(st.permutations(range(d))))]


@st.composite
def general_position_points(draw, n_points, dim) -> np.ndarray:
    """float64 (N, d) integer points in general position (every min(N, d + 1) of them affinely
    independent, exactly): distinct t on the moment curve (t, t^2, ..., t^d) under an invertible
    integer affine map. ``n_points``, ``dim``: ints or strategies."""
    N = draw(n_points) if isinstance(n_points, st.SearchStrategy) else n_points
    d = draw(dim) if isinstance(dim, st.SearchStrategy) else dim
    t = np.array(draw(st.lists(st.integers(-12, 12), min_size=N, max_size=N, unique=True)), dtype=np.int64)
    curve = t[:, None] ** np.arange(1, d + 1)[None, :]
    A = draw(_invertible_integer_matrix(d))
    shift = draw(hnp.arrays(np.int64, d, elements=st.integers(-5, 5)))
    return (curve @ A.T + shift).astype(np.float64)


# ------------------------------------------------------------------------ class codes with their answer
@dataclass(frozen=True)
class CodesWithAnswer:
    """Points with class ids and the verdict they must get (THEORY.md T1.2 and T2).

    Attributes:
        Z: (n, d) points in ``dtype``, exactly ``lattice[classes] * 2**scale_exponent`` (one point
            of a non-invariant world moved, see ``certificate``).
        classes: int64 (n,) class ids 0..K-1, every class present.
        codes: float64 (K, d), the first point of each class, exactly as in Z.
        lattice: int64 (K, d), the integer codes before the power-of-two scale (offset included).
        kind: one of :data:`KINDS`.
        ideal: probe ("linear", "universal") -> the exact verdict (a proof, by construction).
        ideal_at_tolerance: probe -> the verdict of the project's tolerance rule (geometry.
            default_rtol), or None where the transforms make it depend on the tolerance.
        certificate: what makes it not ideal, where there is one: "dependent": {"lambda": {class:
            Fraction}} with sum lambda_m c_m = 0 = sum lambda_m; "shared": {"classes": (m, m2)} with
            equal codes; "non-invariant": {"pair": (i, j)}, two points of one class that differ.
        transform: {"dtype", "offset_exponent", "scale_exponent", "near_degenerate"} as drawn.
    """

    Z: np.ndarray
    classes: np.ndarray
    codes: np.ndarray
    lattice: np.ndarray
    kind: str
    ideal: dict
    ideal_at_tolerance: dict
    certificate: dict | None = None
    transform: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return int(self.lattice.shape[0])


def _distinct_rows(L: np.ndarray) -> bool:
    return np.unique(L, axis=0).shape[0] == L.shape[0]


def _singular_values(L: np.ndarray) -> np.ndarray:
    centred = L.astype(np.float64) - L.astype(np.float64).mean(axis=0)
    return np.linalg.svd(centred, compute_uv=False)


def _answer_at_tolerance(L: np.ndarray, exact: dict, dtype, deviation: float = 0.0) -> dict:
    """The verdict at the default tolerance where the lattice decides it with a margin, else None.

    Exactly not ideal stays not ideal at any tolerance (equal codes stay equal, a dependence stays
    one, a deviation of a quarter spread stays far above the threshold). Exactly ideal codes are
    ideal at the tolerance when the relevant gap (the (K-1)-th affine singular value, or the
    smallest distance between codes) is above 1e3 x rtol x s_max.
    """
    K, d = L.shape
    s = _singular_values(L)
    atol = default_rtol(K, d, dtype) * (s[0] if s.size else 0.0)
    gaps = {
        "linear": s[K - 2] if K - 2 < s.size else 0.0,
        "universal": min(
            (np.linalg.norm((L[i] - L[j]).astype(np.float64)) for i in range(K) for j in range(i)), default=np.inf
        ),
    }
    answer = {}
    for probe, truth in exact.items():
        if not truth:
            answer[probe] = False if deviation == 0.0 or deviation > _DETERMINED * atol else None
        else:
            answer[probe] = True if gaps[probe] > _DETERMINED * atol else None
    return answer


def _sizes_and_order(draw, K: int, max_points_per_class: int, at_least_two: int | None = None):
    sizes = draw(hnp.arrays(np.int64, K, elements=st.integers(1, max_points_per_class)))
    if at_least_two is not None:
        sizes[at_least_two] = max(2, sizes[at_least_two])
    classes = np.repeat(np.arange(K), sizes)
    order = list(draw(st.permutations(range(classes.size))))
    return classes[order]


def _finish(
    draw,
    L: np.ndarray,
    kind: str,
    exact: dict,
    certificate,
    *,
    dtypes,
    offsets: bool,
    scales: bool,
    max_points_per_class: int,
    near_degenerate: bool = False,
    move_one: bool = False,
) -> CodesWithAnswer:
    """Move the lattice by an integer offset, draw the points, scale by a power of two, cast."""
    dtype = draw(st.sampled_from(list(dtypes)))
    K, d = L.shape
    spread = max(1, int(np.abs(L - L[0]).max()))
    offset_exponent = draw(st.integers(0, _OFFSET_EXPONENTS[dtype])) if offsets else 0
    offset = np.zeros(d, dtype=np.int64)
    if offset_exponent:
        direction = draw(hnp.arrays(np.int64, d, elements=st.integers(-9, 9)))
        magnitude = min(spread * 10**offset_exponent // 9 + 1, _EXACT_INTEGERS[dtype])
        offset = direction * magnitude
        while np.abs(L + offset).max() >= _EXACT_INTEGERS[dtype]:
            offset = (offset / 2).astype(np.int64)  # towards zero; the lattice alone is far below the limit
    lattice = L + offset
    classes = _sizes_and_order(draw, K, max_points_per_class, at_least_two=0 if move_one else None)
    points = lattice[classes].copy()
    deviation = 0.0
    if move_one:  # the last point of class 0 moves off its code by a quarter of the spread (at least 1)
        i = int(np.flatnonzero(classes == 0)[-1])
        first = int(np.flatnonzero(classes == 0)[0])
        step = max(1, spread // 4)
        points[i, 0] += step if abs(points[i, 0] + step) < _EXACT_INTEGERS[dtype] else -step
        certificate, deviation = {"pair": (first, i)}, float(step)
    low, high = _SCALE_EXPONENTS[dtype]
    scale_exponent = draw(st.integers(low, high)) if scales else 0
    Z = np.ldexp(points.astype(np.float64), scale_exponent).astype(dtype)
    first_points = np.unique(classes, return_index=True)[1]
    return CodesWithAnswer(
        Z=Z,
        classes=classes,
        codes=Z[first_points].astype(np.float64),
        lattice=lattice,
        kind=kind,
        ideal=exact,
        ideal_at_tolerance=_answer_at_tolerance(L, exact, dtype, deviation),
        certificate=certificate,
        transform={
            "dtype": np.dtype(dtype).name,
            "offset_exponent": offset_exponent,
            "scale_exponent": scale_exponent,
            "near_degenerate": near_degenerate,
        },
    )


def _integer_codes(draw, K: int, d: int, bound: int) -> np.ndarray:
    return draw(hnp.arrays(np.int64, (K, d), elements=st.integers(-bound, bound)))


@st.composite
def ideal_codes(
    draw,
    max_classes: int = 6,
    max_dim: int = 6,
    *,
    dtypes=DTYPES,
    offsets: bool = True,
    scales: bool = True,
    near_degenerate: bool = False,
    max_points_per_class: int = 3,
    bound: int = 20,
) -> CodesWithAnswer:
    """Invariant points whose K class codes are affinely independent: ideal for both probe families.

    The differences c_m - c_0 are the rows of a permuted triangular integer matrix with nonzero
    diagonal (rank K - 1, exactly), padded with free columns to d >= K - 1. Shrinks to the
    standard simplex 0, e_1, ..., e_{K-1}. ``near_degenerate``: one difference becomes
    2^p x the previous one plus a unit vector (still independent exactly, condition ~ 2^-p).
    """
    K = draw(st.integers(2, max(2, min(max_classes, max_dim + 1))))
    d = draw(st.integers(K - 1, max(K - 1, max_dim)))
    diagonal = draw(hnp.arrays(np.int64, K - 1, elements=st.sampled_from([1, -1, 2, -2, 3, -3])))
    T = np.triu(_integer_codes(draw, K - 1, K - 1, bound), 1) + np.diag(diagonal)
    p = 0
    if near_degenerate and K >= 3:
        r = draw(st.integers(1, K - 2))
        p = draw(st.integers(8, 16))  # entries stay below 2^21, exact in float32
        T[r] = 2**p * T[r - 1]
        T[r, r] += 1  # the pivot of row r: row r - 2^p row (r-1) = e_r, so rank stays K - 1
    D = np.hstack([T, _integer_codes(draw, K - 1, d - (K - 1), bound)])[:, list(draw(st.permutations(range(d))))]
    base = _integer_codes(draw, 1, d, bound)
    L = np.vstack([base, base + D])[list(draw(st.permutations(range(K))))]
    return _finish(
        draw,
        L,
        "ideal",
        {"linear": True, "universal": True},
        None,
        dtypes=dtypes,
        offsets=offsets,
        scales=scales,
        max_points_per_class=max_points_per_class,
        near_degenerate=bool(p),
    )


@st.composite
def dependent_codes(
    draw,
    max_classes: int = 6,
    max_dim: int = 6,
    *,
    dtypes=DTYPES,
    offsets: bool = True,
    scales: bool = True,
    max_points_per_class: int = 3,
    bound: int = 20,
) -> CodesWithAnswer:
    """Invariant points with a planted exact affine dependence: not ideal for linear probes.

    One code c = c_a + sum_i t_i (c_{b_i} - c_a) with nonzero integer t_i (support of 3 or more
    classes); the certificate's lambda (c: 1, a: sum t_i - 1, b_i: -t_i) satisfies sum lambda_m
    c_m = 0 and sum lambda_m = 0 exactly. Universal probes: ideal iff the codes are distinct.
    Shrinks to three collinear codes like (0, 0), (0, 0)... then (0,0), (1,0), (2,0).
    """
    K = draw(st.integers(3, max(3, max_classes)))
    d = draw(st.integers(1, max(1, max_dim)))
    L = _integer_codes(draw, K, d, bound)
    roles = list(draw(st.permutations(range(K))))
    n_base = draw(st.integers(1, max(1, min(K - 2, d + 1))))
    c, a, bs = roles[0], roles[1], roles[2 : 2 + n_base]
    t = draw(hnp.arrays(np.int64, n_base, elements=st.sampled_from([2, -1, 3, -2, 1])))
    L[c] = L[a] + sum(ti * (L[b] - L[a]) for ti, b in zip(t, bs))
    lam = {c: Fraction(1), a: Fraction(int(t.sum()) - 1)}
    for ti, b in zip(t, bs):
        lam[b] = Fraction(-int(ti))
    lam = {int(m): v for m, v in lam.items() if v != 0}
    exact = {"linear": False, "universal": _distinct_rows(L)}
    return _finish(
        draw,
        L,
        "dependent",
        exact,
        {"lambda": lam},
        dtypes=dtypes,
        offsets=offsets,
        scales=scales,
        max_points_per_class=max_points_per_class,
    )


@st.composite
def shared_codes(
    draw,
    max_classes: int = 6,
    max_dim: int = 6,
    *,
    dtypes=DTYPES,
    offsets: bool = True,
    scales: bool = True,
    max_points_per_class: int = 3,
    bound: int = 20,
) -> CodesWithAnswer:
    """Invariant points where two classes share a code: ideal for neither family (T2)."""
    K = draw(st.integers(2, max(2, max_classes)))
    d = draw(st.integers(1, max(1, max_dim)))
    L = _integer_codes(draw, K, d, bound)
    m, m2 = sorted(draw(st.permutations(range(K)))[:2])
    L[m2] = L[m]
    return _finish(
        draw,
        L,
        "shared",
        {"linear": False, "universal": False},
        {"classes": (m, m2)},
        dtypes=dtypes,
        offsets=offsets,
        scales=scales,
        max_points_per_class=max_points_per_class,
    )


@st.composite
def non_invariant_codes(
    draw,
    max_classes: int = 6,
    max_dim: int = 6,
    *,
    dtypes=DTYPES,
    offsets: bool = True,
    scales: bool = True,
    max_points_per_class: int = 3,
    bound: int = 20,
) -> CodesWithAnswer:
    """Points where one class holds two codes a quarter spread apart: ideal for neither family (the
    paper requires invariance, T3). ``codes`` holds each class's first point."""
    K = draw(st.integers(2, max(2, max_classes)))
    d = draw(st.integers(1, max(1, max_dim)))
    L = _integer_codes(draw, K, d, bound)
    return _finish(
        draw,
        L,
        "non-invariant",
        {"linear": False, "universal": False},
        None,
        dtypes=dtypes,
        offsets=offsets,
        scales=scales,
        max_points_per_class=max(2, max_points_per_class),
        move_one=True,
    )


@st.composite
def deficient_codes(
    draw,
    max_classes: int = 7,
    max_dim: int = 4,
    *,
    dtypes=DTYPES,
    offsets: bool = True,
    scales: bool = True,
    max_points_per_class: int = 3,
    bound: int = 20,
) -> CodesWithAnswer:
    """Invariant points with d < K - 1: never ideal for linear probes (T1.2); universal iff distinct."""
    K = draw(st.integers(3, max(3, max_classes)))
    d = draw(st.integers(1, max(1, min(max_dim, K - 2))))
    L = _integer_codes(draw, K, d, bound)
    return _finish(
        draw,
        L,
        "deficient",
        {"linear": False, "universal": _distinct_rows(L)},
        None,
        dtypes=dtypes,
        offsets=offsets,
        scales=scales,
        max_points_per_class=max_points_per_class,
    )


_BY_KIND = {
    "ideal": ideal_codes,
    "dependent": dependent_codes,
    "shared": shared_codes,
    "non-invariant": non_invariant_codes,
    "deficient": deficient_codes,
}


def class_codes(kinds=KINDS, **options):
    """Any of the kinds of class codes with their answer (:class:`CodesWithAnswer`); ``options`` go to
    each kind's strategy (``dtypes``, ``offsets``, ``scales``, ``max_points_per_class``, ...)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise InputError(f"kinds must be among {', '.join(KINDS)}; got {', '.join(sorted(unknown))}")
    return st.one_of([_BY_KIND[kind](**options) for kind in kinds])
