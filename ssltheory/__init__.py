"""ssltheory: exact conditions for ideal self-supervised representations.

Dubois, Hashimoto, Ermon, Liang, "Improving Self-Supervised Learning by Characterizing
Idealized Representations", NeurIPS 2022. See docs/THEORY.md, statements T1-T9, P2, P3.

Public contract::

    from ssltheory import EquivalenceClasses, is_ideal, linearly_separable, cover_count
    from ssltheory import score_encoder   # any nn.Module on augmented views (imports torch)
    from ssltheory import score_all, SCORES, ViewStatistics   # an (n, d) matrix of view features

Importing the package is light (no numpy, scipy or torch): the public names are loaded on first
use, so that ``ssltheory --help`` starts as fast as Python does.

Layout: the repository keeps ``experiments/``, ``paper_checks/`` and ``benchmarks/`` at its top
level, and an install puts them inside this package (``ssltheory.experiments``, ...; the
package-dir mapping of ``pyproject.toml``). Run from a checkout (``PYTHONPATH=.``, or an editable
install made before that mapping), the same three names are mapped onto the top-level folders
beside this package, so the code imports them one way everywhere.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import PathFinder
from pathlib import Path

__version__ = "0.1.0"

#: public name -> module defining it; loaded on first access (PEP 562).
_LAZY = {
    "EquivalenceClasses": "ssltheory.equivalence",
    "is_ideal": "ssltheory.conditions",
    "cover_count": "ssltheory.conditions",
    "IdealVerdict": "ssltheory.conditions",
    "linearly_separable": "ssltheory.geometry",
    "score_encoder": "ssltheory.ssl.views",
    "score_all": "ssltheory.metrics",
    "SCORES": "ssltheory.metrics",
    "ViewStatistics": "ssltheory.view_statistics",
    "InputError": "ssltheory.errors",
}
__all__ = [
    "EquivalenceClasses",
    "is_ideal",
    "linearly_separable",
    "cover_count",
    "IdealVerdict",
    "score_encoder",
    "score_all",
    "SCORES",
    "ViewStatistics",
    "InputError",
]

#: subpackages that live in top-level folders of the repository (installed inside this package)
TOP_LEVEL_FOLDERS = ("experiments", "paper_checks", "benchmarks")


def __getattr__(name: str):
    """Load a public name from its module on first access (``from ssltheory import is_ideal``)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ssltheory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _CheckoutFinder:
    """Finds ``ssltheory.<folder>`` in a source checkout, where the folder sits beside the package.

    Answers only for the names of :data:`TOP_LEVEL_FOLDERS`; their submodules are then found by
    the usual machinery through the subpackage's ``__path__``.
    """

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.names = {f"{__name__}.{folder}" for folder in TOP_LEVEL_FOLDERS}

    def find_spec(self, fullname: str, path=None, target=None):
        """The spec of ``ssltheory.<folder>`` from ``<checkout>/<folder>``; None for any other name."""
        if fullname not in self.names:
            return None
        return PathFinder.find_spec(fullname, [self.root])


def _install_checkout_finder() -> None:
    here = Path(__file__).resolve().parent
    root = here.parent
    if (here / "experiments").is_dir() or not (root / "pyproject.toml").is_file():
        return  # an installed layout: the subpackages are real folders of this package
    if any(isinstance(f, _CheckoutFinder) for f in sys.meta_path):
        return
    # First in line, so that an editable install of another checkout cannot answer instead.
    sys.meta_path.insert(0, _CheckoutFinder(root))


_install_checkout_finder()
