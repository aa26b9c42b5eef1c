"""Tests of paper_checks: the quick scale of every theory claim runs and gives its verdict, the
independent helpers the checks rely on are right on fixed examples, and the command line keeps its
contract (table, --json, exit codes 0 / 1 / 2).

Expected verdicts are the findings of the checks, not wishes: T7.2a is refuted because the closed form
-lambda log C is not attained when C <= K and C does not divide K (K = 3, C = 2 is the
counterexample; T7.2d, the corrected statement, passes); every other theory claim passes.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from ssltheory.paper_checks.registry import CheckContext, run_claim, select
from ssltheory.paper_checks.registry import SCALES, VERDICTS
from ssltheory.paper_checks import theory_efficiency as eff
from ssltheory.paper_checks import theory_objectives as obj
from ssltheory.paper_checks import theory_probes as probes
from ssltheory.cli import main

EXPECTED_THEORY = {"T1.1": "pass", "T1.2": "pass", "T1.3": "pass", "T1.4": "pass", "T2": "pass", "T3": "pass",
                   "T4": "pass", "T5": "pass", "T6": "pass", "T7.1": "pass", "T7.2a": "refuted", "T7.2b": "pass", "T7.2d": "pass",
                   "T7.2c": "pass", "T8": "pass", "T9": "pass"}


# ------------------------------------------------------------------ registry


def test_every_claim_has_a_check_per_scale_and_a_provenance_tag():
    claims = select(None)
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids))
    assert set(EXPECTED_THEORY) <= set(ids)
    assert {f"E{i}" for i in range(1, 8)} <= set(ids)
    for c in claims:
        assert set(c.checks) == set(SCALES)
        assert c.provenance in ("paper", "code", "derived")


def test_selectors_pick_prefixes_groups_and_reject_unknown_ids():
    assert [c.id for c in select(["T7"])] == ["T7.1", "T7.2a", "T7.2b", "T7.2c", "T7.2d"]
    assert [c.id for c in select(["t7.2"])] == ["T7.2a", "T7.2b", "T7.2c", "T7.2d"]
    assert [c.id for c in select(["T1"])] == ["T1.1", "T1.2", "T1.3", "T1.4"]
    assert {c.group for c in select(["theory"])} == {"theory"}
    with pytest.raises(ValueError, match="unknown claim id 'T99'"):
        select(["T99"])


def test_a_contradicted_claim_fails_unless_it_is_a_derived_statement_which_is_refuted():
    from ssltheory.paper_checks.registry import CheckContext, Claim, Outcome, run_claim

    def contradicted(ctx):
        return Outcome("fail", "counterexample", {"counterexample": [1, 2]})

    for provenance, verdict in (("paper", "fail"), ("code", "fail"), ("derived", "refuted")):
        claim = Claim(id="X", statement="s", provenance=provenance, group="theory",
                      checks={"quick": contradicted, "cpu": contradicted, "gpu": contradicted})
        result = run_claim(claim, CheckContext(scale="quick"))
        assert result.verdict == verdict and result.evidence == {"counterexample": [1, 2]}


def test_a_crashing_check_is_reported_as_error_not_pass():
    from ssltheory.paper_checks.registry import Claim

    def boom(ctx):
        raise RuntimeError("module missing")

    claim = Claim("X1", "a claim", "derived", "theory", {s: boom for s in SCALES})
    result = run_claim(claim, CheckContext(scale="quick"))
    assert result.verdict == "error"
    assert "module missing" in result.evidence["error"]


# ------------------------------------------------------------------ the theory claims at quick scale


@pytest.mark.parametrize("claim_id", sorted(EXPECTED_THEORY))
def test_theory_claim_quick_verdict(claim_id):
    (claim,) = select([claim_id])
    result = run_claim(claim, CheckContext(scale="quick", seed=0))
    assert result.verdict in VERDICTS
    assert result.verdict == EXPECTED_THEORY[claim_id], (result.measured, result.evidence)
    json.dumps(result.to_dict())  # evidence is JSON-serialisable


def test_t7_2a_counterexample_is_k3_c2_and_the_divisible_cases_hold():
    (claim,) = select(["T7.2a"])
    ev = run_claim(claim, CheckContext(scale="quick")).evidence
    bad = {(r["K"], r["C"]) for r in ev["counterexamples"] if "K" in r}
    assert bad == {(3, 2), (4, 3)}
    assert ev["holds_on_every_case_where_the_smaller_of_K_C_divides_the_larger"]


# ------------------------------------------------------------------ independent helpers, fixed examples


def test_hull_intersection_lp_on_fixed_examples():
    square = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert probes.hulls_intersect(square, np.array([True, True, False, False]))  # the diagonals cross
    assert not probes.hulls_intersect(square, np.array([True, False, True, False]))  # left side vs right side
    touching = np.array([[0.0], [1.0], [1.0], [2.0]])
    assert probes.hulls_intersect(touching, np.array([True, True, False, False]))


def test_exact_affine_rank_on_fixed_examples():
    assert probes.exact_affine_rank(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])) == 1
    assert probes.exact_affine_rank(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])) == 2


def test_relu_interpolator_hits_every_target_with_width_k_minus_1():
    rng = np.random.default_rng(0)
    for K in (2, 5, 9):
        knots = np.sort(rng.normal(size=K))
        targets = rng.normal(size=(K, 3))
        params = probes.relu_interpolator(np.ones(1), knots, targets)
        assert params[0].shape[0] == K - 1
        out = np.maximum(knots[:, None] @ params[0].T + params[1], 0) @ params[2].T + params[3]
        np.testing.assert_allclose(out, targets, atol=1e-9)


def test_cover_formula_and_enumeration_on_a_fixed_example():
    # 4 points in general position in the plane: 14 of 16 dichotomies (all but the two diagonal splits)
    Z = np.array([[0.0, 0.0], [1.0, 0.1], [0.1, 1.0], [1.2, 1.1]])
    assert probes.cover_formula(4, 2) == 14
    assert probes.count_dichotomies(Z) == 14
    assert probes.cover_formula(10, 8) == 1022


def test_brute_force_worst_erm_on_the_one_dimensional_example():
    Z = np.array([[0.0], [1.0], [3.0]])
    y = np.array([0, 0, 1])
    p = np.full(3, 1 / 3)
    # both classes seen: missing mass 0, yet the threshold 0.5 is an ERM that mislabels the point at 1
    assert eff.brute_force_worst_erm(Z, y, np.array([0, 2]), p, "linear") == pytest.approx(1 / 3)
    # invariant codes: no error possible once both classes are seen
    assert eff.brute_force_worst_erm(np.array([[0.0], [0.0], [3.0]]), y, np.array([0, 2]), p, "linear") == 0


def test_dissl_definition_matches_identity_on_a_fixed_example():
    t = [np.array([[0.7, 0.3]]), np.array([[0.4, 0.6]])]
    s = [np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]])]
    lhs = obj.dissl_definition(t, s, 2.3, 0.8)
    assert lhs == pytest.approx(obj.dissl_identity_rhs(t, s, 2.3, 0.8), abs=1e-12)
    # hand computation of the distillation term: (CE(t0, s1) + CE(t1, s0)) / 2
    ce = (-(0.7 * math.log(0.9) + 0.3 * math.log(0.1)) - (0.4 * math.log(0.5) + 0.6 * math.log(0.5))) / 2
    det = (-(0.7 * math.log(0.4) + 0.3 * math.log(0.6)) - (0.4 * math.log(0.7) + 0.6 * math.log(0.3))) / 2
    marg = (-(0.7 * math.log(0.7) + 0.3 * math.log(0.3)) - (0.4 * math.log(0.4) + 0.6 * math.log(0.6))) / 2
    assert lhs == pytest.approx(ce - 2.3 * marg + 0.8 * det, abs=1e-12)


def test_teacher_objective_closed_forms_on_fixed_teachers():
    lam, beta = 2.3, 0.8
    split = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # K=4, C=2, equal groups
    assert obj._teacher_objective(split, lam, beta) == pytest.approx(-lam * math.log(2))
    spread = np.array([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])  # K=2, C=4
    assert obj._teacher_objective(spread, lam, beta) == pytest.approx(obj.closed_form(2, 4, lam, beta)["C>=K"])


def test_cissl_rows_reach_log2_plus_the_orthogonal_negatives_term():
    B = 3
    X = np.vstack([np.eye(2 * B)[:B]] * 2)
    rows = obj.cissl_rows(X, X, 0.5)
    np.testing.assert_allclose(rows, math.log(2 + (2 * B - 2) * math.exp(-2.0)), atol=1e-12)


# ------------------------------------------------------------------ command line


def test_cli_unknown_claim_exits_2_with_one_line(capsys):
    assert main(["paper-check", "T99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown claim id 'T99'" in err[0]


def test_cli_bad_scale_exits_2():
    with pytest.raises(SystemExit) as exc:
        main(["paper-check", "--scale", "huge", "T5"])
    assert exc.value.code == 2


def test_cli_json_lists_results_and_exit_code_follows_verdicts(capsys):
    assert main(["paper-check", "--scale", "quick", "T1.4", "T5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in out] == ["T1.4", "T5"]
    assert {"id", "statement", "provenance", "paper_value", "measured", "verdict", "evidence"} <= set(out[0])
    # a [derived] statement with a counterexample is a result (THEORY.md), reported, not a failure
    assert main(["paper-check", "--scale", "quick", "T7.2a"]) == 0
    table = capsys.readouterr().out
    assert "T7.2a" in table and "refuted" in table


def test_cli_out_dir_gets_json_and_markdown(tmp_path, capsys):
    assert main(["paper-check", "--scale", "quick", "T1.4", "--out", str(tmp_path / "o")]) == 0
    data = json.loads((tmp_path / "o" / "paper_checks.json").read_text())
    assert data["results"][0]["id"] == "T1.4" and data["run"]["scale"] == "quick"
    assert "| T1.4 |" in (tmp_path / "o" / "RESULTS.md").read_text()


def test_empirical_comparisons_are_labelled_contradicted_resolved_or_unresolved():
    from ssltheory.paper_checks import empirical

    ctx = CheckContext(scale="cpu")  # tolerance: 2 standard errors of the difference, >= 0.5 pt
    up = empirical._compare(ctx, [0.80, 0.81, 0.82], [0.70, 0.71, 0.72])
    flat = empirical._compare(ctx, [0.80, 0.81, 0.82], [0.80, 0.812, 0.82])
    down = empirical._compare(ctx, [0.70, 0.71, 0.72], [0.80, 0.81, 0.82])
    assert up["resolved"] and flat["not_contradicted"] and not flat["resolved"] and not down["not_contradicted"]
    assert up["tolerance"] == pytest.approx(2 * math.sqrt(2 * 0.0001 / 3))
    assert empirical._resolution(up) == " [resolved]"
    assert empirical._resolution(up, flat).startswith(" [unresolved: difference -0.1 pt within")
    assert empirical._resolution(up, flat, down).startswith(" [contradicted: difference -10.0 pt, beyond")


def test_cpu_runs_finishing_together_keep_every_result(tmp_path):
    """Two cpu runs (the empirical claims split over processes) merge under a lock: eight writers
    recording one claim each at the same moment leave all eight in the store and in RESULTS.md."""
    import threading

    from ssltheory.paper_checks import report
    from ssltheory.paper_checks.registry import ClaimResult

    store, markdown, lock = tmp_path / "results.json", tmp_path / "RESULTS.md", tmp_path / ".lock"
    ids = [f"X{i}" for i in range(8)]
    start = threading.Barrier(len(ids))

    def record(claim_id):
        result = ClaimResult(claim_id, "a statement", "paper", "empirical", "cpu", None, "1 vs 0", "pass", {}, [0], None, 0.1)
        start.wait()
        report.record_cpu_run([result], {"date": claim_id, "command": "c", "machine": "m"}, ids, store, markdown, lock,
                              figure=tmp_path / "empirical.png", figure_csv=tmp_path / "empirical.csv")

    threads = [threading.Thread(target=record, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e["id"] for e in json.loads(store.read_text())["results"]] == ids
    assert all(f"| {i} |" in markdown.read_text() for i in ids)


def test_render_only_redraws_results_md_from_the_store_and_refuses_a_damaged_one(tmp_path, monkeypatch, capsys):
    from ssltheory.paper_checks import report

    paths = {"RESULTS_JSON": tmp_path / "r.json", "RESULTS_MD": tmp_path / "R.md", "RESULTS_LOCK": tmp_path / ".l",
             "EMPIRICAL_PNG": tmp_path / "e.png", "EMPIRICAL_CSV": tmp_path / "e.csv"}
    for name, path in paths.items():
        monkeypatch.setattr(report, name, path)
    assert main(["paper-check", "--render-only"]) == 2
    assert "no stored cpu results" in capsys.readouterr().err
    assert main(["paper-check", "--scale", "cpu", "T1.4"]) == 0  # a real cpu-scale run writes the store
    paths["RESULTS_MD"].unlink()
    assert main(["paper-check", "--render-only"]) == 0
    assert "| T1.4 |" in paths["RESULTS_MD"].read_text()
    paths["RESULTS_JSON"].write_text("{not json")
    assert main(["paper-check", "--render-only"]) == 2
    assert "damaged" in capsys.readouterr().err and paths["RESULTS_JSON"].read_text() == "{not json"


def test_gpu_scale_empirical_claim_is_pending_without_cuda_or_data(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present; the gpu scale would train")
    (claim,) = select(["E1"])
    result = run_claim(claim, CheckContext(scale="gpu"))
    assert result.verdict == "pending-gpu"
    assert "no CUDA device" in result.evidence["reason"]


def test_gpu_scale_configurations_are_valid_training_configs(tmp_path):
    """The gpu arms are real configurations: every one builds a TrainConfig that validates (the
    device is switched to cpu here only because this machine may have no CUDA)."""
    from ssltheory.paper_checks.empirical import planned_configs
    from ssltheory.ssl.train import TrainConfig

    ctx = CheckContext(scale="gpu", data_dir=tmp_path)
    configs = planned_configs(ctx)
    assert {c["data"] for c in configs} == {"tinyimagenet", "cifar10"}
    assert {c["method"] for c in configs} == {"simclr", "cissl", "dino", "dissl", "exact"}
    for kwargs in configs:
        assert kwargs["device"] == "cuda" and kwargs["arch"] == "resnet18" and kwargs["epochs"] == 300
        assert kwargs["batch_size"] == (512 if kwargs["method"] in ("simclr", "cissl", "exact") else 256)
        TrainConfig.from_flags(**{**kwargs, "device": "cpu"}, out=str(tmp_path / "run")).validate()
    dissl = [c for c in configs if c["method"] == "dissl"]
    assert {c.get("n_codes") for c in dissl} >= {16384, 24000}  # Fig 7a: more codes for weaker augmentation


def test_quick_and_cpu_configurations_validate(tmp_path):
    from ssltheory.paper_checks.empirical import planned_configs
    from ssltheory.ssl.train import TrainConfig

    for scale in ("quick", "cpu"):
        configs = planned_configs(CheckContext(scale=scale))
        for kwargs in configs:
            TrainConfig.from_flags(**kwargs, out=str(tmp_path / "run")).validate()
        # Fig 7c's two arms (E3/E4): CISSL with its linear student and with an MLP student, at both dimensions
        cissl = {(c.get("student_head", "linear"), c["z_dim"]) for c in configs if c["method"] == "cissl"}
        assert {h for h, _ in cissl} == {"linear", "mlp"} and len(cissl) == 4


def test_quick_empirical_claims_train_probe_and_judge_consistently(capsys, tmp_path):
    """E1-E7 at quick scale, end to end through the command line (tiny real training runs): every
    claim reaches a verdict (no error), and each verdict follows from its own evidence by the stated
    rule (pass iff every compared difference is above -tolerance). Which way the tiny runs go is a
    measurement, recorded in RESULTS.md and the closing notes, not asserted here."""
    pytest.importorskip("torch")
    code = main(["paper-check", "--scale", "quick", "empirical", "--json"])
    results = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(results) == [f"E{i}" for i in range(1, 8)]
    for claim_id, r in results.items():
        assert r["verdict"] in ("pass", "fail"), (claim_id, r["measured"])
        ev = r["evidence"]
        comparisons = ([ev] if "diff" in ev else list(ev["label_fractions"].values()) if "label_fractions" in ev
                       else [ev["linear_probe"], ev["mlp_probe"]])
        for c in comparisons:
            assert c["tolerance"] == 0.03 and c["diff"] == pytest.approx(c["mean_a"] - c["mean_b"])
            assert c["not_contradicted"] == (c["diff"] > -c["tolerance"])
        assert (r["verdict"] == "pass") == all(c["not_contradicted"] for c in comparisons), claim_id
    assert code == (1 if any(r["verdict"] == "fail" for r in results.values()) else 0)
    # the cpu-scale figure draws every comparison of this evidence: one panel per difference, each seed a row
    from ssltheory.paper_checks.plots import comparison_panels, plot_empirical

    entries = list(results.values())
    written = plot_empirical(entries, tmp_path / "e.png", tmp_path / "e.csv")
    assert [p.name for p in written] == ["e.png", "e.csv"] and (tmp_path / "e.png").stat().st_size > 0
    panels = [p for r in entries for p in comparison_panels(r)]
    assert len(panels) == 1 + 1 + 1 + 1 + 3 + 1 + 2  # E5: one per label budget; E7: linear and MLP probe
    rows = list(csv.DictReader(open(tmp_path / "e.csv")))
    assert len(rows) == 2 * len(panels)  # quick scale: one seed per arm
    for p in panels:
        assert p["diff"] == pytest.approx(sum(p["values_a"]) / len(p["values_a"]) - sum(p["values_b"]) / len(p["values_b"]), abs=1e-3)
