"""The synthetic experiments at quick scale, through the command line, and what their CSVs show.

One run of ``ssltheory experiment synthetic --scale quick`` (module-scoped fixture) writes the four
CSV + PNG pairs; each test then checks a theorem's prediction on the numbers written, against
independent quantities (Cover's formula, the certificate bound (K-1)/K, the exact missing mass).
"""

from __future__ import annotations

import csv
import math

import pytest

from ssltheory.cli import main
from ssltheory.experiments import runner

PARTS = ("phase_transition", "invariance_violation", "coarsening", "probe_families")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    assert main(["experiment", "synthetic", "--scale", "quick", "--out", str(out)]) == 0
    return out


def rows(out, part):
    with open(out / f"{part}.csv") as f:
        return list(csv.DictReader(f))


def test_every_part_writes_a_csv_and_a_png(quick_run):
    for part in PARTS:
        assert len(rows(quick_run, part)) > 0
        with open(quick_run / f"{part}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_worst_task_accuracy_reaches_one_exactly_at_d_equal_k_minus_1(quick_run):
    table = rows(quick_run, "phase_transition")
    for K in {int(r["K"]) for r in table}:
        by_d = {int(r["d"]): r for r in table if int(r["K"]) == K}
        for d, r in by_d.items():
            worst = float(r["worst_task_accuracy"])
            if d >= K - 1:
                assert worst == 1.0 and int(r["affine_rank"]) == K - 1
            else:
                assert worst < 1.0 and float(r["accuracy_upper_bound"]) == pytest.approx(1 - 1 / K, abs=1e-6)
        # at d = K - 2 the best probe found meets the certificate's bound: exactly (K-1)/K
        assert float(by_d[K - 2]["worst_task_accuracy"]) == pytest.approx((K - 1) / K, abs=1e-6)


def test_separable_fraction_follows_covers_formula(quick_run):
    for r in rows(quick_run, "phase_transition"):
        K, d, n = int(r["K"]), int(r["d"]), int(r["n_dichotomies"])
        cover = 2 * sum(math.comb(K - 1, i) for i in range(d + 1)) / 2**K
        assert float(r["cover_fraction"]) == pytest.approx(cover)
        assert abs(float(r["separable_fraction"]) - cover) <= 4 * math.sqrt(cover * (1 - cover) / n) + 1e-9


def test_invariant_encoders_meet_the_missing_mass_floor_and_noisy_ones_do_not_go_below(quick_run):
    table = rows(quick_run, "invariance_violation")
    for r in table:
        assert r["population_ideal"] == "True" and int(r["inexact_draws"]) == 0
        assert float(r["min_gap_to_floor"]) >= -1e-12  # T3: risk >= missing mass on every draw
        if float(r["sigma"]) == 0.0:
            assert float(r["max_gap_to_floor"]) <= 1e-12  # T3: equality when invariant
    noisy = [float(r["max_gap_to_floor"]) for r in table if float(r["sigma"]) > 0]
    assert max(noisy) > 0  # and strictly above it on some sample


def test_coarsening_never_increases_missing_mass_and_mixing_labels_leaves_a_floor(quick_run):
    table = rows(quick_run, "coarsening")
    assert all(int(r["pathwise_violations"]) == 0 for r in table)
    for n in {int(r["n"]) for r in table}:
        at = {r["relation"]: r for r in table if int(r["n"]) == n}
        assert float(at["coarse_label_preserving"]["missing_mass_exact"]) <= float(at["fine"]["missing_mass_exact"])
    for r in table:
        assert (float(r["bayes_error"]) > 0) == (r["relation"] == "coarse_label_mixing")
        if r["relation"] == "coarse_label_mixing":
            assert float(r["worst_erm_risk"]) >= float(r["bayes_error"]) - 1e-12


def test_relu_head_realizes_every_task_from_d_1_and_linear_needs_k_minus_1(quick_run):
    for r in rows(quick_run, "probe_families"):
        K, d = int(r["K"]), int(r["d"])
        assert float(r["relu_head_worst_task_accuracy"]) == 1.0
        assert (float(r["linear_worst_task_accuracy"]) == 1.0) == (d >= K - 1)


def test_runner_lists_and_rejects_bad_names(capsys, tmp_path):
    assert main(["experiment", "--list"]) == 0
    assert "phase_transition" in capsys.readouterr().out
    assert main(["experiment", "nonexistent", "--out", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err
    assert main(["experiment", "synthetic", "--part", "nope", "--out", str(tmp_path)]) == 2
    assert "has no part 'nope'" in capsys.readouterr().err
    assert "synthetic" in runner.available()
