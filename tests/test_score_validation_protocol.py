"""The score-validation report's protocol columns and target verdict, on fixed rows (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from ssltheory.experiments import score_validation as sv
from ssltheory.metrics import oriented


def _raw_for(name: str, target: np.ndarray) -> np.ndarray:
    """Raw values of score ``name`` whose oriented values are increasing in ``target``."""
    for candidate in (target, -target, 1.0 + target, 1.0 - target):
        if scipy.stats.kendalltau(oriented(name, candidate), target).statistic == pytest.approx(1.0):
            return candidate
    raise AssertionError(f"no monotone raw values found for {name}")


def fixed_rows(headline: str = "perfect") -> list[dict]:
    """2 datasets x 3 methods x 4 runs, z_dim 8 or 128 (K = 60): accuracy known, the headline
    ranking runs perfectly (or as the baselines do), every baseline ranking them backwards."""
    rng = np.random.default_rng(0)
    rows = []
    for data in ("mnist", "patches"):
        for method in ("cissl", "dissl", "simclr"):
            for i in range(4):
                rows.append(
                    {
                        "data": data,
                        "method": method,
                        "z_dim": (8, 128)[i % 2],
                        "n_classes": 60,
                        "linear_accuracy": float(rng.uniform(0.3, 0.9)),
                    }
                )
    acc = np.array([r["linear_accuracy"] for r in rows])
    for name in sv.COMPARED:
        values = _raw_for(name, -acc if (name != sv.HEADLINE or headline == "reversed") else acc)
        for r, v in zip(rows, values):
            r[name] = float(v)
    return rows


def test_columns_group_runs_as_the_protocols_do_and_label_d_at_least_k():
    rows = fixed_rows()
    cols = sv.columns(rows)
    assert list(cols)[:2] == ["across methods", "within method"]
    assert "across methods, z_dim=128 (d >= K = 60)" in cols and "within method, z_dim=128 (d >= K = 60)" in cols
    assert "across methods, z_dim=8 (d < K = 60)" in cols and "within method, z_dim=8 (d < K = 60)" not in cols
    idx, groups = cols["within method"]
    assert idx.size == 24 and len(set(groups.tolist())) == 6
    idx, groups = cols["across methods, z_dim=128 (d >= K = 60)"]
    assert idx.size == 12 and set(groups.tolist()) == {"mnist", "patches"}


def test_protocol_table_point_values_and_verdict():
    rows = fixed_rows()
    table = sv.protocol_table(rows, n_boot=50, seed=0)
    within = table["within method"]["point"]
    assert within[sv.HEADLINE]["kendall"] == pytest.approx(1.0)
    assert within[sv.HEADLINE]["regret"] == 0.0
    acc = np.array([r["linear_accuracy"] for r in rows])
    # a backwards baseline selects the worst run of each (dataset, method) group
    worst_gap = np.mean([100 * (acc[i : i + 4].max() - acc[i : i + 4].min()) for i in range(0, 24, 4)])
    for b in sv.BASELINES:
        assert within[b]["kendall"] == pytest.approx(-1.0)
        assert within[b]["regret"] == pytest.approx(worst_gap)
    outcome = sv.verdict(table)
    assert all(ok for ok, _ in outcome.values())
    # the headline ranking backwards like the baselines: equal numbers are not wins, every column missed
    tied = sv.verdict(sv.protocol_table(fixed_rows("reversed"), n_boot=50, seed=0))
    assert not any(ok for ok, _ in tied.values())
    assert all("kendall vs" in text and "regret vs" in text for _, text in tied.values())
