"""Property-test your own statements about representations: strategies, oracles, assertions.

Public API (docs/TESTING.md walks through three examples)::

    from ssltheory.testing import oracles                      # exact rational oracles, no hypothesis
    from ssltheory.testing import assert_ideal, assert_not_ideal, assert_invariant_task_realizable
    from ssltheory.testing import strategies                   # hypothesis strategies: pip install 'ssltheory[testing]'

- :mod:`ssltheory.testing.oracles`: independent reference computations (Fraction elimination, a
  phase-one simplex in Fractions, hull intersection, the worst ERM risk by enumeration).
- :mod:`ssltheory.testing.assertions`: assertion helpers whose failure message is the certificate.
- :mod:`ssltheory.testing.strategies`: hypothesis strategies for equivalence classes, invariant
  tasks and class codes with their answer attached, which shrink to small counterexamples.
  Importing it without hypothesis raises ImportError naming the extra to install.
"""

from __future__ import annotations

from ssltheory.testing import oracles
from ssltheory.testing.assertions import assert_ideal, assert_invariant_task_realizable, assert_not_ideal

__all__ = ["oracles", "strategies", "assert_ideal", "assert_not_ideal", "assert_invariant_task_realizable"]


def __getattr__(name: str):
    """``ssltheory.testing.strategies`` on attribute access too (it needs hypothesis)."""
    if name == "strategies":
        import importlib

        return importlib.import_module("ssltheory.testing.strategies")
    raise AttributeError(f"module 'ssltheory.testing' has no attribute {name!r}")
