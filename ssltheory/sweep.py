"""Sweeps: a grid or random search over training options x seeds, each run trained, probed and scored.

One sweep = one configuration file (TOML or JSON) and one output directory::

    [sweep]
    name = "table1-cpu"
    search = "grid"          # "grid": every combination; "random": `samples` draws
    seeds = [0, 1, 2]        # every point of the search is run once per seed
    samples = 8              # random search only
    random_seed = 0          # random search only: the draws' seed

    [train]                  # fixed settings of every run: TrainConfig fields (method options too)
    data = "patches"
    steps = 300

    [space]                  # varied settings: a list of values (grid or random), or, for random
    method = ["cissl", "dissl"]   # search, {low = , high = , log = true, integer = false}
    lr = [1e-3, 2e-3]

    [probe]                  # keyword arguments of ssltheory.ssl.probes.probe_run
    probes = ["linear"]

    [score]                  # the ideal-ness scores on sampled views of held-out images
    images = 64              # 0 turns scoring off
    views = 4

    [executor]               # where the runs go: "local", "slurm" or "debug"
    kind = "local"
    parallel = 2             # local: processes at once (one thread each); slurm: array concurrency cap
    timeout_min = 60
    gpus_per_job = 0         # slurm (and local: CUDA_VISIBLE_DEVICES of each job)
    cpus_per_job = 1
    partition = ""           # slurm only
    mem_gb = 0               # slurm only; 0: the cluster's default

Layout of OUT (one owner: this module)::

    OUT/sweep.json           the resolved configuration and the list of runs
    OUT/runs/<id>/           each run's `ssltheory train` directory (config, metrics, checkpoint, encoder)
    OUT/results/<id>.json    one result row per finished run (training settings, probe accuracies, scores)
    OUT/table.md, table.csv  the table over every row: one line per point, mean +- sd over its seeds
    OUT/submitit/            submitit's job folders (logs of every job)
    OUT/jobs.json            run id -> the job it was last submitted as ({"job_id", "executor", "submitted"}),
                             written whole (files.write_json) right after each submission

A run's id is a hash of its complete training settings and seed, so a sweep is idempotent: a run
whose result row exists is skipped, one whose ``encoder.pt`` exists is only probed and scored, a
killed one resumes from its last checkpoint (``train``'s resume, bit for bit on the CPU), and
re-running the same command after any interruption completes the sweep. Executors are submitit's
[code: facebookincubator/submitit]: ``slurm`` submits one array job (``parallel`` = the array's
concurrency cap; a job pre-empted or timed out is requeued by submitit and resumes from its
checkpoint), ``local`` starts one process per run on this machine with at most ``parallel`` alive,
``debug`` runs every job in this process (tests).

On Slurm, ``ssltheory sweep`` submits and returns (``wait=True`` / ``--wait`` blocks until every
job ends and writes the table); the job ids are kept in ``OUT/jobs.json``. A re-run (or
``--status``, `sweep_status`) asks Slurm for each recorded job's state (submitit's ``sacct``
query; ``squeue`` for jobs sacct does not know yet) and never resubmits a run whose job is queued
or running; it resubmits the runs whose job failed, was cancelled, timed out, or ended without a
result row. A job neither command knows (``unknown``: accounting off, or long purged) is left
alone unless ``resubmit_unknown`` / ``--resubmit-unknown`` says it is dead.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import random
import statistics
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ssltheory.errors import InputError
from ssltheory.files import atomic_write_text, jsonable, write_json
from ssltheory.ssl import methods as registry
from ssltheory.ssl.config import TrainConfig

__all__ = [
    "SweepConfig",
    "RunSpec",
    "load_sweep_config",
    "sweep_config_from_dict",
    "expand_runs",
    "run_one",
    "run_sweep",
    "sweep_status",
    "read_jobs",
    "read_sweep_dir",
    "RunState",
    "read_results",
    "results_table",
    "EXECUTORS",
    "make_executor",
]

EXECUTORS = ("local", "slurm", "debug")
SEARCHES = ("grid", "random")
_SECTIONS = {"sweep", "train", "space", "probe", "score", "executor"}
_SWEEP_KEYS = {"name", "search", "seeds", "samples", "random_seed"}
_SCORE_KEYS = {"images", "views"}
_EXECUTOR_KEYS = {"kind", "parallel", "timeout_min", "gpus_per_job", "cpus_per_job", "partition", "mem_gb"}
#: Settings the sweep owns in every run (where it writes, how it resumes, the seed).
_RESERVED = {"out", "resume", "seed", "quiet"}
_CHECKPOINTS_PER_RUN = 10  # default checkpoint_every: a killed run loses at most a tenth of its steps


@dataclass
class SweepConfig:
    """A parsed sweep file (see the module docstring for every key and its default)."""

    name: str = "sweep"
    search: str = "grid"
    seeds: list[int] = field(default_factory=lambda: [0])
    samples: int = 0
    random_seed: int = 0
    train: dict = field(default_factory=dict)
    space: dict = field(default_factory=dict)
    probe: dict = field(default_factory=lambda: {"probes": ["linear"]})
    score: dict = field(default_factory=lambda: {"images": 64, "views": 4})
    executor: dict = field(default_factory=dict)

    def executor_setting(self, key: str):
        defaults = {
            "kind": "local",
            "parallel": 1,
            "timeout_min": 60,
            "gpus_per_job": 0,
            "cpus_per_job": 1,
            "partition": "",
            "mem_gb": 0,
        }
        return self.executor.get(key, defaults[key])


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: ``point`` (the varied settings), ``seed``, ``settings`` (everything the
    run is trained with, point and seed included) and its stable ``run_id``."""

    run_id: str
    point: dict
    seed: int
    settings: dict

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_short(v)}" for k, v in self.point.items()) or "base"

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "point": self.point, "seed": self.seed, "settings": self.settings}


# ---- configuration ----------------------------------------------------------------------------


def load_sweep_config(path: str | os.PathLike) -> SweepConfig:
    """Read a sweep file (``.toml`` or ``.json``) into a checked `SweepConfig`; ValueError on bad input."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sweep config {str(path)!r} is not a file")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix == ".json":
            raw = json.loads(text)
        else:
            raise InputError(f"sweep config {path.name!r} must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"sweep config {path.name} does not parse: {exc}") from None
    return sweep_config_from_dict(raw)


def sweep_config_from_dict(raw: object) -> SweepConfig:
    """Check the sections and keys of a sweep (as read from TOML / JSON) and return a `SweepConfig`."""
    if not isinstance(raw, dict):
        raise InputError("a sweep config must be a table of sections (sweep, train, space, probe, score, executor)")
    unknown = sorted(set(raw) - _SECTIONS)
    if unknown:
        raise InputError(f"unknown section(s) {unknown} in the sweep config; sections: {sorted(_SECTIONS)}")
    for name, section in raw.items():
        if not isinstance(section, dict):
            raise InputError(f"section [{name}] must be a table, got {type(section).__name__}")
    sweep, executor, score = raw.get("sweep", {}), raw.get("executor", {}), raw.get("score", {})
    for section, allowed, name in (
        (sweep, _SWEEP_KEYS, "sweep"),
        (executor, _EXECUTOR_KEYS, "executor"),
        (score, _SCORE_KEYS, "score"),
    ):
        bad = sorted(set(section) - allowed)
        if bad:
            raise InputError(f"unknown key(s) {bad} in [{name}]; accepted: {sorted(allowed)}")
    config = SweepConfig(
        name=str(sweep.get("name", "sweep")),
        search=sweep.get("search", "grid"),
        seeds=list(sweep.get("seeds", [0])),
        samples=sweep.get("samples", 0),
        random_seed=sweep.get("random_seed", 0),
        train=dict(raw.get("train", {})),
        space=dict(raw.get("space", {})),
        probe=dict(raw.get("probe", {"probes": ["linear"]})),
        score={"images": 64, "views": 4, **score},
        executor=dict(executor),
    )
    _check_config(config)
    return config


def _check_config(config: SweepConfig) -> None:
    if config.search not in SEARCHES:
        raise InputError(f"[sweep] search must be one of {', '.join(SEARCHES)}, got {config.search!r}")
    if not config.seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in config.seeds):
        raise InputError(f"[sweep] seeds must be a non-empty list of non-negative integers, got {config.seeds!r}")
    if len(set(config.seeds)) != len(config.seeds):
        raise InputError(f"[sweep] seeds has repeated values: {config.seeds}")
    if config.search == "random" and (not isinstance(config.samples, int) or config.samples < 1):
        raise InputError(f"[sweep] samples must be a positive integer for a random search, got {config.samples!r}")
    for key in sorted(set(config.train) | set(config.space)):
        if key in _RESERVED:
            raise InputError(f"{key!r} is set by the sweep for every run (seeds come from [sweep] seeds); remove it")
    both = sorted(set(config.train) & set(config.space))
    if both:
        raise InputError(f"{both} appear in both [train] and [space]; keep each setting in one of them")
    for key, values in config.space.items():
        if isinstance(values, dict):
            if config.search != "random":
                raise InputError(f'[space] {key} is a range; ranges need search = "random" (a grid needs a list)')
            bad = sorted(set(values) - {"low", "high", "log", "integer"})
            if bad or "low" not in values or "high" not in values:
                raise InputError(
                    f"[space] {key} must be a list of values or {{low, high, log, integer}}, got {values!r}"
                )
            if not values["low"] < values["high"] or (values.get("log") and values["low"] <= 0):
                raise InputError(f"[space] {key} needs low < high (and low > 0 with log), got {values!r}")
        elif not isinstance(values, list) or not values:
            raise InputError(f"[space] {key} must be a non-empty list of values, got {values!r}")
    kind = config.executor_setting("kind")
    if kind not in EXECUTORS:
        raise InputError(f"[executor] kind must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    for key in ("parallel", "timeout_min", "cpus_per_job"):
        value = config.executor_setting(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 1:
            raise InputError(f"[executor] {key} must be at least 1, got {value!r}")
    for key in ("gpus_per_job", "mem_gb"):
        value = config.executor_setting(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise InputError(f"[executor] {key} must be non-negative, got {value!r}")
    for key in ("images", "views"):
        value = config.score[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(f"[score] {key} must be a non-negative integer, got {value!r}")
    if config.score["images"] and config.score["views"] < 2:
        raise InputError("[score] views must be at least 2 (the scores compare views of each image), or images = 0")


def expand_runs(config: SweepConfig) -> list[RunSpec]:
    """Every run of the sweep, points in order (grid: the cartesian product in [space]'s key order;
    random: ``samples`` draws from ``random_seed``), each point once per seed.

    Every run's settings are checked by building its training configuration, so a bad value fails
    here, before anything is submitted.
    """
    points = _grid_points(config.space) if config.search == "grid" else _random_points(config)
    runs, seen = [], set()
    for point in points:
        for seed in config.seeds:
            settings = {**config.train, **point, "seed": seed}
            run_id = _run_id(settings)
            if run_id in seen:
                continue  # a random search may draw the same point twice
            seen.add(run_id)
            # validates; the device is checked where the job runs (a login node has no GPU)
            train_config({**settings, "device": "cpu"}, Path("runs") / run_id)
            runs.append(RunSpec(run_id, dict(point), seed, settings))
    return runs


def _grid_points(space: dict) -> list[dict]:
    points = [{}]
    for key, values in space.items():
        points = [{**p, key: v} for p in points for v in values]
    return points


def _random_points(config: SweepConfig) -> list[dict]:
    rng = random.Random(config.random_seed)
    points = []
    for _ in range(config.samples):
        point = {}
        for key, values in config.space.items():
            if isinstance(values, list):
                point[key] = values[rng.randrange(len(values))]
                continue
            low, high = values["low"], values["high"]
            x = math.exp(rng.uniform(math.log(low), math.log(high))) if values.get("log") else rng.uniform(low, high)
            point[key] = int(round(x)) if values.get("integer") else float(f"{x:.6g}")
        points.append(point)
    return points


def _run_id(settings: dict) -> str:
    text = json.dumps(jsonable(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def train_config(settings: dict, run_dir: Path):
    """The `TrainConfig` of one run trained into ``run_dir``, quiet and resumable.

    ``settings`` are command-line style (``TrainConfig.from_flags``): TrainConfig fields, method
    options by their flag names (``hidden_dim``, ``proj_dim``, ``n_codes``, ...), and optionally
    ``preset`` (``cpu`` / ``paper``; explicit settings override it). A method option that some
    registered method has but this run's method lacks is left out (one [train] section serves a
    grid over methods: ``n_codes`` reaches DINO, DISSL and SwAV only); a name no method has is
    an error. ``checkpoint_every`` defaults to a tenth of the steps, so a killed run loses at
    most that much.
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    method = settings.get("method", TrainConfig.method)
    known = registry.cli_options()
    values = {
        k: v
        for k, v in settings.items()
        if k in fields or k == "preset" or k not in known or method in known[k]["methods"]
    }
    preset = values.pop("preset", None)
    values.update(out=str(run_dir), resume=True, quiet=True)
    if "checkpoint_every" not in settings and isinstance(settings.get("steps"), int):
        values["checkpoint_every"] = max(1, settings["steps"] // _CHECKPOINTS_PER_RUN)
    try:
        return TrainConfig.from_flags(preset, **values).validate()
    except TypeError as exc:
        raise InputError(f"bad training settings {settings}: {exc}") from None


# ---- one run ----------------------------------------------------------------------------------


def run_one(spec: dict, out: str) -> dict:
    """Train (or resume, or skip), probe and score one run; write and return its result row.

    ``spec`` is `RunSpec.to_dict()`; ``out`` the sweep directory. Idempotent: an existing result
    row is returned as it is; a finished run (``encoder.pt``) is not retrained; a checkpoint is
    resumed. The row's ``resumed_from`` says which: None (trained from scratch), "checkpoint"
    or "finished". torch and the BLAS libraries use one thread (a sweep runs several jobs side by side).
    """
    import torch  # noqa: F401 (loaded first, so that the policy below limits its pool)

    from ssltheory.threads import apply_thread_policy

    apply_thread_policy(1)
    out_dir = Path(out)
    result_path = out_dir / "results" / f"{spec['run_id']}.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    from ssltheory.ssl.probes import probe_run
    from ssltheory.ssl.train import train

    run_dir = out_dir / "runs" / spec["run_id"]
    config = train_config(spec["settings"], run_dir)
    started = time.perf_counter()
    if (run_dir / "encoder.pt").exists():
        resumed_from = "finished"  # trained before, killed while probing or scoring
    else:
        resumed_from = "checkpoint" if (run_dir / "checkpoint.pt").exists() else None
        train(config)
    trained = time.perf_counter()
    sweep = json.loads((out_dir / "sweep.json").read_text())
    probes = probe_run(run_dir, **{"seed": spec["seed"], **sweep["config"]["probe"]})
    probed = time.perf_counter()
    scores = _scores(run_dir, sweep["config"]["score"], spec["seed"])
    row = {
        "run_id": spec["run_id"],
        "point": spec["point"],
        "seed": spec["seed"],
        "settings": spec["settings"],
        "status": "ok",
        "resumed_from": resumed_from,
        "probe": {k: v for k, v in probes.items() if k not in ("run", "linear_val_scores")},
        "score": scores,
        "seconds": {
            "train": round(trained - started, 3),
            "probe": round(probed - trained, 3),
            "score": round(time.perf_counter() - probed, 3),
        },
    }
    _write_json(result_path, row)
    return row


def _scores(run_dir: Path, settings: dict, seed: int) -> dict:
    """The scalar ideal-ness scores of the run's encoder on ``views`` views of ``images`` validation
    images, each image its own class, drawn by the *reference* augmentation (the same for every run
    of the sweep, never the run's own training augmentation, so that runs compare), through the one
    engine (`ssltheory.ssl.views.score_encoder`). Equal to ``ssltheory score RUN --split val
    --n-images IMAGES --views VIEWS --seed SEED``; the row names the augmentation."""
    if not settings["images"]:
        return {}
    import numpy as np

    from ssltheory.ssl.data import load_dataset
    from ssltheory.ssl.train import load_run
    from ssltheory.ssl.views import reference_augmentation, score_encoder

    encoder, config = load_run(run_dir)
    dataset = load_dataset(config["data"], config.get("data_dir"))
    part = dataset.val
    n_images = min(settings["images"], len(part))
    idx = np.sort(np.random.default_rng(seed).choice(len(part), size=n_images, replace=False))
    images = part.images[idx]
    mean, std = config.get("mean", dataset.mean), config.get("std", dataset.std)
    augmentation = reference_augmentation(images.shape[-1], images.shape[1], mean, std)
    scores = score_encoder(encoder, images, augmentation=augmentation, n_views=settings["views"], seed=seed)
    row = {k: v for k, v in jsonable(scores.to_dict()).items() if v is None or isinstance(v, (int, float, bool, str))}
    return {**row, "augmentation": scores.augmentation}


def _write_json(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(jsonable(record), indent=1, sort_keys=True) + "\n")


# ---- the sweep --------------------------------------------------------------------------------


#: Slurm job states (sacct / squeue) of a job that is still in the queue or on a node.
_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESV_DEL_HOLD"}
_RUNNING = {"RUNNING", "COMPLETING", "RESIZING", "SIGNALING", "STAGE_OUT"}
JOBS_FILE = "jobs.json"


@dataclass(frozen=True)
class RunState:
    """Where one run of a sweep stands: ``state`` is ``finished`` (its result row exists),
    ``queued``, ``running``, ``failed`` (its job ended without a row: ``detail`` says how),
    ``unknown`` (a recorded job neither sacct nor squeue knows) or ``not submitted``."""

    run_id: str
    label: str
    seed: int
    state: str
    job_id: str | None = None
    detail: str = ""


def read_sweep_dir(out: str | os.PathLike) -> SweepConfig:
    """The `SweepConfig` a sweep directory was run with (``OUT/sweep.json``); ValueError if it is none."""
    path = Path(out) / "sweep.json"
    if not path.is_file():
        raise InputError(f"{out} is not a sweep directory (no sweep.json); run `ssltheory sweep CONFIG --out {out}`")
    try:
        return SweepConfig(**json.loads(path.read_text())["config"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(f"{path} is corrupt (not a sweep's configuration)") from None


def read_jobs(out: str | os.PathLike) -> dict:
    """``OUT/jobs.json``: run id -> {"job_id", "executor", "submitted"} ({} when absent)."""
    path = Path(out) / JOBS_FILE
    if not path.exists():
        return {}
    try:
        jobs = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{path} is corrupt (not valid JSON); move it away only if none of its jobs runs") from None
    if not isinstance(jobs, dict):
        raise InputError(f"{path} is not a JSON object of run id -> job")
    return jobs


def _record_jobs(out: Path, kind: str, runs: list, jobs: list) -> None:
    """Add the just-submitted jobs to OUT/jobs.json, written whole."""
    recorded = read_jobs(out)
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    for run, job in zip(runs, jobs):
        recorded[run.run_id] = {"job_id": str(job.job_id), "executor": kind, "submitted": now}
    write_json(out / JOBS_FILE, recorded)


def _slurm_states(folder: Path, job_ids: list[str]) -> dict[str, str]:
    """job id -> Slurm state: submitit's sacct query for all, then ``squeue`` for those sacct does not know."""
    import subprocess

    from submitit.slurm.slurm import SlurmJob

    if not job_ids:
        return {}
    jobs = [SlurmJob(folder=folder, job_id=job_id) for job_id in job_ids]
    SlurmJob.watcher.update()  # one sacct call for every registered job, now (its cache may be minutes old)
    states = {job.job_id: SlurmJob.watcher.get_state(job.job_id, mode="cache").split()[0] for job in jobs}
    unknown = [job_id for job_id, state in states.items() if state == "UNKNOWN"]
    if unknown:
        try:
            listing = subprocess.run(
                [
                    "squeue",
                    "--noheader",
                    "--array",
                    "--format=%i|%T",
                    f"--jobs={','.join(sorted({j.split('_')[0] for j in unknown}))}",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            listing = ""
        for line in listing.splitlines():
            job_id, _, state = line.strip().partition("|")
            if job_id in states and states[job_id] == "UNKNOWN" and state:
                states[job_id] = state.strip().split()[0]
    return states


def sweep_status(config: SweepConfig, out: str | os.PathLike) -> list[RunState]:
    """The `RunState` of every run of ``config`` in the sweep directory ``out`` (asks Slurm for
    the recorded Slurm jobs; a local or debug job is finished or not, its process being gone)."""
    out = Path(out)
    jobs = read_jobs(out)
    runs = expand_runs(config)
    slurm = [
        jobs[r.run_id]["job_id"]
        for r in runs
        if r.run_id in jobs
        and jobs[r.run_id].get("executor") == "slurm"
        and not (out / "results" / f"{r.run_id}.json").exists()
    ]
    states = _slurm_states(out / "submitit", slurm)
    result = []
    for run in runs:
        job = jobs.get(run.run_id, {})
        job_id = job.get("job_id")
        if (out / "results" / f"{run.run_id}.json").exists():
            state, detail = "finished", ""
        elif job_id is None:
            state, detail = "not submitted", ""
        elif job.get("executor") != "slurm":
            state, detail = "failed", f"its {job.get('executor')} job ended without a result row"
        else:
            slurm_state = states.get(job_id, "UNKNOWN")
            if slurm_state in _QUEUED:
                state, detail = "queued", slurm_state
            elif slurm_state in _RUNNING:
                state, detail = "running", slurm_state
            elif slurm_state == "UNKNOWN":
                state, detail = "unknown", "neither sacct nor squeue knows this job"
            else:
                state, detail = "failed", f"job {slurm_state} without a result row (log: submitit/{job_id}_0_log.err)"
        result.append(RunState(run.run_id, run.label, run.seed, state, job_id, detail))
    return result


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    kind: str | None = None,
    parallel: int | None = None,
    wait: bool | None = None,
    resubmit_unknown: bool = False,
    poll_s: float = 1.0,
    echo=None,
) -> dict:
    """Submit every run of ``config`` that is neither finished nor queued / running, then wait for
    them (local, debug, or ``wait=True``) or return at once (Slurm by default); write the table.

    ``kind`` / ``parallel`` override the [executor] section. Returns ``{"runs": n, "skipped": n
    already finished, "submitted": [run ids submitted now], "active": [run ids left queued or
    running (or unknown) from an earlier submission], "waited": bool, "failed": [(run_id, error
    line)], "rows": result rows, "wall_s": seconds, "table": path of table.md}``. ``echo(text)``
    is told what happens (a line per event).
    """
    import submitit

    echo = echo or (lambda text: None)
    if kind is not None:
        config = dataclasses.replace(config, executor={**config.executor, "kind": kind})
    if parallel is not None:
        config = dataclasses.replace(config, executor={**config.executor, "parallel": parallel})
    _check_config(config)
    kind = config.executor_setting("kind")
    wait = kind != "slurm" if wait is None else bool(wait or kind != "slurm")
    out = Path(out)
    runs = expand_runs(config)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "sweep.json", {"config": dataclasses.asdict(config), "runs": [r.to_dict() for r in runs]})
    started = time.perf_counter()
    states = {s.run_id: s for s in sweep_status(config, out)}
    leave = {"finished", "queued", "running"} | (set() if resubmit_unknown else {"unknown"})
    todo = [r for r in runs if states[r.run_id].state not in leave]
    active = [r for r in runs if states[r.run_id].state in leave - {"finished"}]
    finished = sum(states[r.run_id].state == "finished" for r in runs)
    echo(
        f"{len(runs)} runs, {finished} already finished, {len(active)} queued or running, {len(todo)} to submit "
        f"({kind}, {config.executor_setting('parallel')} at a time)"
    )
    for run in active:
        echo(
            f"left alone: {run.run_id} ({run.label}, seed {run.seed}) is {states[run.run_id].state} "
            f"as job {states[run.run_id].job_id}"
        )
    failed = []
    jobs = []
    if todo:
        executor = make_executor(config, out / "submitit")
        jobs = _submit(executor, config, [(r.to_dict(), str(out)) for r in todo], poll_s, out, todo)
        echo(
            f"submitted {len(jobs)} job(s): {', '.join(str(j.job_id) for j in jobs[:5])}"
            f"{', ...' if len(jobs) > 5 else ''}"
        )
    if wait:
        from submitit.slurm.slurm import SlurmJob

        waiting = list(zip(todo, jobs)) + [
            (r, SlurmJob(folder=out / "submitit", job_id=states[r.run_id].job_id)) for r in active
        ]
        for run, job in waiting:
            try:
                job.result()
                echo(f"done {run.run_id} ({run.label}, seed {run.seed})")
            except Exception as exc:  # one failed run must not hide the others; its error is kept
                message = _error_line(exc)
                failed.append((run.run_id, message))
                echo(f"FAILED {run.run_id} ({run.label}, seed {run.seed}): {message}")
    ids = {r.run_id for r in runs}
    rows = [r for r in read_results(out) if r["run_id"] in ids]  # rows of an edited file's old points stay out
    table = out / "table.md"
    text, csv_text = results_table(rows, list(config.space))
    atomic_write_text(table, f"# Sweep {config.name}\n\n{text}")
    atomic_write_text(out / "table.csv", csv_text)
    return {
        "runs": len(runs),
        "skipped": finished,
        "submitted": [r.run_id for r in todo],
        "active": [r.run_id for r in active],
        "waited": wait,
        "failed": failed,
        "rows": rows,
        "wall_s": time.perf_counter() - started,
        "table": str(table),
        "submitit": submitit.__version__,
    }


def _error_line(exc: BaseException) -> str:
    """The job's own error line (``SomeError: message``) out of submitit's failure report, which
    ends with the paths of the job's logs; else the report's first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if ":" in line and head.isidentifier() and (head.endswith("Error") or head.endswith("Exception")):
            return line
    return lines[0] if lines else type(exc).__name__


class _Job:
    """The callable a job runs; checkpointable, so a pre-empted or timed-out Slurm job is requeued
    by submitit with the same arguments and `run_one` resumes the run from its checkpoint."""

    def __call__(self, spec: dict, out: str) -> dict:
        return run_one(spec, out)

    def checkpoint(self, spec: dict, out: str):
        import submitit

        return submitit.helpers.DelayedSubmission(_Job(), spec, out)


def make_executor(config: SweepConfig, folder: Path):
    """The submitit executor of ``config``'s [executor] section, writing its job folders under ``folder``."""
    import submitit

    kind = config.executor_setting("kind")
    timeout = int(config.executor_setting("timeout_min"))
    cpus = int(config.executor_setting("cpus_per_job"))
    gpus = int(config.executor_setting("gpus_per_job"))
    threads = {"OMP_NUM_THREADS": str(cpus), "MKL_NUM_THREADS": str(cpus), "OPENBLAS_NUM_THREADS": str(cpus)}
    if kind == "debug":
        return submitit.AutoExecutor(folder=folder, cluster="debug")
    if kind == "local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(
            timeout_min=timeout, gpus_per_node=gpus, setup=[f"export {k}={v}" for k, v in threads.items()]
        )
        return executor
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    except RuntimeError as exc:  # submitit's "Could not detect srun"
        raise InputError(f"[executor] kind slurm needs a Slurm cluster here ({exc}); use kind local or debug") from None
    params = {
        "timeout_min": timeout,
        "gpus_per_node": gpus,
        "cpus_per_task": cpus,
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_array_parallelism": int(config.executor_setting("parallel")),
        "name": config.name,
        "slurm_setup": [f"export {k}={v}" for k, v in threads.items()],
    }
    if config.executor_setting("partition"):
        params["slurm_partition"] = config.executor_setting("partition")
    if config.executor_setting("mem_gb"):
        params["mem_gb"] = config.executor_setting("mem_gb")
    executor.update_parameters(**params)
    return executor


def _submit(executor, config: SweepConfig, args: list[tuple], poll_s: float, out: Path, runs: list) -> list:
    """Submit one job per run: an array (Slurm, debug), or at most ``parallel`` live processes
    (local); each job id goes into OUT/jobs.json as soon as it exists."""
    kind = config.executor_setting("kind")
    if kind != "local":
        jobs = executor.map_array(_Job(), [a[0] for a in args], [a[1] for a in args])
        _record_jobs(out, kind, runs, jobs)
        return jobs
    cap = int(config.executor_setting("parallel"))
    jobs, running, pending = [], [], list(zip(runs, args))
    while pending or running:
        while pending and len(running) < cap:
            run, arguments = pending.pop(0)
            job = executor.submit(_Job(), *arguments)
            _record_jobs(out, kind, [run], [job])
            jobs.append(job)
            running.append(job)
        time.sleep(poll_s)
        running = [j for j in running if not j.done()]
    return jobs


# ---- results ----------------------------------------------------------------------------------


def read_results(out: str | os.PathLike) -> list[dict]:
    """Every result row under ``out/results`` (sorted by run id)."""
    folder = Path(out) / "results"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


_TABLE_METRICS = (
    ("probe", "linear_accuracy"),
    ("probe", "mlp_accuracy"),
    ("probe", "knn_accuracy"),
    ("score", "ideal_score"),
    ("score", "invariance_ratio"),
    ("score", "affine_rank"),
    ("score", "worst_task_accuracy"),
    ("score", "rankme"),
)


def results_table(rows: list[dict], keys: list[str]) -> tuple[str, str]:
    """(Markdown, CSV) of the rows grouped by their point (the varied ``keys``): one line per
    point with the number of seeds and mean +- sample sd (sd 0 with one seed) of every metric
    present in any row."""
    metrics = [(section, name) for section, name in _TABLE_METRICS if any(name in r.get(section, {}) for r in rows)]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(json.dumps([row["point"].get(k) for k in keys]), []).append(row)
    header = [*keys, "seeds", *(name for _, name in metrics)]
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*keys, "seeds", *(f"{n}_{s}" for _, n in metrics for s in ("mean", "sd"))])
    for _, members in sorted(groups.items()):
        point = [members[0]["point"].get(k) for k in keys]
        cells, csv_cells = [], []
        for section, name in metrics:
            values = [r[section][name] for r in members if isinstance(r.get(section, {}).get(name), (int, float))]
            if not values:
                cells.append("-")
                csv_cells += ["", ""]
                continue
            mean = statistics.fmean(values)
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{mean:.4g} +- {sd:.2g}")
            csv_cells += [f"{mean:.6g}", f"{sd:.6g}"]
        md.append("| " + " | ".join([*(_short(v) for v in point), str(len(members)), *cells]) + " |")
        writer.writerow([*point, len(members), *csv_cells])
    return "\n".join(md) + "\n", buffer.getvalue()


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
