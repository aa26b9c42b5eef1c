"""Batched SSL augmentations on the training device, deterministic given a ``torch.Generator``.

The SimCLR-style pipeline of the paper's TinyImageNet runs, with a strength knob s (docs/REFERENCE.md,
"Augmentations") [code]:

    RandomResizedCrop(size, scale=(min(1, 0.2/s), 1), ratio=(3/4, 4/3), bicubic)
    horizontal flip, p 0.5
    ColorJitter(brightness 0.4s, contrast 0.4s, saturation 0.4s, hue 0.1s), p 0.8,
        the four in a random order per image (as torchvision)
    grayscale, p 0.1s
    [coarse only] Gaussian blur, kernel int(0.1 x size) rounded to odd, sigma ~ U(0.1, 2), p 0.5
    normalise with the dataset's per-channel mean / std

``coarse`` is s = 2 plus the blur: a coarser augmentation relation, hence coarser classes M, which
THEORY.md T4 says are more sample efficient for the tasks that stay invariant. ``jitter_scale=0.5``
gives CIFAR's half jitter (0.2s brightness / contrast / saturation, hue 0.05s); the trainer takes it
from the dataset's registry entry. ``none`` (or s = 0) is the identity up to normalisation; flips, which have
no strength in the reference, are on for every s > 0. On 1-channel images saturation, hue and
grayscale do not apply and are skipped; brightness and contrast are kept.

Random parameters are drawn on the device of the ``generator`` passed to ``forward`` (the
images' device and its global generator when None) and moved to the images' device when that
differs: the trainer passes a generator on the training device, so a step draws, crops, flips,
jitters and blurs without reading anything back to the host (no ``nonzero``, no boolean
indexing, no ``.any()``, constants as Python scalars; every per-image choice is a ``torch.where``
over the whole batch). Saving ``generator.get_state()`` in a checkpoint makes a resumed run see
exactly the same views. Plain torch: the hue rotation is written here in closed form (the HSV
maths of torchvision's ``adjust_hue``), so nothing beyond torch is imported.

Known simplification: crops are resampled with ``grid_sample`` (bicubic), without antialiasing
when a crop is shrunk (small multi-crop views); kornia's default crop does the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.config import AUGMENTATIONS
from ssltheory.ssl.data import IMAGENET_MEAN, IMAGENET_STD

KINDS = AUGMENTATIONS  # the kinds, listed once in ssltheory.ssl.config (read by help texts without torch)

#: luminance weights of torchvision's rgb_to_grayscale (ITU-R 601)
_GREY = (0.2989, 0.587, 0.114)
#: the jitter factors that leave an image unchanged (brightness, contrast, saturation, hue)
_NEUTRAL = (1.0, 1.0, 1.0, 0.0)


@dataclass(frozen=True)
class CropSpec:
    """One view's crop: output side ``size`` (pixels), area fraction range ``scale``, aspect ratio
    range ``ratio`` (width / height)."""

    size: int
    scale: tuple[float, float]
    ratio: tuple[float, float] = (3 / 4, 4 / 3)


class Normalize(nn.Module):
    """uint8 or [0, 1] float images (B, C, H, W) -> float32 (x - mean) / std, per channel.

    Args:
        mean, std: per-channel statistics in [0, 1] units, length C (e.g. ``ImageDataset.mean``).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean, std = [float(v) for v in mean], [float(v) for v in std]
        if len(mean) != len(std) or not mean:
            raise InputError(f"mean has {len(mean)} entries but std has {len(std)}")
        if min(std) <= 0:
            raise InputError(f"std must be positive, got {std}")
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_unit_float(images, self.mean.shape[1])
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


def to_unit_float(images: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """Check a (B, C, H, W) batch and return it as float32 in [0, 1] (uint8 is divided by 255)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise InputError(f"images must be a tensor of shape (B, C, H, W), got {getattr(images, 'shape', type(images))}")
    if channels is not None and images.shape[1] != channels:
        raise InputError(f"images have {images.shape[1]} channels but the augmentation expects {channels}")
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    if not images.dtype.is_floating_point:
        raise InputError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    return images.float()


class SSLAugmentation(nn.Module):
    """Draws ``len(crops)`` augmented, normalised views of a batch (multi-crop when crops differ).

    Args:
        crops: one :class:`CropSpec` per view (e.g. 2 large + N small).
        channels: C of the input (1 or 3).
        mean, std: normalisation statistics, length C.
        strength: s >= 0 (0 = identity up to normalisation).
        jitter_scale: multiplies the four jitter magnitudes (0.5 = CIFAR's half jitter).
        blur_p: probability of the Gaussian blur (0.5 in ``coarse``), kernel ``blur_kernel``.

    ``forward(images, generator=None)`` takes uint8 or [0, 1] float (B, C, H, W) and returns a list
    of float32 views, view v of shape (B, C, crops[v].size, crops[v].size), images in the same order.
    """

    def __init__(
        self,
        crops: Sequence[CropSpec],
        channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        strength: float = 1.0,
        jitter_scale: float = 1.0,
        blur_p: float = 0.0,
        blur_kernel: int = 7,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
        flip_p: float = 0.5,
    ):
        super().__init__()
        if channels not in (1, 3):
            raise InputError(f"channels must be 1 or 3, got {channels}")
        if len(mean) != channels:
            raise InputError(f"mean has {len(mean)} entries but channels is {channels}")
        if not crops:
            raise InputError("crops must describe at least one view")
        if strength < 0 or not math.isfinite(strength):
            raise InputError(f"strength must be a finite number >= 0, got {strength}")
        if blur_kernel % 2 != 1:
            raise InputError(f"blur_kernel must be odd, got {blur_kernel}")
        self.crops = list(crops)
        self.channels = channels
        self.strength = float(strength)
        s = self.strength * jitter_scale
        self.brightness = 0.4 * s
        self.contrast = 0.4 * s
        self.saturation = 0.4 * s if channels == 3 else 0.0
        self.hue = min(0.5, 0.1 * s) if channels == 3 else 0.0
        self.jitter_p = 0.8
        self.grey_p = min(1.0, 0.1 * self.strength) if channels == 3 else 0.0
        self.flip_p = flip_p
        self.blur_p = blur_p
        self.blur_kernel = blur_kernel
        self.blur_sigma = blur_sigma
        self.normalize = Normalize(mean, std)

    @property
    def n_views(self) -> int:
        return len(self.crops)

    @property
    def identity(self) -> bool:
        return self.strength == 0 and self.blur_p == 0

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """All ``n_views`` views of ``images`` (uint8 or [0, 1] float (B, C, H, W)), large first."""
        x = self._check(images)
        return [self.normalize(self._view(x, crop, generator)) for crop in self.crops]

    def view(self, images: torch.Tensor, index: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
        """View number ``index`` alone (its crop size and scale), e.g. to redraw the positive of
        label augmentation from another image."""
        if not 0 <= index < self.n_views:
            raise InputError(f"index must be in [0, {self.n_views}), got {index}")
        return self.normalize(self._view(self._check(images), self.crops[index], generator))

    def _check(self, images: torch.Tensor) -> torch.Tensor:
        x = to_unit_float(images, self.channels)
        if len(x) == 0:
            raise InputError("images is an empty batch")
        return x

    # -- one view ---------------------------------------------------------------------------
    def _view(self, x: torch.Tensor, crop: CropSpec, g: torch.Generator | None) -> torch.Tensor:
        b = len(x)
        if self.identity:
            if x.shape[-2:] != (crop.size, crop.size):
                x = F.interpolate(x, size=(crop.size, crop.size), mode="bicubic", align_corners=False).clamp_(0, 1)
            return x
        where = g.device if g is not None else x.device  # the parameters are drawn here
        boxes = sample_crop_boxes(b, x.shape[2], x.shape[3], crop.scale, crop.ratio, g, device=where)
        x = resized_crop(x, boxes.to(x.device), crop.size)
        flip = _rand(b, g, where) < self.flip_p
        x = torch.where(flip.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)
        x = self._color_jitter(x, g)
        if self.grey_p > 0:
            grey = _rand(b, g, where) < self.grey_p
            x = torch.where(grey.to(x.device).view(-1, 1, 1, 1), _grey(x).expand_as(x), x)
        if self.blur_p > 0:
            apply = (_rand(b, g, where) < self.blur_p).to(x.device)
            sigma = _uniform(b, *self.blur_sigma, g, where).to(x.device)
            x = torch.where(apply.view(-1, 1, 1, 1), gaussian_blur(x, sigma, self.blur_kernel), x)
        return x

    def _color_jitter(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        """The four jitters in a random order per image, the whole jitter applied with probability
        ``jitter_p`` (torchvision's ``ColorJitter`` under ``RandomApply``).

        Without per-image indexing: brightness, contrast and saturation are one affine map per
        stage, ``x <- clamp(a x + c mean(grey(x)) + e grey(x), 0, 1)`` with each image's own
        coefficients (the neutral a = 1, c = e = 0 leaves an image unchanged bit for bit); the
        hue rotation, which has no exact neutral, runs once over the batch between the stages
        before each image's hue stage and those after it, kept by a ``torch.where``."""
        b = len(x)
        where = g.device if g is not None else x.device
        apply = _rand(b, g, where) < self.jitter_p
        factors = torch.stack(
            [
                _uniform(b, max(0.0, 1 - self.brightness), 1 + self.brightness, g, where),
                _uniform(b, max(0.0, 1 - self.contrast), 1 + self.contrast, g, where),
                _uniform(b, max(0.0, 1 - self.saturation), 1 + self.saturation, g, where),
                _uniform(b, -self.hue, self.hue, g, where),
            ],
            1,
        )
        order = torch.argsort(_rand((b, 4), g, where), dim=1)  # a random permutation per image
        active = [self.brightness > 0, self.contrast > 0, self.saturation > 0, self.hue > 0]
        if not any(active):
            return x
        apply, factors, order = apply.to(x.device), factors.to(x.device), order.to(x.device)
        stage_op = torch.where(apply.unsqueeze(1), order, -1)  # (B, 4): the op of each stage; -1: nothing
        for op in range(4):
            if not active[op]:
                stage_op = torch.where(stage_op == op, -1, stage_op)
        hue_stage = torch.where(stage_op == 3, torch.arange(4, device=x.device), 4).amin(dim=1)  # 4: no hue
        for before_hue in (True, False):
            for stage in range(4) if before_hue else range(1, 4):  # nothing follows the hue at stage 0
                op = stage_op[:, stage]
                op = torch.where(stage < hue_stage if before_hue else stage > hue_stage, op, -1)
                x = self._affine_jitter(x, op, factors)
            if before_hue and self.hue > 0:
                rotated = _hue(x, factors[:, 3].view(-1, 1, 1, 1))
                x = torch.where((hue_stage < 4).view(-1, 1, 1, 1), rotated, x)
        return x

    def _affine_jitter(self, x: torch.Tensor, op: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        """One stage of brightness (op 0), contrast (1) or saturation (2), per image; op -1 or 3:
        unchanged. ``factors`` (B, 4) as drawn by :meth:`_color_jitter`."""
        f = factors[:, :3].gather(1, op.clamp(0, 2).unsqueeze(1)).view(-1, 1, 1, 1)
        op = op.view(-1, 1, 1, 1)
        out = x * torch.where((op >= 0) & (op <= 2), f, 1.0)
        if self.contrast > 0 or self.saturation > 0:  # the offsets, at one channel's size, added in place
            grey = _grey(x)
            offset = torch.where(op == 1, 1.0 - f, 0.0) * grey.mean(dim=(1, 2, 3), keepdim=True)
            if self.saturation > 0:
                offset = offset + torch.where(op == 2, 1.0 - f, 0.0) * grey
            out.add_(offset)
        return out.clamp_(0, 1)


def _rand(shape, g: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """U[0, 1) draws of ``shape`` on ``device`` from ``g`` (that device's global generator when None)."""
    return torch.rand(shape, generator=g, device=device)


def _uniform(n: int, low: float, high: float, g: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return _rand(n, g, device) * (high - low) + low


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luminance; 1-channel images are their own luminance."""
    if x.shape[1] == 1:
        return x
    r, gr, b = _GREY
    return x[:, 0:1] * r + x[:, 1:2] * gr + x[:, 2:3] * b


def _brightness(x, f):
    return (x * f).clamp_(0, 1)


def _contrast(x, f):
    mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
    return (f * x + (1 - f) * mean).clamp_(0, 1)


def _saturation(x, f):
    return (f * x + (1 - f) * _grey(x)).clamp_(0, 1)


def _hue(x, f):
    """Rotate the hue of RGB images x (B, 3, H, W) in [0, 1] by f (B, 1, 1, 1) turns: torchvision's
    ``adjust_hue`` (HSV: h <- (h + f) mod 1, saturation and value kept), computed in RGB.

    A rotation keeps each pixel's max M and min m (value and saturation), so with the hue in
    sixths of a turn, H in [0, 6), the rotated pixel is the HSV -> RGB map at H' = H + 6f,
    channel n (R, G, B: n = 5, 3, 1) = M - (M - m) clamp(min(k, 4 - k), 0, 1), k = (n + H') mod 6
    [derived: the closed form of hsv_to_rgb]. Elementwise only: no per-pixel gather or table.
    """
    top, argmax = x.max(dim=1, keepdim=True)
    spread = top - x.min(dim=1, keepdim=True).values
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    safe = torch.where(spread == 0, 1.0, spread)
    hue = torch.where(argmax == 0, (g - b) / safe, torch.where(argmax == 1, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = hue + 6.0 * f
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = torch.remainder(hue + n, 6.0)
        channels.append(top - spread * torch.minimum(k, 4.0 - k).clamp_(0, 1))
    return torch.cat(channels, dim=1).clamp_(0, 1)


_JITTER_OPS = (_brightness, _contrast, _saturation, _hue)


def sample_crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None = None,
    attempts: int = 10,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """RandomResizedCrop boxes, torchvision's rule, vectorised: float (n, 4) = (x0, y0, w, h) in pixels.

    For each image, up to ``attempts`` draws of area ~ U(scale) * H * W and log aspect ~ U(log ratio);
    the first draw that fits (integer w <= W, h <= H) is placed uniformly; otherwise the whole image,
    cut to the nearest ratio in range, centred. Drawn on ``device`` (default the generator's, else the
    CPU), without reading anything back to the host.
    """
    if device is None:
        device = generator.device if generator is not None else "cpu"
    area = height * width
    target = torch.empty(n, attempts, device=device).uniform_(scale[0], scale[1], generator=generator) * area
    log_r = torch.empty(n, attempts, device=device).uniform_(
        math.log(ratio[0]), math.log(ratio[1]), generator=generator
    )
    r = torch.exp(log_r)
    w = torch.round(torch.sqrt(target * r))
    h = torch.round(torch.sqrt(target / r))
    ok = (w > 0) & (h > 0) & (w <= width) & (h <= height)
    first = torch.argmax(ok.int(), dim=1)
    found = ok.any(dim=1)
    w, h = w.gather(1, first.unsqueeze(1)).squeeze(1), h.gather(1, first.unsqueeze(1)).squeeze(1)
    u = torch.rand(n, 2, generator=generator, device=device)
    x0 = torch.floor(u[:, 0] * (width - w + 1))
    y0 = torch.floor(u[:, 1] * (height - h + 1))
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        fw, fh = round(height * max(ratio)), height
    else:
        fw, fh = width, height
    w = torch.where(found, w, torch.full_like(w, fw))
    h = torch.where(found, h, torch.full_like(h, fh))
    x0 = torch.where(found, x0, torch.full_like(x0, (width - fw) // 2))
    y0 = torch.where(found, y0, torch.full_like(y0, (height - fh) // 2))
    return torch.stack([x0, y0, w, h], 1)


def resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crop each image of x (B, C, H, W) to its box (B, 4) = (x0, y0, w, h) pixels and resample it
    to (size, size) with bicubic interpolation; the box's pixel edges map to the output's edges."""
    b, _, height, width = x.shape
    x0, y0, w, h = boxes.unbind(1)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = w / width
    theta[:, 0, 2] = (2 * x0 + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * y0 + h) / height - 1
    grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False).clamp_(0, 1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel: int) -> torch.Tensor:
    """Blur each image of x (B, C, H, W) with its own sigma (B,), separable kernel, reflect padding."""
    b, c, hgt, wid = x.shape
    half = kernel // 2
    t = torch.arange(kernel, device=x.device, dtype=x.dtype) - half
    k = torch.exp(-(t.view(1, -1) ** 2) / (2 * sigma.view(-1, 1).to(x.dtype) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, kernel)
    y = F.pad(x.reshape(1, b * c, hgt, wid), (half, half, half, half), mode="reflect")
    y = F.conv2d(y, k.view(b * c, 1, 1, kernel), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, kernel, 1), groups=b * c)
    return y.view(b, c, hgt, wid)


def default_normalization(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Statistics used when none are given: ImageNet's (docs/REFERENCE.md) for 3 channels, their
    averages for 1 channel. Returns (mean, std)."""
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if channels == 1:
        return (sum(mean) / 3,), (sum(std) / 3,)
    return mean, std


def build_augmentation(
    kind: str,
    image_size: int,
    channels: int,
    strength: float | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    n_large: int = 2,
    n_small_crops: int = 0,
    small_size: int | None = None,
    large_scale: tuple[float, float] | None = None,
    small_scale: tuple[float, float] | None = None,
    jitter_scale: float = 1.0,
) -> SSLAugmentation:
    """The augmentation of an SSL run (docs/REFERENCE.md, "Augmentations") [code].

    Args:
        kind: ``simclr`` (strength s, default 1), ``coarse`` (s default 2, plus Gaussian blur with
            p 0.5, kernel :func:`blur_kernel_size` of ``image_size``), ``none`` (identity up to
            normalisation; strength must be None or 0).
        image_size: side of the large views (pixels).
        channels: 1 or 3.
        strength: s >= 0; crop scale lower bound min(1, 0.2 / s), jitter 0.4s (hue 0.1s),
            grayscale p 0.1s.
        mean, std: per-channel normalisation, length ``channels``; pass the dataset's
            (``ImageDataset.mean`` / ``.std``) and record them in the run's config as "mean" / "std".
            None: :func:`default_normalization` (ImageNet's). The probes normalise un-augmented
            images with the same statistics.
        n_large, n_small_crops: number of large views (size ``image_size``) and of small views.
        small_size: side of the small views (default image_size // 2, at least 4).
        large_scale: crop area range of large views (default (min(1, 0.2/s), 1)).
        small_scale: crop area range of small views (default (0.05, max(0.05, min(1, 0.2/s)))).
        jitter_scale: 0.5 for CIFAR's half jitter.

    Returns:
        SSLAugmentation with ``n_large + n_small_crops`` views, large first.

    Usage::

        aug = build_augmentation("simclr", 32, 3, 1.0, mean=ds.mean, std=ds.std)
        views = aug(uint8_batch, generator=torch.Generator().manual_seed(0))  # [view1, view2]
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if int(image_size) != image_size or image_size < 4:
        raise InputError(f"image_size must be an integer >= 4, got {image_size!r}")
    if n_large < 1 or n_small_crops < 0:
        raise InputError(f"need n_large >= 1 and n_small_crops >= 0, got {n_large} and {n_small_crops}")
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 or 3, got {channels!r}")
    if (mean is None) != (std is None):
        raise InputError("give both mean and std, or neither")
    if mean is None:
        mean, std = default_normalization(channels)
    if kind == "none":
        if strength not in (None, 0, 0.0):
            raise InputError(f"strength must be None or 0 for kind 'none', got {strength}")
        s = 0.0
    else:
        s = float(strength if strength is not None else (2.0 if kind == "coarse" else 1.0))
        if s < 0 or not math.isfinite(s):
            raise InputError(f"strength must be a finite number >= 0, got {strength}")
    lo = min(1.0, 0.2 / s) if s > 0 else 1.0
    large_scale = tuple(large_scale) if large_scale is not None else (lo, 1.0)
    small_scale = tuple(small_scale) if small_scale is not None else (0.05, max(0.05, lo))
    for name, sc in (("large_scale", large_scale), ("small_scale", small_scale)):
        if len(sc) != 2 or not 0 < sc[0] <= sc[1] <= 1:
            raise InputError(f"{name} must be (low, high) with 0 < low <= high <= 1, got {sc}")
    small_size = int(small_size) if small_size is not None else max(4, int(image_size) // 2)
    crops = [CropSpec(int(image_size), large_scale)] * n_large + [CropSpec(small_size, small_scale)] * n_small_crops
    return SSLAugmentation(
        crops,
        channels,
        mean,
        std,
        strength=s,
        jitter_scale=jitter_scale,
        blur_p=0.5 if kind == "coarse" else 0.0,
        blur_kernel=blur_kernel_size(int(image_size)),
    )


def blur_kernel_size(image_size: int) -> int:
    """The coarse augmentation's blur kernel: int(0.1 x image size) rounded up to odd (7 at 64 px,
    3 at 32 px, 3 at 28 px), at least 1 [code: docs/REFERENCE.md]."""
    k = max(1, int(0.1 * image_size))
    return k if k % 2 == 1 else k + 1
