"""Image encoders phi: (B, C, H, W) float -> (B, z_dim), written in plain torch (no torchvision).

- ResNet-18 / ResNet-50 (He et al. 2016, the "v1.5" variant: stride on the 3x3 conv of a
  bottleneck) with the small-image stems of the ISSL paper's code [code, docs/REFERENCE.md]: for images
  under 100 px the first conv is 3x3 with stride 1; the max-pool is removed at 32 px and below and
  kept above (64 px TinyImageNet keeps it); 100 px and more use the ImageNet stem (7x7 stride 2,
  max-pool).
- The representation is the average-pooled trunk output (512 for ResNet-18, 2048 for ResNet-50).
  A different `z_dim` inserts the dimension-changing residual bottleneck of the paper's "+dim"
  runs before the pooling [code]: 1x1 conv to 512 channels, 3x3 conv, 1x1 conv to z_dim, BN, with
  an identity path that tiles the trunk's channels z_dim / width times (used when z_dim is a
  multiple of the trunk width; otherwise, e.g. z_dim = 128 in the paper's Fig. 7c, the block has
  no identity path, as in the authors' `BottleneckExpand`). THEORY.md T1 needs d >= K - 1: the
  expansion is how the paper raises d without a wider trunk.
- `small_cnn`: four 3x3 conv layers (32, 64, 128, 128 channels, the last three with stride 2),
  BN + ReLU, global average pooling, then Linear(128, z_dim): about 0.26M parameters at
  z_dim = 128, for CPU runs.

`build_encoder(arch, in_channels, image_size, z_dim, stem=None)` returns a module with attribute `out_dim`;
``stem`` (a name of `STEMS`) overrides the stem the image size picks, for checkpoints trained with
another library's stem (solo-learn's CIFAR stem pads its 3x3 conv by 2; a 7x7 stem may have lost
its max-pool).
"""

from __future__ import annotations

import torch
from torch import nn

from ssltheory.errors import InputError
from ssltheory.ssl.config import ARCHS, STEMS, Stem
from ssltheory.validation import as_count

__all__ = [
    "build_encoder",
    "Stem",
    "STEMS",
    "stem_for_size",
    "ResNet",
    "SmallCNN",
    "DimensionExpansion",
    "BasicBlock",
    "Bottleneck",
    "ARCHS",
]


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """A residual block's skip path: identity, or a strided 1x1 convolution and batch norm when the shape changes
    (torchvision's ``downsample``; its parameters keep the names ``shortcut.0`` / ``shortcut.1``)."""
    if stride != 1 or cin != cout:
        return nn.Sequential(_conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
    return nn.Identity()


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3x3 convs, projection shortcut when the shape changes."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1, self.bn1 = _conv3x3(cin, width, stride), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _conv3x3(width, cout), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet-50 block: 1x1 reduce, 3x3 (carries the stride), 1x1 expand by 4."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1, self.bn1 = _conv1x1(cin, width), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _conv3x3(width, width, stride), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = _conv1x1(width, cout), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


class DimensionExpansion(nn.Module):
    """Residual bottleneck changing the channel count from `in_channels` to `out_channels` [code].

    conv1x1(in -> hidden) BN ReLU, conv3x3(hidden) BN ReLU, conv1x1(hidden -> out) BN, plus the
    input tiled out / in times along channels when out is a multiple of in, then ReLU.
    (B, in, H, W) -> (B, out, H, W).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.residual = out_channels % in_channels == 0
        self.repeats = out_channels // in_channels
        self.body = nn.Sequential(
            _conv1x1(in_channels, hidden_channels), nn.BatchNorm2d(hidden_channels), nn.ReLU(inplace=True),
            _conv3x3(hidden_channels, hidden_channels), nn.BatchNorm2d(hidden_channels), nn.ReLU(inplace=True),
            _conv1x1(hidden_channels, out_channels), nn.BatchNorm2d(out_channels),
        )  # fmt: skip
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.residual:
            out = out + x.repeat(1, self.repeats, 1, 1)
        return self.relu(out)


def stem_for_size(image_size: int) -> Stem:
    """The stem `ResNet` picks for ``image_size`` px images (module docstring)."""
    if image_size >= 100:
        return STEMS["imagenet"]
    return STEMS["small-maxpool"] if image_size > 32 else STEMS["cifar"]


class ResNet(nn.Module):
    """ResNet trunk with a small-image stem, optional `DimensionExpansion`, average pooling, no fc.

    Args:
        block: BasicBlock or Bottleneck
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18, (3, 4, 6, 3) for ResNet-50
        in_channels: image channels
        image_size: side of the (square) training images, in pixels; picks the stem (module docstring)
        z_dim: representation size; None keeps the trunk width (512 * block.expansion)
        expansion_channels: hidden width of the `DimensionExpansion` block (512, docs/REFERENCE.md)
        stem: a `Stem` overriding the one ``image_size`` picks (`stem_for_size`)
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        in_channels: int,
        image_size: int,
        z_dim: int | None = None,
        expansion_channels: int = 512,
        stem: Stem | None = None,
    ) -> None:
        super().__init__()
        stem = stem_for_size(image_size) if stem is None else stem
        conv1 = nn.Conv2d(in_channels, 64, stem.kernel, stride=stem.stride, padding=stem.padding, bias=False)
        pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem.maxpool else nn.Identity()
        self.stem = nn.Sequential(conv1, nn.BatchNorm2d(64), nn.ReLU(inplace=True), pool)

        stages, cin = [], 64
        for i, (width, n_blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n_blocks):
                blocks.append(block(cin, width, stride=2 if (i > 0 and j == 0) else 1))
                cin = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.trunk_dim = cin
        self.out_dim = cin if z_dim is None else z_dim
        self.expand = (
            DimensionExpansion(cin, expansion_channels, self.out_dim) if self.out_dim != cin else nn.Identity()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.pool(self.expand(x)).flatten(1)


class SmallCNN(nn.Module):
    """A four-conv CNN for CPU runs: (B, in_channels, H, W) -> (B, z_dim). See the module docstring."""

    def __init__(self, in_channels: int, z_dim: int = 128, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        layers, cin = [], in_channels
        for i, width in enumerate(widths):
            layers += [_conv3x3(cin, width, stride=1 if i == 0 else 2), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            cin = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.fc = nn.Linear(cin, z_dim)
        self.out_dim = z_dim
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def build_encoder(
    arch: str, in_channels: int, image_size: int, z_dim: int | None = None, stem: str | None = None
) -> nn.Module:
    """Build an encoder for square images of side `image_size` with `in_channels` channels.

    Args:
        arch: "resnet18", "resnet50" or "small_cnn"
        in_channels: 1 (grey) or 3 (RGB), any positive integer accepted
        image_size: pixels per side (>= 8); selects the ResNet stem
        z_dim: representation size; None means the natural width (512, 2048, 128)
        stem: None (the image size picks it), or a name of `STEMS` (ResNets only)

    Returns:
        nn.Module mapping (B, in_channels, H, W) float -> (B, z_dim), with attribute ``out_dim``.
    """
    if arch not in ARCHS:
        raise InputError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    in_channels = as_count(in_channels, "in_channels", 1)
    image_size = as_count(image_size, "image_size", 1)
    if image_size < 8:
        raise InputError(f"image_size must be at least 8 pixels, got {image_size}")
    if z_dim is not None:
        z_dim = as_count(z_dim, "z_dim", 1)
    if stem is not None and stem not in STEMS:
        raise InputError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
    if stem is not None and arch == "small_cnn":
        raise InputError("stem applies to the ResNets only, not small_cnn")
    chosen = None if stem is None else STEMS[stem]
    if arch == "resnet18":
        return ResNet(BasicBlock, (2, 2, 2, 2), in_channels, image_size, z_dim, stem=chosen)
    if arch == "resnet50":
        return ResNet(Bottleneck, (3, 4, 6, 3), in_channels, image_size, z_dim, stem=chosen)
    return SmallCNN(in_channels, 128 if z_dim is None else z_dim)
