"""Progress of long jobs, on a terminal or not.

On a terminal, a tqdm bar. Anywhere else (CI logs, ``nohup``, ``| cat``, a notebook's captured
stderr) a bar's carriage returns are unreadable, so the same meter is printed as one plain line
every ``interval`` seconds, and once more when the job ends::

    train cissl:  120/300 step [00:10<00:15, 11.9 step/s, loss=1.234]

Both use tqdm's own meter (:meth:`tqdm.tqdm.format_meter`), so rates and time left read the same.
The interval defaults to 5 s; ``SSLTHEORY_PROGRESS_INTERVAL`` overrides it (tests set it to 0).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import IO, Any, Iterator

from tqdm import tqdm

from ssltheory.errors import InputError

DEFAULT_INTERVAL_S = 5.0


def _interval(interval: float | None) -> float:
    if interval is not None:
        return float(interval)
    env = os.environ.get("SSLTHEORY_PROGRESS_INTERVAL")
    if env is None:
        return DEFAULT_INTERVAL_S
    try:
        return max(0.0, float(env))
    except ValueError:
        raise InputError(f"SSLTHEORY_PROGRESS_INTERVAL must be a number of seconds, got {env!r}") from None


def _format_postfix(postfix: dict[str, Any]) -> str:
    parts = []
    for key, value in postfix.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


class Progress:
    """Report how far a job has got: ``with Progress(300, "train cissl") as bar: bar.update(1, loss=l)``.

    Args:
        total: number of units the job will do (None when unknown: no percentage, no time left).
        desc: what the job is, printed first on each line ("train cissl", "experiment synthetic").
        unit: name of one unit ("step", "run", "check").
        initial: units already done (a resumed run).
        interval: seconds between plain lines off a terminal (default ``SSLTHEORY_PROGRESS_INTERVAL``
            or 5 s). On a terminal tqdm redraws as it sees fit.
        file: where to write (default ``sys.stderr``).
        disable: print nothing (``--quiet``).
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "step",
        initial: int = 0,
        interval: float | None = None,
        file: IO[str] | None = None,
        disable: bool = False,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = int(initial)
        self._initial = int(initial)
        self._file = file if file is not None else sys.stderr
        self._disable = disable
        self.interval = _interval(interval)
        self._postfix: dict[str, Any] = {}
        self._start = time.monotonic()
        self._last_line = self._start
        self._last_printed_n: int | None = None
        self._closed = False
        isatty = getattr(self._file, "isatty", None)
        self._bar = None
        if not disable and callable(isatty) and isatty():
            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self._file, dynamic_ncols=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Count ``n`` more units done; ``postfix`` values (loss=..., acc=...) are shown after the meter."""
        self.n += n
        if postfix:
            self._postfix.update(postfix)
        if self._disable:
            return
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(_format_postfix(self._postfix), refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self._print_line(now)

    def write(self, message: str) -> None:
        """Print one message line without breaking the bar."""
        if self._disable:
            return
        if self._bar is not None:
            self._bar.write(message, file=self._file)
        else:
            print(message, file=self._file, flush=True)

    def _print_line(self, now: float) -> None:
        elapsed = now - self._start
        done = self.n - self._initial
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        meter = tqdm.format_meter(
            self.n,
            self.total,
            elapsed,
            prefix=self.desc,
            unit=self.unit,
            rate=rate,
            postfix=_format_postfix(self._postfix) or None,
            ncols=0,
        )
        self._last_printed_n = self.n
        print(meter, file=self._file, flush=True)

    def close(self) -> None:
        """Finish: the bar closes; off a terminal one last line says where the job ended."""
        if self._closed:
            return
        self._closed = True
        if self._disable:
            return
        if self._bar is not None:
            self._bar.close()
        elif self._last_printed_n != self.n:
            self._print_line(time.monotonic())


@contextlib.contextmanager
def ticking(progress: Progress, every: float = 1.0) -> Iterator[Progress]:
    """Within the block, ``progress`` is updated by 0 units every ``every`` seconds from a
    background thread, so that a job whose units take minutes each (an experiment's part, a
    benchmark) still prints its meter line, with the time elapsed, every ``interval`` seconds
    off a terminal. Yields ``progress``."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            progress.update(0)

    thread = threading.Thread(target=beat, name="progress-ticking", daemon=True)
    thread.start()
    try:
        yield progress
    finally:
        stop.set()
        thread.join()
