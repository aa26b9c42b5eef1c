"""ssltheory: exact conditions for ideal self-supervised representations.

Dubois, Hashimoto, Ermon, Liang, "Improving Self-Supervised Learning by Characterizing
Idealized Representations", NeurIPS 2022. See docs/THEORY.md, statements T1-T9, P2, P3.

Public contract::

    from ssltheory import EquivalenceClasses, is_ideal, linearly_separable, cover_count
"""

from ssltheory.equivalence import EquivalenceClasses
from ssltheory.conditions import is_ideal, cover_count, IdealVerdict
from ssltheory.geometry import linearly_separable

__all__ = ["EquivalenceClasses", "is_ideal", "linearly_separable", "cover_count", "IdealVerdict"]
__version__ = "0.1.0"
