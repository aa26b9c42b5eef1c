"""One training loop for every self-supervised objective (the command is ``ssltheory.commands.train``).

Reads top to bottom like nanoGPT's ``train.py`` or DINO's ``main_dino.py``: configuration, data,
model, optimiser, resume, then one loop (sample, augment, step, log, checkpoint). The step itself
is :func:`train_step`, public so that the throughput benchmark times the trainer's own code.

Faithful to the authors' public code (docs/REFERENCE.md) [code]: Adam, learning rate
``2e-3 * batch_size / 256``, weight decay 1e-6, linear warm-up then cosine decay, gradient
clipping by value 2, both views through the encoder in one batch, mixed precision on the
accelerator (bf16 here). Departs from it on purpose where their code has a known problem: the
warm-up starts at ``lr / warmup_steps``, never at 0 for a whole epoch.

The run directory (config.json, metrics.jsonl, checkpoint.pt, encoder.pt and the writer's lock)
is read and written by :mod:`ssltheory.ssl.runs` alone; ``load_checkpoint`` and ``load_run`` are
re-exported here. One process writes a run at a time (a second is refused naming the holder's pid).
Progress goes to stderr (:class:`ssltheory.progress.Progress`): a bar on a terminal, otherwise a
line every few seconds with the step, loss, images per second and time left.

A checkpoint holds the method (encoder + heads + loss buffers), optimiser, scheduler, step, the
epoch order of the sampler and every random state (torch CPU/CUDA, numpy, python, the sampler's
generator), so ``--resume`` continues bit for bit on CPU. Everything stored is a tensor or a plain
container, so it loads with ``torch.load(weights_only=True)``.

Several processes: launched by ``torchrun`` (env ``RANK``/``WORLD_SIZE``), the process group is
initialised (nccl on CUDA, gloo on CPU), every rank draws the same global batch and keeps its
shard, gradients are averaged across ranks, and only rank 0 writes files. Gathering negatives or
the teacher marginal across ranks is the method's own option (``distributed=True``).

Example::

    from ssltheory.ssl.train import TrainConfig, train
    run_dir = train(TrainConfig(method="dissl", data="patches", steps=300, out="runs/dissl"))
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ssltheory.errors import InputError
from ssltheory.progress import Progress
from ssltheory.ssl import methods as methods_registry
from ssltheory.ssl.augment import build_augmentation
from ssltheory.ssl.config import TrainConfig
from ssltheory.ssl.data import SameLabelSampler, load_dataset
from ssltheory.ssl.datasets import DATASETS
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.losses.common import check_label_range
from ssltheory.ssl.runs import RunDir, load_checkpoint, load_run, refuse_other_config

__all__ = [
    "TrainConfig",
    "Built",
    "NonFiniteLossError",
    "NonFiniteWatch",
    "StepSettings",
    "build",
    "train",
    "train_step",
    "logs_as_floats",
    "warmup_cosine",
    "load_checkpoint",
    "load_run",
]


class NonFiniteLossError(InputError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint is kept.

    An InputError: the configuration diverged on this data (a learning rate too high, say), which
    the command line reports in one line (exit 2)."""


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


@dataclass(frozen=True)
class StepSettings:
    """How a step runs on its device: the one place that decides bf16 autocast, channels-last
    images and fused Adam (the trainer, ``bench --only gpu`` and the GPU check all build from it).

    ``StepSettings.for_device(device)``: the accelerator path on CUDA (bf16 autocast, channels-last,
    fused Adam, ``cudnn.benchmark``), float32 and the for-each Adam on the CPU (whose numbers stay
    those of earlier runs). ``accelerated=True`` takes the CUDA path on any device (the GPU check's
    CPU dry run: bf16 autocast and fused Adam exist on the CPU too).
    """

    accelerated: bool

    @classmethod
    def for_device(cls, device: torch.device | str, accelerated: bool | None = None) -> "StepSettings":
        return cls(torch.device(device).type == "cuda" if accelerated is None else bool(accelerated))

    def autocast(self, device: torch.device | str):
        """bf16 autocast on ``device`` (a disabled context off the accelerator path)."""
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=self.accelerated)

    def prepare(self, method: nn.Module) -> nn.Module:
        """The method's weights in channels-last layout (the accelerator path), in place."""
        if self.accelerated:
            method = method.to(memory_format=torch.channels_last)
        if self.accelerated and next(method.parameters()).device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
        return method

    def layout(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """The views in the layout of the weights (channels-last on the accelerator path)."""
        if not self.accelerated:
            return views
        return [v.contiguous(memory_format=torch.channels_last) for v in views]

    def optimizer(self, params: list[torch.Tensor], lr: float, weight_decay: float) -> torch.optim.Adam:
        """The trainer's Adam, fused (one kernel for every tensor, no host read of its step counts)
        on the accelerator path."""
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=self.accelerated or None)


class NonFiniteWatch:
    """Counts the steps whose loss was NaN or infinite, on the device, without a host read.

    ``record(loss, step)`` after each step's forward (device-side ``torch.where``; returns the
    step's non-finite flag as a float tensor, which a fused optimiser takes as ``found_inf`` and so
    skips that update on the device); ``check()`` reads the count on the host (the trainer does
    so on logged and checkpoint steps and at the end) and raises :class:`NonFiniteLossError`
    naming the first bad step and its loss.
    """

    def __init__(self, device: torch.device | str):
        self.count = torch.zeros((), dtype=torch.int64, device=device)
        self.first_step = torch.full((), -1, dtype=torch.int64, device=device)
        self.first_loss = torch.zeros((), dtype=torch.float32, device=device)

    def record(self, loss: torch.Tensor, step: int) -> torch.Tensor:
        bad = ~torch.isfinite(loss.detach())
        first = bad & (self.first_step < 0)
        self.first_step.copy_(torch.where(first, step, self.first_step))
        self.first_loss.copy_(torch.where(first, loss.detach().float(), self.first_loss))
        self.count.add_(bad.long())
        return bad.float()

    def check(self) -> None:
        """Raise NonFiniteLossError if any recorded loss was non-finite (a host read)."""
        count = int(self.count)
        if count:
            more = f" ({count} non-finite steps in all)" if count > 1 else ""
            raise NonFiniteLossError(f"loss became {self.first_loss.item()} at step {int(self.first_step)}{more}")


def train_step(
    method: nn.Module,
    views: list[torch.Tensor],
    labels: torch.Tensor | None,
    optimizer: torch.optim.Optimizer,
    scheduler,
    params: list[torch.Tensor],
    step: int,
    total_steps: int,
    *,
    world_size: int = 1,
    autocast=None,
    watch: NonFiniteWatch | None = None,
) -> tuple[torch.Tensor, dict, float]:
    """One optimiser step of the trainer, from augmented views to updated weights [code: docs/REFERENCE.md].

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
        watch: None: the loss's finiteness is read on the host (one synchronisation) and a
            non-finite loss raises before anything is updated. A :class:`NonFiniteWatch`: no host
            read at all (the trainer's way); the watch counts the step on the device, a fused
            optimiser skips its update there (``found_inf``), and ``watch.check()`` raises later.

    Returns:
        (loss, logs, lr): the loss before the update (a scalar tensor, no graph), the method's
        logs (detached tensors; :func:`logs_as_floats` reads them), and the learning rate this step used.

    Raises:
        NonFiniteLossError: (``watch`` None) the loss is NaN or infinite on some rank; nothing was updated.
    """
    with autocast if autocast is not None else contextlib.nullcontext():
        loss, logs = method.training_step(views, labels, step, total_steps)
    if watch is None:
        finite = torch.isfinite(loss.detach()).float()
        if world_size > 1:  # every rank stops together, none waits in a collective
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not finite.item():
            raise NonFiniteLossError(f"loss became {loss.item()} at step {step}")
        skip = None
    else:
        skip = watch.record(loss, step)
        if world_size > 1:  # every rank skips together
            dist.all_reduce(skip, op=dist.ReduceOp.MAX)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if world_size > 1:
        _average_gradients(params, world_size)
    torch.nn.utils.clip_grad_value_(params, 2.0)
    fused = skip is not None and optimizer.defaults.get("fused")
    if fused:
        optimizer.found_inf = skip  # read by fused Adam on the device: a non-finite step updates nothing
    try:
        optimizer.step()
    finally:
        if fused:
            del optimizer.found_inf
    lr = optimizer.param_groups[0]["lr"] if scheduler is None else scheduler.get_last_lr()[0]
    if scheduler is not None:
        scheduler.step()
    method.on_step_end(step, total_steps)
    return loss.detach(), logs, lr


def logs_as_floats(logs: dict) -> dict[str, float]:
    """A step's logs as Python floats: the host read of the detached tensors, once per logged step."""
    return {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in logs.items()}


def train(config: TrainConfig, dataset=None, *, callback=None) -> Path:
    """Train ``config.method`` on ``config.data`` (or on ``dataset``); return the run directory.

    Args:
        config: the run (validated here).
        dataset: an in-memory ``ssltheory.ssl.data.ImageDataset`` to train on instead of loading
            ``config.data`` (``config.data`` is then only recorded; the augmentation follows the
            dataset's own registry entry, e.g. CIFAR-10's half jitter). SSL pretraining uses its
            whole training split (train and val rows, ``ImageDataset.pretraining``) [code].
        callback: called after every optimiser step as ``callback(step, record)`` (``step``
            1-based; ``record`` the step's loss, lr, seconds and method logs as floats: with a
            callback every step reads the device once; without one the loop reads it only on
            logged and checkpoint steps). If it
            returns True, training stops there and nothing more is written: the run directory
            is as an interruption at that step leaves it, and ``resume=True`` continues from its
            last checkpoint, bit for bit.

    Raises:
        ValueError: bad input (unknown names, another run in ``out``, another process writing
            ``out``, a checkpoint from another configuration, unreadable files).
        NonFiniteLossError: the loss stopped being finite (the last good checkpoint is kept).
    """
    config.validate()
    rank, world_size = _init_distributed(config)
    is_main = rank == 0
    device = torch.device(config.device if not config.device == "cuda" else f"cuda:{_local_rank()}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    run = RunDir(config.out)
    if is_main and run.path.exists() and not run.path.is_dir():
        raise InputError(f"out {run.path} exists and is not a directory")
    created = not run.path.exists()
    try:
        with run.lock() if is_main else contextlib.nullcontext():
            if is_main:  # under the lock, so that a second writer is told who holds the run
                _check_run_dir(run, config)  # refuse before anything is written
            return _train_locked(config, dataset, callback, run, rank, world_size, device)
    except BaseException:
        if is_main and created and run.path.is_dir() and not any(p.name != ".lock" for p in run.path.iterdir()):
            with contextlib.suppress(OSError):  # nothing was written: leave no empty run behind
                run.lock_path.unlink()
                run.path.rmdir()
        raise


@dataclass
class Built:
    """What a training configuration builds (see :func:`build`).

    Attributes:
        dataset: the ImageDataset.
        images, labels: the pretraining split, uint8 (N, C, H, W) and int64 (N,): the whole
            training split (train and val rows) [code].
        total_steps: the run's length in optimiser steps.
        encoder, method, augment: freshly initialised (seeded with ``config.seed``), on the CPU.
    """

    dataset: object
    images: torch.Tensor
    labels: torch.Tensor
    total_steps: int
    encoder: nn.Module
    method: nn.Module
    augment: nn.Module


def check_fits(config: TrainConfig, images: torch.Tensor, world_size: int = 1) -> None:
    """Raise InputError unless ``config`` can train on the pretraining images (N, C, H, W).

    The images must be square, and the batch must divide among the processes and be at most N.
    """
    n_train, _, height, width = images.shape
    if height != width:
        raise InputError(f"data {config.data!r} has {height}x{width} images; the encoders expect square images")
    if config.batch_size % world_size:
        raise InputError(f"batch_size {config.batch_size} is not divisible by the {world_size} processes")
    if config.batch_size > n_train:
        raise InputError(f"batch_size {config.batch_size} exceeds the {n_train} training images")


def build(config: TrainConfig, dataset=None, *, world_size: int = 1) -> Built:
    """Everything :func:`train` builds from ``config`` before its first step, without training:
    the data (``dataset``, or ``config.data`` loaded), its pretraining split, the run's length,
    the encoder, the method (options from the registry) and the augmentation (the dataset's
    jitter scale, e.g. CIFAR-10's half jitter, and the blur kernel of its image size).

    Raises ValueError for a configuration that cannot run on that data."""
    config.validate()
    if dataset is None:
        dataset = load_dataset(config.data, config.data_dir)  # the probes load it the same way
    pretrain = dataset.pretraining()  # the whole training split [code]
    images, labels = pretrain.images, pretrain.labels
    check_fits(config, images, world_size)
    n_train, channels, height, width = images.shape
    steps_per_epoch = n_train // config.batch_size
    total_steps = config.steps if config.steps is not None else max(1, math.ceil(config.epochs * steps_per_epoch))
    jitter_scale = DATASETS[dataset.name].jitter_scale if dataset.name in DATASETS else 1.0

    _seed_everything(config.seed)  # identical initialisation on every rank
    encoder = build_encoder(config.arch, channels, height, config.z_dim)
    method = methods_registry.build_method(config.method, encoder, **config.build_options(dataset.n_classes))
    augment = build_augmentation(
        config.aug,
        height,
        channels,
        config.aug_strength,
        jitter_scale=jitter_scale,
        mean=dataset.mean,
        std=dataset.std,
        n_large=method.n_global_views,
        n_small_crops=config.n_small_crops,
    )
    return Built(dataset, images, labels, total_steps, encoder, method, augment)


def _train_locked(
    config: TrainConfig, dataset, callback, run: RunDir, rank: int, world_size: int, device: torch.device
) -> Path:
    """The body of :func:`train`, run while holding the run directory's writer lock (rank 0)."""
    is_main = rank == 0
    say = print if is_main and not config.quiet else (lambda *a, **k: None)
    say("config:", json.dumps(dataclasses.asdict(config), sort_keys=True), flush=True)

    built = build(config, dataset, world_size=world_size)
    dataset, images, labels, total_steps = built.dataset, built.images, built.labels, built.total_steps
    encoder, method, augment = built.encoder, built.method, built.augment
    channels, height = images.shape[1], images.shape[2]
    warmup_steps = round(config.warmup_fraction * total_steps)
    partners = SameLabelSampler(labels) if config.label_views else None
    n_train = len(images)

    settings = StepSettings.for_device(device)
    method, augment = settings.prepare(method.to(device)), augment.to(device)
    if device.type == "cuda":
        if world_size > 1:
            method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
    if method.needs_labels:
        check_label_range(
            labels, getattr(method, "n_classes", int(labels.max()) + 1)
        )  # once, on the host: the step itself reads nothing back
    if world_size > 1:
        for tensor in method.state_dict().values():
            dist.broadcast(tensor, src=0)
    _seed_everything(config.seed + rank)

    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = settings.optimizer(params, config.base_lr, config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, warmup_steps, total_steps))
    sampler = _EpochSampler(n_train, config.batch_size, seed=config.seed)
    # on the training device, so that a step draws its views without a host copy; per rank: different views
    augment_generator = torch.Generator(device=device).manual_seed(config.seed + 1 + rank)

    # ---- resume
    step = 0
    checkpoint_path = run.checkpoint_path
    if config.resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, config)
        if state["world_size"] != world_size:
            raise InputError(
                "checkpoint differs in world_size: it was written by "
                f"{state['world_size']} processes, this run has {world_size}"
            )
        method.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        sampler.load_state_dict(state["sampler"])
        augment_generator.set_state(state["rng"][rank]["augment"])
        _set_rng_state(state["rng"][rank], device)
        step = int(state["step"])
        if is_main:
            note = run.truncate_metrics(step)
            if note:
                say(note, flush=True)
            say(f"resumed from {checkpoint_path} at step {step}/{total_steps}", flush=True)
    if is_main:
        run.path.mkdir(parents=True, exist_ok=True)
        run.remove_stale_temporaries()
        if step == 0:  # a run killed before its first checkpoint starts again
            run.clear_metrics()
        run.write_config(
            {
                **dataclasses.asdict(config),
                "image_channels": channels,
                "image_size": height,
                "mean": list(dataset.mean),
                "std": list(dataset.std),
                "total_steps": total_steps,
            }
        )

    def save_checkpoint(at_step: int) -> None:
        rng = _gather_rng_states(world_size, device, augment_generator)
        if is_main:
            run.save_checkpoint(
                {
                    "model": method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "sampler": sampler.state_dict(),
                    "rng": rng,
                    "step": at_step,
                    "world_size": world_size,
                    "config": dataclasses.asdict(config),
                }
            )

    monitor = _reference_monitor(config, dataset, encoder) if is_main and config.monitor_every else None

    # ---- the loop
    autocast = settings.autocast(device)
    watch = NonFiniteWatch(device)  # the loss's finiteness, read on the host only when the loop reads anyway
    method.train()
    last_checkpoint = step if checkpoint_path.exists() and config.resume else None
    started, start_step = time.perf_counter(), step
    with Progress(
        total_steps, f"train {config.method}", unit="step", initial=step, disable=config.quiet or not is_main
    ) as progress:
        while step < total_steps:
            index = sampler.next_batch()  # same global batch on every rank
            index = index.chunk(world_size)[rank]
            batch = _to_device(images[index], device)
            views = augment(batch, generator=augment_generator)  # list of (B, C, h, w), large crops first
            if partners is not None:  # the second view is of another image with the same label
                other = _to_device(images[partners(index, generator=sampler.generator)], device)
                views[1] = augment.view(other, 1, generator=augment_generator)
            views = settings.layout(views)
            batch_labels = _to_device(labels[index], device) if method.needs_labels else None

            loss, logs, lr = train_step(
                method,
                views,
                batch_labels,
                optimizer,
                scheduler,
                params,
                step,
                total_steps,
                world_size=world_size,
                autocast=autocast,
                watch=watch,
            )
            step += 1
            logged = step % config.log_every == 0 or step == total_steps
            checkpoint_due = (
                bool(config.checkpoint_every) and step % config.checkpoint_every == 0 and step < total_steps
            )
            monitored = monitor is not None and (step % config.monitor_every == 0 or step == total_steps)
            if not (logged or checkpoint_due or monitored or callback is not None):
                progress.update(1)
                continue  # nothing read back from the device on this step
            try:
                watch.check()  # before anything of a non-finite step is written
            except NonFiniteLossError as exc:
                where = (
                    f"step {last_checkpoint} in {checkpoint_path}"
                    if last_checkpoint is not None
                    else "none was written yet"
                )
                raise NonFiniteLossError(f"{exc}; training stopped, last good checkpoint: {where}") from None
            seconds = time.perf_counter() - started
            record = {"step": step, "loss": loss.item(), "lr": lr, "seconds": round(seconds, 3), **logs_as_floats(logs)}
            images_per_s = config.batch_size * (step - start_step) / max(seconds, 1e-9)
            progress.update(1, loss=record["loss"], img_per_s=round(images_per_s))

            if is_main and logged:
                run.append_metrics(record)
            if monitored:
                run.append_metrics(monitor.score(step))  # on this step only; restores modes and random states
            if callback is not None and callback(step, record) and step < total_steps:
                return run.path  # stopped early: nothing more is written, as after an interruption
            if checkpoint_due:
                save_checkpoint(step)
                last_checkpoint = step

    save_checkpoint(step)
    if is_main:
        run.save_encoder(encoder.state_dict())
        say(f"wrote {run.encoder_path} after {step} steps", flush=True)
    if world_size > 1:
        dist.barrier()
    return run.path


# ----------------------------------------------------------------------------------------------
# Pieces of the loop
# ----------------------------------------------------------------------------------------------


def _reference_monitor(config: TrainConfig, dataset, encoder: nn.Module):
    """The `ssltheory.monitor.IdealnessMonitor` of ``--monitor-every``: the encoder on the first
    images of the test split (never trained on), each its own class, views of the reference augmentation."""
    from ssltheory.monitor import IdealnessMonitor

    part = dataset.test if len(dataset.test) >= 2 else dataset.val
    return IdealnessMonitor(
        encoder, part.images, every=config.monitor_every, mean=dataset.mean, std=dataset.std, seed=config.seed
    )


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


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host batch on ``device``: through pinned memory and without waiting on CUDA (the caching
    host allocator keeps the pinned block until the copy has run), as it is on the CPU."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


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
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
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


def _check_run_dir(run: RunDir, config: TrainConfig) -> None:
    """Refuse to overwrite a run that is in ``out`` unless resuming the same configuration."""
    if run.path.exists() and not run.path.is_dir():
        raise InputError(f"out {run.path} exists and is not a directory")
    if run.has_run():
        if not config.resume:
            raise InputError(
                f"out {run.path} already holds a run; pass --resume to continue it or choose another --out"
            )
        refuse_other_config(run.read_config(), config, what=f"the run in {run.path}")
