"""``ssltheory demo``: the README's main job, in minutes on two CPU cores.

1. Exact checks [paper, THEORY.md T1/T2] on two generated examples: an invariant encoder with
   affinely independent class codes (ideal for linear probes) and one with pairwise distinct codes
   in d < K - 1 (ideal for universal probes only). Prints each verdict and the certificate, and
   checks the certificate on its own with an exact LP (:func:`ssltheory.linearly_separable`).
2. Trains CISSL and DISSL (docs/REFERENCE.md objectives, narrowed heads) with the small CNN on the
   embedded patch task (scikit-image pictures; label = source picture, so M is the label).
3. Probes each trained encoder and a randomly initialised one on frozen, un-augmented features:
   multinomial logistic regression, weight decay chosen on the validation split, test accuracy.
4. Judges every encoder on views [derived, THEORY.md section 2]: ``DEMO_VIEWS`` views of each of
   ``DEMO_IMAGES`` validation images, drawn by the one reference augmentation
   (`ssltheory.ssl.views.reference_augmentation`, simclr s = 1, the same for every encoder), each
   image its own class (the maximal invariant of crops, flips and jitter). On them
   (`ssltheory.report.score_representation`): the exact verdict of :func:`ssltheory.is_ideal` at the
   stated tolerance, with the failing condition and its certificate (e.g. the two views of one
   image whose codes differ most), and the scores of `ssltheory.metrics.score_all`, the headline
   ``ideal_score`` with its components. Also the smallest test accuracy over the invariant binary
   tasks of the labels of the toolkit's closed-form linear probe, found by
   :func:`ssltheory.metrics.worst_task_accuracy`'s adversarial search, with the task found.
5. Writes the report (report.json, report.md, report.png) to ``--out`` and prints a summary table.

``--quick`` is a smoke run (a few steps on 8x8 digits, small heads) for tests; its numbers mean
nothing. A rerun with the same options reuses the finished runs in ``OUT/runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from ssltheory.commands import add_tolerance_argument, seed_argument
from ssltheory.errors import InputError
from ssltheory.ssl.config import DEMO_BATCH, DEMO_METHODS, DEMO_STEPS, Recipe, demo_recipe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ssltheory demo``."""
    parser.add_argument("--out", default="demo_out", help="output directory (default ./demo_out)")
    parser.add_argument("--steps", type=int, default=None, help=f"training steps per method (default {DEMO_STEPS})")
    parser.add_argument("--batch-size", type=int, default=None, help=f"training batch size (default {DEMO_BATCH})")
    add_tolerance_argument(parser)
    parser.add_argument(
        "--seed", type=seed_argument, default=0, help="seed of training and of the random-init baseline"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="methods trained at once, one CPU thread each (default: up to the number of cores on cpu, 1 on cuda)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: a few steps on 8x8 digits (numbers mean nothing)"
    )


def run(args: argparse.Namespace) -> int:
    """``ssltheory demo``: exact checks, training, probes and verdicts on views, then the report in ``--out``.

    Exit 0."""
    if args.steps is not None and args.steps < 1:
        raise InputError(f"steps must be a positive integer, got {args.steps}")
    if args.batch_size is not None and args.batch_size < 2:
        raise InputError(f"batch-size must be at least 2, got {args.batch_size}")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"jobs must be a positive integer, got {args.jobs}")
    from ssltheory.files import atomic_write_text
    from ssltheory.report import write_report

    if args.tol is not None and not 0 <= args.tol < 1:
        raise InputError(f"tol must lie in [0, 1), got {args.tol}")
    started, cpu_started = time.perf_counter(), time.process_time()
    out = Path(args.out)
    plan = demo_recipe(args.quick, args.steps, args.batch_size)

    print("== 1. exact checks on generated examples (THEORY.md T1, T2) ==")
    examples = exact_checks(seed=args.seed)

    print(f"\n== 2. training {', '.join(DEMO_METHODS)} on {plan.data} ({plan.steps} steps, batch {plan.batch_size}) ==")
    jobs = (
        args.jobs
        if args.jobs is not None
        else (min(len(DEMO_METHODS), os.cpu_count() or 1) if args.device == "cpu" else 1)
    )
    runs = train_all(plan, out / "runs", seed=args.seed, device=args.device, jobs=jobs)

    tolerance = "max(K, d) x eps of the views' dtype" if args.tol is None else f"{args.tol:g}"
    print(f"\n== 3. probes, and verdicts and scores on views of the reference augmentation (tolerance {tolerance}) ==")
    sections, summary = score_encoders(plan, runs, tol=args.tol, seed=args.seed, device=args.device)

    notes = (
        f"Data: {plan.data}. Training: {plan.steps} steps, batch {plan.batch_size}, small CNN, "
        f"z_dim {plan.z_dim}. Verdicts and scores on views: {plan.views} views of each of {plan.n_images} validation "
        "images drawn by the reference augmentation (simclr, s = 1) for every encoder, each image its own class; "
        f"is_ideal at relative tolerance {tolerance} of the largest singular value of the centred class codes. "
        "'linear probe' = "
        "logistic regression, weight decay chosen on validation, test accuracy; 'worst binary task' = smallest "
        "test accuracy of the ridge linear probe over the invariant "
        "binary tasks of the labels, found by adversarial search."
    )
    paths = write_report(out, sections, title="ssltheory demo: ideal-ness of learned representations", notes=notes)
    atomic_write_text(out / "exact_checks.json", json.dumps(examples, indent=2) + "\n")

    print("\n== summary ==")
    print(_table(summary))
    print(f"\nreport: {paths['md']}, {paths['json']}, {paths['png']}")
    print(f"total {time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu_started:.0f} s CPU")
    return 0


# ----------------------------------------------------------------------------------------------


def exact_checks(seed: int = 0) -> list[dict]:
    """Part 1: verdicts and certificates on two generated invariant encoders; returns their dicts."""
    from ssltheory.conditions import is_ideal
    from ssltheory.geometry import linearly_separable
    from ssltheory.synthetic import finite_world, ideal_representation, rank_deficient_representation
    from ssltheory.tasks import lift

    world = finite_world(5, class_size=3, graph="chain", random_state=seed)
    examples = {
        "ideal: 5 classes, random codes in R^4": ideal_representation(
            world.classes, kind="random", dim=4, random_state=seed
        ),
        "not ideal: 5 classes, distinct codes in R^2": rank_deficient_representation(
            world.classes, 2, random_state=seed
        ),
    }
    results = []
    for name, Z in examples.items():
        print(f"-- {name} ({world.n_points} points)")
        entry = {"example": name}
        for probe in ("linear", "universal"):
            verdict = is_ideal(Z, world.classes, probe=probe)
            print(verdict.summary())
            entry[probe] = verdict.to_dict()
            cert = verdict.certificate
            if cert is not None and cert.task is not None:
                # the certificate on its own: an exact LP on the points with the lifted labels
                realizable = linearly_separable(Z, lift(cert.task, world.classes))
                print(
                    f"  independent LP check: task {cert.task.tolist()} linearly realizable on the points? {realizable}"
                )
                entry[f"{probe}_certificate_lp_realizable"] = bool(realizable)
        results.append(entry)
    return results


def _one_thread() -> None:
    import torch  # noqa: F401 (loaded first, so that the policy limits its pool)

    from ssltheory.threads import apply_thread_policy

    apply_thread_policy(1)


def _timed_train(method: str, plan: "Recipe", out: Path, seed: int, device: str) -> tuple[Path, float]:
    t0 = time.perf_counter()
    return train_one(method, plan, out, seed=seed, device=device), time.perf_counter() - t0


def train_all(plan: "Recipe", out: Path, *, seed: int, device: str, jobs: int) -> dict[str, Path]:
    """Train every demo method; with jobs > 1, in that many spawned processes of one thread each.

    The small CNN's ops are too small to keep two threads busy, so on two cores two one-thread
    runs side by side finish in about half the wall time of the same runs one after the other.
    Each run is seeded on its own, so the result does not depend on ``jobs``.
    """
    runs = {}
    if jobs <= 1:
        for method in DEMO_METHODS:
            runs[method], seconds = _timed_train(method, plan, out / method, seed, device)
            print(f"{method}: trained in {seconds:.1f} s -> {runs[method]}", flush=True)
        return runs
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_one_thread) as pool:
        futures = {m: pool.submit(_timed_train, m, plan, out / m, seed, device) for m in DEMO_METHODS}
        for method, future in futures.items():
            runs[method], seconds = future.result()
            print(f"{method}: trained in {seconds:.1f} s (in parallel, {jobs} jobs) -> {runs[method]}", flush=True)
    return runs


def train_one(method: str, plan: Recipe, out: Path, *, seed: int, device: str) -> Path:
    """Train (or reuse the finished run in ``out``, if it has this configuration)."""

    try:
        return _train_one(method, plan, out, seed=seed, device=device)
    except ValueError as exc:
        if "another configuration" in str(exc):
            demo_dir = out.parent.parent
            raise InputError(
                f"{demo_dir} holds a demo run of another configuration (e.g. --quick); "
                f"use --out DIR or delete {demo_dir}"
            ) from None
        raise


def _train_one(method: str, plan: Recipe, out: Path, *, seed: int, device: str) -> Path:
    from ssltheory.ssl.train import TrainConfig, train

    config = TrainConfig.from_flags(
        method=method,
        data=plan.data,
        arch="small_cnn",
        z_dim=plan.z_dim,
        steps=plan.steps,
        batch_size=plan.batch_size,
        hidden_dim=plan.hidden_dim,
        proj_dim=plan.proj_dim,
        n_codes=plan.n_codes if method in ("dino", "dissl") else None,
        aug_strength=plan.aug_strength,
        device=device,
        seed=seed,
        log_every=10,
        quiet=True,
        resume=True,
        out=str(out),
    )
    return train(config)


def score_encoders(plan: Recipe, runs: dict[str, Path], *, tol: float | None, seed: int, device: str):
    """Part 3-4: probe and judge on views a random-init encoder and each trained one; (sections, summary rows)."""
    import numpy as np
    import torch

    from ssltheory.metrics import worst_task_accuracy
    from ssltheory.progress import Progress
    from ssltheory.report import score_representation
    from ssltheory.ssl.augment import Normalize
    from ssltheory.ssl.data import load_dataset
    from ssltheory.ssl.encoders import build_encoder
    from ssltheory.ssl.probes import LinearProbe, extract_features
    from ssltheory.ssl.train import load_run
    from ssltheory.ssl.views import encode_views, reference_augmentation

    dataset = load_dataset(plan.data)
    labels = {s: getattr(dataset, s).labels.numpy() for s in ("train", "val", "test")}
    torch.manual_seed(seed)
    encoders = {"random init": build_encoder("small_cnn", dataset.channels, dataset.image_size, plan.z_dim)}
    for method, run_dir in runs.items():
        encoders[method], _ = load_run(run_dir)
    normalize = Normalize(dataset.mean, dataset.std).to(device)
    K = dataset.n_classes
    n_tasks = 2 ** (K - 1) - 1  # invariant binary tasks up to complement
    n_images = min(plan.n_images, len(dataset.val))
    view_images = dataset.val.images[
        np.sort(np.random.default_rng(seed).choice(len(dataset.val), n_images, replace=False))
    ]
    side = dataset.image_size if isinstance(dataset.image_size, int) else dataset.image_size[0]
    augmentation = reference_augmentation(side, dataset.channels, dataset.mean, dataset.std)

    sections, summary = {}, []
    for name, encoder in encoders.items():
        t0 = time.perf_counter()
        with Progress(len(labels) + plan.views, f"demo: {name}", unit="pass") as bar:
            feats = {}
            for s in labels:
                feats[s] = extract_features(encoder, getattr(dataset, s).images, 256, device, normalize)
                bar.update(1)
            views = encode_views(
                encoder,
                view_images,
                augmentation=augmentation,
                n_views=plan.views,
                seed=seed,
                device=device,
                progress=bar,
            )
        probe = LinearProbe(device=device, random_state=seed).fit(
            feats["train"], labels["train"], feats["val"], labels["val"]
        )
        linear_test = probe.score(feats["test"], labels["test"])
        # worst invariant binary task of the labels: ridge probe fitted on train features, scored on test features
        Z = np.concatenate([feats["train"], feats["test"]])
        y = np.concatenate([labels["train"], labels["test"]])
        train_mask = np.arange(len(y)) < len(labels["train"])
        worst = worst_task_accuracy(Z, y, train_mask, n_random=min(2 * n_tasks, 1024), random_state=seed)
        section = score_representation(
            views.codes,
            views.classes,
            tol=tol,
            augmentation=views.augmentation,
            random_state=seed,
            accuracies={"linear probe (test)": linear_test, "worst binary task (test)": worst.accuracy},
            extra={
                "views": f"{views.n_views} views of each of {views.n_images} "
                "validation images, each image its own class",
                "n_labels": int(K),
                "linear_probe_weight_decay": probe.weight_decay_,
                "linear_probe_val_accuracy": probe.val_accuracy_,
                "worst_binary_task": worst.task.tolist(),
                "worst_binary_task_source": worst.source,
                "n_binary_tasks": n_tasks,
                "n_tasks_evaluated": worst.n_evaluated,
            },
        )
        sections[name] = section
        summary.append(
            {
                "representation": name,
                "linear test acc": linear_test,
                "worst binary task": worst.accuracy,
                "ideal (views)": "yes" if section["verdict"]["ideal"] else "no",
                "failing": ",".join(section["failing"]) or "-",
                "ideal_score": section["ideal_score"],
                "invariance ratio": section["scores"]["invariance_ratio"],
            }
        )
        print(
            f"{name}: linear {linear_test:.3f}, worst binary task found {worst.accuracy:.3f}; on "
            f"{section['n_points']} views of {section['n_classes']} images ({views.augmentation['kind']} "
            f"s={views.augmentation['strength']:g}): ideal {section['verdict']['ideal']}"
            f"{' (failing ' + ', '.join(section['failing']) + ')' if section['failing'] else ''}, "
            f"ideal_score {section['ideal_score']:.3f} at tolerance {section['tol']:.3g} ({section['tol_rule']}) "
            f"[{time.perf_counter() - t0:.1f} s]"
        )
    return sections, summary


def _table(rows: list[dict]) -> str:
    columns = list(rows[0])
    cells = [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(row) for row in cells)])
