"""The thread policy (ssltheory/threads.py): one owner of torch's and BLAS's thread counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from ssltheory.errors import InputError
from ssltheory.threads import ENV, thread_count, thread_limit

REPO = Path(__file__).resolve().parents[1]


def test_the_environment_overrides_the_policy(monkeypatch):
    monkeypatch.setenv(ENV, "3")
    assert thread_count() == 3
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(InputError, match=f"{ENV} must be a positive integer"):
            thread_count()


def test_the_default_is_at_least_one_and_at_most_the_usable_cores(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert 1 <= thread_count() <= len(os.sched_getaffinity(0))


def test_thread_limit_sets_torch_and_blas_and_restores_them():
    before_torch = torch.get_num_threads()
    before_blas = [p["num_threads"] for p in threadpool_info()]
    with thread_limit(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
        np.linalg.eigvalsh(np.eye(4))
    assert torch.get_num_threads() == before_torch
    assert [p["num_threads"] for p in threadpool_info()] == before_blas


def test_a_bad_override_is_exit_2_naming_it(tmp_path):
    np.save(tmp_path / "Z.npy", np.eye(4))
    np.save(tmp_path / "c.npy", np.array([0, 0, 1, 1]))
    env = dict(os.environ, PYTHONPATH=str(REPO), **{ENV: "many"})
    proc = subprocess.run(
        [sys.executable, "-m", "ssltheory.cli", "check", str(tmp_path / "Z.npy"), "--classes", str(tmp_path / "c.npy")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and f"{ENV} must be a positive integer" in proc.stderr
