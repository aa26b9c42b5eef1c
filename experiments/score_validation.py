"""Score validation (GitHub issue 5): do the ideal-ness scores predict linear-probe accuracy?

THEORY.md section 2 [derived] turns the exact conditions of T1 (invariance, affine independence of
the class codes, d >= K - 1) into continuous scores (`ssltheory.metrics`). If they capture what
makes a representation good for linear probes, they should rank trained representations the way
their downstream linear-probe accuracy does, and, the issue asks, better than the label-free
baselines RankMe, alpha-ReQ and LiDAR. This experiment measures that:

1. Train a sweep of representations with `ssltheory.ssl.train` (small CNN, short runs): datasets x
   methods x a half fraction of {z_dim} x {steps} x {augmentation strength}.
2. For each run, on data it never trained on:
   - accuracy: a linear probe (`ssltheory.ssl.probes.LinearProbe`, weight decay chosen on the
     validation split) on frozen, un-augmented features of a stratified labelled subset of the
     train split, scored on a stratified subset of the test split;
   - scores: `ssltheory.metrics.score_all` on ``n_images`` images of the validation split, each its
     own class (THEORY.md section 2), with ``views`` views sampled by the run's augmentation at its
     strength (`ssltheory.commands.score.sample_views`); and again with a reference augmentation
     (simclr, s = 1) shared by every run, so that runs are scored against the same relation.
3. Spearman correlation of each score with accuracy, every score oriented so that larger should
   mean more accurate (invariance_ratio is negated, alpha-ReQ becomes -|alpha - 1|, since its
   authors find alpha near 1 best): over all runs, within each dataset, and within each method
   (the mean over datasets of the correlation within (dataset, method)).

Writes ``<out>/score_validation.csv`` (one row per run: settings, accuracy, every score),
``score_validation.png`` (accuracy against each score, by method and dataset) and
``score_validation.md`` (the correlation tables and what they say, written from the CSV's numbers).

Scales: ``quick`` (3 tiny runs on scikit-learn's digits, for the test suite: the pipeline, not the
science), ``cpu`` (24 runs: patch task and MNIST, 3 methods; 7 to 14 minutes on one thread of a shared two-core machine; MNIST
from ``$SSLTHEORY_MNIST`` or ``../shared/data/mnist`` beside the repository, else scikit-learn's
digits), ``gpu`` (ResNet-18, CIFAR-10 and TinyImageNet under ``$SSLTHEORY_DATA``, the paper's
batch sizes, on CUDA).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ssltheory.experiments._io import write_csv

DESCRIPTION = "do the ideal-ness scores predict linear-probe accuracy better than RankMe, alpha-ReQ, LiDAR? (issue 5)"

#: score name -> orientation: +1 larger is better, -1 smaller is better, "alpha" -|alpha - 1|.
SCORES: dict[str, object] = {
    "ideal_score": 1,
    "worst_task_accuracy": 1,
    "heldout_class_accuracy": 1,
    "invariance_ratio": -1,
    "rankme": 1,
    "alpha_req": "alpha",
    "lidar": 1,
}
#: ours (THEORY.md section 2) versus the published baselines
OURS = ("ideal_score", "worst_task_accuracy", "heldout_class_accuracy", "invariance_ratio")
BASELINES = ("rankme", "alpha_req", "lidar")
#: the three factors of ideal_score, reported to explain it
FACTORS = ("ideal_invariance", "ideal_affine_independence", "ideal_dimension")
#: columns of score_all copied into the CSV
SCORE_COLUMNS = (*SCORES, *FACTORS, "affine_rank", "affine_condition", "dimension_deficit")


@dataclass(frozen=True)
class RunSpec:
    """One representation of the sweep."""

    data: str
    method: str
    z_dim: int
    steps: int
    aug_strength: float
    seed: int


def _mnist_dir() -> Path | None:
    from ssltheory.ssl.data import default_data_dir

    path = default_data_dir("mnist")
    found = path is not None and any((path / f"train-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz"))
    return path if found else None


def _half_fraction(z_dims, steps, strengths):
    """The 4 corners of the 2 x 2 x 2 design with an even number of "high" levels (resolution III):
    each factor is balanced and each pair of factors sees all four combinations."""
    return [(z, t, s) for i, z in enumerate(z_dims) for j, t in enumerate(steps) for k, s in enumerate(strengths)
            if (i + j + k) % 2 == 0]


#: per scale: the sweep and the measurement sizes
def _settings(scale: str, seed: int) -> dict:
    if scale == "quick":
        runs = [RunSpec("digits", "dissl", 8, 2, 1.0, seed), RunSpec("digits", "simclr", 16, 3, 0.5, seed + 1),
                RunSpec("digits", "cissl", 4, 2, 0.25, seed + 2)]
        return dict(runs=runs, data_dirs={"digits": None}, arch="small_cnn", batch_size=16, lr=2e-3,
                    hidden_dim=64, proj_dim=32, n_codes=64, n_images=10, views=3,
                    probe_per_class=(8, 4, 8), weight_decays=(1e-2, 1e-4), device="cpu")
    if scale == "cpu":
        mnist = _mnist_dir()
        datasets = {"patches": None, **({"mnist": str(mnist)} if mnist else {"digits": None})}
        runs, i = [], 0
        for data in datasets:
            for method in ("dissl", "simclr", "cissl"):
                for z, t, s in _half_fraction((8, 64), (15, 60), (0.25, 1.0)):
                    runs.append(RunSpec(data, method, z, t, s, seed + i))
                    i += 1
        return dict(runs=runs, data_dirs=datasets, arch="small_cnn", batch_size=64, lr=2e-3,
                    hidden_dim=256, proj_dim=64, n_codes=512, n_images=60, views=8,
                    probe_per_class=(100, 50, 100), weight_decays=(1e-1, 1e-2, 1e-3, 1e-4), device="cpu")
    if scale == "gpu":
        root = os.environ.get("SSLTHEORY_DATA")
        if not root or not all((Path(root) / d).is_dir() for d in ("cifar10", "tinyimagenet")):
            raise ValueError("the gpu scale needs $SSLTHEORY_DATA with cifar10/ and tinyimagenet/ directories")
        import torch

        if not torch.cuda.is_available():
            raise ValueError("the gpu scale needs a CUDA device")
        datasets = {"cifar10": str(Path(root) / "cifar10"), "tinyimagenet": str(Path(root) / "tinyimagenet")}
        runs, i = [], 0
        for data in datasets:
            for method in ("dissl", "simclr", "cissl", "dino"):
                for z, t, s in _half_fraction((512, 2048), (10_000, 60_000), (0.25, 1.0)):
                    runs.append(RunSpec(data, method, z, t, s, seed + i))
                    i += 1
        # REFERENCE.md: ResNet-18, batch 256-512, lr 2e-3 x batch / 256, the methods' default heads.
        return dict(runs=runs, data_dirs=datasets, arch="resnet18", batch_size=256, lr=None,
                    hidden_dim=None, proj_dim=None, n_codes=None, n_images=1000, views=8,
                    probe_per_class=(500, 50, 50), weight_decays=(1e-4, 1e-5, 1e-6), device="cuda")
    raise ValueError(f"scale must be quick, cpu or gpu, got {scale!r}")


# --------------------------------------------------------------------------------------------
# one run: train, probe, score


def _train(spec: RunSpec, settings: dict, out: Path) -> Path:
    from ssltheory.ssl.train import TrainConfig, train

    codes = settings["n_codes"] if spec.method in ("dissl", "dino") else None
    config = TrainConfig.from_flags(
        method=spec.method, data=spec.data, data_dir=settings["data_dirs"][spec.data], arch=settings["arch"],
        z_dim=spec.z_dim, steps=spec.steps, batch_size=settings["batch_size"], lr=settings["lr"],
        aug="simclr", aug_strength=spec.aug_strength, hidden_dim=settings["hidden_dim"],
        proj_dim=settings["proj_dim"], n_codes=codes, device=settings["device"], seed=spec.seed,
        quiet=True, log_every=max(1, spec.steps), out=str(out),
    )
    return train(config)


def _labelled(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Up to ``per_class`` seeded indices of each label, sorted."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def _probe_accuracy(encoder, config: dict, dataset, settings: dict, seed: int) -> dict:
    """Linear-probe accuracy on frozen un-augmented features: fit on train, select on val, score on test."""
    from ssltheory.ssl.augment import Normalize
    from ssltheory.ssl.probes import LinearProbe, extract_features

    normalize = Normalize(config["mean"], config["std"])
    n_train, n_val, n_test = settings["probe_per_class"]
    feats = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        part = getattr(dataset, split)
        labels = part.labels.numpy()
        idx = _labelled(labels, n, seed + {"train": 0, "val": 1, "test": 2}[split])
        X = extract_features(encoder, part.images[idx], transform=normalize, device=settings["device"])
        feats[split] = (X, labels[idx])
    probe = LinearProbe(list(settings["weight_decays"]), device=settings["device"], random_state=seed)
    probe.fit(*feats["train"], *feats["val"])
    return {"linear_accuracy": probe.score(*feats["test"]), "linear_val_accuracy": probe.val_accuracy_,
            "linear_weight_decay": probe.weight_decay_}


def _scores(encoder, dataset, augmentation, settings: dict, seed: int) -> dict:
    """score_all on held-out (validation) images, each its own class, with sampled views."""
    import torch

    from ssltheory.commands.score import DEFAULT_TOL, sample_views, view_classes
    from ssltheory.metrics import score_all

    part = dataset.val
    n_images = min(settings["n_images"], len(part))
    idx = np.sort(np.random.default_rng(seed).choice(len(part), size=n_images, replace=False))
    images = part.images[idx]
    Z = sample_views(encoder, images, augmentation, settings["views"], generator=torch.Generator().manual_seed(seed),
                     device=settings["device"])
    return score_all(Z, view_classes(n_images, settings["views"]), tol=DEFAULT_TOL, random_state=seed)


def measure(spec: RunSpec, settings: dict, work: Path, datasets: dict) -> dict:
    """Train ``spec``, then measure its accuracy and its scores; one CSV row (dict)."""
    from ssltheory.ssl.augment import build_augmentation
    from ssltheory.ssl.data import load_dataset
    from ssltheory.ssl.train import load_run

    started = time.perf_counter()
    run_dir = _train(spec, settings, work / f"run_{spec.data}_{spec.method}_{spec.seed}")
    trained = time.perf_counter()
    encoder, config = load_run(run_dir)
    encoder.to(settings["device"])
    if spec.data not in datasets:
        datasets[spec.data] = load_dataset(spec.data, settings["data_dirs"][spec.data])
    dataset = datasets[spec.data]
    row = {**asdict(spec), **_probe_accuracy(encoder, config, dataset, settings, spec.seed)}
    size, channels = config["image_size"], config["image_channels"]
    for prefix, strength in (("", spec.aug_strength), ("ref_", 1.0)):
        aug = build_augmentation("simclr", size, channels, strength, mean=config["mean"], std=config["std"])
        scores = _scores(encoder, dataset, aug, settings, spec.seed)
        row.update({prefix + k: scores[k] for k in SCORE_COLUMNS})
        row.setdefault("n_classes", scores["n_classes"])
    row["seconds_train"] = round(trained - started, 2)
    row["seconds_measure"] = round(time.perf_counter() - trained, 2)
    shutil.rmtree(run_dir, ignore_errors=True)
    return row


# --------------------------------------------------------------------------------------------
# correlations


def oriented(name: str, values) -> np.ndarray:
    """The score ``name`` turned so that larger should mean more accurate (see `SCORES`)."""
    values = np.asarray(values, dtype=float)
    sign = SCORES.get(name, 1)
    if sign == "alpha":
        return -np.abs(values - 1.0)
    return sign * values


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant or n < 3."""
    from scipy.stats import rankdata

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def correlation_table(rows: list[dict], names, prefix: str = "") -> dict:
    """{column: {score: rho}}. Columns: "all"; "data=<name>"; "method=<name>" and "z_dim=<d>", each
    the mean over datasets of the correlation within (dataset, method) or (dataset, z_dim), so that
    no column mixes the accuracy scales of two datasets except "all"."""
    acc = np.array([r["linear_accuracy"] for r in rows])
    data = np.array([r["data"] for r in rows])
    table: dict[str, dict[str, float]] = {}

    def rho(mask, name):
        return spearman(oriented(name, [rows[i][prefix + name] for i in np.flatnonzero(mask)]), acc[mask])

    table["all"] = {n: rho(np.ones(len(rows), bool), n) for n in names}
    for d in dict.fromkeys(data):
        table[f"data={d}"] = {n: rho(data == d, n) for n in names}
    for key in ("method", "z_dim"):
        values = np.array([r[key] for r in rows])
        for v in dict.fromkeys(values.tolist()):
            cells = {n: [rho((data == d) & (values == v), n) for d in dict.fromkeys(data)] for n in names}
            table[f"{key}={v}"] = {n: (float(np.nanmean(c)) if np.isfinite(c).any() else float("nan"))
                                   for n, c in cells.items()}
    return table


# --------------------------------------------------------------------------------------------
# outputs


def read_csv(path: Path) -> list[dict]:
    """Rows of ``score_validation.csv`` with numbers parsed (so the report reads what was written)."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed = {}
            for k, v in row.items():
                try:
                    parsed[k] = int(v) if v.lstrip("-").isdigit() else float(v)
                except ValueError:
                    parsed[k] = v
            out.append(parsed)
    return out


def _figure(path: Path, rows: list[dict], table: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names = list(SCORES)
    cols = 4
    fig, axes = plt.subplots(math.ceil(len(names) / cols), cols, figsize=(3.4 * cols, 3.0 * math.ceil(len(names) / cols)))
    axes = axes.ravel()
    methods = list(dict.fromkeys(r["method"] for r in rows))
    datasets = list(dict.fromkeys(r["data"] for r in rows))
    markers = "os^Dv"
    acc = np.array([r["linear_accuracy"] for r in rows])
    for ax, name in zip(axes, names):
        x = np.array([r[name] for r in rows], dtype=float)
        for mi, m in enumerate(methods):
            for di, d in enumerate(datasets):
                sel = np.array([(r["method"] == m and r["data"] == d) for r in rows])
                if sel.any():
                    ax.scatter(x[sel], acc[sel], c=f"C{mi}", marker=markers[di % len(markers)], s=22,
                               label=f"{m} / {d}")
        ax.set_title(f"{name}: rho = {table['all'][name]:+.2f}", fontsize=9)
        ax.set_xlabel(name + (" (lower = better)" if SCORES[name] == -1 else " (best near 1)" if SCORES[name] == "alpha" else ""),
                      fontsize=8)
        ax.set_ylabel("linear-probe accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        if name == "rankme":
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax in axes[len(names):]:
        ax.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    if len(names) < len(axes):
        axes[len(names)].legend(handles, labels, loc="center", fontsize=8, title="method / data")
    fig.suptitle("Score validation: Spearman rho of each (oriented) score with linear-probe accuracy, all runs",
                 fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _markdown_table(table: dict, names) -> list[str]:
    cols = list(table)
    lines = ["| score | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    best = {c: np.nanmax([table[c][n] for n in names]) if np.isfinite([table[c][n] for n in names]).any() else None
            for c in cols}
    for n in names:
        cells = []
        for c in cols:
            v = table[c][n]
            text = "n/a" if not np.isfinite(v) else f"{v:+.2f}"
            cells.append(f"**{text}**" if best[c] is not None and np.isfinite(v) and v == best[c] else text)
        lines.append(f"| {n}{' (ours)' if n in OURS else ''} | " + " | ".join(cells) + " |")
    return lines


def _verdict(table: dict, rows: list[dict]) -> list[str]:
    """What the numbers say, written from them: does ideal_score beat every baseline, and why (not)."""
    out = []
    for column in table:
        ours = table[column]["ideal_score"]
        base = {b: table[column][b] for b in BASELINES}
        finite = {b: v for b, v in base.items() if np.isfinite(v)}
        if not np.isfinite(ours) or not finite:
            out.append(f"- {column}: not enough variation to compare.")
            continue
        beaten = [b for b, v in finite.items() if ours > v]
        tied = [b for b, v in finite.items() if ours == v]
        lost = [b for b, v in finite.items() if ours < v]
        best_ours = max(OURS, key=lambda n: table[column][n] if np.isfinite(table[column][n]) else -np.inf)
        outcome = ("beats every baseline" if len(beaten) == len(finite) else
                   "; ".join(part for part in (f"beats {', '.join(beaten)}" if beaten else "",
                                               f"ties {', '.join(tied)}" if tied else "",
                                               f"loses to {', '.join(lost)}" if lost else "") if part))
        out.append(
            f"- {column}: ideal_score rho {ours:+.2f} {outcome} "
            f"({', '.join(f'{b} {v:+.2f}' for b, v in finite.items())}); best of ours here: {best_ours} "
            f"({table[column][best_ours]:+.2f})."
        )
    return out


def paired_bootstrap(rows: list[dict], ours: str, other: str, prefix: str = "", n_boot: int = 2000,
                     seed: int = 0) -> float:
    """Fraction of bootstrap resamples of the runs in which ``ours`` has the larger (oriented) Spearman
    rho with accuracy than ``other`` (resamples where either is undefined are dropped)."""
    acc = np.array([r["linear_accuracy"] for r in rows])
    a = oriented(ours, [r[prefix + ours] for r in rows])
    b = oriented(other, [r[prefix + other] for r in rows])
    rng = np.random.default_rng(seed)
    wins, total = 0, 0
    for _ in range(n_boot):
        idx = rng.integers(0, len(rows), len(rows))
        ra, rb = spearman(a[idx], acc[idx]), spearman(b[idx], acc[idx])
        if np.isfinite(ra) and np.isfinite(rb):
            total += 1
            wins += ra > rb
    return wins / total if total else float("nan")


def _headline(rows: list[dict], table: dict, ref_table: dict) -> list[str]:
    """The answer in a few sentences, with paired-bootstrap support, written from the numbers."""
    out = []
    for label, tab, prefix in (("each run's own augmentation (the `ssltheory score` default)", table, ""),
                               ("one reference augmentation", ref_table, "ref_")):
        ours = tab["all"]["ideal_score"]
        best = max(BASELINES, key=lambda b: tab["all"][b] if np.isfinite(tab["all"][b]) else -np.inf)
        share = {b: paired_bootstrap(rows, "ideal_score", b, prefix) for b in BASELINES}
        verdict = "predicts accuracy better than" if ours > tab["all"][best] else "does not predict accuracy better than"
        out.append(
            f"- Views from {label}: over all {len(rows)} runs ideal_score (rho {ours:+.2f}) {verdict} the best "
            f"baseline, {best} (rho {tab['all'][best]:+.2f}). Paired bootstrap over runs, share of resamples where "
            f"ideal_score has the higher rho: " + ", ".join(f"vs {b} {v:.2f}" for b, v in share.items()) + "."
        )
    top = max(OURS, key=lambda n: ref_table["all"][n] if np.isfinite(ref_table["all"][n]) else -np.inf)
    out.append(f"- The best of our scores over all runs with the reference augmentation is {top} "
               f"(rho {ref_table['all'][top]:+.2f}; paired bootstrap vs rankme "
               f"{paired_bootstrap(rows, top, 'rankme', 'ref_'):.2f}).")
    return out


def _why(rows: list[dict], factors: dict) -> list[str]:
    """Explain ideal_score by its factors, from the numbers."""
    K = int(rows[0]["n_classes"])
    dims = sorted({int(r["z_dim"]) for r in rows})
    aff = np.array([r["ideal_affine_independence"] for r in rows])
    dim = np.array([r["ideal_dimension"] for r in rows])
    inv = np.array([r["ideal_invariance"] for r in rows])
    cells = {}
    for r in rows:
        cells[(r["data"], r["method"])] = cells.get((r["data"], r["method"]), 0) + 1
    cell = min(cells.values()) if min(cells.values()) == max(cells.values()) else f"{min(cells.values())}-{max(cells.values())}"
    n_data = len({r["data"] for r in rows})
    lines = [
        f"ideal_score is the product invariance x affine independence x dimension (`metrics.ideal_score`). Here the "
        f"classes are K = {K} held-out images, so K - 1 = {K - 1}, and d takes the values {dims}: the dimension "
        f"factor min(1, d / (K - 1)) only takes the values {sorted(set(np.round(dim, 3).tolist()))}, a step in d "
        f"that says nothing about training length or augmentation. The affine-independence factor (effective rank "
        f"at tol 1e-2 over K - 1) ranges over [{aff.min():.2f}, {aff.max():.2f}] and the invariance factor over "
        f"[{inv.min():.2f}, {inv.max():.2f}].",
        "",
        "Spearman rho of each factor with accuracy (all runs): "
        + ", ".join(f"{k} {v:+.2f}" if np.isfinite(v) else f"{k} n/a" for k, v in factors.items()) + ".",
        "",
        "RankMe also grows with d (it is at most d), so in the `all`, `data` and `method` columns both it and "
        "ideal_score are partly rewarded for telling z_dim apart; the `z_dim` columns hold d fixed and show "
        "what each score adds beyond the dimension.",
        "",
        *_confounding(rows),
        "",
        "Caveat of this design: the scores are computed with image classes (instance discrimination under the "
        "augmentation), while the accuracy is that of a probe of the label; T1 says an encoder ideal for the image "
        "classes is ideal for every task invariant to them, labels included, but the converse need not hold, and "
        "short CPU runs are far from ideal for either. "
        f"Each (dataset, method) cell has {cell} runs, so its rho is coarse; the method columns average "
        f"{n_data} such cells.",
    ]
    return lines


def _confounding(rows: list[dict]) -> list[str]:
    """Which settings are aliased within a z_dim, and how the invariance factor depends on whose
    augmentation draws the views: the reason own-augmentation scores can rank runs backwards."""
    lines = []
    for z in sorted({int(r["z_dim"]) for r in rows}):
        pairs = sorted({(int(r["steps"]), float(r["aug_strength"])) for r in rows if int(r["z_dim"]) == z})
        lines.append(f"- Within z_dim = {z} the (steps, strength) settings are {pairs}"
                     + (": steps and strength are aliased there (half-fraction design), so a score that favours "
                        "one strength also favours one training length." if len(pairs) == 2 else "."))
    own = {s: np.mean([r["ideal_invariance"] for r in rows if float(r["aug_strength"]) == s])
           for s in sorted({float(r["aug_strength"]) for r in rows})}
    ref = {s: np.mean([r["ref_ideal_invariance"] for r in rows if float(r["aug_strength"]) == s]) for s in own}
    acc = {s: np.mean([r["linear_accuracy"] for r in rows if float(r["aug_strength"]) == s]) for s in own}
    lines.append(
        "- Mean invariance factor (1 - invariance ratio) by training strength, views from the run's own augmentation: "
        + ", ".join(f"s={s:g} {v:.2f}" for s, v in own.items())
        + "; from the reference augmentation: " + ", ".join(f"s={s:g} {v:.2f}" for s, v in ref.items())
        + "; mean accuracy: " + ", ".join(f"s={s:g} {v:.3f}" for s, v in acc.items()) + ". "
        "Scored with its own augmentation, a run trained with weak augmentation is only asked to be invariant to "
        "weak perturbations, so its invariance is measured against an easier relation than a strongly "
        "augmented run's: the invariance factor (and the worst-task and class-accuracy scores, which use the same "
        "views) are not comparable across strengths. A shared reference augmentation puts every run against the "
        "same equivalence relation, which is what THEORY.md's M assumes when comparing encoders."
    )
    return lines


def _markdown(path: Path, rows: list[dict], table: dict, ref_table: dict, settings: dict, scale: str, seconds: float) -> None:
    names = list(SCORES)
    acc = np.array([r["linear_accuracy"] for r in rows])
    factors = {f: spearman([r[f] for r in rows], acc) for f in FACTORS}
    text = [
        "# Score validation (issue 5)",
        "",
        f"Generated by `ssltheory experiment score-validation --scale {scale}` in {seconds / 60:.1f} minutes "
        f"from the {len(rows)} runs of `score_validation.csv`; every number below is computed from that file.",
        "",
        f"Sweep: data {sorted(set(r['data'] for r in rows))}, methods {sorted(set(r['method'] for r in rows))}, "
        f"z_dim {sorted(set(int(r['z_dim']) for r in rows))}, steps {sorted(set(int(r['steps']) for r in rows))}, "
        f"augmentation strength {sorted(set(float(r['aug_strength']) for r in rows))} (a half fraction of the 2 x 2 x 2 "
        f"design per method and dataset); encoder {settings['arch']}, batch {settings['batch_size']}, lr "
        f"{settings['lr']}. Accuracy: linear probe on frozen un-augmented features, "
        f"{settings['probe_per_class'][0]} labelled train images per class, weight decay chosen on "
        f"{settings['probe_per_class'][1]} val images per class, scored on {settings['probe_per_class'][2]} test "
        f"images per class (range {acc.min():.3f} to {acc.max():.3f}). Scores: {settings['n_images']} validation "
        f"images, each its own class, {settings['views']} views each.",
        "",
        "## Spearman rho with linear-probe accuracy (views from each run's own augmentation)",
        "",
        "Scores are oriented so that a positive rho means the score ranks runs as accuracy does "
        "(invariance_ratio negated; alpha-ReQ as -|alpha - 1|). Best per column in bold. "
        "`method=X` and `z_dim=X` columns: mean over datasets of rho within (dataset, method) or "
        "(dataset, z_dim); the z_dim columns show whether a score sees more than the dimension.",
        "",
        *_markdown_table(table, names),
        "",
        "## Same, views from one reference augmentation (simclr, s = 1) for every run",
        "",
        *_markdown_table(ref_table, names),
        "",
        "## Does our score predict accuracy better than RankMe, alpha-ReQ and LiDAR?",
        "",
        *_headline(rows, table, ref_table),
        "",
        "Column by column, views from each run's own augmentation:",
        "",
        *_verdict(table, rows),
        "",
        "With the reference augmentation:",
        "",
        *_verdict(ref_table, rows),
        "",
        "## Why",
        "",
        *_why(rows, factors),
        "",
        "![score validation](score_validation.png)",
        "",
    ]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("\n".join(text))
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# entry points


def run(scale: str, out_dir, seed: int = 0) -> list[Path]:
    """Run the sweep at ``scale`` and write score_validation.{csv,png,md} into ``out_dir``.

    Returns the paths written. Training runs go to a temporary directory, removed afterwards.
    """
    settings = _settings(scale, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows: list[dict] = []
    datasets: dict = {}
    with tempfile.TemporaryDirectory(prefix="score_validation_") as tmp:
        for i, spec in enumerate(settings["runs"]):
            row = measure(spec, settings, Path(tmp), datasets)
            rows.append(row)
            print(f"  [{i + 1}/{len(settings['runs'])}] {spec.data} {spec.method} z={spec.z_dim} steps={spec.steps} "
                  f"s={spec.aug_strength}: acc {row['linear_accuracy']:.3f} ideal {row['ideal_score']:.3f} "
                  f"worst {row['worst_task_accuracy']:.3f} rankme {row['rankme']:.1f} lidar {row['lidar']:.1f} "
                  f"({row['seconds_train']:.0f}+{row['seconds_measure']:.0f} s)", flush=True)
    csv_path, png_path, md_path = out / "score_validation.csv", out / "score_validation.png", out / "score_validation.md"
    write_csv(csv_path, rows)
    rows = read_csv(csv_path)  # the report is drawn from what the CSV holds
    table = correlation_table(rows, list(SCORES))
    ref_table = correlation_table(rows, list(SCORES), prefix="ref_")
    _figure(png_path, rows, table)
    _markdown(md_path, rows, table, ref_table, settings, scale, time.perf_counter() - started)
    return [csv_path, png_path, md_path]


PARTS = {"score_validation": run}
