"""``ssltheory score``: score a run, an encoder or features against the ideal conditions.

    ssltheory score RUN                     [--views V] [--n-images N] [--split S] [--classes-from images|labels]
    ssltheory score ENCODER.pt --data NAME  [--arch A --z-dim D] [--aug K --aug-strength S] ...
    ssltheory score FEATURES.npy --classes CLASSES.npy
    common: [--tol T] [--seed N] [--device D] [--json] [--report DIR]

What is scored (THEORY.md section 2 [derived]; the scores are `ssltheory.metrics.score_all`, the
report `ssltheory.report`):

- RUN, a directory written by ``ssltheory train`` (`ssltheory.ssl.train.load_run`): its encoder on
  its dataset.
- ENCODER, a local ``.pt`` / ``.pth`` state dict (``torch.load(weights_only=True)``, nothing else
  is unpickled): our encoder's state dict with ``--arch`` / ``--z-dim``, or a torchvision-layout
  ResNet-18 / ResNet-50 (torchvision, lightly, solo-learn, VISSL, DINO, timm, the authors' released
  DISSL models), recognised automatically and loaded strictly by `ssltheory.ssl.released.load_resnet`
  (prefixes such as ``module.`` / ``backbone.`` stripped and reported, the ``fc.`` head ignored and
  reported).
- FEATURES, a ``.npy`` array (n, d) of precomputed views with ``--classes`` (n,) class ids.

On images, every encoder is judged on the views of one reference augmentation
(`ssltheory.ssl.views.reference_augmentation`: simclr at s = 1 unless ``--aug`` / ``--aug-strength``
say otherwise; the same for every encoder compared, never the run's own), named in the output. By
default each of ``--n-images`` source images (drawn from ``--split``) is its own class, with
``--views`` views; ``--classes-from labels`` makes the data's labels the classes (the augmentation
"another image with the same label", the paper's controlled runs).

Output: the `Scores` (JSON with ``--json``; ``ideal_score`` and its components, the baselines,
``augmentation``, plus ``source`` and ``verdict``: the exact verdict on the views with its failing
conditions and certificate), or their text form. ``--report DIR`` writes ``DIR/report.md`` with
``spectrum.png``, ``invariance.png`` and ``worst_task.png`` (`ssltheory.report.write_score_report`).

Exit codes (ssltheory/cli.py): 0 scored; 2 bad input (NaN features, a class with fewer than 2 views, a state
dict with missing or extra keys, ...), one line on stderr. A score is a measurement, not a verdict:
``ssltheory check`` gives the exact ideal / not-ideal answer with exit 1 when not ideal.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

from ssltheory.commands import add_tolerance_argument, seed_argument
from ssltheory.errors import InputError
from ssltheory.files import load_npy
from ssltheory.ssl.config import AUGMENTATIONS, STEMS
from ssltheory.ssl.datasets import DATASETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory score``."""
    parser.add_argument(
        "target",
        metavar="RUN|ENCODER|FEATURES",
        help="a `ssltheory train` run directory, an encoder state dict (.pt) or features (.npy)",
    )
    parser.add_argument(
        "--classes", metavar="CLASSES.npy", help="class id per row of FEATURES.npy (required for features)"
    )
    parser.add_argument("--views", type=int, default=8, metavar="V", help="sampled views per image (default 8)")
    parser.add_argument(
        "--n-images",
        type=int,
        default=100,
        metavar="N",
        help="images drawn from --split (default 100; with --classes-from images, K = N classes)",
    )
    parser.add_argument(
        "--split", choices=("train", "val", "test"), default="test", help="images to score (default test)"
    )
    parser.add_argument(
        "--classes-from",
        choices=("images", "labels"),
        default="images",
        help="classes: each source image (default) or the data's labels (controlled runs)",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="dataset of the images (default: the run's); required for ENCODER: "
        + "; ".join(f"{n}: {s.summary}" for n, s in DATASETS.items()),
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where the dataset's files are (" + ", ".join(n for n, s in DATASETS.items() if s.needs_dir) + ")",
    )
    parser.add_argument(
        "--arch", default=None, help="encoder architecture of a state dict: small_cnn, resnet18, resnet50"
    )
    parser.add_argument("--z-dim", type=int, default=None, help="representation size of a state dict's encoder")
    loading = parser.add_argument_group("checkpoints of other libraries (ssltheory.ssl.released.load_resnet)")
    loading.add_argument(
        "--which",
        default=None,
        metavar="NAME",
        help="pick one of several backbones by a part of its path (DINO: student; the teacher is "
        "the default; solo-learn: momentum_backbone)",
    )
    loading.add_argument(
        "--prefix",
        default=None,
        metavar="PATH",
        help="the backbone's path in the file, e.g. state_dict.backbone. (for unusual layouts)",
    )
    loading.add_argument(
        "--stem",
        choices=tuple(STEMS),
        default=None,
        help="the ResNet stem, when the checkpoint does not record it: "
        + "; ".join(f"{name}: {stem.describe()}" for name, stem in STEMS.items()),
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="resize the scored images to this side (default: as stored; 224 for released checkpoints)",
    )
    parser.add_argument(
        "--aug",
        choices=AUGMENTATIONS,
        default="simclr",
        help="reference augmentation drawing the views, the same for every encoder (default simclr)",
    )
    parser.add_argument("--aug-strength", type=float, default=None, help="its strength s (default: simclr 1, coarse 2)")
    add_tolerance_argument(parser)
    params = parser.add_argument_group("score parameters (ssltheory.metrics.score_all)")
    params.add_argument(
        "--lidar-delta",
        type=float,
        default=None,
        metavar="DELTA",
        help="ridge added to LiDAR's within-class covariance (default 1e-4; raise it when LiDAR is "
        "undefined: fewer views than dimensions)",
    )
    params.add_argument(
        "--ridge",
        type=float,
        default=None,
        help="ridge of the held-out linear probes of the ideal and worst-task scores (default 1e-4)",
    )
    parser.add_argument(
        "--seed", type=seed_argument, default=0, help="seed of the images, views and held-out split (default 0)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    parser.add_argument("--device", default="cpu", help="where the encoder runs: cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--report", metavar="DIR", default=None, help="write DIR/report.md and its figures")


# --------------------------------------------------------------------------------------------
# the three kinds of target


def _is_state_dict_file(path: Path) -> bool:
    return path.is_file() and path.suffix in (".pt", ".pth", ".torch", ".ckpt")


def _dataset(name: str | None, data_dir: str | None, what: str):
    if name is None:
        raise InputError(f"--data is required to score {what} (which images to encode?)")
    return _load_dataset(name, None if data_dir is None else str(Path(data_dir).resolve()))


@functools.lru_cache(maxsize=2)
def _load_dataset(name: str, data_dir: str | None):
    """`load_dataset`, remembered within a process (a notebook or a test scoring several encoders)."""
    from ssltheory.ssl.data import load_dataset

    return load_dataset(name, data_dir)


def _choose_images(dataset, split: str, n_images: int, seed: int):
    """A seeded sample of ``n_images`` images of ``split``: (uint8 (N, C, H, W), labels (N,))."""
    import numpy as np

    part = getattr(dataset, split)
    if n_images > len(part):
        raise InputError(f"--n-images is {n_images} but the {split} split has only {len(part)} images")
    index = np.sort(np.random.default_rng(seed).choice(len(part), size=n_images, replace=False))
    return part.images[index], part.labels[index].numpy()


def _encoder_and_images(args) -> dict:
    """Resolve RUN / ENCODER into: encoder, images, labels, augmentation, and a description."""
    from ssltheory.ssl.data import convert_channels, resize_uint8
    from ssltheory.ssl.views import reference_augmentation

    target = Path(args.target)
    if target.is_dir():
        from ssltheory.ssl.train import load_run

        encoder, config = load_run(target)
        dataset = _dataset(args.data or config.get("data"), args.data_dir or config.get("data_dir"), "a run")
        mean, std = config.get("mean", dataset.mean), config.get("std", dataset.std)
        source = {
            "kind": "run",
            "path": str(target),
            "method": config.get("method"),
            "arch": config.get("arch"),
            "trained_with": {"aug": config.get("aug"), "aug_strength": config.get("aug_strength")},
        }
        image_size = args.image_size
    else:
        from ssltheory.ssl.released import (
            is_released_layout,
            load_resnet,
            load_strict,
            read_checkpoint,
            read_state_dict,
        )

        contents = read_checkpoint(target)
        if args.data is None:
            raise InputError("--data is required to score an encoder state dict (which images to encode?)")
        chosen = {"which": args.which, "prefix": args.prefix, "stem": args.stem}
        if is_released_layout(contents) or any(v is not None for v in chosen.values()):
            encoder, info = load_resnet(contents, **chosen)  # before the data: a bad file fails fast
            image_size = args.image_size or (224 if STEMS[info.stem].kernel == 7 else None)
            dataset = _dataset(args.data, args.data_dir, "an encoder state dict")
            from ssltheory.ssl.data import IMAGENET_MEAN, IMAGENET_STD

            mean, std = IMAGENET_MEAN, IMAGENET_STD  # torchvision-layout models' preprocessing
            source = {
                "kind": "torchvision-layout",
                "path": str(target),
                "arch": info.arch,
                "z_dim": info.z_dim,
                "loaded": info.describe(),
                "backbone": info.prefix,
                "stem": info.stem,
                "stem_source": info.stem_source,
                "ignored_keys": list(info.ignored),
                "dropped": dict(info.dropped),
            }
        else:
            if args.arch is None:
                raise InputError(
                    f"{target} is neither a torchvision-layout ResNet nor complete without --arch; "
                    "give --arch (and --z-dim) of its encoder"
                )
            from ssltheory.ssl.encoders import build_encoder

            dataset = _dataset(args.data, args.data_dir, "an encoder state dict")
            image_size = args.image_size
            side = image_size or (dataset.image_size if isinstance(dataset.image_size, int) else dataset.image_size[0])
            encoder = build_encoder(args.arch, dataset.channels, side, args.z_dim)
            load_strict(encoder, read_state_dict(contents)[0], target)
            encoder.eval()
            mean, std = dataset.mean, dataset.std
            source = {"kind": "encoder", "path": str(target), "arch": args.arch, "z_dim": encoder.out_dim}
    images, labels = _choose_images(dataset, args.split, args.n_images, args.seed)
    channels = len(mean)
    if images.shape[1] != channels:
        images = convert_channels(images, channels)
    if image_size is not None and images.shape[-1] != image_size:
        images = resize_uint8(images, image_size)
    augmentation = reference_augmentation(
        images.shape[-1], channels, mean, std, kind=args.aug, strength=args.aug_strength
    )
    source.update(
        data=dataset.name, split=args.split, n_images=int(len(images)), views=args.views, classes_from=args.classes_from
    )
    return {"encoder": encoder, "images": images, "labels": labels, "augmentation": augmentation, "source": source}


def _check_args(args) -> None:
    import numpy as np

    if args.views < 1:
        raise InputError(f"--views must be at least 1, got {args.views}")
    if args.n_images < 2:
        raise InputError(f"--n-images must be at least 2, got {args.n_images}")
    if args.classes_from == "images" and args.views < 2:
        raise InputError(
            "--views must be at least 2 when each image is its own class "
            "(held-out scoring and LiDAR's whitening need 2 views per class)"
        )
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be positive, got {args.batch_size}")
    if args.device != "cpu":
        import torch

        if not (args.device == "cuda" or args.device.startswith("cuda:")):
            raise InputError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
        if not torch.cuda.is_available():
            raise InputError(f"--device {args.device} requested but CUDA is not available on this machine")
    if args.tol is not None and not (np.isfinite(args.tol) and args.tol >= 0):
        raise InputError(f"--tol must be a finite number >= 0, got {args.tol}")


def score_parameters(args) -> dict:
    """The ``score_all`` keyword arguments given on the command line (--lidar-delta, --ridge), checked."""
    import math

    given = {"lidar_delta": args.lidar_delta, "ridge": args.ridge}
    for name, value in given.items():
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InputError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    return {k: v for k, v in given.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    """``ssltheory score``: score a run, an encoder or features (see the module docstring).

    Exit 0, or 2 on bad input."""
    import numpy as np

    from ssltheory.metrics import score_all
    from ssltheory.report import score_section, write_score_report
    from ssltheory.validation import as_features

    parameters = score_parameters(args)
    target = Path(args.target)
    if not target.exists():
        raise InputError(f"{args.target} does not exist (expected a run directory, a .pt state dict or a .npy file)")
    images, augmentation = None, None
    if target.is_file() and target.suffix == ".npy":
        if args.classes is None:
            raise InputError("--classes is required with a FEATURES.npy file")
        # the same checks and messages as `ssltheory check` (float32 kept as given)
        Z = as_features(load_npy(args.target, "features"), "features", dtype=None)
        classes = load_npy(args.classes, "classes")
        source = {"kind": "features", "path": str(target), "classes": str(args.classes)}
    elif target.is_dir() or _is_state_dict_file(target):
        if args.classes is not None:
            raise InputError("--classes goes with FEATURES.npy; for a run or encoder the classes come from the images")
        _check_args(args)
        from ssltheory.progress import Progress
        from ssltheory.ssl.views import encode_views

        got = _encoder_and_images(args)
        images, source = got["images"], got["source"]
        with Progress(args.views, "score: views", unit="view") as bar:
            views = encode_views(
                got["encoder"],
                images,
                augmentation=got["augmentation"],
                n_views=args.views,
                labels=got["labels"] if args.classes_from == "labels" else None,
                seed=args.seed,
                batch_size=args.batch_size,
                device=args.device,
                progress=bar,
            )
        Z, classes, augmentation = views.codes, views.classes, views.augmentation
    else:
        raise InputError(f"{args.target}: expected a run directory, a state dict (.pt) or features (.npy)")

    if args.tol is not None and not (np.isfinite(args.tol) and 0 <= args.tol < 1):
        raise InputError(f"--tol must be a finite number in [0, 1), got {args.tol}")
    scores = score_all(Z, classes, tol=args.tol, augmentation=augmentation, random_state=args.seed, **parameters)
    section = score_section(scores)
    payload = {**scores.to_dict(), "source": source, "verdict": {**section["verdict"], "failing": section["failing"]}}
    if args.report is not None:
        payload["report"] = str(
            write_score_report(
                args.report,
                Z,
                classes,
                scores,
                source=source,
                verdict=section,
                images=images,
                image_classes=args.classes_from if images is not None else None,
                seed=args.seed,
            )
        )
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(scores.format())
        if section["failing"]:
            print(
                f"  verdict on the views: not ideal, failing {', '.join(section['failing'])} "
                "(`ssltheory check` or --report for the certificate)"
            )
        if source.get("loaded"):
            print(f"  loaded: {source['loaded']}")
        if "report" in payload:
            print(f"  report: {payload['report']}")
    return 0
