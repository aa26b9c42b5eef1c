"""``ssltheory train``: parse the flags, fill a TrainConfig from a preset, call the trainer.

The method and dataset flags and their help are generated from the registries
(:data:`ssltheory.ssl.methods.METHODS`, :data:`ssltheory.ssl.datasets.DATASETS`); torch is imported
only when training starts, so ``--help`` is fast. Every flag not given keeps the preset's value
(``--preset cpu`` by default on the CPU, ``paper`` on an accelerator; announced in one line).

Example::

    ssltheory train --method dissl --data patches --steps 300 --out runs/dissl
"""

from __future__ import annotations

import argparse
import sys

from ssltheory.commands import seed_argument
from ssltheory.ssl import methods as registry
from ssltheory.ssl.config import ARCHS, AUGMENTATIONS, PRESETS, TrainConfig, default_preset
from ssltheory.ssl.datasets import DATASETS

#: TrainConfig fields with a flag of their own: field -> (type or "flag", help). Defaults are the preset's.
_FIELDS: dict[str, tuple[object, str]] = {
    "data_dir": (
        str,
        "where the dataset's files are (" + ", ".join(n for n, s in DATASETS.items() if s.needs_dir) + ")",
    ),
    "arch": (str, f"encoder: {', '.join(ARCHS)}"),
    "z_dim": (int, "representation dimension"),
    "batch_size": (int, "global batch size"),
    "lr": (float, "peak learning rate (default 2e-3 * batch / 256)"),
    "weight_decay": (float, "Adam weight decay"),
    "warmup_fraction": (float, "fraction of steps of linear warm-up"),
    "aug": (str, f"augmentation: {', '.join(AUGMENTATIONS)}"),
    "aug_strength": (float, "augmentation strength s (default: simclr 1, coarse 2)"),
    "n_small_crops": (int, "extra small multi-crop views (multi-crop methods)"),
    "label_views": ("flag", "second view = another image of the same label"),
    "device": (str, "cpu, cuda or cuda:N (default cpu)"),
    "seed": (seed_argument, "seed of everything random"),
    "checkpoint_every": (int, "steps between checkpoints (0: at the end)"),
    "log_every": (int, "steps between metrics.jsonl lines"),
    "monitor_every": (
        int,
        "score the encoder on a fixed reference set (64 test images x 4 views of the reference "
        "augmentation) every N steps into metrics.jsonl, `ssltheory plot RUN` draws them; 0: off",
    ),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(value: object) -> str:
    if value is None:
        return "derived from the run"
    if isinstance(value, str):
        return repr(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _preset_defaults(defaults: TrainConfig, name: str) -> str:
    """ "cpu: 128, paper: 512" for a field, the value each preset gives it (per method where it varies)."""
    parts = []
    for preset, values in PRESETS.items():
        if name in values["per_method"]:
            by_method = values["per_method"][name]
            parts.append(f"{preset}: " + " / ".join(f"{v} {m}" for m, v in by_method.items()))
        else:
            parts.append(f"{preset}: {_default_text(values['fields'].get(name, getattr(defaults, name)))}")
    return ", ".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``ssltheory train`` (method options and datasets from the registries)."""
    d = TrainConfig()
    methods_help = "; ".join(f"{name}: {spec.summary}" for name, spec in registry.METHODS.items())
    parser.add_argument("--method", required=True, help=f"one of {', '.join(registry.METHODS)} ({methods_help})")
    parser.add_argument("--data", required=True, help="; ".join(f"{n}: {s.summary}" for n, s in DATASETS.items()))
    presets = "; ".join(f"{name}: {p['summary']}" for name, p in PRESETS.items())
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help=f"recipe for every flag not given (default cpu on the CPU, paper on cuda). {presets}",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="number of optimiser steps (default: the preset's)")
    length.add_argument(
        "--epochs", type=float, default=None, help="epochs of the whole training split (default: the preset's)"
    )
    for name, (kind, help_) in _FIELDS.items():
        if kind == "flag":
            parser.add_argument(_flag(name), action="store_true", default=None, help=help_)
        else:
            parser.add_argument(
                _flag(name),
                type=kind,
                default=None,
                metavar=name.upper(),
                help=f"{help_} ({_preset_defaults(d, name)})",
            )
    group = parser.add_argument_group(
        "method options",
        "each applies to the methods listed; default: the preset's, else the method's (docs/REFERENCE.md)",
    )
    for flag, entry in registry.cli_options().items():
        option, users = entry["option"], entry["methods"]
        per_method = ", ".join(
            f"{m} {_default_text(registry.METHODS[m].option(o).default)}" + ("" if o == flag else f" as {o}")
            for m, o in users.items()
        )
        kind = option.type
        kwargs = {"choices": option.choices} if option.choices is not None else {"type": kind}
        if option.choices is None:
            kwargs["metavar"] = flag.upper()
        aliased = any(o != flag for o in users.values())
        group.add_argument(
            _flag(flag),
            dest=f"option__{flag}",
            default=None,
            **kwargs,
            help=f"older name, by method: {per_method}" if aliased else f"{option.help} ({per_method})",
        )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--quiet", action="store_true", help="print nothing while training")
    parser.add_argument("--out", required=True, help="run directory")


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, str, bool]:
    """(the TrainConfig, the preset used, whether it was the default) from parsed flags."""
    registry.method_spec(args.method)
    values = {k[len("option__") :] if k.startswith("option__") else k: v for k, v in vars(args).items()}
    values = {k: v for k, v in values.items() if k not in ("command", "preset")}
    chosen = args.preset is None
    preset = args.preset or default_preset(args.device or TrainConfig.device)
    return TrainConfig.from_flags(preset, **values), preset, chosen


def run(args: argparse.Namespace) -> int:
    """Train as the flags say; 0 on success.

    Every input is checked before anything is printed: the flags (``TrainConfig.validate``), then
    the data (read from ``--data-dir``; a missing, empty or wrong folder fails here) and whether
    the batch fits it. A bad input is an InputError, which the CLI prints as its only line (exit 2).
    """
    config, preset, by_default = config_from_args(args)
    config.validate()
    from ssltheory.ssl.data import load_dataset
    from ssltheory.ssl.train import check_fits, train

    dataset = load_dataset(config.data, config.data_dir)  # as train() would load it
    check_fits(config, dataset.pretraining().images)
    if not config.quiet:
        how = f"the default on {config.device}" if by_default else "--preset"
        print(
            f"preset {preset} ({how}): {PRESETS[preset]['summary']}; explicit flags override it",
            file=sys.stderr,
            flush=True,
        )
    train(config, dataset)
    return 0
