"""DINO's self-distillation loss with a centred, sharpened EMA teacher (Caron et al. 2021).

The loss form, temperatures and centre momentum are those of the ISSL paper's code (docs/REFERENCE.md)
[code]; the centre is updated once per call, as in the original DINO (the authors' re-implementation
updates it inside each half of the symmetrised loss: ``DINOMethod(variant="authors")`` calls this
loss once per teacher view). In THEORY.md's terms DINO is a
distillation ISSL whose teacher is *not* trained by the loss: the student's cross-entropy to the
teacher asks for invariance (teacher on view a predicts the student on view b) and for
predictability of the teacher's codes, while collapse (a constant teacher, which T7.2 shows is
never optimal for DISSL) is prevented only by centring (pushes towards uniform marginal use of the
codes, a stand-in for DISSL's -lambda H(pbar) term) and sharpening (low teacher temperature, a
stand-in for DISSL's determinism term beta CE(t_v, t_v')). The EMA teacher and the temperature
schedules live in `ssltheory.ssl.method_impl.DINOMethod` (they depend on the step); this module holds the loss
and the centre.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.losses.common import check_positive, check_student_teacher_views, float32_maths
from ssltheory.ssl.losses.distributed import check_distributed_option, global_mean_no_grad, resolve_distributed

__all__ = ["DINOLoss"]


class DINOLoss(nn.Module):
    """Cross-entropy from the centred, sharpened teacher on one view to the student on every other view.

    With teacher logits g_t (global views only) and student logits g_s (all views),
    ``t_v = softmax((g_t(v) - center) / teacher_temperature)`` (no gradient) and
    ``log s_w = log_softmax(g_s(w) / student_temperature)``, the loss is the mean over ordered
    pairs (v, w), v a teacher view, w any student view, w != v, of ``mean_rows -sum_c t_v log s_w``
    [paper: Caron et al. 2021 eq. 2-3; code: DINO ``DINOLoss``]. With two views this is the
    symmetrised CE(t_a, s_b) / 2 + CE(t_b, s_a) / 2 of docs/REFERENCE.md. After computing the loss the
    centre is updated (no gradient) as ``center <- m center + (1 - m) mean(g_t)`` over the global
    batch of all teacher views.

    Args:
        n_codes (int):
            C, the number of teacher/student outputs (docs/REFERENCE.md: 1000).
        student_temperature: float, default 0.1
        teacher_temperature (float, default 0.07):
            Used when `forward` is not given one; the warm-up 0.04 -> 0.07 is the method's schedule.
        center_momentum: float in [0, 1), default 0.9
        distributed ("auto", True or False, default "auto"):
            Whether the centre's batch mean is all-reduced over processes
            (`ssltheory.ssl.losses.distributed`). The loss itself is per-row, hence local.

    Forward:
        student_logits: list of n_views (B, C) tensors, the student head on every view
            (global views first, in the same order as the teacher's).
        teacher_logits: list of n_global (B, C) tensors, the EMA teacher head on the global views,
            1 <= n_global <= n_views; view v of both lists is the same crop.
        teacher_temperature: float, optional

    Returns:
        loss: scalar float32
        logs: dict of detached scalars: ``loss``, ``teacher_entropy`` (mean H(t_v)), ``teacher_temperature``.

    Example:
        >>> loss_fn = DINOLoss(n_codes=64, distributed=False)
        >>> student = [torch.randn(8, 64, requires_grad=True) for _ in range(2)]
        >>> teacher = [torch.randn(8, 64) for _ in range(2)]
        >>> loss, logs = loss_fn(student, teacher, teacher_temperature=0.04)
    """

    def __init__(
        self,
        n_codes: int,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.07,
        center_momentum: float = 0.9,
        distributed: str | bool = "auto",
    ) -> None:
        super().__init__()
        if not isinstance(n_codes, int) or isinstance(n_codes, bool) or n_codes < 1:
            raise InputError(f"n_codes must be a positive integer, got {n_codes!r}")
        if not isinstance(center_momentum, (int, float)) or not 0.0 <= center_momentum < 1.0:
            raise InputError(f"center_momentum must be in [0, 1), got {center_momentum!r}")
        self.n_codes = n_codes
        self.student_temperature = check_positive(student_temperature, "student_temperature")
        self.teacher_temperature = check_positive(teacher_temperature, "teacher_temperature")
        self.center_momentum = float(center_momentum)
        self.distributed = check_distributed_option(distributed)
        self.register_buffer("center", torch.zeros(1, n_codes))

    def forward(
        self,
        student_logits: Sequence[torch.Tensor],
        teacher_logits: Sequence[torch.Tensor],
        teacher_temperature: float | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on per-view logits, each (batch, n_codes): the teacher's views
        sharpened at ``teacher_temperature`` (default the loss's own) around the running centre, which
        this call then updates.

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"``, ``"teacher_entropy"``,
            ``"teacher_temperature"``).
        """
        student_logits, teacher_logits = check_student_teacher_views(student_logits, teacher_logits, 1)
        if student_logits[0].shape[1] != self.n_codes:
            raise InputError(f"logits have {student_logits[0].shape[1]} columns but n_codes is {self.n_codes}")
        temperature = (
            self.teacher_temperature
            if teacher_temperature is None
            else check_positive(teacher_temperature, "teacher_temperature")
        )
        use_dist = resolve_distributed(self.distributed)

        with float32_maths(student_logits[0]):
            raw_teacher = [t.detach().float() for t in teacher_logits]
            teacher_probs, teacher_entropy = _sharpened_teacher(raw_teacher, self.center.float(), temperature)
            student_log_probs = [torch.log_softmax(s.float() / self.student_temperature, dim=1) for s in student_logits]

            loss = _pair_cross_entropy(teacher_probs, student_log_probs)

        self.update_center(torch.cat(raw_teacher, dim=0), use_dist)
        logs = {
            "loss": loss.detach(),
            "teacher_entropy": teacher_entropy,
            "teacher_temperature": float(temperature),
        }
        return loss, logs

    @torch.no_grad()
    def update_center(self, teacher_rows: torch.Tensor, distributed: bool) -> None:
        """EMA of the teacher's mean logits over the global batch: (N, C) rows of all teacher views."""
        batch_center = global_mean_no_grad(teacher_rows.float(), distributed).unsqueeze(0)
        self.center.mul_(self.center_momentum).add_(
            batch_center.to(self.center.dtype), alpha=1.0 - self.center_momentum
        )


def _pair_cross_entropy(teacher_probs: list[torch.Tensor], student_log_probs: list[torch.Tensor]) -> torch.Tensor:
    """Mean over ordered pairs (v teacher view, w student view, w != v) of mean_rows -t_v . log s_w.

    teacher_probs: n_global (B, C) t_v (no gradient); student_log_probs: n_views (B, C) log s_w.
    Grouped by student view [derived]: the sum over pairs is sum_w <T_w, log s_w> with T_w the
    sum of the teacher views other than w, so each student view costs one flat dot product (no
    (B, C) product per pair in the forward pass), and the gradient reaching log s_w is
    -T_w / (n_pairs B), the same as the pair-by-pair sum's."""
    n_rows = student_log_probs[0].shape[0]
    all_teachers = None  # the target of every student view that is not a teacher view
    total, n_pairs = None, 0
    for w, log_s in enumerate(student_log_probs):
        others = [t for v, t in enumerate(teacher_probs) if v != w]
        if not others:
            continue  # a single teacher view and its own crop: nothing to predict
        if len(others) == 1:
            target = others[0]
        elif w >= len(teacher_probs):
            if all_teachers is None:
                all_teachers = torch.stack(others).sum(0)
            target = all_teachers
        else:
            target = torch.stack(others).sum(0)
        term = torch.dot(target.reshape(-1), log_s.reshape(-1))
        total = term if total is None else total + term
        n_pairs += len(others)
    return -total / (n_pairs * n_rows)


@torch.no_grad()
def _sharpened_teacher(raw_teacher: list[torch.Tensor], center: torch.Tensor, temperature: float):
    """(t_v = softmax((g_v - center) / temperature) for each teacher view, mean entropy H(t_v)).

    raw_teacher: n_global (B, C) detached float32 logits g_v; center (1, C). The entropy is for
    logging only, so it is computed here, without autograd, from quantities the softmax needs
    anyway [derived]: with z = (g - center) / T, H(t) = logsumexp(z) - sum_c t_c z_c and
    logsumexp(z) = max_c z_c - log(max_c t_c) (because max_c t_c = exp(max_c z_c - logsumexp(z)),
    and max_c t_c >= 1/C keeps that log well conditioned). Two max reductions per row and one
    flat dot product: no elementwise log over the (B, C) matrix and no (B, C) temporary beyond z
    and t, which matters on a CPU, where every fresh (B, C) buffer costs page faults.
    """
    probs, entropies = [], []
    for g in raw_teacher:
        z = (g - center).div_(temperature)
        t = torch.softmax(z, dim=1)
        log_normaliser = z.amax(dim=1) - torch.log(t.amax(dim=1))
        entropies.append(log_normaliser.mean() - torch.dot(z.reshape(-1), t.reshape(-1)) / len(z))
        probs.append(t)
    return probs, torch.stack(entropies).mean()
