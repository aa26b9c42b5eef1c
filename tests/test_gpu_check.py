"""The one-shot GPU check's CPU dry run: every stage runs at toy sizes and the results file is complete.

The numbers of a real run need a CUDA device (`make gpu-check`); here the claim is only that the
path runs end to end (train and time both methods with ResNet-18, count FLOPs, probe, score, run
`bench --only gpu`, write the JSON and Markdown) and refuses to pretend when no GPU is there.
"""

from __future__ import annotations

import json

import pytest
import torch
from test_ssl_data import mnist_tree

from ssltheory.benchmarks import gpu_check
from ssltheory.benchmarks.cli import gpu_check_main


def test_dry_run_trains_probes_scores_and_writes_the_results(tmp_path):
    mnist_tree(tmp_path / "mnist", gz=False, n_train=60, n_test=20)
    record = gpu_check.run_check(dry_run=True, data_dir=tmp_path / "mnist", sizes=gpu_check.DRY, echo=lambda text: None)
    assert set(record["methods"]) == {"cissl", "dissl"}
    for name, m in record["methods"].items():
        assert m["arch"] == "resnet18" and m["images_per_s"] > 0 and m["flops_per_step"] > 0, name
        assert m["mfu"] is None and m["peak_bf16_tflops"] is None  # no GPU: no peak to compare with
        assert 0 <= m["evaluation"]["linear_accuracy"] <= 1
        assert "ideal_score" in m["evaluation"]["scores"]
    (bench,) = record["bench_gpu"]
    assert bench["name"] == "gpu_resnet18_two_view_epoch"
    assert bench["status"] == ("pending" if not torch.cuda.is_available() else "ok")
    written = gpu_check.write_results(record, tmp_path / "out")
    assert json.loads(written[0].read_text())["methods"]["dissl"]["method"] == "dissl"
    md = written[1].read_text()
    assert "| cissl |" in md and "| dissl |" in md and "unknown" in md


def test_peak_table_knows_the_usual_devices():
    from ssltheory.benchmarks.gpu import peak_flops

    assert peak_flops("NVIDIA H200") == peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA A100-SXM4-80GB") == 312e12 and peak_flops("Some GPU") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_a_gpu_the_real_check_exits_2_with_one_line(capsys, tmp_path):
    assert gpu_check_main(["--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gpu-check: error: no CUDA device") and len(err.splitlines()) == 1
