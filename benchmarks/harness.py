"""Timing, result rows and the machine description shared by every benchmark.

One idea: time two callables *alternately* on the same inputs (ours, baseline, ours, baseline,
...), drop the warm-up rounds, and summarise each side by its median, so that slow drift of a
shared machine (other processes, CPU frequency) hits both sides alike.

A result is a :class:`Row`, printed as one JSON object with the keys
``name, ours_s, baseline_s, ratio, ratio_def, target, meets_target, status, details``:

- ``ours_s`` / ``baseline_s``: median seconds of one call (what one call is, is in ``details``);
- ``ratio``: a speed-up ``baseline_s / ours_s`` for targets of the form ``>= N`` (bigger is
  better), a slowdown ``ours_s / baseline_s`` for targets of the form ``<= N`` (smaller is better);
  ``ratio_def`` states which, so that ``ratio`` compared with ``target`` reads naturally;
- ``meets_target``: ``ratio`` compared with ``target`` (and any extra condition the row names,
  e.g. equal accuracy), ``None`` when nothing was measured;
- ``status``: ``ok``, ``pending`` (the code to measure, or the hardware, is not there) or
  ``error`` (the benchmark raised; the message is in ``details["error"]``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ssltheory.files import jsonable

#: Keys every row carries, in print order. Tests check rows against this schema.
ROW_KEYS = ("name", "ours_s", "baseline_s", "ratio", "ratio_def", "target", "meets_target", "status", "details")
SPEEDUP = "baseline_s / ours_s"
SLOWDOWN = "ours_s / baseline_s"


@dataclass
class BenchConfig:
    """What every benchmark is told.

    quick: small sizes so that the whole run takes under a minute (CI, tests).
    threads: torch intra-op threads and BLAS threads (numpy, scipy, scikit-learn) on both sides.
    seed: seed of every generated input.
    repeats: timed rounds per comparison (``None``: each benchmark's default).
    rows: names (or name prefixes) of the rows wanted (``None``: all); a benchmark skips the work
        of rows not wanted.
    """

    quick: bool = False
    threads: int = 1
    seed: int = 0
    repeats: int | None = None
    rows: frozenset[str] | None = None

    def wants(self, row_name: str) -> bool:
        return self.rows is None or any(row_name.startswith(k) for k in self.rows)

    def rounds(self, quick_default: int, full_default: int) -> int:
        if self.repeats is not None:
            return self.repeats
        return quick_default if self.quick else full_default


@dataclass
class Row:
    """One benchmark result (see the module docstring for the meaning of each key)."""

    name: str
    ours_s: float | None
    baseline_s: float | None
    ratio: float | None
    ratio_def: str
    target: str
    meets_target: bool | None
    status: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: jsonable(out[k]) for k in ROW_KEYS}


def speedup_row(
    name: str,
    ours_s: float,
    baseline_s: float,
    at_least: float,
    details: dict,
    extra_ok: bool = True,
    extra_target: str = "",
) -> Row:
    """A row whose target is "ours at least ``at_least`` times faster": ratio = baseline_s / ours_s."""
    ratio = baseline_s / ours_s
    target = f">= {at_least:g}" + (f" and {extra_target}" if extra_target else "")
    return Row(name, ours_s, baseline_s, ratio, SPEEDUP, target, bool(ratio >= at_least and extra_ok), "ok", details)


def slowdown_row(name: str, ours_s: float, baseline_s: float, at_most: float, details: dict) -> Row:
    """A row whose target is "ours at most ``at_most`` times slower": ratio = ours_s / baseline_s."""
    ratio = ours_s / baseline_s
    return Row(name, ours_s, baseline_s, ratio, SLOWDOWN, f"<= {at_most:g}", bool(ratio <= at_most), "ok", details)


def pending_row(name: str, ratio_def: str, target: str, reason: str) -> Row:
    """Nothing could be measured (missing module or hardware); ``details["reason"]`` says why."""
    return Row(name, None, None, None, ratio_def, target, None, "pending", {"reason": reason})


def error_row(name: str, ratio_def: str, target: str, exc: BaseException) -> Row:
    return Row(name, None, None, None, ratio_def, target, None, "error", {"error": f"{type(exc).__name__}: {exc}"})


def time_alternately(
    ours: Callable[[], Any],
    baseline: Callable[[], Any],
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], None] | None = None,
    min_sample_s: float = 0.0,
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``ours`` and ``baseline``, timed alternately, ``repeats`` samples each.

    The first ``warmup`` rounds (one call of each) are run and discarded (allocator, caches,
    lazy imports). The order flips every round (ours first, then baseline first, ...) so neither
    side always runs on a machine the other has just warmed. A sample is ``number`` back-to-back
    calls divided by ``number``, with ``number`` chosen per side from the last warm-up round so
    that a sample lasts at least ``min_sample_s`` (1 when 0: each call timed alone), which keeps
    millisecond operations above the scheduler's noise on a shared machine. ``sync`` (e.g.
    ``torch.cuda.synchronize``) is called before each clock read. The garbage collector runs once
    before and is off during the timed calls (as in ``timeit``). Returns the two lists.
    """
    sync = sync or (lambda: None)

    def clock(fn: Callable[[], Any], number: int) -> float:
        sync()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        return (time.perf_counter() - t0) / number

    gc.collect()  # once; then, as timeit does, no collector pauses inside the timed calls
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        n_ours = n_base = 1
        for _ in range(warmup):
            t_ours, t_base = clock(ours, 1), clock(baseline, 1)
            if min_sample_s > 0:
                n_ours, n_base = (max(1, min(1000, math.ceil(min_sample_s / max(t, 1e-9)))) for t in (t_ours, t_base))
        ours_t: list[float] = []
        base_t: list[float] = []
        for r in range(repeats):
            if r % 2 == 0:
                ours_t.append(clock(ours, n_ours))
                base_t.append(clock(baseline, n_base))
            else:
                base_t.append(clock(baseline, n_base))
                ours_t.append(clock(ours, n_ours))
        return ours_t, base_t
    finally:
        if was_enabled:
            gc.enable()


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def spread(xs: list[float]) -> dict[str, float]:
    """Min, median and max of a list of timings, for ``details``."""
    return {"min": float(min(xs)), "median": median(xs), "max": float(max(xs)), "n": len(xs)}


@contextlib.contextmanager
def limited_threads(n: int):
    """Within the block, torch and every BLAS that numpy, scipy and scikit-learn load use ``n``
    threads; the previous settings are restored on exit."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn depends on threadpoolctl; without it BLAS keeps its default
        limiter = contextlib.nullcontext()
    else:
        limiter = threadpool_limits(n)
    try:
        with limiter:
            yield
    finally:
        torch.set_num_threads(previous)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else ``platform.processor()`` or ``platform.machine()``."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info(threads: int) -> dict[str, Any]:
    """The machine and library versions, recorded beside every result."""
    import numpy
    import scipy
    import sklearn
    import torch

    info = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "threads_used": threads,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import kornia

        info["kornia"] = kornia.__version__
    except ImportError:
        info["kornia"] = None
    return info
