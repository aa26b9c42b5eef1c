"""Watch a run while it trains: the ideal-ness scores of the encoder on a fixed reference set, every N steps.

`IdealnessMonitor(encoder, images, every=N)` is a plain object any PyTorch loop can call::

    monitor = IdealnessMonitor(encoder, images, every=500, out="runs/mine/metrics.jsonl")
    for step in range(1, steps + 1):
        ...                                   # the loop's own forward, backward, optimiser step
        monitor(step)                         # scores and appends a line on steps 500, 1000, ...

What it scores is fixed when it is built, so that the scores of two steps differ only by the
encoder: the images (the first ``n_images`` given), their ``n_views`` views drawn once on the CPU
by the reference augmentation (`ssltheory.ssl.views.reference_augmentation`, simclr at s = 1,
unless ``augmentation`` says otherwise) from ``seed`` (`ssltheory.ssl.views.draw_views`, the
views `score_encoder` draws from the same seed), and the held-out split of `score_all`
(``random_state=seed``). Each call encodes those views on the encoder's own device, in eval mode
without gradients, and scores the codes through the one scoring path, `ssltheory.metrics.score_all`
(so a monitored score equals ``score_encoder(encoder, images, n_views=V, seed=seed)`` on the same
weights). Afterwards the encoder is as it was: its device (it is never moved), the train / eval
mode of every submodule, and every random state (torch CPU and CUDA, numpy's global, Python's
``random``), so the loop continues as if the monitor had not run.

The scores are appended to ``out`` (a ``metrics.jsonl``; `ssltheory.files.append_json_line`) as
``{"step": s, "monitor": {score: value, ..., "augmentation": {...}, "n_images", "n_views"},
"monitor_seconds": t}``; ``ssltheory train --monitor-every N`` writes the same lines into the
run's metrics.jsonl, and ``ssltheory plot RUN`` draws them against steps beside the loss. Codes
that are not finite give a line with ``"error"`` instead of stopping the loop.

Cost (``ssltheory bench --only monitor``): one forward pass over ``n_images * n_views`` views and
one `score_all` on them per call; at the defaults (64 images x 4 views, every 200 steps) the
overhead on the CPU recipe is the ``monitor_overhead`` row of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.files import append_json_line, jsonable

__all__ = [
    "IdealnessMonitor",
    "DEFAULT_EVERY",
    "DEFAULT_IMAGES",
    "DEFAULT_VIEWS",
    "PLOTTED",
    "monitored_records",
    "plot_run",
]

#: Steps between scorings (``ssltheory train --monitor-every`` has no default: off unless asked).
DEFAULT_EVERY = 200
#: Images of the reference set (each its own class) and views of each.
DEFAULT_IMAGES = 64
DEFAULT_VIEWS = 4


def _device_of(module: nn.Module) -> torch.device:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


class _SavedState:
    """The random states and per-module modes a scoring could touch, restored on exit."""

    def __init__(self, module: nn.Module):
        self.module = module

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.module.modules()]
        self.torch = torch.get_rng_state()
        self.cuda = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        )
        self.numpy = np.random.get_state()
        self.python = random.getstate()
        return self

    def __exit__(self, *exc):
        for m, training in self.modes:
            m.training = training
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        return False


class IdealnessMonitor:
    """Scores of ``encoder`` on a fixed reference set every ``every`` steps (module docstring).

    Args:
        encoder: the ``nn.Module`` being trained, mapping (B, C, h, w) float to pooled (B, d)
            features (an output with more dimensions is refused: pool it first).
        images: uint8 or [0, 1] float (N, C, H, W), tensor or array; the first ``n_images`` are used.
        every: score when ``step % every == 0`` (>= 1).
        n_images: images of the reference set, each its own class (default 64, at most N).
        n_views: views per image (>= 2: the held-out scores need two views of each class).
        labels: None, or (N,) labels making the classes (the augmentation "another image with the
            same label").
        mean, std: per-channel normalisation the encoder expects (None: ImageNet's); ignored when
            ``augmentation`` is given.
        augmentation: an `ssltheory.ssl.augment.SSLAugmentation` (default: the reference one).
        seed: seed of the views and of the held-out split.
        tol: tolerance of the scores (None: `score_all`'s rule, as `score_encoder`).
        out: a ``metrics.jsonl`` to append each scoring to (None: only returned).
        batch_size: views per forward pass.
        score_options: more keyword arguments of `score_all` (``lidar_delta``, ``ridge``, ...).
    """

    def __init__(
        self,
        encoder: nn.Module,
        images,
        *,
        every: int = DEFAULT_EVERY,
        n_images: int | None = DEFAULT_IMAGES,
        n_views: int = DEFAULT_VIEWS,
        labels=None,
        mean=None,
        std=None,
        augmentation=None,
        seed: int = 0,
        tol: float | None = None,
        out=None,
        batch_size: int = 256,
        score_options: dict | None = None,
    ):
        from ssltheory.ssl.views import describe_augmentation, draw_views, reference_augmentation, view_classes

        if not isinstance(encoder, nn.Module):
            raise InputError(f"encoder must be a torch.nn.Module, got {type(encoder).__name__}")
        for name, value, least in (("every", every, 1), ("n_views", n_views, 2), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or int(value) != value or value < least:
                raise InputError(f"{name} must be an integer >= {least}, got {value!r}")
        if not isinstance(images, torch.Tensor):
            images = torch.as_tensor(np.asarray(images))
        if images.ndim != 4:
            raise InputError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            if not images.is_floating_point():
                raise InputError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
            if images.numel() and not (float(images.min()) >= 0 and float(images.max()) <= 1):
                raise InputError(
                    "float images must lie in [0, 1] (divide uint8 pixels by 255, before any normalisation)"
                )
        n = len(images) if n_images is None else min(int(n_images), len(images))
        if n < 2:
            raise InputError(f"the reference set needs at least 2 images, got {n}")
        images = images[:n].cpu()
        if augmentation is None:
            augmentation = reference_augmentation(images.shape[-1], images.shape[1], mean, std)
        self.encoder, self.every, self.seed, self.tol = encoder, int(every), int(seed), tol
        self.batch_size, self.score_options = int(batch_size), dict(score_options or {})
        self.n_images, self.n_views = n, int(n_views)
        self.out = None if out is None else Path(out)
        self.augmentation = describe_augmentation(augmentation)
        with _SavedState(encoder):  # drawing the views touches no global state, but be sure
            self.views = draw_views(
                images,
                augmentation,
                self.n_views,
                generator=torch.Generator().manual_seed(seed),
                batch_size=self.batch_size,
            )
        self.classes = view_classes(n, self.n_views, None if labels is None else np.asarray(labels)[:n])
        self.records: list[dict] = []

    def __call__(self, step: int) -> dict | None:
        """Score and record at ``step`` when ``step % every == 0``; returns the record, else None."""
        return self.score(step) if step % self.every == 0 else None

    def codes(self) -> np.ndarray:
        """float32 (n_images * n_views, d) codes of the reference views through the encoder as it is now."""
        device = _device_of(self.encoder)
        chunks = []
        with _SavedState(self.encoder), torch.no_grad():
            self.encoder.eval()
            for start in range(0, len(self.views), self.batch_size):
                out = self.encoder(self.views[start : start + self.batch_size].to(device, non_blocking=True))
                if isinstance(out, (tuple, list)):
                    raise InputError(
                        f"the encoder returns a {type(out).__name__}; the monitor scores one (B, d) "
                        "tensor: monitor the module that returns the representation"
                    )
                if out.ndim != 2:
                    raise InputError(
                        f"the encoder returns {tuple(out.shape)} outputs; the monitor scores pooled (B, d) "
                        "features: pool them first, e.g. nn.Sequential(encoder, nn.AdaptiveAvgPool2d(1), "
                        "nn.Flatten())"
                    )
                chunks.append(out.detach().float().cpu())
        return torch.cat(chunks).numpy()

    def score(self, step: int) -> dict:
        """Score now (whatever the step), append the record to ``out`` and return it."""
        from ssltheory.metrics import score_all

        started = time.perf_counter()
        record: dict = {"step": int(step)}
        codes = self.codes()
        if not np.isfinite(codes).all():
            record["monitor"] = {"error": f"{int(np.size(codes) - np.isfinite(codes).sum())} codes are NaN or infinite"}
        else:
            with _SavedState(self.encoder):  # the scores' own random draws use their seed, never the globals
                scores = score_all(
                    codes,
                    self.classes,
                    tol=self.tol,
                    augmentation=self.augmentation,
                    random_state=self.seed,
                    **self.score_options,
                )
            values = {
                k: v for k, v in jsonable(scores.to_dict()).items() if v is None or isinstance(v, (bool, int, float))
            }
            record["monitor"] = {
                **values,
                "augmentation": self.augmentation,
                "n_images": self.n_images,
                "n_views": self.n_views,
            }
        record["monitor_seconds"] = round(time.perf_counter() - started, 4)
        self.records.append(record)
        if self.out is not None:
            append_json_line(self.out, record)
        return record


def monitored_records(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """(training lines, monitor lines) of a metrics.jsonl's records (`ssltheory.ssl.runs.read_metrics`)."""
    return [r for r in records if "monitor" not in r], [r for r in records if "monitor" in r]


#: The monitored scores drawn by `plot_run`, each on its own panel beside the loss.
PLOTTED = ("ideal_score", "invariance_ratio", "rankme", "lidar", "worst_task_accuracy")


def plot_run(run_dir, out=None) -> Path:
    """Draw a run's loss and its monitored scores against the step: ``RUN/monitor.png`` (or ``out``).

    Reads ``RUN/metrics.jsonl`` (`ssltheory.ssl.runs.read_metrics`): the loss of every logged step
    on the first panel, then one panel per score of `PLOTTED` from the monitor's lines
    (``ssltheory train --monitor-every N`` or an `IdealnessMonitor` writing there). InputError when
    the run has no monitor lines (say how to get them).
    """
    from ssltheory.files import save_figure
    from ssltheory.plotting import pyplot
    from ssltheory.ssl.runs import read_metrics

    steps, monitored = monitored_records(read_metrics(run_dir))
    if not monitored:
        raise InputError(
            f"{run_dir}/metrics.jsonl has no monitored scores; train with --monitor-every N "
            "(or call an IdealnessMonitor writing to it)"
        )
    plt = pyplot()

    fig, axes = plt.subplots(1, 1 + len(PLOTTED), figsize=(3.2 * (1 + len(PLOTTED)), 3.0))
    axes[0].plot([r["step"] for r in steps if "loss" in r], [r["loss"] for r in steps if "loss" in r], color="0.3")
    axes[0].set(title="training loss", xlabel="step")
    for ax, name in zip(axes[1:], PLOTTED):
        points = [(r["step"], r["monitor"].get(name)) for r in monitored if r["monitor"].get(name) is not None]
        ax.plot([s for s, _ in points], [v for _, v in points], marker="o", color="C0")
        ax.set(title=name.replace("_", " "), xlabel="step")
    first = monitored[0]["monitor"]
    fig.suptitle(
        f"{run_dir}: scores on {first.get('n_images')} images x {first.get('n_views')} views "
        f"of {first.get('augmentation', {}).get('kind')}",
        fontsize=9,
        y=1.04,
    )
    path = save_figure(fig, Path(run_dir) / "monitor.png" if out is None else out)
    plt.close(fig)
    return path
