"""Benchmark 5 (GPU): one two-view SSL epoch of ResNet-18 on 50,000 32x32 images, and its MFU.

Runs when ``torch.cuda.is_available()``; otherwise the row has status ``pending`` (no GPU is lent
to this project's machines) but the code path is complete and the tests run it on the CPU at
toy sizes (:func:`compare_epochs_rows` takes a device).

Ours: the trainer's step (``ssltheory.ssl.train``'s loop body) with ``TrainConfig()``'s method and
batch size, ResNet-18 with the 32-pixel stem (``build_encoder("resnet18", 3, 32)``), channels-last,
bf16 autocast, Adam, gradient clipping by value 2, the uint8 images resident on the GPU and
augmented there in batches (``build_augmentation("simclr", 32, 3)``). Baseline: the same model
and step fed by the per-image augmentation of :class:`ssltheory.benchmarks.throughput.PerImageTwoViews` in
``DataLoader`` workers (``num_workers = min(8, cores)``, pinned memory), views copied to the GPU.
One timed call = one epoch (50,000 // batch steps) after ``warmup_steps`` untimed steps.

Model FLOP utilisation: the FLOPs of one training step (forward + backward, counted once with
``torch.utils.flop_counter.FlopCounterMode``, i.e. matmuls and convolutions) times the steps of
an epoch, divided by the epoch time and by the device's dense bf16 peak (table below, from the
vendors' data sheets; ``None`` for devices not in it, the achieved TFLOP/s are reported anyway).
Peak memory: ``torch.cuda.max_memory_allocated``.

Rows (one measurement, two rows): ``gpu_resnet18_two_view_epoch``: ``ratio = baseline_s / ours_s``
(a speed-up over the DataLoader pipeline), target ``>= 1.5``; ``gpu_resnet18_epoch_within_1s``:
the issue's target for the step itself, ``ratio = ours_s / 1 s`` (the epoch against a one-second
budget), target ``<= 1`` and MFU ``>= 0.35`` against an H100's 989 TFLOP/s dense bf16 (3.33 GFLOP
per view forward and backward: a 50,000-image two-view epoch is about 333 TFLOP, 0.96 s at 35%).
Ours takes the trainer's own step (``ssltheory.ssl.train.train_step`` with ``StepSettings`` and a
``NonFiniteWatch``: bf16, channels-last, fused Adam, no host read inside a step) and draws its
views with a generator on the device.
"""

from __future__ import annotations

import os
import time

import torch

from ssltheory.benchmarks.harness import (
    SLOWDOWN,
    SPEEDUP,
    BenchConfig,
    Row,
    error_row,
    median,
    pending_row,
    speedup_row,
    spread,
)
from ssltheory.benchmarks.throughput import PerImageTwoViews, seed_worker
from ssltheory.ssl.augment import build_augmentation
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.methods import build_method
from ssltheory.ssl.train import NonFiniteWatch, StepSettings, TrainConfig, train_step

NAME = "gpu"
ROW = "gpu_resnet18_two_view_epoch"
TARGET = 1.5
TARGET_ROW = "gpu_resnet18_epoch_within_1s"
EPOCH_BUDGET_S = 1.0
MFU_TARGET = 0.35
H100_BF16 = 989e12

#: dense bf16 peak FLOP/s (no sparsity) by substring of torch.cuda.get_device_name
PEAK_BF16 = (
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("V100", 125e12),  # fp16 tensor cores; V100 has no bf16
)


def peak_flops(device_name: str) -> float | None:
    for key, flops in PEAK_BF16:
        if key in device_name:
            return flops
    return None


class _EpochRunner:
    """Builds the model once; ``epoch(pipeline)`` runs one epoch of the chosen input pipeline."""

    def __init__(
        self,
        device: torch.device,
        n_images: int,
        batch_size: int,
        arch: str,
        method: str,
        image_size: int,
        method_options: dict | None,
        num_workers: int,
        seed: int,
    ):
        self.device, self.batch_size = device, batch_size
        self.steps_per_epoch = n_images // batch_size
        g = torch.Generator().manual_seed(seed)
        images = torch.randint(0, 256, (n_images, 3, image_size, image_size), dtype=torch.uint8, generator=g)
        self.images_device = images.to(device)
        self.cuda = device.type == "cuda"
        self.settings = StepSettings.for_device(device)
        self.method = self.settings.prepare(
            build_method(method, build_encoder(arch, 3, image_size), **(method_options or {})).to(device)
        ).train()
        self.augment = build_augmentation("simclr", image_size, 3, 1.0).to(device)
        self.params = [p for p in self.method.parameters() if p.requires_grad]
        self.optimizer = self.settings.optimizer(self.params, 2e-3 * batch_size / 256, 1e-6)
        self.watch = NonFiniteWatch(device)
        self.autocast = self.settings.autocast(device)
        self.generator = torch.Generator(device=device).manual_seed(seed + 1)  # the views' draws, on the device
        self.loader = torch.utils.data.DataLoader(
            PerImageTwoViews(images, image_size, 1.0),
            batch_size=batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            pin_memory=self.cuda,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(seed + 2),
        )
        self.step_count = 0

    def step(self, views: list[torch.Tensor]) -> None:
        """The trainer's step (schedules see an endless run: irrelevant to the cost of a step)."""
        train_step(
            self.method,
            self.settings.layout(views),
            None,
            self.optimizer,
            None,
            self.params,
            self.step_count,
            10**9,
            autocast=self.autocast,
            watch=self.watch,
        )
        self.step_count += 1

    def ours_batches(self):
        while True:
            order = torch.randperm(len(self.images_device), generator=self.generator, device=self.device)
            for k in range(self.steps_per_epoch):
                batch = self.images_device[order[k * self.batch_size : (k + 1) * self.batch_size]]
                yield self.augment(batch, generator=self.generator)

    def baseline_batches(self):
        while True:
            for view_a, view_b in self.loader:
                yield [view_a.to(self.device, non_blocking=True), view_b.to(self.device, non_blocking=True)]

    def run_steps(self, source, steps: int) -> None:
        for _ in range(steps):
            self.step(next(source))

    def step_flops(self, source) -> int:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        views = next(source)
        with counter:
            self.step(views)
        return int(counter.get_total_flops())

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)


def compare_epochs_rows(
    device: str | torch.device = "cuda",
    n_images: int = 50_000,
    batch_size: int | None = None,
    arch: str = "resnet18",
    method: str | None = None,
    image_size: int = 32,
    method_options: dict | None = None,
    repeats: int = 2,
    warmup_steps: int = 10,
    num_workers: int | None = None,
    seed: int = 0,
) -> list[Row]:
    """Time ``repeats`` epochs of ours and of the baseline, alternately; return the two rows of the
    module docstring (the speed-up row, then the one-second target row).

    Defaults are the GPU benchmark's; tests pass ``device="cpu"`` and toy sizes to run the path.
    ``batch_size`` / ``method`` None: ``TrainConfig()``'s.
    """
    defaults = TrainConfig()
    batch_size = batch_size or defaults.batch_size
    method = method or defaults.method
    device = torch.device(device)
    workers = num_workers if num_workers is not None else min(8, os.cpu_count() or 1)
    runner = _EpochRunner(device, n_images, batch_size, arch, method, image_size, method_options, workers, seed)
    missing = _baseline_missing()
    sources = {"ours": runner.ours_batches(), **({} if missing else {"baseline": runner.baseline_batches()})}
    flops = runner.step_flops(sources["ours"])
    for source in sources.values():
        runner.run_steps(source, warmup_steps)
    if runner.cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for r in range(repeats):
        for name in [n for n in (("ours", "baseline") if r % 2 == 0 else ("baseline", "ours")) if n in sources]:
            runner.sync()
            t0 = time.perf_counter()
            runner.run_steps(sources[name], runner.steps_per_epoch)
            runner.sync()
            times[name].append(time.perf_counter() - t0)
    runner.watch.check()
    ours_s, base_s = median(times["ours"]), (None if missing else median(times["baseline"]))
    achieved = flops * runner.steps_per_epoch / ours_s
    name = torch.cuda.get_device_name(device) if runner.cuda else "cpu"
    peak = peak_flops(name) if runner.cuda else None
    details = {
        "call": f"one epoch: {runner.steps_per_epoch} steps of batch {batch_size} (two views each)",
        "device": name,
        "arch": arch,
        "method": method,
        "images": f"{n_images} x 3 x {image_size} x {image_size} uint8 (seeded random)",
        "precision": "bf16 autocast, channels-last, fused Adam, loss in float32" if runner.cuda else "float32",
        "baseline": f"per-image torch/kornia augmentation in DataLoader(num_workers={workers})",
        "ours_images_per_s": runner.steps_per_epoch * batch_size / ours_s,
        "baseline_images_per_s": None if missing else runner.steps_per_epoch * batch_size / base_s,
        "flops_per_step": flops,
        "achieved_tflops": achieved / 1e12,
        "peak_bf16_tflops": None if peak is None else peak / 1e12,
        "mfu": None if peak is None else achieved / peak,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if runner.cuda else None,
        "ours_timings": spread(times["ours"]),
        "baseline_timings": None if missing else spread(times["baseline"]),
    }
    for source in sources.values():
        source.close()
    epoch_s = ours_s * (50_000 / (runner.steps_per_epoch * batch_size))  # scaled to 50,000 images
    mfu_h100 = achieved / H100_BF16 if runner.cuda else None
    budget = Row(
        TARGET_ROW,
        epoch_s,
        EPOCH_BUDGET_S,
        epoch_s / EPOCH_BUDGET_S,
        SLOWDOWN,
        f"<= 1 and MFU >= {MFU_TARGET:g} vs 989 TFLOP/s",
        bool(epoch_s <= EPOCH_BUDGET_S and mfu_h100 is not None and mfu_h100 >= MFU_TARGET),
        "ok",
        {
            **details,
            "call": f"a two-view epoch of 50,000 images (measured on {n_images}, scaled)",
            "baseline": "the one-second budget of the target",
            "mfu_vs_989": mfu_h100,
        },
    )
    if missing:
        return [pending_row(ROW, SPEEDUP, f">= {TARGET:g}", missing), budget]
    return [speedup_row(ROW, ours_s, base_s, TARGET, details), budget]


def _baseline_missing() -> str | None:
    """Why the baseline cannot run here (its per-image pipeline uses kornia's HSV), or None."""
    try:
        import kornia.color  # noqa: F401
    except ImportError:
        return "the baseline's per-image pipeline needs kornia, which is not installed here (ours is measured)"
    return None


def run(config: BenchConfig) -> list[Row]:
    """The rows of this benchmark (see the module docstring) that ``config`` keeps."""
    wanted = [
        (name, kind, target)
        for name, kind, target in (
            (ROW, SPEEDUP, f">= {TARGET:g}"),
            (TARGET_ROW, SLOWDOWN, f"<= 1 and MFU >= {MFU_TARGET:g} vs 989 TFLOP/s"),
        )
        if config.wants(name)
    ]
    if not wanted:
        return []
    if not torch.cuda.is_available():
        return [
            pending_row(
                name,
                kind,
                target,
                "no CUDA device on this machine (GPU numbers pending); run `ssltheory "
                "bench --only gpu` on one (the code path is tested on the CPU at toy sizes)",
            )
            for name, kind, target in wanted
        ]
    try:
        if config.quick:
            rows = compare_epochs_rows("cuda", n_images=4096, repeats=1, warmup_steps=3, seed=config.seed)
        else:
            rows = compare_epochs_rows("cuda", repeats=config.repeats or 3, seed=config.seed)
        return [row for row in rows if config.wants(row.name)]
    except Exception as exc:
        return [error_row(name, kind, target, exc) for name, kind, target in wanted]
