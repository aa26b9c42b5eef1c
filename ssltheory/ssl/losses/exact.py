"""Exact ISSL: predict the known maximal invariant M from z (controlled runs, THEORY.md T6).

When M is known (e.g. the paper's controlled CIFAR-10, where the augmentation is "another image
with the same label" and M is the label) the ISSL log-loss H[M | Z] can be minimised directly:
T6 [derived] shows that predicting another view, H[A' | Z] = H[A' | M] + H[M | Z], has the same
minimisers. The head family (linear or MLP, `ssltheory.ssl.heads.exact_head`) is the probe
family the representation is trained to be ideal for: a linear head asks for T1 (affinely
independent class codes), an MLP head only for T2 (distinct class codes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.losses.common import check_label_range, check_view_list, float32_maths

__all__ = ["ExactISSLLoss"]


class ExactISSLLoss(nn.Module):
    """Mean over views and rows of -log softmax(head(z_v))[M(x)].

    Forward:
        logits: list of n_views (B, K) tensors (or one (B, K) tensor), the head on each view's z.
        labels: (B,) integer tensor, M(x) in {0..K-1} for each image (the same for all its views).

    Returns:
        loss: scalar float32 (nats; H[M|Z] estimate)
        logs: dict of detached scalars: ``loss``, ``accuracy`` (fraction of rows whose argmax is M).

    Example:
        >>> loss, logs = ExactISSLLoss()([torch.randn(8, 10)], torch.randint(0, 10, (8,)))
    """

    def forward(
        self, logits: Sequence[torch.Tensor] | torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean cross-entropy of every view's logits (batch, n_classes) (one tensor or a list, one per view)
        against ``labels`` (batch,), integers in [0, n_classes).

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"``, ``"accuracy"``).
        """
        if isinstance(logits, torch.Tensor):
            logits = [logits]
        logits = check_view_list(logits, "logits", min_views=1)
        if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
            raise InputError(
                f"labels must be a 1-D integer tensor, got {getattr(labels, 'shape', type(labels).__name__)}"
            )
        if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
            raise InputError(f"labels must be integers, got dtype {labels.dtype}")
        batch, n_classes = logits[0].shape
        if labels.shape[0] != batch:
            raise InputError(f"labels has {labels.shape[0]} entries but logits have {batch} rows")
        check_label_range(labels, n_classes)

        labels = labels.long()
        with float32_maths(logits[0]):
            per_view = [torch.nn.functional.cross_entropy(x.float(), labels) for x in logits]
            loss = torch.stack(per_view).mean()
        accuracy = torch.stack([(x.detach().argmax(1) == labels).float().mean() for x in logits]).mean()
        return loss, {"loss": loss.detach(), "accuracy": accuracy}
