"""Plain reference implementations of the SSL losses, the baseline of benchmark 3.

What a user would write from the papers in an afternoon: the formula, term by term, on the whole
batch, with no fused kernels, no in-place tricks, no cross-process options. They are the
*baseline* the optimised losses in ``ssltheory.ssl.losses`` are timed against (when lightly's
``NTXentLoss`` / ``DINOLoss`` cannot be imported), and the benchmark checks that both sides
return the same value on the same inputs, so that the race is between equal computations.

Shapes: B = batch size, D = head output size, C = number of codes. Every function takes float
tensors and returns a scalar float32 loss with autograd intact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ntxent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """SimCLR's NT-Xent [paper: Chen et al. 2020 eq. 1; docs/REFERENCE.md: temperature 0.07].

    z_a, z_b: (B, D) head outputs of the two views of the same B images. Mean over the 2B views of
    ``-log softmax_{j != i}(cos(z_i, z_j) / temperature)[positive of i]``.
    """
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)  # (2B, D)
    n = z.shape[0]
    sim = z @ z.T / temperature  # (2B, 2B)
    sim = sim.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    positive = torch.cat([torch.arange(n // 2, n), torch.arange(0, n // 2)])
    return F.cross_entropy(sim, positive)


def cissl(
    student_a: torch.Tensor,
    student_b: torch.Tensor,
    teacher_a: torch.Tensor,
    teacher_b: torch.Tensor,
    temperature: float = 0.07,
) -> torch.Tensor:
    """CISSL [code: ISSL repository; THEORY.md T8]: cosine logits between student and teacher
    outputs over all 2B targets (diagonal kept), target mass 1/2 on the view itself and 1/2 on
    its other view.

    student_*, teacher_*: (B, D) head outputs; row k of all four from image k.
    """
    s = F.normalize(torch.cat([student_a, student_b]).float(), dim=1)  # (2B, D)
    t = F.normalize(torch.cat([teacher_a, teacher_b]).float(), dim=1)  # (2B, D)
    n = s.shape[0]
    log_q = torch.log_softmax(s @ t.T / temperature, dim=1)  # (2B, 2B)
    target = torch.eye(n) / 2
    positive = torch.cat([torch.arange(n // 2, n), torch.arange(0, n // 2)])
    target[torch.arange(n), positive] = 0.5
    return -(target * log_q).sum(1).mean()


def dino(
    student: list[torch.Tensor],
    teacher: list[torch.Tensor],
    center: torch.Tensor,
    teacher_temp: float = 0.04,
    student_temp: float = 0.1,
    center_momentum: float = 0.9,
) -> torch.Tensor:
    """DINO [paper: Caron et al. 2021, Algorithm 1; docs/REFERENCE.md temperatures and momentum].

    student, teacher: lists of V (B, C) logits (teacher from the EMA network, no gradient);
    center: (1, C) running centre, updated in place after the loss (momentum ``center_momentum``,
    batch mean of the teacher logits). Loss: mean over ordered pairs of different views (a, b) of
    ``CE(softmax((teacher_a - center) / teacher_temp), softmax(student_b / student_temp))``.
    """
    targets = [torch.softmax((t.float() - center) / teacher_temp, dim=1).detach() for t in teacher]
    log_preds = [torch.log_softmax(s.float() / student_temp, dim=1) for s in student]
    total, pairs = 0.0, 0
    for a, t in enumerate(targets):
        for b, log_p in enumerate(log_preds):
            if a == b:
                continue
            total = total + (-(t * log_p).sum(1).mean())
            pairs += 1
    with torch.no_grad():
        batch_center = torch.cat([t.float() for t in teacher]).mean(0, keepdim=True)
        center.mul_(center_momentum).add_(batch_center, alpha=1 - center_momentum)
    return total / pairs


def dissl(
    teacher_a: torch.Tensor,
    teacher_b: torch.Tensor,
    student_a: torch.Tensor,
    student_b: torch.Tensor,
    lam: float = 2.3,
    beta: float = 0.8,
    teacher_temp: float = 0.5,
    student_temp: float = 1.0,
) -> torch.Tensor:
    """DISSL, THEORY.md T7 [code]: ``E CE(t_v, s_v') - lam H(pbar) + beta E CE(t_v, t_v')``.

    teacher_*, student_*: (B, C) logits of the teacher and student heads on views a and b (no
    stop-gradient anywhere). t_v = softmax(teacher_v / teacher_temp), s_v = softmax(student_v /
    student_temp), pbar_v = the batch mean of t_v, one marginal per view with H(pbar) the mean of
    H(pbar_a) and H(pbar_b) (as the authors' code); the expectations run over the batch and over
    the two ordered pairs (a, b), (b, a).
    """
    t = [torch.softmax(x.float() / teacher_temp, dim=1) for x in (teacher_a, teacher_b)]
    log_t = [torch.log_softmax(x.float() / teacher_temp, dim=1) for x in (teacher_a, teacher_b)]
    log_s = [torch.log_softmax(x.float() / student_temp, dim=1) for x in (student_a, student_b)]
    ce_student = (-(t[0] * log_s[1]).sum(1).mean() - (t[1] * log_s[0]).sum(1).mean()) / 2
    ce_teacher = (-(t[0] * log_t[1]).sum(1).mean() - (t[1] * log_t[0]).sum(1).mean()) / 2
    pbar = [tv.mean(0) for tv in t]
    entropy = sum(-(p * torch.log(p.clamp_min(1e-30))).sum() for p in pbar) / 2
    return ce_student - lam * entropy + beta * ce_teacher


def swav(
    crops: list[torch.Tensor], n_global: int = 2, temperature: float = 0.1, epsilon: float = 0.05, iterations: int = 3
) -> torch.Tensor:
    """SwAV [paper: Caron et al. 2020 eq. 1-3, Algorithm 1].

    crops: V (B, K) prototype scores, the ``n_global`` global crops first. Codes of each global
    crop by ``iterations`` Sinkhorn-Knopp steps on exp(scores / epsilon) (no gradient); loss =
    mean over pairs (global v, any crop w != v) of ``CE(q_v, softmax(scores_w / temperature))``.
    """
    losses = []
    for v in range(n_global):
        with torch.no_grad():
            q = torch.exp(crops[v].float() / epsilon).T  # (K, B)
            q = q / q.sum()
            k, b = q.shape
            for _ in range(iterations):
                q = q / q.sum(dim=1, keepdim=True) / k
                q = q / q.sum(dim=0, keepdim=True) / b
            q = (q * b).T  # (B, K), rows sum to 1
        for w, crop in enumerate(crops):
            if w != v:
                losses.append(-(q * torch.log_softmax(crop.float() / temperature, dim=1)).sum(1).mean())
    return torch.stack(losses).mean()


def barlow_twins(z_a: torch.Tensor, z_b: torch.Tensor, lam: float = 0.0051, eps: float = 1e-5) -> torch.Tensor:
    """Barlow Twins [paper: Zbontar et al. 2021 eq. 1-2; code: batch-norm without affine, biased variance].

    z_a, z_b: (B, D) projections. C = standardised z_a^T standardised z_b / B, loss
    ``sum_i (1 - C_ii)^2 + lam sum_{i != j} C_ij^2``.
    """

    def standardise(z):
        z = z.float()
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)

    c = standardise(z_a).T @ standardise(z_b) / z_a.shape[0]
    off = c - torch.diag(torch.diagonal(c))
    return ((1 - torch.diagonal(c)) ** 2).sum() + lam * (off**2).sum()


def simsiam(p_a: torch.Tensor, p_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """SimSiam [paper: Chen & He 2021, Algorithm 1]: -(cos(p_a, sg z_b) + cos(p_b, sg z_a)) / 2, mean over rows."""
    return (
        -(
            F.cosine_similarity(p_a.float(), z_b.detach().float()).mean()
            + F.cosine_similarity(p_b.float(), z_a.detach().float()).mean()
        )
        / 2
    )
