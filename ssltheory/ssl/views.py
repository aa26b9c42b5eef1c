"""Augmented views of images, grouped into the augmentation's equivalence classes.

THEORY.md section 2 [derived]: on real images the maximal invariant M of crops, flips and colour
jitter is the source image (each image its own class), unless the data define coarser classes
("another image with the same label" as the augmentation makes M the label). Every verdict and
score on a learned encoder is computed on such views, drawn from one *reference augmentation* that
is the same for every encoder compared (`reference_augmentation`), so that all of them are judged
against the same relation ~ (a run's own weak augmentation would make it look invariant to less).

- `reference_augmentation(image_size, channels, mean, std, kind, strength)` -> `SSLAugmentation`;
  `REFERENCE_KIND` / `REFERENCE_STRENGTH`, and `describe_augmentation(aug)` -> a JSON-ready name.
- `sample_views(encoder, images, augmentation, n_views, ...)` -> float32 (n_views * N, d), view-major.
- `view_classes(n_images, n_views, labels=None)` -> the class id of each row.
- `encode_views(encoder, images, ...)` -> `Views`: codes, classes and the augmentation's name.
- `score_encoder(encoder, images, ...)` -> `ssltheory.metrics.Scores` for any ``nn.Module``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ssltheory.errors import InputError
from ssltheory.metrics import score_all
from ssltheory.progress import Progress
from ssltheory.ssl.augment import Normalize, SSLAugmentation, build_augmentation
from ssltheory.ssl.probes import extract_features
from ssltheory.threads import thread_limit

__all__ = [
    "REFERENCE_KIND",
    "REFERENCE_STRENGTH",
    "Views",
    "reference_augmentation",
    "describe_augmentation",
    "sample_views",
    "draw_views",
    "view_classes",
    "encode_views",
    "score_encoder",
]

#: The reference augmentation every learned encoder is judged with: SimCLR's (random resized crop,
#: flip, colour jitter, grayscale) at strength s = 1, the paper's standard augmentation [code].
REFERENCE_KIND = "simclr"
REFERENCE_STRENGTH = 1.0


def reference_augmentation(
    image_size: int,
    channels: int,
    mean=None,
    std=None,
    *,
    kind: str = REFERENCE_KIND,
    strength: float | None = REFERENCE_STRENGTH,
) -> SSLAugmentation:
    """The augmentation that draws the scored views (default: simclr at s = 1, `REFERENCE_KIND`).

    Args:
        image_size: side of the views (pixels). channels: 1 or 3.
        mean, std: per-channel normalisation the encoder expects (None: ImageNet's).
        kind, strength: another augmentation (``build_augmentation``'s kinds); ``none`` ignores
            ``strength``.
    """
    augmentation = build_augmentation(
        kind, image_size, channels, None if kind == "none" else strength, mean=mean, std=std
    )
    augmentation.kind = kind  # named in every output (`describe_augmentation`)
    return augmentation


def describe_augmentation(augmentation: SSLAugmentation) -> dict:
    """JSON-ready name of an augmentation: ``{"kind": ..., "strength": ...}`` (named in every output)."""
    kind = getattr(augmentation, "kind", None)
    if kind is None:
        kind = "none" if augmentation.strength == 0 else ("coarse" if augmentation.blur_p > 0 else "simclr")
    return {"kind": kind, "strength": None if kind == "none" else float(augmentation.strength)}


def sample_views(
    encoder,
    images,
    augmentation: SSLAugmentation,
    n_views: int,
    *,
    generator=None,
    batch_size: int = 256,
    device="cpu",
    progress=None,
    keep_on_device: bool = False,
):
    """Codes of ``n_views`` augmented views of each image: float32 (n_views * N, d), view-major.

    Row ``v * N + i`` is the code of view v of image i, so the class of row r is ``r % N``
    (`view_classes`). ``augmentation`` returns normalised views (its first large view is used),
    which go through ``encoder`` in eval mode without gradients. With ``n_views == 1`` the only view
    is the un-augmented (normalised) image.

    Args:
        encoder: any ``nn.Module`` mapping (B, C, h, w) float to (B, d).
        images: uint8 tensor (N, C, H, W).
        augmentation: an `ssltheory.ssl.augment.SSLAugmentation` (e.g. `reference_augmentation`).
        n_views: V >= 1.
        generator: ``torch.Generator`` of the augmentation's random draws (views are drawn on the
            CPU, so they are deterministic given it).
        batch_size: images per forward pass.
        device: where the encoder runs.
        progress: None, or an object with ``update(n=1)`` (e.g. `ssltheory.progress.Progress`),
            advanced once per view.
        keep_on_device: return a float32 tensor on ``device`` (for the scoring engine) instead of
            a host array.
    """
    if int(n_views) != n_views or n_views < 1:
        raise InputError(f"n_views must be a positive integer, got {n_views!r}")
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if n_views == 1:
        normalize = Normalize(
            augmentation.normalize.mean.flatten().tolist(), augmentation.normalize.std.flatten().tolist()
        )
        out = extract_features(
            encoder, images, batch_size=batch_size, transform=normalize, device=device, keep_on_device=keep_on_device
        )
        if progress is not None:
            progress.update(1)
        return out
    chunks = []
    for _ in range(n_views):
        views = draw_views(images, augmentation, 1, generator=generator, batch_size=batch_size)
        chunks.append(
            extract_features(encoder, views, batch_size=batch_size, device=device, keep_on_device=keep_on_device)
        )
        if progress is not None:
            progress.update(1)
    return torch.cat(chunks) if keep_on_device else np.concatenate(chunks)


def draw_views(
    images, augmentation: SSLAugmentation, n_views: int, *, generator=None, batch_size: int = 256
) -> torch.Tensor:
    """``n_views`` augmented views of each image, normalised, view-major: float32 (n_views * N, C, h, w).

    Drawn on the CPU batch by batch (``batch_size`` images) with ``generator``, in the order
    `sample_views` draws them, so the same generator gives the same views (the first large view of
    ``augmentation``). ``images``: uint8 or [0, 1] float (N, C, H, W).
    """
    return torch.cat(
        [
            augmentation.view(images[s : s + batch_size], 0, generator=generator)
            for _ in range(n_views)
            for s in range(0, len(images), batch_size)
        ]
    )


def view_classes(n_images: int, n_views: int, labels=None) -> np.ndarray:
    """Class id of each row of `sample_views`' output, shape (n_views * n_images,): the image
    index, or ``labels[image]`` when the data's own labels define the classes."""
    image = np.tile(np.arange(n_images), n_views)
    return image if labels is None else np.asarray(labels)[image]


@dataclass(frozen=True)
class Views:
    """Codes of augmented views and their classes.

    ``codes`` float32 (n, d), view-major (a host array, or a tensor on the encoder's device with
    ``keep_on_device``); ``classes`` int (n,); ``augmentation`` its name
    (`describe_augmentation`); ``classes_from`` "images" or "labels"; ``n_images``, ``n_views``.
    """

    codes: np.ndarray
    classes: np.ndarray
    augmentation: dict
    classes_from: str
    n_images: int
    n_views: int


def encode_views(
    encoder,
    images,
    *,
    augmentation: SSLAugmentation | None = None,
    n_views: int = 8,
    labels=None,
    mean=None,
    std=None,
    seed: int = 0,
    batch_size: int = 256,
    device="cpu",
    progress=None,
    keep_on_device: bool = False,
) -> Views:
    """Views of ``images`` through ``encoder``, grouped into the augmentation's classes.

    Args:
        encoder: ``nn.Module`` mapping (B, C, H, W) float to (B, d).
        images: uint8 (N, C, H, W).
        augmentation: None for `reference_augmentation` at the images' size and channels.
        n_views: views per image (>= 2 when each image is its own class).
        labels: None (each image its own class) or (N,) labels (the classes are the labels: the
            augmentation "another image with the same label").
        mean, std: normalisation for the default augmentation.
        seed: seed of the augmentation's draws.
        keep_on_device: leave the codes on ``device`` as a float32 tensor (for the scoring engine).

    Returns:
        `Views`.
    """
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.ndim != 4 or images.dtype != torch.uint8:
        raise InputError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if augmentation is None:
        augmentation = reference_augmentation(images.shape[-1], images.shape[1], mean, std)
    if labels is None and n_views < 2:
        raise InputError("n_views must be at least 2 when each image is its own class")
    codes = sample_views(
        encoder,
        images,
        augmentation,
        n_views,
        generator=torch.Generator().manual_seed(seed),
        batch_size=batch_size,
        device=device,
        progress=progress,
        keep_on_device=keep_on_device,
    )
    if not (bool(torch.isfinite(codes).all()) if keep_on_device else np.isfinite(codes).all()):
        raise InputError("the encoder produced NaN or infinite features")
    return Views(
        codes,
        view_classes(len(images), n_views, labels),
        describe_augmentation(augmentation),
        "images" if labels is None else "labels",
        int(len(images)),
        int(n_views),
    )


def score_encoder(
    encoder,
    images,
    *,
    augmentation: SSLAugmentation | None = None,
    n_views: int = 8,
    labels=None,
    mean=None,
    std=None,
    tol: float | None = None,
    seed: int = 0,
    batch_size: int = 256,
    device="cpu",
    progress: bool = False,
):
    """Score any encoder on views of ``images``: `ssltheory.metrics.Scores`.

    The views are drawn by ``augmentation`` (default: the reference augmentation,
    `reference_augmentation`, at the images' size with ``mean`` / ``std``) and grouped into its
    classes (each image its own class, or ``labels``), then scored by `ssltheory.metrics.score_all`
    at ``tol`` (default: the one rule of `ssltheory.view_statistics.tolerance_rule`, max(K, d) x
    float32's epsilon for these float32 views). The augmentation's name is in the result. With a
    CUDA ``device`` the views stay on it and the engine's n x d^2 products run there
    (`ssltheory.view_statistics.ViewStatistics`), in float64; only d x d results and the held-out
    probe's scores come to the host. torch and BLAS run under the thread policy
    (`ssltheory.threads`).

    Args:
        encoder: any ``nn.Module`` mapping (B, C, H, W) float images (normalised by ``mean``/``std``)
            to (B, d) features, e.g. `ssltheory.ssl.released.load_resnet`'s.
        images: uint8 (N, C, H, W), N >= 2.
        augmentation, n_views, labels, mean, std, seed, batch_size, device: as in `encode_views`.
        tol: relative tolerance of the verdict and scores.
        progress: show progress (`ssltheory.progress.Progress`, one unit per view).

    Usage::

        encoder, info = load_resnet("resnet18_simclr.pt")
        scores = score_encoder(encoder, images, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        print(scores.format())
    """
    with thread_limit(), Progress(n_views, "score: views", unit="view", disable=not progress) as bar:
        views = encode_views(
            encoder,
            images,
            augmentation=augmentation,
            n_views=n_views,
            labels=labels,
            mean=mean,
            std=std,
            seed=seed,
            batch_size=batch_size,
            device=device,
            progress=bar,
            keep_on_device=True,
        )
    return score_all(views.codes, views.classes, tol=tol, augmentation=views.augmentation, random_state=seed)
