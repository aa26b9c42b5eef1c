"""``ssltheory score``: score a run, an encoder or features against the ideal conditions.

    ssltheory score RUN                     [--views V] [--n-images N] [--split S] [--classes-from images|labels]
    ssltheory score ENCODER.pt --data NAME  [--arch A --z-dim D] [--aug K --aug-strength S] ...
    ssltheory score FEATURES.npy --classes CLASSES.npy
    common: [--tol T] [--seed N] [--device D] [--json] [--report DIR]

What is scored (THEORY.md section 2 [derived]; the scores are `ssltheory.metrics.score_all`):

- RUN, a directory written by ``ssltheory train`` (`ssltheory.ssl.train.load_run`): its encoder, its
  dataset and its augmentation at its strength.
- ENCODER, a ``.pt`` state dict (``torch.load(weights_only=True)``): either our encoder's state dict,
  with ``--arch`` / ``--z-dim`` (and ``--data`` for the images), or one of the authors' released
  ResNet-50 DISSL checkpoints (torchvision key layout, recognised automatically and loaded by
  `ssltheory.ssl.released.load_released`).
- FEATURES, a ``.npy`` array (n, d) of precomputed views with ``--classes`` (n,) class ids.

On images, the classes are built as THEORY.md section 2 says: by default each of ``--n-images``
source images (drawn from ``--split``) is its own class, with ``--views`` views sampled by the
augmentation (the maximal invariant of crops, flips and jitter is the source image);
``--classes-from labels`` makes the data's own labels the classes (the paper's controlled runs,
where the "augmentation" is another image of the same label), each image contributing its views.
With ``--views 1`` the single view is the un-augmented image.

Output: the `score_all` dict (JSON with ``--json``: invariance_ratio, affine_rank, worst_task_accuracy,
rankme, alpha_req, lidar, ideal_score, ... plus ``source``, how the views were made), or a short
summary. ``--report DIR`` also writes ``DIR/report.md`` with ``spectrum.png`` (singular values of the
centred class codes and the tolerance line), ``invariance.png`` (per-class invariance ratio) and
``worst_task.png`` (the worst invariant task found: held-out views projected on the probe direction,
by group, and example images of each group when the views come from images).

Exit codes (DESIGN.md): 0 scored; 2 bad input (NaN features, a class with fewer than 2 views, a state
dict with missing or extra keys, ...), one line on stderr. A score is a measurement, not a verdict:
``ssltheory check`` gives the exact ideal / not-ideal answer (exit 1 when not ideal).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path

import numpy as np

#: Default relative tolerance of the affine rank: singular values of the centred class codes at or
#: below 1e-2 x the largest count as zero (the default of `ssltheory.report`). Learned codes are
#: never exactly dependent, so machine epsilon would call almost every representation full rank.
DEFAULT_TOL = 1e-2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="RUN|ENCODER|FEATURES",
                        help="a `ssltheory train` run directory, an encoder state dict (.pt) or features (.npy)")
    parser.add_argument("--classes", metavar="CLASSES.npy", help="class id per row of FEATURES.npy (required for features)")
    parser.add_argument("--views", type=int, default=8, metavar="V", help="sampled views per image (default 8)")
    parser.add_argument("--n-images", type=int, default=100, metavar="N",
                        help="images drawn from --split (default 100; with --classes-from images, K = N classes)")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test", help="images to score (default test)")
    parser.add_argument("--classes-from", choices=("images", "labels"), default="images",
                        help="classes: each source image (default) or the data's labels (controlled runs)")
    parser.add_argument("--data", default=None, help="dataset of the images (default: the run's); required for ENCODER")
    parser.add_argument("--data-dir", default=None, help="where the dataset's files are (mnist, cifar10, ...)")
    parser.add_argument("--arch", default=None, help="encoder architecture of a state dict: small_cnn, resnet18, resnet50")
    parser.add_argument("--z-dim", type=int, default=None, help="representation size of a state dict's encoder")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize the scored images to this side (default: as stored; 224 for released checkpoints)")
    parser.add_argument("--aug", choices=("simclr", "coarse", "none"), default=None,
                        help="augmentation drawing the views (default: the run's; simclr for ENCODER)")
    parser.add_argument("--aug-strength", type=float, default=None,
                        help="augmentation strength s (default: the run's; else the kind's default, simclr 1, coarse 2)")
    parser.add_argument("--tol", type=float, default=DEFAULT_TOL,
                        help=f"relative tolerance of the affine rank (default {DEFAULT_TOL:g} x largest singular value)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images, views and held-out split (default 0)")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    parser.add_argument("--device", default="cpu", help="where the encoder runs: cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--report", metavar="DIR", default=None, help="write DIR/report.md and its figures")


# --------------------------------------------------------------------------------------------
# views from images


def sample_views(encoder, images, augmentation, n_views: int, *, generator=None, batch_size: int = 256,
                 device="cpu") -> np.ndarray:
    """Codes of ``n_views`` augmented views of each image: float32 (n_views * N, d), view-major.

    Row ``v * N + i`` is the code of view v of image i, so the class of row r is ``r % N``
    (`view_classes`). ``augmentation`` is an `ssltheory.ssl.augment.SSLAugmentation`; it returns
    normalised views, which go through ``encoder`` in eval mode without gradients. With
    ``n_views == 1`` the only view is the un-augmented (normalised) image.

    Args:
        encoder: maps (B, C, h, w) float to (B, d).
        images: uint8 tensor (N, C, H, W).
        augmentation: the run's augmentation (its first large view is used).
        n_views: V >= 1.
        generator: ``torch.Generator`` of the augmentation's random draws.
        batch_size: images per forward pass.
        device: where the encoder runs (views are drawn on the CPU, deterministic given ``generator``).
    """
    import torch

    from ssltheory.ssl.augment import Normalize
    from ssltheory.ssl.probes import extract_features

    if n_views == 1:
        normalize = Normalize(augmentation.normalize.mean.flatten().tolist(), augmentation.normalize.std.flatten().tolist())
        return extract_features(encoder, images, batch_size=batch_size, transform=normalize, device=device)
    chunks = []
    for _ in range(n_views):
        views = [augmentation.view(images[s:s + batch_size], 0, generator=generator) for s in range(0, len(images), batch_size)]
        chunks.append(extract_features(encoder, torch.cat(views), batch_size=batch_size, device=device))
    return np.concatenate(chunks)


def view_classes(n_images: int, n_views: int, labels=None) -> np.ndarray:
    """Class id of each row of `sample_views`' output (n_views * n_images,): the image index, or
    ``labels[image]`` when the data's own labels define the classes."""
    image = np.tile(np.arange(n_images), n_views)
    return image if labels is None else np.asarray(labels)[image]


# --------------------------------------------------------------------------------------------
# the three kinds of target


def _is_state_dict_file(path: Path) -> bool:
    return path.is_file() and path.suffix in (".pt", ".pth", ".torch", ".ckpt")


def _load_state_dict(path: Path) -> dict:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"encoder file {path} is not a readable state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"encoder file {path} does not hold a state dict (a mapping of names to tensors)")
    return state


def _strict_load(encoder, state: dict, path: Path) -> None:
    """Load ``state`` into ``encoder``; a ValueError lists missing / extra keys and shape mismatches."""
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:8]}{' ...' if len(missing) > 8 else ''} ({len(missing)})")
        if extra:
            parts.append(f"extra keys {extra[:8]}{' ...' if len(extra) > 8 else ''} ({len(extra)})")
        raise ValueError(f"state dict {path} does not fit the encoder: {'; '.join(parts)}")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise ValueError(f"state dict {path} has tensors of the wrong shape: {', '.join(wrong[:4])}")
    encoder.load_state_dict(state)


def _dataset(name: str | None, data_dir: str | None, what: str):
    if name is None:
        raise ValueError(f"--data is required to score {what} (which images to encode?)")
    return _load_dataset(name, None if data_dir is None else str(Path(data_dir).resolve()))


@functools.lru_cache(maxsize=2)
def _load_dataset(name: str, data_dir: str | None):
    """`load_dataset`, remembered within a process (a notebook or a test scoring several encoders)."""
    from ssltheory.ssl.data import load_dataset

    return load_dataset(name, data_dir)


def _choose_images(dataset, split: str, n_images: int, seed: int):
    """A seeded sample of ``n_images`` images of ``split``: (uint8 (N, C, H, W), labels (N,))."""
    part = getattr(dataset, split)
    if n_images > len(part):
        raise ValueError(f"--n-images is {n_images} but the {split} split has only {len(part)} images")
    index = np.sort(np.random.default_rng(seed).choice(len(part), size=n_images, replace=False))
    return part.images[index], part.labels[index].numpy()


def _encoder_and_images(args) -> dict:
    """Resolve RUN / ENCODER into: encoder, images, labels, augmentation, and a description."""
    import torch

    from ssltheory.ssl.augment import build_augmentation
    from ssltheory.ssl.data import convert_channels, resize_uint8

    target = Path(args.target)
    if target.is_dir():
        from ssltheory.ssl.train import load_run

        encoder, config = load_run(target)
        dataset = _dataset(args.data or config.get("data"), args.data_dir or config.get("data_dir"), "a run")
        kind = args.aug or config.get("aug", "simclr")
        strength = args.aug_strength if args.aug_strength is not None else config.get("aug_strength")
        mean, std = config.get("mean", dataset.mean), config.get("std", dataset.std)
        source = {"kind": "run", "path": str(target), "method": config.get("method"), "arch": config.get("arch")}
        image_size = args.image_size
    else:
        state = _load_state_dict(target)
        from ssltheory.ssl.released import is_released_layout, load_released

        kind = args.aug or "simclr"
        strength = args.aug_strength  # None: the kind's default (simclr 1, coarse 2)
        if args.data is None:
            raise ValueError("--data is required to score an encoder state dict (which images to encode?)")
        if is_released_layout(state):
            image_size = args.image_size or 224
            encoder = load_released(state, image_size=image_size)  # before the data: a bad file fails fast
            dataset = _dataset(args.data, args.data_dir, "an encoder state dict")
            from ssltheory.ssl.data import IMAGENET_MEAN, IMAGENET_STD

            mean, std = IMAGENET_MEAN, IMAGENET_STD  # the released models' preprocessing [code]
            source = {"kind": "released", "path": str(target), "arch": "resnet50", "z_dim": encoder.out_dim}
        else:
            if args.arch is None:
                raise ValueError(f"{target} is not a released checkpoint; give --arch (and --z-dim) of its encoder")
            from ssltheory.ssl.encoders import build_encoder

            dataset = _dataset(args.data, args.data_dir, "an encoder state dict")
            image_size = args.image_size
            side = image_size or (dataset.image_size if isinstance(dataset.image_size, int) else dataset.image_size[0])
            encoder = build_encoder(args.arch, dataset.channels, side, args.z_dim)
            _strict_load(encoder, state, target)
            encoder.eval()
            mean, std = dataset.mean, dataset.std
            source = {"kind": "encoder", "path": str(target), "arch": args.arch, "z_dim": encoder.out_dim}
    images, labels = _choose_images(dataset, args.split, args.n_images, args.seed)
    channels = len(mean)
    if images.shape[1] != channels:
        images = convert_channels(images, channels)
    if image_size is not None and images.shape[-1] != image_size:
        images = resize_uint8(images, image_size)
    augmentation = build_augmentation(kind, images.shape[-1], channels, None if kind == "none" else strength,
                                      mean=mean, std=std)
    source.update(data=dataset.name, split=args.split, n_images=int(len(images)), views=args.views,
                  classes_from=args.classes_from, aug=kind, aug_strength=None if kind == "none" else augmentation.strength)
    return {"encoder": encoder, "images": images, "labels": labels, "augmentation": augmentation,
            "source": source, "generator": torch.Generator().manual_seed(args.seed)}


def _check_args(args) -> None:
    if args.views < 1:
        raise ValueError(f"--views must be at least 1, got {args.views}")
    if args.n_images < 2:
        raise ValueError(f"--n-images must be at least 2, got {args.n_images}")
    if args.classes_from == "images" and args.views < 2:
        raise ValueError("--views must be at least 2 when each image is its own class "
                         "(held-out scoring and LiDAR's whitening need 2 views per class)")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be positive, got {args.batch_size}")
    if args.device != "cpu":
        import torch

        if not (args.device == "cuda" or args.device.startswith("cuda:")):
            raise ValueError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
        if not torch.cuda.is_available():
            raise ValueError(f"--device {args.device} requested but CUDA is not available on this machine")
    if args.tol is not None and not (np.isfinite(args.tol) and args.tol >= 0):
        raise ValueError(f"--tol must be a finite number >= 0, got {args.tol}")


def run(args: argparse.Namespace) -> int:
    from ssltheory.commands.check import load_npy
    from ssltheory.metrics import score_all

    target = Path(args.target)
    if not target.exists():
        raise ValueError(f"{args.target} does not exist (expected a run directory, a .pt state dict or a .npy file)")
    images = None
    if target.is_file() and target.suffix == ".npy":
        if args.classes is None:
            raise ValueError("--classes is required with a FEATURES.npy file")
        Z = load_npy(args.target, "features")
        classes = load_npy(args.classes, "classes")
        if Z.ndim != 2:
            raise ValueError(f"features must have shape (n, d), got {Z.shape}")
        if not np.issubdtype(Z.dtype, np.number) or not np.isfinite(Z).all():
            bad = int(np.size(Z) - np.isfinite(Z).sum()) if np.issubdtype(Z.dtype, np.number) else None
            raise ValueError(f"features contain {bad} NaN or infinite values" if bad else "features are not numbers")
        source = {"kind": "features", "path": str(target), "classes": str(args.classes)}
    elif target.is_dir() or _is_state_dict_file(target):
        if args.classes is not None:
            raise ValueError("--classes goes with FEATURES.npy; for a run or encoder the classes come from the images")
        _check_args(args)
        got = _encoder_and_images(args)
        images, source = got["images"], got["source"]
        Z = sample_views(got["encoder"], images, got["augmentation"], args.views,
                         generator=got["generator"], batch_size=args.batch_size, device=args.device)
        classes = view_classes(len(images), args.views, got["labels"] if args.classes_from == "labels" else None)
        if not np.isfinite(Z).all():
            raise ValueError("the encoder produced NaN or infinite features")
    else:
        raise ValueError(f"{args.target}: expected a run directory, a state dict (.pt) or features (.npy)")

    scores = score_all(Z, classes, tol=args.tol, random_state=args.seed)
    scores["source"] = source
    if args.report is not None:
        scores["report"] = str(write_report(args.report, Z, classes, scores, images=images,
                                            image_classes=args.classes_from if images is not None else None,
                                            seed=args.seed))
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(summary(scores))
    return 0


def summary(scores: dict) -> str:
    """A few lines for people: K, d and the headline scores."""
    lines = [
        f"{scores['n_points']} views of {scores['n_classes']} classes, d = {scores['dim']}",
        f"  ideal score        {scores['ideal_score']:.4f}  (invariance {scores['ideal_invariance']:.3f} x "
        f"affine independence {scores['ideal_affine_independence']:.3f} x dimension {scores['ideal_dimension']:.3f})",
        f"  invariance ratio   {scores['invariance_ratio']:.4f}  (0 = invariant)",
        f"  affine rank        {scores['affine_rank']} of {scores['n_classes'] - 1} at tol {scores['tol']}",
        f"  worst task acc.    {scores['worst_task_accuracy']:.4f}  (found by {scores['worst_task_source']}, "
        f"{scores['worst_task_evaluated']} tasks tried)",
        f"  class accuracy     {scores['heldout_class_accuracy']:.4f}  (held-out views)",
        f"  RankMe {scores['rankme']:.2f}   alpha-ReQ {scores['alpha_req']:.3f}   LiDAR {scores['lidar']:.2f}",
    ]
    if "report" in scores:
        lines.append(f"  report: {scores['report']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the report


def write_report(out_dir, Z, classes, scores: dict, *, images=None, image_classes: str | None = None,
                 seed: int = 0) -> Path:
    """Write ``out_dir/report.md`` and its three PNGs; every number is read from ``scores``.

    Args:
        out_dir: directory (created).
        Z: (n, d) codes scored; classes: (n,) class ids (as given to `score_all`).
        scores: the `score_all` dict (with ``source``).
        images: uint8 (N, C, H, W) source images when the views came from images (view-major
            rows, see `sample_views`), else None.
        image_classes: "images" (class m is image m) or "labels", with ``images``.
        seed: the ``random_state`` given to `score_all` (to redraw its training / held-out split).

    Returns the path of report.md.
    """
    import matplotlib

    matplotlib.use("Agg")
    from ssltheory.equivalence import EquivalenceClasses
    from ssltheory.metrics import invariance_ratio, split_views

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--report {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    eq = EquivalenceClasses.from_labels(np.asarray(classes))
    Z = np.asarray(Z, dtype=np.float64)
    K = eq.n_classes
    task = np.asarray(scores["worst_task"])
    per_class = invariance_ratio(Z, eq).per_class

    _spectrum_figure(out / "spectrum.png", np.asarray(scores["affine_singular_values"]), scores["tol"], K)
    _invariance_figure(out / "invariance.png", per_class, scores["invariance_ratio"])
    mask = split_views(eq, random_state=np.random.default_rng(seed))  # the split score_all drew
    _worst_task_figure(out / "worst_task.png", Z, eq, task, mask, scores, images, image_classes)

    src = scores.get("source", {})
    rows = [
        ("ideal_score", scores["ideal_score"], "1 exactly when invariant, affinely independent, d >= K - 1"),
        ("invariance_ratio", scores["invariance_ratio"], "within / total sum of squares (0 = invariant)"),
        ("affine_rank", scores["affine_rank"], f"of K - 1 = {K - 1}, at tol {scores['tol']}"),
        ("affine_condition", scores["affine_condition"], "s_{K-1} / s_1 of the centred class codes"),
        ("dimension_deficit", scores["dimension_deficit"], "max(0, K - 1 - d)"),
        ("cover_fraction", scores["cover_fraction"], "Cover's bound on separable dichotomies at d"),
        ("heldout_class_accuracy", scores["heldout_class_accuracy"], "ridge probe of the class, held-out views"),
        ("worst_task_accuracy", scores["worst_task_accuracy"], f"found by {scores['worst_task_source']}"),
        ("rankme", scores["rankme"], "Garrido et al. 2023"),
        ("alpha_req", scores["alpha_req"], "Agrawal et al. 2022"),
        ("lidar", scores["lidar"], "Thilak et al. 2024"),
    ]
    group1 = np.flatnonzero(task == 1)
    text = [
        "# Score report",
        "",
        f"Source: {json.dumps(src)}",
        "",
        f"{scores['n_points']} views, K = {K} classes, d = {scores['dim']}.",
        "",
        "| score | value | meaning |",
        "|---|---|---|",
        *[f"| {name} | {_fmt(value)} | {meaning} |" for name, value, meaning in rows],
        "",
        "## Spectrum of the class codes",
        "",
        "![spectrum](spectrum.png)",
        "",
        f"Singular values of the centred class-code matrix; the line is tol x s_1 = {scores['tol']} x "
        f"{_fmt(scores['affine_singular_values'][0] if scores['affine_singular_values'] else 0.0)}. Affine "
        f"independence (THEORY.md T1.2) needs K - 1 = {K - 1} of them above it; {scores['affine_rank']} are.",
        "",
        "## Invariance per class",
        "",
        "![invariance](invariance.png)",
        "",
        "## Worst invariant task found",
        "",
        "![worst task](worst_task.png)",
        "",
        f"Group 1 = classes {group1[:20].tolist()}{' ...' if group1.size > 20 else ''} ({group1.size} of {K}); "
        f"held-out accuracy of the linear probe {_fmt(scores['worst_task_accuracy'])}.",
        "",
    ]
    path = out / "report.md"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("\n".join(text))
    os.replace(tmp, path)
    return path


def _fmt(value) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.4g}"


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _spectrum_figure(path: Path, s: np.ndarray, tol: float | None, K: int) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    if s.size:
        ax.semilogy(np.arange(1, s.size + 1), np.maximum(s, np.finfo(float).tiny), "o-", ms=3)
        if tol is not None and s[0] > 0:
            ax.axhline(tol * s[0], color="C3", ls="--", label=f"tol x s1 ({tol:g})")
        ax.axvline(K - 1, color="0.5", ls=":", label=f"K - 1 = {K - 1}")
        ax.legend(fontsize=8)
    ax.set_xlabel("index")
    ax.set_ylabel("singular value")
    ax.set_title("centred class codes")
    fig.tight_layout()
    _save(fig, path)


def _invariance_figure(path: Path, per_class: np.ndarray, overall: float) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    order = np.argsort(per_class)[::-1]
    ax.bar(np.arange(per_class.size), per_class[order], width=1.0, color="C0")
    ax.axhline(overall, color="C3", ls="--", label=f"overall {overall:.3f}")
    ax.set_xlabel("class (sorted)")
    ax.set_ylabel("within / total mean square")
    ax.set_title("invariance ratio per class (0 = invariant)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def _probe_direction(Z: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge direction w (d,) regressing y in {-1, +1} on centred Z (relative penalty ridge * s_1^2)."""
    X = Z - Z.mean(axis=0)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    lam = ridge * (s[0] ** 2 if s.size else 0.0)
    return Vt.T @ ((s / (s**2 + lam + 1e-300)) * (U.T @ (y - y.mean())))


def _worst_task_figure(path: Path, Z, eq, task, mask, scores, images, image_classes) -> None:
    import matplotlib.pyplot as plt

    y = np.where(task[eq.labels] == 1, 1.0, -1.0)
    w = _probe_direction(Z[mask], y[mask], scores["ridge"])
    proj = (Z - Z[mask].mean(axis=0)) @ w
    show_images = images is not None and image_classes == "images"
    fig = plt.figure(figsize=(9 if show_images else 5.5, 3.8))
    ax = fig.add_subplot(1, 2 if show_images else 1, 1)
    held = ~mask
    bins = np.histogram_bin_edges(proj[held], bins=30)
    ax.hist(proj[held & (y > 0)], bins=bins, alpha=0.6, label="group 1 (held-out views)")
    ax.hist(proj[held & (y < 0)], bins=bins, alpha=0.6, label="group 0 (held-out views)")
    ax.set_xlabel("projection on the probe direction")
    ax.set_title(f"worst task: accuracy {scores['worst_task_accuracy']:.3f}")
    ax.legend(fontsize=7)
    if show_images:
        _example_images(fig, images, task)
    fig.tight_layout()
    _save(fig, path)


def _example_images(fig, images, task, per_group: int = 6) -> None:
    """Up to ``per_group`` source images of each group, in two rows, on the right half of ``fig``."""
    pictures = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    for row, group in enumerate((1, 0)):
        members = np.flatnonzero(task == group)[:per_group]
        for j, m in enumerate(members):
            ax = fig.add_subplot(2, 2 * per_group, row * 2 * per_group + per_group + j + 1)
            picture = pictures[m].transpose(1, 2, 0)
            ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray" if picture.shape[-1] == 1 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"group {group}", fontsize=8)
