"""Controlled real-image experiments on MNIST with M = label.

The paper's controlled CIFAR-10 design (docs/REFERENCE.md) [code]: the "augmentation" of an image is
another image with the same label, so the maximal invariant M is the label (K = 10 classes,
THEORY.md section 2). Here on MNIST. Three parts, each writing ``<part>.csv`` (every number
plotted) and ``<part>.png``:

- ``controlled_heatmap``: exact ISSL (cross-entropy on the known M, THEORY.md T6) with a linear
  or an MLP head, for each representation dimension d, scored with a linear and an MLP probe by
  the **minimum test accuracy over all 2^(K-1) - 1 = 511 non-constant binary invariant tasks up to
  complement** (a task and its complement have the same accuracy, so this is the minimum over all
  1,022 non-constant binary invariant tasks), and by the predicates of T1/T2 on the class codes
  c_m = mean training feature of label m: ``is_ideal(C, range(K), probe, tol=PREDICATE_RTOL)``,
  the effective affine rank and conditioning s_{K-1}/s_1 (``metrics.affine_conditioning``) and the
  invariance ratio of the training features (``metrics.invariance_ratio``). Predictions [paper]:
  a linear head needs d >= K - 1 = 9 (T1), an MLP head works from d = 1 with an MLP probe (T2),
  the head family should match the probe family.
- ``controlled_relations``: finer, exact and coarser relations versus the number of labelled
  examples. Merging digits into label-preserving super-classes is impossible for the 10-way digit
  task, so, as the paper did, the coarsening is relative to a downstream task defined on
  super-classes: the *pair task* g(y) = y // 2 (digits {0,1}, {2,3}, ..., {8,9}; 5 classes).
  Three relations, one objective (CISSL, THEORY.md T8), the same augmentations, the same steps:
  ``finer`` = two augmentations of the same image (M = the instance), ``exact`` = an augmentation
  of another image of the same digit (M = digit), ``coarser`` = an augmentation of another image
  of the same pair (M = pair, a label-preserving coarsening for the pair task, T4). A linear probe
  is fitted on n labelled training examples (stratified by digit) and scored on the test set, for
  the pair task (invariant to all three relations: T4 predicts coarser >= exact >= finer in sample
  efficiency) and for the digit task (not invariant to ``coarser``: T4's caveat predicts it fails).
- ``issl_threshold``: exact ISSL with a linear head only, trained longer at full
  resolution (28 px at cpu scale, 2,500 steps of batch 128, no augmentation), d in {5, 9, 10, 20}:
  the minimum test accuracy over the 511 tasks with the probes' weight decay chosen on the
  trainer's validation split (never on test), the 10-way digit accuracy of a linear probe (which
  limits every task: the worst split's error is compared with the digit errors crossing it), and
  the class-code predicates. Its own sizes are ``SCALES[scale]["threshold"]``; kept apart from the
  heatmap because its longer training does not fit the heatmap's cpu budget (each part prints its
  own time).
  What it shows (see its CSV): cross-entropy through a linear head only asks the codes to be
  argmax-separable (THEORY.md T1.4), so a high digit accuracy does not make every binary task
  separable when the trained codes are badly conditioned; the CSV's worst task, its error and the
  digit errors crossing it tell geometry from digit mistakes.

Sizes at cpu scale: the class codes, invariance ratio and affine conditioning use the features of
``n_codes`` = 20,000 training images (stratified); the linear probes are fitted on ``n_fit`` =
3,000 of them and the MLP probes on ``mlp_probe["n_fit"]`` = 1,000 (equal numbers per digit); every
probe is scored on the full 10,000-image test set. One seed at cpu scale (three at gpu scale).

The probes of the heatmap (fitting 511 of them must be fast):

- linear: one binary L2-regularised logistic regression per task, all tasks at once by batched
  damped Newton steps (float64) on features standardised once with the fit set's mean and std;
  objective mean_i softplus(-s_i (w.x_i + b)) + lam/2 ||w||^2 (bias unpenalised), lam =
  ``linear_weight_decay`` (scikit-learn ``C = 1 / (lam n)``). A test point counts as correct only
  when its score has the strict sign of its label (THEORY.md section 0).
- mlp: one network x -> Linear(d, h) -> ReLU -> Linear(h, T) whose T outputs are the logits of the
  T tasks, trained jointly (full batch Adam, sum over tasks of the mean binary cross-entropy).
  Each task's predictor is a one-hidden-layer ReLU network of width h (sharing its hidden units
  with the other tasks), a finite member of the UNI family (T2): its accuracy is achievable, so
  the minimum over tasks is a lower bound on the per-task best MLP probe's minimum.

Data at cpu scale: MNIST idx files from ``$SSLTHEORY_MNIST`` or ``shared/data/mnist`` beside the
repository (``ssltheory.ssl.datasets.default_data_dir``), downsampled to ``image_size`` pixels (14 at
cpu scale, for time) and handed to the one trainer (``ssltheory.ssl.train.train(config,
dataset)``) in memory, split exactly as its MNIST loader splits files; the coarser relation is the
same images with relabelled training labels. ``quick`` uses scikit-learn's 8x8 digits (embedded),
so tests need no files.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.conditions import is_ideal
from ssltheory.efficiency import is_label_preserving
from ssltheory.errors import InputError
from ssltheory.files import save_figure
from ssltheory.metrics import affine_conditioning, invariance_ratio
from ssltheory.plotting import log_ticks, pyplot, read_csv, write_csv
from ssltheory.ssl.augment import Normalize
from ssltheory.ssl.data import Split, dataset_from_splits, load_dataset, load_mnist, resize_uint8
from ssltheory.ssl.datasets import MNIST_ENV, default_data_dir
from ssltheory.ssl.probes import LinearProbe, extract_features
from ssltheory.ssl.train import TrainConfig, load_run, train
from ssltheory.tasks import enumerate_binary_tasks

DESCRIPTION = (
    "controlled MNIST, M = label: head x probe x d min accuracy "
    "over all 511 binary tasks; finer/exact/coarser relations"
)

#: Relative tolerance of the predicates on the class codes: singular values of the centred codes
#: at or below PREDICATE_RTOL * s_max count as zero (conditions.is_ideal, metrics.affine_conditioning);
#: a coarse tolerance chosen for class means of trained codes (stated in every row as predicate_rtol).
PREDICATE_RTOL = 1e-2

#: Downstream super-classes of the relation part: digit y belongs to pair y // 2.
PAIRS = np.arange(10) // 2

SCALES = {
    "quick": {
        "source": "digits",
        "image_size": 8,
        "dims": (2, 9),
        "heads": ("linear", "mlp"),
        "seeds": (0,),
        "train": dict(steps=30, batch_size=64, lr=3e-3, hidden_dim=32),
        "n_fit": 500,
        "linear_weight_decay": 1e-3,
        "mlp_probe": dict(hidden=32, steps=60, lr=3e-2, n_fit=300),
        "n_codes": 1000,
        "relations": dict(steps=10, batch_size=32, z_dim=8, hidden_dim=32, proj_dim=16, strength=0.5),
        "n_labels": (10, 100),
        "label_draws": 1,
        "threshold": dict(
            image_size=8,
            dims=(5, 9),
            train=dict(steps=30, batch_size=64, lr=3e-3, hidden_dim=32),
            n_fit=500,
            n_codes=1000,
            weight_decays=(1e-4, 1e-2),
        ),
    },
    "cpu": {
        "source": "mnist",
        "image_size": 14,
        "dims": (1, 2, 5, 9, 10, 20),
        "heads": ("linear", "mlp"),
        "seeds": (0,),
        "train": dict(steps=800, batch_size=128, lr=3e-3, hidden_dim=256),
        "n_fit": 3000,
        "linear_weight_decay": 1e-3,
        "mlp_probe": dict(hidden=128, steps=300, lr=3e-2, n_fit=1000),
        "n_codes": 20000,
        "relations": dict(steps=300, batch_size=128, z_dim=32, hidden_dim=256, proj_dim=64, strength=0.5),
        "n_labels": (10, 20, 50, 100, 200, 500, 1000, 5000),
        "label_draws": 5,
        "threshold": dict(
            image_size=28,
            dims=(5, 9, 10, 20),
            train=dict(steps=2500, batch_size=128, lr=3e-3, hidden_dim=256),
            n_fit=10000,
            n_codes=20000,
            weight_decays=(1e-7, 1e-6, 1e-5, 1e-4, 1e-3),
        ),
    },
    "gpu": {
        "source": "mnist",
        "image_size": 28,
        "dims": (1, 2, 5, 9, 10, 20),
        "heads": ("linear", "mlp"),
        "seeds": (0, 1, 2),
        "train": dict(epochs=20.0, batch_size=512, lr=None, hidden_dim=1024, device="cuda"),
        "n_fit": 20000,
        "linear_weight_decay": 1e-4,
        "mlp_probe": dict(hidden=512, steps=2000, lr=3e-3, n_fit=20000),
        "n_codes": 60000,
        "relations": dict(
            epochs=20.0, batch_size=512, z_dim=128, hidden_dim=1024, proj_dim=128, strength=0.5, device="cuda"
        ),
        "n_labels": (10, 20, 50, 100, 200, 500, 1000, 5000, 20000),
        "label_draws": 10,
        "threshold": dict(
            image_size=28,
            dims=(5, 9, 10, 20),
            train=dict(epochs=20.0, batch_size=512, lr=None, hidden_dim=1024, device="cuda"),
            n_fit=20000,
            n_codes=60000,
            weight_decays=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2),
        ),
    },
}


# ------------------------------------------------------------------------------ data


def source_splits(source: str, image_size: int | None, data_dir: Path | None = None):
    """The (train, test) images and digit labels of ``source`` ("mnist" or "digits").

    Returns ``(train_images uint8 (N, H, W), train_labels uint8 (N,), test_images, test_labels)``
    at ``image_size`` pixels (bilinear, antialiased; None keeps the native size). For ``digits``
    the training split is scikit-learn digits' train + val of ``data.load_digits``.
    """
    if source == "mnist":
        root = Path(data_dir) if data_dir is not None else default_data_dir("mnist")
        if root is None or not root.is_dir():
            raise InputError(f"MNIST directory {root} does not exist (set {MNIST_ENV} to the idx files)")
        (train, test), _ = load_mnist(root)
        train_images, train_labels, test_images, test_labels = train.images, train.labels, test.images, test.labels
    elif source == "digits":
        ds = load_dataset("digits")
        train_images = torch.cat([ds.train.images, ds.val.images])
        train_labels = torch.cat([ds.train.labels, ds.val.labels])
        test_images, test_labels = ds.test.images, ds.test.labels
    else:
        raise InputError(f"source must be 'mnist' or 'digits', got {source!r}")
    if image_size is not None and image_size != train_images.shape[-1]:
        train_images, test_images = resize_uint8(train_images, image_size), resize_uint8(test_images, image_size)
    as_np = lambda t: t.numpy().astype(np.uint8)  # noqa: E731
    return as_np(train_images[:, 0]), as_np(train_labels), as_np(test_images[:, 0]), as_np(test_labels)


def controlled_dataset(splits, relabel: np.ndarray | None = None):
    """The in-memory ``mnist`` ImageDataset the trainer sees for ``splits`` (from :func:`source_splits`).

    ``relabel`` (10,) maps each digit to the class the trainer sees (the coarser relation: the same
    images, the label-view partner drawn within ``relabel[y]``); None keeps the digits. Test labels
    are always the digits. Train / val are split as the MNIST loader splits them
    (``ssltheory.ssl.data.dataset_from_splits``: 10 % stratified, seed 0), so the result equals
    ``load_dataset("mnist", ...)`` on the same images written as idx files.
    """
    train_images, train_labels, test_images, test_labels = splits
    seen = train_labels if relabel is None else np.asarray(relabel, dtype=np.uint8)[train_labels]

    def as_split(images, labels):
        images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).unsqueeze(1)
        return Split(images, torch.from_numpy(np.asarray(labels, dtype=np.int64)))

    return dataset_from_splits(
        "mnist", as_split(train_images, seen), as_split(test_images, test_labels), [str(d) for d in range(10)], seed=0
    )


# ------------------------------------------------------------------------------ training


def train_encoder(run_dir: Path, seed: int, dataset=None, **config) -> tuple[nn.Module, dict, float]:
    """Train with ``ssltheory.ssl.train`` (small CNN unless ``arch`` is given); return (encoder in
    eval mode, the run's config dict, wall seconds). ``config``: TrainConfig fields and method
    options by their flag names (data, data_dir, method, z_dim, steps, proj_dim...); ``dataset``:
    an in-memory ImageDataset to train on instead of loading ``config["data"]``."""
    start = time.perf_counter()
    cfg = TrainConfig.from_flags(
        **{"arch": "small_cnn", **config, "seed": seed, "quiet": True, "log_every": 10_000, "out": str(run_dir)}
    )
    train(cfg, dataset)
    encoder, saved = load_run(run_dir)
    return encoder, saved, time.perf_counter() - start


def features_of(encoder: nn.Module, config: dict, images: torch.Tensor) -> np.ndarray:
    """Frozen features (N, d) float64 of uint8 images (N, C, H, W), normalised as in training."""
    normalize = Normalize(config["mean"], config["std"])
    with torch.no_grad():
        return extract_features(encoder, images, batch_size=1024, transform=normalize).astype(np.float64)


# ------------------------------------------------------------------------------ probes on every task


def _check_task_inputs(X_fit, y_fit, X_test, y_test, tasks):
    X_fit, X_test = np.asarray(X_fit, dtype=np.float64), np.asarray(X_test, dtype=np.float64)
    y_fit, y_test, tasks = np.asarray(y_fit), np.asarray(y_test), np.asarray(tasks)
    for name, X in (("X_fit", X_fit), ("X_test", X_test)):
        if X.ndim != 2 or X.shape[0] == 0:
            raise InputError(f"{name} must be a non-empty (n, d) array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise InputError(f"{name} contains NaN or infinite values")
    if X_fit.shape[1] != X_test.shape[1]:
        raise InputError(f"X_test has {X_test.shape[1]} features but X_fit has {X_fit.shape[1]}")
    if tasks.ndim != 2 or not np.isin(tasks, (0, 1)).all():
        raise InputError(f"tasks must be a (T, K) array of 0/1 labels per class, got shape {tasks.shape}")
    for name, y, X in (("y_fit", y_fit, X_fit), ("y_test", y_test, X_test)):
        if y.shape != (X.shape[0],):
            raise InputError(f"{name} has {y.size} entries but {'X' + name[1:]} has {X.shape[0]} rows")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= tasks.shape[1]:
            raise InputError(f"{name} must hold class ids in [0, {tasks.shape[1] - 1}]")
    return X_fit, y_fit.astype(np.int64), X_test, y_test.astype(np.int64), tasks.astype(np.int64)


def _standardise(X_fit: np.ndarray, X_test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = X_fit.mean(0), X_fit.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return torch.from_numpy((X_fit - mean) / std), torch.from_numpy((X_test - mean) / std)


def fit_logistic_tasks(
    X: torch.Tensor, Y: torch.Tensor, weight_decay: float, max_iter: int = 30, tol: float = 1e-7, chunk: int = 64
) -> torch.Tensor:
    """T binary L2 logistic regressions at once by damped Newton (float64).

    Args:
        X: (n, d) features (standardised). Y: (n, T) targets in {0, 1}, one column per task.
        weight_decay: lam > 0 of mean softplus loss + lam/2 ||w||^2 (bias unpenalised).
        max_iter: Newton iterations; tol: stop when every gradient entry is below it.
        chunk: tasks per batched Hessian (memory (chunk, n, d + 1)).

    Returns:
        (T, d + 1) weights, the bias last.
    """
    n, d = X.shape
    X1 = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], 1)
    T = Y.shape[1]
    penal = torch.ones(d + 1, dtype=X.dtype)
    penal[-1] = 0.0
    ridge = torch.diag(weight_decay * penal + 1e-10)

    def objective(W):
        s = X1 @ W.T
        return (F.softplus(s) - Y * s).mean(0) + 0.5 * weight_decay * (W * W * penal).sum(1)

    W = torch.zeros(T, d + 1, dtype=X.dtype)
    f = objective(W)
    for _ in range(max_iter):
        p = torch.sigmoid(X1 @ W.T)
        grad = (X1.T @ (p - Y)).T / n + weight_decay * W * penal
        if grad.abs().max() < tol:
            break
        curvature = (p * (1 - p) / n).T  # (T, n)
        step = torch.empty_like(W)
        for a in range(0, T, chunk):
            H = (curvature[a : a + chunk, :, None] * X1).transpose(1, 2) @ X1 + ridge
            step[a : a + chunk] = torch.linalg.solve(H, grad[a : a + chunk].unsqueeze(-1)).squeeze(-1)
        decrease = (grad * step).sum(1)
        t = torch.ones(T, dtype=X.dtype)
        for _ in range(30):  # backtracking per task (Armijo)
            f_new = objective(W - t[:, None] * step)
            bad = f_new > f - 1e-4 * t * decrease
            if not bad.any():
                break
            t = torch.where(bad, t / 2, t)
        W, f = W - t[:, None] * step, f_new
    return W


def fit_mlp_tasks(
    X: torch.Tensor,
    Y: torch.Tensor,
    hidden: int,
    steps: int,
    lr: float,
    weight_decay: float = 1e-5,
    random_state: int = 0,
) -> nn.Module:
    """One hidden layer of ``hidden`` ReLUs with T outputs, one logit per task, trained jointly.

    X: (n, d) standardised float64 features (cast to float32); Y: (n, T) in {0, 1}. Full-batch Adam
    with a cosine learning rate; loss: sum over tasks of the mean binary cross-entropy.
    """
    X, Y = X.float(), Y.float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        model = nn.Sequential(nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, Y.shape[1]))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(X), Y, reduction="none").mean(0).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def task_accuracies(
    X_fit,
    y_fit,
    X_test,
    y_test,
    tasks,
    probe: str = "linear",
    *,
    weight_decay: float = 1e-3,
    mlp_hidden: int = 128,
    mlp_steps: int = 300,
    mlp_lr: float = 3e-2,
    random_state: int = 0,
) -> np.ndarray:
    """Test accuracy of a probe fitted for each binary invariant task.

    [paper, Def. 1; THEORY.md T1/T2] A task is one label in {0, 1} per class; point i of class
    y_i gets label tasks[t, y_i]. ``probe="linear"``: one L2 logistic regression per task
    (:func:`fit_logistic_tasks`, ``weight_decay`` = lam on standardised features); correct iff the
    score has the strict sign of the label. ``probe="mlp"``: :func:`fit_mlp_tasks` (one hidden layer
    of ``mlp_hidden`` ReLUs shared by the tasks), correct iff the logit has the strict sign.

    Args:
        X_fit: (n, d) features the probes are fitted on; y_fit: (n,) class ids in [0, K).
        X_test: (m, d) features scored; y_test: (m,) class ids.
        tasks: (T, K) 0/1 task labels per class, e.g. ``tasks.enumerate_binary_tasks(K)``.

    Returns:
        (T,) float64 test accuracies.
    """
    X_fit, y_fit, X_test, y_test, tasks = _check_task_inputs(X_fit, y_fit, X_test, y_test, tasks)
    if probe not in ("linear", "mlp"):
        raise InputError(f"probe must be 'linear' or 'mlp', got {probe!r}")
    if not (np.isfinite(weight_decay) and weight_decay > 0):
        raise InputError(f"weight_decay must be positive, got {weight_decay!r}")
    Xf, Xt = _standardise(X_fit, X_test)
    Y = torch.from_numpy(tasks[:, y_fit].T.astype(np.float64))
    truth = tasks[:, y_test].T == 1  # (m, T)
    with torch.no_grad() if probe == "linear" else torch.enable_grad():
        if probe == "linear":
            W = fit_logistic_tasks(Xf, Y, weight_decay)
            scores = (torch.cat([Xt, torch.ones(len(Xt), 1, dtype=Xt.dtype)], 1) @ W.T).numpy()
        else:
            model = fit_mlp_tasks(Xf, Y, mlp_hidden, mlp_steps, mlp_lr, random_state=random_state)
            with torch.no_grad():
                scores = model(Xt.float()).double().numpy()
    correct = np.where(truth, scores > 0, scores < 0)
    return correct.mean(0)


def class_code_scores(Z: np.ndarray, labels: np.ndarray, rtol: float = PREDICATE_RTOL) -> dict:
    """The predicates on the class codes c_m = mean of Z over label m (THEORY.md T1, T2, section 2).

    Returns a dict: ``ideal_linear`` / ``ideal_universal`` (``is_ideal`` on the (K, d) codes with
    classes 0..K-1 at relative tolerance ``rtol``), ``affine_rank`` and ``condition`` (s_{K-1}/s_1,
    ``metrics.affine_conditioning`` of the features at ``rtol``), ``invariance_ratio`` (within-class
    over total sum of squares of the features themselves: 0 for an invariant encoder).
    """
    K = int(labels.max()) + 1
    codes = np.stack([Z[labels == m].mean(0) for m in range(K)])
    conditioning = affine_conditioning(Z, labels, tol=rtol)
    return {
        "ideal_linear": bool(is_ideal(codes, np.arange(K), probe="linear", tol=rtol).ok),
        "ideal_universal": bool(is_ideal(codes, np.arange(K), probe="universal", tol=rtol).ok),
        "affine_rank": int(conditioning.rank),
        "condition": float(conditioning.condition),
        "invariance_ratio": float(invariance_ratio(Z, labels).value),
    }


# ------------------------------------------------------------------------------ part 1: heatmap


def _fit_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n indices (all when n >= len(labels)), as equal a number per label as the labels allow:
    n // K each, one more for the first n % K labels of a seeded order; sorted int64."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    quota = np.full(len(classes), n // len(classes))
    quota[rng.permutation(len(classes))[: n % len(classes)]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=min(q, int((labels == c).sum())), replace=False)
        for c, q in zip(classes, quota)
    ]
    return np.sort(np.concatenate(chosen))


def controlled_heatmap(scale: str, out: Path, seed: int) -> list[Path]:
    """Exact ISSL x head family x d, scored by linear and MLP probes on all 511 binary tasks."""
    cfg = SCALES[scale]
    tasks = enumerate_binary_tasks(10)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="controlled_"))
    try:
        ds = controlled_dataset(source_splits(cfg["source"], cfg["image_size"]))  # the trainer's own splits
        y_train, y_test = ds.train.labels.numpy(), ds.test.labels.numpy()
        coded = _fit_subset(y_train, cfg["n_codes"], seed)  # training images whose features give the class codes
        y_train = y_train[coded]
        fit = _fit_subset(y_train, cfg["n_fit"], seed)
        mlp_fit = _fit_subset(y_train, cfg["mlp_probe"]["n_fit"], seed)
        for run_seed in [seed + s for s in cfg["seeds"]]:
            for head in cfg["heads"]:
                for d in cfg["dims"]:
                    run_dir = work / f"exact_{head}_d{d}_s{run_seed}"
                    encoder, config, seconds = train_encoder(
                        run_dir,
                        run_seed,
                        ds,
                        data="mnist",
                        method="exact",
                        exact_head=head,
                        z_dim=d,
                        aug="none",
                        **cfg["train"],
                    )
                    Z_train, Z_test = (
                        features_of(encoder, config, ds.train.images[coded]),
                        features_of(encoder, config, ds.test.images),
                    )
                    predicates = class_code_scores(Z_train, y_train)
                    for probe in ("linear", "mlp"):
                        start = time.perf_counter()
                        idx = fit if probe == "linear" else mlp_fit
                        acc = task_accuracies(
                            Z_train[idx],
                            y_train[idx],
                            Z_test,
                            y_test,
                            tasks,
                            probe,
                            weight_decay=cfg["linear_weight_decay"],
                            mlp_hidden=cfg["mlp_probe"]["hidden"],
                            mlp_steps=cfg["mlp_probe"]["steps"],
                            mlp_lr=cfg["mlp_probe"]["lr"],
                            random_state=run_seed,
                        )
                        worst = int(np.argmin(acc))
                        rows.append(
                            {
                                "d": d,
                                "head": head,
                                "probe": probe,
                                "seed": run_seed,
                                "n_tasks": len(tasks),
                                "min_task_accuracy": float(acc[worst]),
                                "mean_task_accuracy": float(acc.mean()),
                                "worst_task": "".join(map(str, tasks[worst])),
                                **predicates,
                                "predicate_rtol": PREDICATE_RTOL,
                                "n_codes": len(coded),
                                "train_seconds": round(seconds, 1),
                                "probe_seconds": round(time.perf_counter() - start, 1),
                                "steps": config["total_steps"],
                                "image_size": cfg["image_size"],
                                "n_fit": len(idx),
                                "n_test": len(y_test),
                            }
                        )
                        write_csv(
                            out / "controlled_heatmap.csv", rows
                        )  # after every cell: partial runs keep their results
                        print(
                            f"    head {head:6s} d {d:2d} probe {probe:6s}: min {acc[worst]:.4f} mean {acc.mean():.4f} "
                            f"ideal_linear {predicates['ideal_linear']} rank {predicates['affine_rank']} "
                            f"({seconds:.0f}+{rows[-1]['probe_seconds']:.0f} s)",
                            flush=True,
                        )
                    shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    csv_path = write_csv(out / "controlled_heatmap.csv", rows)
    return [csv_path, plot_controlled_heatmap(csv_path, out / "controlled_heatmap.png")]


def plot_controlled_heatmap(csv_path: Path, png_path: Path) -> Path:
    """Top: one heatmap, a row per (head, probe) arm and a column per d, of the mean over seeds
    of the minimum test accuracy over the binary invariant tasks. Bottom: the same numbers as
    curves against d, with d = K - 1 and the 0.5 that a constant guess reaches on a binary task."""
    plt = pyplot()
    rows = read_csv(csv_path)
    dims = sorted({int(r["d"]) for r in rows})
    arms = [(h, p) for h in ("linear", "mlp") for p in ("linear", "mlp")]
    n_tasks = int(rows[0]["n_tasks"]) if rows else 0

    def cell(d, head, probe):
        vals = [
            float(r["min_task_accuracy"])
            for r in rows
            if int(r["d"]) == d and r["head"] == head and r["probe"] == probe
        ]
        return float(np.mean(vals)) if vals else np.nan

    grid = np.array([[cell(d, h, p) for d in dims] for h, p in arms])
    low = float(np.nanmin(grid)) if np.isfinite(grid).any() else 0.5
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.4), gridspec_kw={"height_ratios": [1, 1.25]})
    image = top.imshow(grid, vmin=min(low, 0.5), vmax=1.0, cmap="viridis", aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            top.text(
                j,
                i,
                "-" if np.isnan(grid[i, j]) else f"{grid[i, j]:.3f}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if grid[i, j] > 0.8 else "white",
            )
    top.set_xticks(range(len(dims)), [f"d = {d}" for d in dims], fontsize=8)
    top.set_yticks(range(len(arms)), [f"{h} head, {p} probe" for h, p in arms], fontsize=8)
    top.set_title(
        f"Exact ISSL on MNIST, M = label: minimum test accuracy over {n_tasks} binary invariant tasks", fontsize=9
    )
    fig.colorbar(image, ax=top, fraction=0.04, pad=0.02)
    for (h, p), values in zip(arms, grid):
        bottom.plot(dims, values, marker="o", ls="-" if h == p else "--", label=f"{h} head, {p} probe")
    bottom.axvline(9, color="grey", lw=0.8, ls=":", label="d = K - 1 = 9")
    bottom.axhline(0.5, color="black", lw=0.8, ls="-.", label="0.5: a constant guess does at least this well")
    bottom.set_xticks(dims)
    bottom.set_xlabel("representation dimension d")
    bottom.set_ylabel("min accuracy over the tasks")
    bottom.set_ylim(min(low, 0.5) - 0.03, 1.01)
    bottom.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = save_figure(fig, png_path)
    plt.close(fig)
    return out


# ------------------------------------------------------------------------------ part 2: relations

RELATIONS = ("finer", "exact", "coarser")


def relation_config(relation: str) -> tuple[np.ndarray | None, bool]:
    """(relabel of the training labels or None, label_views) of a relation; see the module docstring."""
    if relation == "finer":
        return None, False
    if relation == "exact":
        return None, True
    if relation == "coarser":
        return PAIRS, True
    raise InputError(f"relation must be one of {', '.join(RELATIONS)}, got {relation!r}")


def controlled_relations(scale: str, out: Path, seed: int) -> list[Path]:
    """CISSL with finer / exact / coarser relations: linear-probe accuracy vs number of labels."""
    cfg = SCALES[scale]
    rc = dict(cfg["relations"])
    strength = rc.pop("strength")
    proj_dim = rc.pop("proj_dim")
    if not is_label_preserving(PAIRS, PAIRS):  # the coarsening is label-preserving for the pair task (T4)
        raise AssertionError("PAIRS must be label-preserving for the pair task")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="controlled_rel_"))
    try:
        splits = source_splits(cfg["source"], cfg["image_size"])
        ds = controlled_dataset(splits)
        y_train, y_test = ds.train.labels.numpy(), ds.test.labels.numpy()
        for run_seed in [seed + s for s in cfg["seeds"]]:
            for relation in RELATIONS:
                relabel, label_views = relation_config(relation)
                seen = ds if relabel is None else controlled_dataset(splits, relabel)
                run_dir = work / f"{relation}_s{run_seed}"
                encoder, config, seconds = train_encoder(
                    run_dir,
                    run_seed,
                    seen,
                    data="mnist",
                    method="cissl",
                    aug="simclr",
                    aug_strength=strength,
                    label_views=label_views,
                    proj_dim=proj_dim,
                    **rc,
                )
                Z_train, Z_test = (
                    features_of(encoder, config, ds.train.images),
                    features_of(encoder, config, ds.test.images),
                )
                for n_labels in cfg["n_labels"]:
                    for draw in range(cfg["label_draws"]):
                        idx = _fit_subset(y_train, n_labels, seed=1000 * run_seed + draw)
                        for task, g in (("pairs", PAIRS), ("digits", np.arange(10))):
                            probe = LinearProbe(weight_decay=cfg["linear_weight_decay"]).fit(
                                Z_train[idx], g[y_train[idx]]
                            )
                            rows.append(
                                {
                                    "relation": relation,
                                    "task": task,
                                    "n_labels": len(idx),
                                    "seed": run_seed,
                                    "draw": draw,
                                    "accuracy": probe.score(Z_test, g[y_test]),
                                    "train_seconds": round(seconds, 1),
                                    "steps": config["total_steps"],
                                }
                            )
                fewest = min(cfg["n_labels"])
                pairs_at_fewest = [
                    r["accuracy"]
                    for r in rows
                    if r["relation"] == relation and r["task"] == "pairs" and r["n_labels"] == fewest
                ]
                print(
                    f"    {relation:7s}: pairs@{cfg['n_labels'][0]} {np.mean(pairs_at_fewest):.3f} ({seconds:.0f} s)",
                    flush=True,
                )
                shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    csv_path = write_csv(out / "controlled_relations.csv", rows)
    return [csv_path, plot_controlled_relations(csv_path, out / "controlled_relations.png")]


def plot_controlled_relations(csv_path: Path, png_path: Path) -> Path:
    """Accuracy vs labelled examples, one line per relation; pair task and digit task side by side."""
    plt = pyplot()
    rows = read_csv(csv_path)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=False)
    for ax, task, title in zip(
        axes, ("pairs", "digits"), ("pair task y//2 (invariant to all three)", "digit task (not invariant to coarser)")
    ):
        for relation, colour in zip(RELATIONS, ("tab:blue", "tab:orange", "tab:green")):
            sel = [r for r in rows if r["relation"] == relation and r["task"] == task]
            ns = sorted({int(r["n_labels"]) for r in sel})
            acc = [np.array([float(r["accuracy"]) for r in sel if int(r["n_labels"]) == n]) for n in ns]
            mean, sd = np.array([a.mean() for a in acc]), np.array([a.std() for a in acc])
            ax.plot(ns, mean, marker="o", color=colour, label=relation)
            ax.fill_between(ns, mean - sd, mean + sd, color=colour, alpha=0.2)
        log_ticks(ax, ns)
        ax.set_xlabel("labelled training examples")
        ax.set_ylabel("test accuracy (linear probe)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle("CISSL on MNIST with finer (instance), exact (digit) and coarser (digit pair) relations", fontsize=9)
    fig.tight_layout()
    out = save_figure(fig, png_path)
    plt.close(fig)
    return out


# ------------------------------------------------------------------------------ part 3: the d >= K - 1 threshold


def choose_weight_decay(X_fit, y_fit, X_val, y_val, tasks, weight_decays) -> tuple[float, dict]:
    """The linear probes' weight decay with the best *validation* minimum over the tasks.

    For each lam of ``weight_decays`` the T logistic regressions of :func:`task_accuracies` are
    fitted on (X_fit, y_fit) and scored on (X_val, y_val); the lam whose minimum accuracy over
    the tasks is largest is returned (ties: the stronger decay). The test split is never seen.

    Args:
        X_fit: (n, d) features, y_fit: (n,) class ids; X_val: (m, d), y_val: (m,) held-out ones.
        tasks: (T, K) 0/1 task labels per class. weight_decays: non-empty positive candidates.

    Returns:
        (chosen lam, {lam: validation minimum accuracy}).
    """
    grid = [float(lam) for lam in weight_decays]
    if not grid or not all(np.isfinite(lam) and lam > 0 for lam in grid):
        raise InputError(f"weight_decays must be a non-empty sequence of positive numbers, got {weight_decays!r}")
    val_min = {
        lam: float(task_accuracies(X_fit, y_fit, X_val, y_val, tasks, "linear", weight_decay=lam).min()) for lam in grid
    }
    best = max(val_min.values())
    return max(lam for lam, v in val_min.items() if v == best), val_min


def issl_threshold(scale: str, out: Path, seed: int) -> list[Path]:
    """Exact ISSL with a linear head, better trained than the heatmap's runs: does d >= K - 1 = 9
    give a linearly ideal representation on MNIST test images? (THEORY.md T1, T6.)

    For each d of ``SCALES[scale]["threshold"]["dims"]``: train exact ISSL (cross-entropy on the
    label, linear head, no augmentation: M = label is given), choose the linear probes' weight
    decay on the trainer's validation split (:func:`choose_weight_decay`), then report on the test
    set the minimum and mean accuracy over all 511 binary tasks up to complement (= all 1,022
    non-constant invariant binary tasks), the 10-way linear probe's digit accuracy, and
    ``digit_cross_error``: the fraction of test images that the digit probe puts on the wrong side
    of the worst task's split (a reference for the worst task's error: a binary probe that makes
    the digit probe's mistakes makes exactly these), and the class-code predicates of
    :func:`class_code_scores`. Writes ``issl_threshold.csv`` and ``issl_threshold.png``.
    """
    cfg = SCALES[scale]
    th = cfg["threshold"]
    tasks = enumerate_binary_tasks(10)
    rows = []
    work = Path(tempfile.mkdtemp(prefix="threshold_"))
    try:
        ds = controlled_dataset(source_splits(cfg["source"], th["image_size"]))  # the trainer's own train / val split
        y_train, y_val, y_test = ds.train.labels.numpy(), ds.val.labels.numpy(), ds.test.labels.numpy()
        coded = _fit_subset(y_train, th["n_codes"], seed)
        y_train = y_train[coded]
        fit = _fit_subset(y_train, th["n_fit"], seed)
        for run_seed in [seed + s for s in cfg["seeds"]]:
            for d in th["dims"]:
                run_dir = work / f"exact_linear_d{d}_s{run_seed}"
                encoder, config, seconds = train_encoder(
                    run_dir,
                    run_seed,
                    ds,
                    data="mnist",
                    method="exact",
                    exact_head="linear",
                    z_dim=d,
                    aug="none",
                    **th["train"],
                )
                Z_train, Z_val, Z_test = (
                    features_of(encoder, config, images)
                    for images in (ds.train.images[coded], ds.val.images, ds.test.images)
                )
                start = time.perf_counter()
                lam, val_min = choose_weight_decay(Z_train[fit], y_train[fit], Z_val, y_val, tasks, th["weight_decays"])
                acc = task_accuracies(Z_train[fit], y_train[fit], Z_test, y_test, tasks, "linear", weight_decay=lam)
                worst = int(np.argmin(acc))
                digit_probe = LinearProbe(weight_decay=th["weight_decays"]).fit(
                    Z_train[fit], y_train[fit], Z_val, y_val
                )
                predicted = digit_probe.predict(Z_test)
                rows.append(
                    {
                        "d": d,
                        "head": "linear",
                        "probe": "linear",
                        "seed": run_seed,
                        "n_tasks": len(tasks),
                        "min_task_accuracy": float(acc[worst]),
                        "mean_task_accuracy": float(acc.mean()),
                        "worst_task": "".join(map(str, tasks[worst])),
                        "weight_decay": lam,
                        "val_min_task_accuracy": val_min[lam],
                        "digit_accuracy": float((predicted == y_test).mean()),
                        "digit_cross_error": float((tasks[worst][predicted] != tasks[worst][y_test]).mean()),
                        **class_code_scores(Z_train, y_train),
                        "predicate_rtol": PREDICATE_RTOL,
                        "train_seconds": round(seconds, 1),
                        "probe_seconds": round(time.perf_counter() - start, 1),
                        "steps": config["total_steps"],
                        "batch_size": config["batch_size"],
                        "image_size": th["image_size"],
                        "n_codes": len(coded),
                        "n_fit": len(fit),
                        "n_val": len(y_val),
                        "n_test": len(y_test),
                    }
                )
                write_csv(out / "issl_threshold.csv", rows)  # after every run: partial runs keep their results
                r = rows[-1]
                print(
                    f"    d {d:2d}: min {r['min_task_accuracy']:.4f} mean {r['mean_task_accuracy']:.4f} digit "
                    f"{r['digit_accuracy']:.4f} lam {lam:g} ideal_linear {r['ideal_linear']} "
                    f"({seconds:.0f}+{r['probe_seconds']:.0f} s)",
                    flush=True,
                )
                shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    csv_path = write_csv(out / "issl_threshold.csv", rows)
    return [csv_path, plot_issl_threshold(csv_path, out / "issl_threshold.png")]


def plot_issl_threshold(csv_path: Path, png_path: Path) -> Path:
    """Minimum accuracy over the 511 tasks and digit accuracy vs d (means over seeds), 0.99 dashed;
    each d marked filled when the class codes pass is_ideal(probe="linear")."""
    plt = pyplot()
    rows = read_csv(csv_path)
    dims = sorted({int(r["d"]) for r in rows})

    def mean(d, key):
        return float(np.mean([float(r[key]) for r in rows if int(r["d"]) == d]))

    ideal = [all(r["ideal_linear"] == "True" for r in rows if int(r["d"]) == d) for d in dims]
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for key, label, colour in (
        ("min_task_accuracy", "min over 511 binary tasks (linear probe)", "tab:blue"),
        ("digit_accuracy", "10-way digit accuracy (linear probe)", "tab:orange"),
    ):
        values = [mean(d, key) for d in dims]
        ax.plot(dims, values, color=colour, label=label)
        for d, v, ok in zip(dims, values, ideal):
            ax.plot(d, v, "o", color=colour, mfc=colour if ok else "white")
    ax.axhline(0.99, color="grey", ls="--", lw=0.8)
    ax.axvline(9, color="grey", ls=":", lw=0.8)
    ax.set_xticks(dims)
    ax.set_xlabel("d (K - 1 = 9 dotted); filled: class codes pass is_ideal(linear)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7, loc="lower right")
    steps = {r["steps"] for r in rows}
    ax.set_title(f"Exact ISSL, linear head, MNIST ({', '.join(sorted(steps))} steps)", fontsize=9)
    fig.tight_layout()
    out = save_figure(fig, png_path)
    plt.close(fig)
    return out


PARTS = {
    "controlled_heatmap": controlled_heatmap,
    "controlled_relations": controlled_relations,
    "issl_threshold": issl_threshold,
}
