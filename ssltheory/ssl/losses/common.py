"""Boundary checks, the float32 rule and the logs rule shared by every loss in this package.

docs/REFERENCE.md: "Loss maths in float32 under mixed precision" [code]. Each loss casts its inputs with
`.float()` and runs inside `float32_maths(x)`, which switches autocast off on x's device type so
that softmax, log and exp are never computed in bf16/fp16.

Logs: every loss returns ``(loss, logs)`` with ``logs`` a dict of *detached scalar tensors* (or
Python numbers for what is known on the host, e.g. a count), never a value read back from the
device: reading one (``float(t)``, ``t.item()``) waits for the accelerator, so the trainer reads
them once per logged step (``ssltheory.ssl.train.logs_as_floats``), not once per step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from ssltheory.errors import InputError


def float32_maths(reference: torch.Tensor) -> contextlib.AbstractContextManager:
    """Context in which autocast is disabled on `reference`'s device type."""
    return torch.autocast(device_type=reference.device.type, enabled=False)


def check_matrix(x: object, name: str) -> torch.Tensor:
    """A floating (n, d) tensor with n >= 1 and d >= 1."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise InputError(f"{name} must have shape (batch, dim), got shape {tuple(x.shape)}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InputError(f"{name} must be non-empty, got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise InputError(f"{name} must be a floating tensor, got dtype {x.dtype}")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """ValueError naming both tensors unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise InputError(f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}")


def check_view_pair(z_a: object, z_b: object) -> None:
    """Two views' embeddings of a pair loss: floating (B, D) tensors ``z_a``, ``z_b`` of one shape."""
    check_matrix(z_a, "z_a")
    check_matrix(z_b, "z_b")
    check_same_shape(z_a, z_b, "z_a", "z_b")


def check_view_list(views: object, name: str, min_views: int) -> list[torch.Tensor]:
    """A sequence of at least `min_views` floating (B, C) tensors of one common shape."""
    if isinstance(views, torch.Tensor) or not isinstance(views, Sequence):
        raise InputError(f"{name} must be a list of (batch, dim) tensors, one per view, got {type(views).__name__}")
    views = list(views)
    if len(views) < min_views:
        raise InputError(f"{name} must hold at least {min_views} views, got {len(views)}")
    for i, v in enumerate(views):
        check_matrix(v, f"{name}[{i}]")
        check_same_shape(v, views[0], f"{name}[{i}]", f"{name}[0]")
    return views


def check_student_teacher_views(
    student_logits: object, teacher_logits: object, min_teacher_views: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Views of a distillation loss (DINO, DISSL): at least 2 student views, at most as many
    teacher views (the large crops come first), all of one shape."""
    student = check_view_list(student_logits, "student_logits", min_views=2)
    teacher = check_view_list(teacher_logits, "teacher_logits", min_views=min_teacher_views)
    if len(teacher) > len(student):
        raise InputError(f"teacher_logits has {len(teacher)} views but student_logits only {len(student)}")
    if teacher[0].shape != student[0].shape:
        raise InputError(
            f"teacher_logits views have shape {tuple(teacher[0].shape)} "
            f"but student_logits views have shape {tuple(student[0].shape)}"
        )
    return student, teacher


def check_label_range(labels: torch.Tensor, n_classes: int) -> None:
    """ValueError unless every entry of the integer ``labels`` lies in [0, n_classes).

    Without a host read on an accelerator: there the check is ``torch._assert_async`` (a device-side
    assertion, which stops the process with the message if it fails, without a synchronisation;
    the trainer checks the whole label set on the CPU before its first step). On the CPU the
    same assertion runs at once and is reported as the ValueError."""
    if not labels.numel():
        return
    in_range = (labels.min() >= 0) & (labels.max() < n_classes)
    message = f"labels must lie in [0, {n_classes - 1}] (n_classes={n_classes})"
    if labels.device.type != "cpu":
        torch._assert_async(in_range, message)
        return
    try:
        torch._assert_async(in_range, message)
    except RuntimeError:
        raise InputError(f"{message}, got range [{labels.min().item()}, {labels.max().item()}]") from None


def check_positive(value: float, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 or value != value:
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_reduction(reduction: str) -> str:
    if reduction not in ("mean", "none"):
        raise InputError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return reduction
