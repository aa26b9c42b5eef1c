"""What defines a training run (:class:`TrainConfig`) and the named recipes (presets) that fill it.

Plain data, importable without torch: ``ssltheory train --help`` reads the defaults here, the
method options from :mod:`ssltheory.ssl.methods` and the dataset names from
:mod:`ssltheory.ssl.datasets`, and never imports torch.

Presets (:data:`PRESETS`, :meth:`TrainConfig.from_preset`); explicit values always override them:

- ``paper``: the authors' TinyImageNet recipe (docs/REFERENCE.md) [code]: ResNet-18, z 512, 300
  epochs, batch 512 for SimCLR / CISSL and 256 for DINO / DISSL, the methods' reference heads
  (C = 16384 codes for DISSL, 1000 for DINO), autocast on the accelerator (the trainer's bf16).
- ``cpu``: the demo's recipe (``ssltheory demo``): small CNN, z 128, 300 steps of batch 128,
  augmentation strength 0.5, heads 256 wide, 64-d projection / bottleneck, C = 256.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ssltheory.errors import InputError
from ssltheory.ssl import methods as method_registry
from ssltheory.ssl.datasets import DATASETS

__all__ = [
    "TrainConfig",
    "Recipe",
    "demo_recipe",
    "DEMO_METHODS",
    "ARCHS",
    "Stem",
    "STEMS",
    "AUGMENTATIONS",
    "PRESETS",
    "RESUMABLE_KEYS",
    "default_preset",
    "preset_values",
    "small_image_options",
]

#: Encoder architectures of ``ssltheory.ssl.encoders.build_encoder`` (listed here, torch-free, for help texts).
ARCHS = ("small_cnn", "resnet18", "resnet50")


@dataclass(frozen=True)
class Stem:
    """A ResNet stem: conv ``kernel`` x ``kernel`` with ``stride`` and ``padding`` (64 channels), BN,
    ReLU, then a 3x3 stride-2 max-pool when ``maxpool``."""

    kernel: int
    stride: int
    padding: int
    maxpool: bool

    def describe(self) -> str:
        pool = " + 3x3 max-pool" if self.maxpool else ", no max-pool"
        return f"{self.kernel}x{self.kernel} conv stride {self.stride} padding {self.padding}{pool}"


#: The stems of the usual ResNet recipes, by name (the weights never say stride, padding or max-pool).
STEMS = {
    "imagenet": Stem(7, 2, 3, True),  # torchvision, timm, DINO, VISSL, the ImageNet runs of every library
    "imagenet-nomaxpool": Stem(7, 2, 3, False),  # a 7x7 stem whose max-pool was replaced by Identity
    "cifar": Stem(3, 1, 1, False),  # the ISSL authors' code and ours at <= 32 px; lightly's CIFAR examples
    "cifar-pad2": Stem(3, 1, 2, False),  # solo-learn's CIFAR stem (conv1 padding=2)
    "small-maxpool": Stem(3, 1, 1, True),  # ours between 33 and 99 px (TinyImageNet)
}

#: Augmentation kinds of ``ssltheory.ssl.augment.build_augmentation``.
AUGMENTATIONS = ("simclr", "coarse", "none")

#: Config keys that may change between a run and its resumption without changing what is computed
#: (where files go, where it runs, how often it reports).
RESUMABLE_KEYS = frozenset({"out", "device", "quiet", "checkpoint_every", "log_every", "monitor_every", "resume"})

#: Named recipes: TrainConfig fields, with per-method values under "per_method" and method options
#: in flag style under "method" (aliases allowed; options a method lacks are skipped).
PRESETS: dict[str, dict] = {
    "paper": {
        "summary": "the authors' recipe: ResNet-18, z 512, 300 epochs, batch 512 (SimCLR, CISSL) or 256 (DINO, DISSL), "
        "reference heads (C 16384 for DISSL)",
        "fields": {"arch": "resnet18", "z_dim": 512, "epochs": 300.0},
        "per_method": {"batch_size": {"simclr": 512, "cissl": 512, "dino": 256, "dissl": 256, "exact": 512}},
        "method": {},
    },
    "cpu": {
        "summary": "the demo's recipe: small CNN, z 128, 300 steps of batch 128, strength 0.5, heads 256, "
        "projection 64, C 256",
        "fields": {"arch": "small_cnn", "z_dim": 128, "steps": 300, "batch_size": 128, "aug_strength": 0.5},
        "per_method": {},
        "method": {"hidden_dim": 256, "proj_dim": 64, "n_codes": 256, "mlp_hidden_dim": 256},
    },
}


def default_preset(device: str) -> str:
    """The preset used when none is named: ``cpu`` on the CPU, ``paper`` on an accelerator."""
    return "cpu" if str(device) == "cpu" else "paper"


def preset_values(name: str, method: str) -> dict:
    """TrainConfig fields of preset ``name`` for ``method`` (``method_options`` included)."""
    if name not in PRESETS:
        raise InputError(f"preset {name!r} is unknown; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    values = dict(preset["fields"])
    for key, by_method in preset["per_method"].items():
        if method in by_method:
            values[key] = by_method[method]
    values["method_options"] = method_registry.options_from_flags(method, preset["method"], skip_missing=True)
    return values


#: The demo's CPU recipe for the patch task: 300 steps of batch 128, augmentation strength 0.5,
#: heads 256 wide, 64-d projection / bottleneck, C = 256.
DEMO_STEPS = 300
DEMO_BATCH = 128
DEMO_METHODS = ("cissl", "dissl")
#: views per image and images (classes) of the verdict on views; K - 1 = 59 <= z_dim = 128
DEMO_VIEWS = 8
DEMO_IMAGES = 60


@dataclass(frozen=True)
class Recipe:
    """What the demo trains on and how long: the patch task at CPU scale, or a smoke run."""

    data: str
    steps: int
    batch_size: int
    z_dim: int
    hidden_dim: int
    proj_dim: int
    n_codes: int
    aug_strength: float
    views: int = DEMO_VIEWS
    n_images: int = DEMO_IMAGES


def demo_recipe(quick: bool, steps: int | None, batch_size: int | None) -> Recipe:
    """The demo's recipe (``quick``: the smoke run), with ``steps`` / ``batch_size`` overrides."""
    if quick:
        base = Recipe("digits", 4, 32, 16, 32, 16, 32, 0.5, 3, 12)
    else:
        base = Recipe("patches", DEMO_STEPS, DEMO_BATCH, 128, 256, 64, 256, 0.5)
    return Recipe(
        base.data,
        steps or base.steps,
        batch_size or base.batch_size,
        base.z_dim,
        base.hidden_dim,
        base.proj_dim,
        base.n_codes,
        base.aug_strength,
        base.views,
        base.n_images,
    )


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as RUN/config.json.

    Exactly one of ``steps`` and ``epochs`` sets the length (an epoch is ``n_train // batch_size``
    steps of the whole training split). ``lr=None`` means the paper's rule
    ``2e-3 * batch_size / 256`` [code]. ``method_options`` are the method's own options (heads,
    temperatures, codes: the registry entry in :mod:`ssltheory.ssl.methods` declares them and their
    docs/REFERENCE.md defaults); those not given take the defaults. ``label_views`` makes the second view
    an augmentation of *another image of the same label*, so the maximal invariant M is the label
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
    method_options: dict = field(default_factory=dict)
    label_views: bool = False
    device: str = "cpu"
    seed: int = 0
    checkpoint_every: int = 0  # 0: only at the end
    log_every: int = 10
    monitor_every: int = 0  # 0: off; else ssltheory.monitor's scores every N steps into metrics.jsonl
    quiet: bool = False  # no progress, nothing printed
    resume: bool = False
    out: str = "runs/run"

    @classmethod
    def from_preset(cls, preset: str, **explicit) -> "TrainConfig":
        """A config of preset ``preset`` (see :data:`PRESETS`) for ``explicit["method"]``, with every
        explicit field overriding the preset's (``steps`` or ``epochs`` replaces the preset's
        length; another ``aug`` drops the preset's strength, so ``coarse`` keeps its own default;
        ``method_options`` are merged over the preset's)."""
        method = explicit.get("method", cls.method)
        values = preset_values(preset, method)
        if "steps" in explicit or "epochs" in explicit:
            values.pop("steps", None)
            values.pop("epochs", None)
        if explicit.get("aug", values.get("aug", cls.aug)) != values.get("aug", cls.aug):
            values.pop("aug_strength", None)  # the preset's strength is for its own augmentation kind
        options = {**values.pop("method_options"), **dict(explicit.pop("method_options", None) or {})}
        return cls(**{**values, **explicit, "method_options": options})

    @classmethod
    def from_flags(cls, preset: str | None = None, **values) -> "TrainConfig":
        """A config from command-line-style values: TrainConfig fields plus method options by
        their flag names (registry names or aliases: ``proj_dim`` is SimCLR's ``out_dim`` and
        DINO's ``bottleneck_dim``; ``exact_head`` is exact ISSL's ``head``). None means "not
        given". A method option the method lacks raises ValueError naming the methods it applies
        to. With ``preset``, fields not given take the preset's values (:meth:`from_preset`)."""
        names = {f.name for f in dataclasses.fields(cls)}
        method = values.get("method", cls.method)
        fields = {k: v for k, v in values.items() if k in names and v is not None}
        flags = {k: v for k, v in values.items() if k not in names}
        options = {
            **dict(fields.pop("method_options", None) or {}),
            **method_registry.options_from_flags(method, flags),
        }
        if preset is not None:
            return cls.from_preset(preset, **fields, method_options=options)
        return cls(**fields, method_options=options)

    @property
    def base_lr(self) -> float:
        """The peak learning rate: ``lr``, else ``2e-3 * batch_size / 256`` [code]."""
        return self.lr if self.lr is not None else 2e-3 * self.batch_size / 256

    def resolved_method_options(self) -> dict:
        """``method_options`` completed with the registry's defaults (ValueError if one is wrong)."""
        return method_registry.check_options(self.method, self.method_options, allow_derived=False)

    def build_options(self, n_classes: int | None) -> dict:
        """The keyword options the trainer passes to ``build_method``: the user's options plus the
        derived ones (views from ``n_small_crops`` / ``label_views``; ``n_classes`` = K of the data)."""
        return method_registry.trainer_options(
            self.method,
            self.method_options,
            n_small_crops=self.n_small_crops,
            label_views=self.label_views,
            n_classes=n_classes,
        )

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad field; return self."""
        spec = method_registry.method_spec(self.method)
        if self.data not in DATASETS:
            raise InputError(f"data {self.data!r} is unknown; choose one of {', '.join(DATASETS)}")
        if self.arch not in ARCHS:
            raise InputError(f"arch {self.arch!r} is unknown; choose one of {', '.join(ARCHS)}")
        self.resolved_method_options()
        if self.n_small_crops and spec.views != "multi_crop":
            multi = [m for m, s in method_registry.METHODS.items() if s.views == "multi_crop"]
            raise InputError(f"n_small_crops (multi-crop) applies to {', '.join(multi)}, not to {self.method}")
        if self.aug not in AUGMENTATIONS:
            raise InputError(f"aug {self.aug!r} is unknown; choose one of {', '.join(AUGMENTATIONS)}")
        if (self.steps is None) == (self.epochs is None):
            raise InputError("give exactly one of steps and epochs")
        if self.steps is not None and (
            not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1
        ):
            raise InputError(f"steps must be a positive integer, got {self.steps!r}")
        if self.epochs is not None and not (math.isfinite(self.epochs) and self.epochs > 0):
            raise InputError(f"epochs must be positive, got {self.epochs!r}")
        for name in ("z_dim", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.batch_size < 2:
            raise InputError(f"batch_size must be at least 2 (the objectives contrast a batch), got {self.batch_size}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"lr must be positive, got {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise InputError(f"weight_decay must be non-negative, got {self.weight_decay!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise InputError(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction!r}")
        if self.aug_strength is not None and not (math.isfinite(self.aug_strength) and self.aug_strength > 0):
            raise InputError(f"aug_strength must be positive, got {self.aug_strength!r}")
        if self.aug == "none" and self.aug_strength is not None:
            raise InputError("aug_strength does not apply to aug 'none' (no augmentation)")
        if self.n_small_crops < 0 or self.checkpoint_every < 0 or self.monitor_every < 0:
            raise InputError("n_small_crops, checkpoint_every and monitor_every must be non-negative")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise InputError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise InputError(f"device {self.device} requested but CUDA is not available on this machine")
        if not str(self.out):
            raise InputError("out must name a run directory")
        return self

    def identity(self) -> dict:
        """The fields that must agree between a run and its resumption, method options resolved
        to their values (so an option given at its default matches one left out), flattened as
        ``method_options.NAME``."""
        fields = {
            k: v for k, v in dataclasses.asdict(self).items() if k not in RESUMABLE_KEYS and k != "method_options"
        }
        try:
            options = self.resolved_method_options()
        except ValueError:
            options = dict(self.method_options)
        return {**fields, **{f"method_options.{k}": v for k, v in options.items()}}


def small_image_options(method: str, hidden_dim: int, n_codes: int) -> dict:
    """Method options (flag names) of one arm below gpu scale, where the registry's ImageNet-sized
    heads would dwarf a small CNN: codes and head widths shrink with the scale [derived].

    - DINO and DISSL: ``n_codes`` codes.
    - SwAV: ``n_codes`` prototypes (flag ``n_codes``) and a queue of as many projections per global
      crop, which SwAV's authors add when the batch is small (below 256), so that Sinkhorn-Knopp
      equipartitions over at least as many rows as prototypes; its 128-d projection is kept. Two
      views, as every arm of the comparison (no multi-crop: Table 1 trains its rows alike; the
      multi-crop comparison is Table 4's, E11).
    - SimSiam: a projector of width ``hidden_dim`` throughout and the predictor's bottleneck a
      quarter of it (SimSiam's 2048 / 512 ratio).
    - others: none (the scale's ``hidden_dim`` reaches every method's head width separately).

    Args:
        method: a name of `ssltheory.ssl.methods.METHODS`.
        hidden_dim: the scale's head width.
        n_codes: the scale's number of codes.
    """
    if method in ("dino", "dissl"):
        return {"n_codes": n_codes}
    if method == "swav":
        return {"n_codes": n_codes, "queue_length": n_codes}
    if method == "simsiam":
        return {"proj_dim": hidden_dim, "pred_dim": max(1, hidden_dim // 4)}
    return {}
