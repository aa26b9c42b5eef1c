"""The GPU check survives first contact: run on the CPU (``--dry-run``, the CUDA code path: bf16 autocast,
channels-last, fused Adam, device generator), with kornia, python-flint and submitit unimportable as on
the device image, it writes every stage's lines to ``--out`` as each finishes; a stage that dies or runs
past its deadline is recorded and the next one runs; a check killed mid-way leaves its finished lines.

The numbers of a real run need a CUDA device; here the claim is only that the path runs end to end and
refuses to pretend when no GPU is there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_ssl_data import mnist_tree

from ssltheory.benchmarks import gpu_check

REPO = Path(__file__).resolve().parents[1]
#: what the device image lacks, made unimportable in the child processes (a sitecustomize runs first)
BLOCKER = "import sys\nfor _name in ('kornia', 'flint', 'submitit'):\n    sys.modules[_name] = None\n"


def _env(tmp_path: Path) -> dict:
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)]),
        "OMP_NUM_THREADS": "1",
        "SSLTHEORY_MNIST": str(tmp_path / "mnist"),
    }


def _check(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ssltheory.benchmarks.gpu_check", "--dry-run", "--out", str(tmp_path / "out"), *extra]


@pytest.mark.slow
def test_dry_run_without_kornia_flint_or_submitit_writes_every_stage(tmp_path):
    mnist_tree(tmp_path / "mnist", gz=False, n_train=60, n_test=20)
    result = subprocess.run(_check(tmp_path), env=_env(tmp_path), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    lines = gpu_check.read_lines(out)
    parts = {(r["stage"], r.get("part")): r for r in lines}
    failed = [r for r in lines if r["status"] not in ("ok",)]
    assert not failed, json.dumps(failed)[:3000]
    env = parts[("first_contact", "environment")]
    assert env["has_kornia"] is None and env["has_flint"] is None and env["has_submitit"] is None  # as on the image
    assert "float-lp" in env["exact_verification"]
    from ssltheory.ssl.methods import METHODS

    for name in METHODS:  # the model-only step of every method, cudnn.benchmark off and on
        step = parts[("first_contact", f"model_step_{name}")]
        assert step["flops_per_step"] > 0 and step["cudnn_benchmark_on"]["ms_per_step"] > 0
    aug = parts[("first_contact", "augmentation")]
    assert aug["host_reads_per_call"] == 0 and aug["cuda_syncs_per_call"] is None  # no CUDA here: not counted
    assert parts[("first_contact", "trainer_steps")]["steps"] == 2
    assert "Name" in (out / "profile.txt").read_text()
    assert parts[("compile", "encoder")]["backend"] == "eager"
    for name in ("cissl", "dissl"):
        assert parts[(f"train_{name}", "train")]["flops_per_step"] > 0
        assert 0 <= parts[(f"train_{name}", "probe_and_score")]["linear_accuracy"] <= 1
    rows = {r["name"]: r for r in parts[("bench_gpu", "rows")]["rows"]}
    assert set(rows) == {"gpu_resnet18_two_view_epoch", "gpu_resnet18_epoch_within_1s"}
    assert json.loads((out / "GPU_RESULTS.json").read_text()) == lines
    md = (out / "GPU_RESULTS.md").read_text()
    assert "| first_contact | model_step_dissl | ok |" in md and "cudnn.benchmark" in md
    assert len([p for p in out.iterdir()]) <= 8  # what comes back from the device: 8 files at most


def test_a_stage_past_its_deadline_is_recorded_and_the_next_stage_runs(tmp_path):
    """The compile stage cut at once (a one-second deadline), then a stage that fails (no MNIST): each gets
    its line, and the check still exits 0 with its report."""
    result = subprocess.run(
        _check(tmp_path, "--only", "compile,train_cissl", "--stage-deadlines", "compile=1"),
        env={**_env(tmp_path), "SSLTHEORY_MNIST": str(tmp_path / "nowhere")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = gpu_check.read_lines(tmp_path / "out")
    by_stage = {}
    for r in lines:
        by_stage.setdefault(r["stage"], []).append(r)
    assert by_stage["compile"][-1]["status"] == "timeout" and "deadline" in by_stage["compile"][-1]["error"]
    train = by_stage["train_cissl"]
    assert any(r["status"] == "error" for r in train), train
    assert (tmp_path / "out" / "GPU_RESULTS.md").exists()


def test_a_check_killed_mid_way_keeps_the_finished_stages_lines(tmp_path):
    mnist_tree(tmp_path / "mnist", gz=False, n_train=60, n_test=20)
    child = subprocess.Popen(
        _check(tmp_path),
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    lines_path = tmp_path / "out" / "stages.jsonl"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # until the first model step's line is written
            if lines_path.exists() and "model_step_" in lines_path.read_text():
                break
            time.sleep(0.2)
        else:
            pytest.fail("no model-step line within 10 minutes")
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the check and its stage, mid-way
        child.wait()
    lines = gpu_check.read_lines(tmp_path / "out")
    assert lines[0]["stage"] == "plan"
    done = [r.get("part") for r in lines if r["stage"] == "first_contact"]
    assert done[:2] == ["environment", "matmul_peak"] and any(p.startswith("model_step_") for p in done)
    assert all(r["status"] == "ok" for r in lines)
    assert not (tmp_path / "out" / "GPU_RESULTS.md").exists()  # never reached: the lines are what remains


def test_lines_are_complete_json_even_when_the_last_one_was_cut(tmp_path):
    gpu_check.emit(tmp_path, {"stage": "a", "status": "ok", "value": 1.5})
    with open(tmp_path / gpu_check.LINES, "a") as handle:
        handle.write('{"stage": "b", "sta')  # a write cut by a kill
    assert gpu_check.read_lines(tmp_path) == [{"stage": "a", "status": "ok", "value": 1.5}]


def test_the_host_read_counter_and_the_cuda_sync_counter():
    x = torch.arange(4.0)
    with gpu_check.HostReads() as reads:
        x.sum().item()
        x[x > 1]
        torch.where(x > 1, x, 0.0)
    assert reads.calls == ["item", "__getitem__[bool mask]"]
    assert gpu_check.cuda_syncs(lambda: None) == (0 if torch.cuda.is_available() else None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_a_gpu_the_real_check_exits_2_with_one_line(capsys, tmp_path):
    assert gpu_check.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gpu-check: error: no CUDA device") and len(err.splitlines()) == 1
    assert gpu_check.main(["--out", str(tmp_path), "--dry-run", "--only", "nonsense"]) == 2
    assert "unknown stage 'nonsense'" in capsys.readouterr().err


def test_exact_verification_falls_back_to_float_lp_without_python_flint(tmp_path):
    """As on the device image: ``auto`` verification says float-lp and why, instead of an ImportError."""
    code = (
        "import json, numpy as np\n"
        "from ssltheory.conditions import is_ideal\n"
        "Z = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.]]).repeat(2, axis=0)\n"
        "v = is_ideal(Z, np.arange(4).repeat(2)).to_dict()\n"
        "print(json.dumps(v['certificate']['witness']['verification']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    verification = json.loads(result.stdout)
    assert verification["check"] == "float-lp" and "python-flint is not installed" in verification["reason"]


def test_peak_table_knows_the_usual_devices():
    from ssltheory.benchmarks.gpu import peak_flops

    assert peak_flops("NVIDIA H200") == peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA A100-SXM4-80GB") == 312e12 and peak_flops("Some GPU") is None
