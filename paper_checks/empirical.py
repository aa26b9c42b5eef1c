"""The paper's empirical claims (E1-E7), checked by training through `ssltheory.ssl.train` and
probing with `ssltheory.ssl.probes.probe_run`.

Scales (every run: `TrainConfig` -> `train` -> `probe_run` on the run's frozen test features):

- ``quick``: tiny CPU runs on embedded data (the patch-source task for E1-E5, scikit-learn's
  digits with label views for E6-E7), one seed, tens of steps. Such runs are noisy: a claim is
  judged with an absolute tolerance of 3 accuracy points, and the evidence says so.
- ``cpu``: longer CPU runs (300 steps, batch 128) on MNIST when ``--data-dir`` holds the idx
  files (else the patch task and digits), three seeds; the tolerance is twice the standard error
  of the compared difference (at least half a point) and the spread over seeds is reported. That
  is 12 arms x 3 seeds = 36 runs plus their probes, about an hour on two quiet cores
  (``ssltheory paper-check --scale cpu empirical --data-dir DATA``; or two processes,
  ``E1 E2 E5`` and ``E3 E4 E6 E7``, which merge into one RESULTS.md).
- ``gpu``: the paper's configurations (REFERENCE.md): ResNet-18 on TinyImageNet (E1-E5) and the
  controlled CIFAR-10 design with label views (E6-E7), 300 epochs, the paper's batch sizes,
  learning-rate rule, heads and codes, on CUDA; ``pending-gpu`` without a CUDA device or without
  the dataset under ``--data-dir``.

Verdict rule: a claim "A >= B" or "X helps" passes when the measured difference is above
``-tolerance`` (the data do not contradict it) and fails otherwise; the evidence records whether
the difference also exceeds ``+tolerance`` (a resolved effect) or not.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ssltheory.paper_checks.registry import CheckContext, Outcome, register

# --------------------------------------------------------------------------- configurations

#: per scale: data, arch, steps/epochs, batch, head sizes, probe settings, seeds
_SCALES = {
    "quick": {"ssl": dict(data="patches", arch="small_cnn", steps=40, batch_size=64, hidden_dim=256),
              "controlled": dict(data="digits", arch="small_cnn", steps=60, batch_size=64, hidden_dim=256),
              "n_codes": 256, "dims": (16, 64), "small_dim": 2, "large_dim": 16, "strengths": (0.25, 1.0),
              "fractions": (0.05, 0.25, 1.0), "mlp": dict(mlp_width=256, mlp_epochs=15), "seeds": (0,),
              "tolerance": 0.03},
    "cpu": {"ssl": dict(data="patches", arch="small_cnn", steps=300, batch_size=128, hidden_dim=512),
            "controlled": dict(data="digits", arch="small_cnn", steps=300, batch_size=128, hidden_dim=512),
            "n_codes": 1024, "dims": (16, 128), "small_dim": 2, "large_dim": 32, "strengths": (0.25, 1.0),
            "fractions": (0.01, 0.1, 1.0), "mlp": dict(mlp_width=1024, mlp_epochs=40), "seeds": (0, 1, 2),
            "tolerance": None},
    # REFERENCE.md: ResNet-18, 300 epochs, batch 512 (SimCLR/CISSL) or 256 (DINO/DISSL), lr 2e-3 x batch/256,
    # C = 16384 (DINO 1000), +dim 2048, Fig 7a strengths with C in {24000, 20000, 16384}, label budgets
    # 200 / 1k / 10k / 100k of TinyImageNet's 100k training images, MLP probe 2 x 2048.
    "gpu": {"ssl": dict(data="tinyimagenet", arch="resnet18", epochs=300, batch_size=512),
            "controlled": dict(data="cifar10", arch="resnet18", epochs=300, batch_size=512),
            "n_codes": None, "dims": (512, 2048), "small_dim": 4, "large_dim": 512, "strengths": (0.25, 1.0),
            "fractions": (0.002, 0.01, 0.1, 1.0), "mlp": dict(mlp_width=2048, mlp_epochs=100), "seeds": (0,),
            "tolerance": 0.005},
}
_GPU_BATCH = {"simclr": 512, "cissl": 512, "dino": 256, "dissl": 256, "exact": 512}
_GPU_CODES = {"dino": 1000, "dissl": 16384}
_FIG7A_CODES = {0.25: 24000, 0.5: 20000, 1.0: 16384}
_DEFAULT_STRENGTH = 1.0  # TrainConfig's aug_strength=None with the simclr augmentation

_RUN_CACHE: dict = {}
_PROBE_CACHE: dict = {}
_TMP_ROOT: list[Path] = []


def _settings(ctx: CheckContext) -> dict:
    return _SCALES[ctx.scale]


def _gpu_unavailable(ctx: CheckContext, dataset: str) -> Outcome | None:
    """pending-gpu when the gpu scale cannot run here: no CUDA, or the dataset is not under --data-dir."""
    if ctx.scale != "gpu":
        return None
    import torch

    reasons = []
    if not torch.cuda.is_available() or ctx.device == "cpu":
        reasons.append("no CUDA device")
    if ctx.data_dir is None or not (Path(ctx.data_dir) / dataset).is_dir():
        reasons.append(f"no {dataset}/ under --data-dir")
    if not reasons:
        return None
    return Outcome("pending-gpu", "not run: " + ", ".join(reasons),
                   {"reason": reasons, "configuration": "see empirical._SCALES['gpu'] (REFERENCE.md)"})


def _data_for(ctx: CheckContext, family: str) -> tuple[str, str | None]:
    s = _settings(ctx)[family]
    if ctx.scale == "gpu":
        return s["data"], str(Path(ctx.data_dir) / s["data"])
    if ctx.scale == "cpu" and ctx.data_dir is not None and any(
            (Path(ctx.data_dir) / f).exists() for f in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")):
        return "mnist", str(ctx.data_dir)
    return s["data"], None


def _work_root(ctx: CheckContext) -> Path:
    if ctx.work_dir is not None:
        Path(ctx.work_dir).mkdir(parents=True, exist_ok=True)
        return Path(ctx.work_dir)
    if not _TMP_ROOT:
        _TMP_ROOT.append(Path(tempfile.mkdtemp(prefix="paper_checks_runs_")))
        import atexit

        atexit.register(shutil.rmtree, _TMP_ROOT[0], True)
    return _TMP_ROOT[0]


def _train_config(ctx: CheckContext, family: str, seed: int, **overrides) -> dict:
    """TrainConfig keyword arguments of one arm: the scale's defaults for ``family`` ("ssl" or
    "controlled"), the paper's per-method batch size and codes at gpu scale, then ``overrides``."""
    s = _settings(ctx)
    data, data_dir = _data_for(ctx, family)
    kwargs = {**s[family], "data": data, "data_dir": data_dir, "seed": seed, "quiet": True, "log_every": 1000}
    method = overrides.get("method", "dissl")
    if ctx.scale == "gpu":
        kwargs["batch_size"] = _GPU_BATCH[method]
        kwargs["device"] = "cuda"
        if method in _GPU_CODES:
            kwargs["n_codes"] = _GPU_CODES[method]
    elif method in ("dino", "dissl"):
        kwargs["n_codes"] = s["n_codes"]
    kwargs.update(overrides)
    return kwargs


def _train(ctx: CheckContext, family: str, seed: int, **overrides) -> tuple[Path, dict]:
    """Train one arm (cached per process by its configuration, so claims share runs); returns the
    run directory and a record of the configuration and time."""
    import time

    import torch

    from ssltheory.ssl.train import TrainConfig, train

    kwargs = _train_config(ctx, family, seed, **overrides)
    key = (ctx.scale, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
    if key not in _RUN_CACHE:
        name = "_".join(f"{k}-{v}" for k, v in sorted(overrides.items())) + f"_{family}_seed-{seed}"
        out = _work_root(ctx) / ctx.scale / name
        if out.exists():
            shutil.rmtree(out)  # a stale run from an earlier process; train refuses to mix runs
        threads = torch.get_num_threads()
        if ctx.scale != "gpu":
            torch.set_num_threads(1)  # shared CPUs: one thread per run
        try:
            start = time.perf_counter()
            run_dir = train(TrainConfig.from_flags(**kwargs, out=str(out)))
        finally:
            torch.set_num_threads(threads)
        record = {k: v for k, v in kwargs.items() if k not in ("quiet", "log_every", "data_dir")}
        _RUN_CACHE[key] = (Path(run_dir), {**record, "train_seconds": round(time.perf_counter() - start, 1)})
    return _RUN_CACHE[key]


def train_and_probe(ctx: CheckContext, family: str, seed: int, probes: tuple[str, ...] = ("linear",),
                    fractions: tuple[float, ...] = (1.0,), **overrides) -> dict:
    """Train one arm (see `_train`) and fit ``probes`` on its frozen features with each labels
    fraction (`ssltheory.ssl.probes.probe_run`: selected on validation, scored on test). Probe
    results are cached per (run, probe, fraction). Returns {labels_fraction: merged result dict}."""
    import torch

    from ssltheory.ssl.probes import probe_run

    run_dir, record = _train(ctx, family, seed, **overrides)
    device = "cuda" if ctx.scale == "gpu" else "cpu"
    out = {}
    for f in fractions:
        merged = {"config": record}
        for probe in probes:
            key = (str(run_dir), probe, f)
            if key not in _PROBE_CACHE:
                threads = torch.get_num_threads()
                if ctx.scale != "gpu":
                    torch.set_num_threads(1)
                try:
                    _PROBE_CACHE[key] = probe_run(run_dir, (probe,), labels_fraction=f, device=device, seed=seed,
                                                  **_settings(ctx)["mlp"])
                finally:
                    torch.set_num_threads(threads)
            merged.update(_PROBE_CACHE[key])
        out[f] = merged
    return out


def _compare(ctx: CheckContext, a: list[float], b: list[float]) -> dict:
    """Difference of means a - b, its tolerance for this scale, and the spreads."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    tol = _settings(ctx)["tolerance"]
    if tol is None:  # several seeds: twice the standard error of the difference, at least half a point
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) if len(a) > 1 and len(b) > 1 else 0.0
        tol = max(2 * se, 0.005)
    return {"mean_a": float(a.mean()), "mean_b": float(b.mean()), "diff": diff, "tolerance": tol,
            "std_a": float(a.std(ddof=1)) if len(a) > 1 else None, "std_b": float(b.std(ddof=1)) if len(b) > 1 else None,
            "values_a": a.round(4).tolist(), "values_b": b.round(4).tolist(),
            "not_contradicted": diff > -tol, "resolved": diff > tol}


def _resolution(*cmps: dict) -> str:
    """Suffix for the measured cell: "contradicted" when some difference is below -tolerance (the
    claim fails), "resolved" when every difference is above +tolerance, else "unresolved"."""
    worst = min(cmps, key=lambda c: c["diff"] / c["tolerance"])
    if not all(c["not_contradicted"] for c in cmps):
        return f" [contradicted: difference {100 * worst['diff']:+.1f} pt, beyond the {100 * worst['tolerance']:.1f} pt tolerance]"
    if all(c["resolved"] for c in cmps):
        return " [resolved]"
    return f" [unresolved: difference {100 * worst['diff']:+.1f} pt within the {100 * worst['tolerance']:.1f} pt tolerance]"


def _spread(cmp: dict) -> str | None:
    if cmp.get("std_a") is None:
        return None
    return f"std {100 * cmp['std_a']:.1f} / {100 * cmp['std_b']:.1f} pt over {len(cmp['values_a'])} seeds"


def _tolerance_note(ctx: CheckContext) -> str:
    return {"quick": "one tiny run per arm (tens of CPU steps): judged with a 3-point tolerance (a judgement: reruns "
                     "of one configuration differed by 0.7 pt; the seed-to-seed spread is measured only at cpu "
                     "scale), a smoke-level test of the claim's direction, not a measurement of the paper's effect",
            "cpu": "three seeds per arm; tolerance = 2 x standard error of the difference (>= 0.5 pt)",
            "gpu": "the paper's configuration, one seed as in the paper; tolerance 0.5 pt"}[ctx.scale]


# --------------------------------------------------------------------------- the arms of each claim
# One place says which configurations each claim trains; the checks and `planned_configs` use it.


def _arm(family: str, **overrides) -> dict:
    return {"family": family, **overrides}


def pair_arms(ctx: CheckContext, methods: tuple[str, str]) -> list[dict]:
    """E1/E2: the two methods, same encoder and budget, z at the scale's base dimension."""
    return [_arm("ssl", method=m, z_dim=_settings(ctx)["dims"][0]) for m in methods]


def dimension_arms(ctx: CheckContext) -> list[dict]:
    """E3/E4: CISSL (Fig 7c) at the small and the large dimension, with the paper's linear student
    head (scored by linear probes) and with an MLP student head (scored by MLP probes)."""
    s = _settings(ctx)
    # the MLP-head arm: both heads two hidden layers, 2048 wide at gpu scale, the scale's head width on CPU
    mlp = {"student_head": "mlp", **({} if ctx.scale == "gpu" else {"mlp_hidden_dim": s["ssl"]["hidden_dim"]})}
    return [_arm("ssl", method="cissl", z_dim=z, **(mlp if head == "mlp" else {})) for head in ("linear", "mlp") for z in s["dims"]]


def augmentation_arms(ctx: CheckContext) -> list[dict]:
    """E5: DISSL at the weak and the strong augmentation (Fig 7a: C grows as strength falls).
    Strength 1 is the default, so that arm is E2's DISSL run (trained once, shared)."""
    s = _settings(ctx)
    return [_arm("ssl", method="dissl", z_dim=s["dims"][0], **({"aug_strength": st} if st != _DEFAULT_STRENGTH else {}),
                 **({"n_codes": _FIG7A_CODES[st]} if ctx.scale == "gpu" else {})) for st in s["strengths"]]


def head_arms(ctx: CheckContext) -> list[dict]:
    """E6/E7: exact ISSL with label views (M = the label), head {linear, mlp} x d {< K-1, >= K-1}."""
    s = _settings(ctx)
    return [_arm("controlled", method="exact", exact_head=h, label_views=True, z_dim=d)
            for h in ("linear", "mlp") for d in (s["small_dim"], s["large_dim"])]


CLAIM_ARMS = {
    "E1": lambda ctx: pair_arms(ctx, ("cissl", "simclr")),
    "E2": lambda ctx: pair_arms(ctx, ("dissl", "dino")),
    "E3": dimension_arms, "E4": dimension_arms, "E5": augmentation_arms, "E6": head_arms, "E7": head_arms,
}


def planned_configs(ctx: CheckContext) -> list[dict]:
    """Every TrainConfig (as keyword arguments) the empirical checks would train at ``ctx.scale``,
    one per (arm, seed), without duplicates."""
    seen, out = set(), []
    for arms in CLAIM_ARMS.values():
        for arm in arms(ctx):
            for seed in _settings(ctx)["seeds"]:
                overrides = {k: v for k, v in arm.items() if k != "family"}
                kwargs = _train_config(ctx, arm["family"], seed, **overrides)
                key = tuple(sorted((k, str(v)) for k, v in kwargs.items()))
                if key not in seen:
                    seen.add(key)
                    out.append(kwargs)
    return out


def _run_arm(ctx: CheckContext, arm: dict, seed: int, **probe_options) -> dict:
    overrides = {k: v for k, v in arm.items() if k != "family"}
    return train_and_probe(ctx, arm["family"], seed, **probe_options, **overrides)


# --------------------------------------------------------------------------- E1, E2: method pairs


def _method_pair(ctx: CheckContext, better: str, worse: str, dataset: str) -> Outcome:
    pending = _gpu_unavailable(ctx, dataset)
    if pending:
        return pending
    s = _settings(ctx)
    z = s["dims"][0]
    acc = {arm["method"]: [_run_arm(ctx, arm, seed)[1.0]["linear_accuracy"] for seed in s["seeds"]]
           for arm in pair_arms(ctx, (better, worse))}
    cmp = _compare(ctx, acc[better], acc[worse])
    return Outcome("pass" if cmp["not_contradicted"] else "fail",
                   f"{better} {100 * cmp['mean_a']:.1f} vs {worse} {100 * cmp['mean_b']:.1f} (linear probe %)"
                   + _resolution(cmp),
                   {**cmp, "z_dim": z, "data": _data_for(ctx, "ssl")[0], "note": _tolerance_note(ctx)},
                   seeds=list(s["seeds"]), spread=_spread(cmp))


def check_e1(ctx: CheckContext) -> Outcome:
    """CISSL's linear-probe accuracy is at least SimCLR's (same encoder, data, budget)."""
    return _method_pair(ctx, "cissl", "simclr", "tinyimagenet")


def check_e2(ctx: CheckContext) -> Outcome:
    """DISSL's linear-probe accuracy is at least DINO's."""
    return _method_pair(ctx, "dissl", "dino", "tinyimagenet")


# --------------------------------------------------------------------------- E3, E4: dimension


def _dimension_runs(ctx: CheckContext) -> dict:
    """Fig 7c's two arms at each dimension: {z: {"linear": linear head + linear probe accuracies,
    "mlp": MLP head + MLP probe accuracies}}, one value per seed."""
    s = _settings(ctx)
    out: dict = {}
    for arm in dimension_arms(ctx):
        family = arm.get("student_head", "linear")
        runs = [_run_arm(ctx, arm, seed, probes=(family,))[1.0] for seed in s["seeds"]]
        out.setdefault(arm["z_dim"], {})[family] = [r[f"{family}_accuracy"] for r in runs]
    return out


def check_e3(ctx: CheckContext) -> Outcome:
    """A larger representation dimension raises linear-probe accuracy (CISSL with its linear
    student head, small vs large z)."""
    pending = _gpu_unavailable(ctx, "tinyimagenet")
    if pending:
        return pending
    s = _settings(ctx)
    small, large = s["dims"]
    runs = _dimension_runs(ctx)
    cmp = _compare(ctx, runs[large]["linear"], runs[small]["linear"])
    return Outcome("pass" if cmp["not_contradicted"] else "fail",
                   f"linear: z={small} {100 * cmp['mean_b']:.1f} -> z={large} {100 * cmp['mean_a']:.1f}" + _resolution(cmp),
                   {**cmp, "dims": [small, large], "note": _tolerance_note(ctx)}, seeds=list(s["seeds"]),
                   spread=_spread(cmp))


def check_e4(ctx: CheckContext) -> Outcome:
    """The dimension gain of MLP probes (on CISSL with an MLP student head, Fig 7c's MLP arm) is
    smaller than that of linear probes (on CISSL with its linear head)."""
    pending = _gpu_unavailable(ctx, "tinyimagenet")
    if pending:
        return pending
    s = _settings(ctx)
    small, large = s["dims"]
    runs = _dimension_runs(ctx)
    gain_lin = np.subtract(runs[large]["linear"], runs[small]["linear"])
    gain_mlp = np.subtract(runs[large]["mlp"], runs[small]["mlp"])
    cmp = _compare(ctx, gain_lin, gain_mlp)  # linear gain - MLP gain
    return Outcome("pass" if cmp["not_contradicted"] else "fail",
                   f"gain z={small}->{large}: linear head/probe {100 * cmp['mean_a']:+.1f} pt vs MLP head/probe {100 * cmp['mean_b']:+.1f} pt" + _resolution(cmp),
                   {**cmp, "dims": [small, large], "accuracies": runs, "note": _tolerance_note(ctx)},
                   seeds=list(s["seeds"]), spread=_spread(cmp))


# --------------------------------------------------------------------------- E5: augmentation


#: What "label-preserving" means for E5's arms, recorded with every verdict (the claim is conditional on it).
_AUGMENTATION_PREMISE = (
    "strength s sets the crop's minimum area to min(1, 0.2/s) of the image, colour jitter 0.4s and grayscale 0.1s "
    "(brightness and contrast only on 1-channel images); horizontal flips (p 0.5) are applied at every strength. On the patch task every crop of a patch still comes "
    "from its source picture, so the label is preserved by construction; on MNIST a crop of 20% of a 28-px digit "
    "or a mirrored digit need not keep its label, so there the claim's premise is not guaranteed at s = 1.")


def check_e5(ctx: CheckContext) -> Outcome:
    """Stronger label-preserving augmentation (DISSL, strength 1 vs 0.25) helps at every label budget."""
    pending = _gpu_unavailable(ctx, "tinyimagenet")
    if pending:
        return pending
    s = _settings(ctx)
    weak, strong = s["strengths"]
    acc = {}
    for arm in augmentation_arms(ctx):
        per_seed = [_run_arm(ctx, arm, seed, fractions=s["fractions"]) for seed in s["seeds"]]
        acc[arm.get("aug_strength", _DEFAULT_STRENGTH)] = {f: [r[f]["linear_accuracy"] for r in per_seed]
                                                           for f in s["fractions"]}
    budgets = {}
    for f in s["fractions"]:
        budgets[str(f)] = _compare(ctx, acc[strong][f], acc[weak][f])
    ok = all(c["not_contradicted"] for c in budgets.values())
    return Outcome("pass" if ok else "fail",
                   "; ".join(f"{float(f):g}: {100 * c['mean_b']:.1f}->{100 * c['mean_a']:.1f}" for f, c in budgets.items())
                   + _resolution(*budgets.values()),
                   {"label_fractions": budgets, "strengths": [weak, strong], "data": _data_for(ctx, "ssl")[0],
                    "premise": _AUGMENTATION_PREMISE, "note": _tolerance_note(ctx)},
                   seeds=list(s["seeds"]),
                   spread=_spread(next(iter(budgets.values()))))


# --------------------------------------------------------------------------- E6, E7: heads (controlled)


def _head_runs(ctx: CheckContext) -> dict:
    """Exact ISSL with label views (M = the label, K = 10): head in {linear, mlp} x d in {small, large};
    linear and MLP probes. Returns {(head, d): {"linear": [...], "mlp": [...]}}."""
    s = _settings(ctx)
    out = {}
    for arm in head_arms(ctx):
        runs = [_run_arm(ctx, arm, seed, probes=("linear", "mlp"))[1.0] for seed in s["seeds"]]
        out[(arm["exact_head"], arm["z_dim"])] = {"linear": [r["linear_accuracy"] for r in runs],
                                                  "mlp": [r["mlp_accuracy"] for r in runs]}
    return out


def check_e6(ctx: CheckContext) -> Outcome:
    """With M the label (K = 10), shrinking d below K - 1 costs the linear head + linear probe more
    than it costs the MLP head + MLP probe."""
    pending = _gpu_unavailable(ctx, "cifar10")
    if pending:
        return pending
    s = _settings(ctx)
    small, large = s["small_dim"], s["large_dim"]
    runs = _head_runs(ctx)
    deficit_lin = np.subtract(runs[("linear", large)]["linear"], runs[("linear", small)]["linear"])
    deficit_mlp = np.subtract(runs[("mlp", large)]["mlp"], runs[("mlp", small)]["mlp"])
    cmp = _compare(ctx, deficit_lin, deficit_mlp)
    return Outcome("pass" if cmp["not_contradicted"] else "fail",
                   f"d={small} vs d={large}: linear head/probe loses {100 * cmp['mean_a']:.1f} pt, "
                   f"MLP head/probe {100 * cmp['mean_b']:.1f} pt" + _resolution(cmp),
                   {**cmp, "dims": [small, large], "K": 10,
                    "accuracies": {f"{h}-head d={d}": v for (h, d), v in runs.items()}, "note": _tolerance_note(ctx)},
                   seeds=list(s["seeds"]), spread=_spread(cmp))


def check_e7(ctx: CheckContext) -> Outcome:
    """The head family should match the probe family: at d >= K - 1 the linear probe does at least as
    well on a linear-head encoder as on an MLP-head one; at d < K - 1 the MLP probe does at least as
    well on an MLP-head encoder as on a linear-head one."""
    pending = _gpu_unavailable(ctx, "cifar10")
    if pending:
        return pending
    s = _settings(ctx)
    small, large = s["small_dim"], s["large_dim"]
    runs = _head_runs(ctx)
    lin = _compare(ctx, runs[("linear", large)]["linear"], runs[("mlp", large)]["linear"])
    mlp = _compare(ctx, runs[("mlp", small)]["mlp"], runs[("linear", small)]["mlp"])
    ok = lin["not_contradicted"] and mlp["not_contradicted"]
    return Outcome("pass" if ok else "fail",
                   f"linear probe d={large}: lin-head {100 * lin['mean_a']:.1f} vs mlp-head {100 * lin['mean_b']:.1f}; "
                   f"MLP probe d={small}: mlp-head {100 * mlp['mean_a']:.1f} vs lin-head {100 * mlp['mean_b']:.1f}"
                   + _resolution(lin, mlp),
                   {"linear_probe": lin, "mlp_probe": mlp, "note": _tolerance_note(ctx)},
                   seeds=list(s["seeds"]), spread=_spread(lin))


register("E1", "CISSL (linear student head) gives linear probes at least as accurate as SimCLR.", "paper",
         group="empirical", check=check_e1, paper_value="45.8 vs 45.2 (TinyImageNet, R18)")
register("E2", "DISSL gives linear probes at least as accurate as DINO.", "paper", group="empirical", check=check_e2,
         paper_value="45.1 vs 43.3 (TinyImageNet, R18)")
register("E3", "A larger representation dimension helps linear probes.", "paper", group="empirical", check=check_e3,
         paper_value="Fig 7c CISSL z=128/512/2048/8192: 40.3/47.0/48.4/48.8")
register("E4", "Larger dimension helps MLP probes less than linear probes.", "paper", group="empirical",
         check=check_e4, paper_value="gain 128->8192: lin +8.5, MLP +6.0")
register("E5", "Stronger label-preserving augmentation helps at every label budget.", "paper", group="empirical",
         check=check_e5, paper_value="s=1 vs 0.25 at 200/1k/10k/100k: 7.5/17.8/33/44 vs 2.5/4.7/12.5/20")
register("E6", "A linear head needs d >= K-1; an MLP head needs less.", "paper", group="empirical", check=check_e6,
         paper_value="controlled CIFAR-10: linear head needs d >= 9")
register("E7", "The head family should match the probe family.", "paper", group="empirical", check=check_e7)
