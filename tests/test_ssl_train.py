"""The trainer: schedule, sampling, exact resumption, refusals, NaN handling, run directory.

Tiny runs only (scikit-learn's 8x8 digits, a few steps, a small CNN) so the file stays fast.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, strategies as st

from ssltheory import cli
from ssltheory.ssl import train as T
from ssltheory.ssl.methods import options_from_flags
from ssltheory.ssl.train import TrainConfig, load_checkpoint, load_run, train, warmup_cosine

REPO = Path(__file__).resolve().parents[1]


#: method options given flag-style to ``tiny`` (aliases such as proj_dim allowed)
OPTION_FLAGS = ("hidden_dim", "proj_dim", "n_codes", "student_head", "exact_head", "mlp_hidden_dim", "variant")


def tiny(tmp_path: Path, **overrides) -> TrainConfig:
    """A run of a few steps on 8x8 digits with a small CNN and narrow heads."""
    base = dict(
        method="dissl",
        data="digits",
        arch="small_cnn",
        z_dim=8,
        steps=6,
        batch_size=16,
        hidden_dim=16,
        aug_strength=0.5,
        checkpoint_every=2,
        log_every=1,
        quiet=True,
        out=str(tmp_path / "run"),
    )
    base.update(overrides)
    flags = {k: base.pop(k) for k in OPTION_FLAGS if k in base}
    if base["method"] != "exact":
        flags.setdefault("proj_dim", 8)
    if base["method"] in ("dino", "dissl"):
        flags.setdefault("n_codes", 12)
    if base["method"] == "cissl":
        flags.setdefault("mlp_hidden_dim", 16)
    return TrainConfig(**base, method_options=options_from_flags(base["method"], flags))


def stop_at(k: int):
    """A train() callback that stops the run after step ``k``, as if it had been killed there."""
    return lambda step, record: step >= k


def weights(run_dir: Path) -> dict:
    return torch.load(Path(run_dir) / "encoder.pt", map_location="cpu", weights_only=True)


# ---- learning-rate schedule -------------------------------------------------------------------


def test_warmup_starts_above_zero_example():
    assert warmup_cosine(0, 10, 100) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100) == pytest.approx(0.5)
    assert warmup_cosine(100, 10, 100) == pytest.approx(0.0)


@given(st.integers(0, 50), st.integers(1, 400))
def test_warmup_then_cosine_is_positive_rising_then_falling(warmup, extra):
    total = warmup + extra
    lrs = [warmup_cosine(s, warmup, total) for s in range(total)]
    assert all(lr > 0 for lr in lrs)  # no step at lr 0: the authors' first-epoch bug
    assert max(lrs) == pytest.approx(1.0)
    peak = max(warmup - 1, 0)
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1 : peak + 1]))  # strictly rising warm-up
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))  # then non-increasing
    # the cosine half matches its closed form, written out independently
    for s in range(warmup, total):
        assert lrs[s] == pytest.approx((1 + math.cos(math.pi * (s - warmup) / extra)) / 2)


# ---- sampling -----------------------------------------------------------------------------------


def test_epoch_sampler_covers_each_index_once_per_epoch_example():
    sampler = T._EpochSampler(10, 3, seed=0)
    first_epoch = torch.cat([sampler.next_batch() for _ in range(3)])
    assert len(set(first_epoch.tolist())) == 9  # 3 batches of 3 distinct indices, one index left over


@given(st.integers(2, 60), st.integers(1, 60), st.integers(0, 10))
def test_epoch_sampler_draws_distinct_indices_within_each_epoch(n, batch, seed):
    batch = min(batch, n)
    sampler = T._EpochSampler(n, batch, seed=seed)
    per_epoch = n // batch
    for _ in range(2):
        drawn = torch.cat([sampler.next_batch() for _ in range(per_epoch)]).tolist()
        assert len(drawn) == len(set(drawn)) == per_epoch * batch
        assert all(0 <= i < n for i in drawn)


# ---- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("method", "byol", "method"),
        ("data", "imagenet", "data"),
        ("steps", 0, "steps"),
        ("batch_size", 1, "batch_size"),
        ("aug_strength", -1.0, "aug_strength"),
        ("device", "tpu", "device"),
        ("method_options", {"student_head": "deep"}, "student_head"),
        ("method_options", {"student_head": "mlp"}, r"unknown option\(s\) \['student_head'\] for method 'dissl'"),
    ],
)
def test_bad_config_is_refused_naming_the_field(tmp_path, field, value, words):
    with pytest.raises(ValueError, match=words):
        replace(tiny(tmp_path), **{field: value}).validate()


def test_steps_and_epochs_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        tiny(tmp_path, epochs=1.0).validate()


# ---- a run, its files, and exact resumption ------------------------------------------------------


def test_run_writes_config_metrics_checkpoint_and_encoder(tmp_path):
    out = train(tiny(tmp_path))
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "dissl" and config["total_steps"] == 6 and config["image_size"] == 8
    lines = [json.loads(row) for row in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(row["loss"]) for row in lines)
    assert lines[0]["lr"] > 0
    state = load_checkpoint(out / "checkpoint.pt")  # weights_only=True inside
    assert state["step"] == 6
    assert not [p for p in out.iterdir() if ".tmp" in p.name]
    encoder, saved = load_run(out)
    assert not encoder.training and saved["z_dim"] == 8
    with torch.no_grad():
        assert encoder(torch.rand(3, 1, 8, 8)).shape == (3, 8)


@pytest.mark.parametrize(
    "method, extra",
    [
        ("dissl", {}),
        ("dino", {}),
        ("dino", {"variant": "authors"}),
        ("simclr", {}),
        ("cissl", {}),
        ("cissl", {"student_head": "mlp"}),
        ("exact", {"label_views": True}),
    ],
)
def test_resume_after_a_kill_gives_bitwise_the_same_weights(tmp_path, method, extra):
    whole = train(tiny(tmp_path / "whole", method=method, **extra))
    interrupted = tiny(tmp_path / "cut", method=method, **extra)
    train(interrupted, callback=stop_at(3))  # dies after step 3; the last checkpoint is step 2
    assert load_checkpoint(Path(interrupted.out) / "checkpoint.pt")["step"] == 2
    assert not (Path(interrupted.out) / "encoder.pt").exists()
    resumed = train(replace(interrupted, resume=True))
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # metrics of the resumed run read like one uninterrupted run
    steps = [json.loads(row)["step"] for row in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    config = tiny(tmp_path, steps=2)
    train(config)
    before = weights(config.out)
    with pytest.raises(ValueError, match="already holds a run"):
        train(config)
    assert all(torch.equal(before[k], v) for k, v in weights(config.out).items())


def test_checkpoint_from_another_configuration_names_the_keys(tmp_path):
    config = tiny(tmp_path)
    train(config, callback=stop_at(3))
    with pytest.raises(ValueError, match=r"differing keys: .*batch_size.*seed"):
        train(replace(config, resume=True, batch_size=8, seed=1))
    checkpoint = torch.load(Path(config.out) / "checkpoint.pt", weights_only=True)
    checkpoint["config"]["z_dim"] = 4
    torch.save(checkpoint, Path(config.out) / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"checkpoint .* differing keys: z_dim"):
        train(replace(config, resume=True))


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    config = tiny(tmp_path)
    train(config, callback=stop_at(3))
    path = Path(config.out) / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt"):
        train(replace(config, resume=True))


class _NanAfter(torch.nn.Module):
    """Wraps a real method; its loss turns NaN from step ``k`` on."""

    def __init__(self, inner, k):
        super().__init__()
        self.inner, self.k = inner, k
        self.n_views, self.n_global_views, self.needs_labels = inner.n_views, inner.n_global_views, inner.needs_labels

    def training_step(self, views, labels, step, total_steps):
        loss, logs = self.inner.training_step(views, labels, step, total_steps)
        return (loss * float("nan") if step >= self.k else loss), logs

    def on_step_end(self, step, total_steps):
        self.inner.on_step_end(step, total_steps)


def test_nan_loss_exits_2_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    import ssltheory.ssl.methods as methods

    real = methods.build_method
    monkeypatch.setattr(methods, "build_method", lambda *a, **k: _NanAfter(real(*a, **k), 5))
    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "--method",
            "dissl",
            "--data",
            "digits",
            "--steps",
            "8",
            "--batch-size",
            "16",
            "--z-dim",
            "8",
            "--hidden-dim",
            "16",
            "--proj-dim",
            "8",
            "--n-codes",
            "12",
            "--checkpoint-every",
            "2",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "loss became nan at step 5" in err and len(err.strip().splitlines()) == 1
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 4
    assert not (out / "encoder.pt").exists()
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    for argv, words in [
        (["--method", "byol", "--data", "digits"], "method 'byol' is unknown"),
        (["--method", "dissl", "--data", "imagenet"], "data 'imagenet' is unknown"),
        (["--method", "dissl", "--data", "mnist", "--data-dir", str(tmp_path / "nowhere")], ""),
    ]:
        code = cli.main(["train", *argv, "--steps", "2", "--quiet", "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "encoder.pt").exists()
    assert not (tmp_path / "run").exists()  # nothing half-written: not even an empty run directory


@pytest.mark.slow
def test_two_processes_with_gloo_train_and_only_rank_0_writes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "ssltheory.cli",
            "train",
            "--method",
            "simclr",
            "--data",
            "digits",
            "--steps",
            "3",
            "--batch-size",
            "16",
            "--z-dim",
            "8",
            "--hidden-dim",
            "16",
            "--proj-dim",
            "8",
            "--log-every",
            "1",
            "--quiet",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "encoder.pt").exists()
    assert load_checkpoint(out / "checkpoint.pt")["world_size"] == 2
    assert len(load_checkpoint(out / "checkpoint.pt")["rng"]) == 2  # both ranks' augmentation states
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3  # one writer


# ---- the step the loop calls (also timed by benchmarks/throughput.py) -------------------------


def test_train_step_updates_weights_and_refuses_a_non_finite_loss():
    from ssltheory.ssl.encoders import build_encoder
    from ssltheory.ssl.methods import build_method

    torch.manual_seed(0)
    method = build_method("simclr", build_encoder("small_cnn", 1, 8, 8), hidden_dim=16, out_dim=8).train()
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, 1, 4))
    views = [torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)]
    before = [p.detach().clone() for p in params]
    loss, logs, lr = T.train_step(method, views, None, optimizer, scheduler, params, 0, 4)
    assert torch.isfinite(loss) and not loss.requires_grad and lr == pytest.approx(1e-2 * warmup_cosine(0, 1, 4))
    assert any(not torch.equal(a, b) for a, b in zip(before, params))
    assert all(p.grad is None or p.grad.abs().max() <= 2.0 for p in params)  # clipped by value 2
    after_first = [p.detach().clone() for p in params]
    views[0][0, 0, 0, 0] = float("nan")
    with pytest.raises(T.NonFiniteLossError, match="loss became nan at step 1"):
        T.train_step(method, views, None, optimizer, scheduler, params, 1, 4)
    assert all(torch.equal(a, b) for a, b in zip(after_first, params))  # nothing was updated


# ---- one writer per run directory, crashes, damaged files ------------------------------------------


def _cli_train(out: Path, *extra: str, steps: int = 6) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ssltheory.cli",
        "train",
        "--method",
        "dissl",
        "--data",
        "digits",
        "--steps",
        str(steps),
        "--batch-size",
        "16",
        "--z-dim",
        "8",
        "--hidden-dim",
        "16",
        "--proj-dim",
        "8",
        "--n-codes",
        "12",
        "--log-every",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def _env(**extra) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra}


def test_a_second_writer_is_refused_naming_the_holders_pid(tmp_path, capsys):
    from ssltheory.ssl.runs import RunDir

    config = tiny(tmp_path, steps=2)
    with RunDir(config.out).lock():
        with pytest.raises(ValueError, match=rf"being written by another process \(pid {os.getpid()}\)"):
            train(config)
        code = cli.main(
            ["train", "--method", "dissl", "--data", "digits", "--steps", "2", "--quiet", "--out", config.out]
        )
        err = capsys.readouterr().err
        assert code == 2 and f"pid {os.getpid()}" in err and len(err.strip().splitlines()) == 1
    assert not Path(config.out, "config.json").exists()  # the refused writer wrote nothing
    train(config)  # the lock is gone with its holder
    assert (Path(config.out) / "encoder.pt").exists()


#: A first writer that holds its run after step 1 until the test releases it (files as signals
#: between the processes), so the second writer always meets a run in progress, however fast either is.
_HOLD_AFTER_STEP_1 = """
import json, sys, time
from pathlib import Path
from ssltheory.ssl.train import TrainConfig, train
holding, release = Path(sys.argv[2]), Path(sys.argv[3])

def hold(step, record):
    if step == 1:
        holding.touch()
        deadline = time.monotonic() + 300
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)

train(TrainConfig.from_flags(**json.loads(sys.argv[1])), callback=hold)
"""


def test_two_concurrent_trains_on_one_out_the_second_is_refused_the_first_finishes_clean(tmp_path):
    out, holding, release = tmp_path / "run", tmp_path / "holding", tmp_path / "release"
    kwargs = dict(
        method="dissl",
        data="digits",
        arch="small_cnn",
        z_dim=8,
        steps=6,
        batch_size=16,
        hidden_dim=16,
        proj_dim=8,
        n_codes=12,
        log_every=1,
        quiet=True,
        out=str(out),
    )
    first = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AFTER_STEP_1, json.dumps(kwargs), str(holding), str(release)],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not holding.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holding.exists(), "the first run never reached its first step"
        second = subprocess.run(
            _cli_train(out, "--quiet", steps=6), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 2 and f"pid {first.pid}" in second.stderr, second.stderr[-800:]
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        release.touch()
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr[-1500:]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))  # one run's lines, none mixed in
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_a_killed_run_leaves_no_lock_and_resume_drops_a_half_written_metrics_line(tmp_path, capsys):
    out = tmp_path / "run"
    kwargs = dict(
        method="dissl",
        data="digits",
        arch="small_cnn",
        z_dim=8,
        steps=100_000,
        batch_size=16,
        hidden_dim=16,
        proj_dim=8,
        n_codes=12,
        aug_strength=0.5,
        checkpoint_every=2,
        log_every=1,
        quiet=True,
        out=str(out),
    )
    script = (
        "import json, sys; from ssltheory.ssl.train import TrainConfig, "
        "train; train(TrainConfig.from_flags(**json.loads(sys.argv[1])))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(kwargs)],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)  # no clean-up of any kind runs
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and (out / "checkpoint.pt").exists()
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 99999, "loss": 1.2')  # a line cut by the kill
    at = load_checkpoint(out / "checkpoint.pt")["step"]
    capsys.readouterr()
    train(TrainConfig.from_flags(**{**kwargs, "quiet": False, "resume": True}), callback=stop_at(at + 2))
    printed = capsys.readouterr().out
    assert "dropped the half-written last line" in printed and str(out / "metrics.jsonl") in printed
    assert f"resumed from {out / 'checkpoint.pt'} at step {at}/" in printed
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, at + 3))


def test_a_config_json_holding_a_list_is_one_clear_line(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("[1, 2, 3]\n")
    (out / "encoder.pt").write_bytes(b"")
    for argv in (
        ["train", "--method", "dissl", "--data", "digits", "--steps", "2", "--resume", "--quiet", "--out", str(out)],
        ["probe", str(out)],
    ):
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == 2 and "holds a JSON list, not a training configuration" in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_raw_pickle_or_foreign_object_checkpoint_is_never_unpickled(tmp_path, capfd):
    import pickle

    config = tiny(tmp_path)
    train(config, callback=stop_at(3))
    path = Path(config.out) / "checkpoint.pt"
    foreign = {"model": Path("x")}  # a zip torch file holding a non-tensor object
    torch.save(foreign, path)
    for _ in range(2):
        capfd.readouterr()
        code = cli.main(
            [
                "train",
                "--method",
                "dissl",
                "--data",
                "digits",
                "--steps",
                "6",
                "--batch-size",
                "16",
                "--z-dim",
                "8",
                "--hidden-dim",
                "16",
                "--proj-dim",
                "8",
                "--n-codes",
                "12",
                "--aug-strength",
                "0.5",
                "--checkpoint-every",
                "2",
                "--log-every",
                "1",
                "--resume",
                "--quiet",
                "--out",
                config.out,
            ]
        )
        err = capfd.readouterr().err
        assert code == 2 and "this file is not a plain state dict; it will not be unpickled" in err, err
        assert len(err.strip().splitlines()) == 1 and "weights_only" not in err and "Warning" not in err
        path.write_bytes(pickle.dumps({"model": 1}))  # second round: a raw pickle stream


# ---- progress off a terminal, help without torch ---------------------------------------------------


def test_train_prints_periodic_progress_lines_into_a_pipe(tmp_path):
    result = subprocess.run(
        _cli_train(tmp_path / "run", steps=8),
        cwd=REPO,
        env=_env(SSLTHEORY_PROGRESS_INTERVAL="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )  # as `2>&1 | cat`
    assert result.returncode == 0, result.stdout[-1500:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("train dissl:")]
    assert len(lines) >= 8 and "\r" not in result.stdout
    # tqdm writes the rate as "s/step" below one step a second (a loaded machine), else "step/s"
    assert all(("step/s" in line or "s/step" in line) and "img_per_s=" in line and "loss=" in line for line in lines)
    assert " 1/8 [" in lines[0] and "<" in lines[0]  # step count, elapsed < time left
    assert result.stdout.splitlines()[0].startswith("preset cpu (the default on cpu)")


@pytest.mark.parametrize("command", ["train", "probe"])
def test_help_does_not_import_torch(command):
    code = (
        "import sys; from ssltheory import cli\ntry:\n    cli.main([%r, '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules"
    ) % command
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "usage: ssltheory " + command in result.stdout, result.stderr[-1500:]


# ---- the recipe as the authors run it: what a configuration builds ------------------------------------


def _signature(module) -> list:
    out = []
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            out.append(("Linear", m.in_features, m.out_features))
        elif isinstance(m, torch.nn.BatchNorm1d):
            out.append(("BN", m.num_features))
        elif isinstance(m, torch.nn.ReLU):
            out.append(("ReLU",))
    return out


def _fake_dataset(name: str, size: int, channels: int = 3, n: int = 40):
    from ssltheory.ssl.data import ImageDataset, Split

    g = torch.Generator().manual_seed(0)

    def split(k):
        return Split(
            torch.randint(0, 256, (k, channels, size, size), dtype=torch.uint8, generator=g), torch.arange(k) % 4
        )

    return ImageDataset(
        name, split(n), split(8), split(8), tuple("abcd"), channels, size, (0.5,) * channels, (0.25,) * channels
    )


def test_cifar10_runs_build_half_strength_colour_jitter(tmp_path):
    from tests.test_ssl_data import cifar_tree

    cifar_tree(tmp_path / "cifar-10-batches-py")
    config = tiny(tmp_path, method="simclr", data="cifar10", data_dir=str(tmp_path), aug_strength=1.0, batch_size=8)
    aug = T.build(config).augment  # the augmentation `train --data cifar10` builds, from the files
    assert (aug.brightness, aug.contrast, aug.saturation, aug.hue) == pytest.approx((0.2, 0.2, 0.2, 0.05))
    other = T.build(replace(config, data="patches", data_dir=None)).augment
    assert (other.brightness, other.hue) == pytest.approx((0.4, 0.1))  # TinyImageNet-style full strength elsewhere


@pytest.mark.parametrize("size, kernel", [(32, 3), (64, 7), (28, 3), (8, 1)])
def test_coarse_blur_kernel_is_a_tenth_of_the_image_rounded_to_odd(tmp_path, size, kernel):
    config = tiny(tmp_path, method="simclr", aug="coarse", aug_strength=None, batch_size=8)
    aug = T.build(config, _fake_dataset("folder", size)).augment
    assert aug.blur_p == 0.5 and aug.blur_kernel == kernel


def test_fig7c_mlp_head_arm_builds_both_cissl_heads_with_two_hidden_layers_of_2048(tmp_path):
    config = TrainConfig(
        method="cissl",
        data="digits",
        z_dim=8,
        steps=1,
        batch_size=16,
        method_options={"student_head": "mlp"},
        out=str(tmp_path / "run"),
    )
    method = T.build(config).method
    arm = [
        ("Linear", 8, 2048),
        ("BN", 2048),
        ("ReLU",),
        ("Linear", 2048, 2048),
        ("BN", 2048),
        ("ReLU",),
        ("Linear", 2048, 128),
        ("BN", 128),
    ]
    assert _signature(method.student_head) == arm and _signature(method.teacher_head) == arm
    linear = T.build(replace(config, method_options={})).method
    assert _signature(linear.student_head) == [("Linear", 8, 128), ("BN", 128)]
    assert _signature(linear.teacher_head) == [
        ("Linear", 8, 1024),
        ("BN", 1024),
        ("ReLU",),
        ("Linear", 1024, 128),
        ("BN", 128),
    ]


def test_ssl_pretraining_uses_the_whole_train_split_and_probes_keep_a_validation_split(tmp_path):
    from ssltheory.ssl.data import load_dataset

    ds = load_dataset("digits")
    built = T.build(tiny(tmp_path, epochs=1.0, steps=None))
    assert len(built.images) == len(ds.train) + len(ds.val) and len(ds.val) > 0
    assert built.total_steps == (len(ds.train) + len(ds.val)) // 16
    assert torch.equal(built.images[: len(ds.train)], ds.train.images)  # train rows, then val rows
    assert not set(map(bytes, ds.test.images.numpy())) & set(map(bytes, built.images.numpy()))  # never the test split


def test_presets_paper_and_cpu_and_explicit_flags_override_them(tmp_path, capsys):
    from ssltheory.commands import train as command
    from ssltheory.ssl.config import demo_recipe

    def parse(*argv):
        import argparse

        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        return command.config_from_args(parser.parse_args([*argv, "--out", str(tmp_path / "r")]))

    for method, batch in (("simclr", 512), ("cissl", 512), ("dino", 256), ("dissl", 256)):
        config, preset, default = parse("--method", method, "--data", "cifar10", "--preset", "paper")
        assert (config.arch, config.z_dim, config.batch_size, config.epochs, config.steps) == (
            "resnet18",
            512,
            batch,
            300.0,
            None,
        )
        assert config.resolved_method_options().get("n_codes") == {"dino": 1000, "dissl": 16384}.get(method)
        assert preset == "paper" and not default
    config, preset, default = parse("--method", "dissl", "--data", "patches")
    plan = demo_recipe(quick=False, steps=None, batch_size=None)  # the demo's recipe is the cpu preset
    assert preset == "cpu" and default
    assert (config.arch, config.z_dim, config.steps, config.batch_size, config.aug_strength) == (
        "small_cnn",
        plan.z_dim,
        plan.steps,
        plan.batch_size,
        plan.aug_strength,
    )
    assert config.method_options == {
        "hidden_dim": plan.hidden_dim,
        "bottleneck_dim": plan.proj_dim,
        "n_codes": plan.n_codes,
    }
    config, _, _ = parse(
        "--method",
        "dissl",
        "--data",
        "patches",
        "--preset",
        "paper",
        "--batch-size",
        "64",
        "--steps",
        "5",
        "--n-codes",
        "32",
        "--z-dim",
        "16",
    )
    assert (config.batch_size, config.steps, config.epochs, config.z_dim, config.arch) == (64, 5, None, 16, "resnet18")
    assert config.method_options == {"n_codes": 32}
    built = T.build(replace(config, arch="small_cnn"))
    assert built.method.student_head[-1].out_features == 32 and built.encoder.out_dim == 16
    code = cli.main(
        [
            "train",
            "--method",
            "simclr",
            "--data",
            "digits",
            "--steps",
            "2",
            "--batch-size",
            "16",
            "--out",
            str(tmp_path / "announced"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and err.splitlines()[0].startswith("preset cpu (the default on cpu): the demo's recipe")


def test_an_explicit_augmentation_kind_keeps_its_own_strength_under_a_preset(tmp_path):
    for aug, strength in (("none", None), ("coarse", None), ("simclr", 0.5)):
        config = TrainConfig.from_preset(
            "cpu", method="dissl", data="digits", aug=aug, out=str(tmp_path / aug)
        ).validate()
        assert config.aug_strength == strength
    assert TrainConfig.from_preset("cpu", method="dissl", aug="coarse", aug_strength=3.0).aug_strength == 3.0


def test_resume_compares_method_options_by_value_and_names_the_one_that_differs(tmp_path):
    config = tiny(tmp_path)
    train(config, callback=stop_at(3))
    explicit_default = replace(config, resume=True, method_options={**config.method_options, "lambda_maximality": 2.3})
    train(explicit_default)  # an option given at its default is the same configuration
    with pytest.raises(ValueError, match=r"differing keys: method_options\.n_codes \(12 there, 16 here\)"):
        train(replace(config, resume=True, method_options={**config.method_options, "n_codes": 16}))


def test_a_new_dataset_is_one_registry_entry_for_the_config_the_trainer_and_the_help(tmp_path, monkeypatch, capsys):
    from ssltheory.ssl import data, datasets

    def loader(data_dir, *, seed, val_fraction, image_size, **options):
        ds = data.load_dataset("digits", seed=seed)
        return (ds.train, ds.val, ds.test), list(ds.class_names)

    entry = datasets.DatasetSpec("digits_copy", "a copy of the digits", loader, needs_dir=False)
    monkeypatch.setitem(datasets.DATASETS, "digits_copy", entry)
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "digits_copy: a copy of the digits" in capsys.readouterr().out
    out = train(tiny(tmp_path, data="digits_copy", steps=2))
    assert json.loads((out / "config.json").read_text())["data"] == "digits_copy"
