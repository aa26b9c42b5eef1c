"""Projection heads of the ISSL paper's code (docs/REFERENCE.md, "heads" row), with configurable widths.

Every head maps the representation z (B, z_dim) to what its loss consumes. The *family* of the
head that scores z inside a loss is the probe family the representation is pushed to be ideal
for (THEORY.md T1 vs T2, T8, T9): CISSL's and DISSL's students are linear in z up to a
normalisation or a batch-norm (an affine map at evaluation), SimCLR's and DINO's heads are MLPs.

==========================  ======================================================================
head                        layers (defaults of docs/REFERENCE.md)
==========================  ======================================================================
`simclr_head`               Linear(z,1024) BN ReLU Linear(1024,128) BN(128); shared by both views
`cissl_student_head`        Linear(z,128) BN(128); family "mlp" (Fig 7c's MLP-head arm):
                            Linear(z,2048) BN ReLU Linear(2048,2048) BN ReLU Linear(2048,128) BN(128)
`cissl_teacher_head`        Linear(z,1024) BN ReLU Linear(1024,128) BN(128); family "mlp": as the
                            MLP-head arm's student (both heads two hidden layers of 2048)
`DINOHead`                  Linear(z,1024) BN GELU Linear(1024,256), l2-normalise, cosine layer to C
                            (the original DINO's; variant "authors": l2-normalise the 1024-d output,
                            then Linear(1024,256,no bias), l2-normalise, cosine layer)
`dissl_teacher_head`        Linear(z,1024) BN ReLU Linear(1024,512,no bias) BN(512) Linear(512,C)
`dissl_student_head`        Linear(z,512,no bias) BN(512) Linear(512,C)
`exact_head`                Linear(z,K) ("linear") or Linear(z,h) BN ReLU Linear(h,K) ("mlp")
==========================  ======================================================================

Initialisation [code]: linear weights truncated normal with std 0.02 (truncated at +-2, i.e.
+-100 std, as timm/DINO), biases 0, batch-norm weight 1 and bias 0. For CPU runs pass smaller
`hidden_dim`, `out_dim`, `bottleneck_dim` and `n_codes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ssltheory.errors import InputError
from ssltheory.validation import as_count

__all__ = [
    "init_head_",
    "mlp",
    "simclr_head",
    "cissl_student_head",
    "cissl_teacher_head",
    "CosineLayer",
    "DINOHead",
    "dissl_teacher_head",
    "dissl_student_head",
    "exact_head",
]


#: DINO as the original code runs it, or as the ISSL authors re-implemented it.
DINO_VARIANTS = ("original", "authors")


def _check_width(value: object, name: str) -> int:
    return as_count(value, name, minimum=1)


def init_head_(module: nn.Module) -> nn.Module:
    """Initialise every Linear / CosineLayer / batch-norm inside `module` as docs/REFERENCE.md says; returns it."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, CosineLayer):
            nn.init.trunc_normal_(m.weight, std=0.02)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def mlp(
    in_dim: int,
    hidden_dims: int | Sequence[int],
    out_dim: int,
    activation: type[nn.Module] = nn.ReLU,
    out_bias: bool = True,
) -> list[nn.Module]:
    """Layers of an MLP head, for ``nn.Sequential``: per hidden width h, Linear(prev, h) BN(h)
    activation; then Linear(prev, out_dim) (bias per ``out_bias``). Maps (B, in_dim) -> (B, out_dim).
    Not initialised: wrap the result with :func:`init_head_`. [code: the authors' heads]"""
    widths = [hidden_dims] if isinstance(hidden_dims, int) else list(hidden_dims)
    layers: list[nn.Module] = []
    prev = _check_width(in_dim, "in_dim")
    for h in widths:
        h = _check_width(h, "hidden_dim")
        layers += [nn.Linear(prev, h), nn.BatchNorm1d(h), activation()]
        prev = h
    return [*layers, nn.Linear(prev, _check_width(out_dim, "out_dim"), bias=out_bias)]


def simclr_head(z_dim: int, hidden_dim: int = 1024, out_dim: int = 128) -> nn.Sequential:
    """SimCLR projection g, shared by both views: (B, z_dim) -> (B, out_dim). [code]"""
    z_dim, hidden_dim, out_dim = (
        _check_width(v, n) for v, n in ((z_dim, "z_dim"), (hidden_dim, "hidden_dim"), (out_dim, "out_dim"))
    )
    return init_head_(nn.Sequential(*mlp(z_dim, hidden_dim, out_dim, nn.ReLU), nn.BatchNorm1d(out_dim)))


def cissl_student_head(z_dim: int, out_dim: int = 128, family: str = "linear", hidden_dim: int = 2048) -> nn.Sequential:
    """CISSL student: (B, z_dim) -> (B, out_dim). [code]

    family "linear" (the paper's CISSL): Linear + BN, affine in z at evaluation, so the loss's
    inner classifier is linear and z is pushed towards LIN-ideal (THEORY.md T8).
    family "mlp" (Fig. 7c's MLP-head arm, as the authors run it): two hidden layers of
    ``hidden_dim`` (2048) with BN and ReLU, then Linear to out_dim and BN, so the inner classifier
    is an MLP and z need only be ideal for MLP probes (T2). The teacher of that arm is the same
    MLP (:func:`cissl_teacher_head` with ``family="mlp"``).
    """
    z_dim, out_dim = _check_width(z_dim, "z_dim"), _check_width(out_dim, "out_dim")
    if family == "linear":
        return init_head_(nn.Sequential(nn.Linear(z_dim, out_dim), nn.BatchNorm1d(out_dim)))
    if family == "mlp":
        return init_head_(nn.Sequential(*mlp(z_dim, (hidden_dim, hidden_dim), out_dim), nn.BatchNorm1d(out_dim)))
    raise InputError(f"family must be 'linear' or 'mlp', got {family!r}")


def cissl_teacher_head(z_dim: int, hidden_dim: int = 1024, out_dim: int = 128, family: str = "linear") -> nn.Sequential:
    """CISSL teacher producing the targets v_j: (B, z_dim) -> (B, out_dim). [code]

    family "linear" (the paper's CISSL, whose student is linear): the layers of `simclr_head`, one
    hidden layer of ``hidden_dim`` (1024). family "mlp" (Fig. 7c's MLP-head arm): the same layers
    as that arm's student, two hidden layers of ``hidden_dim`` (pass 2048).
    """
    if family == "mlp":
        return cissl_student_head(z_dim, out_dim, family="mlp", hidden_dim=hidden_dim)
    if family != "linear":
        raise InputError(f"family must be 'linear' or 'mlp', got {family!r}")
    return simclr_head(z_dim, hidden_dim, out_dim)


class CosineLayer(nn.Module):
    """Weight-normalised linear layer with unit-norm rows and no bias (DINO's last layer, g fixed to 1).

    forward(x: (B, in_dim), frozen=False) -> (B, out_dim) = x @ normalize(weight, rows).T, in float32
    also under autocast (cosines in [-1, 1] that a low temperature then multiplies by 10-25: bf16's
    8 bits of mantissa would cost the prototype scores their third digit).
    With `frozen` the weight is used detached, so it gets no gradient (its .grad stays None and
    the optimiser skips it): DINO freezes this layer during the first epoch [code].
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        weight = self.weight.detach() if frozen else self.weight
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.linear(x.float(), F.normalize(weight.float(), dim=1))


class DINOHead(nn.Module):
    """DINO projection to C codes: (B, z_dim) -> logits (B, n_codes), each in [-1, 1].

    variant "original" (ours by default; the original DINO's ``DINOHead``, Caron et al. 2021):
    Linear(z, hidden) BN GELU Linear(hidden, bottleneck) (with bias), l2-normalise, `CosineLayer`.
    variant "authors" (the ISSL authors' re-implementation, docs/REFERENCE.md [code]): Linear(z, hidden)
    BN GELU, l2-normalise the hidden output, Linear(hidden, bottleneck, no bias), l2-normalise,
    `CosineLayer`. The widths (1024 hidden, 256 bottleneck, C = 1000) and the cosine last layer are
    the authors' [code] in both.

    Args:
        z_dim: int
        n_codes: int, default 1000 (docs/REFERENCE.md: C = 1000 on TinyImageNet)
        hidden_dim: int, default 1024
        bottleneck_dim: int, default 256
        variant: "original" or "authors"

    forward(z: (B, z_dim), freeze_last_layer=False) -> logits (B, n_codes).
    """

    def __init__(
        self,
        z_dim: int,
        n_codes: int = 1000,
        hidden_dim: int = 1024,
        bottleneck_dim: int = 256,
        variant: str = "original",
    ) -> None:
        super().__init__()
        z_dim, n_codes = _check_width(z_dim, "z_dim"), _check_width(n_codes, "n_codes")
        hidden_dim, bottleneck_dim = (
            _check_width(hidden_dim, "hidden_dim"),
            _check_width(bottleneck_dim, "bottleneck_dim"),
        )
        if variant not in DINO_VARIANTS:
            raise InputError(f"variant must be one of {', '.join(DINO_VARIANTS)}, got {variant!r}")
        self.variant = variant
        if variant == "original":
            self.mlp = nn.Sequential(*mlp(z_dim, hidden_dim, bottleneck_dim, nn.GELU))
        else:
            self.mlp = nn.Sequential(nn.Linear(z_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.GELU())
            self.bottleneck = nn.Linear(hidden_dim, bottleneck_dim, bias=False)
        self.last_layer = CosineLayer(bottleneck_dim, n_codes)
        init_head_(self)

    def forward(self, z: torch.Tensor, freeze_last_layer: bool = False) -> torch.Tensor:
        h = self.mlp(z)
        if self.variant == "authors":
            h = self.bottleneck(F.normalize(h, dim=1))
        return self.last_layer(F.normalize(h, dim=1), frozen=freeze_last_layer)


def dissl_teacher_head(
    z_dim: int, n_codes: int = 16384, hidden_dim: int = 1024, bottleneck_dim: int = 512
) -> nn.Sequential:
    """DISSL teacher T: MLP (BN, ReLU) -> Linear(no bias) bottleneck -> BN -> Linear to C. [code]

    (B, z_dim) -> (B, n_codes)."""
    z_dim, n_codes = _check_width(z_dim, "z_dim"), _check_width(n_codes, "n_codes")
    hidden_dim, bottleneck_dim = _check_width(hidden_dim, "hidden_dim"), _check_width(bottleneck_dim, "bottleneck_dim")
    layers = mlp(z_dim, hidden_dim, bottleneck_dim, nn.ReLU, out_bias=False)
    return init_head_(nn.Sequential(*layers, nn.BatchNorm1d(bottleneck_dim), nn.Linear(bottleneck_dim, n_codes)))


def dissl_student_head(z_dim: int, n_codes: int = 16384, bottleneck_dim: int = 512) -> nn.Sequential:
    """DISSL student S: Linear(no bias) -> BN -> Linear to C, affine in z at evaluation. [code]

    (B, z_dim) -> (B, n_codes)."""
    z_dim, n_codes, bottleneck_dim = (
        _check_width(v, n) for v, n in ((z_dim, "z_dim"), (n_codes, "n_codes"), (bottleneck_dim, "bottleneck_dim"))
    )
    return init_head_(
        nn.Sequential(
            nn.Linear(z_dim, bottleneck_dim, bias=False),
            nn.BatchNorm1d(bottleneck_dim),
            nn.Linear(bottleneck_dim, n_codes),
        )
    )


def exact_head(z_dim: int, n_classes: int, family: str = "linear", hidden_dim: int = 1024) -> nn.Sequential:
    """Head predicting M from z for exact ISSL: (B, z_dim) -> (B, n_classes) logits.

    family "linear": one affine layer (trains z towards THEORY.md T1, affinely independent codes);
    family "mlp": Linear(z, hidden_dim) BN ReLU Linear(hidden_dim, K) (only T2, distinct codes).
    """
    z_dim, n_classes = _check_width(z_dim, "z_dim"), _check_width(n_classes, "n_classes")
    if family == "linear":
        return init_head_(nn.Sequential(nn.Linear(z_dim, n_classes)))
    if family == "mlp":
        return init_head_(nn.Sequential(*mlp(z_dim, _check_width(hidden_dim, "hidden_dim"), n_classes, nn.ReLU)))
    raise InputError(f"family must be 'linear' or 'mlp', got {family!r}")
