"""Score validation: does the label-free ``ideal_score`` rank trained encoders as their linear-probe
accuracy does, and better than RankMe, LiDAR and alpha-ReQ?

Design (THEORY.md section 2 [derived]; the scores are `ssltheory.metrics.score_all`):

1. A random design of training runs (`design`): small CNN, datasets ``patches`` and MNIST, three
   methods (CISSL for half of the runs, so that the CISSL runs also form the random sweep of
   `ssltheory.experiments.fig7b`; SimCLR and DISSL a quarter each), and for every run, independently of
   every other factor, z_dim (a few levels, balanced), batch size (balanced levels), training steps
   (log-uniform) and augmentation strength (uniform). Every factor is drawn independently, so no
   factor is aliased with another (the largest absolute correlation between two factor columns is
   printed in the report).
2. For each run, on data it never trained on:
   - accuracy: a linear probe (`ssltheory.ssl.probes.LinearProbe`, weight decay chosen on the
     validation split) on frozen, un-augmented features, fitted on a stratified labelled subset of
     the train split and scored on a stratified subset of the test split;
   - views: ``n_images`` validation images, each its own class (THEORY.md section 2), ``views``
     views each drawn by the one reference augmentation (`ssltheory.ssl.views.reference_augmentation`,
     simclr s = 1) shared by every run; the codes are stored, and every score is computed on them.
3. The field's protocol (`ssltheory.ranking`), every score oriented so that larger should mean
   more accurate (alpha-ReQ as -|alpha - 1|, its authors' reading): Spearman's rho, Kendall's
   tau-b and selection regret (best accuracy minus the accuracy of the run the score ranks
   first, in points), within groups of runs averaged over the groups: across methods (groups =
   dataset, IdEst's protocol), within each method's sweep (groups = (dataset, method), LiDAR's),
   and the same restricted to each z_dim, the columns with d >= K (K = scored images) labelled;
   percentile bootstrap intervals over runs and the paired-bootstrap share of resamples in which
   the headline beats each baseline on Kendall and on regret.

The headline score was designed on separate runs (the ``design`` seeds, `DESIGN_SEED_OFFSET`), never
on the runs this experiment reports.

Writes ``<out>/score_validation.csv`` (one row per run: factors, accuracy, every score),
``score_validation.png`` (accuracy against each score) and ``score_validation.md`` (the tables,
written from the CSV's numbers). Trained runs are cached (codes and accuracy, one ``.npz`` per run)
under ``<out>/.score_validation_runs/`` (ignored by git), so an interrupted sweep resumes, two worker
processes share the work, and `ssltheory.experiments.fig7b` reads the same runs.

Scales: ``quick`` (6 tiny runs on scikit-learn's digits, for the test suite: the pipeline, not the
science), ``cpu`` (`CPU_RUNS` runs; MNIST where ``ssl.datasets.default_data_dir`` finds it, else
scikit-learn's digits), ``gpu`` (ResNet-18, CIFAR-10 and TinyImageNet
under ``$SSLTHEORY_DATA``, on CUDA).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ssltheory.errors import InputError
from ssltheory.files import atomic_output, atomic_write_text, save_figure
from ssltheory.metrics import SCORES, oriented, score_all
from ssltheory.plotting import pyplot, read_csv, write_csv
from ssltheory.ranking import (  # noqa: F401 (fig7b)
    HIGHER_IS_BETTER,
    bootstrap_protocol,
    group_metrics,
    spearman,
)
from ssltheory.ssl.augment import Normalize
from ssltheory.ssl.data import load_dataset
from ssltheory.ssl.datasets import default_data_dir
from ssltheory.ssl.probes import LinearProbe, extract_features
from ssltheory.ssl.train import TrainConfig, load_run, train
from ssltheory.ssl.views import encode_views, reference_augmentation

DESCRIPTION = "does the label-free ideal_score rank encoders as linear probes do, better than RankMe, LiDAR, alpha-ReQ?"

#: runs of the cpu-scale validation sweep
CPU_RUNS = 84
#: bootstrap resamples (cpu and gpu scales) and the share the target asks for
N_BOOTSTRAP = 2000
TARGET_SHARE = 0.9
#: the design runs (on which the headline score was chosen) use seeds offset by this much
DESIGN_SEED_OFFSET = 100_000


@dataclass(frozen=True)
class RunSpec:
    """One trained representation of the sweep."""

    data: str
    method: str
    z_dim: int
    steps: int
    aug_strength: float
    batch_size: int
    seed: int

    def key(self) -> str:
        """A file name for this run's cached measurement."""
        text = json.dumps(asdict(self), sort_keys=True)
        return f"{self.data}_{self.method}_{self.seed}_{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def _mnist_dir() -> Path | None:
    path = default_data_dir("mnist")
    found = path is not None and any((path / f"train-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz"))
    return path if found else None


def _balanced(levels, n: int, rng) -> list:
    """``n`` draws of ``levels``, each level equally often (up to one), in random order."""
    out = [levels[i % len(levels)] for i in range(n)]
    return [out[i] for i in rng.permutation(n)]


def design(n_runs: int, datasets, *, z_dims, batches, steps, strengths, seed: int) -> list[RunSpec]:
    """A random design: every factor drawn independently of the others.

    Method (CISSL half, SimCLR and DISSL a quarter each), dataset, z_dim and batch size are balanced
    and independently shuffled; steps are log-uniform in ``steps`` = (lo, hi) and augmentation
    strength uniform in ``strengths`` = (lo, hi). Run i has seed ``seed + i``.
    """
    rng = np.random.default_rng(seed)
    methods = _balanced(["cissl", "cissl", "simclr", "dissl"], n_runs, rng)
    data = _balanced(list(datasets), n_runs, rng)
    zs = _balanced(list(z_dims), n_runs, rng)
    bs = _balanced(list(batches), n_runs, rng)
    ts = np.exp(rng.uniform(np.log(steps[0]), np.log(steps[1]), n_runs)).round().astype(int)
    ss = rng.uniform(strengths[0], strengths[1], n_runs).round(3)
    return [
        RunSpec(data[i], methods[i], int(zs[i]), int(ts[i]), float(ss[i]), int(bs[i]), seed + i) for i in range(n_runs)
    ]


def settings(scale: str, seed: int = 0, *, for_design: bool = False) -> dict:
    """The sweep and the measurement sizes of ``scale``; ``for_design``: the separate design runs."""
    base = seed + (DESIGN_SEED_OFFSET if for_design else 0)
    if scale == "quick":
        runs = design(6, ["digits"], z_dims=(4, 16), batches=(16,), steps=(2, 3), strengths=(0.25, 1.0), seed=base)
        return dict(
            runs=runs,
            data_dirs={"digits": None},
            arch="small_cnn",
            lr=2e-3,
            hidden_dim=64,
            proj_dim=32,
            n_codes=64,
            n_images=10,
            views=3,
            probe_per_class=(8, 4, 8),
            weight_decays=(1e-2, 1e-4),
            device="cpu",
            workers=1,
            n_boot=200,
        )
    if scale == "cpu":
        mnist = _mnist_dir()
        datasets = {"patches": None, **({"mnist": str(mnist)} if mnist else {"digits": None})}
        runs = design(
            16 if for_design else CPU_RUNS,
            list(datasets),
            z_dims=(8, 32, 128),
            batches=(32, 64, 128),
            steps=(8, 60),
            strengths=(0.2, 1.5),
            seed=base,
        )
        return dict(
            runs=runs,
            data_dirs=datasets,
            arch="small_cnn",
            lr=2e-3,
            hidden_dim=256,
            proj_dim=64,
            n_codes=512,
            n_images=60,
            views=8,
            probe_per_class=(100, 50, 100),
            weight_decays=(1e-1, 1e-2, 1e-3, 1e-4),
            device="cpu",
            workers=2,
            n_boot=N_BOOTSTRAP,
        )
    if scale == "gpu":
        root = os.environ.get("SSLTHEORY_DATA")
        if not root or not all((Path(root) / d).is_dir() for d in ("cifar10", "tinyimagenet")):
            raise InputError("the gpu scale needs $SSLTHEORY_DATA with cifar10/ and tinyimagenet/ directories")
        import torch

        if not torch.cuda.is_available():
            raise InputError("the gpu scale needs a CUDA device")
        datasets = {"cifar10": str(Path(root) / "cifar10"), "tinyimagenet": str(Path(root) / "tinyimagenet")}
        runs = design(
            16 if for_design else 96,
            list(datasets),
            z_dims=(128, 512, 2048),
            batches=(128, 256, 512),
            steps=(5_000, 60_000),
            strengths=(0.2, 1.5),
            seed=base,
        )
        return dict(
            runs=runs,
            data_dirs=datasets,
            arch="resnet18",
            lr=None,
            hidden_dim=None,
            proj_dim=None,
            n_codes=None,
            n_images=1000,
            views=8,
            probe_per_class=(500, 50, 50),
            weight_decays=(1e-4, 1e-5, 1e-6),
            device="cuda",
            workers=1,
            n_boot=N_BOOTSTRAP,
        )
    raise InputError(f"scale must be quick, cpu or gpu, got {scale!r}")


# --------------------------------------------------------------------------------------------
# one run: train, probe, encode the reference views


def _train(spec: RunSpec, cfg: dict, out: Path) -> Path:
    codes = cfg["n_codes"] if spec.method in ("dissl", "dino") else None
    config = TrainConfig.from_flags(
        method=spec.method,
        data=spec.data,
        data_dir=cfg["data_dirs"][spec.data],
        arch=cfg["arch"],
        z_dim=spec.z_dim,
        steps=spec.steps,
        batch_size=spec.batch_size,
        lr=cfg["lr"],
        aug="simclr",
        aug_strength=spec.aug_strength,
        hidden_dim=cfg["hidden_dim"],
        proj_dim=cfg["proj_dim"],
        n_codes=codes,
        device=cfg["device"],
        seed=spec.seed,
        quiet=True,
        log_every=max(1, spec.steps),
        out=str(out),
    )
    return train(config)


def _labelled(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Up to ``per_class`` seeded indices of each label, sorted."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def _probe_accuracy(encoder, config: dict, dataset, cfg: dict, seed: int) -> dict:
    """Linear-probe accuracy on frozen un-augmented features: fit on train, select on val, score on test."""
    normalize = Normalize(config["mean"], config["std"])
    n_train, n_val, n_test = cfg["probe_per_class"]
    feats = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        part = getattr(dataset, split)
        labels = part.labels.numpy()
        idx = _labelled(labels, n, seed + {"train": 0, "val": 1, "test": 2}[split])
        X = extract_features(encoder, part.images[idx], transform=normalize, device=cfg["device"])
        feats[split] = (X, labels[idx])
    probe = LinearProbe(list(cfg["weight_decays"]), device=cfg["device"], random_state=seed)
    probe.fit(*feats["train"], *feats["val"])
    return {
        "linear_accuracy": float(probe.score(*feats["test"])),
        "linear_val_accuracy": float(probe.val_accuracy_),
        "linear_weight_decay": float(probe.weight_decay_),
    }


def measure(spec: RunSpec, cfg: dict, work: Path, datasets: dict) -> dict:
    """Train ``spec``; its probe accuracy and the codes of its reference views (a dict, cached by `collect`)."""
    import shutil

    started = time.perf_counter()
    run_dir = _train(spec, cfg, work / f"run_{spec.key()}")
    trained = time.perf_counter()
    encoder, config = load_run(run_dir)
    if spec.data not in datasets:
        datasets[spec.data] = load_dataset(spec.data, cfg["data_dirs"][spec.data])
    dataset = datasets[spec.data]
    row = {**asdict(spec), **_probe_accuracy(encoder, config, dataset, cfg, spec.seed)}
    part = dataset.val
    n_images = min(cfg["n_images"], len(part))
    idx = np.sort(np.random.default_rng(spec.seed).choice(len(part), size=n_images, replace=False))
    aug = reference_augmentation(config["image_size"], config["image_channels"], config["mean"], config["std"])
    views = encode_views(
        encoder, part.images[idx], augmentation=aug, n_views=cfg["views"], seed=spec.seed, device=cfg["device"]
    )
    row["seconds_train"] = round(trained - started, 2)
    row["seconds_measure"] = round(time.perf_counter() - trained, 2)
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"row": row, "codes": views.codes, "classes": views.classes, "augmentation": views.augmentation}


#: folder, inside the output folder, where measured runs are kept (it ignores itself for git)
CACHE = ".score_validation_runs"


def cache_dir(out_dir, scale: str, seed: int, *, for_design: bool = False) -> Path:
    """Where `collect` keeps one ``.npz`` per measured run: ``out_dir/.score_validation_runs/...``
    (a ``.gitignore`` inside keeps it out of version control)."""
    tag = "design" if for_design else "validation"
    return Path(out_dir) / CACHE / f"{scale}_seed{seed}_{tag}"


def _save_measurement(path: Path, got: dict) -> None:
    with atomic_output(path, suffix=".npz") as tmp:
        np.savez(
            tmp,
            codes=got["codes"],
            classes=got["classes"],
            row=json.dumps(got["row"]),
            augmentation=json.dumps(got["augmentation"]),
        )


def load_measurement(path: Path) -> dict:
    """A cached run: ``row`` (dict), ``codes`` (n, d), ``classes`` (n,), ``augmentation`` (dict)."""
    with np.load(path) as f:
        return {
            "row": json.loads(str(f["row"])),
            "codes": f["codes"],
            "classes": f["classes"],
            "augmentation": json.loads(str(f["augmentation"])),
        }


def _worker(args) -> int:
    """Measure every run of ``specs`` not yet cached (a run is claimed by an exclusive lock file)."""
    specs, cfg, cache = args
    import torch

    torch.set_num_threads(1)
    datasets: dict = {}
    done = 0
    with tempfile.TemporaryDirectory(prefix="score_validation_") as work:
        for i, spec in enumerate(specs):
            path = cache / f"{spec.key()}.npz"
            lock = cache / f"{spec.key()}.lock"
            if path.exists():
                continue
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            try:
                got = measure(spec, cfg, Path(work), datasets)
                _save_measurement(path, got)
            finally:
                lock.unlink(missing_ok=True)
            done += 1
            r = got["row"]
            print(
                f"  [{i + 1}/{len(specs)}] pid {os.getpid()} {spec.data} {spec.method} z={spec.z_dim} "
                f"steps={spec.steps} s={spec.aug_strength} batch={spec.batch_size}: acc {r['linear_accuracy']:.3f} "
                f"({r['seconds_train']:.0f}+{r['seconds_measure']:.0f} s)",
                flush=True,
            )
    return done


def collect(out_dir, scale: str, seed: int = 0, *, for_design: bool = False, workers: int | None = None) -> list[dict]:
    """Measure (or read from the cache) every run of ``scale``: a list of `load_measurement` dicts.

    ``workers`` processes (default: the scale's, at most 2 at cpu scale, one thread each) share the
    runs; a run measured by an earlier, interrupted call is read back, not retrained.
    """
    cfg = settings(scale, seed, for_design=for_design)
    cache = cache_dir(out_dir, scale, seed, for_design=for_design)
    cache.mkdir(parents=True, exist_ok=True)
    ignore = Path(out_dir) / CACHE / ".gitignore"
    if not ignore.exists():
        atomic_write_text(ignore, "*\n")
    for stale in cache.glob("*.lock"):  # a lock whose process is gone: free the run again
        try:
            os.kill(int(stale.read_text() or 0), 0)
        except (ProcessLookupError, ValueError):
            stale.unlink(missing_ok=True)
        except PermissionError:
            pass
    specs = cfg["runs"]
    todo = sum(1 for s in specs if not (cache / f"{s.key()}.npz").exists())
    n = max(1, min(workers or cfg["workers"], 2, todo))
    job = (specs, {k: v for k, v in cfg.items() if k != "runs"}, cache)
    if todo == 0:
        pass
    elif n == 1:
        _worker(job)
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(n) as pool:
            pool.map(_worker, [job] * n)
    missing = [s for s in specs if not (cache / f"{s.key()}.npz").exists()]
    if missing:
        raise RuntimeError(f"{len(missing)} runs were not measured (another process holds them?); run again")
    return [load_measurement(cache / f"{s.key()}.npz") for s in specs]


# --------------------------------------------------------------------------------------------
# scores and the field's protocol

#: the score registry of `ssltheory.metrics` is the list of compared scores
#: relative tolerance of the verdicts and scores of this experiment (stated in its report)
VALIDATION_TOL = 1e-2
COMPARED = tuple(SCORES)
BASELINES = tuple(name for name, info in SCORES.items() if not info.ours)
HEADLINE = "ideal_score"
#: the components of the headline, reported beside it
COMPONENTS = ("invariant_share", "recoverable_share", "affine_rank", "dimension_deficit", "ideal")
#: the protocol's numbers shown in the report (`ssltheory.ranking.METRICS`)
SHOWN = ("spearman", "kendall", "regret", "worst_regret")
#: the target compares the headline with every baseline on these two
TARGET_METRICS = ("kendall", "regret")


def score_rows(measurements: list[dict]) -> list[dict]:
    """One row per run: its factors, accuracy and every registered score on its reference views."""
    rows = []
    for m in measurements:
        r = m["row"]
        scores = score_all(
            m["codes"], m["classes"], tol=VALIDATION_TOL, augmentation=m["augmentation"], random_state=r["seed"]
        )
        d = scores.to_dict()
        rows.append(
            {
                **{k: r[k] for k in ("data", "method", "z_dim", "steps", "aug_strength", "batch_size", "seed")},
                "linear_accuracy": r["linear_accuracy"],
                "n_classes": d["n_classes"],
                "n_points": d["n_points"],
                "reference_augmentation": f"{d['augmentation']['kind']} s={d['augmentation']['strength']:g}",
                **{k: d[k] for k in COMPARED},
                **{k: d[k] for k in COMPONENTS},
                "seconds_train": r["seconds_train"],
                "seconds_measure": r["seconds_measure"],
            }
        )
    return rows


def columns(rows: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Column name -> (indices of its runs, group label of each): the groupings of the protocol.

    - ``across methods``: groups = dataset, every method's runs together (IdEst's protocol);
    - ``within method``: groups = (dataset, method), each method's sweep on one dataset (LiDAR's
      protocol; the numbers are averaged over the groups);
    - ``across methods, z_dim=X`` for each z_dim, and ``within method, z_dim=X`` for every z_dim
      with d >= K (K = number of scored images = classes of the views), labelled as such: there
      the dimension can hold K - 1 affinely independent class codes and saturation would show.
    """
    data = np.array([r["data"] for r in rows])
    method = np.array([r["method"] for r in rows])
    z = np.array([int(r["z_dim"]) for r in rows])
    K = int(rows[0]["n_classes"])
    every = np.arange(len(rows))
    out = {"across methods": (every, data), "within method": (every, np.char.add(np.char.add(data, "/"), method))}
    for v in sorted(set(z.tolist())):
        idx = np.flatnonzero(z == v)
        tag = f"z_dim={v}" + (f" (d >= K = {K})" if v >= K else f" (d < K = {K})")
        out[f"across methods, {tag}"] = (idx, data[idx])
        if v >= K:
            out[f"within method, {tag}"] = (idx, np.char.add(np.char.add(data[idx], "/"), method[idx]))
    return out


def _values(rows: list[dict], names) -> dict[str, np.ndarray]:
    return {n: oriented(n, [r[n] for r in rows]) for n in names}


def protocol_table(rows: list[dict], names=COMPARED, *, n_boot: int = 0, seed: int = 0) -> dict:
    """{column: {"n_runs", "n_groups", "point": {score: {metric: value}}, and with ``n_boot`` > 0
    "interval": {score: {metric: (lo, hi)}}, "share": {baseline: {metric: share}}}} (`columns`;
    `ssltheory.ranking.group_metrics` and `bootstrap_protocol`, headline `HEADLINE`)."""
    acc = np.array([r["linear_accuracy"] for r in rows], dtype=float)
    values = _values(rows, names)
    out = {}
    for c, (idx, groups) in columns(rows).items():
        entry = {
            "n_runs": int(idx.size),
            "n_groups": len(set(groups.tolist())),
            "point": {n: group_metrics(values[n][idx], acc[idx], groups) for n in names},
        }
        if n_boot:
            boot = bootstrap_protocol(
                {n: values[n][idx] for n in names},
                acc[idx],
                groups,
                headline=HEADLINE if HEADLINE in names else None,
                n_boot=n_boot,
                seed=seed,
            )
            entry.update(boot)
        out[c] = entry
    return out


def factor_correlations(rows: list[dict]) -> tuple[float, str]:
    """Largest absolute Pearson correlation between two factor columns of the design, and the pair
    (method and dataset as one indicator column per level)."""
    cols = {}
    for key in ("method", "data"):
        for level in sorted({r[key] for r in rows}):
            cols[f"{key}={level}"] = np.array([float(r[key] == level) for r in rows])
    for key in ("z_dim", "steps", "aug_strength", "batch_size"):
        values = np.array([float(r[key]) for r in rows])
        cols[key] = values if key == "aug_strength" else np.log(values)
    names = list(cols)
    best, pair = 0.0, ""
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if a.split("=")[0] == b.split("=")[0] or np.ptp(cols[a]) == 0 or np.ptp(cols[b]) == 0:
                continue
            r = abs(float(np.corrcoef(cols[a], cols[b])[0, 1]))
            if r > best:
                best, pair = r, f"{a} / {b}"
    return best, pair


def verdict(table: dict) -> dict:
    """{column: (met, text)}: the headline beats every baseline on mean regret (lower) and Kendall
    (higher), each with a paired-bootstrap share of at least `TARGET_SHARE`."""
    out = {}
    for c, entry in table.items():
        mine = entry["point"][HEADLINE]
        misses = []
        for b in BASELINES:
            theirs = entry["point"][b]
            for m in TARGET_METRICS:
                ours, other = mine[m], theirs[m]
                better = np.isfinite(ours) and (
                    not np.isfinite(other) or (ours > other if HIGHER_IS_BETTER[m] else ours < other)
                )
                share = entry["share"][b][m]
                if not better or share < TARGET_SHARE:
                    misses.append(f"{m} vs {b} ({_fmt(m, ours)} vs {_fmt(m, other)}, share {share:.2f})")
        out[c] = (not misses, "met" if not misses else "missed: " + "; ".join(misses))
    return out


# --------------------------------------------------------------------------------------------
# outputs


def read_rows(path: Path) -> list[dict]:
    """Rows of ``score_validation.csv`` with numbers, booleans and None parsed back."""
    return _parse(read_csv(path))


def _parse(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        parsed = {}
        for k, v in row.items():
            if v in ("", "None"):
                parsed[k] = None
            elif v in ("True", "False"):
                parsed[k] = v == "True"
            else:
                try:
                    parsed[k] = int(v) if v.lstrip("-").isdigit() else float(v)
                except ValueError:
                    parsed[k] = v
        out.append(parsed)
    return out


def _fmt(metric: str, value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.1f}" if metric in ("regret", "worst_regret") else f"{value:+.2f}"


def _best(values: list[float], metric: str) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return None
    return max(finite) if HIGHER_IS_BETTER[metric] else min(finite)


def _metric_table(table: dict, metric: str, names=COMPARED, *, intervals: bool = True) -> list[str]:
    """Markdown rows: one per score, one cell per column (best in bold, 95% interval in brackets)."""
    cols = list(table)
    lines = ["| score | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for n in names:
        cells = []
        for c in cols:
            v = table[c]["point"][n][metric]
            text = _fmt(metric, v)
            if intervals and "interval" in table[c] and np.isfinite(v):
                lo, hi = table[c]["interval"][n][metric]
                text += f" [{_fmt(metric, lo)}, {_fmt(metric, hi)}]"
            best = _best([table[c]["point"][m][metric] for m in names], metric)
            cells.append(f"**{text}**" if best is not None and np.isfinite(v) and v == best else text)
        lines.append(f"| {n}{' (ours)' if SCORES[n].ours else ''} | " + " | ".join(cells) + " |")
    return lines


def _figure(path: Path, table: dict) -> None:
    """Kendall's tau (top row) and mean selection regret (bottom row) of every score, one panel
    per column of the protocol, with 95% bootstrap intervals."""
    plt = pyplot()
    cols = list(table)
    names = list(COMPARED)
    fig, axes = plt.subplots(2, len(cols), figsize=(3.0 * len(cols), 0.32 * len(names) * 2 + 2.0), sharey=True)
    axes = np.asarray(axes).reshape(2, len(cols))
    y = np.arange(len(names))
    for j, c in enumerate(cols):
        for i, metric in enumerate(("kendall", "regret")):
            ax = axes[i, j]
            v = np.array([table[c]["point"][n][metric] for n in names])
            lo = np.array([table[c]["interval"][n][metric][0] for n in names])
            hi = np.array([table[c]["interval"][n][metric][1] for n in names])
            colors = ["C3" if SCORES[n].ours and n == HEADLINE else "C1" if SCORES[n].ours else "C0" for n in names]
            ax.barh(y, np.nan_to_num(v), color=colors, alpha=0.8)
            ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
            # a point estimate may lie outside its percentile interval: draw the interval's ends as they are
            err = [np.maximum(v[ok] - lo[ok], 0), np.maximum(hi[ok] - v[ok], 0)]
            ax.errorbar(v[ok], y[ok], xerr=err, fmt="none", ecolor="k", lw=0.8)
            ax.axvline(0, color="k", lw=0.5)
            ax.set_title(f"{c}\n({table[c]['n_runs']} runs, {table[c]['n_groups']} groups)", fontsize=7)
            ax.set_xlabel(
                "Kendall tau with accuracy" if metric == "kendall" else "mean selection regret (points)", fontsize=7
            )
            ax.tick_params(labelsize=6)
    axes[0, 0].set_yticks(y, [n + (" (ours)" if SCORES[n].ours else "") for n in names])
    axes[1, 0].set_yticks(y, [n + (" (ours)" if SCORES[n].ours else "") for n in names])
    axes[0, 0].invert_yaxis()
    fig.suptitle(
        "Score validation: rank correlation (top, higher is better) and selection regret (bottom, lower is "
        f"better); red = the headline {HEADLINE}, orange = its components, blue = baselines",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    save_figure(fig, path)
    plt.close(fig)


def _markdown(
    path: Path, rows: list[dict], table: dict, design_table: dict | None, cfg: dict, scale: str, seconds: float
) -> None:
    acc = np.array([r["linear_accuracy"] for r in rows])
    worst, pair = factor_correlations(rows)
    outcome = verdict(table)
    met = all(ok for ok, _ in outcome.values())
    K = rows[0]["n_classes"]

    def count(key):
        return ", ".join(f"{v} x{sum(1 for r in rows if r[key] == v)}" for v in sorted({r[key] for r in rows}))

    z_big = sorted({int(r["z_dim"]) for r in rows if int(r["z_dim"]) >= K})
    text = [
        "# Score validation",
        "",
        f"Generated by `ssltheory experiment score-validation --scale {scale}` from the {len(rows)} runs of "
        f"`score_validation.csv` ({seconds / 60:.1f} minutes of scoring and bootstrap; training time per run is in "
        "the CSV); every number below is computed from that file.",
        "",
        f"Design (fixed before any result was seen): a random design, each factor drawn independently: method "
        f"({count('method')}), data ({count('data')}), z_dim ({count('z_dim')}), batch size ({count('batch_size')}), "
        f"steps log-uniform in [{min(r['steps'] for r in rows)}, {max(r['steps'] for r in rows)}], augmentation "
        f"strength uniform in [{min(r['aug_strength'] for r in rows):.2f}, "
        f"{max(r['aug_strength'] for r in rows):.2f}]. "
        f"Largest absolute correlation between two factor columns: {worst:.2f} ({pair})"
        + ("; no factor is aliased with another. " if worst < 0.5 else "; too few runs to keep the factors apart. ")
        + f"Encoder {cfg['arch']}, lr {cfg['lr']}. Accuracy: linear probe on frozen un-augmented features, "
        f"{cfg['probe_per_class'][0]} labelled train images per class, weight decay chosen on "
        f"{cfg['probe_per_class'][1]} val images per class, scored on {cfg['probe_per_class'][2]} test images per "
        f"class (range {acc.min():.3f} to {acc.max():.3f}).",
        "",
        f"Scores: {cfg['n_images']} validation images, each its own class (K = {K}), {cfg['views']} views each drawn "
        f"by the one reference augmentation `{rows[0]['reference_augmentation']}` for every run; tolerance "
        f"{VALIDATION_TOL:g}. Every score is oriented so that larger means predicted more accurate (alpha-ReQ as "
        "-|alpha - 1|, lower-is-better scores negated).",
        "",
        "Protocol (`ssltheory.ranking`): within each group of runs, Spearman's rho and Kendall's tau-b between score "
        "and accuracy, and the selection regret (accuracy of the group's best run minus accuracy of the run the score "
        "ranks first, in points; ties for first place averaged), each averaged over the groups; worst = largest "
        "regret of any group. Columns: `across methods` groups the runs by dataset (IdEst's protocol), `within "
        "method` by (dataset, method), each method's own sweep (LiDAR's protocol); the `z_dim=X` columns restrict "
        "to one dimension. "
        + (
            f"d >= K holds at z_dim = {', '.join(map(str, z_big))} (K = {K} scored images): there the dimension can "
            f"hold the K - 1 = {K - 1} affinely independent class codes the exact verdict needs, so saturation of a "
            "score would show in those columns."
            if z_big
            else f"No z_dim reaches K = {K}: this design has no d >= K column."
        ),
        f"Brackets: 95% percentile intervals over {cfg['n_boot']} bootstrap resamples of the runs within each group.",
        "",
        f"The headline `{HEADLINE}` (`ssltheory.metrics`) was fixed on separate design runs "
        f"(seeds offset by {DESIGN_SEED_OFFSET}) and by the theory, never tuned on these runs."
        if design_table is not None
        else "",
        "",
        "## Spearman rho with linear-probe accuracy",
        "",
        *_metric_table(table, "spearman"),
        "",
        "## Kendall tau-b with linear-probe accuracy",
        "",
        *_metric_table(table, "kendall"),
        "",
        "## Mean selection regret (points; lower is better)",
        "",
        *_metric_table(table, "regret"),
        "",
        "## Worst selection regret over the groups (points)",
        "",
        *_metric_table(table, "worst_regret", intervals=False),
        "",
        f"## Target: {HEADLINE} beats every baseline on mean regret and on Kendall, paired-bootstrap share >= "
        f"{TARGET_SHARE}",
        "",
        f"Paired bootstrap ({cfg['n_boot']} resamples, the same resample for both scores): share of resamples in "
        f"which {HEADLINE} is strictly better (higher tau, lower regret; equal regret is not a win).",
        "",
        "| column | " + " | ".join(f"{b}: tau / regret" for b in BASELINES) + " | target |",
        "|---|" + "---|" * (len(BASELINES) + 1),
        *[
            f"| {c} | "
            + " | ".join(
                f"{table[c]['share'][b]['kendall']:.2f} / {table[c]['share'][b]['regret']:.2f}" for b in BASELINES
            )
            + (" | met |" if outcome[c][0] else f" | **{outcome[c][1]}** |")
            for c in table
        ],
        "",
        f"**Overall: target {'met' if met else 'missed'}** "
        f"({sum(ok for ok, _ in outcome.values())} of {len(outcome)} columns met).",
        "",
    ]
    if design_table is not None:
        text += [
            "## The design runs (where the headline was chosen): Kendall tau-b and mean regret",
            "",
            *_metric_table(design_table, "kendall", intervals=False),
            "",
            *_metric_table(design_table, "regret", intervals=False),
            "",
        ]
    text += ["![score validation](score_validation.png)", ""]
    atomic_write_text(path, "\n".join(text))


# --------------------------------------------------------------------------------------------
# entry points


def run(scale: str, out_dir, seed: int = 0) -> list[Path]:
    """Run (or resume) the sweep at ``scale``; write score_validation.{csv,png,md} into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = settings(scale, seed)
    measurements = collect(out, scale, seed)
    started = time.perf_counter()
    design_rows = score_rows(collect(out, scale, seed, for_design=True)) if scale == "cpu" else None
    csv_path, png_path, md_path = (out / f"score_validation.{ext}" for ext in ("csv", "png", "md"))
    write_csv(csv_path, score_rows(measurements))
    rows = read_rows(csv_path)  # the report is drawn from what the CSV holds
    table = protocol_table(rows, n_boot=cfg["n_boot"], seed=seed)
    _figure(png_path, table)
    _markdown(
        md_path,
        rows,
        table,
        None if design_rows is None else protocol_table(design_rows),
        cfg,
        scale,
        time.perf_counter() - started,
    )
    return [csv_path, png_path, md_path]


PARTS = {"score_validation": run}
