"""CISSL: contrastive ISSL with a linear student and a self-inclusive target (the ISSL paper's code).

THEORY.md T8 [code; derived]. The score of candidate j for view i is
<normalize(W z_i), v_j> / temperature with W linear (the student head, `cissl_student_head`) and
v_j = normalize(teacher MLP(z_j)). Normalisation is a positive rescaling of the row, so
argmax_j <normalize(W z_i), v_j> = argmax_j <W z_i, v_j>: the classifier inside the loss is linear
in z, the probe family T1 asks the representation to be ideal for. The candidate set keeps the
diagonal (all 2B targets, the view itself included) and the target distribution puts mass 1/2
on the view itself and 1/2 on its other view, so the minimum of every row is log 2 (T8), reached
when the two views of an image are indistinguishable (invariance) and distinguishable from all
other images (predictability of M, here the instance).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.ssl.losses.common import (
    check_matrix,
    check_positive,
    check_reduction,
    check_same_shape,
    float32_maths,
)
from ssltheory.ssl.losses.distributed import check_distributed_option, gather_with_grad, rank, resolve_distributed

__all__ = ["CISSLLoss"]


class CISSLLoss(nn.Module):
    """Cross-entropy of the target (1/2 self, 1/2 positive) against softmax over all 2B targets.

    Row i (views a then views b) has loss
    ``-(log q_i[self(i)] + log q_i[pos(i)]) / 2`` with
    ``q_i = softmax_j(<normalize(s_i), normalize(t_j)> / temperature)`` over all 2B targets j,
    s = student head outputs, t = teacher head outputs [code: ISSL ``CISSL``,
    ``is_self_contrastive=True``, ``is_pred_proj_same=False``]. Since q_i[self] + q_i[pos] <= 1,
    each row is at least log 2 (THEORY.md T8).

    Args:
        temperature: float, default 0.07 (docs/REFERENCE.md)
        distributed ("auto", True or False, default "auto"):
            Whether the teacher targets are gathered from every process with gradients
            (`ssltheory.ssl.losses.distributed`); rows stay local.
        reduction ("mean" or "none"):
            "none" returns the 2B per-row losses.

    Forward:
        student_a, student_b: (B, D) float tensors, student head (linear) on views a and b.
        teacher_a, teacher_b: (B, D) float tensors, teacher head (MLP) on views a and b.
            Row k of all four comes from the same image.

    Returns:
        loss: scalar (or (2B,)), float32
        logs: dict of detached scalars (``ssltheory.ssl.losses.common``): ``loss``, ``excess_over_log2``
            (loss - log 2 >= 0), ``n_targets`` (2B_global).

    Example:
        >>> loss_fn = CISSLLoss(distributed=False)
        >>> s_a, s_b, t_a, t_b = (torch.randn(8, 128) for _ in range(4))
        >>> loss, logs = loss_fn(s_a, s_b, t_a, t_b)
    """

    def __init__(self, temperature: float = 0.07, distributed: str | bool = "auto", reduction: str = "mean") -> None:
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        self.distributed = check_distributed_option(distributed)
        self.reduction = check_reduction(reduction)

    def forward(
        self, student_a: torch.Tensor, student_b: torch.Tensor, teacher_a: torch.Tensor, teacher_b: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on the two views' student and teacher outputs, each (batch, dim)
        (student and teacher widths as the heads give them).

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"`` and the parts).
        """
        for name, x in (
            ("student_a", student_a),
            ("student_b", student_b),
            ("teacher_a", teacher_a),
            ("teacher_b", teacher_b),
        ):
            check_matrix(x, name)
            check_same_shape(x, student_a, name, "student_a")
        use_dist = resolve_distributed(self.distributed)
        batch = student_a.shape[0]
        with float32_maths(student_a):
            student = F.normalize(torch.cat([student_a, student_b], dim=0).float(), dim=1)  # (2B, D)
            teacher = F.normalize(torch.cat([teacher_a, teacher_b], dim=0).float(), dim=1)  # (2B, D)
            targets = gather_with_grad(teacher) if use_dist else teacher  # (2B * W, D)
            offset = rank() * 2 * batch if use_dist else 0
            log_q = torch.log_softmax(student @ targets.T / self.temperature, dim=1)  # (2B, 2B * W)

            rows = torch.arange(2 * batch, device=student.device)
            self_col = offset + rows
            pos_col = offset + (rows + batch) % (2 * batch)
            per_row = -(log_q[rows, self_col] + log_q[rows, pos_col]) / 2  # (2B,)

        mean = per_row.mean()
        loss = mean if self.reduction == "mean" else per_row
        logs = {
            "loss": mean.detach(),
            "excess_over_log2": mean.detach() - math.log(2.0),
            "n_targets": float(targets.shape[0]),
        }
        return loss, logs
