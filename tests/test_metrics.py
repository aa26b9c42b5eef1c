"""Continuous scores and baselines (ssltheory.metrics), THEORY.md section 2.

Every property is checked independently of the code under test: explicit loops over classes,
normal-equation ridge fits, exact rational ranks and null vectors (sympy), LP separability
(scipy linprog, not geometry.linearly_separable), closed forms of known spectra.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import scipy.stats
import sympy
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory import metrics
from ssltheory.metrics import (
    affine_conditioning,
    alpha_req,
    cover_fraction,
    dimension_deficit,
    heldout_class_accuracy,
    ideal_score,
    invariance_ratio,
    lidar,
    rankme,
    score_all,
    split_views,
    task_accuracy,
    worst_task_accuracy,
)
from ssltheory.testing import strategies
from ssltheory.testing.oracles import exact_affine_rank
from ssltheory.view_statistics import ViewStatistics

seeds = st.integers(0, 2**32 - 1)  # random_state arguments of the functions under test


# ------------------------------------------------------------------------------------------
# independent references


def ss_loop(Z, labels):
    """Within- and total sum of squares by explicit loops over points."""
    K = labels.max() + 1
    means = [np.mean([Z[i] for i in range(len(Z)) if labels[i] == m], axis=0) for m in range(K)]
    grand = np.mean(Z, axis=0)
    within = sum(float(np.sum((Z[i] - means[labels[i]]) ** 2)) for i in range(len(Z)))
    total = sum(float(np.sum((Z[i] - grand) ** 2)) for i in range(len(Z)))
    return within, total


def ridge_reference(Z, labels, task, mask, ridge, with_margin=False):
    """Held-out accuracy of a ridge probe with intercept, by the primal normal equations (and, with
    ``with_margin``, the smallest |own score - best other score| over the held-out views: below
    rounding, the library's probe and this one may break the tie differently)."""
    Xtr, Xte = Z[mask], Z[~mask]
    k = int(task.max()) + 1
    Y = np.eye(k)[task[labels[mask]]]
    xbar, ybar = Xtr.mean(axis=0), Y.mean(axis=0)
    Xc = Xtr - xbar
    lam = ridge * np.linalg.norm(Xc, 2) ** 2
    if lam > 0:
        W = np.linalg.solve(Xc.T @ Xc + lam * np.eye(Z.shape[1]), Xc.T @ (Y - ybar))
    else:
        W = np.linalg.lstsq(Xc, Y - ybar, rcond=None)[0]
    F = (Xte - xbar) @ W + ybar
    correct, margin = 0, np.inf
    for row, lab in zip(F, task[labels[~mask]]):
        others = np.delete(row, lab)
        correct += bool(row[lab] > others.max())
        margin = min(margin, abs(row[lab] - others.max()))
    return (correct / len(F), margin) if with_margin else correct / len(F)


#: a decision this far from a tie is the same for any two accurate ridge solvers
CLEAR_MARGIN = 1e-8


def strictly_separable(P, Q):
    """LP: is there (w, b) with w.p + b >= 1 on P and w.q + b <= -1 on Q?"""
    d = P.shape[1] if len(P) else Q.shape[1]
    A = np.vstack([-np.hstack([P, np.ones((len(P), 1))]), np.hstack([Q, np.ones((len(Q), 1))])])
    res = scipy.optimize.linprog(
        np.zeros(d + 1), A_ub=A, b_ub=-np.ones(len(A)), bounds=[(None, None)] * (d + 1), method="highs"
    )
    return res.status == 0


def entropy_rank(values, eps):
    total = sum(values)
    h = 0.0
    for v in values:
        p = v / total + eps
        h -= p * math.log(p)
    return math.exp(h)


def views_of(C, n_views):
    """Invariant codes: each class code repeated n_views times; labels (K*n_views,)."""
    labels = np.repeat(np.arange(len(C)), n_views)
    return np.asarray(C, dtype=float)[labels], labels


@st.composite
def noisy_views(draw, max_k=6, max_d=5, max_views=4, noise=st.floats(0.0, 3.0), min_views=1):
    """(Z, labels, C, noise): integer codes C (K, d) in [-3, 3], each repeated min_views..max_views
    times, plus noise times a drawn matrix on a grid of quarters in [-1, 1] (0 or at least noise / 4)."""
    K, d, views = draw(st.integers(2, max_k)), draw(st.integers(1, max_d)), draw(st.integers(min_views, max_views))
    C = draw(hnp.arrays(np.int64, (K, d), elements=st.integers(-3, 3))).astype(float)
    Z, labels = views_of(C, views)
    level = draw(noise)
    grid = draw(hnp.arrays(np.int64, Z.shape, elements=st.integers(-4, 4))) / 4
    return Z + level * grid, labels, C, level


def integer_codes(max_k=5, max_d=4):
    return st.tuples(st.integers(2, max_k), st.integers(1, max_d)).flatmap(
        lambda kd: st.lists(
            st.lists(st.integers(-3, 3), min_size=kd[1], max_size=kd[1]), min_size=kd[0], max_size=kd[0]
        ).map(np.array)
    )


# ------------------------------------------------------------------------------------------
# invariance ratio


def test_invariance_ratio_fixed_example():
    Z = np.array([[0.0], [2.0], [10.0], [10.0]])
    r = invariance_ratio(Z, [0, 0, 1, 1])
    # within = 1 + 1, total = 5.5^2 + 3.5^2 + 2 * 4.5^2 = 83; class 0: (2/2) / (83/4)
    assert r.value == pytest.approx(2 / 83)
    assert r.per_class == pytest.approx([4 / 83, 0.0])


@given(noisy_views())
def test_invariance_ratio_is_within_over_total_sum_of_squares(world):
    Z, labels, _, noise = world
    within, total = ss_loop(Z, labels)
    assume(total > 1e-12)  # the ratio is defined when the views are not all equal
    r = invariance_ratio(Z, labels)
    assert r.value == pytest.approx(within / total, rel=1e-9, abs=1e-12)
    sizes = np.bincount(labels)
    assert np.dot(sizes / len(Z), r.per_class) == pytest.approx(r.value, rel=1e-9, abs=1e-12)
    if noise == 0.0:
        assert r.value == 0.0  # invariant codes


# ------------------------------------------------------------------------------------------
# affine conditioning and dimension


def test_affine_conditioning_of_collinear_codes_fixed_example():
    Z, labels = views_of([[0, 0], [1, 0], [2, 0]], 2)  # collinear codes (cf. docs/THEORY.md T1.4)
    a = affine_conditioning(Z, labels)
    assert a.rank == 1
    assert a.condition < 1e-12
    assert a.singular_values[0] == pytest.approx(math.sqrt(2))  # centred (-1,0),(0,0),(1,0)


def test_regular_simplex_is_perfectly_conditioned():
    Z, labels = views_of(np.eye(5), 3)
    a = affine_conditioning(Z, labels)
    assert a.rank == 4 and a.condition == pytest.approx(1.0)


@given(integer_codes())
def test_effective_affine_rank_matches_exact_rational_rank(C):
    Z, labels = views_of(C, 2)
    a = affine_conditioning(Z, labels)
    r = exact_affine_rank(C)
    assert a.rank == r
    K = len(C)
    # s_{K-1} > 0 exactly when the codes are affinely independent
    assert (a.condition > 1e-9) == (r == K - 1)
    # singular values: square roots of the eigenvalues of the centred scatter, by a loop
    centred = [C[m] - C.mean(axis=0) for m in range(K)]
    scatter = sum(np.outer(c, c) for c in centred)
    eig = np.sort(np.clip(np.linalg.eigvalsh(scatter), 0, None))[::-1][: len(a.singular_values)]
    assert a.singular_values**2 == pytest.approx(eig, abs=1e-9)  # squares: sqrt amplifies rounding at 0


def test_dimension_deficit_fixed_examples():
    assert dimension_deficit(10, 3) == 6
    assert dimension_deficit(10, 9) == 0
    assert dimension_deficit(10, 50) == 0


def test_cover_fraction_fixed_example():
    assert cover_fraction(10, 8) == 1022 / 1024  # THEORY.md T5
    assert cover_fraction(4, 3) == 1.0


@given(st.integers(1, 300), st.integers(0, 300))
def test_cover_fraction_is_a_binomial_tail(K, d):
    # 2 sum_{i<=d} binom(K-1, i) / 2^K = P(Binomial(K-1, 1/2) <= d)
    assert cover_fraction(K, d) == pytest.approx(scipy.stats.binom.cdf(d, K - 1, 0.5), rel=1e-9, abs=1e-300)


@given(st.integers(3, 6).flatmap(lambda K: strategies.general_position_points(K, st.integers(1, 3))))
def test_cover_fraction_counts_the_separable_dichotomies_of_generic_codes(C):
    K, d = C.shape
    separable = 0
    for bits in itertools.product([0, 1], repeat=K - 1):  # class 0 on side 1; complements double
        y = np.array((1,) + bits, dtype=bool)
        separable += 2 * strictly_separable(C[y], C[~y]) if (~y).any() else 2
    assert separable / 2**K == pytest.approx(cover_fraction(K, d))


# ------------------------------------------------------------------------------------------
# probes on held-out views


def test_split_views_keeps_a_view_on_each_side():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    mask = split_views(labels, heldout_fraction=0.5, random_state=3)
    assert mask[labels == 0].sum() == 2 and mask[labels == 1].sum() == 1 and mask[labels == 2].all()


def test_task_accuracy_fixed_example():
    # codes 0, 1, 2 on a line, "ends versus middle": the least-squares line is flat at 1/3
    Z, labels = views_of([[0.0], [1.0], [2.0]], 2)
    mask = np.array([True, False] * 3)
    assert task_accuracy(Z, labels, np.array([1, 0, 1]), mask, ridge=0.0) == pytest.approx(2 / 3)


@given(
    noisy_views(max_k=5, max_d=6, max_views=4, noise=st.just(0.5), min_views=2),
    st.integers(2, 3),
    st.sampled_from([0.0, 1e-3, 0.3]),
    seeds,
    st.data(),
)
def test_task_accuracy_is_the_heldout_accuracy_of_a_ridge_probe(world, k, ridge, seed, data):
    Z, labels, C, _ = world
    K = len(C)
    task = data.draw(strategies.invariant_tasks(K, n_labels=k))
    mask = split_views(labels, random_state=seed)
    expected, margin = ridge_reference(Z, labels, task, mask, ridge, with_margin=True)
    expected_classes, margin_classes = ridge_reference(Z, labels, np.arange(K), mask, ridge, with_margin=True)
    assume(min(margin, margin_classes) > CLEAR_MARGIN)  # no held-out view on a decision boundary
    assert task_accuracy(Z, labels, task, mask, ridge=ridge) == pytest.approx(expected)
    assert heldout_class_accuracy(Z, labels, mask, ridge=ridge) == pytest.approx(expected_classes)


IDEAL_CODES = strategies.ideal_codes(max_dim=8, dtypes=(np.float64,), offsets=False, scales=False, bound=3)


@given(IDEAL_CODES, st.integers(2, 4))
def test_invariant_affinely_independent_codes_lose_no_task(world, views):
    Z, labels = views_of(world.codes, views)
    assert heldout_class_accuracy(Z, labels, ridge=0.0) == 1.0
    assert worst_task_accuracy(Z, labels, ridge=0.0, n_random=16, greedy_steps=4).accuracy == 1.0


def test_radon_split_of_collinear_codes_fixed_example():
    Z, labels = views_of([[0, 0], [1, 0], [2, 0]], 2)
    mask = np.array([True, False] * 3)
    w = worst_task_accuracy(Z, labels, mask, n_radon=1, n_random=0, greedy_steps=0, ridge=0.0)
    assert w.source == "radon"
    assert w.task.tolist() in ([1, 0, 1], [0, 1, 0])  # the dependence (1, -2, 1)
    assert w.accuracy == pytest.approx(2 / 3)


@given(
    st.integers(1, 3).flatmap(
        lambda d: st.lists(st.lists(st.integers(-4, 4), min_size=d, max_size=d), min_size=d + 2, max_size=d + 2)
    )
)
def test_affinely_dependent_codes_have_a_radon_task_no_probe_realizes(rows):
    C = np.array(rows)
    A = sympy.Matrix([list(map(int, c)) + [1] for c in C]).T  # (d+1) x K with columns (c_m, 1)
    null = A.nullspace()
    assume(len(null) == 1)
    lam = np.array([float(v) for v in null[0]])
    assume(np.all(lam != 0))
    Z, labels = views_of(C, 2)
    w = worst_task_accuracy(Z, labels, n_radon=1, n_random=0, greedy_steps=0, ridge=0.0)
    assert w.source == "radon"
    assert w.task.tolist() in ((lam > 0).astype(int).tolist(), (lam < 0).astype(int).tolist())
    side = w.task.astype(bool)
    assert not strictly_separable(C[side].astype(float), C[~side].astype(float))
    assert w.accuracy < 1.0


@given(noisy_views(max_k=7, max_d=5, max_views=4, noise=st.floats(0.0, 1.0), min_views=2), seeds)
def test_worst_task_accuracy_is_the_reference_accuracy_of_the_task_it_reports(world, seed):
    Z, labels, C, _ = world
    K = len(C)
    mask = split_views(labels, random_state=seed)
    w = worst_task_accuracy(Z, labels, mask, n_random=8, greedy_steps=6, ridge=1e-3, random_state=seed)
    assert w.task.shape == (K,) and 0 < w.task.sum() < K
    expected, margin = ridge_reference(Z, labels, w.task, mask, 1e-3, with_margin=True)
    singles = [
        ridge_reference(Z, labels, (np.arange(K) == m).astype(int), mask, 1e-3, with_margin=True) for m in range(K)
    ]
    assume(min([margin] + [m for _, m in singles]) > CLEAR_MARGIN)  # no held-out view on a decision boundary
    assert w.accuracy == pytest.approx(expected)
    # and no worse than any "one class versus the rest" task, which a loop scores independently
    if K <= 3:  # then every binary task is one of these: the search found the true minimum
        assert w.accuracy == pytest.approx(min(acc for acc, _ in singles))


# ------------------------------------------------------------------------------------------
# ideal score


def headline_reference(Z, labels, tol):
    """The headline's formula from its definition, by loops over views: invariant share x Pillai / (K - 1)."""
    K, n = labels.max() + 1, Z.shape[0]
    mu = Z.mean(axis=0)
    means = np.array([Z[labels == m].mean(axis=0) for m in range(K)])
    sigma_b = sum((labels == m).sum() * np.outer(means[m] - mu, means[m] - mu) for m in range(K)) / n
    sigma_t = sum(np.outer(z - mu, z - mu) for z in Z) / n
    tau2 = tol**2 * np.linalg.eigvalsh(sigma_b)[-1]
    e, V = np.linalg.eigh(sigma_t)  # directions where the views do not vary carry no between-class variance
    keep = e > 1e-12 * e[-1]
    pillai = np.sum(np.einsum("ik,ij,jk->k", V[:, keep], sigma_b, V[:, keep]) / (e[keep] + tau2))
    return np.trace(sigma_b) / np.trace(sigma_t) * pillai / (K - 1)


def test_ideal_score_of_the_collinear_counterexample():
    # THEORY.md T1.4: invariant but affinely dependent codes are not ideal: one of the K - 1 = 2
    # directions of M is recovered, the other not at all, so the recoverable share is 1/2
    Z, labels = views_of([[0, 0], [1, 0], [2, 0]], 2)
    s = ideal_score(Z, labels, tol=1e-3)
    assert not s.ideal and "affine_independence" in s.failing and s.n_heldout == 3
    assert s.invariant_share == 1.0 and s.recoverable_share == pytest.approx(0.5 / (1 + 1e-6), rel=1e-9)
    assert s.value == pytest.approx(headline_reference(Z, labels, 1e-3), rel=1e-9) and s.value < 1.0


@given(IDEAL_CODES, st.integers(2, 4))
def test_ideal_score_is_one_exactly_for_invariant_independent_codes(world, views):
    s = ideal_score(*views_of(world.codes, views))
    assert s.value == 1.0 and s.ideal
    # the held-out ridge probe recovers every class of well-conditioned codes (an ill-conditioned
    # direction, below the ridge, can cost held-out views: found at condition 1/240)
    singular = np.linalg.svd(world.codes - world.codes.mean(axis=0), compute_uv=False)
    if singular[world.n_classes - 2] > 0.1 * singular[0]:
        assert s.heldout_accuracy == 1.0


@given(noisy_views(max_k=6, max_d=4, max_views=3, noise=st.just(0.0) | st.floats(1e-3, 1.0), min_views=2))
def test_ideal_score_is_one_iff_the_exact_verdict_passes(world):
    # oracle: the conditions computed here (loop over views, exact rational rank), not is_ideal
    Z, labels, C, _ = world
    K, d = len(C), C.shape[1]
    s = ideal_score(Z, labels, tol=1e-9)
    first = [int(np.flatnonzero(labels == m)[0]) for m in range(K)]
    invariant = all((Z[i] == Z[first[labels[i]]]).all() for i in range(len(Z)))
    ideal_by_hand = invariant and exact_affine_rank(Z[first]) == K - 1 and d >= K - 1
    assert (s.value == 1.0) == ideal_by_hand == s.ideal
    if not ideal_by_hand:  # measured: invariant share x recoverable share, always below 1
        assert s.value < 1.0
        assume(np.ptp(Z, axis=0).max() > 0)
        assert s.value == pytest.approx(min(headline_reference(Z, labels, 1e-9), 1 - 2**-53), rel=1e-6, abs=1e-9)
        mask = split_views(labels, random_state=0)
        assert s.heldout_accuracy == pytest.approx(heldout_class_accuracy(Z, labels, mask))


def test_non_invariant_separable_codes_do_not_score_one():
    # every held-out view is classified correctly, yet the views of an image differ: not 1.0
    rng = np.random.default_rng(0)
    C = 10 * np.eye(6)[:, :5]
    Z, labels = views_of(C, 4)
    Z = Z + 0.5 * rng.standard_normal(Z.shape)
    s = ideal_score(Z, labels, tol=1e-2)
    assert s.heldout_accuracy == 1.0 and not s.ideal and s.failing == ("invariance",)
    assert s.value == pytest.approx(headline_reference(Z, labels, 1e-2), rel=1e-9) and s.value < 1.0


# ------------------------------------------------------------------------------------------
# RankMe


def test_rankme_of_an_isotropic_gaussian_is_about_its_dimension():
    Z = np.random.default_rng(0).standard_normal((4000, 8))
    assert rankme(Z) == pytest.approx(8.0, rel=0.01)


@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=8), st.integers(0, 5), st.data())
def test_rankme_is_the_entropy_rank_of_the_singular_values(s, extra_rows, data):
    d = len(s)
    U = data.draw(strategies.orthogonal_matrices(d + extra_rows))[:, :d]
    V = data.draw(strategies.orthogonal_matrices(d))
    Z = U @ np.diag(s) @ V.T
    assert rankme(Z) == pytest.approx(entropy_rank(s, 1e-7), rel=1e-7)


# ------------------------------------------------------------------------------------------
# alpha-ReQ


def test_alpha_req_of_a_harmonic_spectrum_fixed_example():
    rng = np.random.default_rng(1)
    eig = 1.0 / np.arange(1, 7)  # alpha = 1
    n = 12
    U = np.linalg.qr(np.hstack([np.ones((n, 1)), rng.standard_normal((n, 6))]))[0][:, 1:]  # orthogonal to 1
    Z = U @ np.diag(np.sqrt((n - 1) * eig))
    assert alpha_req(Z) == pytest.approx(1.0, abs=1e-9)


@given(st.floats(0.2, 3.0), st.floats(0.1, 10.0), st.integers(3, 20), st.integers(1, 5), st.data())
def test_alpha_req_recovers_the_exponent_of_a_power_law_spectrum(alpha, scale, d, extra, data):
    n = d + 1 + extra
    eig = scale * np.arange(1, d + 1) ** -alpha
    # d orthonormal columns orthogonal to the ones vector: the Q of a QR of [1, R] (Householder:
    # orthonormal whatever R is), then its last d columns
    R = data.draw(strategies.float_matrices(n, d, bound=1.0))
    U = np.linalg.qr(np.hstack([np.ones((n, 1)), R]))[0][:, 1:]
    V = data.draw(strategies.orthogonal_matrices(d))
    mean = data.draw(strategies.float_matrices(1, d, bound=3.0))[0]
    Z = U @ np.diag(np.sqrt((n - 1) * eig)) @ V.T + mean  # any mean
    assert alpha_req(Z) == pytest.approx(alpha, abs=1e-6)


# ------------------------------------------------------------------------------------------
# LiDAR


def lidar_reference(Z, labels, delta, eps=1e-8):
    K = labels.max() + 1
    d = Z.shape[1]
    means = np.array([Z[labels == m].mean(axis=0) for m in range(K)])
    mu = means.mean(axis=0)
    sb = sum(np.outer(means[m] - mu, means[m] - mu) for m in range(K)) / (K - 1)
    sw = sum(np.outer(Z[i] - means[labels[i]], Z[i] - means[labels[i]]) for i in range(len(Z)))
    sw = sw / (len(Z) - K) + delta * np.eye(d)
    lam = np.clip(scipy.linalg.eigh(sb, sw, eigvals_only=True), 0, None)  # generalized eigenproblem
    return entropy_rank(list(lam), eps)


def test_lidar_of_a_simplex_with_isotropic_noise_is_k_minus_one():
    K, d = 4, 6
    means = np.eye(d)[:K] * 5.0
    # views: mean +- e_j for every j, so each class's scatter is exactly 2 I
    Z = np.array([means[m] + sign * np.eye(d)[j] for m in range(K) for j in range(d) for sign in (1, -1)])
    labels = np.repeat(np.arange(K), 2 * d)
    assert lidar(Z, labels, delta=0.0) == pytest.approx(K - 1, rel=1e-5)


def within_scatter_is_well_conditioned(Z, labels):
    """The within-class scatter (a loop over views) has every eigenvalue above 1e-6 of the views'
    squared size: whitening by it is then a well-posed float computation."""
    means = {m: Z[labels == m].mean(axis=0) for m in np.unique(labels)}
    sw = sum(np.outer(Z[i] - means[labels[i]], Z[i] - means[labels[i]]) for i in range(len(Z)))
    return np.linalg.eigvalsh(sw).min() > 1e-6 * len(Z) * max(np.abs(Z).max(), 1.0) ** 2


@given(noisy_views(max_k=5, max_d=4, max_views=5, noise=st.just(0.3)), st.sampled_from([0.0, 1e-4, 0.5]))
def test_lidar_is_the_entropy_rank_of_the_generalized_lda_eigenvalues(world, delta):
    Z, labels, C, _ = world
    assume(len(Z) > len(C))  # at least two views of some class
    assume(np.ptp([Z[labels == m].mean(axis=0) for m in range(len(C))], axis=0).max() > 0)  # else bad input
    # whitening by the within-class scatter alone (delta = 0) is defined when it is well conditioned
    assume(delta > 0 or within_scatter_is_well_conditioned(Z, labels))
    assert lidar(Z, labels, delta=delta) == pytest.approx(lidar_reference(Z, labels, delta), rel=1e-6)


@given(noisy_views(max_k=5, max_d=4, max_views=7, noise=st.just(0.3)), st.data())
def test_lidar_is_invariant_to_invertible_linear_maps(world, data):
    Z, labels, C, _ = world
    d = C.shape[1]
    assume(within_scatter_is_well_conditioned(Z, labels))
    assume(np.ptp([Z[labels == m].mean(axis=0) for m in range(len(C))], axis=0).max() > 0)  # else bad input
    A = data.draw(strategies.float_matrices(d, d, bound=1.0)) + 2 * np.eye(d)
    assume(np.linalg.cond(A) < 1e4)
    assert lidar(Z @ A, labels, delta=0.0) == pytest.approx(lidar(Z, labels, delta=0.0), rel=1e-6)


def test_lidar_needs_two_views_per_class_to_whiten():
    Z = np.random.default_rng(0).standard_normal((5, 2))
    with pytest.raises(ValueError, match=r"at least 2 views per class.*\[2\]"):
        lidar(Z, [0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="within-class covariance is singular"):
        lidar(np.random.default_rng(0).standard_normal((4, 3)), [0, 0, 1, 1], delta=0.0)


# ------------------------------------------------------------------------------------------
# score_all and bad input


def test_score_all_reports_every_score_as_json():
    rng = np.random.default_rng(0)
    Z, labels = views_of(rng.standard_normal((6, 8)), 3)
    out = score_all(Z + 0.05 * rng.standard_normal(Z.shape), labels).to_dict()
    json.dumps(out)
    for key in (
        "invariance_ratio",
        "affine_rank",
        "worst_task_accuracy",
        "rankme",
        "alpha_req",
        "lidar",
        "ideal_score",
        "worst_task",
        "heldout_class_accuracy",
        "dimension_deficit",
        "cover_fraction",
    ):
        assert key in out
    assert len(out["worst_task"]) == 6 and out["affine_rank"] == 5 and out["dimension_deficit"] == 0


def test_score_all_of_ideal_codes():
    Z, labels = views_of(np.random.default_rng(2).standard_normal((5, 4)), 2)
    out = score_all(Z, labels, ridge=0.0).to_dict()
    assert out["ideal_score"] == 1.0 and out["worst_task_accuracy"] == 1.0
    assert out["invariance_ratio"] == 0.0 and out["heldout_class_accuracy"] == 1.0


@pytest.mark.parametrize(
    "Z, labels, message",
    [
        (np.array([[0.0], [np.nan], [1.0], [2.0]]), [0, 0, 1, 1], "NaN|finite"),
        (np.zeros((4, 2)), [0, 0, 1], "classes has 3 entries but features has 4 rows"),
        (np.arange(8.0).reshape(4, 2), [0, 0, 0, 0], "1 class"),
        (np.arange(8.0).reshape(4, 2), [0, 0, 1, 2], "at least 2 views per class"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_problem(Z, labels, message):
    with pytest.raises(ValueError, match=message):
        score_all(Z, labels)


def test_train_mask_must_train_on_every_scored_class():
    Z, labels = views_of(np.eye(3), 2)
    with pytest.raises(ValueError, match=r"classes \[2\] have held-out views but no training view"):
        heldout_class_accuracy(Z, labels, np.array([True, False, True, False, False, False]))
    with pytest.raises(ValueError, match="train_mask has shape"):
        worst_task_accuracy(Z, labels, np.ones(5, dtype=bool))


@pytest.mark.parametrize(
    "name, Z",
    [
        ("collapsed", np.ones((12, 4))),
        ("rank 1", np.outer(np.arange(12.0), np.ones(4))),
        ("constant zero", np.zeros((12, 3))),
        ("d = 1", np.arange(12.0)[:, None] % 5),
    ],
)
def test_score_all_never_fails_on_valid_codes(name, Z):
    labels = np.tile(np.arange(4), 3)
    scores = score_all(Z, labels, tol=1e-2)
    text = scores.format()
    assert "ideal score" in text and scores.ideal_score < 1.0
    json.dumps(scores.to_dict())
    for baseline in ("rankme", "lidar", "alpha_req"):
        value = getattr(scores, baseline)
        assert value is None or np.isfinite(value)
        if value is None:
            assert any(baseline in note for note in scores.notes) and "undefined" in text


def test_module_is_a_theory_room():
    source = open(metrics.__file__).read()
    assert "import torch" not in source and "ssltheory.ssl" not in source


@given(
    seeds,
    st.integers(2, 30),
    st.integers(2, 5),
    st.integers(1, 12),
    st.sampled_from([0.0, 1e-3, 1.0]),
    st.sampled_from([0.0, 1e-4, 1.0]),
    st.sampled_from(["gaussian", "half_integers", "constant"]),
    st.integers(1, 40),
)
def test_the_greedy_flip_count_equals_flipping_each_class_directly(seed, K, views, d, noise, ridge, kind, chunk):
    # oracle: flip class m, move every score by -2 s_m F[:, m], flip the truth of class m's views, count
    rng = np.random.default_rng(seed)
    codes = rng.standard_normal((K, d))
    labels = np.tile(np.arange(K), views)
    Z = codes[labels] + noise * rng.standard_normal((labels.size, d))
    if kind == "half_integers":  # ties: equal scores
        Z = np.round(2 * Z) / 2
    elif kind == "constant":  # only the intercept predicts: scores land exactly on the flip's threshold
        Z = np.zeros_like(Z)
    stats = metrics.ViewStatistics.from_views(Z, labels, random_state=seed)
    probe = stats.ridge_probe(Z, ridge)
    signs = rng.choice([-1.0, 1.0], size=K)
    scores = probe.binary_scores(signs)
    truth = signs[probe.test_labels]
    expected = np.full(K, np.nan)
    for m in range(K):
        if np.sum(signs == signs[m]) == 1:  # flipping the only class of its side leaves a constant task
            continue
        new_scores = scores - 2.0 * signs[m] * (probe.scores[:, m] + probe.c[m])
        new_truth = np.where(probe.test_labels == m, -truth, truth)
        expected[m] = np.mean(new_truth * new_scores > 0)
    np.testing.assert_array_equal(metrics.flip_accuracies(probe, signs, chunk=chunk), expected)
    flip, acc, evaluated = metrics._best_flip(probe, signs, chunk=chunk)
    assert evaluated == np.sum(~np.isnan(expected))
    if evaluated:
        assert flip == int(np.nanargmin(expected)) and acc == np.nanmin(expected)
    else:
        assert flip is None


@given(seeds, st.integers(2, 9), st.integers(1, 30), st.integers(1, 12))
def test_flip_accuracies_on_exact_ties(seed, K, n_ev, chunk):
    # scores and intercepts of small halves: every sum is exact, so many views sit exactly on a flip's threshold
    from ssltheory.view_statistics import RidgeProbe

    rng = np.random.default_rng(seed)
    probe = RidgeProbe(
        scores=rng.integers(-3, 4, size=(n_ev, K)) / 2.0,
        c=rng.integers(-2, 3, size=K) / 2.0,
        test_labels=rng.integers(0, K, size=n_ev),
        n_classes=K,
    )
    signs = rng.choice([-1.0, 1.0], size=K)
    scores = probe.binary_scores(signs)
    truth = signs[probe.test_labels]
    expected = np.full(K, np.nan)
    for m in range(K):
        if np.sum(signs == signs[m]) > 1:
            new_scores = scores - 2.0 * signs[m] * (probe.scores[:, m] + probe.c[m])
            expected[m] = np.mean(np.where(probe.test_labels == m, -truth, truth) * new_scores > 0)
    np.testing.assert_array_equal(metrics.flip_accuracies(probe, signs, chunk=chunk), expected)


@pytest.mark.parametrize("views", [[4] * 30, [2, 3, 5, 4, 6] * 6])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_largest_between_eigenvalue_from_the_shared_gram_equals_the_definition(views, offset):
    # equal class sizes read the centred means' Gram decomposition (when score_all has made it),
    # unequal ones fall back to D itself; both must be lambda_max(B) of the view-weighted means
    rng = np.random.default_rng(len(views) + int(offset))
    labels = np.repeat(np.arange(len(views)), views)
    Z = offset + rng.standard_normal((len(views), 40))[labels] + 0.1 * rng.standard_normal((labels.size, 40))
    stats = ViewStatistics.from_views(Z, labels)
    means = np.array([Z[labels == m].mean(axis=0) for m in range(len(views))])
    centred = (means - Z.mean(axis=0)) * np.sqrt(np.asarray(views))[:, None]
    want = float(np.linalg.eigvalsh(centred.T @ centred)[-1]) / stats.unit**2  # in the statistics' units
    before = metrics._largest_between_eigenvalue(stats)
    metrics._centred_means_spectrum(stats)
    after = metrics._largest_between_eigenvalue(stats)
    assert before == pytest.approx(want, rel=1e-9)
    assert after == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("K, d, dependent", [(12, 20, 0), (12, 20, 3), (40, 40, 0), (9, 30, 8)])
def test_nearly_dependent_directions_are_the_smallest_singular_directions(K, d, dependent):
    # against a full SVD of the centred codes: each direction sums to 0 and has unit norm; with an
    # exact dependence all are (random) null vectors, else ||X^T lambda|| is the next smallest
    # singular value
    rng = np.random.default_rng(K + d + dependent)
    C = rng.standard_normal((K, d)) * np.geomspace(1.0, 0.1, d)
    for j in range(dependent):  # exact affine dependences: the last codes are mixtures of the first two
        C[K - 1 - j] = 0.3 * C[0] + 0.7 * C[1]
    X = C - C.mean(axis=0)
    s = np.linalg.svd(X, compute_uv=False)
    rank = int(np.sum(s > 1e-9 * s[0]))
    count = 6
    got = metrics._nearly_dependent_directions(C, count, 1e-9, np.random.default_rng(0))
    assert len(got) == count
    n_null = count if rank < K - 1 else 0
    kept = s[:rank][::-1]  # ascending
    for i, lam in enumerate(got):
        assert abs(lam.sum()) < 1e-10 and np.linalg.norm(lam) == pytest.approx(1.0, rel=1e-12)
        residual = np.linalg.norm(X.T @ lam)
        if i < n_null:
            assert residual < 1e-8 * s[0]
        else:
            assert residual == pytest.approx(kept[i - n_null], rel=1e-6, abs=1e-9 * s[0])
