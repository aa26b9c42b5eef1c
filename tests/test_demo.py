"""The ideal-ness report and the demo.

The report's verdict comes from the theory core; here it is checked independently: affine
independence of the class codes by an exact rational rank (ssltheory/testing/oracles.py), and the
certificate's task by a scipy LP written out here (both hulls meet). The demo runs as a smoke test (``--quick``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ssltheory import cli
from ssltheory.report import score_representation, write_report
from ssltheory.testing.oracles import exact_affine_rank, hulls_intersect

# ---- the report's verdict -----------------------------------------------------------------------


def test_report_on_collinear_codes_example(tmp_path):
    # collinear codes (0,0), (1,0), (2,0), two points each: "middle versus ends" fails (cf. docs/THEORY.md T1.4)
    Z = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), 2, axis=0)
    section = score_representation(Z, [0, 0, 1, 1, 2, 2], accuracies={"probe": 0.5})
    assert not section["verdict"]["ideal"]
    assert section["verdict"]["certificate"]["task"] in ([0, 1, 0], [1, 0, 1])
    assert section["scores"]["affine_rank"] == 1 and section["scores"]["invariance_ratio"] == 0.0
    assert section["failing"] == ["affine_independence", "dimension"] or "affine_independence" in section["failing"]
    assert section["ideal_score"] < 1.0 and section["verdict"]["n_points"] == 6
    paths = write_report(tmp_path, {"collinear": section})
    saved = json.loads(paths["json"].read_text())
    assert saved["sections"]["collinear"]["verdict"]["ideal"] is False
    assert "FAILS" in paths["md"].read_text() and paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_on_non_invariant_views_names_the_pair_that_differs(tmp_path):
    rng = np.random.default_rng(0)
    Z = np.repeat(np.eye(4)[:, :3] * 5, 3, axis=0) + 0.2 * rng.standard_normal((12, 3))
    section = score_representation(Z, np.repeat(np.arange(4), 3), augmentation={"kind": "simclr", "strength": 1.0})
    assert "invariance" in section["failing"] and section["ideal_score"] < 1.0
    witness = section["verdict"]["certificate"]["witness"]
    i, j = witness["pair"]
    assert i // 3 == j // 3 and np.linalg.norm(Z[i] - Z[j]) == pytest.approx(witness["distance"])
    md = write_report(tmp_path, {"noisy": section})["md"].read_text()
    assert f"views {[i, j]} are views of one class" in md and "reference augmentation simclr" in md


@given(
    st.integers(2, 5).flatmap(
        lambda K: st.tuples(st.just(K), st.integers(1, 4), st.lists(st.integers(-3, 3), min_size=K * 4, max_size=K * 4))
    )
)
def test_report_verdict_is_affine_independence_of_integer_class_codes(args):
    K, d, values = args
    codes = np.array(values[: K * d], dtype=float).reshape(K, d)
    if len({tuple(c) for c in codes}) < K:
        return  # shared codes: a different condition, tested by the theory core
    labels = np.repeat(np.arange(K), 2)
    section = score_representation(codes[labels], labels, tol=1e-9)
    assert (section["ideal_score"] == 1.0) == (independent := exact_affine_rank(codes) == K - 1)
    independent = exact_affine_rank(codes) == K - 1
    assert section["verdict"]["ideal"] == independent
    if not independent:  # the certificate's task: the two groups' hulls meet, so no linear probe splits them
        task = np.array(section["verdict"]["certificate"]["task"])
        assert hulls_intersect(codes[task == 0], codes[task == 1])


def test_report_refuses_bad_input_naming_it():
    with pytest.raises(ValueError, match="classes"):
        score_representation(np.zeros((4, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="single class"):
        score_representation(np.random.default_rng(0).normal(size=(4, 2)), [0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"accuracies\['x'\]"):
        score_representation(np.eye(4), [0, 0, 1, 1], accuracies={"x": 1.5})
    with pytest.raises(ValueError, match="sections is empty"):
        write_report("unused", {})


# ---- the demo --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_quick_writes_the_report_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # part 1: the generated examples, with the certificate checked by an LP
    assert "linear probes: IDEAL" in printed and "linear probes: NOT IDEAL" in printed
    assert "linearly realizable on the points? False" in printed
    checks = json.loads((out / "exact_checks.json").read_text())
    assert [c["linear"]["ideal"] for c in checks] == [True, False]
    assert [c["universal"]["ideal"] for c in checks] == [True, True]
    # parts 2-4: trained runs, probes and the report
    for method in ("cissl", "dissl"):
        assert (out / "runs" / method / "encoder.pt").exists()
    report = json.loads((out / "report.json").read_text())
    assert set(report["sections"]) == {"random init", "cissl", "dissl"}
    for section in report["sections"].values():
        accs = section["accuracies"]
        assert 0 <= accs["worst binary task (test)"] <= 1 and 0 <= accs["linear probe (test)"] <= 1
        assert section["extra"]["n_binary_tasks"] == 2 ** (section["extra"]["n_labels"] - 1) - 1
        assert {"n_points", "n_classes", "ideal"} <= set(section["verdict"]) and "ideal_score" in section
        assert section["augmentation"] == {"kind": "simclr", "strength": 1.0}
        assert section["n_points"] == section["verdict"]["n_points"] == 36  # 3 views of 12 images
    assert not report["sections"]["random init"]["verdict"]["ideal"]
    assert (out / "report.png").stat().st_size > 0 and "## dissl" in (out / "report.md").read_text()
    assert "representation" in printed and "worst binary task" in printed
    # a rerun reuses the finished runs; another configuration in the same folder says what to do
    assert cli.main(["demo", "--quick", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["demo", "--quick", "--steps", "5", "--out", str(out)]) == 2
    assert f"use --out DIR or delete {out}" in capsys.readouterr().err


def test_demo_rejects_bad_options(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "--steps", "0", "--out", str(tmp_path / "d")]) == 2
    assert "steps must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
