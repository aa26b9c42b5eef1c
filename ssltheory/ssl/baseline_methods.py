"""The paper's other baselines as methods: SwAV, Barlow Twins and SimSiam, with their heads.

The ISSL paper compares DISSL with SwAV (multi-crop, its Table 4), Barlow Twins (Table 3) and
SimSiam (Table 1's distillation baseline is the best of DINO, SwAV and SimSiam) [paper]. Each is
an encoder, the heads of its own paper and the loss of ``ssltheory.ssl.losses``, behind the
``Method`` contract the trainer drives (docs/ARCHITECTURE.md), registered in
``ssltheory.ssl.methods``. The losses stay pure functions of head outputs; the heads and the
step (which views go where, stop-gradients, the queue, the frozen prototypes) live here.

- `SwAVMethod` (loss `SwAVLoss`): projector Linear(z,2048) BN ReLU Linear(2048,128), l2-normalise,
  cosine layer to 3000 prototypes (frozen for the first 1/100 of the run); optional queue.
- `BarlowTwinsMethod` (loss `BarlowTwinsLoss`): projector Linear(z,8192,no bias) BN ReLU
  Linear(8192,8192,no bias) BN ReLU Linear(8192,8192,no bias).
- `SimSiamMethod` (loss `SimSiamLoss`): projector Linear(z,2048,no bias) BN ReLU
  Linear(2048,2048,no bias) BN ReLU Linear(2048,2048) BN(affine=False); predictor
  Linear(2048,512,no bias) BN ReLU Linear(512,2048).

Defaults are the methods' papers' (ImageNet scale) [paper / code]. The Method subclasses live here
rather than in their loss files because ``method_impl`` imports the losses package: a loss module
importing ``method_impl`` back would make the import order matter.

Initialisation as every head of this package (``heads.init_head_``: truncated normal std 0.02,
zero biases). For CPU runs pass smaller ``hidden_dim`` / ``out_dim`` / ``n_prototypes``. All three
are trained by the one loop of ``ssltheory.ssl.train`` (Adam, the paper's learning-rate rule),
not by their papers' LARS / SGD recipes; that is the point of the comparison (same loop, only
the objective differs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.heads import CosineLayer, init_head_
from ssltheory.ssl.losses.barlow import BarlowTwinsLoss
from ssltheory.ssl.losses.simsiam import SimSiamLoss, projection_std
from ssltheory.ssl.losses.swav import EmbeddingQueue, SwAVLoss
from ssltheory.ssl.method_impl import Method, check_view_counts, encode_views
from ssltheory.validation import as_count

__all__ = [
    "SwAVMethod",
    "BarlowTwinsMethod",
    "SimSiamMethod",
    "swav_projector",
    "barlow_projector",
    "simsiam_projector",
    "simsiam_predictor",
]

#: SwAV freezes its prototypes during the first epoch of its 100-epoch schedule [code:
#: ``freeze_prototypes_niters``] and starts its queue at epoch 15 of 100 [code: ``epoch_queue_starts``].
_SWAV_EPOCHS = 100
_SWAV_FREEZE_EPOCHS = 1
_SWAV_QUEUE_START_EPOCH = 15


def _width(value: object, name: str) -> int:
    return as_count(value, name, minimum=1)


def _steps_or_none(value: object, name: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise InputError(f"{name} must be None or a non-negative integer, got {value!r}")
    return value


def _hidden_block(in_dim: int, out_dim: int) -> list[nn.Module]:
    return [nn.Linear(in_dim, out_dim, bias=False), nn.BatchNorm1d(out_dim), nn.ReLU()]


def swav_projector(z_dim: int, hidden_dim: int = 2048, out_dim: int = 128) -> nn.Sequential:
    """SwAV's projection before the prototypes: (B, z_dim) -> (B, out_dim), not yet normalised. [code]"""
    z_dim, hidden_dim, out_dim = _width(z_dim, "z_dim"), _width(hidden_dim, "hidden_dim"), _width(out_dim, "out_dim")
    return init_head_(
        nn.Sequential(
            nn.Linear(z_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim)
        )
    )


def barlow_projector(z_dim: int, hidden_dim: int = 8192, out_dim: int = 8192) -> nn.Sequential:
    """Barlow Twins' 3-layer projector (8192-8192-8192 on ImageNet): (B, z_dim) -> (B, out_dim). [code]"""
    z_dim, hidden_dim, out_dim = _width(z_dim, "z_dim"), _width(hidden_dim, "hidden_dim"), _width(out_dim, "out_dim")
    return init_head_(
        nn.Sequential(
            *_hidden_block(z_dim, hidden_dim),
            *_hidden_block(hidden_dim, hidden_dim),
            nn.Linear(hidden_dim, out_dim, bias=False),
        )
    )


def simsiam_projector(z_dim: int, hidden_dim: int = 2048, out_dim: int = 2048) -> nn.Sequential:
    """SimSiam's 3-layer projector ending in a batch-norm without affine: (B, z_dim) -> (B, out_dim). [code]"""
    z_dim, hidden_dim, out_dim = _width(z_dim, "z_dim"), _width(hidden_dim, "hidden_dim"), _width(out_dim, "out_dim")
    return init_head_(
        nn.Sequential(
            *_hidden_block(z_dim, hidden_dim),
            *_hidden_block(hidden_dim, hidden_dim),
            nn.Linear(hidden_dim, out_dim),
            nn.BatchNorm1d(out_dim, affine=False),
        )
    )


def simsiam_predictor(dim: int = 2048, pred_dim: int = 512) -> nn.Sequential:
    """SimSiam's bottleneck predictor h: (B, dim) -> (B, dim). [paper: Chen & He 2021 sec. 4.4]"""
    dim, pred_dim = _width(dim, "out_dim"), _width(pred_dim, "pred_dim")
    return init_head_(nn.Sequential(*_hidden_block(dim, pred_dim), nn.Linear(pred_dim, dim)))


class SwAVMethod(Method):
    """SwAV (Caron et al. 2020): swapped prediction of Sinkhorn codes over learned prototypes.

    Every crop goes through encoder, projector and l2-normalisation, then the prototype cosine
    layer; `SwAVLoss` makes each crop predict the codes of every other global crop. Multi-crop:
    ``n_views`` = 2 global + small crops (``ssltheory.ssl.losses.swav.MULTICROP_IMAGENET``: 2 x 160 +
    4 x 96; ``multicrop_for(image_size)`` for small images). Queue (``queue_length`` > 0): from
    ``queue_start_step`` on, the normalised projections of the global crops of earlier batches are
    kept and their prototype scores join Sinkhorn's rows (SwAV's small-batch remedy).

    ``freeze_prototypes_steps`` None is 1/100 of the run (SwAV's first epoch of 100),
    ``queue_start_step`` None is 15/100, ``queue_length`` 0 turns the queue off. Across processes
    Sinkhorn's sums run over the global batch.
    """

    name = "swav"

    def __init__(
        self, encoder: nn.Module, *, n_prototypes: int, hidden_dim: int, out_dim: int,
        temperature: float, epsilon: float, sinkhorn_iterations: int,
        freeze_prototypes_steps: int | None, queue_length: int, queue_start_step: int | None,
        n_views: int, n_global_views: int, distributed: str | bool,
    ) -> None:  # fmt: skip
        n_views, n_global_views = check_view_counts(n_views, n_global_views)
        super().__init__(encoder, n_views, n_global_views)
        self.projector = swav_projector(self.z_dim, hidden_dim, out_dim)
        self.prototypes = CosineLayer(out_dim, _width(n_prototypes, "n_prototypes"))
        self.loss = SwAVLoss(
            temperature=temperature, epsilon=epsilon, sinkhorn_iterations=sinkhorn_iterations, distributed=distributed
        )
        self.freeze_prototypes_steps = _steps_or_none(freeze_prototypes_steps, "freeze_prototypes_steps")
        queue_length = as_count(queue_length, "queue_length", minimum=0)
        self.queue_start_step = _steps_or_none(queue_start_step, "queue_start_step")
        self.queue = EmbeddingQueue(n_global_views, queue_length, out_dim) if queue_length else None

    def prototypes_frozen_at(self, step: int, total_steps: int) -> bool:
        freeze = self.freeze_prototypes_steps
        if freeze is None:
            freeze = round(total_steps * _SWAV_FREEZE_EPOCHS / _SWAV_EPOCHS)
        return step < freeze

    def queue_active_at(self, step: int, total_steps: int) -> bool:
        start = self.queue_start_step
        if start is None:
            start = round(total_steps * _SWAV_QUEUE_START_EPOCH / _SWAV_EPOCHS)
        return self.queue is not None and step >= start

    def _step(self, views, labels, step, total_steps):
        frozen = self.prototypes_frozen_at(step, total_steps)
        embeddings = F.normalize(self.projector(torch.cat(encode_views(self.encoder, views), dim=0)), dim=1)
        scores = list(self.prototypes(embeddings, frozen=frozen).chunk(self.n_views, dim=0))
        queue_scores = None
        use_queue = self.queue_active_at(step, total_steps)
        if use_queue:
            with (
                torch.no_grad(),
                torch.autocast(device_type=embeddings.device.type, enabled=False),
            ):  # float32, as the layer
                weight = F.normalize(self.prototypes.weight.detach().float(), dim=1)
                queue_scores = [self.queue.rows(i).float() @ weight.T for i in range(self.n_global_views)]
        loss, logs = self.loss(scores, n_global=self.n_global_views, queue_scores=queue_scores)
        if use_queue:
            self.queue.push(list(embeddings.detach().chunk(self.n_views, dim=0))[: self.n_global_views])
            logs["queue_rows"] = float(self.queue.rows(0).shape[0])
        logs["prototypes_frozen"] = float(frozen)
        return loss, logs


class BarlowTwinsMethod(Method):
    """Barlow Twins (Zbontar et al. 2021): a 3-layer projector on both views, cross-correlation loss.

    Across processes the batch statistics and the cross-correlation are all-reduced.
    """

    name = "barlow"

    def __init__(
        self, encoder: nn.Module, *, hidden_dim: int, out_dim: int, lambda_offdiag: float, distributed: str | bool
    ) -> None:
        super().__init__(encoder)
        self.projector = barlow_projector(self.z_dim, hidden_dim, out_dim)
        self.loss = BarlowTwinsLoss(lambda_offdiag=lambda_offdiag, distributed=distributed)

    def _step(self, views, labels, step, total_steps):
        return self.pair_loss(self.projector, views)


class SimSiamMethod(Method):
    """SimSiam (Chen & He 2021): projector on both views, predictor, stop-gradient on the targets.

    The loss is per row, so there is no cross-process option.
    """

    name = "simsiam"

    def __init__(self, encoder: nn.Module, *, hidden_dim: int, out_dim: int, pred_dim: int) -> None:
        super().__init__(encoder)
        self.projector = simsiam_projector(self.z_dim, hidden_dim, out_dim)
        self.predictor = simsiam_predictor(out_dim, pred_dim)
        self.loss = SimSiamLoss()

    def _step(self, views, labels, step, total_steps):
        z = self.projector(torch.cat(encode_views(self.encoder, views), dim=0))
        p = self.predictor(z)
        p_a, p_b = p.chunk(2, dim=0)
        z_a, z_b = z.chunk(2, dim=0)
        loss, logs = self.loss(p_a, p_b, z_a, z_b)
        logs["projection_std"] = projection_std(z_a)  # about 1 / sqrt(out_dim) when healthy, 0 at collapse
        return loss, logs
