"""The run directory: the one module that reads and writes it.

Layout (docs/ARCHITECTURE.md)::

    RUN/config.json     the TrainConfig as run, plus image_channels, image_size, mean, std, total_steps
    RUN/metrics.jsonl   one JSON object per logged step
    RUN/checkpoint.pt   latest checkpoint (written whole: temp file in RUN, fsync, rename)
    RUN/encoder.pt      final encoder state dict (loadable with weights_only=True)
    RUN/.lock           held (fcntl) by the one process writing the run; records its pid

One writer per run directory: :meth:`RunDir.lock` takes an exclusive ``fcntl`` lock on
``RUN/.lock``; a second writer is refused with a ValueError naming the holder's pid. The kernel
drops the lock when its process dies, so a crashed (even SIGKILLed) run never blocks ``--resume``.

Every file is read with one clear error line when it is not what it should be: a config.json that
is not a JSON object, a checkpoint that is not a plain state dict (it is never unpickled: only
``torch.load(weights_only=True)`` of torch's zip format is attempted), a metrics.jsonl whose last
line was half-written by a killed process (dropped on resume, and said so).

torch is imported only by the functions that load or save tensors.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Iterator

from ssltheory.errors import InputError
from ssltheory.files import append_json_line, atomic_output, atomic_write_text
from ssltheory.ssl import methods
from ssltheory.ssl.config import RESUMABLE_KEYS

__all__ = ["RunDir", "load_checkpoint", "load_run", "read_config", "read_metrics", "CHECKPOINT_KEYS"]

#: What every checkpoint holds.
CHECKPOINT_KEYS = frozenset({"model", "optimizer", "scheduler", "sampler", "rng", "step", "world_size", "config"})

_NOT_PLAIN = "this file is not a plain state dict; it will not be unpickled"


class RunDir:
    """Paths and file formats of one run directory ``path`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.metrics_path = self.path / "metrics.jsonl"
        self.checkpoint_path = self.path / "checkpoint.pt"
        self.encoder_path = self.path / "encoder.pt"
        self.lock_path = self.path / ".lock"

    # ---- the writer's lock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's writer lock for the ``with`` block (creates the directory).

        Raises ValueError naming the holder's pid if another process holds it. The lock dies
        with its process, so a killed run leaves nothing that blocks a resume.
        """
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise InputError(
                    f"run directory {self.path} is being written by another process (pid {holder}); "
                    "wait for it to finish or choose another --out"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files left by a process killed while writing (call with the lock held)."""
        for stale in self.path.glob(".*.tmp*"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    # ---- config.json

    def has_run(self) -> bool:
        """Whether the directory holds a run (its config.json)."""
        return self.config_path.exists()

    def read_config(self) -> dict:
        """config.json as a dict; ValueError (one line) if it is not a JSON object."""
        return read_config(self.path)

    def write_config(self, record: dict) -> None:
        """Write config.json whole."""
        atomic_write_text(self.config_path, json.dumps(record, indent=2, sort_keys=True) + "\n")

    # ---- metrics.jsonl

    def append_metrics(self, record: dict) -> None:
        """Append one JSON line to metrics.jsonl (flushed; `ssltheory.files.append_json_line`)."""
        append_json_line(self.metrics_path, record)

    def truncate_metrics(self, step: int) -> str | None:
        """Keep the metrics lines of steps <= ``step`` (those a resumed run will not repeat); drop a
        half-written last line. Returns a note to print when a line was dropped, else None."""
        if not self.metrics_path.exists():
            return None
        records, note = _parse_metrics(self.metrics_path, drop_partial_last=True)
        kept = [json.dumps(r) for r in records if r.get("step", 0) <= step]
        if kept:
            atomic_write_text(self.metrics_path, "\n".join(kept) + "\n")
        else:
            self.metrics_path.unlink()
        return note

    def clear_metrics(self) -> None:
        """Delete metrics.jsonl (a run restarted from step 0)."""
        with contextlib.suppress(FileNotFoundError):
            self.metrics_path.unlink()

    # ---- checkpoint.pt and encoder.pt

    def save_checkpoint(self, state: dict) -> None:
        """Write checkpoint.pt whole (``state`` holds :data:`CHECKPOINT_KEYS`)."""
        _torch_save(state, self.checkpoint_path)

    def save_encoder(self, state_dict: dict) -> None:
        """Write encoder.pt whole (tensors moved to the CPU)."""
        _torch_save({k: v.detach().cpu() for k, v in state_dict.items()}, self.encoder_path)


def _torch_save(obj, path: Path) -> None:
    import torch

    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def _parse_metrics(path: Path, drop_partial_last: bool) -> tuple[list[dict], str | None]:
    text = path.read_text()
    lines = text.split("\n")
    complete = text.endswith("\n")
    if complete:
        lines = lines[:-1]
    records, note = [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise InputError("not an object")
        except ValueError:
            last = number == len(lines)
            if last and drop_partial_last:
                note = f"dropped the half-written last line {number} of {path} (the run was interrupted while logging)"
                break
            raise InputError(f"{path} line {number} is not a JSON object; the metrics file is corrupt") from None
        records.append(record)
    return records, note


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The records of ``RUN/metrics.jsonl``, in order (a half-written last line is left out)."""
    path = RunDir(run_dir).metrics_path
    if not path.exists():
        raise FileNotFoundError(f"run directory {run_dir} has no metrics.jsonl")
    return _parse_metrics(path, drop_partial_last=True)[0]


def read_config(run_dir: str | os.PathLike) -> dict:
    """``RUN/config.json`` as a dict. FileNotFoundError if absent; ValueError (one line) if it is not
    valid JSON or not a JSON object."""
    path = RunDir(run_dir).config_path
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"run directory {run_dir} has no config.json (is it an `ssltheory train` run?)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path} is corrupt (not valid JSON); delete the run or choose another --out") from None
    if not isinstance(config, dict):
        raise InputError(
            f"{path} holds a JSON {type(config).__name__}, not a training configuration (a JSON object); "
            "delete the run or choose another --out"
        )
    return config


def _load_tensors(path: Path, what: str):
    """torch.load(weights_only=True) of a file torch saved; never unpickles anything else."""
    import pickle

    import torch

    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04" or not zipfile.is_zipfile(path):  # torch's format is a zip archive
        if head[:1] == b"\x80":  # a raw pickle stream: never unpickled
            raise InputError(f"{what} {path}: {_NOT_PLAIN}")
        raise InputError(f"{what} {path} is unreadable or corrupt (truncated or not written by torch.save)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError:  # objects other than tensors and plain containers
        raise InputError(f"{what} {path}: {_NOT_PLAIN}") from None
    except Exception as exc:  # truncated or foreign file
        raise InputError(f"{what} {path} is unreadable or corrupt ({type(exc).__name__})") from None


def load_checkpoint(path: str | os.PathLike, config=None) -> dict:
    """Load a checkpoint (``weights_only=True``, nothing unpickled); if ``config`` (a TrainConfig) is
    given, refuse one from another configuration with a ValueError naming the differing keys."""
    path = Path(path)
    state = _load_tensors(path, "checkpoint")
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path} is not a training checkpoint (a dict)")
    missing = CHECKPOINT_KEYS - set(state)
    if missing:
        raise InputError(f"checkpoint {path} lacks {', '.join(sorted(missing))}")
    if config is not None:
        refuse_other_config(state["config"], config, what=f"checkpoint {path}")
    return state


def load_run(run_dir: str | os.PathLike):
    """The trained encoder of a run, in eval mode on the CPU, and the run's config dict.

    ``run_dir`` is a directory written by ``ssltheory.ssl.train.train`` (it needs ``config.json``
    and ``encoder.pt``). The encoder maps (B, C, H, W) float images, normalised as by the run's
    augmentation, to (B, z_dim) features.
    """
    from ssltheory.ssl.encoders import build_encoder

    run = RunDir(run_dir)
    for path in (run.config_path, run.encoder_path):
        if not path.exists():
            raise FileNotFoundError(
                f"run directory {run_dir} has no {path.name} (is it a finished `ssltheory train` run?)"
            )
    config = run.read_config()
    try:
        encoder = build_encoder(config["arch"], config["image_channels"], config["image_size"], config["z_dim"])
    except KeyError as exc:
        raise InputError(f"{run.config_path} is not a training configuration (no {exc})") from None
    state = _load_tensors(run.encoder_path, "encoder")
    try:
        encoder.load_state_dict(state)
    except Exception as exc:
        raise InputError(
            f"{run.encoder_path} does not hold this run's encoder weights ({type(exc).__name__})"
        ) from None
    return encoder.eval(), config


#: What config.json records besides the TrainConfig fields (facts of the data, not choices).
RUN_FACTS = frozenset({"image_channels", "image_size", "mean", "std", "total_steps"})


def saved_identity(saved: dict) -> dict:
    """The identity (see ``TrainConfig.identity``) of a saved config dict; keys of older runs kept."""
    options = saved.get("method_options") or {}
    try:
        options = methods.check_options(saved.get("method"), options, allow_derived=False)
    except ValueError:
        pass
    plain = {k: v for k, v in saved.items() if k not in RESUMABLE_KEYS and k not in RUN_FACTS and k != "method_options"}
    return {**plain, **{f"method_options.{k}": v for k, v in dict(options).items()}}


def differing_keys(saved: dict, config) -> list[str]:
    """The one "same run?" rule: the keys (method options as ``method_options.NAME``) on which the
    saved config dict ``saved`` and the TrainConfig ``config`` differ, resumable keys and run
    facts ignored, sorted; [] when ``saved`` is a run of ``config``."""
    current, before = config.identity(), saved_identity(saved)
    return sorted(k for k in set(current) | set(before) if before.get(k) != current.get(k))


def refuse_other_config(saved: object, config, what: str) -> None:
    """Raise InputError naming every key of :func:`differing_keys` (the saved config dict ``saved``
    against the TrainConfig ``config``), or when ``saved`` is not a dict."""
    if not isinstance(saved, dict):
        raise InputError(
            f"{what} does not record a training configuration (a JSON object); delete it or choose another --out"
        )
    keys = differing_keys(saved, config)
    current, before = config.identity(), saved_identity(saved)
    if keys:
        detail = ", ".join(f"{k} ({before.get(k)!r} there, {current.get(k)!r} here)" for k in keys)
        raise InputError(f"{what} comes from another configuration; differing keys: {detail}")
