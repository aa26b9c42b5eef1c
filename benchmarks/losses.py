"""Benchmark 3: forward + backward of every SSL loss at batch 512 against a baseline.

Ours: ``ssltheory.ssl.losses`` (``NTXentLoss``, ``CISSLLoss``, ``DINOLoss``, ``DISSLLoss``,
``SwAVLoss``, ``BarlowTwinsLoss``, ``SimSiamLoss``) with the defaults of docs/REFERENCE.md and of
their papers. Baseline (``run``, rows ``loss_*``): lightly's ``NTXentLoss`` / ``DINOLoss`` where
lightly is importable (it is optional, never required), otherwise the plain reference
implementations of :mod:`ssltheory.benchmarks.reference_losses`; the other losses race the reference.

Peers (``run_peers``, rows ``peer_loss_*``, ``ssltheory bench --peers``): every loss that lightly
also implements (SimCLR, DINO, SwAV, Barlow Twins, SimSiam via ``NegativeCosineSimilarity`` with
the stop-gradient) against lightly's, always; pending rows when lightly does not import (beside
this project's pinned torch it does not: README, "Benchmarks", gives the separate environment).
CISSL and DISSL have no lightly counterpart.

Inputs are head outputs, identical for both sides: (B, 128) projections for SimCLR and CISSL,
(B, C) logits for DINO (C = 1000, docs/REFERENCE.md) and DISSL (C = 16384, THEORY.md T7), SwAV's
prototype scores (cosines, 2 global + 4 small crops, K = 3000 [paper]), (B, 2048) projections
for Barlow Twins (the small-image projector width; the ImageNet 8192 costs 16 times more per
call and races the same matmul) and for SimSiam, float32, drawn from a seeded normal. One timed
call = zero the input gradients, compute the loss, ``backward()``. Before timing, the two sides'
loss values and gradients are compared (``details.values_agree`` / ``grads_agree``), so the race
is between equal computations.

Row: ``ratio = ours_s / baseline_s`` (a slowdown), target ``<= 1.2``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from ssltheory.benchmarks import reference_losses as ref
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
from ssltheory.ssl.losses.barlow import BarlowTwinsLoss
from ssltheory.ssl.losses.cissl import CISSLLoss
from ssltheory.ssl.losses.dino import DINOLoss
from ssltheory.ssl.losses.dissl import DISSLLoss
from ssltheory.ssl.losses.simclr import NTXentLoss
from ssltheory.ssl.losses.simsiam import SimSiamLoss
from ssltheory.ssl.losses.swav import SwAVLoss

NAME = "losses"
TARGET = 1.2  # ours at most 1.2 times the baseline's time


@dataclass
class LossCase:
    name: str
    inputs: Callable[[int, torch.Generator], list[torch.Tensor]]  # (batch, generator) -> leaf tensors
    ours: Callable[[], Callable[[list[torch.Tensor]], torch.Tensor]]  # builds the loss; may raise ImportError
    baseline: Callable[[], tuple[Callable[[list[torch.Tensor]], torch.Tensor], str]]  # (loss, its description)


def _leaves(
    shapes: list[tuple[int, int]], requires_grad: list[bool], generator: torch.Generator, scale: float = 1.0
) -> list[torch.Tensor]:
    return [(scale * torch.randn(s, generator=generator)).requires_grad_(g) for s, g in zip(shapes, requires_grad)]


def _lightly(class_name: str):
    """lightly's loss class, or None when lightly is not installed."""
    try:
        import lightly.loss as lightly_loss
    except ImportError:
        return None
    return getattr(lightly_loss, class_name, None)


# ---- SimCLR --------------------------------------------------------------------------------------


def _simclr_ours():
    loss = NTXentLoss(temperature=0.07, distributed=False)
    return lambda x: loss(x[0], x[1])[0]


def _simclr_baseline():
    lightly_cls = _lightly("NTXentLoss")
    if lightly_cls is not None:
        loss = lightly_cls(temperature=0.07, memory_bank_size=0)
        return (lambda x: loss(x[0], x[1])), "lightly.loss.NTXentLoss"
    return (
        lambda x: ref.ntxent(x[0], x[1], 0.07)
    ), "ssltheory.benchmarks.reference_losses.ntxent (lightly not installed)"


# ---- CISSL ---------------------------------------------------------------------------------------


def _cissl_ours():
    loss = CISSLLoss(temperature=0.07, distributed=False)
    return lambda x: loss(x[0], x[1], x[2], x[3])[0]


def _cissl_baseline():
    return (
        lambda x: ref.cissl(x[0], x[1], x[2], x[3], 0.07)
    ), "ssltheory.benchmarks.reference_losses.cissl (no lightly counterpart)"


# ---- DINO ----------------------------------------------------------------------------------------
# inputs: student a, student b (with gradient), teacher a, teacher b (EMA network: no gradient).
# DINO's last layer is a cosine (weight-normalised) layer, so its logits are O(1): we draw
# 0.3 * N(0, 1). Standard-normal logits at teacher temperature 0.04 would produce subnormal
# probabilities, whose arithmetic is far slower on x86 and would time the FPU, not the code.
DINO_CODES = 1000
DINO_LOGIT_SCALE = 0.3
DINO_TEACHER_TEMP = 0.04  # the start of the 0.04 -> 0.07 warm-up


def _dino_ours(n_codes: int = DINO_CODES):
    loss = DINOLoss(n_codes=n_codes, student_temperature=0.1, center_momentum=0.9, distributed=False)
    return lambda x: loss([x[0], x[1]], [x[2], x[3]], teacher_temperature=DINO_TEACHER_TEMP)[0]


def _dino_baseline(n_codes: int = DINO_CODES):
    lightly_cls = _lightly("DINOLoss")
    if lightly_cls is not None:
        loss = lightly_cls(
            output_dim=n_codes,
            warmup_teacher_temp=DINO_TEACHER_TEMP,
            teacher_temp=DINO_TEACHER_TEMP,
            warmup_teacher_temp_epochs=0,
            student_temp=0.1,
            center_momentum=0.9,
        )
        return (lambda x: loss([x[2], x[3]], [x[0], x[1]], epoch=0)), "lightly.loss.DINOLoss"
    center = torch.zeros(1, n_codes)
    return (
        lambda x: ref.dino([x[0], x[1]], [x[2], x[3]], center, DINO_TEACHER_TEMP, 0.1, 0.9)
    ), "ssltheory.benchmarks.reference_losses.dino (lightly not installed)"


# ---- DISSL ---------------------------------------------------------------------------------------
# inputs: teacher a, teacher b, student a, student b logits, all with gradient (no stop-gradient)
DISSL_CODES = 16384


def _dissl_ours():
    loss = DISSLLoss(distributed=False)
    return lambda x: loss([x[2], x[3]], [x[0], x[1]])[0]


def _dissl_baseline():
    return (
        lambda x: ref.dissl(x[0], x[1], x[2], x[3])
    ), "ssltheory.benchmarks.reference_losses.dissl (no lightly counterpart)"


# ---- SwAV, Barlow Twins, SimSiam ------------------------------------------------------------------
# SwAV inputs: 2 global + 4 small crops' prototype scores in [-1, 1] (cosines), with gradient.
SWAV_PROTOTYPES = 3000
SWAV_CROPS = 6
BARLOW_DIM = 2048
SIMSIAM_DIM = 2048


def _swav_inputs(batch: int, generator: torch.Generator, prototypes: int) -> list[torch.Tensor]:
    return [torch.randn(batch, prototypes, generator=generator).tanh().requires_grad_() for _ in range(SWAV_CROPS)]


def _swav_ours():
    loss = SwAVLoss(temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, distributed=False)
    return lambda x: loss(x, n_global=2)[0]


def _swav_reference():
    return (lambda x: ref.swav(x, 2, 0.1, 0.05, 3)), "ssltheory.benchmarks.reference_losses.swav"


def _swav_lightly():
    loss = _require_lightly("SwaVLoss")(temperature=0.1, sinkhorn_iterations=3, sinkhorn_epsilon=0.05)
    return (lambda x: loss(x[:2], x[2:])), "lightly.loss.SwaVLoss"


def _barlow_ours():
    loss = BarlowTwinsLoss(lambda_offdiag=0.0051, distributed=False)
    return lambda x: loss(x[0], x[1])[0]


def _barlow_reference():
    return (lambda x: ref.barlow_twins(x[0], x[1], 0.0051)), "ssltheory.benchmarks.reference_losses.barlow_twins"


def _barlow_lightly():
    loss = _require_lightly("BarlowTwinsLoss")(lambda_param=0.0051)
    return (lambda x: loss(x[0], x[1])), "lightly.loss.BarlowTwinsLoss"


def _simsiam_ours():
    loss = SimSiamLoss()
    return lambda x: loss(*x)[0]


def _simsiam_reference():
    return (lambda x: ref.simsiam(*x)), "ssltheory.benchmarks.reference_losses.simsiam"


def _simsiam_lightly():
    cosine = _require_lightly("NegativeCosineSimilarity")()
    return (
        lambda x: 0.5 * (cosine(x[0], x[3].detach()) + cosine(x[1], x[2].detach()))
    ), "lightly.loss.NegativeCosineSimilarity (with SimSiam's stop-gradient)"


def _require_lightly(class_name: str):
    cls = _lightly(class_name)
    if cls is None:
        raise ImportError(
            f"lightly.loss.{class_name} does not import here (see README, Benchmarks, for the environment)"
        )
    return cls


def _simclr_lightly():
    loss = _require_lightly("NTXentLoss")(temperature=0.07, memory_bank_size=0)
    return (lambda x: loss(x[0], x[1])), "lightly.loss.NTXentLoss"


def _dino_lightly(n_codes: int = DINO_CODES):
    _require_lightly("DINOLoss")
    return _dino_baseline(n_codes)


def cases(
    proj_dim: int = 128,
    dino_codes: int = DINO_CODES,
    dissl_codes: int = DISSL_CODES,
    swav_prototypes: int = SWAV_PROTOTYPES,
    wide_dim: int = BARLOW_DIM,
) -> list[LossCase]:
    """The comparisons against the repository's baselines; sizes are arguments so that tests can shrink them."""
    return [
        LossCase(
            "loss_simclr", lambda b, g: _leaves([(b, proj_dim)] * 2, [True] * 2, g), _simclr_ours, _simclr_baseline
        ),
        LossCase("loss_cissl", lambda b, g: _leaves([(b, proj_dim)] * 4, [True] * 4, g), _cissl_ours, _cissl_baseline),
        LossCase(
            "loss_dino",
            lambda b, g: _leaves([(b, dino_codes)] * 4, [True, True, False, False], g, DINO_LOGIT_SCALE),
            functools.partial(_dino_ours, dino_codes),
            functools.partial(_dino_baseline, dino_codes),
        ),
        LossCase(
            "loss_dissl", lambda b, g: _leaves([(b, dissl_codes)] * 4, [True] * 4, g), _dissl_ours, _dissl_baseline
        ),
        LossCase("loss_swav", lambda b, g: _swav_inputs(b, g, swav_prototypes), _swav_ours, _swav_reference),
        LossCase(
            "loss_barlow", lambda b, g: _leaves([(b, wide_dim)] * 2, [True] * 2, g), _barlow_ours, _barlow_reference
        ),
        LossCase(
            "loss_simsiam", lambda b, g: _leaves([(b, wide_dim)] * 4, [True] * 4, g), _simsiam_ours, _simsiam_reference
        ),
    ]


def peer_cases(
    proj_dim: int = 128,
    dino_codes: int = DINO_CODES,
    swav_prototypes: int = SWAV_PROTOTYPES,
    wide_dim: int = BARLOW_DIM,
) -> list[LossCase]:
    """Every loss lightly also implements, against lightly's (ImportError when lightly does not import)."""
    lightly_baselines = {
        "loss_simclr": _simclr_lightly,
        "loss_dino": functools.partial(_dino_lightly, dino_codes),
        "loss_swav": _swav_lightly,
        "loss_barlow": _barlow_lightly,
        "loss_simsiam": _simsiam_lightly,
    }
    chosen = cases(proj_dim=proj_dim, dino_codes=dino_codes, swav_prototypes=swav_prototypes, wide_dim=wide_dim)
    return [
        LossCase("peer_" + c.name, c.inputs, c.ours, lightly_baselines[c.name])
        for c in chosen
        if c.name in lightly_baselines
    ]


def _forward_backward(loss_fn: Callable[[list[torch.Tensor]], torch.Tensor], inputs: list[torch.Tensor]) -> float:
    for x in inputs:
        x.grad = None
    loss = loss_fn(inputs)
    loss.backward()
    return float(loss.detach())


QUICK_SIZES = {"proj_dim": 32, "dino_codes": 256, "swav_prototypes": 300, "wide_dim": 256}


def run(config: BenchConfig) -> list[Row]:
    """Rows ``loss_*``: every loss against lightly where it imports, else the reference."""
    chosen = cases(dissl_codes=1024, **QUICK_SIZES) if config.quick else cases()
    return _run_cases(chosen, config)


def run_peers(config: BenchConfig) -> list[Row]:
    """Rows ``peer_loss_*``: every loss lightly implements against lightly's (pending without lightly)."""
    chosen = peer_cases(**QUICK_SIZES) if config.quick else peer_cases()
    return _run_cases(chosen, config)


def _run_cases(chosen: list[LossCase], config: BenchConfig) -> list[Row]:
    batch = 64 if config.quick else 512
    repeats = config.rounds(3, 11)
    rows = []
    for case in chosen:
        if not config.wants(case.name):
            continue
        try:
            ours = case.ours()
            case.baseline()
        except ImportError as exc:
            rows.append(pending_row(case.name, SLOWDOWN, f"<= {TARGET:g}", f"not importable here: {exc}"))
            continue
        try:
            rows.append(_compare(case, ours, batch, repeats, config.seed, config.quick))
        except Exception as exc:  # one broken loss must not hide the others
            rows.append(error_row(case.name, SLOWDOWN, f"<= {TARGET:g}", exc))
    return rows


def _compare(case: LossCase, ours, batch: int, repeats: int, seed: int, quick: bool) -> Row:
    baseline, baseline_name = case.baseline()
    inputs = case.inputs(batch, torch.Generator().manual_seed(seed))
    # Both sides on identical inputs before any stateful update (DINO's centre starts at zero on both).
    ours_value = _forward_backward(ours, inputs)
    ours_grads = [None if x.grad is None else x.grad.clone() for x in inputs]
    base_value = _forward_backward(baseline, inputs)
    grads_agree = all(
        (a is None and x.grad is None)
        or (a is not None and x.grad is not None and torch.allclose(a, x.grad, rtol=1e-3, atol=1e-6))
        for a, x in zip(ours_grads, inputs)
    )
    values_agree = abs(ours_value - base_value) <= 1e-4 * max(1.0, abs(base_value))

    ours_t, base_t = time_alternately(
        lambda: _forward_backward(ours, inputs),
        lambda: _forward_backward(baseline, inputs),
        repeats=repeats,
        warmup=2,
        min_sample_s=0.01 if quick else 0.05,
    )
    shape = tuple(inputs[0].shape)
    details = {
        "call": "zero grads + loss forward + backward on fixed head outputs",
        "batch": batch,
        "input_shape": list(shape),
        "n_inputs": len(inputs),
        "baseline": baseline_name,
        "ours_value": ours_value,
        "baseline_value": base_value,
        "values_agree": values_agree,
        "grads_agree": grads_agree,
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return slowdown_row(case.name, median(ours_t), median(base_t), TARGET, details)
