"""Shared test set-up.

Hypothesis profiles: the default keeps `make test` fast; `SSLTHEORY_PROFILE=thorough` runs at
least 500 examples per property (e.g. `SSLTHEORY_PROFILE=thorough .venv/bin/pytest tests`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("SSLTHEORY_PROFILE", "default"))

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mnist_dir() -> Path:
    """MNIST idx files where the library looks for them (``ssltheory.ssl.data.default_data_dir``)."""
    from ssltheory.ssl.data import default_data_dir

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
