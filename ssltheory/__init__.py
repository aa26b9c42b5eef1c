"""ssltheory: exact conditions for ideal self-supervised representations.

Dubois, Hashimoto, Ermon, Liang, "Improving Self-Supervised Learning by Characterizing
Idealized Representations", NeurIPS 2022. See THEORY.md statements T1-T9.

Public contract::

    from ssltheory import EquivalenceClasses, is_ideal, linearly_separable, cover_count
    from ssltheory import score_encoder   # any nn.Module on augmented views (imports torch)
"""

from ssltheory.equivalence import EquivalenceClasses
from ssltheory.conditions import is_ideal, cover_count, IdealVerdict
from ssltheory.geometry import linearly_separable

__all__ = ["EquivalenceClasses", "is_ideal", "linearly_separable", "cover_count", "IdealVerdict", "score_encoder"]


def __getattr__(name):
    """``ssltheory.score_encoder`` (`ssltheory.ssl.views.score_encoder`), imported on first use so
    that ``import ssltheory`` does not import torch."""
    if name == "score_encoder":
        from ssltheory.ssl.views import score_encoder

        return score_encoder
    raise AttributeError(f"module 'ssltheory' has no attribute {name!r}")
__version__ = "0.1.0"
