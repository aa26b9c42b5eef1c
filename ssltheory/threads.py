"""The thread policy: one owner of how many threads torch and the BLAS libraries use.

torch's intra-op pool and the BLAS behind numpy / scipy (OpenBLAS, MKL) each start one thread per
core by default. Used together, or on a machine other processes keep busy, they oversubscribe the
cores: OpenMP regions then wait for descheduled threads, and the same scoring ran 4 to 40 times
slower than with one thread. So every command (`ssltheory.cli.main`) and the API's heavy
calls (`ssltheory.metrics.score_all`, `ssltheory.ssl.views.score_encoder`) run under this policy:

- ``SSLTHEORY_THREADS`` (environment, a positive integer) when set: that many threads;
- otherwise the cores this process may use (``os.sched_getaffinity``) that are not already busy
  (minus the 1-minute load average, ``os.getloadavg``), at least 1.

`thread_count()` says the number; `apply_thread_policy()` sets it for the whole process (the
command line calls it first: it also exports ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` /
``MKL_NUM_THREADS`` where the user has not, so that libraries loaded afterwards and child processes
start with it); `thread_limit()` is the context manager the API's heavy calls use (BLAS through
threadpoolctl, torch through ``torch.set_num_threads`` when torch is already imported; both restored
on exit). Nothing here imports torch or numpy at module level.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ssltheory.errors import InputError

__all__ = ["ENV", "thread_count", "apply_thread_policy", "thread_limit"]

#: the environment variable that overrides the policy
ENV = "SSLTHEORY_THREADS"
_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_GLOBAL_LIMITS: list = []  # keeps the process-wide threadpoolctl limit alive


def thread_count() -> int:
    """Threads for torch and BLAS under the policy (see the module docstring)."""
    given = os.environ.get(ENV)
    if given is not None and given.strip():
        try:
            n = int(given)
        except ValueError:
            raise InputError(f"{ENV} must be a positive integer, got {given!r}") from None
        if n < 1:
            raise InputError(f"{ENV} must be a positive integer, got {given!r}")
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0])
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(cores, cores - busy))


def apply_thread_policy(n: int | None = None) -> int:
    """Set the policy for the whole process; return the thread count.

    Exports the BLAS / OpenMP variables the user has not set (read by libraries loaded later and by
    child processes), limits the BLAS pools already loaded (threadpoolctl) and torch's intra-op
    pool when torch is imported.
    """
    n = thread_count() if n is None else int(n)
    for name in _BLAS_ENV:
        os.environ.setdefault(name, str(n))
    _limit_loaded(n, global_limit=True)
    return n


def _limit_loaded(n: int, global_limit: bool = False):
    """Limit the pools loaded now; return what restores them (None when nothing was changed)."""
    limiter = None
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # scikit-learn depends on threadpoolctl; without it BLAS keeps its own setting
            threadpool_limits = None
        if threadpool_limits is not None:
            limiter = threadpool_limits(n)
            if global_limit:
                _GLOBAL_LIMITS[:] = [limiter]
    previous = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        previous = torch.get_num_threads()
        torch.set_num_threads(n)
    return limiter, previous


@contextlib.contextmanager
def thread_limit(n: int | None = None):
    """Within the block, BLAS and (already imported) torch use ``n`` threads (default: the policy's)."""
    n = thread_count() if n is None else int(n)
    limiter, previous = _limit_loaded(n)
    try:
        yield n
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        if previous is not None:
            sys.modules["torch"].set_num_threads(previous)
