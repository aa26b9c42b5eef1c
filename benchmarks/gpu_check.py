"""``make gpu-check``: the first contact with a lent GPU, in stages that each leave their numbers behind.

One command (the README's device command) on a machine with one CUDA GPU, no internet and only
PyTorch, numpy, scipy, scikit-learn and friends (no kornia, python-flint or submitit: nothing here
needs them; exact verification falls back on ``float-lp`` and says so). It runs these stages, each
in its own child process with its own deadline, inside an overall deadline (8 minutes by default):

1. ``first_contact`` (under 3 minutes): the device, driver and versions; a bf16 matrix-product
   peak measured on the device; for every registered method, the model-only step (synthetic views
   already on the device, ResNet-18 with the 32-pixel stem, batch 512, the paper's heads, bf16
   autocast, channels-last, fused Adam: ``ssltheory.ssl.train.StepSettings``) with
   ``cudnn.benchmark`` off and on, its FLOPs (``FlopCounterMode``), MFU against 989 TFLOP/s and
   against the measured peak, and peak memory; the augmentation alone, its synchronisations counted
   by ``torch.cuda.set_sync_debug_mode`` and its host reads by :class:`HostReads`; a few real
   trainer steps (``ssltheory.ssl.train.train`` on MNIST); a short ``torch.profiler`` table of the
   top kernels (``profile.txt``).
2. ``compile``: ``torch.compile`` of the encoder tried under the stage's time cap; the model-only
   step eager and compiled. The later stages compile only if this one finished and was faster.
3. ``train_cissl``, ``train_dissl``: train for a fixed number of steps on MNIST (32 x 32 x 3),
   timed, then the linear probe and ``ssltheory.metrics.score_all`` of the trained encoder.
4. ``bench_gpu``: ``ssltheory bench --only gpu`` (the two-view epoch of 50,000 images; the
   target row ``gpu_resnet18_epoch_within_1s``).

Everything goes under ``--out``: ``stages.jsonl`` gets one JSON line per finished part, written
and ``fsync``-ed as it finishes (a stage that dies, runs out of memory or time gets a line saying
so, written by the parent, and the next stage runs); ``stages.log`` the children's output;
``profile.txt``; and at the end ``GPU_RESULTS.json`` (every line) and ``GPU_RESULTS.md`` (tables).

``--dry-run`` runs every stage on the CPU at toy sizes, on the same code path as CUDA (bf16
autocast, channels-last, fused Adam, the device generator; ``torch.compile`` with the ``eager``
backend so that the test suite need not wait for a C++ compiler). Without a CUDA device and
without ``--dry-run`` the command exits 2 with one line saying so.

MNIST: ``--data-dir``, else ``$SSLTHEORY_MNIST``, else the ignored in-repository folder
``.data/mnist`` (``make gpu-data`` fills it, so that it travels with the working tree), else
``ssltheory.ssl.datasets.default_data_dir("mnist")``.

Usage::

    python -m ssltheory.benchmarks.gpu_check --out gpu-out            # on the GPU machine
    python -m ssltheory.benchmarks.gpu_check --dry-run --out /tmp/gpu  # anywhere, a minute
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ssltheory.errors import InputError
from ssltheory.files import atomic_write_text

#: H100 SXM dense bf16 peak, the MFU denominator of the issue's target (also reported: a measured peak)
H100_BF16_FLOPS = 989e12
OVERALL_DEADLINE_S = 480.0
#: stage name -> its own deadline in seconds (the overall deadline caps each further)
STAGES = {
    "first_contact": 170.0,
    "compile": 60.0,
    "train_cissl": 80.0,
    "train_dissl": 80.0,
    "bench_gpu": 90.0,
}  # sum 480
TRAINED = ("cissl", "dissl")
LINES, LOG, PROFILE = "stages.jsonl", "stages.log", "profile.txt"
REPO = Path(__file__).resolve().parents[1]
#: Tensor methods and torch functions that read a device value on the host (or must know its size first)
HOST_READ_CALLS = frozenset(
    {
        "item",
        "__float__",
        "__bool__",
        "__int__",
        "__index__",
        "tolist",
        "nonzero",
        "cpu",
        "numpy",
        "masked_select",
        "unique",
        "argwhere",
        "nonzero_static",
    }
)


@dataclass(frozen=True)
class Sizes:
    """Everything that sets the cost of a check."""

    batch_size: int = 512  # images per step, two views each
    image_size: int = 32
    model_steps: int = 12  # timed model-only steps per method and setting
    warmup_steps: int = 4
    train_steps: int = 300  # timed training steps per trained method
    trainer_steps: int = 8  # the real trainer's steps (first contact)
    matmul_n: int = 8192
    heads: str = "paper"  # "paper": the registry's defaults; "tiny": narrow heads (dry run)
    probe_images: int | None = None  # None: every train / val / test image
    score_images: int = 256
    score_views: int = 4
    bench_quick: bool = False


#: The dry run: toy sizes on the CPU.
DRY = Sizes(
    batch_size=8,
    image_size=16,
    model_steps=2,
    warmup_steps=1,
    train_steps=2,
    trainer_steps=2,
    matmul_n=64,
    heads="tiny",
    probe_images=40,
    score_images=8,
    score_views=2,
    bench_quick=True,
)
TINY_HEADS = {
    "simclr": dict(hidden_dim=16, out_dim=8),
    "cissl": dict(hidden_dim=16, out_dim=8, mlp_hidden_dim=16),
    "dino": dict(n_codes=12, hidden_dim=16, bottleneck_dim=8),
    "dissl": dict(n_codes=32, hidden_dim=16, bottleneck_dim=8),
    "exact": dict(n_classes=10, hidden_dim=16),
    "swav": dict(n_prototypes=12, hidden_dim=16, out_dim=8),
    "barlow": dict(hidden_dim=16, out_dim=16),
    "simsiam": dict(hidden_dim=16, out_dim=16, pred_dim=8),
}


# ---- writing as we go -------------------------------------------------------------------------


def emit(out: Path, record: dict) -> None:
    """Append one JSON line to ``out/stages.jsonl``, flushed and fsync-ed (it survives a kill right after)."""
    from ssltheory.files import jsonable

    out.mkdir(parents=True, exist_ok=True)
    with open(out / LINES, "a") as handle:
        handle.write(json.dumps(jsonable(record), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_lines(out: Path) -> list[dict]:
    """The complete lines of ``out/stages.jsonl`` (a line cut by a kill is skipped)."""
    path = out / LINES
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return records


class HostReads:
    """Counts the host reads (``HOST_READ_CALLS``, and indexing by a boolean mask) made while active,
    through a ``torch.overrides.TorchFunctionMode``: the Python-level calls that synchronise a CUDA
    device, counted on any device. ``calls`` lists them in order."""

    def __init__(self):
        from torch.overrides import TorchFunctionMode

        counter = self

        class _Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                counter._see(getattr(func, "__name__", str(func)), args)
                return func(*args, **(kwargs or {}))

        self.calls: list[str] = []
        self._mode = _Mode()

    def _see(self, name: str, args: tuple) -> None:
        import torch

        if name in HOST_READ_CALLS:
            self.calls.append(name)
        elif name in ("__getitem__", "__setitem__") and len(args) > 1:
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            if any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in index):
                self.calls.append(f"{name}[bool mask]")

    def __enter__(self) -> "HostReads":
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)


def cuda_syncs(fn) -> int | None:
    """How many synchronising CUDA calls ``fn()`` makes (``torch.cuda.set_sync_debug_mode("warn")``
    warns once per such call); None off CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message).lower() for w in caught)


# ---- pieces shared by the stages ----------------------------------------------------------------


def _device(dry_run: bool):
    import torch

    return torch.device("cpu" if dry_run else "cuda")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _options(name: str, sizes: Sizes) -> dict:
    return dict(TINY_HEADS[name]) if sizes.heads == "tiny" else {}


class ModelStep:
    """A method's training step on synthetic views already on the device (no data, no augmentation):
    the trainer's ``train_step`` with the accelerator's settings and a :class:`NonFiniteWatch`."""

    def __init__(self, name: str, device, sizes: Sizes, compile_backend: str | None = None, seed: int = 0):
        import torch

        from ssltheory.ssl.encoders import build_encoder
        from ssltheory.ssl.methods import build_method
        from ssltheory.ssl.train import NonFiniteWatch, StepSettings

        torch.manual_seed(seed)
        self.device, self.sizes, self.name = device, sizes, name
        self.settings = StepSettings.for_device(device, accelerated=True)
        options = _options(name, sizes)
        if name == "exact" and "n_classes" not in options:
            options["n_classes"] = 1000
        method = build_method(name, build_encoder("resnet18", 3, sizes.image_size), **options)
        self.method = self.settings.prepare(method.to(device)).train()
        if compile_backend is not None:
            self.method.encoder = torch.compile(self.method.encoder, backend=compile_backend)
        self.params = [p for p in self.method.parameters() if p.requires_grad]
        self.optimizer = self.settings.optimizer(self.params, 2e-3 * sizes.batch_size / 256, 1e-6)
        self.watch = NonFiniteWatch(device)
        self.autocast = self.settings.autocast(device)
        g = torch.Generator(device=device).manual_seed(seed + 1)
        small = max(4, sizes.image_size // 2)
        self.views = self.settings.layout(
            [
                torch.randn(
                    sizes.batch_size,
                    3,
                    *(2 * (sizes.image_size if v < self.method.n_global_views else small,)),
                    device=device,
                    generator=g,
                )
                for v in range(self.method.n_views)
            ]
        )
        self.labels = (
            torch.randint(0, self.method.n_classes, (sizes.batch_size,), device=device, generator=g)
            if self.method.needs_labels
            else None
        )
        self.step_index = 0

    def step(self):
        from ssltheory.ssl.train import train_step

        loss, logs, _ = train_step(
            self.method,
            self.views,
            self.labels,
            self.optimizer,
            None,
            self.params,
            self.step_index,
            10**6,
            autocast=self.autocast,
            watch=self.watch,
        )
        self.step_index += 1
        return loss

    def flops(self) -> int:
        """FLOPs of one step (forward and backward; matmuls and convolutions), counted eagerly."""
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            self.step()
        return int(counter.get_total_flops())

    def seconds_per_step(self, warmup: int, steps: int) -> float:
        for _ in range(warmup):
            self.step()
        _sync(self.device)
        started = time.perf_counter()
        for _ in range(steps):
            self.step()
        _sync(self.device)
        self.watch.check()
        return (time.perf_counter() - started) / steps


def _mfu(flops_per_step: int, seconds: float, measured_peak: float | None) -> dict:
    achieved = flops_per_step / seconds
    return {
        "achieved_tflops": achieved / 1e12,
        "mfu_vs_989": achieved / H100_BF16_FLOPS,
        "mfu_vs_measured_peak": None if not measured_peak else achieved / measured_peak,
    }


def _epoch_seconds(seconds_per_step: float, batch_size: int) -> float:
    """A two-view epoch of 50,000 images at this step time."""
    return 50_000 / batch_size * seconds_per_step


def _peak_memory_gib(device) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def find_mnist(data_dir: str | Path | None) -> Path | None:
    """``data_dir``, else ``$SSLTHEORY_MNIST``, else ``<repo>/.data/mnist``, else the library's default."""
    from ssltheory.ssl.datasets import MNIST_ENV, default_data_dir

    if data_dir:
        return Path(data_dir)
    if os.environ.get(MNIST_ENV):
        return Path(os.environ[MNIST_ENV])
    in_repo = REPO / ".data" / "mnist"
    return in_repo if in_repo.is_dir() else default_data_dir("mnist")


def _load_mnist(args, sizes: Sizes):
    from ssltheory.ssl.data import load_dataset

    data_dir = find_mnist(args.data_dir)
    if data_dir is None:
        raise FileNotFoundError(
            "no MNIST folder: run `make gpu-data` (fills .data/mnist), pass --data-dir, or set SSLTHEORY_MNIST"
        )
    return load_dataset("mnist", data_dir, image_size=sizes.image_size, channels=3)


def _part(out: Path, stage: str, part: str, fn) -> dict | None:
    """Run one part of a stage and write its line at once; an exception becomes the line's error."""
    started = time.perf_counter()
    try:
        result = fn()
        record = {"stage": stage, "part": part, "status": "ok", **(result or {})}
    except Exception as exc:  # recorded, and the stage goes on with its next part
        record = {"stage": stage, "part": part, "status": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}
        result = None
    record["seconds"] = time.perf_counter() - started
    emit(out, record)
    return result


# ---- stage 1: first contact ---------------------------------------------------------------------


def stage_first_contact(args, sizes: Sizes, out: Path) -> None:
    import torch

    device = _device(args.dry_run)
    _part(out, "first_contact", "environment", lambda: environment(device))
    peak = _part(out, "first_contact", "matmul_peak", lambda: matmul_peak(device, sizes.matmul_n)) or {}
    measured = peak.get("bf16_tflops", 0) * 1e12 or None
    from ssltheory.ssl.methods import METHODS

    for name in sorted(METHODS):
        _part(out, "first_contact", f"model_step_{name}", lambda name=name: model_step(name, device, sizes, measured))
    _part(out, "first_contact", "augmentation", lambda: augmentation_alone(device, sizes))
    _part(out, "first_contact", "trainer_steps", lambda: trainer_steps(args, device, sizes))
    _part(out, "first_contact", "profile", lambda: profile_table(device, sizes, out / PROFILE))
    if device.type == "cuda":
        emit(
            out,
            {
                "stage": "first_contact",
                "part": "peak_memory",
                "status": "ok",
                "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30,
            },
        )


def environment(device) -> dict:
    import importlib

    import numpy
    import scipy
    import torch

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "device": str(device),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu=props.name,
            capability=f"{props.major}.{props.minor}",
            gpu_memory_gib=props.total_memory / 2**30,
            multiprocessors=props.multi_processor_count,
        )
        with contextlib.suppress(Exception):
            info["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm,power.limit", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
    for module in ("kornia", "flint", "submitit", "sklearn", "skimage", "matplotlib", "tqdm"):
        try:
            info[f"has_{module}"] = getattr(importlib.import_module(module), "__version__", "yes")
        except ImportError:
            info[f"has_{module}"] = None
    from ssltheory.exact import flint_missing

    info["exact_verification"] = flint_missing() or "exact (python-flint present)"
    return info


def matmul_peak(device, n: int) -> dict:
    """bf16 (n, n) x (n, n) products, timed back to back: the device's measured matrix peak."""
    import torch

    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=g).to(torch.bfloat16)
    b = torch.randn(n, n, device=device, generator=g).to(torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    repeats = 20 if device.type == "cuda" else 2
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    seconds = (time.perf_counter() - started) / repeats
    return {"n": n, "seconds": seconds, "bf16_tflops": 2 * n**3 / seconds / 1e12}


def model_step(name: str, device, sizes: Sizes, measured_peak: float | None) -> dict:
    import torch

    result = {"method": name, "batch_size": sizes.batch_size, "settings": "bf16 autocast, channels-last, fused Adam"}
    flops = None
    for benchmark in (False, True):
        torch.backends.cudnn.benchmark = benchmark
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        runner = ModelStep(name, device, sizes)
        torch.backends.cudnn.benchmark = benchmark  # prepare() turns it on; each setting measured as named
        flops = flops or runner.flops()
        seconds = runner.seconds_per_step(sizes.warmup_steps, sizes.model_steps)
        key = "cudnn_benchmark_on" if benchmark else "cudnn_benchmark_off"
        result[key] = {
            "ms_per_step": seconds * 1e3,
            "images_per_s": sizes.batch_size / seconds,
            "epoch_50k_s": _epoch_seconds(seconds, sizes.batch_size),
            **_mfu(flops, seconds, measured_peak),
            "peak_memory_gib": _peak_memory_gib(device),
        }
        del runner
    result["flops_per_step"] = flops
    return result


def augmentation_alone(device, sizes: Sizes) -> dict:
    """The two-view augmentation of a uint8 batch on the device: time, CUDA syncs, host reads."""
    import torch

    from ssltheory.ssl.augment import build_augmentation

    aug = build_augmentation("simclr", sizes.image_size, 3).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(
        0, 256, (sizes.batch_size, 3, sizes.image_size, sizes.image_size), dtype=torch.uint8, device=device, generator=g
    )
    aug(images, generator=g)
    _sync(device)
    syncs = cuda_syncs(lambda: aug(images, generator=g))
    with HostReads() as reads:
        aug(images, generator=g)
    repeats = 20 if device.type == "cuda" else 2
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        aug(images, generator=g)
    _sync(device)
    seconds = (time.perf_counter() - started) / repeats
    return {
        "batch_size": sizes.batch_size,
        "ms_per_call": seconds * 1e3,
        "images_per_s": sizes.batch_size / seconds,
        "cuda_syncs_per_call": syncs,
        "host_reads_per_call": len(reads.calls),
        "host_reads": reads.calls[:20],
    }


def trainer_steps(args, device, sizes: Sizes) -> dict:
    """A few steps of the real trainer (``ssltheory.ssl.train.train``, DISSL) on MNIST, in a temporary run directory."""
    from ssltheory.ssl.train import TrainConfig, train

    dataset = _load_mnist(args, sizes)
    half = max(1, sizes.trainer_steps // 2)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            method="dissl",
            data="mnist",
            arch="resnet18",
            batch_size=sizes.batch_size,
            steps=2 * half,
            log_every=half,
            device=str(device),
            quiet=True,
            out=str(Path(tmp) / "run"),
            method_options=_options("dissl", sizes),
        )
        started = time.perf_counter()
        run = train(config, dataset)
        wall = time.perf_counter() - started
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    per_step = (rows[-1]["seconds"] - rows[0]["seconds"]) / half  # the second half: warm
    return {
        "method": "dissl",
        "steps": 2 * half,
        "batch_size": sizes.batch_size,
        "wall_s": wall,
        "s_per_step_warm": per_step,
        "images_per_s_warm": sizes.batch_size / per_step,
        "final_loss": rows[-1]["loss"],
    }


def profile_table(device, sizes: Sizes, path: Path) -> dict:
    """``torch.profiler`` over three model-only DISSL steps: the top kernels, written to ``profile.txt``."""
    from torch.profiler import ProfilerActivity, profile

    runner = ModelStep("dissl", device, sizes)
    runner.seconds_per_step(2, 1)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(3):
            runner.step()
        _sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    table = prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=60)
    atomic_write_text(path, table + "\n")
    return {"sorted_by": key, "top": table.splitlines()[:20]}


# ---- stage 2: compile ---------------------------------------------------------------------------


def stage_compile(args, sizes: Sizes, out: Path) -> None:
    device = _device(args.dry_run)
    backend = "eager" if args.dry_run else "inductor"

    def measure() -> dict:
        eager = ModelStep("dissl", device, sizes).seconds_per_step(sizes.warmup_steps, sizes.model_steps)
        runner = ModelStep("dissl", device, sizes, compile_backend=backend)
        started = time.perf_counter()
        runner.step()  # compiles
        _sync(device)
        compile_s = time.perf_counter() - started
        compiled = runner.seconds_per_step(sizes.warmup_steps, sizes.model_steps)
        return {
            "method": "dissl",
            "backend": backend,
            "compile_s": compile_s,
            "eager_ms_per_step": eager * 1e3,
            "compiled_ms_per_step": compiled * 1e3,
            "speedup": eager / compiled,
        }

    _part(out, "compile", "encoder", measure)


def compile_helps(out: Path) -> bool:
    """Whether the compile stage finished and the compiled step was at least 5% faster."""
    for record in read_lines(out):
        if record.get("stage") == "compile" and record.get("part") == "encoder" and record.get("status") == "ok":
            return record["speedup"] >= 1.05
    return False


# ---- stage 3: train, probe, score ---------------------------------------------------------------


def stage_train(name: str, args, sizes: Sizes, out: Path) -> None:
    device = _device(args.dry_run)
    dataset = _load_mnist(args, sizes)
    trained = {}

    def run_training() -> dict:
        encoder, measured = train_and_time(name, dataset, device, sizes, args.use_compile, args.seed)
        trained["encoder"] = encoder
        return measured

    _part(out, f"train_{name}", "train", run_training)
    if "encoder" in trained:
        _part(
            out,
            f"train_{name}",
            "probe_and_score",
            lambda: probe_and_score(trained["encoder"], dataset, device, sizes, args.seed),
        )


def train_and_time(name: str, dataset, device, sizes: Sizes, compiled: bool, seed: int = 0) -> tuple:
    """Train ``name`` on ``dataset``'s train split for ``warmup_steps + train_steps`` steps with the
    trainer's step (uint8 images resident on the device, augmented there with a device generator,
    no host read inside a step); return (the encoder in eval mode, the measurement)."""
    import torch

    from ssltheory.ssl.augment import build_augmentation
    from ssltheory.ssl.encoders import build_encoder
    from ssltheory.ssl.methods import build_method
    from ssltheory.ssl.train import NonFiniteWatch, StepSettings, train_step, warmup_cosine

    torch.manual_seed(seed)
    settings = StepSettings.for_device(device, accelerated=True)
    images = dataset.train.images.to(device)
    encoder = build_encoder("resnet18", dataset.channels, sizes.image_size)
    method = settings.prepare(build_method(name, encoder, **_options(name, sizes)).to(device)).train()
    if compiled:
        method.encoder = torch.compile(encoder)
    augment = build_augmentation(
        "simclr",
        sizes.image_size,
        dataset.channels,
        1.0,
        mean=dataset.mean,
        std=dataset.std,
        n_large=method.n_global_views,
    ).to(device)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = settings.optimizer(params, 2e-3 * sizes.batch_size / 256, 1e-6)
    total = sizes.warmup_steps + sizes.train_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, max(1, round(total / 30)), total)
    )
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    watch, autocast = NonFiniteWatch(device), settings.autocast(device)

    def step(k: int):
        index = torch.randint(len(images), (sizes.batch_size,), device=device, generator=generator)
        views = settings.layout(augment(images[index], generator=generator))
        return train_step(method, views, None, optimizer, scheduler, params, k, total, autocast=autocast, watch=watch)

    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(0)
    flops = int(counter.get_total_flops())
    for k in range(1, sizes.warmup_steps):
        step(k)
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for k in range(sizes.warmup_steps, total):
        loss, logs, _ = step(k)
    _sync(device)
    seconds = (time.perf_counter() - started) / sizes.train_steps
    watch.check()
    from ssltheory.ssl.train import logs_as_floats

    encoder.eval()
    return encoder, {
        "method": name,
        "compiled": compiled,
        "batch_size": sizes.batch_size,
        "steps": sizes.train_steps,
        "ms_per_step": seconds * 1e3,
        "images_per_s": sizes.batch_size / seconds,
        "epoch_50k_s": _epoch_seconds(seconds, sizes.batch_size),
        "flops_per_step": flops,
        **_mfu(flops, seconds, None),
        "peak_memory_gib": _peak_memory_gib(device),
        "final_loss": loss.item(),
        "final_logs": logs_as_floats(logs),
    }


def probe_and_score(encoder, dataset, device, sizes: Sizes, seed: int = 0) -> dict:
    """Linear-probe accuracy (fit on train, weight decay on val, accuracy on test) and the scalar
    scores of ``ssltheory.metrics.score_all`` on augmented views of held-out images."""
    import numpy as np
    import torch

    from ssltheory.files import jsonable
    from ssltheory.metrics import score_all
    from ssltheory.ssl.augment import Normalize, build_augmentation
    from ssltheory.ssl.probes import LinearProbe, extract_features
    from ssltheory.ssl.views import sample_views, view_classes

    normalize = Normalize(dataset.mean, dataset.std).to(device)
    started = time.perf_counter()
    feats = {}
    for split in ("train", "val", "test"):
        part = getattr(dataset, split)
        n = len(part) if sizes.probe_images is None else min(sizes.probe_images, len(part))
        feats[split] = (
            extract_features(encoder, part.images[:n], batch_size=1024, device=device, transform=normalize),
            part.labels[:n].numpy(),
        )
    probe = LinearProbe(device=device, random_state=seed).fit(*feats["train"], *feats["val"])
    probed = time.perf_counter()
    part = dataset.val
    n_images = min(sizes.score_images, len(part))
    idx = np.sort(np.random.default_rng(seed).choice(len(part), size=n_images, replace=False))
    augmentation = build_augmentation(
        "simclr", sizes.image_size, dataset.channels, 1.0, mean=dataset.mean, std=dataset.std
    )
    Z = sample_views(
        encoder,
        part.images[idx],
        augmentation,
        sizes.score_views,
        generator=torch.Generator().manual_seed(seed),
        device=device,
    )
    scores = score_all(Z, view_classes(n_images, sizes.score_views), random_state=seed)
    keep = (
        "ideal_score",
        "invariance_ratio",
        "affine_rank",
        "dimension_deficit",
        "worst_task_accuracy",
        "heldout_class_accuracy",
        "rankme",
        "alpha_req",
        "lidar",
    )
    return {
        "linear_accuracy": probe.score(*feats["test"]),
        "linear_val_accuracy": probe.val_accuracy_,
        "probe_images": {k: len(v[1]) for k, v in feats.items()},
        "probe_seconds": probed - started,
        "scores": {k: jsonable(getattr(scores, k, None)) for k in keep},
        "score_images": n_images,
        "score_views": sizes.score_views,
        "score_seconds": time.perf_counter() - probed,
    }


# ---- stage 4: the bench row ---------------------------------------------------------------------


def stage_bench(args, sizes: Sizes, out: Path) -> None:
    def rows() -> dict:
        from ssltheory.benchmarks.gpu import compare_epochs_rows, run
        from ssltheory.benchmarks.harness import BenchConfig

        if args.dry_run:  # the benchmark's own code path on the CPU at toy sizes
            found = compare_epochs_rows(
                "cpu",
                n_images=64,
                batch_size=sizes.batch_size,
                image_size=sizes.image_size,
                method_options=TINY_HEADS["dissl"],
                method="dissl",
                repeats=1,
                warmup_steps=1,
                num_workers=0,
            )
        else:
            found = run(BenchConfig(quick=sizes.bench_quick, seed=args.seed))
        return {"rows": [r.to_dict() for r in found]}

    _part(out, "bench_gpu", "rows", rows)


STAGE_FUNCTIONS = {
    "first_contact": stage_first_contact,
    "compile": stage_compile,
    "train_cissl": lambda args, sizes, out: stage_train("cissl", args, sizes, out),
    "train_dissl": lambda args, sizes, out: stage_train("dissl", args, sizes, out),
    "bench_gpu": stage_bench,
}


# ---- the parent: stages in children, deadlines, the report --------------------------------------


def run_stages(args, out: Path, echo=print) -> list[dict]:
    """Every stage asked for, each in a child process under its deadline; returns the lines written."""
    deadline = time.monotonic() + args.deadline
    emit(
        out,
        {
            "stage": "plan",
            "status": "ok",
            "stages": {s: args.deadlines[s] for s in args.only},
            "deadline_s": args.deadline,
            "dry_run": args.dry_run,
            "argv": sys.argv[1:],
        },
    )
    for name in args.only:
        left = deadline - time.monotonic()
        if left < 5:
            emit(out, {"stage": name, "status": "skipped", "error": f"overall deadline of {args.deadline:g} s reached"})
            continue
        limit = min(args.deadlines[name], left)
        command = (
            [
                sys.executable,
                "-m",
                "ssltheory.benchmarks.gpu_check",
                "--stage",
                name,
                "--out",
                str(out),
                "--seed",
                str(args.seed),
            ]
            + (["--dry-run"] if args.dry_run else [])
            + (["--data-dir", str(args.data_dir)] if args.data_dir else [])
            + (["--use-compile"] if name.startswith("train_") and compile_helps(out) else [])
        )
        echo(f"gpu-check: stage {name} (deadline {limit:.0f} s)")
        started = time.monotonic()
        with open(out / LOG, "a") as log:
            log.write(f"\n==== stage {name}: {' '.join(command)}\n")
            log.flush()
            child = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                code = child.wait(timeout=limit)
                status = "finished" if code == 0 else "error"
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)  # the stage and anything it started (compile workers)
                child.wait()
                code, status = None, "timeout"
        if status != "finished":
            emit(
                out,
                {
                    "stage": name,
                    "status": status,
                    "exit_code": code,
                    "seconds": time.monotonic() - started,
                    "error": f"stage {status}"
                    + (f" after its {limit:.0f} s deadline" if status == "timeout" else f" with exit code {code}")
                    + f"; its output is in {LOG}",
                    "log_tail": _tail(out / LOG, 30),
                },
            )
        echo(f"gpu-check: stage {name} {status} in {time.monotonic() - started:.1f} s")
    return read_lines(out)


def _tail(path: Path, n: int) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-n:] if path.exists() else []


def render(records: list[dict]) -> str:
    """The Markdown report of the lines."""
    lines = [
        "# GPU check",
        "",
        "Written by `python -m ssltheory.benchmarks.gpu_check` (the README's device command); "
        "every number below is also a line of `GPU_RESULTS.json`.",
        "",
    ]
    for r in records:
        if r.get("part") == "environment":
            lines += [
                f"- {k}: {v}" for k, v in sorted(r.items()) if k not in ("stage", "part", "status", "seconds")
            ] + [""]
    lines += ["| stage | part | status | seconds | summary |", "|---|---|---|---:|---|"]
    for r in records:
        lines.append(
            f"| {r.get('stage')} | {r.get('part', '')} | {r.get('status')} | {r['seconds']:.1f} | {_summary(r)} |"
            if "seconds" in r
            else f"| {r.get('stage')} | {r.get('part', '')} | {r.get('status')} | - | {_summary(r)} |"
        )
    model = [r for r in records if str(r.get("part", "")).startswith("model_step_") and r.get("status") == "ok"]
    if model:
        lines += [
            "",
            "Model-only step, batch %s (bf16 autocast, channels-last, fused Adam):" % model[0]["batch_size"],
            "",
            "| method | cudnn.benchmark | ms/step | images/s | 50k epoch "
            "(s) | TFLOP/s | MFU vs 989 | MFU vs measured | peak GiB |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in model:
            for key in ("cudnn_benchmark_off", "cudnn_benchmark_on"):
                m = r[key]
                lines.append(
                    f"| {r['method']} | {key.rsplit('_', 1)[1]} | {m['ms_per_step']:.2f} | {m['images_per_s']:.0f} | "
                    f"{m['epoch_50k_s']:.2f} | {m['achieved_tflops']:.1f} | {_fmt(m['mfu_vs_989'])} | "
                    f"{_fmt(m['mfu_vs_measured_peak'])} | {_fmt(m['peak_memory_gib'])} |"
                )
    lines += ["", "## Lines (JSON)", "", "```json"] + [json.dumps(r, sort_keys=True) for r in records] + ["```", ""]
    return "\n".join(lines)


def _summary(r: dict) -> str:
    if r.get("status") not in ("ok",):
        return str(r.get("error", ""))[:200].replace("|", "/")
    part = str(r.get("part", ""))
    if part.startswith("model_step_"):
        m = r["cudnn_benchmark_on"]
        return f"{m['ms_per_step']:.2f} ms/step, MFU {_fmt(m['mfu_vs_989'])} (vs 989 TFLOP/s)"
    if part == "matmul_peak":
        return f"bf16 {r['bf16_tflops']:.1f} TFLOP/s at n = {r['n']}"
    if part == "augmentation":
        return (
            f"{r['ms_per_call']:.2f} ms/call, CUDA syncs "
            f"{r['cuda_syncs_per_call']}, host reads {r['host_reads_per_call']}"
        )
    if part == "train":
        return f"{r['images_per_s']:.0f} images/s, 50k epoch {r['epoch_50k_s']:.2f} s, loss {r['final_loss']:.4g}"
    if part == "probe_and_score":
        return f"linear probe {r['linear_accuracy']:.4f}, ideal score {_fmt(r['scores'].get('ideal_score'))}"
    if part == "encoder":
        return f"compile {r['compile_s']:.1f} s, speed-up {r['speedup']:.2f}"
    if part == "rows":
        return "; ".join(f"{row['name']}: {row['status']}, ratio {_fmt(row['ratio'])}" for row in r["rows"])
    if part == "trainer_steps":
        return f"{r['images_per_s_warm']:.0f} images/s warm"
    return ""


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def write_results(records: list[dict], out: Path) -> list[Path]:
    """``out/GPU_RESULTS.json`` (every line) and ``out/GPU_RESULTS.md``, each written whole (temp file, rename)."""
    written = []
    for name, text in (
        ("GPU_RESULTS.json", json.dumps(records, indent=1, sort_keys=True) + "\n"),
        ("GPU_RESULTS.md", render(records)),
    ):
        written.append(atomic_write_text(out / name, text))
    return written


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(
        prog="python -m ssltheory.benchmarks.gpu_check",
        description="the GPU first-contact check, in stages that each write as they finish",
    )
    parser.add_argument(
        "--out", required=True, help="folder of stages.jsonl, stages.log, profile.txt, GPU_RESULTS.{json,md}"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="every stage on the CPU at toy sizes, on the CUDA code path"
    )
    parser.add_argument(
        "--data-dir", default=None, help="MNIST idx files (default: $SSLTHEORY_MNIST, else .data/mnist)"
    )
    parser.add_argument("--deadline", type=float, default=OVERALL_DEADLINE_S, help="overall seconds (default 480)")
    parser.add_argument("--stage-deadlines", default="", help=argparse.SUPPRESS)  # NAME=SECONDS,...: tests shrink them
    parser.add_argument(
        "--only", default=",".join(STAGES), help=f"stages to run, comma-separated (default {','.join(STAGES)})"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)  # a child: run this one stage
    parser.add_argument("--use-compile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    args.deadlines = dict(STAGES)
    for item in filter(None, args.stage_deadlines.split(",")):
        name, _, seconds = item.partition("=")
        args.deadlines[name] = float(seconds)
    unknown = [s for s in args.only + ([args.stage] if args.stage else []) + list(args.deadlines) if s not in STAGES]
    if unknown:
        raise InputError(f"unknown stage {unknown[0]!r}; the stages are {', '.join(STAGES)}")
    if args.deadline <= 0:
        raise InputError(f"--deadline must be positive, got {args.deadline}")
    return args


def main(argv: list[str] | None = None) -> int:
    """The command (see the module docstring): 0 when it ran (each stage's outcome is in its lines),
    2 with one line on stderr for bad input or no CUDA device without ``--dry-run``."""
    try:
        args = parse_args(argv)
        if not args.dry_run and args.stage is None:
            import torch

            if not torch.cuda.is_available():
                raise InputError(
                    "no CUDA device on this machine; the GPU check needs one (use --dry-run for the CPU path)"
                )
    except ValueError as exc:
        print(f"gpu-check: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    sizes = DRY if args.dry_run else Sizes()
    if args.stage is not None:  # a child
        STAGE_FUNCTIONS[args.stage](args, sizes, out)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    records = run_stages(args, out, echo=lambda text: print(text, file=sys.stderr, flush=True))
    for path in write_results(records, out):
        print(f"wrote {path}", file=sys.stderr)
    print(render(records).split("## Lines")[0])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
