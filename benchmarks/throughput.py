"""Benchmark 4: training throughput, batched on-device augmentation versus per-image DataLoader workers.

Ours: the trainer's own code: the uint8 batch augmented on the device by ``build_augmentation``
(built as ``ssltheory.ssl.train.train`` builds it), then ``ssltheory.ssl.train.train_step``, the
function the trainer's loop calls (``Method.training_step``, finiteness check, backward, gradient
clipping by value 2, Adam step, warm-up/cosine scheduler step, ``on_step_end``). Baseline: the
*same* method, encoder, optimiser, scheduler, ``train_step``, batch and augmentation parameters,
but views made the way a torchvision user would: a ``Dataset`` that augments one image at a time
(plain torch ops plus kornia's HSV conversion, :class:`PerImageTwoViews`) in
``torch.utils.data.DataLoader`` workers (``num_workers=2``, default prefetching, persistent
workers), the main process only training.

Configuration (the same model and batch on both sides): the demo's CPU recipe
(``ssltheory.ssl.config.demo_recipe``: DISSL, small CNN, z 128, heads 256 wide with C = 256 codes,
batch 128, strength 0.5), the README's main job and what a CPU user trains. ``TrainConfig()``'s
defaults (C = 16384 codes, batch 256) spend most of a CPU step in the two 16384-way heads, so
a row with them would measure the heads, not the pipelines.

Each measurement runs in a fresh child process (``python -m ssltheory.benchmarks.throughput SPEC_JSON``), so
that the two pipelines never share the cores at the same time (idle DataLoader workers would
otherwise prefetch while ours is being timed) and so that peak memory is per pipeline. Children
alternate: ours, baseline, baseline, ours, ... A child measures two modes in turn with the same
pipeline: ``augment_only`` (views made and dropped: the augmentation's own throughput, row
``train_throughput_augment_only``) then ``train`` (views made, then a training step: row
``train_throughput``); in each mode ``warmup_steps`` steps are dropped and ``steps`` are timed.
A row reports the median over children of seconds per step, and images/s = batch / (seconds per
step) (one image = its two views).

Peak memory is ``resource.getrusage`` ``ru_maxrss`` (resident set size high-water mark, MiB):
``RUSAGE_SELF`` of the child (main process) and ``RUSAGE_CHILDREN`` after the workers exited (the
largest single worker). tracemalloc is not used: it does not see torch's tensor allocations.

Inputs: N seeded random uint8 images, 3 x 32 x 32 (CIFAR-sized; the timing of these operations
does not depend on pixel values). Row: ``ratio = baseline_s / ours_s`` (a speed-up in
images/s), target ``>= 1.5``.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

import ssltheory
import ssltheory.ssl.augment
import ssltheory.ssl.encoders
import ssltheory.ssl.methods
from ssltheory.benchmarks.harness import SPEEDUP, BenchConfig, Row, error_row, median, pending_row, speedup_row, spread
from ssltheory.errors import InputError
from ssltheory.ssl.augment import build_augmentation
from ssltheory.ssl.config import DEMO_METHODS, demo_recipe
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.methods import build_method
from ssltheory.ssl.train import TrainConfig, train_step, warmup_cosine

NAME = "throughput"
ROW = "train_throughput"
TARGET = 1.5
#: the folder that holds the ``ssltheory`` package (a checkout's root, or site-packages)
IMPORT_ROOT = Path(os.path.abspath(ssltheory.__file__)).parents[1]


@dataclass
class ThroughputSpec:
    """One child's job. pipeline: "ours" or "baseline"; the rest is shared by both sides."""

    pipeline: str
    method: str = "dissl"
    arch: str = "small_cnn"
    z_dim: int = 128
    batch_size: int = 128
    modes: tuple[str, ...] = ("augment_only", "train")  # measured in this order, same workers
    image_size: int = 32
    channels: int = 3
    n_images: int = 4096
    strength: float = 0.5
    warmup_steps: int = 3
    steps: int = 10
    threads: int = 1
    num_workers: int = 2
    seed: int = 0
    method_options: dict | None = None


# ----------------------------------------------------------------------------------------------
# The baseline pipeline: one image at a time, in DataLoader workers
# ----------------------------------------------------------------------------------------------

_GREY = (0.2989, 0.587, 0.114)


class PerImageTwoViews(torch.utils.data.Dataset):
    """Two augmented, normalised views of image i, made one image at a time (the torchvision way).

    Same parameters as ``ssltheory.ssl.augment`` ("simclr", strength s) [code: docs/REFERENCE.md]:
    RandomResizedCrop(size, scale=(min(1, 0.2/s), 1), ratio=(3/4, 4/3), bicubic), horizontal flip
    p 0.5, ColorJitter(0.4s, 0.4s, 0.4s, 0.1s) in a random order with p 0.8, grayscale p 0.1s,
    ImageNet normalisation. images: uint8 (N, 3, H, W). Item: (view_a, view_b), each float32
    (3, size, size). Randomness: python's ``random``, seeded per worker by the DataLoader.
    """

    def __init__(self, images: torch.Tensor, size: int, strength: float = 1.0):
        self.images = images
        self.size = size
        self.scale = (min(1.0, 0.2 / strength), 1.0)
        self.ratio = (3 / 4, 4 / 3)
        self.jitter = (0.4 * strength, 0.4 * strength, 0.4 * strength, min(0.5, 0.1 * strength))
        self.grey_p = min(1.0, 0.1 * strength)
        self.mean = torch.tensor((0.485, 0.456, 0.406)).view(3, 1, 1)
        self.std = torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[i].float() / 255
        return self.augment(x), self.augment(x)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """One normalised view of the image ``x`` (C, H, W), floats in [0, 1], made per image as a
        DataLoader worker makes it: crop, flip, jitter, grey, the steps ``build_augmentation("simclr")``
        takes on a whole batch."""
        x = self.random_resized_crop(x)
        if random.random() < 0.5:
            x = x.flip(-1)
        if random.random() < 0.8:
            x = self.color_jitter(x)
        if random.random() < self.grey_p:
            x = _grey(x).expand(3, -1, -1)
        return (x - self.mean) / self.std

    def random_resized_crop(self, x: torch.Tensor) -> torch.Tensor:
        """RandomResizedCrop of one image (C, H, W) to (C, size, size): area scale and log aspect ratio
        drawn per call, ten tries then the whole image (torchvision's rule)."""
        _, h, w = x.shape
        area = h * w
        for _ in range(10):  # torchvision's rule
            target = random.uniform(*self.scale) * area
            r = math.exp(random.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            cw, ch = round(math.sqrt(target * r)), round(math.sqrt(target / r))
            if 0 < cw <= w and 0 < ch <= h:
                top, left = random.randint(0, h - ch), random.randint(0, w - cw)
                break
        else:
            cw, ch, top, left = w, h, 0, 0
        crop = x[:, top : top + ch, left : left + cw].unsqueeze(0)
        return F.interpolate(crop, size=(self.size, self.size), mode="bicubic", align_corners=False)[0].clamp_(0, 1)

    def color_jitter(self, x: torch.Tensor) -> torch.Tensor:
        """ColorJitter of one image (C, H, W): brightness, contrast, saturation and hue, in a random
        order, as torchvision applies them."""
        b, c, s, hue = self.jitter
        ops = [0, 1, 2, 3]
        random.shuffle(ops)
        for op in ops:
            if op == 0:
                x = (x * random.uniform(max(0.0, 1 - b), 1 + b)).clamp_(0, 1)
            elif op == 1:
                f = random.uniform(max(0.0, 1 - c), 1 + c)
                x = (f * x + (1 - f) * _grey(x).mean()).clamp_(0, 1)
            elif op == 2:
                f = random.uniform(max(0.0, 1 - s), 1 + s)
                x = (f * x + (1 - f) * _grey(x)).clamp_(0, 1)
            else:
                x = _shift_hue(x, random.uniform(-hue, hue))
        return x


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> (1, H, W) luminance (ITU-R 601, as torchvision)."""
    return _GREY[0] * x[0:1] + _GREY[1] * x[1:2] + _GREY[2] * x[2:3]


def _shift_hue(x: torch.Tensor, f: float) -> torch.Tensor:
    from kornia.color import hsv_to_rgb, rgb_to_hsv

    hsv = rgb_to_hsv(x.unsqueeze(0))
    h = torch.remainder(hsv[:, :1] + f * 2 * math.pi, 2 * math.pi)
    return hsv_to_rgb(torch.cat([h, hsv[:, 1:]], 1))[0].clamp_(0, 1)


def seed_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: seed Python's ``random`` in each worker from torch's per-worker
    seed, so the per-image baseline pipelines draw reproducible, distinct augmentations per worker."""
    random.seed(torch.initial_seed() % 2**32)


# ----------------------------------------------------------------------------------------------
# One child: build, warm up, time
# ----------------------------------------------------------------------------------------------


def measure(spec: ThroughputSpec) -> dict:
    """Run ``spec`` in this process; return {mode: {seconds_per_step, images_per_s}} plus the peak
    memory of the process (and of its DataLoader workers). Modes: ``augment_only`` (views made and
    dropped), ``train`` (views made, then a training step)."""
    torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    random.seed(spec.seed)
    g = torch.Generator().manual_seed(spec.seed)
    images = torch.randint(
        0, 256, (spec.n_images, spec.channels, spec.image_size, spec.image_size), dtype=torch.uint8, generator=g
    )
    config = TrainConfig(method=spec.method, arch=spec.arch, batch_size=spec.batch_size)  # the trainer's optimiser
    encoder = build_encoder(spec.arch, spec.channels, spec.image_size, spec.z_dim)
    method = build_method(spec.method, encoder, **(spec.method_options or {})).train()
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.base_lr, weight_decay=config.weight_decay)
    total = len(spec.modes) * (spec.warmup_steps + spec.steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, round(config.warmup_fraction * total), total)
    )

    def step_on(views: list[torch.Tensor], step: int) -> None:  # the trainer's step, its own function
        train_step(method, views, None, optimizer, scheduler, params, step, total)

    def drop(views: list[torch.Tensor], step: int) -> None:
        pass

    if spec.pipeline == "ours":
        augment = build_augmentation(
            "simclr", spec.image_size, spec.channels, spec.strength, n_large=method.n_global_views
        )
        sampler_g = torch.Generator().manual_seed(spec.seed + 1)

        def batches():
            while True:
                order = torch.randperm(spec.n_images, generator=sampler_g)
                for k in range(spec.n_images // spec.batch_size):
                    yield augment(images[order[k * spec.batch_size : (k + 1) * spec.batch_size]], generator=g)

        source, loader = batches(), None
    elif spec.pipeline == "baseline":
        loader = torch.utils.data.DataLoader(
            PerImageTwoViews(images, spec.image_size, spec.strength),
            batch_size=spec.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=spec.num_workers,
            persistent_workers=spec.num_workers > 0,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(spec.seed + 1),
        )

        def loader_batches(loader):
            while True:
                for view_a, view_b in loader:
                    yield [view_a, view_b]

        source = loader_batches(loader)
    else:
        raise InputError(f"pipeline must be 'ours' or 'baseline', got {spec.pipeline!r}")

    out: dict = {"pipeline": spec.pipeline}
    step = 0
    for mode in spec.modes:
        consume = {"augment_only": drop, "train": step_on}[mode]
        for _ in range(spec.warmup_steps):
            consume(next(source), step)
            step += 1
        started = time.perf_counter()
        for _ in range(spec.steps):
            consume(next(source), step)
            step += 1
        seconds = (time.perf_counter() - started) / spec.steps
        out[mode] = {"seconds_per_step": seconds, "images_per_s": spec.batch_size / seconds}

    source.close()
    del source, loader  # persistent workers exit here, so RUSAGE_CHILDREN covers them
    import gc

    gc.collect()
    mib = 1024.0  # ru_maxrss is in KiB on Linux
    out["main_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / mib
    out["largest_worker_maxrss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / mib
    return out


def _run_child(spec: ThroughputSpec, timeout_s: float) -> dict:
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(spec.threads),
        MKL_NUM_THREADS=str(spec.threads),
        OPENBLAS_NUM_THREADS=str(spec.threads),
    )
    env["PYTHONPATH"] = os.pathsep.join([str(IMPORT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-m", "ssltheory.benchmarks.throughput", json.dumps(asdict(spec))],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"{spec.pipeline} child exited with {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: why the row uses the demo's recipe rather than TrainConfig()'s defaults (shown in RESULTS.md)
CONFIGURATION_REASON = (
    "the demo's CPU recipe (ssltheory demo: DISSL, small CNN, z 128, heads 256 wide, C = 256 codes, batch 128, "
    "strength 0.5), the configuration a CPU user trains; TrainConfig()'s defaults (C = 16384 codes, batch 256) "
    "spend most of a CPU step in the two 16384-way heads and hide the pipelines"
)


def _demo_recipe() -> dict:
    """Method, encoder, heads, batch and strength of the demo (``ssltheory demo``, not --quick),
    with the method options the trainer derives from them (``TrainConfig.build_options``)."""
    plan = demo_recipe(quick=False, steps=None, batch_size=None)
    method = "dissl" if "dissl" in DEMO_METHODS else DEMO_METHODS[0]
    config = TrainConfig.from_flags(
        method=method,
        arch="small_cnn",
        z_dim=plan.z_dim,
        batch_size=plan.batch_size,
        hidden_dim=plan.hidden_dim,
        proj_dim=plan.proj_dim,
        n_codes=plan.n_codes if method in ("dino", "dissl") else None,
        aug_strength=plan.aug_strength,
    )
    return dict(
        method=method,
        arch=config.arch,
        z_dim=config.z_dim,
        batch_size=config.batch_size,
        strength=config.aug_strength,
        method_options=config.build_options(n_classes=None),
    )


#: row name -> mode measured in the children
ROWS = {ROW: "train", f"{ROW}_augment_only": "augment_only"}


def run(config: BenchConfig) -> list[Row]:
    """The rows of this benchmark (see the module docstring) that ``config`` keeps."""
    target = f">= {TARGET:g}"
    wanted = [name for name in ROWS if config.wants(name)]
    if not wanted:
        return []
    try:
        shared = _demo_recipe()
    except ImportError as exc:
        return [pending_row(name, SPEEDUP, target, f"ours not importable yet: {exc}") for name in wanted]
    if config.quick:
        shared.update(
            batch_size=32,
            n_images=256,
            image_size=16,
            warmup_steps=1,
            steps=2,
            z_dim=16,
            method_options={**shared["method_options"], "n_codes": 32, "hidden_dim": 32, "bottleneck_dim": 16},
        )
    else:
        shared.update(n_images=4096, image_size=32, warmup_steps=2, steps=8)  # the patch task's 3 x 32 x 32
    modes = tuple(m for m in ("augment_only", "train") if any(ROWS[name] == m for name in wanted))
    shared.update(threads=config.threads, seed=config.seed, modes=modes)
    rounds = config.rounds(1, 2)
    try:
        results: dict[str, list[dict]] = {"ours": [], "baseline": []}
        for r in range(rounds):
            for pipeline in ("ours", "baseline") if r % 2 == 0 else ("baseline", "ours"):
                results[pipeline].append(_run_child(ThroughputSpec(pipeline=pipeline, **shared), timeout_s=600))
    except Exception as exc:  # report, do not hide the other benchmarks
        return [error_row(name, SPEEDUP, target, exc) for name in wanted]
    spec = ThroughputSpec(pipeline="ours", **shared)
    return [_row(name, ROWS[name], spec, results, rounds) for name in wanted]


def _row(name: str, mode: str, spec: ThroughputSpec, results: dict[str, list[dict]], rounds: int) -> Row:
    ours_t = [m[mode]["seconds_per_step"] for m in results["ours"]]
    base_t = [m[mode]["seconds_per_step"] for m in results["baseline"]]
    train = mode == "train"
    details = {
        "call": (
            "one training step (batch -> two views -> ssltheory.ssl.train.train_step), steady state"
            if train
            else "one batch of two views made and dropped, no model (augmentation alone)"
        ),
        "configuration": CONFIGURATION_REASON,
        "method": spec.method if train else None,
        "method_options": spec.method_options if train else None,
        "arch": spec.arch if train else None,
        "z_dim": spec.z_dim if train else None,
        "strength": spec.strength,
        "batch": spec.batch_size,
        "image": f"{spec.channels}x{spec.image_size}x{spec.image_size} uint8 (seeded random)",
        "ours": "ssltheory.ssl.augment.build_augmentation('simclr') on the whole batch, in the main process",
        "baseline": f"per-image torch/kornia augmentation in DataLoader(num_workers={spec.num_workers})",
        "ours_images_per_s": spec.batch_size / median(ours_t),
        "baseline_images_per_s": spec.batch_size / median(base_t),
        "memory": "resource.getrusage ru_maxrss (MiB) of the child: main process; largest DataLoader worker",
        "ours_main_maxrss_mib": max(m["main_maxrss_mib"] for m in results["ours"]),
        "baseline_main_maxrss_mib": max(m["main_maxrss_mib"] for m in results["baseline"]),
        "baseline_largest_worker_maxrss_mib": max(m["largest_worker_maxrss_mib"] for m in results["baseline"]),
        "child_processes_per_side": rounds,
        "timed_steps_per_child": spec.steps,
        "threads_main": spec.threads,
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return speedup_row(name, median(ours_t), median(base_t), TARGET, details)


def _child_entry(argv: list[str] | None = None) -> int:
    """One throughput measurement in a fresh process (internal to ``ssltheory bench``): the one
    argument is a ``ThroughputSpec`` as JSON; prints the measurement as one JSON line."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("throughput child: expected one argument, a ThroughputSpec as JSON", file=sys.stderr)
        return 2
    spec = json.loads(argv[0])
    spec["modes"] = tuple(spec.get("modes", ThroughputSpec.modes))
    print(json.dumps(measure(ThroughputSpec(**spec))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child_entry())
