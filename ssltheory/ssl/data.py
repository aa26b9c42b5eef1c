"""Image datasets for SSL runs, as uint8 tensors in memory, with train / val / test splits.

Every loader returns an :class:`ImageDataset`: three :class:`Split` s (``train``, ``val``,
``test``), each holding ``images`` (uint8, shape (N, C, H, W)) and ``labels`` (int64, shape (N,)),
plus the class names, the channel count, the image size and per-channel normalisation statistics.

Datasets (``load_dataset(name, data_dir, ...)``; their registry, which help texts read without
numpy or torch, is :mod:`ssltheory.ssl.datasets`):

- ``patches`` (embedded default, no files needed): a patch-source task on scikit-image's bundled
  photographs and textures. Label = the source picture, so the maximal invariant M of crops and
  flips is the label (THEORY.md section 2, "each source image is its own class"). See
  :func:`load_patches` for how regions are kept disjoint across splits.
- ``digits``: scikit-learn's 8x8 handwritten digits, kept at 8x8 (pass ``image_size`` to upsample).
- ``mnist``: the four standard idx files (gzipped or not) in ``data_dir``.
- ``cifar10``: the python pickle batches (``data_batch_1..5``, ``test_batch``, ``batches.meta``).
- ``tinyimagenet``: ``train/<wnid>/images/*.JPEG`` and ``val/val_annotations.txt``; the official
  (labelled) val set is our test split, since the official test set has no labels.
- ``folder``: an ImageFolder tree ``root/<class>/<image>``, or ``root/{train,val,test}/<class>/...``.

Where a dataset has no validation split, it is drawn from the training set, stratified by label,
with a fixed seed; nothing is ever selected on test. The label-augmentation sampler
(:class:`SameLabelSampler`) draws "another image with the same label", which makes M the label as
in the paper's controlled CIFAR-10 runs (docs/REFERENCE.md) [code].
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import skimage.data
import skimage.transform
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from sklearn.datasets import load_digits as _sk_digits

from ssltheory.errors import InputError
from ssltheory.ssl.datasets import dataset_spec, default_data_dir

#: ImageNet statistics; docs/REFERENCE.md normalises TinyImageNet with them [code].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Sources of the ``patches`` task: distinct scenes and textures bundled with scikit-image
#: (five colour photographs, five grey pictures / textures). ``cat`` is ``chelsea``, so only one.
PATCH_SOURCES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "camera",
    "brick",
    "grass",
    "gravel",
    "coins",
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


# --------------------------------------------------------------------------------------------
# containers


@dataclass(frozen=True)
class Split:
    """One split of a dataset.

    Attributes:
        images: uint8 tensor (N, C, H, W), pixel values 0..255.
        labels: int64 tensor (N,), class ids 0..K-1.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self):
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise InputError("images must be a uint8 tensor of shape (N, C, H, W)")
        if not isinstance(self.labels, torch.Tensor) or self.labels.dtype != torch.int64 or self.labels.ndim != 1:
            raise InputError("labels must be an int64 tensor of shape (N,)")
        if len(self.labels) != len(self.images):
            raise InputError(f"labels has {len(self.labels)} entries but images has {len(self.images)} rows")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices) -> "Split":
        """The rows ``indices`` (int array or tensor), in that order."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return Split(self.images[idx], self.labels[idx])


@dataclass(frozen=True)
class ImageDataset:
    """A dataset in memory: three splits and what a trainer needs to know about them.

    Attributes:
        name: dataset name (a key of :data:`ssltheory.ssl.datasets.DATASETS`).
        train, val, test: the splits; val never overlaps train, test is never used for selection.
        class_names: one name per class id.
        channels: C (1 or 3).
        image_size: H (= W) for square images, else (H, W).
        mean, std: per-channel normalisation statistics in [0, 1] units (length C): ImageNet's
            for 3-channel TinyImageNet [code], otherwise computed on the training split.
    """

    name: str
    train: Split
    val: Split
    test: Split
    class_names: tuple[str, ...]
    channels: int
    image_size: int | tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def n_classes(self) -> int:
        """K, the number of classes."""
        return len(self.class_names)

    def pretraining(self) -> Split:
        """The whole training split, train then val rows (SSL pretraining sees every training
        image, as the authors' [code]; the val rows still select the probes' hyperparameters)."""

        if len(self.val) == 0:
            return self.train
        return Split(torch.cat([self.train.images, self.val.images]), torch.cat([self.train.labels, self.val.labels]))


# --------------------------------------------------------------------------------------------
# public entry point


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    image_size: int | None = None,
    channels: int | None = None,
    **options,
) -> ImageDataset:
    """Load dataset ``name`` into memory, split into train / val / test.

    Args:
        name: a key of :data:`ssltheory.ssl.datasets.DATASETS` (``patches``, ``digits``, ``mnist``, ``cifar10``,
            ``tinyimagenet``, ``folder``).
        data_dir: where the files are (required for the entries with ``needs_dir``; MNIST falls back
            on :func:`default_data_dir`; ignored by the embedded ``patches`` and ``digits``).
        seed: seed of every random choice (patch positions, the train/val split).
        val_fraction: fraction of each class of the training set held out for validation, where the
            dataset has no validation split of its own (all but ``patches`` and a folder tree with
            a ``val`` directory).
        image_size: if given, resize every image to image_size x image_size (bilinear, antialiased);
            for ``folder`` this is also how images of different sizes are accepted.
        channels: if given (1 or 3), convert: grey -> RGB by repeating, RGB -> grey by luminance
            (ITU-R 601: 0.299 R + 0.587 G + 0.114 B).
        **options: loader-specific options, see :func:`load_patches`, :func:`load_digits`,
            :func:`load_folder`.

    Returns:
        ImageDataset.
    """
    spec = dataset_spec(name)
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if image_size is not None and (int(image_size) != image_size or image_size < 1):
        raise InputError(f"image_size must be a positive integer, got {image_size!r}")
    if channels not in (None, 1, 3):
        raise InputError(f"channels must be 1 or 3, got {channels!r}")
    if spec.needs_dir:
        if data_dir is None:
            data_dir = default_data_dir(name)
        if data_dir is None:
            raise InputError(f"data_dir is required for dataset {name!r}")
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise InputError(f"data_dir {str(data_dir)!r} is not a directory")
    load = spec.reader()
    (tr, va, te), names = load(data_dir, seed=seed, val_fraction=val_fraction, image_size=image_size, **options)

    return _assemble(name, (tr, va, te), names, channels=channels, image_size=image_size)


def dataset_from_splits(
    name: str,
    train: Split,
    test: Split,
    class_names: Sequence[str],
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    val: Split | None = None,
) -> ImageDataset:
    """An in-memory ImageDataset built exactly as :func:`load_dataset` builds one from files.

    ``train`` is the whole training split; unless ``val`` is given, val is drawn from it
    (stratified, ``val_fraction``, ``seed``) as the loaders of datasets shipped as (train, test)
    do. ``name`` is the registry entry whose recipe applies (normalisation, the augmentation's
    jitter scale). Normalisation statistics are computed on the train rows. Pass the result to
    ``ssltheory.ssl.train.train(config, dataset)`` to train on images that never touch the disk.
    """
    dataset_spec(name)
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val is None:
        train, val = split_train_val(train, val_fraction, seed)
    return _assemble(name, (train, val, test), class_names)


def _assemble(name: str, splits, names, *, channels: int | None = None, image_size: int | None = None) -> ImageDataset:
    spec = dataset_spec(name)
    splits = list(splits)
    if channels is not None:
        splits = [Split(convert_channels(s.images, channels), s.labels) for s in splits]
    if image_size is not None:
        splits = [Split(resize_uint8(s.images, int(image_size)), s.labels) for s in splits]
    tr, va, te = splits
    c, h, w = tr.images.shape[1:]
    if spec.imagenet_stats and c == 3:
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        mean, std = channel_stats(tr.images)
    return ImageDataset(
        name=name,
        train=tr,
        val=va,
        test=te,
        class_names=tuple(names),
        channels=int(c),
        image_size=int(h) if h == w else (int(h), int(w)),
        mean=mean,
        std=std,
    )


# --------------------------------------------------------------------------------------------
# shared helpers


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images (N, C, H, W), in [0, 1] units."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].to(torch.float64) / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean**2).clamp_min(0).sqrt().clamp_min(1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, channels, H, W); grey repeats, RGB -> luminance (ITU-R 601)."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
        return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise InputError(f"cannot convert images with {c} channels to {channels}")


def resize_uint8(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) to ``size`` with antialiased bilinear interpolation (no-op if equal)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[2:]) == size:
        return images
    out = torch.empty((images.shape[0], images.shape[1], *size), dtype=torch.uint8)
    for start in range(0, len(images), 2048):
        x = images[start : start + 2048].float()
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        out[start : start + 2048] = y.round().clamp(0, 255).to(torch.uint8)
    return out


def stratified_indices(labels, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified random subset: from each class of size n_c, round(fraction * n_c)
    members, at least 1 when fraction > 0 (sorted). Labels: int array (N,)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n_pick = int(round(fraction * len(members)))
        if fraction > 0:
            n_pick = max(1, n_pick)
        chosen.append(rng.choice(members, size=min(n_pick, len(members)), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def split_train_val(train: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a stratified ``val_fraction`` of each class of ``train`` (seeded); classes with a
    single member stay in train. Returns (train, val)."""
    labels = train.labels.numpy()
    if val_fraction == 0:
        return train, train.subset(np.zeros(0, dtype=np.int64))
    counts = np.bincount(labels)
    held = stratified_indices(labels, val_fraction, seed)
    held = held[counts[labels[held]] >= 2]
    keep = np.setdiff1d(np.arange(len(labels)), held)
    return train.subset(keep), train.subset(held)


def _stratified_three_way(labels: np.ndarray, test_fraction: float, val_fraction: float, seed: int):
    """(train, val, test) index arrays: test first, then val from the rest, both stratified."""
    test = stratified_indices(labels, test_fraction, seed)
    rest = np.setdiff1d(np.arange(len(labels)), test)
    val = rest[stratified_indices(labels[rest], val_fraction, seed + 1)] if val_fraction > 0 else rest[:0]
    train = np.setdiff1d(rest, val)
    return train, val, test


# --------------------------------------------------------------------------------------------
# patches (embedded default)


def load_patches(
    *,
    seed: int = 0,
    sources: Sequence[str] = PATCH_SOURCES,
    patch_size: int = 32,
    source_size: int = 256,
    n_per_class: tuple[int, int, int] = (400, 100, 200),
    split_fractions: tuple[float, float] = (0.1, 0.2),
):
    """The patch-source task: label = which scikit-image picture a patch was cut from.

    How regions are kept disjoint [derived design]: each source picture is resized so its shorter
    side is ``source_size`` pixels (so a patch covers a similar fraction of every picture), then
    tiled into square blocks of side ``2 * patch_size``. The blocks of each picture are shuffled with
    a seeded generator and dealt to test (fraction ``split_fractions[1]``, at least one block), val
    (``split_fractions[0]``, at least one) and train (the rest). Every patch lies entirely inside one
    block, so no test pixel is in any training or validation patch: test patches are not crops of
    training patches. Positions inside the blocks of a split are drawn without replacement.

    Args:
        seed: seed of the block assignment and the patch positions.
        sources: names of ``skimage.data`` pictures (each must load offline).
        patch_size: side of the square patches, in pixels.
        source_size: shorter side of each picture after resizing.
        n_per_class: patches per class in (train, val, test).
        split_fractions: fractions of each picture's blocks for (val, test).

    Returns:
        ((train, val, test) Splits with 3-channel uint8 images, grey pictures repeated), class names.
    """

    if len(sources) < 2:
        raise InputError(f"sources must name at least 2 pictures, got {len(sources)}")
    if patch_size < 4:
        raise InputError(f"patch_size must be >= 4, got {patch_size}")
    if source_size < 6 * patch_size:
        raise InputError(f"source_size must be at least 6 * patch_size = {6 * patch_size}, got {source_size}")
    if len(n_per_class) != 3 or min(n_per_class) < 1:
        raise InputError(f"n_per_class must be three positive counts (train, val, test), got {n_per_class}")
    rng = np.random.default_rng(seed)
    block = 2 * patch_size
    per_split: list[list[np.ndarray]] = [[], [], []]
    for source in sources:
        loader = getattr(skimage.data, source, None)
        if loader is None:
            raise InputError(f"sources: skimage.data has no picture named {source!r}")
        picture = _as_rgb_uint8(loader(), source)
        h, w = picture.shape[:2]
        factor = source_size / min(h, w)
        new_hw = (max(block, round(h * factor)), max(block, round(w * factor)))
        picture = skimage.transform.resize(picture, new_hw, order=1, anti_aliasing=True, preserve_range=True)
        picture = np.clip(np.round(picture), 0, 255).astype(np.uint8)
        rows, cols = new_hw[0] // block, new_hw[1] // block
        corners = [(r * block, c * block) for r in range(rows) for c in range(cols)]
        order = rng.permutation(len(corners))
        n_test = max(1, round(split_fractions[1] * len(corners)))
        n_val = max(1, round(split_fractions[0] * len(corners)))
        if n_test + n_val >= len(corners):
            raise InputError(f"source {source!r} has only {len(corners)} blocks of {block} px; lower patch_size")
        dealt = (order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test])
        offsets = block - patch_size + 1
        for split_id, block_ids in enumerate(dealt):
            n_positions = len(block_ids) * offsets * offsets
            n = n_per_class[split_id]
            flat = rng.choice(n_positions, size=n, replace=n > n_positions)
            b, rem = np.divmod(flat, offsets * offsets)
            dy, dx = np.divmod(rem, offsets)
            patches = np.empty((n, patch_size, patch_size, 3), dtype=np.uint8)
            for i in range(n):
                y0, x0 = corners[block_ids[b[i]]]
                y0, x0 = y0 + dy[i], x0 + dx[i]
                patches[i] = picture[y0 : y0 + patch_size, x0 : x0 + patch_size]
            per_split[split_id].append(patches)
    splits = []
    for split_id in range(3):
        images = torch.from_numpy(np.concatenate(per_split[split_id])).permute(0, 3, 1, 2).contiguous()
        labels = torch.arange(len(sources), dtype=torch.int64).repeat_interleave(n_per_class[split_id])
        splits.append(Split(images, labels))
    return tuple(splits), list(sources)


def _as_rgb_uint8(picture: np.ndarray, name: str) -> np.ndarray:
    """(H, W) or (H, W, 3|4) picture -> uint8 (H, W, 3); grey is repeated, alpha dropped."""
    picture = np.asarray(picture)
    if picture.dtype == bool:
        picture = picture.astype(np.uint8) * 255
    if picture.dtype != np.uint8:
        raise InputError(f"source {name!r} is {picture.dtype}, expected uint8")
    if picture.ndim == 2:
        return np.repeat(picture[:, :, None], 3, axis=2)
    if picture.ndim == 3 and picture.shape[2] in (3, 4):
        return picture[:, :, :3]
    raise InputError(f"source {name!r} has shape {picture.shape}, expected (H, W) or (H, W, 3)")


# --------------------------------------------------------------------------------------------
# digits


def load_digits(*, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2):
    """scikit-learn's 1797 handwritten digits, kept at their native 8x8 (pass ``image_size`` to
    :func:`load_dataset` to upsample). Grey levels 0..16 map to round(v * 255 / 16). There is no
    official test set: test (``test_fraction``) and val (``val_fraction`` of the rest) are
    stratified seeded draws. Returns ((train, val, test), class names)."""

    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    bunch = _sk_digits()
    images = torch.from_numpy(np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    tr, va, te = _stratified_three_way(bunch.target, test_fraction, val_fraction, seed)
    full = Split(images, labels)
    return (full.subset(tr), full.subset(va), full.subset(te)), [str(d) for d in range(10)]


# --------------------------------------------------------------------------------------------
# MNIST (idx files)


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot read ({exc}); the file is truncated or corrupt") from None


def read_idx(path: str | Path, expected_ndim: int) -> np.ndarray:
    """Read an idx file of unsigned bytes (the MNIST format), gzipped or not.

    Checks the magic number (0x0000 08 ndim), the dimensions and that the payload has exactly
    prod(dims) bytes; a truncated or padded file raises ValueError naming the file.
    """
    path = Path(path)
    raw = _read_maybe_gzip(path)
    if len(raw) < 4 + 4 * expected_ndim:
        raise InputError(f"{path}: truncated idx file ({len(raw)} bytes, header alone needs {4 + 4 * expected_ndim})")
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = 0x0800 + expected_ndim
    if magic != expected_magic:
        raise InputError(f"{path}: bad idx magic number {magic:#010x}, expected {expected_magic:#010x}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_ndim)]
    header = 4 + 4 * expected_ndim
    need = int(np.prod(dims))
    if len(raw) - header != need:
        kind = "truncated" if len(raw) - header < need else "has trailing bytes"
        raise InputError(f"{path}: idx file {kind}: dims {dims} need {need} bytes, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_file(root: Path, stems: Sequence[str]) -> Path:
    for stem in stems:
        for candidate in (root / stem, root / (stem + ".gz")):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"{root}: none of {', '.join(s + '[.gz]' for s in stems)} found")


def load_mnist(root: str | Path):
    """MNIST from the four standard idx files in ``root`` (``train-images-idx3-ubyte[.gz]`` etc.).
    Returns ((train, test) Splits, class names); images uint8 (N, 1, 28, 28)."""

    root = Path(root)
    out = []
    for prefix in ("train", "t10k"):
        img_path = _find_file(root, (f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"))
        lab_path = _find_file(root, (f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"))
        images = read_idx(img_path, 3)
        labels = read_idx(lab_path, 1)
        if len(images) != len(labels):
            raise InputError(f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise InputError(f"{lab_path}: labels must be 0..9, found {labels.max()}")
        out.append(Split(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))))
    return tuple(out), [str(d) for d in range(10)]


# --------------------------------------------------------------------------------------------
# CIFAR-10 (python pickle batches)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a CIFAR batch cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _load_cifar_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            obj = _ArrayUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a readable CIFAR pickle batch ({exc})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a dict, found {type(obj).__name__}")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _cifar_batch(path: Path) -> Split:
    batch = _load_cifar_pickle(path)
    if "data" not in batch or "labels" not in batch:
        raise InputError(f"{path}: CIFAR batch needs 'data' and 'labels' entries")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise InputError(f"{path}: data must be uint8 of shape (N, 3072), found {data.dtype} {data.shape}")
    if len(labels) != len(data):
        raise InputError(f"{path}: labels has {len(labels)} entries but data has {len(data)} rows")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise InputError(f"{path}: labels must be 0..9")
    return Split(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels))


def load_cifar10(root: str | Path):
    """CIFAR-10 from its python pickle batches in ``root`` (or ``root/cifar-10-batches-py``).
    Returns ((train, test) Splits, class names); images uint8 (N, 3, 32, 32)."""

    root = Path(root)
    if not (root / "data_batch_1").is_file() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    paths = [root / f"data_batch_{i}" for i in range(1, 6)] + [root / "test_batch"]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: CIFAR-10 batch not found")
    batches = [_cifar_batch(p) for p in paths]
    train = Split(torch.cat([b.images for b in batches[:5]]), torch.cat([b.labels for b in batches[:5]]))
    names = [str(i) for i in range(10)]
    if (root / "batches.meta").is_file():
        meta = _load_cifar_pickle(root / "batches.meta")
        if "label_names" in meta:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta["label_names"]]
    return (train, batches[5]), names


# --------------------------------------------------------------------------------------------
# image files (TinyImageNet, ImageFolder)


def _read_image(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            arr = np.array(im.convert(mode))
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: cannot read image ({exc})") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def _stack_images(paths: Sequence[Path], mode: str, size: int | None) -> torch.Tensor:
    """Read images into uint8 (N, C, H, W); all must share one size unless ``size`` resizes them."""
    arrays = []
    first_shape = None
    for path in paths:
        arr = torch.from_numpy(_read_image(path, mode)).permute(2, 0, 1).contiguous()
        if size is not None:
            arr = resize_uint8(arr.unsqueeze(0), size)[0]
        elif first_shape is None:
            first_shape = (arr.shape[1:], path)
        elif arr.shape[1:] != first_shape[0]:
            (h0, w0), p0 = first_shape
            raise InputError(
                f"images have different sizes: {p0} is {h0}x{w0} but {path} is "
                f"{arr.shape[1]}x{arr.shape[2]}; pass image_size to resize them"
            )
        arrays.append(arr)
    if not arrays:
        raise InputError("no images found")
    return torch.stack(arrays)


def load_tinyimagenet(root: str | Path):
    """TinyImageNet-200 from ``root``: ``train/<wnid>/images/*.JPEG`` and ``val/images/*.JPEG`` with
    ``val/val_annotations.txt`` (file, wnid, box). Classes are ``wnids.txt`` (else the sorted train
    folders); names come from ``words.txt`` when present. The official val set is returned as test.
    Returns ((train, test) Splits, class names); images uint8 (N, 3, 64, 64)."""

    root = Path(root)
    train_dir, val_dir = root / "train", root / "val"
    if not train_dir.is_dir():
        raise FileNotFoundError(f"{train_dir}: TinyImageNet train folder not found")
    annotations = val_dir / "val_annotations.txt"
    if not annotations.is_file():
        raise FileNotFoundError(f"{annotations}: TinyImageNet val annotations not found")
    if (root / "wnids.txt").is_file():
        wnids = [w.strip() for w in (root / "wnids.txt").read_text().split() if w.strip()]
    else:
        wnids = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    index = {w: i for i, w in enumerate(wnids)}
    train_paths, train_labels = [], []
    for w in wnids:
        folder = train_dir / w / "images"
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: images of class {w} not found")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        train_paths += files
        train_labels += [index[w]] * len(files)
    test_paths, test_labels = [], []
    for line_no, line in enumerate(annotations.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or parts[1] not in index:
            raise InputError(f"{annotations}:{line_no}: expected 'file<TAB>wnid...' with a known wnid, got {line!r}")
        test_paths.append(val_dir / "images" / parts[0])
        test_labels.append(index[parts[1]])
    names = list(wnids)
    if (root / "words.txt").is_file():
        words = dict(row.split("\t", 1) for row in (root / "words.txt").read_text().splitlines() if "\t" in row)
        names = [words.get(w, w).strip() for w in wnids]
    train = Split(_stack_images(train_paths, "RGB", None), torch.tensor(train_labels, dtype=torch.int64))
    test = Split(_stack_images(test_paths, "RGB", None), torch.tensor(test_labels, dtype=torch.int64))
    if train.images.shape[1:] != test.images.shape[1:]:
        raise InputError(
            f"train images are {tuple(train.images.shape[2:])} but val images are {tuple(test.images.shape[2:])}"
        )
    return (train, test), names


def _scan_class_tree(root: Path, classes: Sequence[str] | None = None):
    """(paths, labels, class names) of ``root/<class>/<image>``; classes sorted by name."""
    found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if classes is None:
        classes = found
        if not classes:
            raise InputError(f"{root}: no class folders (expected root/<class>/<image>)")
    else:
        unknown = sorted(set(found) - set(classes))
        if unknown:
            raise InputError(f"{root}: class folders {unknown} do not exist in the training tree")
    paths, labels = [], []
    for i, c in enumerate(classes):
        folder = root / c
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        paths += files
        labels += [i] * len(files)
    return paths, labels, list(classes)


def _tree_mode(paths: Sequence[Path]) -> str:
    """'L' when every image is grey (modes 1, L, LA, I, I;16, P with grey palette ignored), else 'RGB'."""
    for path in paths:
        try:
            with Image.open(path) as im:
                if im.mode not in ("1", "L", "LA", "I", "I;16", "F"):
                    return "RGB"
        except OSError as exc:
            raise InputError(f"{path}: cannot read image ({exc})") from None
    return "L"


def load_folder(
    root: str | Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    image_size: int | None = None,
):
    """An ImageFolder tree. Two layouts:

    - ``root/train/<class>/<image>`` and ``root/test/...`` (and optionally ``root/val/...``): used as
      given; classes are the train folders (sorted); val, if absent, is drawn from train.
    - ``root/<class>/<image>``: test (``test_fraction``) and val (``val_fraction`` of the rest) are
      stratified seeded draws.

    Images are read with PIL; the tree is 1-channel if every image is grey, else RGB. Images of
    different sizes raise ValueError naming two of them, unless ``image_size`` resizes each one
    (bilinear, antialiased). Returns ((train, val, test) Splits, class names).
    """

    root = Path(root)
    if (root / "train").is_dir() and (root / "test").is_dir():
        tr_p, tr_l, names = _scan_class_tree(root / "train")
        te_p, te_l, _ = _scan_class_tree(root / "test", names)
        va_p, va_l = [], []
        if (root / "val").is_dir():
            va_p, va_l, _ = _scan_class_tree(root / "val", names)
        mode = _tree_mode(tr_p + va_p + te_p)
        all_images = _stack_images(tr_p + va_p + te_p, mode, image_size)
        n_tr, n_va = len(tr_p), len(va_p)
        train = Split(all_images[:n_tr], torch.tensor(tr_l, dtype=torch.int64))
        test = Split(all_images[n_tr + n_va :], torch.tensor(te_l, dtype=torch.int64))
        if va_p:
            val = Split(all_images[n_tr : n_tr + n_va], torch.tensor(va_l, dtype=torch.int64))
        else:
            train, val = split_train_val(train, val_fraction, seed)
        return (train, val, test), names
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    paths, labels, names = _scan_class_tree(root)
    if not paths:
        raise InputError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in the class folders")
    full = Split(_stack_images(paths, _tree_mode(paths), image_size), torch.tensor(labels, dtype=torch.int64))
    tr, va, te = _stratified_three_way(np.asarray(labels), test_fraction, val_fraction, seed)
    return (full.subset(tr), full.subset(va), full.subset(te)), names


# --------------------------------------------------------------------------------------------
# label augmentation


class SameLabelSampler:
    """Label augmentation: for each index, another index with the same label, uniformly at random.

    Used as the "augmentation" of the paper's controlled CIFAR-10 runs [code]: pairing an image with
    another image of its label makes the maximal invariant M equal to the label (THEORY.md
    section 2). An index whose class has a single member is paired with itself.

    Args:
        labels: int labels (N,), numpy or torch.

    Usage::

        sampler = SameLabelSampler(train.labels)
        partners = sampler(batch_indices, generator=torch.Generator().manual_seed(0))
    """

    def __init__(self, labels):
        labels = torch.as_tensor(np.asarray(labels))
        if labels.ndim != 1 or len(labels) == 0:
            raise InputError(f"labels must be a non-empty 1-d array, got shape {tuple(labels.shape)}")
        if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
            raise InputError(f"labels must be integers, got {labels.dtype}")
        labels = labels.to(torch.int64)
        self.labels = labels
        self.order = torch.argsort(labels, stable=True)
        _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        self._class_of = inverse
        self._start = starts
        self._count = counts
        position = torch.empty_like(self.order)
        position[self.order] = torch.arange(len(labels))
        self._rank = position - starts[inverse]  # rank of each index inside its class block

    def __call__(self, indices=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Partners of ``indices`` (int (B,); default all N indices), int64 (B,), same label, not
        the index itself unless its class is a singleton. Deterministic given ``generator``."""

        n = len(self.labels)
        idx = torch.arange(n) if indices is None else torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        if idx.ndim != 1:
            raise InputError(f"indices must be 1-d, got shape {tuple(idx.shape)}")
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise InputError(f"indices must be in [0, {n}), got range [{int(idx.min())}, {int(idx.max())}]")
        cls = self._class_of[idx]
        size = self._count[cls]
        rank = self._rank[idx]
        u = torch.rand(len(idx), generator=generator, dtype=torch.float64)
        r = torch.minimum((u * (size - 1)).long(), (size - 2).clamp_min(0))
        r = r + (r >= rank).long()  # skip the index itself
        r = torch.where(size == 1, rank, r)
        return self.order[self._start[cls] + r]


# --------------------------------------------------------------------------------------------
# the registry: the one list of datasets that the trainer, the probes and the command line read


def _no_options(name: str, options: dict) -> None:
    if options:
        raise InputError(f"unknown options for {name}: {', '.join(sorted(options))}")


def _train_test_loader(name: str, load: Callable) -> Callable:
    """A loader for a dataset shipped as (train, test): val drawn from train, stratified, seeded."""

    def loader(data_dir, *, seed, val_fraction, image_size, **options):
        _no_options(name, options)
        (train_full, test), names = load(data_dir)
        train, val = split_train_val(train_full, val_fraction, seed)
        return (train, val, test), names

    return loader


def read_patches(data_dir, *, seed, val_fraction, image_size, **options):
    return load_patches(seed=seed, **options)


def read_digits(data_dir, *, seed, val_fraction, image_size, **options):
    return load_digits(seed=seed, val_fraction=val_fraction, **options)


def read_folder(data_dir, *, seed, val_fraction, image_size, **options):
    return load_folder(data_dir, seed=seed, val_fraction=val_fraction, image_size=image_size, **options)


#: The registry's readers of the datasets shipped as (train, test) (``ssl/datasets.py`` names them).
read_mnist = _train_test_loader("mnist", load_mnist)
read_cifar10 = _train_test_loader("cifar10", load_cifar10)
read_tinyimagenet = _train_test_loader("tinyimagenet", load_tinyimagenet)
