"""Convex geometry of codes (THEORY.md T1, T5): affine rank, Radon splits, LP separability, probes.

Independent checks: exact rational rank and a hull-intersection LP from ssltheory/testing/oracles.py (the other
side of T1.1, not the margin LP of the library) and plain loops over points and labels.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory import is_ideal, linearly_separable
from ssltheory.geometry import (
    affine_rank,
    affine_singular_values,
    affine_spectrum,
    centre_codes,
    centred_singular_values,
    certified_independence,
    default_rtol,
    gram_is_accurate,
    probe_predict,
    pseudo_inverse_probe,
    radon_split,
    separating_probe,
)
from ssltheory.testing import strategies
from ssltheory.testing.oracles import exact_affine_rank, hulls_intersect, strict_margins


@st.composite
def integer_codes(draw, max_points=7, max_dim=4, low=-3, high=3):
    K = draw(st.integers(1, max_points))
    d = draw(st.integers(1, max_dim))
    flat = draw(st.lists(st.integers(low, high), min_size=K * d, max_size=K * d))
    return np.array(flat, dtype=float).reshape(K, d)


# ---------------------------------------------------------------- affine rank
def planted_codes(left, right, smallest, offset):
    """K codes in R^d whose centred matrix has singular values close to geomspace(1, 1e-3), the
    last = smallest: columns 1..r of the orthogonal ``left`` (K, K), centred, times those values,
    times the first r columns of the orthogonal ``right`` (d, d), plus the offset (d,)."""
    K, d = left.shape[0], right.shape[0]
    r = min(K - 1, d)
    s_true = np.geomspace(1.0, 1e-3, max(r, 1))[:r]
    if r >= 2:
        s_true[-1] = smallest
    U = left[:, 1 : r + 1] if r else np.zeros((K, 0))
    U = U - U.mean(axis=0)
    return offset + (U * s_true) @ right[:, :r].T


@st.composite
def rotations_and_offset(draw, K, d):
    """(left (K, K), right (d, d), direction (d,)): two orthogonal matrices and a unit-scale vector."""
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    direction = draw(hnp.arrays(np.float64, d, elements=unit, fill=unit))
    return draw(strategies.orthogonal_matrices(K)), draw(strategies.orthogonal_matrices(d)), direction


@given(st.integers(2, 300), st.integers(1, 300), st.sampled_from([0.0, 0.3, 0.9, 1.1, 3.0]), st.data())
def test_float32_singular_values_from_the_gram_matrix_keep_their_stated_error_bound(K, d, at, data):
    # float32 codes decided at the default tolerance take the float64 Gram route; its values must
    # lie within sqrt(K d eps64) s_max of a float64 SVD of the same centred codes, and so decide
    # the rank as that SVD does wherever the smallest kept value is beyond that bound
    left, right, direction = data.draw(rotations_and_offset(K, d))
    rtol = default_rtol(K, d, np.float32)
    # a singular value at a multiple of the threshold (0: exactly dependent)
    C = planted_codes(left, right, at * rtol, 1e3 * direction).astype(np.float32)
    M, _ = centre_codes(C)
    assert gram_is_accurate(K, d, rtol, np.float32)
    gram = centred_singular_values(M, np.float32, rtol)
    svd = np.linalg.svd(M, compute_uv=False)
    bound = np.sqrt(K * d * np.finfo(np.float64).eps) * svd[0]
    assert gram.shape == svd.shape and np.all(np.abs(gram - svd) <= bound)


@given(
    st.integers(2, 40),
    st.integers(0, 25),
    st.sampled_from([0.0, 0.5, 1.0, 3.0, 5.0, 30.0, 1e4]),
    st.sampled_from([None, 1e-9, 1e-5]),
    st.sampled_from([0.0, 1e6]),
    st.data(),
)
def test_certified_independence_never_overstates_the_smallest_singular_value(K, extra, at, tol, offset, data):
    # the QR proof of full affine rank, against a float64 SVD of the same centred codes: its lower
    # bound never exceeds the true (K-1)-th singular value, and it proves nothing within 4 x the
    # threshold (where an SVD could decide either way)
    d = K - 1 + extra
    left, right, direction = data.draw(rotations_and_offset(K, d))
    rtol = default_rtol(K, d) if tol is None else tol
    M, _ = centre_codes(planted_codes(left, right, at * rtol, offset * direction))
    svd = np.linalg.svd(M, compute_uv=False)
    proof = certified_independence(M, rtol)
    margin = 8 * max(K, d) * np.finfo(np.float64).eps * svd[0]  # the SVD's own error
    if svd[K - 2] <= 4 * rtol * svd[0] - margin:
        assert proof is None
    if proof is not None:
        s_max, s_low = proof
        assert s_low <= svd[K - 2] + margin and s_low > 4 * rtol * s_max
        assert abs(s_max - svd[0]) <= 1e-9 * svd[0]


def test_the_certified_route_decides_as_the_svd_does(monkeypatch):
    import ssltheory.geometry as geometry

    rng = np.random.default_rng(3)
    generic = rng.integers(-1000, 1000, size=(60, 70)) / 64 + 2.0**30  # dyadic: the mean below is exact
    dependent = generic.copy()
    dependent[5] = 0.5 * dependent[1] + 0.5 * dependent[2]
    left, right = (np.linalg.qr(rng.standard_normal((n, n)))[0] for n in (60, 70))
    near = planted_codes(left, right, 2 * default_rtol(60, 70), 1e3 * rng.standard_normal(70))
    cases = {"generic": generic, "dependent": dependent, "near": near, "d < K - 1": rng.standard_normal((60, 40))}
    answers = {}
    for route, entries in (("svd", 1 << 62), ("certified", 1)):
        monkeypatch.setattr(geometry, "CERTIFY_MIN_ENTRIES", entries)
        for name, C in cases.items():
            verdict = is_ideal(C, np.arange(len(C)))
            M, _ = centre_codes(C)
            answers[route, name] = (
                verdict.ok,
                verdict.conditions["affine_independence"].value,
                affine_rank(C),
                affine_spectrum(M, C.dtype, default_rtol(*C.shape)).how,
            )
    for name in cases:
        assert answers["svd", name][:3] == answers["certified", name][:3], name
        assert answers["svd", name][3] == "svd"
    assert answers["certified", "generic"][3] == "certified" and answers["certified", "generic"][0]
    assert answers["certified", "dependent"][3] == answers["certified", "near"][3] == "svd"


def test_float64_codes_and_tiny_tolerances_keep_the_svd():
    assert not gram_is_accurate(100, 100, default_rtol(100, 100, np.float64), np.float64)
    assert not gram_is_accurate(100, 100, 1e-9, np.float32)  # below 4 sqrt(K d eps64): the Gram floor
    assert gram_is_accurate(100, 100, default_rtol(100, 100, np.float32), np.float32)


def test_affine_rank_fixed_example():
    assert affine_rank([[0, 0], [1, 0], [2, 0]]) == 1
    assert affine_rank([[0, 0], [1, 0], [0, 1]]) == 2
    assert affine_rank([[3.0, 3.0]]) == 0


@given(integer_codes())
def test_affine_rank_agrees_with_exact_rational_rank(C):
    assert affine_rank(C) == exact_affine_rank(C)


def test_affine_rank_tolerance_is_relative_to_the_largest_singular_value():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1e-9]])
    assert affine_rank(C) == 2  # default rtol = 3 * 2.2e-16, far below 1e-9 / s_max
    assert affine_rank(C, tol=1e-6) == 1
    assert affine_rank(C * 1e6, tol=1e-6) == 1  # scale-free
    assert default_rtol(3, 2) == 3 * np.finfo(np.float64).eps
    assert default_rtol(3, 2, np.float32) == 3 * np.finfo(np.float32).eps
    s = affine_singular_values(C)
    assert s.shape == (2,) and s[0] >= s[1] > 0


def test_affine_rank_rejects_bad_input():
    with pytest.raises(ValueError, match="C must be a 2-D array"):
        affine_rank([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN or Inf"):
        affine_rank([[0.0], [np.nan]])
    with pytest.raises(ValueError, match=r"tol is a relative tolerance and must be in \[0, 1\)"):
        affine_rank([[0.0], [1.0]], tol=-1)


# ---------------------------------------------------------------- Radon
def test_radon_split_fixed_example():
    split = radon_split([[0, 0], [1, 0], [2, 0]])
    np.testing.assert_allclose(split.lambda_, [-0.5, 1.0, -0.5])
    assert split.task.tolist() == [0, 1, 0]
    np.testing.assert_allclose(split.common_point, [1.0, 0.0])
    assert radon_split([[0, 0], [1, 0], [0, 1]]) is None


@given(integer_codes())
def test_a_radon_split_exists_iff_codes_are_affinely_dependent_and_its_hulls_meet(C):
    split = radon_split(C)
    K = len(C)
    assert (split is None) == (exact_affine_rank(C) == K - 1)
    if split is None:
        return
    lam = split.lambda_
    assert abs(lam.sum()) < 1e-9 and np.linalg.norm(lam @ C) < 1e-9 and np.abs(lam).max() > 0
    pos, neg = lam > 0, lam < 0
    np.testing.assert_allclose(lam[pos].sum(), 1.0)
    np.testing.assert_allclose(split.common_point, -(lam[neg] @ C[neg]), atol=1e-9)
    assert hulls_intersect(C[pos], C[~pos])
    assert not linearly_separable(C, split.task)


# ---------------------------------------------------------------- separability
def test_linearly_separable_fixed_examples():
    square = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    assert not linearly_separable(square, [0, 0, 1, 1])  # XOR
    assert linearly_separable(square, [0, 1, 0, 1])
    assert linearly_separable(square, [0, 0, 0, 0])
    triangle = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)
    assert linearly_separable(triangle, [0, 1, 2])


@given(integer_codes(max_points=8, max_dim=3, low=-2, high=2), st.lists(st.integers(0, 1), min_size=8, max_size=8))
def test_strict_separability_is_disjointness_of_the_two_convex_hulls(Z, labels):
    y = np.array(labels[: len(Z)])
    if len(set(y.tolist())) < 2:
        assert linearly_separable(Z, y)
        return
    assert linearly_separable(Z, y) == (not hulls_intersect(Z[y == 0], Z[y == 1]))


@given(integer_codes(max_points=8, max_dim=3), st.lists(st.integers(0, 3), min_size=8, max_size=8))
def test_every_returned_probe_realizes_its_labels_with_strict_margins(Z, labels):
    y = np.array(labels[: len(Z)])
    probe = separating_probe(Z, y)
    present = sorted(set(y.tolist()))
    if probe is None:
        assert len(present) >= 2
        if len(present) == 2:  # T1.1: no probe means the two hulls meet
            assert hulls_intersect(Z[y == present[0]], Z[y == present[1]])
        return
    W, b = probe
    assert W.shape == (y.max() + 1, Z.shape[1]) and b.shape == (y.max() + 1,)
    assert min(strict_margins(W, b, Z, y)) > 0
    assert probe_predict(W, b, Z).tolist() == y.tolist()


@given(integer_codes(max_points=8, max_dim=3, low=-2, high=2), st.lists(st.integers(0, 2), min_size=8, max_size=8))
def test_multiclass_realizability_implies_pairwise_separability(Z, labels):
    y = np.array(labels[: len(Z)])
    if linearly_separable(Z, y):
        for a in set(y.tolist()):
            for c in set(y.tolist()) - {a}:
                assert not hulls_intersect(Z[y == a], Z[y == c])


def test_collinear_codes_are_argmax_predictable_but_the_middle_is_not_separable():
    """(0,0), (1,0), (2,0) in R^2, d = 2 = K - 1 (span 1; docs/THEORY.md T1.4 uses (0,1), (1,1), (2,1))."""
    C = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    W, b = np.array([[-2.0, 0.0], [0.0, 0.0], [2.0, 0.0]]), np.array([1.0, 0.0, -3.0])
    assert min(strict_margins(W, b, C, [0, 1, 2])) > 0  # M itself is predicted
    assert linearly_separable(C, [0, 1, 2])
    assert not linearly_separable(C, [0, 1, 0])
    assert hulls_intersect(C[[1]], C[[0, 2]])


def test_separating_probe_handles_absent_label_values():
    Z = np.array([[0.0], [1.0]])
    W, b = separating_probe(Z, [0, 3])
    assert W.shape == (4, 1)
    assert probe_predict(W, b, Z).tolist() == [0, 3]


def test_separability_rejects_bad_input():
    with pytest.raises(ValueError, match="y has 2 entries but Z has 3 rows"):
        linearly_separable(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="y must hold integers"):
        linearly_separable(np.zeros((2, 2)), [0.5, 1])


# ---------------------------------------------------------------- pseudo-inverse probes
def test_pseudo_inverse_probe_fixed_example():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    W, b = pseudo_inverse_probe(C, [1, 0, 1])
    np.testing.assert_allclose(C @ W.T + b, [[0, 1], [1, 0], [0, 1]], atol=1e-12)


@given(strategies.ideal_codes(max_classes=7, max_dim=12, dtypes=(np.float64,), offsets=False, scales=False), st.data())
def test_affinely_independent_codes_realize_every_task_with_the_pseudo_inverse(world, data):
    C, K = world.codes, world.n_classes
    task = data.draw(strategies.invariant_tasks(K, n_labels=data.draw(st.integers(2, 5)), nonconstant=False))
    W, b = pseudo_inverse_probe(C, task)
    for c, label in zip(C, task):
        target = np.zeros(task.max() + 1)
        target[label] = 1
        np.testing.assert_allclose(W @ c + b, target, atol=1e-8)
    assert probe_predict(W, b, C).tolist() == task.tolist()
    assert linearly_separable(C, task)


def test_pseudo_inverse_probe_refuses_dependent_codes_with_a_forbidden_task():
    with pytest.raises(ValueError, match="affinely dependent"):
        pseudo_inverse_probe([[0, 0], [1, 0], [2, 0]], [0, 1, 0])


def test_probe_predict_checks_shapes():
    with pytest.raises(ValueError, match="W has 2 columns but Z has 3"):
        probe_predict(np.zeros((2, 2)), np.zeros(2), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        probe_predict(np.zeros((2, 3)), np.zeros(3), np.zeros((4, 3)))


@given(
    st.integers(1, 40),
    st.integers(0, 2**32 - 1),
    st.sampled_from([(-1074, -1000), (-600, -400), (-60, 60), (400, 600), (960, 1020), (-1074, 1020)]),
)
def test_row_norms_match_exact_norms_from_subnormal_to_near_overflow(d, seed, exponents):
    """row_norms against the exact square root of the exact sum of squares (Fractions): relative
    error at most (d + 4) eps for rows whose norm is a normal float, within a few ulps of the
    smallest subnormal otherwise; rows mix magnitudes, zeros and subnormals."""
    import math
    from fractions import Fraction

    from ssltheory.geometry import row_norms

    rng = np.random.default_rng(seed)
    low, high = exponents
    X = np.ldexp(rng.uniform(0.5, 1.0, (6, d)) * rng.choice([-1.0, 1.0], (6, d)), rng.integers(low, high, (6, d)))
    X[rng.random((6, d)) < 0.2] = 0.0
    X[0] = 0.0
    got = row_norms(X)
    eps = Fraction(float(np.finfo(np.float64).eps))
    for row, norm in zip(X, got):
        exact_sq = sum(Fraction(float(x)) ** 2 for x in row)
        assert math.isfinite(norm) and norm >= 0.0
        if exact_sq == 0:
            assert norm == 0.0
            continue
        # compare squares exactly: |norm^2 - exact_sq| <= 2 (d + 4) eps exact_sq (+ subnormal rounding of norm)
        slack = 2 * (d + 4) * eps * exact_sq + 4 * Fraction(2) ** -1074 * (Fraction(float(norm)) + Fraction(2) ** -1074)
        assert abs(Fraction(float(norm)) ** 2 - exact_sq) <= slack, (norm, row)
