"""The benchmark harness (``ssltheory bench``): row schema, ratio definitions, the alternating
timer, and the plain reference losses it races against. Never asserts on timings."""

from __future__ import annotations

import io
import json
import math
import random
from contextlib import redirect_stdout

import pytest
import torch
from hypothesis import assume, given, strategies as st

from ssltheory.benchmarks import cli, reference_losses as ref
from ssltheory.benchmarks.harness import (
    ROW_KEYS,
    SLOWDOWN,
    SPEEDUP,
    pending_row,
    slowdown_row,
    speedup_row,
    time_alternately,
)
from ssltheory.testing import strategies

EXPECTED_ROWS = {
    "probe_fit_10_classes",
    "probe_fit_100_classes",
    "is_ideal_K128_d128_float64_full_dim",
    "is_ideal_K256_d256_float32_full_dim",
    "is_ideal_K64_d16_float32_dim_deficit",
    "is_ideal_check_cli_n2000_d256_K200_float32",
    "is_ideal_exact_verify_K64_d64_float64",
    "loss_simclr",
    "loss_cissl",
    "loss_dino",
    "loss_dissl",
    "loss_swav",
    "loss_barlow",
    "loss_simsiam",
    "train_throughput",
    "train_throughput_augment_only",
    "gpu_resnet18_two_view_epoch",
    "gpu_resnet18_epoch_within_1s",
    "cli_help",
    "cli_help_check",
    "monitor_overhead",
    "score_cli_realistic_240x96",
    "score_cli_clean_240x96",
    "check_cli_tol0.01_realistic_240x96",
    "score_api_realistic_80x32",
}


def check_row(row: dict) -> None:
    """The JSON row schema of benchmarks/harness.py, and the consistency of its fields."""
    assert tuple(row) == ROW_KEYS, f"keys {tuple(row)}"
    assert isinstance(row["name"], str) and row["name"]
    assert row["status"] in ("ok", "pending", "error")
    assert row["ratio_def"] in (SPEEDUP, SLOWDOWN)
    assert row["target"].startswith(">= " if row["ratio_def"] == SPEEDUP else "<= ")
    assert isinstance(row["details"], dict)
    if row["status"] != "ok":
        assert row["ours_s"] is None and row["baseline_s"] is None and row["ratio"] is None
        assert row["meets_target"] is None
        assert ("reason" if row["status"] == "pending" else "error") in row["details"]
        return
    ours, base, ratio = row["ours_s"], row["baseline_s"], row["ratio"]
    assert isinstance(ours, float) and ours > 0 and isinstance(base, float) and base > 0
    expected = base / ours if row["ratio_def"] == SPEEDUP else ours / base
    assert ratio == pytest.approx(expected, rel=1e-9)
    bound = float(row["target"].split()[1])
    ratio_ok = ratio >= bound if row["ratio_def"] == SPEEDUP else ratio <= bound
    assert isinstance(row["meets_target"], bool)
    if not ratio_ok:
        assert row["meets_target"] is False


@pytest.mark.slow
def test_quick_run_prints_one_valid_json_row_per_benchmark_and_writes_the_report(tmp_path):
    out = tmp_path / "RESULTS.md"
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = cli.main(["--quick", "--json", "--out", str(out)])
    rows = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    for row in rows:
        check_row(row)
    assert {r["name"] for r in rows} == EXPECTED_ROWS
    errors = {r["name"]: r["details"]["error"] for r in rows if r["status"] == "error"}
    assert not errors, errors
    assert code == 0
    for name in ("gpu_resnet18_two_view_epoch", "gpu_resnet18_epoch_within_1s"):
        gpu = next(r for r in rows if r["name"] == name)
        assert gpu["status"] == ("ok" if torch.cuda.is_available() else "pending")
    # the losses race equal computations
    for r in rows:
        if r["name"].startswith("loss_"):
            assert r["details"]["values_agree"] and r["details"]["grads_agree"], r
    # the probe row reports both accuracies, and the gap is their difference
    for r in rows:
        if r["name"].startswith("probe_fit"):
            d = r["details"]
            assert d["accuracy_gap_points"] == pytest.approx(d["test_accuracy_ours"] - d["test_accuracy_sklearn"])
    report = out.read_text()
    assert "ssltheory bench --quick --json" in report and "| cpu |" in report and "torch" in report
    for r in rows:
        assert f"| {r['name']} |" in report
    assert [json.loads(line) for line in report.split("```json\n")[1].split("```")[0].splitlines()] == rows


def test_only_runs_the_named_rows():
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = cli.main(["--quick", "--json", "--only", "loss_dino", "gpu"])
    names = [json.loads(line)["name"] for line in buffer.getvalue().splitlines()]
    assert names == ["loss_dino", "gpu_resnet18_two_view_epoch", "gpu_resnet18_epoch_within_1s"]
    assert code == 0


def test_update_replaces_some_rows_of_a_report_and_keeps_the_rest(tmp_path, capsys):
    from ssltheory.benchmarks.report import read_rows, update_results, write_results
    from ssltheory.cli import main

    machine = {"date_utc": "2026-01-01 00:00:00", "cpu": "test cpu"}
    first = [slowdown_row("is_ideal_a", 2.0, 1.0, 1.0, {"n": 1}), slowdown_row("loss_b", 1.0, 1.0, 1.2, {"n": 2})]
    path = write_results(tmp_path / "RESULTS.md", first, machine, "ssltheory bench", 10.0, [0.1], [0.2])
    again = slowdown_row("is_ideal_a", 0.5, 1.0, 1.0, {"n": 3})
    update_results(
        path, [again, pending_row("gpu_c", SPEEDUP, ">= 1.5", "no GPU")], "2026-02-02 UTC by `x`, load [0] -> [0]"
    )
    text = path.read_text()
    rows = {r.name: r for r in read_rows(text)}
    assert list(rows) == ["is_ideal_a", "loss_b", "gpu_c"]  # replaced in place, kept, added
    assert (
        rows["is_ideal_a"].ratio == 0.5
        and rows["is_ideal_a"].meets_target
        and rows["is_ideal_a"].details["measured"].startswith("2026-02-02")
    )
    assert rows["loss_b"].details == {"n": 2} and "measured" not in rows["loss_b"].details
    assert text.startswith("# Benchmark results") and "| cpu | test cpu |" in text and "were re-run later" in text
    assert text.count("## Results") == 1 and "| is_ideal_a | 0.5000 |" in text
    # bad uses are one line and exit 2, before anything runs
    for argv in (
        ["bench", "--update", str(path)],
        ["bench", "--only", "loss_dino", "--update", str(tmp_path / "none.md")],
        ["bench", "--only", "loss_dino", "--update", str(path), "--out", str(tmp_path / "o.md")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "--update" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "other.md").write_text("# something else\n")
    with pytest.raises(ValueError, match="not a report written by ssltheory bench"):
        update_results(tmp_path / "other.md", [again], "now")


def test_an_unknown_benchmark_name_is_bad_input_with_exit_code_2(capsys):
    from ssltheory.cli import main

    assert main(["bench", "--only", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "nonsense" in err and len(err.strip().splitlines()) == 1


# ---- ratio definitions: a tiny fixed example each -------------------------------------------------


def test_speedup_rows_divide_baseline_by_ours():
    row = speedup_row("x", ours_s=2.0, baseline_s=10.0, at_least=5, details={})
    assert (row.ratio, row.ratio_def, row.target, row.meets_target) == (5.0, SPEEDUP, ">= 5", True)
    assert speedup_row("x", 2.0, 10.0, 5, {}, extra_ok=False, extra_target="same accuracy").meets_target is False
    check_row(row.to_dict())


def test_slowdown_rows_divide_ours_by_baseline():
    row = slowdown_row("x", ours_s=3.0, baseline_s=2.0, at_most=1.2, details={})
    assert (row.ratio, row.ratio_def, row.target, row.meets_target) == (1.5, SLOWDOWN, "<= 1.2", False)
    check_row(row.to_dict())
    check_row(pending_row("y", SLOWDOWN, "<= 2", "no GPU").to_dict())


# ---- the alternating timer ----------------------------------------------------------------------


@given(repeats=st.integers(1, 6), warmup=st.integers(0, 2))
def test_timer_alternates_sides_flips_the_order_each_round_and_drops_the_warmup(repeats, warmup):
    log = []
    ours_t, base_t = time_alternately(lambda: log.append("o"), lambda: log.append("b"), repeats=repeats, warmup=warmup)
    assert len(ours_t) == len(base_t) == repeats
    # expected call sequence, written out independently: warm-up pairs, then alternating rounds
    expected = ["o", "b"] * warmup + [c for r in range(repeats) for c in (("o", "b") if r % 2 == 0 else ("b", "o"))]
    assert log == expected


def test_timer_example_two_rounds_one_warmup():
    log = []
    time_alternately(lambda: log.append("o"), lambda: log.append("b"), repeats=2, warmup=1)
    assert "".join(log) == "obobbo"


# ---- the reference losses are the formulas they claim -------------------------------------------


def _ntxent_loop(z_a, z_b, temperature):
    """NT-Xent by explicit loops over rows and candidates, in float64 python arithmetic."""
    z = [[float(v) for v in row] for row in torch.cat([z_a, z_b])]
    z = [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in z]
    n = len(z)
    total = 0.0
    for i in range(n):
        pos = (i + n // 2) % n
        scores = {j: sum(a * b for a, b in zip(z[i], z[j])) / temperature for j in range(n) if j != i}
        total += -scores[pos] + math.log(sum(math.exp(s) for s in scores.values()))
    return total / n


@given(
    st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
        lambda shape: st.tuples(
            strategies.float_matrices(*shape, bound=3.0), strategies.float_matrices(*shape, bound=3.0)
        )
    )
)
def test_reference_ntxent_equals_the_loop_formula(views):
    z_a, z_b = (torch.from_numpy(z) for z in views)
    assume(min(z_a.norm(dim=1).min(), z_b.norm(dim=1).min()) >= 1e-3)  # rows are normalised
    assert float(ref.ntxent(z_a, z_b, 0.5)) == pytest.approx(_ntxent_loop(z_a, z_b, 0.5), rel=1e-4, abs=1e-5)


def test_reference_ntxent_example_two_orthogonal_pairs():
    # views identical, images orthogonal: each row has candidates {positive: 1/T, other two: 0}
    z = torch.eye(2)
    expected = -1 / 0.5 + math.log(math.exp(1 / 0.5) + 2)
    assert float(ref.ntxent(z, z, 0.5)) == pytest.approx(expected, rel=1e-6)


def test_reference_cissl_reaches_log2_when_views_agree_and_images_are_far_apart():
    # THEORY.md T8: every row is at least log 2, reached as the temperature sharpens orthogonal codes
    z = torch.eye(4)
    assert float(ref.cissl(z, z, z, z, temperature=0.01)) == pytest.approx(math.log(2), abs=1e-6)
    g = torch.Generator().manual_seed(0)
    s_a, s_b, t_a, t_b = (torch.randn(6, 3, generator=g) for _ in range(4))
    assert float(ref.cissl(s_a, s_b, t_a, t_b)) >= math.log(2) - 1e-6


@pytest.mark.parametrize("n_classes, n_codes", [(2, 4), (3, 6), (4, 2), (4, 4)])
def test_reference_dissl_attains_the_minimum_of_theory_t7(n_classes, n_codes):
    # THEORY.md T7.2: invariant teacher, matching student, equal class masses, lambda > 1 + beta.
    # C >= K: each class spread uniformly over its own C/K codes; C <= K: C equal groups of classes.
    lam, beta = 2.3, 0.8
    per_class = 2
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    logits = torch.full((len(labels), n_codes), -1e4)
    for i, m in enumerate(labels.tolist()):
        if n_codes >= n_classes:
            width = n_codes // n_classes
            logits[i, m * width : (m + 1) * width] = 0.0
        else:
            logits[i, m % n_codes] = 0.0
    teacher = logits  # both views of an image get the class's codes: an invariant teacher
    student = logits * 2.0  # student temperature 1 vs teacher 0.5: the same distribution
    value = float(ref.dissl(teacher, teacher.clone(), student, student.clone(), lam=lam, beta=beta))
    if n_codes >= n_classes:
        minimum = -(lam - 1 - beta) * math.log(n_codes) - (1 + beta) * math.log(n_classes)
    else:
        minimum = -lam * math.log(n_codes)
    assert value == pytest.approx(minimum, abs=1e-5)


def test_reference_dino_is_the_mean_cross_entropy_over_the_two_ordered_view_pairs():
    g = torch.Generator().manual_seed(1)
    s = [torch.randn(3, 5, generator=g, dtype=torch.float64) for _ in range(2)]
    t = [torch.randn(3, 5, generator=g, dtype=torch.float64) for _ in range(2)]
    center = torch.zeros(1, 5, dtype=torch.float64)
    value = float(ref.dino(s, t, center, teacher_temp=0.5, student_temp=0.25, center_momentum=0.9))
    total = 0.0
    for a, b in ((0, 1), (1, 0)):
        for i in range(3):
            p = [math.exp(float(x) / 0.5) for x in t[a][i]]
            q = [math.exp(float(x) / 0.25) for x in s[b][i]]
            total += -sum(pi / sum(p) * math.log(qi / sum(q)) for pi, qi in zip(p, q))
    assert value == pytest.approx(total / 6, rel=1e-6)  # the reference computes in float32
    assert torch.allclose(center, 0.1 * torch.cat(t).mean(0, keepdim=True))


# ---- the baselines' own pieces ------------------------------------------------------------------


def test_per_image_pipeline_gives_two_normalised_views_of_the_right_shape():
    from ssltheory.benchmarks.throughput import PerImageTwoViews

    images = torch.randint(0, 256, (3, 3, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    random.seed(0)
    a, b = PerImageTwoViews(images, size=8)[1]
    assert a.shape == b.shape == (3, 8, 8) and a.dtype == torch.float32
    mean = torch.tensor((0.485, 0.456, 0.406)).view(3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)
    for view in (a, b):  # un-normalised pixels lie in [0, 1]
        pixels = view * std + mean
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_gpu_epoch_code_path_runs_on_the_cpu_at_toy_sizes():
    from ssltheory.benchmarks.gpu import compare_epochs_rows

    speedup, budget = compare_epochs_rows(
        "cpu",
        n_images=32,
        batch_size=8,
        arch="small_cnn",
        method="simclr",
        image_size=16,
        repeats=1,
        warmup_steps=1,
        num_workers=0,
    )
    for row in (speedup, budget):
        check_row(row.to_dict())
        assert row.details["flops_per_step"] > 0 and row.details["mfu"] is None
    assert budget.name == "gpu_resnet18_epoch_within_1s" and budget.meets_target is False  # no MFU without a GPU
    assert budget.ours_s == pytest.approx(speedup.ours_s * 50_000 / 32)  # the epoch scaled to 50,000 images


def test_probe_mapping_gives_sklearn_the_same_objective_as_ours():
    # C = 1 / (lam * n): sklearn's C * sum CE + ||W||^2 / 2, divided by C * n, is mean CE + lam / 2 ||W||^2
    from ssltheory.benchmarks.probe_fit import sklearn_probe

    lam, n = 1e-3, 250
    assert sklearn_probe(lam, n)[-1].C == pytest.approx(1 / (lam * n))
