"""SimCLR's NT-Xent loss (Chen et al. 2020, eq. 1), as configured in the ISSL paper's code.

THEORY.md T9 [paper]: SimCLR puts the *same* MLP head on both views, so the classifier implicit
in this loss is g(phi(x)) with g nonlinear; it asks that the head output identify the instance,
not that phi(x) itself be linearly decodable (which T1 requires of a LIN-ideal encoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.ssl.losses.common import check_positive, check_reduction, check_view_pair, float32_maths
from ssltheory.ssl.losses.distributed import check_distributed_option, gather_with_grad, rank, resolve_distributed

__all__ = ["NTXentLoss"]


class NTXentLoss(nn.Module):
    """Normalised-temperature cross-entropy over the 2B views of a batch, self-similarity removed.

    For the 2B unit vectors u_i = h_i / |h_i| (views a then views b), row i's loss is
    ``-log softmax_j(<u_i, u_j> / temperature)[pos(i)]`` over j != i, where pos(i) is the other
    view of the same image [paper: Chen et al. 2020 eq. 1; code: ISSL ``SimCLR``,
    ``is_self_contrastive=False``]. Minimising it makes each head output predict its own
    positive among the other 2B - 1 (its instance), i.e. the invariance + "predict M" terms of
    THEORY.md T6 with instance classes, through a shared nonlinear head (T9).

    Args:
        temperature (float, default 0.07 (docs/REFERENCE.md)):
            Divides the cosine similarities.
        distributed ("auto", True or False, default "auto"):
            Whether negatives are gathered from every process (with gradients; see
            `ssltheory.ssl.losses.distributed`). Rows stay local; columns span the global batch.
        reduction ("mean" or "none"):
            "none" returns the 2B per-row losses (views a then views b) instead of their mean.

    Forward:
        z_a, z_b: (B, D) float tensors
            Head outputs of the two views; row k of both comes from the same image.

    Returns:
        loss: scalar (or (2B,) with reduction "none"), float32
        logs: dict of detached scalars: ``loss``, ``positive_cosine`` (mean cosine between the two views),
            ``n_negatives`` (2B_global - 2).

    Example:
        >>> loss_fn = NTXentLoss(temperature=0.07, distributed=False)
        >>> loss, logs = loss_fn(torch.randn(8, 128), torch.randn(8, 128))
    """

    def __init__(self, temperature: float = 0.07, distributed: str | bool = "auto", reduction: str = "mean") -> None:
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        self.distributed = check_distributed_option(distributed)
        self.reduction = check_reduction(reduction)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on two views' embeddings ``z_a``, ``z_b`` (batch, dim), same shape.

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"`` and the parts).
        """
        check_view_pair(z_a, z_b)
        use_dist = resolve_distributed(self.distributed)
        batch = z_a.shape[0]
        with float32_maths(z_a):
            local = F.normalize(torch.cat([z_a, z_b], dim=0).float(), dim=1)  # (2B, D)
            candidates = gather_with_grad(local) if use_dist else local  # (2B * W, D)
            offset = rank() * 2 * batch if use_dist else 0
            logits = local @ candidates.T / self.temperature  # (2B, 2B * W)

            rows = torch.arange(2 * batch, device=local.device)
            self_col = offset + rows
            pos_col = offset + (rows + batch) % (2 * batch)
            logits = logits.clone()
            logits[rows, self_col] = float("-inf")  # the diagonal is not a candidate
            per_row = torch.logsumexp(logits, dim=1) - logits[rows, pos_col]  # (2B,)

        positive_cosine = (local[:batch] * local[batch:]).sum(1).mean()
        loss = per_row.mean() if self.reduction == "mean" else per_row
        logs = {
            "loss": per_row.mean().detach(),
            "positive_cosine": positive_cosine.detach(),
            "n_negatives": float(candidates.shape[0] - 2),
        }
        return loss, logs
