"""Barlow Twins' redundancy-reduction loss on the cross-correlation of two views (Zbontar et al. 2021).

In THEORY.md's terms Barlow Twins has no teacher and no classifier: it asks that each projected
coordinate be invariant across views (the diagonal term, T6's invariance) and that different
coordinates be decorrelated (the off-diagonal term), which spreads the batch over all D
dimensions instead of collapsing it. Decorrelation is a second-moment condition: it keeps the
projection's covariance well conditioned (the "affine conditioning" score of the report), which
is necessary for T1's affine independence of the class codes but not sufficient, and nothing in
the loss ties the coordinates to the classes of M. The projector is a 3-layer MLP (8192 wide on
ImageNet), so like SimCLR (T9) the constraint is placed on g(z), not on z itself.
"""

from __future__ import annotations

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.losses.common import check_positive, check_view_pair, float32_maths
from ssltheory.ssl.losses.distributed import (
    all_reduce_sum_with_grad,
    check_distributed_option,
    global_mean_with_grad,
    resolve_distributed,
    world_size,
)

__all__ = ["BarlowTwinsLoss"]


class BarlowTwinsLoss(nn.Module):
    """sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2 with C the (D, D) cross-correlation of the views.

    Each view's projections are standardised over the batch, ``n_a = (z_a - mean) / sqrt(var +
    eps)`` with the biased variance (a batch-norm without affine parameters, as the authors'
    code), and ``C = n_a.T @ n_b / N`` over the N rows of the batch [paper: Zbontar et al. 2021
    eq. 1-2; code: ``facebookresearch/barlowtwins`` ``main.py``].

    Args:
        lambda_offdiag (float, default 0.0051 [code] (the paper's lambda 5e-3, rounded so in the code)):
            Weight of the redundancy-reduction (off-diagonal) term.
        eps: float, default 1e-5: added to the variance (batch-norm's).
        distributed ("auto", True or False, default "auto"):
            Whether the batch statistics and C are all-reduced over processes (the global batch's
            standardisation, as the authors' SyncBatchNorm, and its cross-correlation; with
            gradients: each process returns the loss of the global C).

    Forward:
        z_a, z_b: (B, D) float tensors, projections of the two views; row k of both from image k.
            B >= 2 (a variance needs two rows).

    Returns:
        loss: scalar float32
        logs: dict of detached scalars: ``loss``, ``on_diagonal`` (sum (1 - C_ii)^2), ``off_diagonal``
            (sum_{i != j} C_ij^2, unweighted), ``mean_diagonal`` (mean C_ii; 1 = perfectly invariant).

    Example:
        >>> loss_fn = BarlowTwinsLoss(distributed=False)
        >>> loss, logs = loss_fn(torch.randn(16, 32), torch.randn(16, 32))
    """

    def __init__(self, lambda_offdiag: float = 0.0051, eps: float = 1e-5, distributed: str | bool = "auto") -> None:
        super().__init__()
        self.lambda_offdiag = check_positive(lambda_offdiag, "lambda_offdiag")
        self.eps = check_positive(eps, "eps")
        self.distributed = check_distributed_option(distributed)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on two views' embeddings ``z_a``, ``z_b`` (batch, dim), same shape.

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"`` and the parts).
        """
        check_view_pair(z_a, z_b)
        use_dist = resolve_distributed(self.distributed)
        if z_a.shape[0] * (world_size() if use_dist else 1) < 2:
            raise InputError(f"z_a needs at least 2 rows to standardise over the batch, got {z_a.shape[0]}")
        with float32_maths(z_a):
            n_a = self._standardise(z_a.float(), use_dist)
            n_b = self._standardise(z_b.float(), use_dist)
            n_rows = float(z_a.shape[0] * (world_size() if use_dist else 1))
            # the (D, D) product in the projections' own precision (bf16 under autocast: the authors
            # run it in their autocast's half precision [code]); the rest in float32
            product = z_a.dtype if z_a.dtype in (torch.bfloat16, torch.float16) else torch.float32
            c = (n_a.to(product).T @ n_b.to(product)).float() / n_rows  # (D, D), local part of the global C
            if use_dist:
                c = all_reduce_sum_with_grad(c)
            diagonal = torch.diagonal(c)
            on_diag = (1.0 - diagonal).pow(2).sum()
            off_diag = c.pow(2).sum() - diagonal.pow(2).sum()
            loss = on_diag + self.lambda_offdiag * off_diag
        logs = {
            "loss": loss.detach(),
            "on_diagonal": on_diag.detach(),
            "off_diagonal": off_diag.detach(),
            "mean_diagonal": diagonal.detach().mean(),
        }
        return loss, logs

    def _standardise(self, z: torch.Tensor, distributed: bool) -> torch.Tensor:
        """(B, D) -> (B, D) standardised with the global batch's mean and biased variance."""
        mean = global_mean_with_grad(z, distributed)
        centred = z - mean
        var = global_mean_with_grad(centred.pow(2), distributed)
        return centred / torch.sqrt(var + self.eps)
