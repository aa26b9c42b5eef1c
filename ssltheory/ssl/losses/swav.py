"""SwAV's swapped-prediction loss with Sinkhorn-Knopp codes (Caron et al. 2020).

In THEORY.md's terms SwAV is a distillation ISSL whose teacher is the (detached) equipartitioned
assignment of a view to K prototypes and whose student is the softmax over the same prototypes of
another view. Predicting the code of one crop from another asks for invariance (T6: the codes
only depend on what the crops share); collapse to one prototype is prevented not by a loss term
but by the Sinkhorn-Knopp projection onto the transport polytope (every prototype gets mass 1/K
of the batch), the hard-constraint counterpart of DISSL's -lambda H(pbar) maximality term (T7).
The student is a cosine layer on an MLP projection of z, so its inner classifier is *not* linear
in z: like SimCLR's shared MLP (T9) and unlike DISSL's linear student, SwAV does not ask that z
itself be linearly decodable, so it does not serve T1's LIN-ideal condition directly.

Multi-crop [paper: Caron et al. 2020 sec. 3.2]: codes are computed on the global crops only
(ImageNet: 2 x 160 px), every other crop (ImageNet: 4 x 96 px; `MULTICROP_IMAGENET`) predicts
them; `multicrop_for(image_size)` gives the small-image analogue at the same size ratios. The
optional queue (`EmbeddingQueue`) keeps the projections of earlier batches so that Sinkhorn's
equipartition runs over more rows than a small batch holds; its rows' codes are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.losses.common import check_matrix, check_positive, check_view_list, float32_maths
from ssltheory.ssl.losses.distributed import check_distributed_option, resolve_distributed

__all__ = ["SwAVLoss", "sinkhorn_knopp", "EmbeddingQueue", "MULTICROP_IMAGENET", "multicrop_for"]

#: SwAV's "2x160 + 4x96" multi-crop setting on ImageNet (the paper's Table 4) [paper]: (number of
#: global crops, their side, number of small crops, their side), and the crop-area ranges of the
#: SwAV code (global (0.14, 1), small (0.05, 0.14)) [code].
MULTICROP_IMAGENET = {
    "n_global": 2,
    "global_size": 160,
    "n_small": 4,
    "small_size": 96,
    "global_scale": (0.14, 1.0),
    "small_scale": (0.05, 0.14),
}


def multicrop_for(image_size: int) -> dict:
    """The 2 x global + 4 x small multi-crop setting scaled to images of side `image_size` [derived].

    The global crops take the whole side (the paper's 160 px crops are 160/224 of ImageNet's
    training side, but a 32 px image has no room to spare) and the small crops the ImageNet
    ratio 96/160 of it, rounded, at least 4 px: 32 -> 2 x 32 + 4 x 19, 64 -> 2 x 64 + 4 x 38.
    Returns a dict shaped like `MULTICROP_IMAGENET`.
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 4:
        raise InputError(f"image_size must be an integer of at least 4 pixels, got {image_size!r}")
    ratio = MULTICROP_IMAGENET["small_size"] / MULTICROP_IMAGENET["global_size"]
    return {**MULTICROP_IMAGENET, "global_size": image_size, "small_size": max(4, round(image_size * ratio))}


@torch.no_grad()
def sinkhorn_knopp(
    scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3, distributed: bool = False
) -> torch.Tensor:
    """Equipartitioned soft assignments of N rows to K prototypes: scores (N, K) -> codes (N, K).

    Q = exp(scores / epsilon) is scaled alternately so that every prototype (column) holds mass
    1/K and every row mass 1/N, `iterations` times, and returned times N so that each row sums to
    1 [paper: Caron et al. 2020 eq. 3 and Algorithm 1; Cuturi 2013]. The rows are those of the
    global batch when `distributed`: the total, the column sums and N are all-reduced over
    processes (each process keeps its own rows), as in the SwAV code. No gradient flows (the
    codes are targets). The exponent is shifted by the global maximum first, which every
    normalisation divides out, so large scores / small epsilon do not overflow float32.
    """
    import torch.distributed as dist

    q = scores.detach().float() / epsilon  # a fresh (N, K) buffer: the steps below work in place
    shift = q.max()
    if distributed:
        dist.all_reduce(shift, op=dist.ReduceOp.MAX)
    q.sub_(shift).exp_()
    n_rows = float(q.shape[0])  # a Python number unless it must be summed over processes (then a fill)
    total = q.sum()
    if distributed:
        n_rows = torch.full((), n_rows, device=q.device)
        dist.all_reduce(n_rows)
        dist.all_reduce(total)
    q.div_(total)
    n_prototypes = q.shape[1]
    for _ in range(iterations):
        column = q.sum(dim=0, keepdim=True)  # (1, K): mass of each prototype
        if distributed:
            dist.all_reduce(column)
        q.div_(column * n_prototypes)
        q.div_(q.sum(dim=1, keepdim=True) * n_rows)  # rows are local
    return q.mul_(n_rows)


class EmbeddingQueue(nn.Module):
    """FIFO of the last `length` projections of each global crop (SwAV's queue) [code].

    ``push(embeddings)`` with a list of n_global (B, D) tensors stores them (detached), newest
    first; ``rows(i)`` is the (filled, D) stored block of global crop i (empty until something
    was pushed). The buffer is part of the state dict, so a resumed run continues with the same
    queue. `length` must be a multiple of the batch size in SwAV's code; here any length works
    (the oldest rows are dropped).
    """

    def __init__(self, n_global: int, length: int, dim: int) -> None:
        super().__init__()
        for value, name in ((n_global, "n_global"), (length, "length"), (dim, "dim")):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        self.register_buffer("queue", torch.zeros(n_global, length, dim))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self._filled = 0  # the host's copy of `filled`: slicing the queue reads nothing from the device

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "filled" in state_dict:  # once, when a checkpoint is loaded
            self._filled = int(state_dict[prefix + "filled"])

    @torch.no_grad()
    def push(self, embeddings: Sequence[torch.Tensor]) -> None:
        """Put the newest embeddings (one (batch, dim) tensor per global crop) at the front of the queue,
        dropping the oldest rows.
        """
        if len(embeddings) != self.queue.shape[0]:
            raise InputError(f"push expects {self.queue.shape[0]} global crops, got {len(embeddings)}")
        batch = embeddings[0].shape[0]
        new = torch.stack([e.detach().to(self.queue.dtype) for e in embeddings])[:, : self.queue.shape[1]]
        keep = self.queue.shape[1] - new.shape[1]
        self.queue.copy_(torch.cat([new, self.queue[:, :keep]], dim=1))
        self._filled = min(self._filled + batch, self.queue.shape[1])
        self.filled.fill_(self._filled)

    def rows(self, index: int) -> torch.Tensor:
        return self.queue[index, : self._filled]


class SwAVLoss(nn.Module):
    """Swapped prediction: each crop predicts the Sinkhorn codes of every other global crop.

    With prototype scores p_w = <normalize(g(z_w)), c_k> (the student's logits of crop w over the K
    prototypes), the codes of global crop v are ``q_v = sinkhorn_knopp(p_v)`` (computed on p_v
    stacked over the queue's scores of crop v, queue rows then dropped; no gradient), and the loss
    is the mean over ordered pairs (v global, w any crop, w != v) of
    ``mean_rows -sum_k q_v log softmax(p_w / temperature)`` [paper: Caron et al. 2020 eq. 1-3;
    code: SwAV ``main_swav.py``; same pairs and averaging as lightly's ``SwaVLoss``].

    Args:
        temperature: float, default 0.1 [paper]
        epsilon: float, default 0.05 [paper]: Sinkhorn's entropic regularisation.
        sinkhorn_iterations: int, default 3 [paper]
        distributed ("auto", True or False, default "auto"):
            Whether Sinkhorn's sums run over the global batch (all-reduced), as in the SwAV code.
            The cross-entropy is per-row, hence local.

    Forward:
        scores: list of n_views (B, K) tensors, the prototype scores of every crop, global first.
        n_global: int, default 2: how many of them are global crops (the code targets).
        queue_scores: optional list of n_global (Q, K) tensors, the current prototypes' scores of
            the queued projections of each global crop (Q may be 0).

    Returns:
        loss: scalar float32
        logs: dict of detached scalars: ``loss``, ``prototype_usage`` (entropy of the mean code over the
            batch / log K; 1 when the batch is equipartitioned, 0 when one prototype takes it all).

    Example:
        >>> loss_fn = SwAVLoss(distributed=False)
        >>> scores = [torch.randn(8, 30).tanh().requires_grad_() for _ in range(6)]
        >>> loss, logs = loss_fn(scores, n_global=2)
    """

    def __init__(
        self,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        distributed: str | bool = "auto",
    ) -> None:
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        self.epsilon = check_positive(epsilon, "epsilon")
        if not isinstance(sinkhorn_iterations, int) or isinstance(sinkhorn_iterations, bool) or sinkhorn_iterations < 1:
            raise InputError(f"sinkhorn_iterations must be a positive integer, got {sinkhorn_iterations!r}")
        self.sinkhorn_iterations = sinkhorn_iterations
        self.distributed = check_distributed_option(distributed)

    def forward(
        self, scores: Sequence[torch.Tensor], n_global: int = 2, queue_scores: Sequence[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of the class docstring on prototype scores, one (batch, n_prototypes) tensor per crop
        (the first ``n_global`` the global crops), with ``queue_scores`` (one (Q, n_prototypes) per global
        crop) added to the codes' Sinkhorn batch when given.

        Returns:
            (loss, logs): the scalar loss tensor and its detached logs (``"loss"`` and the parts).
        """
        if not isinstance(n_global, int) or isinstance(n_global, bool) or n_global < 1:
            raise InputError(f"n_global must be a positive integer, got {n_global!r}")
        scores = check_view_list(scores, "scores", min_views=2)
        if n_global > len(scores):
            raise InputError(f"n_global is {n_global} but scores holds only {len(scores)} crops")
        if queue_scores is not None:
            if isinstance(queue_scores, torch.Tensor) or len(queue_scores) != n_global:
                raise InputError(
                    f"queue_scores must be a list of {n_global} (Q, n_prototypes) tensors, one per global crop"
                )
            for i, q in enumerate(queue_scores):
                if q.numel():
                    check_matrix(q, f"queue_scores[{i}]")
                if q.ndim != 2 or q.shape[1] != scores[0].shape[1]:
                    raise InputError(
                        f"queue_scores[{i}] has shape {tuple(q.shape)}; it needs {scores[0].shape[1]} columns"
                    )
        use_dist = resolve_distributed(self.distributed)
        batch = scores[0].shape[0]
        with float32_maths(scores[0]):
            codes = []
            for v in range(n_global):
                rows = scores[v].detach().float()
                if queue_scores is not None and queue_scores[v].shape[0]:
                    rows = torch.cat([rows, queue_scores[v].detach().float()])
                codes.append(sinkhorn_knopp(rows, self.epsilon, self.sinkhorn_iterations, use_dist)[:batch])
            log_probs = [torch.log_softmax(s.float() / self.temperature, dim=1) for s in scores]
            total, n_pairs = None, 0
            for v, q in enumerate(codes):
                for w, log_p in enumerate(log_probs):
                    if w == v:
                        continue
                    term = torch.dot(q.reshape(-1), log_p.reshape(-1))
                    total = term if total is None else total + term
                    n_pairs += 1
            loss = -total / (n_pairs * batch)
        with torch.no_grad():
            mean_code = torch.stack([q.mean(dim=0) for q in codes]).mean(dim=0)  # (K,)
            usage = -(mean_code * torch.log(mean_code.clamp_min(1e-30))).sum()
        n_prototypes = scores[0].shape[1]
        logs = {
            "loss": loss.detach(),
            "prototype_usage": usage / math.log(n_prototypes) if n_prototypes > 1 else 1.0,
        }
        return loss, logs
