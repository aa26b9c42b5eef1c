"""Shared test set-up.

Hypothesis profiles, registered here and nowhere else: ``ci`` (the default: 60 examples per
property, derandomized, so `make test` and CI are repeatable) and ``thorough`` (500 examples per
property, random). Choose one with ``SSLTHEORY_PROFILE=thorough`` or hypothesis's own
``--hypothesis-profile=thorough``. A property never pins ``max_examples`` with its own
``@settings``: an expensive one runs a share of the profile's
(``ssltheory.testing.strategies.fraction_of_profile``), so the profile scales every property.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("SSLTHEORY_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mnist_dir() -> Path:
    """MNIST idx files where the library looks for them (``ssltheory.ssl.datasets.default_data_dir``)."""
    from ssltheory.ssl.datasets import default_data_dir

    path = default_data_dir("mnist")
    if path is None or not any((path / f"train-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz")):
        pytest.skip(f"MNIST idx files not found (at {path}; set SSLTHEORY_MNIST)")
    return path


@pytest.fixture(autouse=True)
def _few_threads():
    """Tiny tensors: one thread avoids thread-pool overhead (and oversubscription)."""
    try:
        import torch
    except ImportError:  # theory-only environments
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
