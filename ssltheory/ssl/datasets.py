"""The datasets registry: what ``--data`` takes, light to import (standard library only).

Help texts, ``TrainConfig`` validation and the augmentation's jitter read it without numpy or
torch; the readers themselves live in :mod:`ssltheory.ssl.data` (``load_dataset``), which looks
an entry's reader up by its ``"module:function"`` name. Adding a dataset: its reader in ``ssl/data.py``
and one entry here.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ssltheory.errors import InputError

__all__ = ["DATASETS", "MNIST_ENV", "DatasetSpec", "dataset_spec", "default_data_dir"]

#: Where the MNIST idx files are looked for when no directory is given: this variable, else
#: ``shared/data/mnist`` beside the repository's checkout.
MNIST_ENV = "SSLTHEORY_MNIST"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset entry: plain data (no torch needed to read it).

    Attributes:
        name: what ``--data`` takes.
        summary: one line for help texts.
        loader: its reader, ``"module:function"`` (imported when the dataset is read, so the
            registry imports nothing) or the function itself, called as ``reader(data_dir, *, seed,
            val_fraction, image_size, **options) -> ((train, val, test), class names)``;
            ``data_dir`` is a Path, or None when ``needs_dir`` is False.
        needs_dir: the files come from ``data_dir``.
        jitter_scale: colour-jitter multiplier of its augmentation (CIFAR's half jitter, 0.5
            [code]: brightness / contrast / saturation 0.2s, hue 0.05s).
        imagenet_stats: normalise 3-channel images with ImageNet's mean / std [code].
    """

    name: str
    summary: str
    loader: str | Callable
    needs_dir: bool = True
    jitter_scale: float = 1.0
    imagenet_stats: bool = False

    def reader(self) -> Callable:
        """The reader function (``loader`` imported when given as ``"module:function"``)."""
        if callable(self.loader):
            return self.loader
        module, _, function = self.loader.partition(":")
        return getattr(importlib.import_module(module), function)


_READERS = "ssltheory.ssl.data"

#: name -> entry. Adding a dataset: its reader (in ``ssl/data.py``) and one entry here.
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "patches",
            "embedded patch-source task (scikit-image pictures; label = source picture)",
            f"{_READERS}:read_patches",
            needs_dir=False,
        ),
        DatasetSpec(
            "digits", "scikit-learn's 8x8 handwritten digits (embedded)", f"{_READERS}:read_digits", needs_dir=False
        ),
        DatasetSpec("mnist", "MNIST idx files in --data-dir (default $SSLTHEORY_MNIST)", f"{_READERS}:read_mnist"),
        DatasetSpec(
            "cifar10",
            "CIFAR-10 python batches in --data-dir (half colour jitter)",
            f"{_READERS}:read_cifar10",
            jitter_scale=0.5,
        ),
        DatasetSpec(
            "tinyimagenet",
            "TinyImageNet tree in --data-dir (ImageNet statistics)",
            f"{_READERS}:read_tinyimagenet",
            imagenet_stats=True,
        ),
        DatasetSpec(
            "folder",
            "an ImageFolder tree in --data-dir (root/<class>/<image> or root/{train,val,test}/...)",
            f"{_READERS}:read_folder",
        ),
    )
}


def dataset_spec(name: object) -> DatasetSpec:
    """The registry entry of dataset ``name`` (InputError listing the names if it has none)."""
    if not isinstance(name, str) or name not in DATASETS:
        raise InputError(f"name must be one of {', '.join(DATASETS)}, got {name!r}")
    return DATASETS[name]


def default_data_dir(name: str) -> Path | None:
    """Where dataset ``name``'s files are when no directory is given: for MNIST ``$SSLTHEORY_MNIST``,
    else ``shared/data/mnist`` beside the repository checkout (if it exists); None otherwise."""
    if name != "mnist":
        return None
    env = os.environ.get(MNIST_ENV)
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
    return beside if beside.is_dir() else None
