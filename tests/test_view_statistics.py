"""The scoring engine (ssltheory/view_statistics.py) and the one tolerance rule for verdicts on views.

Independent oracles: the scatter matrices against loops over views, the held-out ridge probe against a
from-scratch ridge fit (numpy lstsq on the augmented design), chunking and the torch path against the
numpy path, and the float32 / float64 tolerance rule against codes of a planted rank.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from ssltheory import metrics
from ssltheory.conditions import code_geometry, is_ideal
from ssltheory.testing.strategies import fraction_of_profile
from ssltheory.view_statistics import (
    ViewStatistics,
    centred_and_uncentred_spectra,
    largest_squared_singular_value,
    split_views,
    tolerance_rule,
)

seeds = st.integers(0, 2**31 - 1)


def noisy_views(seed, K, d, views, noise):
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((K, d)) * rng.uniform(0.1, 10.0)
    labels = np.tile(np.arange(K), views)
    return C[labels] + noise * rng.standard_normal((K * views, d)) + rng.standard_normal(d) * 5, labels


# ------------------------------------------------------------------------------------------
# the statistics against loops over views


@fraction_of_profile(0.42)
@given(seeds, st.integers(1, 6), st.integers(1, 7), st.integers(2, 4), st.sampled_from([0.0, 0.3]), st.integers(1, 7))
def test_scatter_matrices_match_a_loop_over_views(seed, K, d, views, noise, chunk_rows):
    Z, labels = noisy_views(seed, K, d, views, noise)
    stats = ViewStatistics.from_views(Z, labels, heldout=False, chunk_rows=chunk_rows)
    n = len(Z)
    mu = Z.mean(axis=0)
    means = np.array([Z[labels == m].mean(axis=0) for m in range(K)])
    W = sum(np.outer(z - means[m], z - means[m]) for z, m in zip(Z, labels))
    B = sum((labels == m).sum() * np.outer(means[m] - mu, means[m] - mu) for m in range(K))
    T = sum(np.outer(z - mu, z - mu) for z in Z)
    scale = max(1.0, np.abs(Z).max()) ** 2 * n
    u = stats.unit  # the statistics are those of Z / u (u the power of two of max |Z|)
    assert u == 2.0 ** np.floor(np.log2(np.abs(Z).max()))
    for got, want in ((stats.within, W), (stats.between, B), (stats.total, T)):
        np.testing.assert_allclose(got * u**2, want, atol=1e-9 * scale)
    np.testing.assert_allclose(stats.means * u, means, atol=1e-9 * scale)
    np.testing.assert_allclose(
        stats.second_moment_eigenvalues * u**2, np.sort(np.linalg.eigvalsh(Z.T @ Z))[::-1], atol=1e-9 * scale
    )
    if noise == 0.0:  # identical views: exactly zero within-class scatter
        assert stats.within_per_class.sum() == 0.0 and not stats.within.any()


@fraction_of_profile(0.42)
@given(
    seeds,
    st.integers(1, 40),
    st.integers(1, 30),
    st.sampled_from([1e-100, 1e-3, 1.0, 1e100]),
    st.sampled_from([0.0, 1.0, 1e6]),
    st.sampled_from(["gaussian", "integer", "half_zero", "rank_one"]),
)
def test_both_spectra_from_one_reduction_match_two_eigvalsh(seed, n, d, scale, offset, kind):
    # the Householder-plus-tridiagonal route against numpy's eigvalsh of T and of T + n mu mu^T
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if kind == "integer":
        X = np.round(3 * X)
    elif kind == "half_zero":
        X[:, : d // 2] = 0.0
    elif kind == "rank_one":
        X = np.outer(rng.standard_normal(n), rng.standard_normal(d))
    X = (X + offset * rng.standard_normal(d)) * scale
    mu = X.mean(axis=0)
    T = (X - mu).T @ (X - mu)
    S = T + n * np.outer(mu, mu)
    centred, uncentred = centred_and_uncentred_spectra(T, mu, n)
    size = np.abs(S).max()
    for got, want in ((centred, T), (uncentred, S)):
        expected = np.clip(np.sort(np.linalg.eigvalsh(want))[::-1], 0.0, None)
        assert got.shape == (d,) and np.all(np.diff(got) <= 0) and np.all(got >= 0)
        np.testing.assert_allclose(got, expected, rtol=0, atol=64 * d * np.finfo(float).eps * size)


@fraction_of_profile(0.42)
@given(
    seeds,
    st.integers(2, 5),
    st.integers(1, 6),
    st.integers(2, 4),
    st.sampled_from([1e-4, 0.3]),
    st.sampled_from([0.0, 1e-3]),
)
def test_ridge_probe_matches_a_from_scratch_ridge_fit(seed, K, d, views, noise, ridge):
    Z, labels = noisy_views(seed, K, d, views, noise)
    mask = split_views(labels, random_state=seed)
    stats = ViewStatistics.from_views(Z, labels, mask, chunk_rows=3)
    probe = stats.ridge_probe(Z, ridge)
    X = Z[mask] - Z[mask].mean(axis=0)
    Y = np.eye(K)[labels[mask]]
    lam = ridge * np.linalg.eigvalsh(X.T @ X)[-1]
    W = np.linalg.lstsq(X.T @ X + lam * np.eye(d), X.T @ Y, rcond=1e-10)[0]
    want = (Z[~mask] - Z[mask].mean(axis=0)) @ W + Y.mean(axis=0)
    got = probe.scores + probe.c
    np.testing.assert_allclose(got, want, atol=1e-6 * max(1.0, np.abs(want).max()))


# ------------------------------------------------------------------------------------------
# the torch path gives the numpy path's numbers


def test_torch_tensor_gives_the_numpy_scores_within_1e_9():
    """On the CPU a float32 tensor is scored like the same float32 array: every score within 1e-9
    relative (both accumulate in float64; only the summation order of the products differs)."""
    rng = np.random.default_rng(3)
    C = rng.standard_normal((12, 9))
    labels = np.tile(np.arange(12), 4)
    Z = (C[labels] + 0.2 * rng.standard_normal((48, 9))).astype(np.float32)
    a = metrics.score_all(Z, labels, random_state=1)
    b = metrics.score_all(torch.from_numpy(Z), labels, random_state=1)
    assert a.tol == b.tol and a.dtype == b.dtype == "float32" and a.ideal == b.ideal
    for name, value in a.values.items():
        assert b.values[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert a.worst_task == b.worst_task


# ------------------------------------------------------------------------------------------
# one tolerance rule, chosen from the dtype as given


def rank_50_views():
    """200 classes whose codes (d = 256) have affine rank 50, two identical views each."""
    rng = np.random.default_rng(0)
    C = rng.standard_normal((200, 50)) @ rng.standard_normal((50, 256))
    labels = np.tile(np.arange(200), 2)
    return C[labels], labels


def test_the_rule_uses_the_dtype_as_given():
    rule32 = (256 * np.finfo(np.float32).eps, "default max(K, d) x eps(float32)")
    assert tolerance_rule(None, 200, 256, np.float32) == rule32
    assert tolerance_rule(None, 200, 256, np.float64)[0] == 256 * np.finfo(np.float64).eps
    assert tolerance_rule(0.01, 200, 256, np.float32) == (0.01, "given")
    Z, labels = rank_50_views()
    assert ViewStatistics.from_views(Z.astype(np.float32), labels).tol == pytest.approx(256 * 1.1920929e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rank_50_codes_are_rank_50_in_every_public_scoring_function(dtype):
    """A silent wrong answer to avoid: float32 rounding must not count as rank."""
    Z, labels = rank_50_views()
    Z = Z.astype(dtype)
    verdict = is_ideal(Z, labels)
    assert not verdict.ok and "affine_independence" in [k for k, c in verdict.conditions.items() if not c.ok]
    conditioning = metrics.affine_conditioning(Z, labels)
    assert conditioning.rank == 50
    headline = metrics.ideal_score(Z, labels)
    assert not headline.ideal and headline.value < 1.0
    assert headline.recoverable_share == pytest.approx(50 / 199, rel=1e-3)
    scores = metrics.score_all(Z, labels)
    assert scores.affine_rank == 50 and not scores.ideal and scores.ideal_score < 1.0
    assert scores.values["ideal_score"] == pytest.approx(50 / 199, rel=1e-3)
    assert f"{scores.tol:.3g}" in scores.format() and scores.tol_rule in scores.format()
    assert metrics.invariance_ratio(Z, labels).value == 0.0
    worst = metrics.worst_task_accuracy(Z, labels)
    assert worst.accuracy < 1.0  # an affine dependence: some invariant task is lost


@pytest.mark.parametrize(
    "name",
    ["heldout_class_accuracy", "rankme", "rankme_centred", "alpha_req", "lidar", "ridge_log_loss", "invariance_ratio"],
)
def test_scores_without_a_tolerance_agree_on_float32_and_float64_input(name):
    rng = np.random.default_rng(5)
    C = rng.standard_normal((30, 20))
    labels = np.tile(np.arange(30), 3)
    Z64 = C[labels] + 0.1 * rng.standard_normal((90, 20))
    Z32 = Z64.astype(np.float32)
    fn = getattr(metrics, name)
    args = (labels,) if name not in ("rankme", "rankme_centred", "alpha_req") else ()
    value32 = fn(Z32, *args)
    value64 = fn(Z64, *args)
    value32 = getattr(value32, "value", value32)
    value64 = getattr(value64, "value", value64)
    assert value32 == pytest.approx(value64, rel=1e-4, abs=1e-6)


@fraction_of_profile(0.25)
@given(seeds, st.integers(2, 6), st.integers(2, 8), st.sampled_from([0.3, 1.0, 3.0]))
def test_ridge_log_loss_is_the_cross_fitted_temperature_loss_found_by_a_grid(seed, K, d, noise):
    """Oracle: for each half, the beta minimizing the softmax log-loss on a fine grid (then refined by a
    bounded scalar search) scores the other half; the Newton search must find the same loss."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    Z, labels = noisy_views(seed, K, d, 4, noise)
    mask = split_views(labels, random_state=0)
    stats = ViewStatistics.from_views(Z, labels, mask)
    probe = stats.ridge_probe(Z, 1e-4)
    F, y = probe.scores + probe.c, probe.test_labels

    def nll(beta, rows):
        return float(np.mean(logsumexp(beta * F[rows], axis=1) - beta * F[rows, y[rows]]))

    halves = [np.arange(0, y.size, 2), np.arange(1, y.size, 2)]
    beta_max = 100 * np.log(K) / np.std(F)  # the documented search interval
    total = 0.0
    for fit, score in ((halves[0], halves[1]), (halves[1], halves[0])):
        grid = np.concatenate([[0.0], np.geomspace(1e-4 * beta_max, beta_max, 400)])
        best = grid[np.argmin([nll(b, fit) for b in grid])]
        lo, hi = best / 1.1, min(beta_max, best * 1.1) if best > 0 else 1e-4 * beta_max
        refined = minimize_scalar(nll, bounds=(lo, hi), args=(fit,), method="bounded", options={"xatol": 1e-12})
        beta = refined.x if refined.fun < nll(best, fit) else best
        total += nll(beta, score) * score.size
    want = total / y.size
    notes = []
    got = metrics.ridge_log_loss(Z, labels, mask, notes=notes)
    assert got == pytest.approx(want, rel=1e-4, abs=1e-6) and not notes


# ------------------------------------------------------------------------------------------
# the not-invariant certificate's pair search (conditions._first_cross_class_pair)


@fraction_of_profile(0.67)
@given(seeds, st.integers(2, 60), st.sampled_from([1, 3, 80, 150]), st.integers(2, 5), st.floats(0.05, 3.0))
def test_cross_class_pair_search_agrees_with_brute_force(seed, n, d, K, quantile_scale):
    from ssltheory.conditions import _first_cross_class_pair

    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d)) * (1.0 + np.arange(d)) ** -1.0  # a decaying spectrum
    labels = rng.integers(0, K, n)
    diff = Z[:, None, :] - Z[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    cross = labels[:, None] != labels[None, :]
    atol = quantile_scale * np.median(dist[cross]) * 0.2 if cross.any() else 1.0
    want = bool((dist[cross] <= atol).any())
    got = _first_cross_class_pair(Z, labels, atol, 1.0)
    assert (got is not None) == want
    if got is not None:
        i, j, found = got
        assert labels[i] != labels[j] and found == pytest.approx(dist[i, j], rel=1e-12, abs=1e-15) and found <= atol


# ------------------------------------------------------------------------------------------
# check and score agree on one file


@pytest.mark.parametrize("tol", [None, 0.01])
def test_check_and_score_agree_on_a_shared_file_and_name_the_tolerance(tmp_path, tol):
    """check and score give one answer for one file: 50 classes x 4 views with 1e-4 noise."""
    import contextlib
    import io
    import json

    from ssltheory.cli import main

    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(50), 4)
    Z = (rng.standard_normal((50, 60))[labels] + 1e-4 * rng.standard_normal((200, 60))).astype(np.float32)
    np.save(tmp_path / "Z.npy", Z)
    np.save(tmp_path / "c.npy", labels)
    extra = [] if tol is None else ["--tol", str(tol)]

    def run(command, *flags):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([command, str(tmp_path / "Z.npy"), "--classes", str(tmp_path / "c.npy"), *flags, *extra])
        return code, json.loads(out.getvalue()) if flags else out.getvalue()

    check_code, check = run("check", "--json")
    _, check_text = run("check")
    score_code, score = run("score", "--json")
    assert score_code == 0 and check_code == (0 if check["ideal"] else 1)
    assert check["ideal"] == score["ideal"] == score["verdict"]["ideal"]
    assert check["ideal"] is (tol == 0.01)  # 1e-4 noise: within 0.01 x s_max, beyond 60 x eps32 x s_max
    assert f"{score['tol']:.3g} x s_max" in check_text  # the same relative tolerance decided both
    assert check["tol"] == score["tol"] == score["verdict"]["tol"]  # and both JSON payloads name it
    assert score["verdict"]["mode"] == check["mode"] == "tolerance"
    assert score["tol_rule"] == ("given" if tol else "default max(K, d) x eps(float32)")
    assert (score["ideal_score"] == 1.0) is check["ideal"]


# ------------------------------------------------------------------------------------------
# a sweep's scores are `ssltheory score` on the same encoder, on the reference augmentation


def test_sweep_rows_equal_ssltheory_score_on_the_reference_augmentation(tmp_path):
    import contextlib
    import io
    import json

    from ssltheory.cli import main
    from ssltheory.sweep import read_results, run_sweep
    from tests.test_sweep import _config

    config = _config(sweep={"seeds": [0]}, space={"method": ["simsiam"]})  # trained at aug_strength 0.5
    run_sweep(config, tmp_path, poll_s=0.01)
    (row,) = read_results(tmp_path)
    assert row["score"]["augmentation"] == {"kind": "simclr", "strength": 1.0}  # not the run's own s = 0.5
    settings = config.score
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "score",
                str(tmp_path / "runs" / row["run_id"]),
                "--split",
                "val",
                "--n-images",
                str(settings["images"]),
                "--views",
                str(settings["views"]),
                "--seed",
                str(row["seed"]),
                "--json",
            ]
        )
    assert code == 0
    cli = json.loads(out.getvalue())
    for name in ("ideal_score", "invariance_ratio", "rankme", "heldout_class_accuracy", "tol"):
        assert row["score"][name] == cli[name], name


@pytest.mark.parametrize("seed", range(4))
def test_the_order_of_the_rows_does_not_change_the_statistics(seed):
    # classes first seen out of order (first rows 0, 2, 1, 3, ...) and shuffled rows: the same sums
    Z, labels = noisy_views(seed, 7, 5, 3, 0.3)
    order = np.random.default_rng(seed).permutation(len(Z))
    a = ViewStatistics.from_views(Z, labels, heldout=False, chunk_rows=4)
    b = ViewStatistics.from_views(Z[order], labels[order], heldout=False, chunk_rows=4)
    scale = np.abs(Z).max() ** 2 * len(Z)
    for name in ("means", "within", "between", "total", "total_eigenvalues", "second_moment_eigenvalues"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-12 * scale, err_msg=name)


@pytest.mark.parametrize("exponent", [-150, -154.5, -155, -158, -161.5, -162, -170, -300])
def test_both_spectra_survive_a_mean_far_below_the_scatter(exponent):
    # the reflector is built from the mean's direction: a mean near 1e-158 (whose square is subnormal) once made
    # v^T v underflow and both spectra NaN
    centred, uncentred = centred_and_uncentred_spectra(np.eye(2), np.array([10.0**exponent, 0.0]), 1)
    np.testing.assert_array_equal(centred, [1.0, 1.0])
    np.testing.assert_allclose(uncentred, [1.0, 1.0], rtol=1e-15)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_both_spectra_of_a_zero_scatter_and_a_mean_whose_square_underflows(d):
    mean = np.zeros(d)
    mean[0] = 1e-200
    centred, uncentred = centred_and_uncentred_spectra(np.zeros((d, d)), mean, 3)
    assert not centred.any() and not uncentred.any()  # n ||mean||^2 = 3e-400 is 0 in float64


def test_a_tiny_constant_feature_leaves_the_spectral_scores_defined():
    # max |Z| = 1 (no rescaling), the grand mean is 1e-160 e_2: the scores equal those with that column exactly 0
    Z = np.array([[1, 1e-160], [-1, 1e-160], [0.5, 1e-160], [-0.5, 1e-160], [0.2, 1e-160], [-0.2, 1e-160]])
    labels, mask = [0, 0, 1, 1, 2, 2], [1, 0, 1, 0, 1, 0]
    tiny = metrics.score_all(Z, labels, mask, n_random=2, greedy_steps=1)
    zero = metrics.score_all(np.where(Z == 1e-160, 0.0, Z), labels, mask, n_random=2, greedy_steps=1)
    for name in ("rankme", "rankme_centred", "nesum"):
        assert tiny.values[name] is not None and tiny.values[name] == pytest.approx(zero.values[name], rel=1e-12)


@pytest.mark.parametrize("shape", [(0, 5), (1, 3), (40, 7), (7, 40), (600, 900), (900, 600)])
def test_largest_squared_singular_value_matches_the_dense_spectrum(shape):
    # both routes (the small Gram matrix, Lanczos on D past 512) against eigvalsh of D^T D,
    # on a matrix with a close second singular value (Lanczos's hard case) and an offset
    rng = np.random.default_rng(sum(shape))
    k, d = shape
    D = rng.standard_normal((k, d)) + 3.0
    if min(k, d) > 1:
        U, s, Vt = np.linalg.svd(D, full_matrices=False)
        s[1] = s[0] * (1 - 1e-6)
        D = (U * s) @ Vt
    want = float(np.linalg.eigvalsh(D.T @ D)[-1]) if k and d else 0.0
    assert largest_squared_singular_value(D) == pytest.approx(want, rel=1e-8, abs=0.0)


def test_between_is_formed_from_its_factor_on_demand():
    Z, y = np.random.default_rng(3).standard_normal((60, 9)), np.repeat(np.arange(12), 5)
    stats = ViewStatistics.from_views(Z, y)
    D = stats.between_factor
    assert np.array_equal(stats.between, stats.between.T)
    np.testing.assert_allclose(stats.between, D.T @ D, rtol=1e-12, atol=1e-12 * np.abs(D.T @ D).max())
    assert stats.between_trace == pytest.approx(np.trace(D.T @ D), rel=1e-13)
    np.testing.assert_allclose(stats.total, stats.within + stats.between, rtol=1e-12, atol=1e-12)


@fraction_of_profile(0.1)
@given(
    seeds,
    st.integers(2, 6),
    st.integers(1, 6),
    st.sampled_from([0.0, 1e-9, 0.3]),
    st.sampled_from([1e-300, 1e-12, 1.0, 3.0, 1e12, 1e300]),
    st.sampled_from([0.0, 1e8]),
    st.sampled_from([np.float32, np.float64]),
    st.booleans(),
)
def test_the_engine_measures_the_verdicts_geometry_number_for_number(seed, K, d, noise, scale, offset, dtype, ragged):
    # the verdict given the engine's measurements (score_all's path) is the verdict measuring itself
    rng = np.random.default_rng(seed)
    views = rng.integers(1, 4, K) if ragged else np.full(K, 3)
    labels = rng.permutation(np.repeat(np.arange(K), views))
    C = rng.standard_normal((K, d))
    Z = ((C[labels] + noise * rng.standard_normal((labels.size, d)) + offset) * scale).astype(dtype)
    if not np.all(np.isfinite(Z)):
        return
    tol = 1e-3
    stats = ViewStatistics.from_views(Z, labels, tol=tol, heldout=False)
    mine, theirs = stats.code_geometry(), code_geometry(Z, labels, tol)
    assert mine.z_unit == theirs.z_unit
    for name in ("offsets", "codes", "M", "deviation"):
        assert np.array_equal(getattr(mine, name), getattr(theirs, name)), name
    assert (mine.rank, mine.atol_m, mine.code_unit, mine.invariant) == (
        theirs.rank,
        theirs.atol_m,
        theirs.code_unit,
        theirs.invariant,
    )
    assert is_ideal(Z, labels, tol=tol, geometry=mine).to_dict() == is_ideal(Z, labels, tol=tol).to_dict()


def test_a_geometry_measured_elsewhere_is_refused():
    Z, labels = noisy_views(0, 4, 3, 3, 0.3)
    geometry = ViewStatistics.from_views(Z, labels, tol=1e-3, heldout=False).code_geometry()
    with pytest.raises(ValueError, match="geometry was measured at rtol"):
        is_ideal(Z, labels, tol=1e-2, geometry=geometry)
    with pytest.raises(ValueError, match="geometry was measured"):
        is_ideal(Z[:-1], labels[:-1], tol=1e-3, geometry=geometry)


@pytest.mark.parametrize("K", [2, 7, 13, 21, 27, 29, 33, 38])
@pytest.mark.parametrize("value, dtype", [(0.0, np.float64), (1.0, np.float64), (0.1, np.float32), (0.1, np.float64)])
def test_collapsed_features_have_chance_log_loss_and_no_recoverable_share(K, value, dtype):
    # every view identical: the probe's scores are equal within each view, so the calibrated loss is
    # log K at every temperature (rounding once drove the fit to beta ~ 1e302 and a loss of 0), and
    # every class mean is the same, so nothing is recoverable whatever the constant
    labels = np.repeat(np.arange(K), 2)
    Z = np.full((2 * K, 3), value, dtype=dtype)
    assert metrics.ridge_log_loss(Z, labels) == pytest.approx(np.log(K), rel=1e-12)
    scores = metrics.score_all(Z, labels)
    assert scores.ideal_score == 0.0 and scores.recoverable_share == 0.0


def test_the_engine_keeps_the_sign_of_an_exactly_invariant_zero_code():
    # codes of exactly invariant views are their rows as given, as the verdict reads them (-0.0 kept)
    Z, labels = np.array([[-0.0]] * 4 + [[1.0]] * 2), np.array([0, 0, 1, 1, 2, 2])
    geometry = ViewStatistics.from_views(Z, labels, heldout=False).code_geometry()
    assert is_ideal(Z, labels, geometry=geometry).to_dict() == is_ideal(Z, labels).to_dict()
