"""DISSL: distillation ISSL with a jointly trained teacher (THEORY.md T7; the ISSL paper's code).

Loss [code for the formula]:

    L = E[CE(t_v, s_v')] - lambda * H(pbar) + beta * E[CE(t_v, t_v')],

t_v = softmax(T(z_v) / tau_t) the teacher's distribution over C codes for view v, s_v' =
softmax(S(z_v') / tau_s) the student's for another view v', pbar = the teacher's marginal over
the (global) batch. Identity T7.1 [derived]:

    L = E KL(t_v || s_v') + beta E KL(t_v || t_v') + (1 + beta) E H(t_v) - lambda H(pbar),

so each term serves one condition of the ideal representation (THEORY.md T1/T6):
- E KL(t_v || s_v'): the student (linear on top of a 512 bottleneck) predicts the teacher's code
  of *another* view: predictability of M from z, and invariance across views.
- beta E KL(t_v || t_v') and (1 + beta) E H(t_v): the teacher itself is invariant and
  deterministic, i.e. it is a function of the class, a coarsening of M.
- -lambda H(pbar): maximality, the codes are used evenly, so the coarsening is as fine as C
  allows (never the collapsed constant teacher, T7.2).
No stop-gradient and no EMA: both heads and the encoder receive gradients from every term.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.losses.common import check_positive, check_student_teacher_views, float32_maths
from ssltheory.ssl.losses.distributed import check_distributed_option, global_mean_with_grad, resolve_distributed

__all__ = ["DISSLLoss", "entropy"]


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats along the last axis: (..., C) probabilities -> (...)."""
    return -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(dim=-1)


class DISSLLoss(nn.Module):
    """THEORY.md T7: CE(t_v, s_v') - lambda H(pbar) + beta CE(t_v, t_v'), multi-crop ready.

    Teacher views are the large crops; the student sees every view. With n_teacher teacher views
    and n_views >= n_teacher student views (view v of both lists is the same crop):
    - ``distill`` = mean over pairs (v teacher, w student, w != v) of mean_rows CE(t_v, s_w);
    - ``det_inv`` = mean over pairs (v, v') of distinct teacher views of mean_rows CE(t_v, t_v');
    - ``marginal_entropy`` = mean over teacher views v of H(pbar_v), pbar_v the mean of t_v over
      the global batch (all-reduced across processes, with gradient, when distributed);
    - ``loss = distill - lambda_maximality * marginal_entropy + beta_det_inv * det_inv``.
    [code: ISSL ``DISSL.forward``.]

    Args:
        lambda_maximality: float, default 2.3   (lambda)
        beta_det_inv: float, default 0.8        (beta)
        teacher_temperature: float, default 0.5 (tau_t)
        student_temperature: float, default 1.0 (tau_s)
        distributed ("auto", True or False, default "auto"):
            Whether pbar is the mean over the global batch (all-reduce with gradient,
            `ssltheory.ssl.losses.distributed`) rather than over this process's rows.

    Forward:
        student_logits: list of n_views (B, C) tensors, student head S(z) on every view.
        teacher_logits: list of n_teacher (B, C) tensors, teacher head T(z) on the large crops,
            2 <= n_teacher <= n_views. Neither is detached: gradients reach both heads.

    Returns:
        loss: scalar float32
        logs: dict of detached scalars: ``loss``, ``distill`` (CE), ``det_inv`` (CE), ``marginal_entropy``
            (H(pbar)), ``teacher_entropy`` (mean H(t_v)), ``kl_distillation``, ``kl_invariance``.

    Example:
        >>> loss_fn = DISSLLoss(distributed=False)
        >>> student = [torch.randn(8, 32, requires_grad=True) for _ in range(2)]
        >>> teacher = [torch.randn(8, 32, requires_grad=True) for _ in range(2)]
        >>> loss, logs = loss_fn(student, teacher)
    """

    def __init__(
        self,
        lambda_maximality: float = 2.3,
        beta_det_inv: float = 0.8,
        teacher_temperature: float = 0.5,
        student_temperature: float = 1.0,
        distributed: str | bool = "auto",
    ) -> None:
        super().__init__()
        for name, value in (("lambda_maximality", lambda_maximality), ("beta_det_inv", beta_det_inv)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise InputError(f"{name} must be a non-negative number, got {value!r}")
        self.lambda_maximality = float(lambda_maximality)
        self.beta_det_inv = float(beta_det_inv)
        self.teacher_temperature = check_positive(teacher_temperature, "teacher_temperature")
        self.student_temperature = check_positive(student_temperature, "student_temperature")
        self.distributed = check_distributed_option(distributed)

    def forward(
        self, student_logits: Sequence[torch.Tensor], teacher_logits: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on the student's and the teacher's logits of two views, each
        (batch, n_codes).

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"`` and the parts).
        """
        student_logits, teacher_logits = check_student_teacher_views(student_logits, teacher_logits, 2)
        use_dist = resolve_distributed(self.distributed)

        with float32_maths(student_logits[0]):
            log_t = [torch.log_softmax(t.float() / self.teacher_temperature, dim=1) for t in teacher_logits]
            t = [lt.exp() for lt in log_t]
            log_s = [torch.log_softmax(s.float() / self.student_temperature, dim=1) for s in student_logits]

            distill, det_inv, marginal = [], [], []
            for v, t_v in enumerate(t):
                marginal.append(entropy(global_mean_with_grad(t_v, use_dist)))
                for w, log_s_w in enumerate(log_s):
                    if w != v:
                        distill.append(-(t_v * log_s_w).sum(dim=1).mean())
                for w, log_t_w in enumerate(log_t):
                    if w != v:
                        det_inv.append(-(t_v * log_t_w).sum(dim=1).mean())
            distill = torch.stack(distill).mean()
            det_inv = torch.stack(det_inv).mean()
            marginal_entropy = torch.stack(marginal).mean()
            loss = distill - self.lambda_maximality * marginal_entropy + self.beta_det_inv * det_inv

            teacher_entropy = _mean_entropy(t, log_t)

        logs = {
            "loss": loss.detach(),
            "distill": distill.detach(),
            "det_inv": det_inv.detach(),
            "marginal_entropy": marginal_entropy.detach(),
            "teacher_entropy": teacher_entropy,
            # every teacher view appears equally often in both pair lists, so CE - H = mean KL
            "kl_distillation": distill.detach() - teacher_entropy,
            "kl_invariance": det_inv.detach() - teacher_entropy,
        }
        return loss, logs


@torch.no_grad()
def _mean_entropy(probs: Sequence[torch.Tensor], log_probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over views and rows of H(t_v) = -sum_c t_c log t_c, for logging: (B, C) probabilities
    and their log-probabilities (the loss's own log_softmax, so no elementwise log is recomputed),
    without autograd. Each row's sum is a batched (1, C) x (C, 1) product: no (B, C) temporary,
    which at C = 16384 would cost more than the product itself."""
    rows = [torch.bmm(t.unsqueeze(1), log_t.unsqueeze(2)).view(-1) for t, log_t in zip(probs, log_probs)]
    return -torch.stack([r.mean() for r in rows]).mean()
