"""The project's own exception: :class:`InputError`, bad input named where it enters.

Every check of an argument, a flag, a file's contents or a configuration raises InputError with
one line naming the problem and what to do (``ssltheory.validation`` holds the shared checks).
It is a ``ValueError``, so ``except ValueError`` and ``pytest.raises(ValueError)`` still catch it.
The command line (:mod:`ssltheory.cli`) prints an InputError as one line and exits 2; every other
exception that reaches it (a ``ValueError`` from numpy or torch included) is a bug in ssltheory
and is reported as one, with its traceback. Nothing here imports anything, so the command line
stays light.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input, found by a check at the boundary; the message is one line naming the problem."""
