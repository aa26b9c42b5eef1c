"""The `ssltheory` command line.

Each subcommand lives in the room of its idea; this module only dispatches, importing a
subcommand's module lazily so that `ssltheory check` never pays for importing torch.

Exit codes (DESIGN.md): 0 yes / ideal / success, 1 checked and not ideal, 2 bad input, with a
one-line message on stderr naming the problem and never a traceback.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

#: name -> (module, one-line help). Modules are imported only when their command runs.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": ("ssltheory.commands.check", "is a representation ideal for linear/universal probes? (exact, with a certificate)"),
    "demo": ("ssltheory.commands.demo", "the README's main job: train, probe, check and report on embedded real images"),
    "train": ("ssltheory.commands.train", "train an SSL encoder (simclr, cissl, dino, dissl, exact)"),
    "probe": ("ssltheory.commands.probe", "fit linear / MLP / kNN probes on a trained run's frozen features"),
    "score": ("ssltheory.commands.score", "score a run, encoder or features against the ideal conditions"),
    "experiment": ("experiments.runner", "run an experiment (synthetic, score-validation, ...) and write CSV + PNG"),
    "paper-check": ("paper_checks.cli", "run the paper's claims as executable checks"),
    "figures": ("ssltheory.commands.figures", "regenerate every figure in figures/"),
    "bench": ("benchmarks.cli", "side-by-side benchmarks against the usual tools"),
    "sweep": ("ssltheory.commands.sweep", "grid / random search of training runs on submitit (Slurm, local, debug)"),
}


class UsageError(ValueError):
    """Bad input from the command line; reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (module, help_) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:
            continue
        out[name] = (module, help_)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = _available()
    # Import only the chosen subcommand's module, then parse with its arguments.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = _Parser(prog="ssltheory", description="Exact conditions for ideal SSL representations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    module = None
    for name, (modname, help_) in commands.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:
            module = importlib.import_module(modname)
            module.add_arguments(p)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"ssltheory {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ssltheory {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
