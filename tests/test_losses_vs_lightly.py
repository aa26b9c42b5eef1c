"""Our SSL losses against lightly's, the peer library users would pick: values and gradients.

Skipped when lightly does not import, which is the case beside this project's pinned torch
(torchvision, which lightly needs, does not import there). To run it, make a separate
environment (README, "Benchmarks")::

    python3 -m venv ENV && ENV/bin/pip install torch==2.14.1 torchvision==0.29.1 lightly
    ENV/bin/pip install scipy scikit-learn scikit-image matplotlib kornia pytest hypothesis
    PYTHONPATH=. ENV/bin/python -m pytest -q tests/test_losses_vs_lightly.py

Every comparison draws its inputs with hypothesis (batch, width, number of crops, temperatures),
feeds identical float32 leaves to both sides, and compares the loss, every input gradient and,
for DINO, the updated centre. The pairs: NTXentLoss (SimCLR), DINOLoss (multi-crop), SwaVLoss
(multi-crop, with and without a queue), BarlowTwinsLoss, and NegativeCosineSimilarity applied
with the stop-gradient SimSiam's algorithm prescribes.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, strategies as st

from ssltheory.ssl.losses import BarlowTwinsLoss, DINOLoss, NTXentLoss, SimSiamLoss, SwAVLoss
from ssltheory.testing.strategies import fraction_of_profile

lightly_loss = pytest.importorskip("lightly.loss", reason="lightly does not import here (see the module docstring)")

SETTINGS = fraction_of_profile(0.25)


def _leaves(seed: int, shapes, scale: float = 1.0, grad=True) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(s, generator=g)).requires_grad_(grad) for s in shapes]


def _twins(xs: list[torch.Tensor]) -> list[torch.Tensor]:
    return [x.detach().clone().requires_grad_(x.requires_grad) for x in xs]


def _assert_same(ours: torch.Tensor, theirs: torch.Tensor, xs, ys, rtol=1e-4, atol=1e-6) -> None:
    assert ours.item() == pytest.approx(theirs.item(), rel=rtol, abs=atol)
    ours.backward()
    theirs.backward()
    for i, (x, y) in enumerate(zip(xs, ys)):  # no gradient (None) is a zero gradient
        gx = torch.zeros_like(x) if x.grad is None else x.grad
        gy = torch.zeros_like(y) if y.grad is None else y.grad
        assert torch.allclose(gx, gy, rtol=rtol * 10, atol=atol), (i, (gx - gy).abs().max())


@SETTINGS
@given(st.integers(2, 8), st.integers(2, 16), st.sampled_from([0.07, 0.5]), st.integers(0, 2**31 - 1))
def test_ntxent_equals_lightly(batch, dim, temperature, seed):
    xs = _leaves(seed, [(batch, dim)] * 2)
    ys = _twins(xs)
    ours = NTXentLoss(temperature=temperature, distributed=False)(*xs)[0]
    theirs = lightly_loss.NTXentLoss(temperature=temperature, memory_bank_size=0)(*ys)
    _assert_same(ours, theirs, xs, ys)


@SETTINGS
@given(
    st.integers(1, 6),
    st.integers(2, 32),
    st.integers(2, 5),
    st.integers(1, 2),
    st.sampled_from([0.04, 0.07]),
    st.integers(0, 2**31 - 1),
)
def test_dino_multicrop_loss_and_centre_equal_lightly(batch, codes, n_views, n_global, teacher_temp, seed):
    student = _leaves(seed, [(batch, codes)] * n_views, 0.3)
    teacher = _leaves(seed + 1, [(batch, codes)] * n_global, 0.3, grad=False)
    ours_fn = DINOLoss(codes, student_temperature=0.1, center_momentum=0.9, distributed=False)
    theirs_fn = lightly_loss.DINOLoss(
        output_dim=codes,
        teacher_temp=teacher_temp,
        warmup_teacher_temp=teacher_temp,
        warmup_teacher_temp_epochs=0,
        student_temp=0.1,
        center_momentum=0.9,
    )
    s2 = _twins(student)
    ours = ours_fn(student, teacher, teacher_temperature=teacher_temp)[0]
    theirs = theirs_fn(teacher, s2, teacher_temp=teacher_temp)
    _assert_same(ours, theirs, student, s2)
    assert torch.allclose(ours_fn.center.flatten(), theirs_fn.center.flatten(), atol=1e-6)


@SETTINGS
@given(
    st.integers(1, 6),
    st.integers(2, 20),
    st.integers(0, 4),
    st.integers(0, 5),
    st.sampled_from([0.1, 0.3]),
    st.integers(0, 2**31 - 1),
)
def test_swav_multicrop_with_queue_equals_lightly(batch, prototypes, n_small, queue_rows, temperature, seed):
    # Prototype scores are cosines, so draw them in [-1, 1]: lightly exponentiates without a shift.
    crops = [x.tanh().detach().requires_grad_() for x in _leaves(seed, [(batch, prototypes)] * (2 + n_small))]
    queue = (
        None if queue_rows == 0 else [x.tanh() for x in _leaves(seed + 1, [(queue_rows, prototypes)] * 2, grad=False)]
    )
    theirs_crops = _twins(crops)
    ours = SwAVLoss(temperature=temperature, epsilon=0.05, sinkhorn_iterations=3, distributed=False)(
        crops, n_global=2, queue_scores=queue
    )[0]
    theirs = lightly_loss.SwaVLoss(temperature=temperature, sinkhorn_iterations=3, sinkhorn_epsilon=0.05)(
        theirs_crops[:2], theirs_crops[2:], queue_outputs=queue
    )
    _assert_same(ours, theirs, crops, theirs_crops)


@SETTINGS
@given(st.integers(2, 8), st.integers(1, 16), st.sampled_from([5e-3, 0.0051, 0.1]), st.integers(0, 2**31 - 1))
def test_barlow_twins_equals_lightly(batch, dim, lam, seed):
    xs = _leaves(seed, [(batch, dim)] * 2, 2.0)
    ys = _twins(xs)
    ours = BarlowTwinsLoss(lambda_offdiag=lam, eps=1e-5, distributed=False)(*xs)[0]
    theirs = lightly_loss.BarlowTwinsLoss(lambda_param=lam)(*ys)
    _assert_same(ours, theirs, xs, ys, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 16), st.integers(0, 2**31 - 1))
def test_simsiam_equals_lightly_negative_cosine_with_stop_gradient(batch, dim, seed):
    xs = _leaves(seed, [(batch, dim)] * 4)
    ys = _twins(xs)
    ours = SimSiamLoss()(*xs)[0]
    cosine = lightly_loss.NegativeCosineSimilarity()
    p_a, p_b, z_a, z_b = ys
    theirs = 0.5 * (cosine(p_a, z_b.detach()) + cosine(p_b, z_a.detach()))
    _assert_same(ours, theirs, xs, ys)
