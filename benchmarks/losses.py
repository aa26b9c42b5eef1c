"""Benchmark 3: forward + backward of the four SSL losses at batch 512 against a baseline.

Ours: ``ssltheory.ssl.losses`` (``NTXentLoss``, ``CISSLLoss``, ``DINOLoss``, ``DISSLLoss``) with
the defaults of REFERENCE.md. Baseline: lightly's ``NTXentLoss`` / ``DINOLoss`` where lightly is
importable (it is optional, never required), otherwise the plain reference implementations of
:mod:`ssltheory.benchmarks.reference_losses`; CISSL and DISSL have no lightly counterpart, so their
baseline is always the reference.

Inputs are head outputs, identical for both sides: (B, 128) projections for SimCLR and CISSL,
(B, C) logits for DINO (C = 1000, REFERENCE.md) and DISSL (C = 16384, THEORY.md T7), two views,
float32, drawn from a seeded normal. One timed call = zero the input gradients, compute the loss,
``backward()``. Before timing, the two sides' loss values are compared (``details.values_agree``),
so the race is between equal computations.

Row: ``ratio = ours_s / baseline_s`` (a slowdown), target ``<= 1.2``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from ssltheory.benchmarks import reference_losses as ref
from ssltheory.benchmarks._harness import SLOWDOWN, BenchConfig, Row, error_row, median, pending_row, slowdown_row, spread, time_alternately

NAME = "losses"
TARGET = 1.2  # ours at most 1.2 times the baseline's time


@dataclass
class LossCase:
    name: str
    inputs: Callable[[int, torch.Generator], list[torch.Tensor]]  # (batch, generator) -> leaf tensors
    ours: Callable[[], Callable[[list[torch.Tensor]], torch.Tensor]]  # builds the loss; may raise ImportError
    baseline: Callable[[], tuple[Callable[[list[torch.Tensor]], torch.Tensor], str]]  # (loss, its description)


def _leaves(shapes: list[tuple[int, int]], requires_grad: list[bool], generator: torch.Generator,
            scale: float = 1.0) -> list[torch.Tensor]:
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
    from ssltheory.ssl.losses.simclr import NTXentLoss

    loss = NTXentLoss(temperature=0.07, distributed=False)
    return lambda x: loss(x[0], x[1])[0]


def _simclr_baseline():
    lightly_cls = _lightly("NTXentLoss")
    if lightly_cls is not None:
        loss = lightly_cls(temperature=0.07, memory_bank_size=0)
        return (lambda x: loss(x[0], x[1])), "lightly.loss.NTXentLoss"
    return (lambda x: ref.ntxent(x[0], x[1], 0.07)), "ssltheory.benchmarks.reference_losses.ntxent (lightly not installed)"


# ---- CISSL ---------------------------------------------------------------------------------------


def _cissl_ours():
    from ssltheory.ssl.losses.cissl import CISSLLoss

    loss = CISSLLoss(temperature=0.07, distributed=False)
    return lambda x: loss(x[0], x[1], x[2], x[3])[0]


def _cissl_baseline():
    return (lambda x: ref.cissl(x[0], x[1], x[2], x[3], 0.07)), "ssltheory.benchmarks.reference_losses.cissl (no lightly counterpart)"


# ---- DINO ----------------------------------------------------------------------------------------
# inputs: student a, student b (with gradient), teacher a, teacher b (EMA network: no gradient).
# DINO's last layer is a cosine (weight-normalised) layer, so its logits are O(1): we draw
# 0.3 * N(0, 1). Standard-normal logits at teacher temperature 0.04 would produce subnormal
# probabilities, whose arithmetic is ~50x slower on x86 and would time the FPU, not the code.
DINO_CODES = 1000
DINO_LOGIT_SCALE = 0.3
DINO_TEACHER_TEMP = 0.04  # the start of the 0.04 -> 0.07 warm-up


def _dino_ours(n_codes: int = DINO_CODES):
    from ssltheory.ssl.losses.dino import DINOLoss

    loss = DINOLoss(n_codes=n_codes, student_temperature=0.1, center_momentum=0.9, distributed=False)
    return lambda x: loss([x[0], x[1]], [x[2], x[3]], teacher_temperature=DINO_TEACHER_TEMP)[0]


def _dino_baseline(n_codes: int = DINO_CODES):
    lightly_cls = _lightly("DINOLoss")
    if lightly_cls is not None:
        loss = lightly_cls(output_dim=n_codes, warmup_teacher_temp=DINO_TEACHER_TEMP, teacher_temp=DINO_TEACHER_TEMP,
                           warmup_teacher_temp_epochs=0, student_temp=0.1, center_momentum=0.9)
        return (lambda x: loss([x[2], x[3]], [x[0], x[1]], epoch=0)), "lightly.loss.DINOLoss"
    center = torch.zeros(1, n_codes)
    return (lambda x: ref.dino([x[0], x[1]], [x[2], x[3]], center, DINO_TEACHER_TEMP, 0.1, 0.9)), \
        "ssltheory.benchmarks.reference_losses.dino (lightly not installed)"


# ---- DISSL ---------------------------------------------------------------------------------------
# inputs: teacher a, teacher b, student a, student b logits, all with gradient (no stop-gradient)
DISSL_CODES = 16384


def _dissl_ours():
    from ssltheory.ssl.losses.dissl import DISSLLoss

    loss = DISSLLoss(distributed=False)
    return lambda x: loss([x[2], x[3]], [x[0], x[1]])[0]


def _dissl_baseline():
    return (lambda x: ref.dissl(x[0], x[1], x[2], x[3])), "ssltheory.benchmarks.reference_losses.dissl (no lightly counterpart)"


def cases(proj_dim: int = 128, dino_codes: int = DINO_CODES, dissl_codes: int = DISSL_CODES) -> list[LossCase]:
    """The four comparisons; sizes are arguments so that tests can shrink them."""
    return [
        LossCase("loss_simclr", lambda b, g: _leaves([(b, proj_dim)] * 2, [True] * 2, g), _simclr_ours, _simclr_baseline),
        LossCase("loss_cissl", lambda b, g: _leaves([(b, proj_dim)] * 4, [True] * 4, g), _cissl_ours, _cissl_baseline),
        LossCase("loss_dino", lambda b, g: _leaves([(b, dino_codes)] * 4, [True, True, False, False], g, DINO_LOGIT_SCALE),
                 functools.partial(_dino_ours, dino_codes), functools.partial(_dino_baseline, dino_codes)),
        LossCase("loss_dissl", lambda b, g: _leaves([(b, dissl_codes)] * 4, [True] * 4, g), _dissl_ours, _dissl_baseline),
    ]


def _forward_backward(loss_fn: Callable[[list[torch.Tensor]], torch.Tensor], inputs: list[torch.Tensor]) -> float:
    for x in inputs:
        x.grad = None
    loss = loss_fn(inputs)
    loss.backward()
    return float(loss.detach())


def run(config: BenchConfig) -> list[Row]:
    batch = 64 if config.quick else 512
    repeats = config.rounds(3, 11)
    if config.quick:
        chosen = cases(proj_dim=32, dino_codes=256, dissl_codes=1024)
    else:
        chosen = cases()
    rows = []
    for case in chosen:
        if not config.wants(case.name):
            continue
        try:
            ours = case.ours()
        except ImportError as exc:
            rows.append(pending_row(case.name, SLOWDOWN, f"<= {TARGET:g}", f"ours not importable yet: {exc}"))
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
        (a is None and x.grad is None) or (a is not None and x.grad is not None and torch.allclose(a, x.grad, rtol=1e-3, atol=1e-6))
        for a, x in zip(ours_grads, inputs)
    )
    values_agree = abs(ours_value - base_value) <= 1e-4 * max(1.0, abs(base_value))

    ours_t, base_t = time_alternately(lambda: _forward_backward(ours, inputs), lambda: _forward_backward(baseline, inputs),
                                      repeats=repeats, warmup=2, min_sample_s=0.01 if quick else 0.05)
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
