"""Benchmark 2: ``is_ideal(Z, classes, probe="linear")`` versus one numpy SVD of the same codes.

THEORY.md T1.2 [paper]: for invariant codes, linear ideal-ness is affine independence of the K
class codes, which is a rank question, so the floor a user would compare against is the one
decomposition that answers it: ``np.linalg.svd(C, compute_uv=False)`` on the (K, d) class-code
matrix C (singular values only: no certificate needs vectors when the codes are ideal).

Inputs: one point per class (n = K, classes 0..K-1), codes drawn from a seeded standard normal,
so generic: affinely independent when K - 1 <= d (ideal), affinely dependent when K - 1 > d (not
ideal; ``is_ideal`` must then also build a certificate, T1.3, which no single SVD
gives: that row prices the certificate). The 4096 x 4096 case is float64: in float32 its smallest
singular value falls under the default tolerance, the verdict is "not ideal" and the row would
time the certificate instead of the rank test. Both sides get the same array, in the dtype shown in
the row name (float32 is what encoders produce; the SVD of both sides then runs in float32).

Row: ``ratio = ours_s / baseline_s`` (a slowdown), target ``<= 1``: the tolerance rule centres
and rescales the codes (offset- and scale-free) before its one decomposition (for float32
features the eigenvalues of the float64 Gram matrix, see ``geometry.gram_is_accurate``; for
float64 an SVD), and with the pair search and the certificate that must stay cheaper than the
SVD itself. One timed call = one
``is_ideal`` (its validation included) / one ``np.linalg.svd``. A warm-up on a small matrix
precedes the timed rounds; matrices up to 1024 x 1024 also get a warm-up round at full size and
samples of several calls (at least 50 ms), the 4096 x 4096 one (tens of seconds per SVD on two
cores) is timed one call per sample.

Two more rows:

- ``is_ideal_check_cli_...``: ``ssltheory check`` on a (20000, 2048) float32 feature file with 2000
  classes (10 identical views each) versus one SVD of the (2000, 2048) class codes, each in a
  fresh Python process (imports, loading the .npy and the work: what a user waits for), target
  ``<= 1``.
- ``is_ideal_exact_verify_...``: ``is_ideal(..., verify="exact")`` versus ``verify="none"`` on
  (256, 256) float64 codes with two planted exact dependences; the exact check (python-flint circuit in
  rational arithmetic) should add at most 2 s, so the target is ``ratio <= 1 + 2 s / baseline_s``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ssltheory.benchmarks.harness import (
    SLOWDOWN,
    BenchConfig,
    Row,
    error_row,
    median,
    pending_row,
    slowdown_row,
    spread,
    time_alternately,
)

NAME = "ideal"
TARGET = 1.0
EXACT_BUDGET_S = 2.0

#: (K, d, dtype, repeats) at full size and in --quick
FULL = ((1024, 1024, "float32", 5), (4096, 4096, "float64", 2), (512, 128, "float32", 2))
QUICK = ((128, 128, "float64", 3), (256, 256, "float32", 3), (64, 16, "float32", 2))
#: ``check`` in fresh processes: (n, d, K, repeats); exact verification: (K, d, repeats)
CLI_FULL, CLI_QUICK = (20000, 2048, 2000, 2), (2000, 256, 200, 2)
EXACT_FULL, EXACT_QUICK = (256, 256, 3), (64, 64, 3)


def row_name(K: int, d: int, dtype: str) -> str:
    """Named by the shape; whether K - 1 <= d (``full_dim``) or not (``dim_deficit``). The verdict
    itself is in ``details``: square Gaussian codes are badly conditioned (smallest / largest
    singular value ~ 1 / (2 K)), so in float32, whose default tolerance is max(K, d) * 1.2e-7,
    is_ideal rightly calls large ones numerically affinely dependent and pays for a certificate."""
    kind = "full_dim" if K - 1 <= d else "dim_deficit"
    return f"is_ideal_K{K}_d{d}_{dtype}_{kind}"


def run(config: BenchConfig) -> list[Row]:
    """The rows of this benchmark (see the module docstring) that ``config`` keeps."""
    target = f"<= {TARGET:g}"
    cases = [c for c in (QUICK if config.quick else FULL) if config.wants(row_name(*c[:3]))]
    try:
        from ssltheory.conditions import is_ideal
    except ImportError as exc:
        return [pending_row(row_name(*c[:3]), SLOWDOWN, target, f"ours not importable yet: {exc}") for c in cases]
    rows = []
    for K, d, dtype, repeats in cases:
        name = row_name(K, d, dtype)
        try:
            rows.append(_compare(name, is_ideal, K, d, dtype, config.repeats or repeats, config.seed))
        except Exception as exc:  # e.g. a solver failure inside is_ideal: report it, keep going
            rows.append(error_row(name, SLOWDOWN, target, exc))
    n, d, K, repeats = CLI_QUICK if config.quick else CLI_FULL
    name = f"is_ideal_check_cli_n{n}_d{d}_K{K}_float32"
    if config.wants(name):
        try:
            rows.append(_compare_cli(name, n, d, K, config.repeats or repeats, config.seed, config.threads))
        except Exception as exc:
            rows.append(error_row(name, SLOWDOWN, target, exc))
    K, d, repeats = EXACT_QUICK if config.quick else EXACT_FULL
    name = f"is_ideal_exact_verify_K{K}_d{d}_float64"
    if config.wants(name):
        try:
            rows.append(_compare_exact(name, is_ideal, K, d, config.repeats or repeats, config.seed))
        except Exception as exc:
            rows.append(error_row(name, SLOWDOWN, f"<= 1 + {EXACT_BUDGET_S:g} s / baseline_s", exc))
    return rows


def _compare_cli(name: str, n: int, d: int, K: int, repeats: int, seed: int, threads: int) -> Row:
    """``ssltheory check`` vs one SVD of the class codes, each a fresh process (see the module doc)."""
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(K, d)).astype(np.float32)
    classes = np.repeat(np.arange(K), n // K)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "features.npy", codes[classes])
        np.save(tmp / "classes.npy", classes)
        np.save(tmp / "codes.npy", codes)
        ours_cmd = [
            sys.executable,
            "-m",
            "ssltheory.cli",
            "check",
            str(tmp / "features.npy"),
            "--classes",
            str(tmp / "classes.npy"),
            "--json",
        ]
        base_cmd = [
            sys.executable,
            "-c",
            "import sys, numpy as np; np.linalg.svd(np.load(sys.argv[1]), compute_uv=False)",
            str(tmp / "codes.npy"),
        ]
        result = {}

        def ours():
            result["run"] = subprocess.run(ours_cmd, capture_output=True, text=True, env=env)

        def baseline():
            subprocess.run(base_cmd, check=True, capture_output=True, env=env)

        ours_t, base_t = time_alternately(ours, baseline, repeats=repeats, warmup=1)
    run = result["run"]
    details = {
        "call": "python -m ssltheory.cli check features.npy --classes classes.npy --json vs "
        "python -c 'np.linalg.svd(np.load(codes.npy), compute_uv=False)', fresh processes",
        "features": f"({n}, {d}) float32, {K} classes of {n // K} identical views, seeded standard normal codes",
        "exit_code": run.returncode,
        "ideal": _ideal_of(run.stdout),
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return slowdown_row(name, median(ours_t), median(base_t), TARGET, details)


def _ideal_of(stdout: str):
    import json

    try:
        return json.loads(stdout)["ideal"]
    except (ValueError, KeyError):
        return None


def _compare_exact(name: str, is_ideal, K: int, d: int, repeats: int, seed: int) -> Row:
    """is_ideal(verify="exact") vs verify="none" on codes with one planted dependence."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(-(2**20), 2**20, size=(K, d)) / 1024.0  # binary fractions: the sums below are exact
    codes[3] = 2 * codes[2] - codes[0]
    codes[K // 2] = 0.25 * codes[1] + 0.75 * codes[K - 1]
    classes = np.arange(K)
    verdict = {}

    def ours():
        verdict["exact"] = is_ideal(codes, classes, verify="exact")

    def baseline():
        verdict["none"] = is_ideal(codes, classes, verify="none")

    ours_t, base_t = time_alternately(ours, baseline, repeats=repeats, warmup=1)
    ours_s, base_s = median(ours_t), median(base_t)
    bound = 1.0 + EXACT_BUDGET_S / base_s
    cert = verdict["exact"].certificate
    details = {
        "call": "is_ideal(codes, arange(K), verify='exact') vs is_ideal(codes, arange(K), verify='none')",
        "codes": f"({K}, {d}) float64, seeded integers / 1024 with c_3 = "
        "2 c_2 - c_0 and c_K/2 = c_1 / 4 + 3 c_K-1 / 4 (exact)",
        "exact_check_s": ours_s - base_s,
        "budget_s": EXACT_BUDGET_S,
        "verification": None if cert is None else cert.witness["verification"],
        "support": None if cert is None else cert.witness["support"],
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return slowdown_row(name, ours_s, base_s, bound, details)


def _compare(name: str, is_ideal, K: int, d: int, dtype: str, repeats: int, seed: int) -> Row:
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(K, d)).astype(dtype)
    classes = np.arange(K)
    verdict = {}

    def ours():
        verdict["v"] = is_ideal(codes, classes, probe="linear")

    def baseline():
        np.linalg.svd(codes, compute_uv=False)

    small = min(K, 64), min(d, 64)
    is_ideal(codes[: small[0], : small[1]], classes[: small[0]], probe="linear")
    np.linalg.svd(codes[: small[0], : small[1]], compute_uv=False)
    big = K * d > 1024 * 1024  # one call is seconds: no calibration round, one call per sample
    ours_t, base_t = time_alternately(
        ours, baseline, repeats=repeats, warmup=0 if big else 1, min_sample_s=0.0 if big else 0.02
    )
    v = verdict["v"]
    details = {
        "call": "is_ideal(codes, arange(K), probe='linear') vs np.linalg.svd(codes, compute_uv=False)",
        "codes": f"({K}, {d}) {dtype}, seeded standard normal, one point per class",
        "verdict_ok": bool(v.ok),
        "expected_ok_in_exact_arithmetic": K - 1 <= d,
        "affine_independence_detail": _conditioning(v),
        "certificate": None if v.certificate is None else v.certificate.kind,
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return slowdown_row(name, median(ours_t), median(base_t), TARGET, details)


def _conditioning(verdict) -> str:
    """The affine-independence detail of the verdict (singular values and tolerance), as text."""
    condition = verdict.conditions.get("affine_independence") if isinstance(verdict.conditions, dict) else None
    return getattr(condition, "detail", None) or "n/a"
