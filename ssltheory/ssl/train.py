"""One training loop for every self-supervised objective, and the `ssltheory train` subcommand.

Reads top to bottom like nanoGPT's ``train.py`` or DINO's ``main_dino.py``: configuration, data,
model, optimiser, resume, then one loop (sample, augment, step, log, checkpoint). The step itself
is :func:`train_step`, public so that the throughput benchmark times the trainer's own code.

Faithful to the authors' public code (REFERENCE.md) [code]: Adam, learning rate
``2e-3 * batch_size / 256``, weight decay 1e-6, linear warm-up then cosine decay, gradient
clipping by value 2, both views through the encoder in one batch, mixed precision on the
accelerator (bf16 here). Departs from it on purpose where their code has a known problem: the
warm-up starts at ``lr / warmup_steps``, never at 0 for a whole epoch.

Run directory (docs/ARCHITECTURE.md)::

    RUN/config.json     the TrainConfig as run, plus image_channels, image_size, total_steps
    RUN/metrics.jsonl   one JSON object per logged step
    RUN/checkpoint.pt   latest checkpoint (temp file in RUN, then os.replace)
    RUN/encoder.pt      final encoder state dict (loadable with weights_only=True)

A checkpoint holds the method (encoder + heads + loss buffers), optimiser, scheduler, step, the
epoch order of the sampler and every random state (torch CPU/CUDA, numpy, python, the sampler's
generator), so ``--resume`` continues bit for bit on CPU. Everything stored is a tensor or a plain
container, so it loads with ``torch.load(weights_only=True)``.

Several processes: launched by ``torchrun`` (env ``RANK``/``WORLD_SIZE``), the process group is
initialised (nccl on CUDA, gloo on CPU), every rank draws the same global batch and keeps its
shard, gradients are averaged across ranks, and only rank 0 writes files. Gathering negatives or
the teacher marginal across ranks is the method's own option (``distributed=True``).

Example::

    ssltheory train --method dissl --data patches --steps 300 --out runs/dissl
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

METHODS = ("simclr", "cissl", "dino", "dissl", "exact")
DATASETS = ("patches", "digits", "mnist", "cifar10", "tinyimagenet", "folder")
ARCHS = ("small_cnn", "resnet18", "resnet50")
AUGMENTATIONS = ("simclr", "coarse", "none")

#: Config keys that may change between a run and its resumption without changing what is computed
#: (where files go, where it runs, how often it reports).
RESUMABLE_KEYS = frozenset({"out", "device", "quiet", "checkpoint_every", "log_every", "resume"})


class NonFiniteLossError(ValueError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as RUN/config.json.

    Exactly one of ``steps`` and ``epochs`` sets the length (an epoch is ``n_train // batch_size``
    steps). ``lr=None`` means the paper's rule ``2e-3 * batch_size / 256`` [code]. ``None`` head
    sizes mean the method's defaults (REFERENCE.md). ``label_views`` makes the second view an
    augmentation of *another image of the same label*, so the maximal invariant M is the label
    (the paper's controlled CIFAR-10 design [code]).
    """

    method: str = "dissl"
    data: str = "patches"
    data_dir: str | None = None
    arch: str = "small_cnn"
    z_dim: int = 128
    steps: int | None = None
    epochs: float | None = None
    batch_size: int = 256
    lr: float | None = None
    weight_decay: float = 1e-6
    warmup_fraction: float = 10 / 300  # the paper's 10 warm-up epochs out of 300
    aug: str = "simclr"
    aug_strength: float | None = None  # None: the kind's default (simclr 1, coarse 2)
    n_small_crops: int = 0
    hidden_dim: int | None = None  # width of the MLP heads
    proj_dim: int | None = None  # output of the SimCLR / CISSL projection, DISSL bottleneck
    n_codes: int | None = None  # C of DINO / DISSL
    exact_head: str = "linear"  # head family of exact ISSL: linear (T1) or mlp (T2)
    student_head: str = "linear"  # CISSL's student: linear (the paper's, T8) or mlp (Fig 7c's MLP-head arm)
    label_views: bool = False
    device: str = "cpu"
    seed: int = 0
    checkpoint_every: int = 0  # 0: only at the end
    log_every: int = 10
    quiet: bool = False  # no progress bar, nothing printed
    resume: bool = False
    out: str = "runs/run"

    @property
    def base_lr(self) -> float:
        return self.lr if self.lr is not None else 2e-3 * self.batch_size / 256

    def method_options(self, n_classes: int) -> dict:
        """Keyword options for ``build_method``: only those set, so the method keeps its defaults
        (REFERENCE.md). ``n_classes`` is K of the data's labels (exact ISSL predicts it)."""
        options: dict = {"hidden_dim": self.hidden_dim}
        if self.method in ("simclr", "cissl"):
            options["out_dim"] = self.proj_dim
            if self.method == "cissl":
                options["student_head"] = self.student_head
        elif self.method in ("dino", "dissl"):
            options.update(bottleneck_dim=self.proj_dim, n_codes=self.n_codes, n_views=2 + self.n_small_crops)
        else:  # exact ISSL: one view, or the image and another of its label
            options.update(n_classes=n_classes, head=self.exact_head, n_views=2 if self.label_views else 1)
        return {k: v for k, v in options.items() if v is not None}

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad field; return self."""
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is unknown; choose one of {', '.join(METHODS)}")
        if self.data not in DATASETS:
            raise ValueError(f"data {self.data!r} is unknown; choose one of {', '.join(DATASETS)}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch {self.arch!r} is unknown; choose one of {', '.join(ARCHS)}")
        if self.n_codes is not None and self.method not in ("dino", "dissl"):
            raise ValueError(f"n_codes is the number of codes of dino and dissl; method {self.method} has none")
        if self.n_small_crops and self.method not in ("dino", "dissl"):
            raise ValueError(f"n_small_crops (multi-crop) applies to dino and dissl, not to {self.method}")
        if self.proj_dim is not None and self.method == "exact":
            raise ValueError("proj_dim does not apply to exact ISSL (its head maps z to the K classes)")
        if self.exact_head not in ("linear", "mlp"):
            raise ValueError(f"exact_head must be 'linear' or 'mlp', got {self.exact_head!r}")
        if self.student_head not in ("linear", "mlp"):
            raise ValueError(f"student_head must be 'linear' or 'mlp', got {self.student_head!r}")
        if self.student_head != "linear" and self.method != "cissl":
            raise ValueError(f"student_head chooses CISSL's student head; method {self.method} has none")
        if self.aug not in AUGMENTATIONS:
            raise ValueError(f"aug {self.aug!r} is unknown; choose one of {', '.join(AUGMENTATIONS)}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of steps and epochs")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if self.epochs is not None and not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ValueError(f"epochs must be positive, got {self.epochs!r}")
        for name in ("z_dim", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("hidden_dim", "proj_dim", "n_codes"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (the objectives contrast a batch), got {self.batch_size}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction!r}")
        if self.aug_strength is not None and not (math.isfinite(self.aug_strength) and self.aug_strength > 0):
            raise ValueError(f"aug_strength must be positive, got {self.aug_strength!r}")
        if self.aug == "none" and self.aug_strength is not None:
            raise ValueError("aug_strength does not apply to aug 'none' (no augmentation)")
        if self.n_small_crops < 0 or self.checkpoint_every < 0:
            raise ValueError("n_small_crops and checkpoint_every must be non-negative")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise ValueError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {self.device} requested but CUDA is not available on this machine")
        if not str(self.out):
            raise ValueError("out must name a run directory")
        return self

    def identity(self) -> dict:
        """The fields that must agree between a run and its resumption."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in RESUMABLE_KEYS}


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate multiplier at optimiser step ``step`` (0-based).

    Linear warm-up ``(step + 1) / warmup_steps`` (the first step already trains, unlike the
    authors' code whose first epoch runs at lr 0), then cosine from 1 to 0 over the remaining
    steps [code, with the warm-up fixed].
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


# ----------------------------------------------------------------------------------------------
# The training run
# ----------------------------------------------------------------------------------------------


def train_step(method: nn.Module, views: list[torch.Tensor], labels: torch.Tensor | None, optimizer: torch.optim.Optimizer,
               scheduler, params: list[torch.Tensor], step: int, total_steps: int, *, world_size: int = 1,
               autocast=None) -> tuple[torch.Tensor, dict, float]:
    """One optimiser step of the trainer, from augmented views to updated weights [code: REFERENCE.md].

    ``method.training_step`` under ``autocast`` (the trainer passes bf16 autocast on CUDA, off
    elsewhere; None: no autocast), a finiteness check agreed by every rank, backward, gradients
    averaged over ``world_size`` ranks, clipping by value 2, the optimiser step, the scheduler step
    (``scheduler`` may be None) and ``method.on_step_end`` (EMA teachers, schedules).

    Args:
        method: a ``Method`` (or its DDP-free wrapper) in train mode.
        views: n_views augmented batches (B, C, h, w) on the method's device, large crops first.
        labels: class ids (B,) when ``method.needs_labels``, else None.
        optimizer, scheduler: the trainer's Adam and LambdaLR (warm-up then cosine).
        params: the parameters the optimiser updates (clipped here).
        step, total_steps: 0-based index of this step and the run's length (the methods' schedules).

    Returns:
        (loss, logs, lr): the loss before the update (a scalar tensor, no graph), the method's
        logs, and the learning rate this step used.

    Raises:
        NonFiniteLossError: the loss is NaN or infinite on some rank; nothing was updated.
    """
    with autocast if autocast is not None else contextlib.nullcontext():
        loss, logs = method.training_step(views, labels, step, total_steps)
    finite = torch.isfinite(loss.detach()).float()
    if world_size > 1:  # every rank stops together, none waits in a collective
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    if not finite.item():
        raise NonFiniteLossError(f"loss became {loss.item()} at step {step}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if world_size > 1:
        _average_gradients(params, world_size)
    torch.nn.utils.clip_grad_value_(params, 2.0)
    optimizer.step()
    lr = optimizer.param_groups[0]["lr"] if scheduler is None else scheduler.get_last_lr()[0]
    if scheduler is not None:
        scheduler.step()
    method.on_step_end(step, total_steps)
    return loss.detach(), logs, lr


def train(config: TrainConfig, *, stop_after: int | None = None) -> Path:
    """Train ``config.method`` on ``config.data``; return the run directory.

    ``stop_after`` ends this process after that many optimiser steps *without* writing anything
    more, exactly as if it had been killed (used to test ``resume``). Raises ``ValueError`` for bad
    input (unknown names, another run in ``out``, a checkpoint from another configuration) and
    ``NonFiniteLossError`` when the loss stops being finite.
    """
    from ssltheory.ssl.augment import build_augmentation
    from ssltheory.ssl.data import SameLabelSampler, load_dataset
    from ssltheory.ssl.encoders import build_encoder
    from ssltheory.ssl.methods import build_method

    config.validate()
    rank, world_size = _init_distributed(config)
    is_main = rank == 0
    device = torch.device(config.device if not config.device == "cuda" else f"cuda:{_local_rank()}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    out = Path(config.out)
    if is_main:
        _check_run_dir(out, config)  # refuse before anything is written
    say = print if is_main and not config.quiet else (lambda *a, **k: None)
    say("config:", json.dumps(dataclasses.asdict(config), sort_keys=True), flush=True)

    # ---- data: uint8 images stay on the host; each batch is moved, then augmented on the device
    dataset = load_dataset(config.data, config.data_dir)  # the probes load it the same way
    images, labels = dataset.train.images, dataset.train.labels
    n_train, channels, height, width = images.shape
    if height != width:
        raise ValueError(f"data {config.data!r} has {height}x{width} images; the encoders expect square images")
    if config.batch_size % world_size:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the {world_size} processes")
    if config.batch_size > n_train:
        raise ValueError(f"batch_size {config.batch_size} exceeds the {n_train} training images")
    steps_per_epoch = n_train // config.batch_size
    total_steps = config.steps if config.steps is not None else max(1, math.ceil(config.epochs * steps_per_epoch))
    warmup_steps = round(config.warmup_fraction * total_steps)
    partners = SameLabelSampler(labels) if config.label_views else None

    # ---- model: identical initialisation on every rank, then per-rank augmentation randomness
    _seed_everything(config.seed)
    encoder = build_encoder(config.arch, channels, height, config.z_dim)
    method = build_method(config.method, encoder, **config.method_options(dataset.n_classes))
    augment = build_augmentation(
        config.aug, height, channels, config.aug_strength,
        mean=dataset.mean, std=dataset.std, n_large=method.n_global_views, n_small_crops=config.n_small_crops,
    )
    method, augment = method.to(device), augment.to(device)
    if device.type == "cuda":
        method = method.to(memory_format=torch.channels_last)
        if world_size > 1:
            method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
    if world_size > 1:
        for tensor in method.state_dict().values():
            dist.broadcast(tensor, src=0)
    _seed_everything(config.seed + rank)

    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.base_lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, warmup_steps, total_steps))
    sampler = _EpochSampler(n_train, config.batch_size, seed=config.seed)
    augment_generator = torch.Generator().manual_seed(config.seed + 1 + rank)  # per rank: different views

    # ---- resume
    step = 0
    checkpoint_path = out / "checkpoint.pt"
    if config.resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, config)
        if state["world_size"] != world_size:
            raise ValueError(
                f"checkpoint differs in world_size: it was written by {state['world_size']} processes, this run has {world_size}"
            )
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        sampler.load_state_dict(state["sampler"])
        augment_generator.set_state(state["rng"][rank]["augment"])
        _set_rng_state(state["rng"][rank], device)
        step = int(state["step"])
        if is_main:
            _truncate_metrics(out / "metrics.jsonl", step)
            say(f"resumed from {checkpoint_path} at step {step}/{total_steps}", flush=True)
    if is_main:
        _make_run_dir(out)
        if step == 0 and (out / "metrics.jsonl").exists():  # a run killed before its first checkpoint
            (out / "metrics.jsonl").unlink()
        _atomic_write_text(
            out / "config.json",
            json.dumps(
                {
                    **dataclasses.asdict(config), "image_channels": channels, "image_size": height,
                    "mean": list(dataset.mean), "std": list(dataset.std), "total_steps": total_steps,
                },
                indent=2,
                sort_keys=True,
            ),
        )

    def save_checkpoint(at_step: int) -> None:
        rng = _gather_rng_states(world_size, device, augment_generator)
        if is_main:
            _atomic_torch_save(
                {
                    "model": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "sampler": sampler.state_dict(),
                    "rng": rng,
                    "step": at_step,
                    "world_size": world_size,
                    "config": dataclasses.asdict(config),
                },
                checkpoint_path,
            )

    # ---- the loop
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    progress = _progress_bar(total_steps, step, disable=config.quiet or not is_main)
    method.train()
    steps_this_process = 0
    last_checkpoint = step if checkpoint_path.exists() and config.resume else None
    started = time.perf_counter()
    while step < total_steps:
        index = sampler.next_batch()  # same global batch on every rank
        index = index.chunk(world_size)[rank]
        batch = images[index].to(device, non_blocking=True)
        views = augment(batch, generator=augment_generator)  # list of (B, C, h, w), large crops first
        if partners is not None:  # the second view is of another image with the same label
            other = images[partners(index, generator=sampler.generator)].to(device, non_blocking=True)
            views[1] = augment.view(other, 1, generator=augment_generator)
        if device.type == "cuda":
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        batch_labels = labels[index].to(device) if method.needs_labels else None

        try:
            loss, logs, lr = train_step(method, views, batch_labels, optimizer, scheduler, params, step, total_steps,
                                        world_size=world_size, autocast=autocast)
        except NonFiniteLossError as exc:
            where = f"step {last_checkpoint} in {checkpoint_path}" if last_checkpoint is not None else "none was written yet"
            raise NonFiniteLossError(f"{exc}; training stopped, last good checkpoint: {where}") from None
        step += 1
        steps_this_process += 1
        progress.update(1)

        if is_main and (step % config.log_every == 0 or step == total_steps):
            record = {"step": step, "loss": loss.item(), "lr": lr, "seconds": round(time.perf_counter() - started, 3)}
            record.update({k: _as_number(v) for k, v in logs.items()})
            _append_jsonl(out / "metrics.jsonl", record)
            progress.set_postfix(loss=f"{record['loss']:.4f}")
        if stop_after is not None and steps_this_process >= stop_after and step < total_steps:
            progress.close()
            return out  # as if killed here: nothing more is written
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total_steps:
            save_checkpoint(step)
            last_checkpoint = step
    progress.close()

    save_checkpoint(step)
    if is_main:
        _atomic_torch_save({k: v.detach().cpu() for k, v in encoder.state_dict().items()}, out / "encoder.pt")
        say(f"wrote {out / 'encoder.pt'} after {step} steps", flush=True)
    if world_size > 1:
        dist.barrier()
    return out


def load_checkpoint(path: str | Path, config: TrainConfig | None = None) -> dict:
    """Load a checkpoint with ``weights_only=True``; if ``config`` is given, refuse one from another
    configuration with a ValueError naming the differing keys."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated or foreign file
        raise ValueError(f"checkpoint {path} is unreadable or corrupt ({type(exc).__name__})") from None
    missing = {"model", "optimizer", "scheduler", "sampler", "rng", "step", "world_size", "config"} - set(state)
    if not isinstance(state, dict) or missing:
        raise ValueError(f"checkpoint {path} lacks {', '.join(sorted(missing))}")
    if config is not None:
        _refuse_other_config(state["config"], config, what=f"checkpoint {path}")
    return state


def load_run(run_dir: str | Path) -> tuple[nn.Module, dict]:
    """The trained encoder of a run, in eval mode on the CPU, and the run's config dict.

    ``run_dir`` is a directory written by :func:`train` (it needs ``config.json`` and
    ``encoder.pt``). The encoder maps (B, C, H, W) float images, normalised as by the run's
    augmentation, to (B, z_dim) features.
    """
    from ssltheory.ssl.encoders import build_encoder

    run_dir = Path(run_dir)
    config_path, encoder_path = run_dir / "config.json", run_dir / "encoder.pt"
    for path in (config_path, encoder_path):
        if not path.exists():
            raise FileNotFoundError(f"run directory {run_dir} has no {path.name} (is it a finished `ssltheory train` run?)")
    try:
        config = json.loads(config_path.read_text())
        encoder = build_encoder(config["arch"], config["image_channels"], config["image_size"], config["z_dim"])
    except (json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{config_path} is not a training configuration ({exc})") from None
    try:
        state = torch.load(encoder_path, map_location="cpu", weights_only=True)
        encoder.load_state_dict(state)
    except Exception as exc:
        raise ValueError(f"{encoder_path} does not hold this run's encoder weights ({type(exc).__name__}: {exc})") from None
    return encoder.eval(), config


# ----------------------------------------------------------------------------------------------
# Pieces of the loop
# ----------------------------------------------------------------------------------------------


class _EpochSampler:
    """Batches of distinct indices, a fresh seeded permutation each epoch (last partial batch dropped).

    Its state (generator, current order, cursor) goes into the checkpoint so a resumed run draws
    the same batches.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(n, generator=self.generator)
        self.cursor = 0

    def next_batch(self) -> torch.Tensor:
        if self.cursor + self.batch_size > self.n:
            self.order = torch.randperm(self.n, generator=self.generator)
            self.cursor = 0
        batch = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.cursor = state["order"].clone(), int(state["cursor"])


def _average_gradients(params: list[torch.Tensor], world_size: int) -> None:
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world_size)


def _progress_bar(total: int, initial: int, disable: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=disable or not sys.stderr.isatty(), desc="train", unit="step")


def _as_number(value):
    return value.item() if isinstance(value, torch.Tensor) else value


# ----------------------------------------------------------------------------------------------
# Random states, distributed set-up, files
# ----------------------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(device: torch.device) -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": list(random.getstate()[1]),
        "python_gauss": random.getstate()[2],
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    random.setstate((3, tuple(state["python"]), state["python_gauss"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _gather_rng_states(world_size: int, device: torch.device, augment_generator: torch.Generator) -> list[dict]:
    """Every rank's random states (each rank augments with its own), collected for rank 0."""
    mine = {**_rng_state(device), "augment": augment_generator.get_state()}
    if world_size == 1:
        return [mine]
    states = [None] * world_size
    dist.all_gather_object(states, mine)
    return states


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def _init_distributed(config: TrainConfig) -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if config.device.startswith("cuda") else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _refuse_other_config(saved: dict, config: TrainConfig, what: str) -> None:
    current = config.identity()
    keys = sorted(k for k in set(current) | (set(saved) & set(dataclasses.asdict(config))) if k not in RESUMABLE_KEYS and saved.get(k) != current.get(k))
    if keys:
        detail = ", ".join(f"{k} ({saved.get(k)!r} there, {current.get(k)!r} here)" for k in keys)
        raise ValueError(f"{what} comes from another configuration; differing keys: {detail}")


def _check_run_dir(out: Path, config: TrainConfig) -> None:
    """Refuse to overwrite a run that is in ``out`` unless resuming the same configuration."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} exists and is not a directory")
    saved_config = out / "config.json"
    if saved_config.exists():
        if not config.resume:
            raise ValueError(f"out {out} already holds a run; pass --resume to continue it or choose another --out")
        try:
            saved = json.loads(saved_config.read_text())
        except json.JSONDecodeError:
            raise ValueError(f"{saved_config} is corrupt; cannot resume that run") from None
        _refuse_other_config(saved, config, what=f"the run in {out}")


def _make_run_dir(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp*"):  # left by a process killed while writing
        stale.unlink()


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def _append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after the checkpoint we resume from (the killed run got further)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    _atomic_write_text(path, "\n".join(kept)) if kept else path.unlink()


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument("--method", required=True, help=f"one of {', '.join(METHODS)}")
    parser.add_argument("--data", required=True, help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--data-dir", default=None, help="where the dataset's files are (mnist, cifar10, tinyimagenet, folder)")
    parser.add_argument("--arch", default=d.arch, help=f"encoder: {', '.join(ARCHS)} (default {d.arch})")
    parser.add_argument("--z-dim", type=int, default=d.z_dim, help=f"representation dimension (default {d.z_dim})")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="number of optimiser steps")
    length.add_argument("--epochs", type=float, help="number of epochs (n_train // batch_size steps each)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"global batch size (default {d.batch_size})")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default 2e-3 * batch / 256)")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay, help=f"Adam weight decay (default {d.weight_decay})")
    parser.add_argument("--warmup-fraction", type=float, default=d.warmup_fraction, help="fraction of steps of linear warm-up")
    parser.add_argument("--aug", default=d.aug, help=f"augmentation: {', '.join(AUGMENTATIONS)} (default {d.aug})")
    parser.add_argument("--aug-strength", type=float, default=None, help="augmentation strength s (default: simclr 1, coarse 2)")
    parser.add_argument("--n-small-crops", type=int, default=d.n_small_crops, help="extra small multi-crop views")
    parser.add_argument("--hidden-dim", type=int, default=None, help="width of the MLP heads (default: the method's)")
    parser.add_argument("--proj-dim", type=int, default=None, help="projection / bottleneck size (default: the method's)")
    parser.add_argument("--n-codes", type=int, default=None, help="C, the number of codes of DINO / DISSL")
    parser.add_argument("--exact-head", default=TrainConfig.exact_head, choices=["linear", "mlp"],
                        help="head family of exact ISSL (default linear)")
    parser.add_argument("--student-head", default=TrainConfig.student_head, choices=["linear", "mlp"],
                        help="CISSL's student head: linear (the paper's) or mlp (Fig 7c's MLP-head arm)")
    parser.add_argument("--label-views", action="store_true", help="second view = another image of the same label")
    parser.add_argument("--device", default=d.device, help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps between checkpoints (0: at the end)")
    parser.add_argument("--log-every", type=int, default=d.log_every, help="steps between metrics.jsonl lines")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # tests: die after k steps


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})


def run(args: argparse.Namespace) -> int:
    train(config_from_args(args), stop_after=args.stop_after)
    return 0
