"""The Method contract and the five built-in methods (an encoder, its heads and its loss).

What every method honours (the trainer drives nothing else), built by
:func:`ssltheory.ssl.methods.build_method` from the registry's checked options:

- ``method.training_step(views, labels, step, total_steps) -> (loss, logs)``
  views: list of ``method.n_views`` augmented batches, each (B, C, H, W) float, row k of every
  view from the same image; the first ``method.n_global_views`` are the large crops (multi-crop:
  later views may have another resolution). labels: (B,) int64 class ids, required when
  ``method.needs_labels`` (exact ISSL), otherwise ignored (None is fine). step: 0-based index of
  the optimiser step about to be taken; total_steps: the number of steps of the run (schedules).
  loss: float32 scalar to ``backward()``; logs: dict of detached scalar tensors (or Python numbers
  known on the host), read on the host only on logged steps (``ssltheory.ssl.losses.common``): a
  step makes no host synchronisation.
  ``forward`` is the same call, so under DistributedDataParallel call the wrapper,
  ``ddp_method(views, labels, step, total_steps)``, to get gradient synchronisation.
- ``method.on_step_end(step, total_steps)``: call after ``optimizer.step()`` (DINO's EMA teacher
  update; nothing for the others).
- ``method.encoder``: the module whose output z is the representation (save / probe this one).
- ``n_views``, ``n_global_views``, ``needs_labels``, ``name``.

Trainer notes: optimise only parameters with ``requires_grad`` (DINO's teacher has none); DINO's
last layer is frozen for its first steps by giving it no gradient at all (``.grad`` stays None,
so the optimiser skips it; under DDP use ``find_unused_parameters=True`` or skip those steps'
sync); convert batch-norms with ``nn.SyncBatchNorm.convert_sync_batchnorm`` for multi-GPU runs if
desired. Every view goes through the encoder in one concatenated batch per resolution, so
batch-norm statistics are shared across views as in the authors' code [code].

A new method subclasses :class:`Method` in its own loss file (``losses/<name>.py``) and adds one
entry to ``ssltheory.ssl.methods.METHODS``; nothing else changes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl import heads
from ssltheory.ssl.losses import CISSLLoss, DINOLoss, DISSLLoss, ExactISSLLoss, NTXentLoss
from ssltheory.ssl.losses.common import check_label_range
from ssltheory.validation import as_count

__all__ = [
    "Method",
    "SimCLRMethod",
    "CISSLMethod",
    "DINOMethod",
    "DISSLMethod",
    "ExactMethod",
    "encode_views",
    "check_view_counts",
]

#: docs/REFERENCE.md: DINO's teacher temperature warms up over 50 of 300 epochs and the last layer is
#: frozen for 1 epoch; with no explicit step counts these fractions of the run are used.
_REFERENCE_EPOCHS = 300
_DINO_WARMUP_EPOCHS = 50
_DINO_FREEZE_EPOCHS = 1


def _optional_steps(value: object, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"{name} must be None or a non-negative integer, got {value!r}")
    return value


def check_view_counts(n_views: object, n_global_views: object) -> tuple[int, int]:
    """Check a multi-crop view count: ``n_global_views >= 2`` large crops among ``n_views >= n_global_views`` views."""
    n_views, n_global_views = as_count(n_views, "n_views", 1), as_count(n_global_views, "n_global_views", 1)
    if n_global_views < 2:
        raise InputError(f"n_global_views must be at least 2, got {n_global_views}")
    if n_views < n_global_views:
        raise InputError(f"n_views ({n_views}) must be at least n_global_views ({n_global_views})")
    return n_views, n_global_views


def encode_views(encoder: nn.Module, views: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Encode every view, one encoder call per resolution: list of (B, C, H, W) -> list of (B, z_dim)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, v in enumerate(views):
        groups.setdefault(tuple(v.shape[1:]), []).append(i)
    out: list[torch.Tensor | None] = [None] * len(views)
    for indices in groups.values():
        z = encoder(torch.cat([views[i] for i in indices], dim=0))
        for i, z_i in zip(indices, z.chunk(len(indices), dim=0)):
            out[i] = z_i
    return out  # type: ignore[return-value]


class Method(nn.Module):
    """Base class: owns ``encoder``; validates the batch, then calls ``_step``. See the module docstring.

    A subclass's constructor takes ``encoder`` and, keyword-only and without defaults, the options of
    its entry in ``ssl/methods.py``'s registry, which alone holds their defaults (docs/REFERENCE.md's) and
    help (``ssltheory train --help``); ``build_method`` passes every one.
    """

    name = "method"
    needs_labels = False

    def __init__(self, encoder: nn.Module, n_views: int = 2, n_global_views: int = 2) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise InputError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        z_dim = getattr(encoder, "out_dim", None)
        if not isinstance(z_dim, int) or z_dim < 1:
            raise InputError("encoder must have an integer attribute out_dim (its representation size)")
        self.encoder = encoder
        self.z_dim = z_dim
        self.n_views = n_views
        self.n_global_views = n_global_views

    def forward(
        self, views: Sequence[torch.Tensor], labels: torch.Tensor | None, step: int, total_steps: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        return self.training_step(views, labels, step, total_steps)

    def pair_loss(self, head: nn.Module, views: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """``self.loss`` on the two views' outputs of one ``head`` shared by both (SimCLR, Barlow Twins)."""
        h = head(torch.cat(encode_views(self.encoder, views), dim=0))
        return self.loss(*h.chunk(2, dim=0))

    def training_step(
        self, views: Sequence[torch.Tensor], labels: torch.Tensor | None, step: int, total_steps: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """One objective evaluation on a batch of views; returns (float32 scalar loss, detached logs)."""
        views = self._check_views(views)
        if self.needs_labels:
            labels = self._check_labels(labels, views[0].shape[0])
        if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 1:
            raise InputError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise InputError(f"step must be a non-negative integer, got {step!r}")
        loss, logs = self._step(views, labels, step, total_steps)
        return loss, logs

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Called after the optimiser step `step`; nothing to do for methods without a moving teacher."""

    def _step(self, views, labels, step, total_steps):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_views(self, views: object) -> list[torch.Tensor]:
        if isinstance(views, torch.Tensor) or not isinstance(views, Sequence):
            raise InputError(f"views must be a list of {self.n_views} image batches, got {type(views).__name__}")
        views = list(views)
        if len(views) != self.n_views:
            raise InputError(f"views has {len(views)} entries but {self.name} expects n_views={self.n_views}")
        for i, v in enumerate(views):
            if not isinstance(v, torch.Tensor) or v.ndim != 4 or not torch.is_floating_point(v):
                raise InputError(
                    f"views[{i}] must be a float tensor of shape (B, C, H, W), got "
                    f"{getattr(v, 'dtype', type(v).__name__)} {tuple(getattr(v, 'shape', ()))}"
                )
            if v.shape[0] != views[0].shape[0] or v.shape[1] != views[0].shape[1]:
                raise InputError(
                    f"views[{i}] has shape {tuple(v.shape)} but views[0] has {tuple(views[0].shape)}: "
                    "batch size and channels must agree"
                )
            if i < self.n_global_views and v.shape != views[0].shape:
                raise InputError(
                    f"global view views[{i}] has shape {tuple(v.shape)} but views[0] has {tuple(views[0].shape)}"
                )
        if views[0].shape[0] < 2:
            raise InputError(f"views need at least 2 images per batch (batch-norm heads), got {views[0].shape[0]}")
        return views

    def _check_labels(self, labels: object, batch: int) -> torch.Tensor:
        if not isinstance(labels, torch.Tensor):
            raise InputError(f"{self.name} needs labels: a (B,) integer tensor, got {type(labels).__name__}")
        if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise InputError(
                f"labels must be a 1-D integer tensor, got dtype {labels.dtype} shape {tuple(labels.shape)}"
            )
        if labels.shape[0] != batch:
            raise InputError(f"labels has {labels.shape[0]} entries but views have {batch} rows")
        return labels


class SimCLRMethod(Method):
    """SimCLR: one MLP head shared by both views + NT-Xent (THEORY.md T9; docs/REFERENCE.md defaults).

    Across processes (``distributed``) the negatives are gathered.
    """

    name = "simclr"

    def __init__(
        self, encoder: nn.Module, *, temperature: float, hidden_dim: int, out_dim: int,
        distributed: str | bool,
    ) -> None:  # fmt: skip
        super().__init__(encoder)
        self.head = heads.simclr_head(self.z_dim, hidden_dim, out_dim)
        self.loss = NTXentLoss(temperature=temperature, distributed=distributed)

    def _step(self, views, labels, step, total_steps):
        return self.pair_loss(self.head, views)


class CISSLMethod(Method):
    """CISSL: linear student, MLP teacher, self-inclusive contrastive target (THEORY.md T8).

    ``student_head="mlp"`` is Fig 7c's MLP-head arm as the authors run it [code]: *both* heads become
    two hidden layers of ``mlp_hidden_dim``, so the inner classifier is an MLP and z is pushed towards
    MLP- rather than LIN-ideal. Across processes the teacher targets are gathered, with gradients.
    """

    name = "cissl"

    def __init__(
        self, encoder: nn.Module, *, temperature: float, hidden_dim: int, out_dim: int,
        student_head: str, mlp_hidden_dim: int, distributed: str | bool,
    ) -> None:  # fmt: skip
        super().__init__(encoder)
        if student_head == "mlp":  # Fig. 7c's arm: both heads the same two-hidden-layer MLP
            self.student_head = heads.cissl_student_head(self.z_dim, out_dim, family="mlp", hidden_dim=mlp_hidden_dim)
            self.teacher_head = heads.cissl_teacher_head(self.z_dim, mlp_hidden_dim, out_dim, family="mlp")
        else:
            self.student_head = heads.cissl_student_head(self.z_dim, out_dim, family=student_head)
            self.teacher_head = heads.cissl_teacher_head(self.z_dim, hidden_dim, out_dim)
        self.loss = CISSLLoss(temperature=temperature, distributed=distributed)

    def _step(self, views, labels, step, total_steps):
        z = torch.cat(encode_views(self.encoder, views), dim=0)
        s_a, s_b = self.student_head(z).chunk(2, dim=0)
        t_a, t_b = self.teacher_head(z).chunk(2, dim=0)
        return self.loss(s_a, s_b, t_a, t_b)


class DINOMethod(Method):
    """DINO: EMA teacher, centring, sharpening; the original DINO by default, or the ISSL authors' variant.

    Student = encoder + `DINOHead`; teacher = a copy of the encoder and a head (no gradients),
    updated in `on_step_end` as teacher <- m teacher + (1 - m) student with
    m = 1 - (1 - ema_momentum) (cos(pi step / total_steps) + 1) / 2 (0.996 -> 1, cosine) [code].
    The teacher sees the ``n_global_views`` large crops, the student every view. The loss,
    temperatures (student 0.1, teacher 0.04 -> 0.07), centre momentum 0.9, EMA schedule, widths
    (1024, 256, C = 1000) and the frozen last layer during the first epoch are the authors' [code].

    ``variant="original"`` (the default) follows the original DINO (Caron et al. 2021), not the
    authors' re-implementation: one centre update a step over every teacher view; bottleneck
    with bias, then l2-normalise, then the cosine layer; the teacher head a copy of the
    student's; the teacher temperature warmed up linearly per step over 50/300 of the run (a
    smooth version of the per-epoch schedule) [derived].
    ``variant="authors"`` follows the ISSL authors' re-implementation (docs/REFERENCE.md) [code]: the
    centre updated inside each half of the symmetrised loss (once per teacher view, so twice a
    step with two views); l2-normalise the 1024-d output before a bias-free bottleneck; the
    teacher head re-initialised rather than copied; the teacher temperature warmed up per epoch
    (constant within an epoch, ``linspace(0.04, 0.07, 50)`` over the first 50 of 300 epochs).

    ``teacher_temperature_warmup_steps`` None is 50/300 of the run and ``freeze_last_layer_steps``
    None is 1/300 ("the first epoch"). Across processes the centre is all-reduced.
    """

    name = "dino"

    def __init__(
        self,
        encoder: nn.Module,
        *,
        n_codes: int,
        hidden_dim: int,
        bottleneck_dim: int,
        student_temperature: float,
        teacher_temperature: float,
        warmup_teacher_temperature: float,
        teacher_temperature_warmup_steps: int | None,
        center_momentum: float,
        ema_momentum: float,
        freeze_last_layer_steps: int | None,
        variant: str,
        n_views: int,
        n_global_views: int,
        distributed: str | bool,
    ) -> None:
        n_views, n_global_views = check_view_counts(n_views, n_global_views)
        super().__init__(encoder, n_views, n_global_views)
        if variant not in heads.DINO_VARIANTS:
            raise InputError(f"variant must be one of {', '.join(heads.DINO_VARIANTS)}, got {variant!r}")
        self.variant = variant
        if not isinstance(ema_momentum, (int, float)) or not 0.0 <= ema_momentum <= 1.0:
            raise InputError(f"ema_momentum must be in [0, 1], got {ema_momentum!r}")
        if not isinstance(warmup_teacher_temperature, (int, float)) or not warmup_teacher_temperature > 0:
            raise InputError(f"warmup_teacher_temperature must be positive, got {warmup_teacher_temperature!r}")
        self.head = heads.DINOHead(self.z_dim, n_codes, hidden_dim, bottleneck_dim, variant=variant)
        self.teacher_encoder = copy.deepcopy(encoder).requires_grad_(False)
        if variant == "authors":  # a freshly initialised teacher head
            self.teacher_head = heads.DINOHead(self.z_dim, n_codes, hidden_dim, bottleneck_dim, variant=variant)
            self.teacher_head.requires_grad_(False)
        else:
            self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        self.loss = DINOLoss(
            n_codes, student_temperature=student_temperature, teacher_temperature=teacher_temperature,
            center_momentum=center_momentum, distributed=distributed,
        )  # fmt: skip
        self.warmup_teacher_temperature = float(warmup_teacher_temperature)
        self.teacher_temperature_warmup_steps = _optional_steps(
            teacher_temperature_warmup_steps, "teacher_temperature_warmup_steps"
        )
        self.ema_momentum = float(ema_momentum)
        self.freeze_last_layer_steps = _optional_steps(freeze_last_layer_steps, "freeze_last_layer_steps")

    def teacher_temperature_at(self, step: int, total_steps: int) -> float:
        """Warm-up from warmup_teacher_temperature to teacher_temperature, then constant: linear in
        the step ("original"), or per epoch, ``linspace(warm, final, 50)[epoch]`` with 50 epochs in
        the warm-up ("authors")."""
        warmup = self.teacher_temperature_warmup_steps
        if warmup is None:
            warmup = round(total_steps * _DINO_WARMUP_EPOCHS / _REFERENCE_EPOCHS)
        final, warm = self.loss.teacher_temperature, self.warmup_teacher_temperature
        if step >= warmup:
            return final
        if self.variant == "authors":
            epoch = step * _DINO_WARMUP_EPOCHS // warmup  # 0 .. 49, each a 50th of the warm-up
            return warm + (final - warm) * epoch / (_DINO_WARMUP_EPOCHS - 1)
        return warm + (final - warm) * step / warmup

    def ema_momentum_at(self, step: int, total_steps: int) -> float:
        """Cosine schedule from ema_momentum at step 0 to 1 at total_steps."""
        progress = min(step, total_steps) / total_steps
        return 1.0 - (1.0 - self.ema_momentum) * (math.cos(math.pi * progress) + 1.0) / 2.0

    def last_layer_frozen_at(self, step: int, total_steps: int) -> bool:
        freeze = self.freeze_last_layer_steps
        if freeze is None:
            freeze = round(total_steps * _DINO_FREEZE_EPOCHS / _REFERENCE_EPOCHS)
        return step < freeze

    def _step(self, views, labels, step, total_steps):
        frozen = self.last_layer_frozen_at(step, total_steps)
        z = torch.cat(encode_views(self.encoder, views), dim=0)
        student = list(self.head(z, freeze_last_layer=frozen).chunk(self.n_views, dim=0))
        with torch.no_grad():
            z_t = torch.cat(encode_views(self.teacher_encoder, views[: self.n_global_views]), dim=0)
            teacher = list(self.teacher_head(z_t).chunk(self.n_global_views, dim=0))
        temperature = self.teacher_temperature_at(step, total_steps)
        if self.variant == "authors":  # one half of the symmetrised loss per teacher view, centre updated after each
            halves = [
                self.loss([student[v], *student[:v], *student[v + 1 :]], [teacher[v]], teacher_temperature=temperature)
                for v in range(self.n_global_views)
            ]
            loss = torch.stack([h[0] for h in halves]).mean()
            logs = {
                **halves[-1][1],
                "loss": loss.detach(),
                "teacher_entropy": torch.stack([h[1]["teacher_entropy"] for h in halves]).mean(),
            }
        else:
            loss, logs = self.loss(student, teacher, teacher_temperature=temperature)
        logs["last_layer_frozen"] = float(frozen)
        logs["ema_momentum"] = self.ema_momentum_at(step, total_steps)
        return loss, logs

    @torch.no_grad()
    def on_step_end(self, step: int, total_steps: int) -> None:
        """EMA update of the teacher (encoder and head) from the student, momentum of step `step`:
        teacher <- teacher + (1 - m) (student - teacher), one fused ``torch._foreach_lerp_`` over
        every parameter (a Python-number weight: no tensor is built on the device)."""
        m = self.ema_momentum_at(step, total_steps)
        teachers, students = [], []
        for student, teacher in ((self.encoder, self.teacher_encoder), (self.head, self.teacher_head)):
            for p_s, p_t in zip(student.parameters(), teacher.parameters()):
                teachers.append(p_t)
                students.append(p_s.detach())
        torch._foreach_lerp_(teachers, students, 1.0 - m)


class DISSLMethod(Method):
    """DISSL (THEORY.md T7): jointly trained MLP teacher and linear student, no stop-gradient, no EMA.

    The teacher head sees the ``n_global_views`` large crops, the student head every view.

    Across processes the teacher marginal is all-reduced, with its gradient.
    """

    name = "dissl"

    def __init__(
        self,
        encoder: nn.Module,
        *,
        n_codes: int,
        hidden_dim: int,
        bottleneck_dim: int,
        lambda_maximality: float,
        beta_det_inv: float,
        teacher_temperature: float,
        student_temperature: float,
        n_views: int,
        n_global_views: int,
        distributed: str | bool,
    ) -> None:
        n_views, n_global_views = check_view_counts(n_views, n_global_views)
        super().__init__(encoder, n_views, n_global_views)
        self.teacher_head = heads.dissl_teacher_head(self.z_dim, n_codes, hidden_dim, bottleneck_dim)
        self.student_head = heads.dissl_student_head(self.z_dim, n_codes, bottleneck_dim)
        self.loss = DISSLLoss(
            lambda_maximality=lambda_maximality, beta_det_inv=beta_det_inv, teacher_temperature=teacher_temperature,
            student_temperature=student_temperature, distributed=distributed,
        )  # fmt: skip

    def _step(self, views, labels, step, total_steps):
        z = encode_views(self.encoder, views)
        student = list(self.student_head(torch.cat(z, dim=0)).chunk(self.n_views, dim=0))
        teacher = list(self.teacher_head(torch.cat(z[: self.n_global_views], dim=0)).chunk(self.n_global_views, dim=0))
        return self.loss(student, teacher)


class ExactMethod(Method):
    """Exact ISSL: cross-entropy predicting the known class M from z (THEORY.md T6), head of a chosen family.

    ``n_classes`` (K) is required; the loss is averaged over the views.
    """

    name = "exact"
    needs_labels = True

    def __init__(self, encoder: nn.Module, *, n_classes: int | None, head: str, hidden_dim: int, n_views: int) -> None:
        if n_classes is None:
            raise InputError("exact ISSL needs the option n_classes (the number K of classes of M)")
        n_classes = as_count(n_classes, "n_classes", 1)
        n_views = as_count(n_views, "n_views", 1)
        super().__init__(encoder, n_views, n_views)
        self.n_classes = n_classes
        self.head_family = head
        self.head = heads.exact_head(self.z_dim, n_classes, head, hidden_dim)
        self.loss = ExactISSLLoss()

    def _check_labels(self, labels: object, batch: int) -> torch.Tensor:
        labels = super()._check_labels(labels, batch)
        check_label_range(labels, self.n_classes)  # no host read on an accelerator
        return labels

    def _step(self, views, labels, step, total_steps):
        logits = self.head(torch.cat(encode_views(self.encoder, views), dim=0))
        return self.loss(list(logits.chunk(self.n_views, dim=0)), labels)
