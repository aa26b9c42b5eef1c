"""SimSiam's symmetrised negative cosine with a predictor and a stop-gradient (Chen & He 2021).

In THEORY.md's terms SimSiam is a distillation ISSL whose teacher is the projection of the other
view with its gradient stopped, and whose student is a predictor MLP on top of the same
projection. The loss asks only for invariance (T6's first term): it has no term for
predictability of many classes, no marginal entropy (DISSL's -lambda H(pbar), T7) and no
negatives, so the constant representation is a global minimiser; only the stop-gradient and the
predictor's dynamics keep training away from it [paper: Chen & He 2021 sec. 4]. It therefore
serves none of the conditions of T1 / T2 by its objective; whether a trained encoder is ideal is
an empirical question for the report. Its heads are MLPs, so the inner classifier is not linear
in z either (T9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.losses.common import check_matrix, check_same_shape, float32_maths

__all__ = ["SimSiamLoss", "projection_std"]


@torch.no_grad()
def projection_std(z: torch.Tensor) -> torch.Tensor | float:
    """Mean over coordinates of the batch standard deviation of the l2-normalised rows of z (B, D).

    About 1/sqrt(D) when the projections spread over the sphere, 0 at collapse (all rows equal)
    [paper: Chen & He 2021 sec. 4.1 and fig. 2]; SimSiam's collapse monitor, a detached scalar
    tensor (read on the host only when logged). 0.0 for one row.
    """
    if z.shape[0] < 2:
        return 0.0
    return F.normalize(z.detach().float(), dim=1).std(dim=0).mean()


class SimSiamLoss(nn.Module):
    """D(p_a, sg(z_b)) / 2 + D(p_b, sg(z_a)) / 2 with D(p, z) = -mean_rows cos(p, z).

    p = h(z) is the predictor's output, z the projector's, sg the stop-gradient [paper: Chen & He
    2021 eq. 1-4 and Algorithm 1]. lightly's ``NegativeCosineSimilarity`` is D without the
    stop-gradient, which its users apply themselves.

    Args:
        eps: float, default 1e-8: floor of the norms in the cosine (``F.cosine_similarity``'s).

    The loss is per row, so it needs no cross-process option: DDP's gradient average over
    processes already gives the global batch's gradient.

    Forward:
        p_a, p_b: (B, D) predictor outputs of the two views (with gradient).
        z_a, z_b: (B, D) projector outputs of the two views (detached here).

    Returns:
        loss: scalar float32 in [-1, 1]
        logs: dict of detached scalars: ``loss`` (the collapse monitor, `projection_std`, is the method's log).

    Example:
        >>> loss_fn = SimSiamLoss()
        >>> p = [torch.randn(8, 32, requires_grad=True) for _ in range(2)]
        >>> z = [torch.randn(8, 32, requires_grad=True) for _ in range(2)]
        >>> loss, logs = loss_fn(p[0], p[1], z[0], z[1])
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
            raise InputError(f"eps must be a positive number, got {eps!r}")
        self.eps = float(eps)

    def forward(
        self, p_a: torch.Tensor, p_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on the predictions ``p_a``, ``p_b`` and the projections ``z_a``,
        ``z_b`` of two views, each (batch, dim).

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"`` and the parts).
        """
        for x, name in ((p_a, "p_a"), (p_b, "p_b"), (z_a, "z_a"), (z_b, "z_b")):
            check_matrix(x, name)
            check_same_shape(x, p_a, name, "p_a")
        with float32_maths(p_a):
            d_ab = -F.cosine_similarity(p_a.float(), z_b.detach().float(), dim=1, eps=self.eps).mean()
            d_ba = -F.cosine_similarity(p_b.float(), z_a.detach().float(), dim=1, eps=self.eps).mean()
            loss = (d_ab + d_ba) / 2
        return loss, {"loss": loss.detach()}
