"""The `ssltheory` command line.

Each subcommand lives in the room of its idea; this module only dispatches. It imports nothing
heavy: the chosen subcommand's module is imported when that command runs (or shows its
``--help``), and no other, so ``ssltheory --help`` and ``ssltheory check --help`` start without
numpy, scipy or torch.

Exit codes: 0 yes / ideal / success, 1 checked and not ideal, 2 bad input or a file that cannot
be read or written, with one line on stderr naming the problem and what to do, never a traceback;
3 a bug in ssltheory; 130 interrupted; 141 (the shell's code for SIGPIPE) when the reader of the
output went away (``ssltheory score RUN | head -3``), quietly.

Bad input and bugs are told apart by type, not by guessing. Every check of the library's and the
commands' input raises :class:`ssltheory.errors.InputError` (a ValueError; ``UsageError`` below is
one), so an InputError means "the input is wrong" and gets one line and exit 2, as does an
``OSError`` (the file system refused a path). Any other exception reaching :func:`main` (a
TypeError, an IndexError, a ValueError raised inside numpy, scipy or torch: input that no check
caught) is a bug: one line saying so, then the traceback, exit 3. Library code raises InputError,
never a bare ValueError (tests/test_cli_errors.py holds it to that).

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import os
import sys
import traceback

from ssltheory.errors import InputError

#: name -> (modules to try in order, one-line help). Only the chosen command's module is imported.
SUBCOMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "check": (
        ("ssltheory.commands.check",),
        "is a representation ideal for linear/universal probes? (exact, with a certificate)",
    ),
    "demo": (
        ("ssltheory.commands.demo",),
        "the README's main job: train, probe, check and report on embedded real images",
    ),
    "train": (("ssltheory.commands.train",), "train an SSL encoder ({methods})"),
    "probe": (("ssltheory.commands.probe",), "fit linear / MLP / kNN probes on a trained run's frozen features"),
    "score": (("ssltheory.commands.score",), "score a run, encoder or features against the ideal conditions"),
    "plot": (("ssltheory.commands.plot",), "draw a run's loss and monitored scores (train --monitor-every) by step"),
    "experiment": (
        ("ssltheory.commands.experiment",),
        "run an experiment (synthetic, score-validation, ...) and write CSV + PNG",
    ),
    "figures": (("ssltheory.commands.figures",), "regenerate every figure of figures/ (all experiments at one scale)"),
    "paper-check": (("ssltheory.paper_checks.cli",), "run the paper's claims as executable checks"),
    "bench": (("ssltheory.benchmarks.cli",), "side-by-side benchmarks against the usual tools"),
    "sweep": (("ssltheory.commands.sweep",), "grid / random search of training runs on submitit (Slurm, local, debug)"),
}

#: exit codes beside 0 / 1
EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 3, 130, 141

#: what to do about an OSError, by errno (the path and the system's reason are printed first)
_OS_ADVICE = {
    errno.ENOENT: "check the path",
    errno.EACCES: "check its permissions, or write elsewhere with --out DIR",
    errno.EPERM: "check its permissions, or write elsewhere with --out DIR",
    errno.EROFS: "the file system is read-only: write elsewhere with --out DIR",
    errno.ENOSPC: "the disk is full: free some space or write elsewhere with --out DIR",
    errno.EISDIR: "give a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "remove it or choose another path",
}


class UsageError(InputError):
    """Bad input from the command line; reported as one line on stderr with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _module_of(name: str) -> str:
    """The first importable module of command ``name`` (its candidates are tried in order)."""
    candidates = SUBCOMMANDS[name][0]
    for module in candidates:
        try:
            if importlib.util.find_spec(module) is not None:
                return module
        except ModuleNotFoundError:
            continue
    raise UsageError(f"command {name!r} is not available in this installation (none of {', '.join(candidates)})")


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: the path, the system's reason and what to do.

    ``[Errno 13] Permission denied: 'out/x.csv'`` becomes
    ``cannot use out/x.csv: Permission denied (check its permissions, or write elsewhere with --out DIR)``.
    """
    path = exc.filename if exc.filename is not None else None
    reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    advice = _OS_ADVICE.get(exc.errno)
    where = f"cannot use {os.fsdecode(path)}: " if path is not None else ""
    return f"{where}{reason}" + (f" ({advice})" if advice else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def build_parser(chosen: str | None) -> tuple[argparse.ArgumentParser, object]:
    """The top-level parser, with the arguments of command ``chosen`` only; returns it and the
    chosen command's module (None when no command is chosen)."""
    parser = _Parser(
        prog="ssltheory",
        description="Exact conditions for ideal SSL representations. "
        "Run 'ssltheory COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    module = None
    for name, (_, help_) in SUBCOMMANDS.items():
        if "{methods}" in help_:  # the registry's list, never a copy (light: the registry imports no torch)
            from ssltheory.ssl.methods import METHODS

            help_ = help_.format(methods=", ".join(METHODS))
        p = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:
            module = importlib.import_module(_module_of(name))
            module.add_arguments(p)
    return parser, module


#: numpy's switch for asking the kernel for transparent huge pages on large arrays
_HUGEPAGE_ENV = "NUMPY_MADVISE_HUGEPAGE"
#: glibc's mallopt parameters (malloc.h) and the threshold the command sets for both
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _KEEP_BYTES = -1, -3, 1 << 30


def _memory_policy() -> None:
    """Make fresh memory cheap for this process: ordinary pages, and freed blocks kept for reuse.

    The scoring engine allocates many d x d float64 matrices (32 MiB each at d = 2,048) and
    frees them again; the first touch of fresh memory is what costs (page faults, zeroing). Two
    process-wide settings, measured on ``ssltheory score`` of 8,000 x 2,048 views (same results):

    - numpy (when this process has not imported it yet) maps large arrays in ordinary pages
      (``NUMPY_MADVISE_HUGEPAGE=0``). numpy asks Linux for transparent huge pages on every array of
      4 MiB or more; where free memory is handed back to the host (virtual machines with
      free-page reporting, as on the machines this project is measured on) each fresh 2 MiB page
      is faulted in at the host: 0.9 s of kernel time against 0.6 s.
    - glibc's malloc keeps freed blocks of up to 1 GiB for reuse (``mallopt`` mmap and trim
      thresholds). By default every block above 32 MiB is mapped freshly and unmapped when freed,
      so each temporary d x d matrix pays its page faults again: 0.6 s of kernel time against 0.3 s.

    The command owns its process, so it chooses for itself and its children (which inherit the
    numpy switch: the benchmarks' baselines too); the library never does. A value the user set
    wins: ``NUMPY_MADVISE_HUGEPAGE``, or any ``MALLOC_*`` variable (glibc's own tunables). Other
    C libraries than glibc, and other systems than Linux, are left alone.
    """
    if _HUGEPAGE_ENV not in os.environ and "numpy" not in sys.modules:
        os.environ[_HUGEPAGE_ENV] = "0"
    if not sys.platform.startswith("linux") or any(k.startswith(("MALLOC_", "GLIBC_TUNABLES")) for k in os.environ):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # not glibc: its mallopt parameters may differ
            return
        libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
    except (OSError, AttributeError):  # no C library to ask: nothing to tune
        return


def main(argv: list[str] | None = None) -> int:
    """Run ``ssltheory ARGV``; returns the exit code (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _memory_policy()
    chosen = next((a for a in argv if not a.startswith("-")), None)
    command = chosen or "ssltheory"
    try:
        if chosen is not None and chosen not in SUBCOMMANDS:
            raise UsageError(f"unknown command {chosen!r}; commands: {', '.join(SUBCOMMANDS)}")
        parser, module = build_parser(chosen)
        if chosen is None and not any(a in ("-h", "--help") for a in argv):
            parser.print_help()  # bare `ssltheory`: list the commands
            return 0 if not argv else EXIT_USAGE
        args = parser.parse_args(argv)
        from ssltheory.threads import apply_thread_policy

        apply_thread_policy()  # torch and BLAS threads: one owner (SSLTHEORY_THREADS overrides)
        return int(module.run(args) or 0)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(f"ssltheory {command}: error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:  # UsageError included: bad input, named by the check that found it
        print(f"ssltheory {command}: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ssltheory {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # anything else is a bug: say so, and show where
        print(
            f"ssltheory {command}: this is a bug in ssltheory, not a problem with your input "
            f"({type(exc).__name__}: {_first_line(exc)}); please report it with the traceback below",
            file=sys.stderr,
        )
        traceback.print_exc(file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
