"""The field's protocol (ssltheory.ranking) on fixed evidence with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, strategies as st

from ssltheory import ranking
from ssltheory.ranking import (
    bootstrap_protocol,
    group_metrics,
    kendall_tau_b,
    selection_regret,
    spearman,
)
from ssltheory.testing.strategies import fraction_of_profile


def test_rank_correlations_by_hand():
    # y ranks 3,1,2,5,4 against 1..5: d = -2,1,1,-1,1, sum d^2 = 8, rho = 1 - 6*8/(5*24) = 0.6;
    # pairs: 7 concordant, 3 discordant, no ties: tau = 4/10
    x, y = [1, 2, 3, 4, 5], [3, 1, 2, 5, 4]
    assert spearman(x, y) == pytest.approx(0.6)
    assert kendall_tau_b(x, y) == pytest.approx(0.4)
    assert spearman(x, x[::-1]) == pytest.approx(-1.0)
    assert kendall_tau_b(x, x[::-1]) == pytest.approx(-1.0)


def test_rank_correlations_with_ties_by_hand():
    # x ranks 1, 2.5, 2.5, 4: rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9);
    # 6 pairs, 1 tied in x, the other 5 concordant: tau_b = 5 / sqrt(5 * 6)
    x, y = [1, 2, 2, 3], [1, 2, 3, 4]
    assert spearman(x, y) == pytest.approx(math.sqrt(0.9))
    assert kendall_tau_b(x, y) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))
    assert kendall_tau_b([1, np.nan, 2, 3], [1, 5, 2, 3]) == pytest.approx(1.0)  # the NaN run is dropped


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=30))
@fraction_of_profile(1.33)
def test_kendall_matches_scipy_tau_b_and_spearman_matches_scipy(pairs):
    x, y = np.array(pairs, dtype=float).T
    ref = scipy.stats.kendalltau(x, y, variant="b").statistic
    got = kendall_tau_b(x, y)
    assert (math.isnan(got) and math.isnan(ref)) or got == pytest.approx(ref, abs=1e-12)
    if x.size >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        assert spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-12)


def test_selection_regret_by_hand():
    assert selection_regret([0.1, 0.9, 0.5], [0.80, 0.70, 0.75]) == pytest.approx(10.0)
    assert selection_regret([0.9, 0.1, 0.5], [0.80, 0.70, 0.75]) == pytest.approx(0.0)
    # two runs tie for the top score: the expected regret of a random pick, 100 * (0.9 - 0.8)
    assert selection_regret([1.0, 1.0, 0.0], [0.9, 0.7, 0.8]) == pytest.approx(10.0)
    # a run without a score cannot be selected, but it still is the best run
    assert selection_regret([np.nan, 0.0, 1.0], [0.95, 0.90, 0.80]) == pytest.approx(15.0)
    assert math.isnan(selection_regret([np.nan, np.nan], [0.5, 0.6]))
    with pytest.raises(ValueError, match="accuracy"):
        selection_regret([1.0, 2.0], [0.5, np.nan])


def test_group_metrics_average_within_groups_by_hand():
    acc = [0.80, 0.70, 0.75, 0.60, 0.50, 0.90]
    score = [3.0, 1.0, 2.0, 1.0, 2.0, 3.0]
    groups = ["a", "a", "a", "b", "b", "b"]
    got = group_metrics(score, acc, groups)
    # group a: perfect order (rho 1, tau 1, regret 0); group b: acc 0.6, 0.5, 0.9 against 1, 2, 3:
    # rho = 0.5, tau = 1/3 (pairs: (1,2) discordant, (1,3) and (2,3) concordant), regret 0
    assert got["spearman"] == pytest.approx((1.0 + 0.5) / 2)
    assert got["kendall"] == pytest.approx((1.0 + 1 / 3) / 2)
    assert got["regret"] == pytest.approx(0.0)
    flipped = group_metrics([-s for s in score], acc, groups)
    # group a selects 0.70 (regret 10), group b selects 0.60 (regret 30)
    assert flipped["regret"] == pytest.approx(20.0)
    assert flipped["worst_regret"] == pytest.approx(30.0)
    singletons = group_metrics(score, acc, list("abcdef"))  # no group of two runs: nothing defined
    assert all(math.isnan(v) for v in singletons.values())
    pooled = group_metrics(score, acc, ["all"] * 6)
    assert pooled["kendall"] == pytest.approx(scipy.stats.kendalltau(score, acc).statistic)


def test_bootstrap_shares_and_intervals():
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.5, 0.9, 40)
    groups = np.repeat(["m1", "m2"], 20)
    perfect = acc.copy()
    reversed_ = -acc
    out = bootstrap_protocol(
        {"ours": perfect, "rev": reversed_, "same": perfect.copy()}, acc, groups, headline="ours", n_boot=200, seed=1
    )
    assert out["share"]["rev"]["kendall"] == 1.0
    assert out["share"]["rev"]["regret"] == 1.0
    assert out["share"]["same"]["kendall"] == 0.0  # a tie is not a win
    lo, hi = out["interval"]["ours"]["kendall"]
    assert lo == hi == pytest.approx(1.0)
    lo, hi = out["interval"]["ours"]["regret"]
    assert lo == pytest.approx(0.0, abs=1e-9) and hi == pytest.approx(0.0, abs=1e-9)
    lo, hi = out["interval"]["rev"]["regret"]
    assert 0 < lo <= hi
    with pytest.raises(ValueError, match="headline"):
        bootstrap_protocol({"a": perfect}, acc, groups, headline="b")


@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from([0.0, 1.0, 2.0, 3.5, np.nan]), st.integers(0, 3)), min_size=6, max_size=6),
        min_size=1,
        max_size=8,
    )
)
@fraction_of_profile(1.0)
def test_vectorised_resample_metrics_equal_the_scalar_functions(rows):
    """The bootstrap's batch path (one row per resample) gives the scalar functions' numbers."""
    data = np.array(rows, dtype=float)  # (B, m, 2)
    s, a = data[:, :, 0], data[:, :, 1] / 3.0
    got = ranking._batch_metrics(s, a)
    for b in range(s.shape[0]):
        for name, fn in (("spearman", spearman), ("kendall", kendall_tau_b), ("regret", selection_regret)):
            ref = fn(s[b], a[b])
            assert (math.isnan(ref) and math.isnan(got[name][b])) or got[name][b] == pytest.approx(ref, abs=1e-12)
