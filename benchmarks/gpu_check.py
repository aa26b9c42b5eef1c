"""``make gpu-check``: one command that exercises the GPU path end to end and writes its numbers.

On a machine with one CUDA GPU and no internet, within 8 minutes (the default sizes), it

1. trains ResNet-18 (the 32-pixel stem) with CISSL and with DISSL and the paper's heads
   (REFERENCE.md: CISSL 1024 -> 128 teacher and linear student, DISSL C = 16384 codes), bf16
   autocast, channels-last, Adam (fused on CUDA), the paper's learning-rate rule, on MNIST
   resized to 32 x 32 and repeated to three channels, read from ``--data-dir`` (default
   ``ssltheory.ssl.data.default_data_dir("mnist")``: ``$SSLTHEORY_MNIST``, else the
   ``shared/data/mnist`` folder beside the repository), for a fixed
   number of steps, and reports images/s, peak memory, FLOPs per step and model FLOP
   utilisation against the device's dense bf16 peak (``ssltheory.benchmarks.gpu.PEAK_BF16``; "unknown"
   for a device not in that table);
2. probes each trained encoder (linear probe on frozen features: fit on the train split, weight
   decay chosen on the validation split, accuracy on the test split) and scores it
   (``ssltheory.metrics.score_all`` on augmented views of held-out images, each image its class);
3. runs ``ssltheory bench --only gpu`` (the two-view epoch benchmark, ``ssltheory.benchmarks.gpu``);
4. writes ``benchmarks/GPU_RESULTS.json`` and ``benchmarks/GPU_RESULTS.md`` under the current directory
   (from the repository's root: the committed files; ``--out`` elsewhere).

The training loop is the trainer's step without its per-step host synchronisation: the uint8
images live on the device and are augmented there in batches, the batch indices are drawn on
the device, the loss is checked for finiteness once at the end of each timed block (a device
flag accumulates it), the optimiser is fused, and ``--compile`` wraps the encoder in
``torch.compile`` (optional: whether it helps is measured, both ways are reported when asked with
``--compile both``). What still synchronises inside a step is said in the results (the losses'
``logs`` are Python floats by contract, and the augmentation draws its random parameters from a
CPU generator and copies them to the device).

``--dry-run`` runs every stage on the CPU at toy sizes (a few seconds; the test suite does this)
and writes nothing unless ``--out`` is given. Without a CUDA device and without ``--dry-run``
the command exits 2 with one line saying so.

Usage::

    make gpu-check                       # or: python -m ssltheory.benchmarks.gpu_check
    python -m ssltheory.benchmarks.gpu_check --steps 300 --compile both
    python -m ssltheory.benchmarks.gpu_check --dry-run --out /tmp/gpu_check
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ssltheory.benchmarks.cli import run_benchmarks
from ssltheory.benchmarks.gpu import peak_flops
from ssltheory.benchmarks.harness import BenchConfig
from ssltheory.files import jsonable
from ssltheory.metrics import score_all
from ssltheory.report import DEFAULT_TOL
from ssltheory.ssl.augment import Normalize, build_augmentation
from ssltheory.ssl.data import load_dataset
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.methods import build_method
from ssltheory.ssl.probes import LinearProbe, extract_features
from ssltheory.ssl.train import warmup_cosine
from ssltheory.ssl.views import sample_views, view_classes

#: the results' folder, relative to the current directory (from the repository's root: the committed files)
DEFAULT_OUT = Path("benchmarks")
METHODS = ("cissl", "dissl")


@dataclass(frozen=True)
class Sizes:
    """Everything that sets the cost of a check."""

    steps: int = 400  # timed steps per method (after `warmup_steps`)
    warmup_steps: int = 20
    batch_size: int = 512  # two views each
    image_size: int = 32
    arch: str = "resnet18"
    z_dim: int = 512
    heads: str = "paper"  # "paper": REFERENCE.md's heads; "tiny": narrow heads (dry run)
    max_train_images: int | None = None  # None: the whole train split
    probe_images: int | None = None  # None: every train / val / test image
    score_images: int = 256
    score_views: int = 4
    bench_quick: bool = False


#: The dry run: toy sizes on the CPU, a few seconds.
DRY = Sizes(steps=2, warmup_steps=1, batch_size=8, image_size=16, arch="resnet18", z_dim=512, heads="tiny",
            max_train_images=64, probe_images=40, score_images=8, score_views=2, bench_quick=True)
TINY_HEADS = {"cissl": {"hidden_dim": 16, "out_dim": 8, "mlp_hidden_dim": 16},
              "dissl": {"hidden_dim": 16, "bottleneck_dim": 8, "n_codes": 32}}


# ---- 1. training, timed -----------------------------------------------------------------------


def train_and_time(method_name: str, dataset, device, sizes: Sizes, compile_encoder: bool, seed: int = 0) -> tuple:
    """Train ``method_name`` for ``sizes.warmup_steps + sizes.steps`` steps on ``dataset``'s train
    split; return (the trained encoder, eval mode, on ``device``; the measurement dict)."""
    import torch

    torch.manual_seed(seed)
    cuda = device.type == "cuda"
    images = dataset.train.images
    if sizes.max_train_images is not None:
        images = images[: sizes.max_train_images]
    images = images.to(device)
    encoder = build_encoder(sizes.arch, dataset.channels, sizes.image_size, sizes.z_dim)
    options = TINY_HEADS[method_name] if sizes.heads == "tiny" else {}
    method = build_method(method_name, encoder, **options).to(device)
    if cuda:
        method = method.to(memory_format=torch.channels_last)
    augment = build_augmentation("simclr", sizes.image_size, dataset.channels, 1.0, mean=dataset.mean, std=dataset.std,
                                 n_large=method.n_global_views).to(device)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=2e-3 * sizes.batch_size / 256, weight_decay=1e-6, fused=cuda)
    total = sizes.warmup_steps + sizes.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, round(total / 30), total))
    cpu_generator = torch.Generator().manual_seed(seed + 1)  # the augmentation's parameters
    index_generator = torch.Generator(device=device).manual_seed(seed + 2)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda)
    finite = torch.ones((), device=device, dtype=torch.bool)

    def step(k: int):
        nonlocal finite
        idx = torch.randint(len(images), (sizes.batch_size,), device=device, generator=index_generator)
        views = augment(images[idx], generator=cpu_generator)
        if cuda:
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        with autocast:
            loss, _ = method.training_step(views, None, k, total)
        finite = finite & torch.isfinite(loss.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_value_(params, 2.0)
        optimizer.step()
        scheduler.step()
        method.on_step_end(k, total)
        return loss.detach()

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(0)  # also the first warm-up step
    flops_per_step = int(counter.get_total_flops())  # counted eagerly: a compiled graph hides its ops
    compile_started = time.perf_counter()
    if compile_encoder:
        method.encoder = torch.compile(encoder)  # compiled during the warm-up steps
    for k in range(1, sizes.warmup_steps):
        step(k)
    sync()
    warmup_s = time.perf_counter() - compile_started
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for k in range(sizes.warmup_steps, total):
        last = step(k)
    sync()
    seconds = time.perf_counter() - started
    if not bool(finite):
        raise FloatingPointError(f"{method_name}: the loss became non-finite during the timed steps")
    name = torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu"
    peak = peak_flops(name) if cuda else None
    achieved = flops_per_step * sizes.steps / seconds
    measured = {
        "method": method_name, "device": name, "arch": sizes.arch, "z_dim": sizes.z_dim,
        "heads": "REFERENCE.md defaults" if sizes.heads == "paper" else "tiny (dry run)",
        "compiled": compile_encoder, "precision": "bf16 autocast, channels-last, fused Adam" if cuda else "float32 (CPU)",
        "batch_size": sizes.batch_size, "steps": sizes.steps, "warmup_steps": sizes.warmup_steps,
        "seconds": seconds, "warmup_seconds": warmup_s,
        "images_per_s": sizes.steps * sizes.batch_size / seconds,
        "two_view_epoch_50k_s": 50_000 / (sizes.steps * sizes.batch_size / seconds),
        "flops_per_step": flops_per_step, "achieved_tflops": achieved / 1e12,
        "peak_bf16_tflops": None if peak is None else peak / 1e12,
        "mfu": None if peak is None else achieved / peak,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None,
        "final_loss": float(last),
    }
    encoder.eval()
    return encoder, measured


# ---- 2. probe and score -----------------------------------------------------------------------


def probe_and_score(encoder, dataset, device, sizes: Sizes, seed: int = 0) -> dict:
    """Linear-probe accuracy (fit on train, weight decay on val, accuracy on test) and the scalar
    ideal-ness scores of ``encoder`` on ``dataset`` (see the module docstring)."""
    import numpy as np
    import torch

    normalize = Normalize(dataset.mean, dataset.std).to(device)
    started = time.perf_counter()
    feats = {}
    for split in ("train", "val", "test"):
        part = getattr(dataset, split)
        n = len(part) if sizes.probe_images is None else min(sizes.probe_images, len(part))
        feats[split] = (extract_features(encoder, part.images[:n], batch_size=1024, device=device, transform=normalize),
                        part.labels[:n].numpy())
    probe = LinearProbe(device=device, random_state=seed).fit(*feats["train"], *feats["val"])
    probed = time.perf_counter()
    part = dataset.val
    n_images = min(sizes.score_images, len(part))
    idx = np.sort(np.random.default_rng(seed).choice(len(part), size=n_images, replace=False))
    augmentation = build_augmentation("simclr", sizes.image_size, dataset.channels, 1.0, mean=dataset.mean,
                                      std=dataset.std)
    Z = sample_views(encoder, part.images[idx], augmentation, sizes.score_views,
                     generator=torch.Generator().manual_seed(seed), device=device)
    scores = score_all(Z, view_classes(n_images, sizes.score_views), tol=DEFAULT_TOL, random_state=seed)
    keep = ("ideal_score", "invariance_ratio", "affine_rank", "dimension_deficit", "worst_task_accuracy",
            "heldout_class_accuracy", "rankme", "alpha_req", "lidar")
    return {
        "linear_accuracy": probe.score(*feats["test"]), "linear_val_accuracy": probe.val_accuracy_,
        "linear_weight_decay": probe.weight_decay_, "probe_images": {k: len(v[1]) for k, v in feats.items()},
        "probe_seconds": probed - started,
        "scores": {k: jsonable(getattr(scores, k)) for k in keep}, "score_images": n_images, "score_views": sizes.score_views,
        "score_seconds": time.perf_counter() - probed,
    }


# ---- 3. the GPU benchmark ---------------------------------------------------------------------


def gpu_benchmark(quick: bool) -> list[dict]:
    """The rows of ``ssltheory bench --only gpu`` (pending without CUDA)."""
    return [r.to_dict() for r in run_benchmarks(BenchConfig(quick=quick), {"gpu": None})]


# ---- the whole check --------------------------------------------------------------------------


def run_check(*, dry_run: bool, data_dir: str | Path | None, sizes: Sizes, compile_mode: str = "off",
              seed: int = 0, echo=print) -> dict:
    """Every stage of the check; returns the JSON-ready record (see the module docstring)."""
    import torch

    if compile_mode not in ("off", "on", "both"):
        raise ValueError(f"compile must be off, on or both, got {compile_mode!r}")
    if not dry_run and not torch.cuda.is_available():
        raise ValueError("no CUDA device on this machine; the GPU check needs one (use --dry-run for the CPU path)")
    if data_dir is None:
        raise ValueError("no MNIST folder: pass --data-dir (idx files), set SSLTHEORY_MNIST, or put them in "
                         "shared/data/mnist beside the repository")
    device = torch.device("cuda" if not dry_run else "cpu")
    started = time.perf_counter()
    dataset = load_dataset("mnist", data_dir, image_size=sizes.image_size, channels=3)
    echo(f"MNIST at {sizes.image_size}x{sizes.image_size}x3: {len(dataset.train)} train, {len(dataset.val)} val, "
         f"{len(dataset.test)} test images; device {device}")
    record = {"sizes": asdict(sizes), "dry_run": dry_run, "torch": torch.__version__,
              "cuda": torch.version.cuda, "methods": {}, "compile_comparison": {}}
    compiles = {"off": [False], "on": [True], "both": [False, True]}[compile_mode]
    for name in METHODS:
        runs = {}
        for compiled in compiles:
            encoder, measured = train_and_time(name, dataset, device, sizes, compiled, seed)
            runs[compiled] = (encoder, measured)
            echo(f"{name}{' (compiled)' if compiled else ''}: {measured['images_per_s']:.0f} images/s, "
                 f"MFU {_fmt(measured['mfu'])}, peak memory {_fmt(measured['peak_memory_gib'])} GiB")
        encoder, measured = runs[compiles[-1]]
        if len(runs) == 2:
            record["compile_comparison"][name] = {
                "eager_images_per_s": runs[False][1]["images_per_s"], "compiled_images_per_s": runs[True][1]["images_per_s"],
                "compiled_warmup_seconds": runs[True][1]["warmup_seconds"]}
        measured["evaluation"] = probe_and_score(encoder, dataset, device, sizes, seed)
        echo(f"{name}: linear probe {measured['evaluation']['linear_accuracy']:.4f}, "
             f"ideal score {_fmt(measured['evaluation']['scores']['ideal_score'])}")
        record["methods"][name] = measured
    record["bench_gpu"] = gpu_benchmark(sizes.bench_quick or dry_run)
    record["syncs_inside_a_step"] = ("the losses' logs are Python floats (one device-to-host copy each); the "
                                     "augmentation's random parameters are drawn on the CPU and copied to the device")
    record["wall_seconds"] = time.perf_counter() - started
    return record


def render(record: dict) -> str:
    """The Markdown report of a record."""
    lines = ["# GPU check", "",
             "Written by `make gpu-check` (`python -m " "ssltheory.benchmarks.gpu_check`); regenerate with the same command on a",
             "machine with one CUDA GPU. Do not edit by hand. What each number means: `benchmarks/gpu_check.py`.", "",
             f"- dry run: {record['dry_run']}; torch {record['torch']}, CUDA {record['cuda']}; "
             f"wall time {record['wall_seconds']:.1f} s",
             f"- sizes: {json.dumps(record['sizes'])}", "",
             "| method | device | images/s | 50k two-view epoch (s) | TFLOP/s " "| bf16 peak | MFU | peak GiB | linear acc | ideal score |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in record["methods"].items():
        ev = m["evaluation"]
        lines.append(f"| {name}{' (compiled)' if m['compiled'] else ''} | {m['device']} | {m['images_per_s']:.0f} | "
                     f"{m['two_view_epoch_50k_s']:.2f} | {m['achieved_tflops']:.3g} | "
                     f"{_fmt(m['peak_bf16_tflops'], 'unknown')} | {_fmt(m['mfu'])} | {_fmt(m['peak_memory_gib'])} | "
                     f"{ev['linear_accuracy']:.4f} | {_fmt(ev['scores']['ideal_score'])} |")
    if record["compile_comparison"]:
        lines += ["", "torch.compile (encoder):", ""]
        for name, c in record["compile_comparison"].items():
            lines.append(f"- {name}: eager {c['eager_images_per_s']:.0f} images/s, compiled "
                         f"{c['compiled_images_per_s']:.0f} images/s (compilation " f"and warm-up {c['compiled_warmup_seconds']:.1f} s)")
    lines += ["", "`ssltheory bench --only gpu`:", ""]
    for row in record["bench_gpu"]:
        lines.append(f"- {row['name']}: status {row['status']}, ratio {_fmt(row.get('ratio'))}, "
                     f"details {json.dumps(row.get('details'), sort_keys=True)}")
    lines += ["", f"Host synchronisation still inside a step: {record['syncs_inside_a_step']}.", "",
              "## Raw record (JSON)", "", "```json", json.dumps(record, indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def _fmt(value, missing: str = "-") -> str:
    if value is None:
        return missing
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def write_results(record: dict, out: Path) -> list[Path]:
    """``out/GPU_RESULTS.json`` and ``out/GPU_RESULTS.md``, each written whole (temp file, rename)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("GPU_RESULTS.json", json.dumps(jsonable(record), indent=1, sort_keys=True) + "\n"),
                       ("GPU_RESULTS.md", render(jsonable(record)))):
        path = out / name
        tmp = path.with_name(f".{name}.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    from ssltheory.benchmarks.cli import gpu_check_main

    sys.exit(gpu_check_main())
