"""The authors' released ResNet-50 DISSL checkpoints, loaded into our ``build_encoder("resnet50")``.

The paper's authors published ImageNet ResNet-50 DISSL encoders (REFERENCE.md, "ImageNet,
ResNet-50 DISSL": 2048 or 8192 dimensions, 100 to 800 epochs) [code]. This module maps such a
state dict, read from a local file (nothing is downloaded), onto our encoder, strictly.

What was verified, and where (public repository YannDubs/Invariant-Self-Supervised-Learning, read
with the project's code-search tools):

- ``hubconf.py`` builds ``torchvision.models.resnet50``, replaces ``fc`` by ``Identity`` (so the
  state dict has no ``fc.*`` keys), and for ``dim`` = 8192 calls ``hub/resnet_dim.py``'s
  ``update_dim_resnet_(resnet, z_dim=8192, bottleneck_channel=512, is_residual=True)``, which sets
  ``resnet.avgpool = Sequential(BottleneckExpand(2048, 512, 8192), AdaptiveAvgPool2d)``; the file is
  then loaded with ``load_state_dict(..., strict=True)``. So the released keys are torchvision's
  ResNet-50 keys (``conv1.weight``, ``bn1.*``, ``layer{1..4}.{i}.{conv,bn}{1,2,3}.*``,
  ``layer{1..4}.0.downsample.{0,1}.*``), plus, for the 8192-d models, the expansion block's
  ``avgpool.0.{conv1,bn1,conv2,bn2,conv3,bn3}.*``.
- ``BottleneckExpand``: conv1x1(2048 -> 512), BN, ReLU, conv3x3(512, padding 1), BN, ReLU,
  conv1x1(512 -> 8192), BN, plus the input repeated 4 times along channels, then ReLU: exactly our
  `ssltheory.ssl.encoders.DimensionExpansion` (2048, 512, 8192).
- A later ``hubconf.py`` (``.torch`` files of release v1.0.0-alpha) stores the expansion block under
  the prefix ``resizer.`` and renames it to ``avgpool.0.`` before loading; both prefixes are
  accepted here. A ``module.`` prefix on every key (a DistributedDataParallel state dict) is
  stripped.
- Preprocessing of the released models: resize 256, centre crop 224, ImageNet mean / std; hence the
  ImageNet stem (7x7 stride 2 conv, max-pool), which `build_encoder` picks for image_size >= 100.

Key mapping (torchvision -> ours): ``conv1`` -> ``stem.0``, ``bn1`` -> ``stem.1``,
``layerL.i.downsample.{0,1}`` -> ``layerL.i.shortcut.{0,1}``, ``layerL.i.{conv,bn}{1,2,3}`` unchanged,
``avgpool.0.{conv1,bn1,conv2,bn2,conv3,bn3}`` -> ``expand.body.{0,1,3,4,6,7}``.

Strictness: every key of our encoder must be present and no other key may be; the one exception is
BatchNorm's ``num_batches_tracked`` counter (not a weight; absent from state dicts of old PyTorch
versions), which is set to 0 when missing. Shapes must match. Anything else raises ValueError
listing the keys.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "RELEASED",
    "RELEASE_URL",
    "is_released_layout",
    "released_key",
    "to_encoder_state",
    "load_released",
]

#: Where the authors host the files (for users with internet; never used by this code).
RELEASE_URL = "https://github.com/YannDubs/Invariant-Self-Supervised-Learning/releases"

#: hub entry point -> representation size (REFERENCE.md; hubconf.py [code]).
RELEASED = {
    "dissl_resnet50_d2048_e100_m2": 2048,
    "dissl_resnet50_d8192_e100_m2": 8192,
    "dissl_resnet50_d2048_e400_m2": 2048,
    "dissl_resnet50_d2048_e400_m6": 2048,
    "dissl_resnet50_d8192_e400_m6": 8192,
    "dissl_resnet50_d8192_e800_m8": 8192,
}

#: index of each layer of our DimensionExpansion.body <-> name in the authors' BottleneckExpand
_EXPAND = {"0": "conv1", "1": "bn1", "3": "conv2", "4": "bn2", "6": "conv3", "7": "bn3"}


def released_key(our_key: str) -> str:
    """The torchvision-layout name of one of our ResNet-50 state-dict keys (module docstring)."""
    if our_key.startswith("stem.0."):
        return "conv1." + our_key[len("stem.0."):]
    if our_key.startswith("stem.1."):
        return "bn1." + our_key[len("stem.1."):]
    match = re.match(r"(layer\d\.\d+)\.shortcut\.([01])\.(.+)", our_key)
    if match:
        return f"{match[1]}.downsample.{match[2]}.{match[3]}"
    match = re.match(r"expand\.body\.(\d)\.(.+)", our_key)
    if match:
        return f"avgpool.0.{_EXPAND[match[1]]}.{match[2]}"
    return our_key


def _normalise_keys(state: dict) -> dict:
    """Strip a ``module.`` prefix carried by every key; spell the expansion block ``avgpool.0.``."""
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return {("avgpool.0." + k[len("resizer."):] if k.startswith("resizer.") else k): v for k, v in state.items()}


def is_released_layout(state: dict) -> bool:
    """Whether ``state`` looks like a torchvision-layout ResNet state dict (the released format),
    rather than one of ours (which has ``stem.*`` keys)."""
    keys = set(_normalise_keys(dict(state)))
    return "conv1.weight" in keys and "layer1.0.conv1.weight" in keys and not any(k.startswith("stem.") for k in keys)


def _expansion_dim(state: dict) -> int | None:
    """z_dim of the expansion block in a (normalised) released state dict, None without one."""
    weight = state.get("avgpool.0.conv3.weight")
    return None if weight is None else int(weight.shape[0])


def _listing(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}{f', ... ({len(keys)} in all)' if len(keys) > limit else ''}"


def to_encoder_state(state: dict, encoder: nn.Module) -> dict:
    """Our-layout state dict for ``encoder`` (a ``build_encoder("resnet50", ...)``) from a released one.

    Args:
        state: name -> tensor in the released (torchvision) layout, see the module docstring.
        encoder: the target; only its keys and shapes are read.

    Raises:
        ValueError listing the missing keys, the extra keys, or the tensors of the wrong shape.
    """
    state = _normalise_keys(dict(state))
    ours = encoder.state_dict()
    wanted = {released_key(k): k for k in ours}
    missing = [k for k in wanted if k not in state and not k.endswith("num_batches_tracked")]
    extra = sorted(k for k in state if k not in wanted)
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing keys: {_listing(missing)}")
        if extra:
            problems.append(f"extra keys: {_listing(extra)}")
        raise ValueError(f"the state dict is not a released ResNet-50 of this shape ({'; '.join(problems)})")
    out = {}
    wrong = []
    for name, key in wanted.items():
        target = ours[key]
        value = state.get(name)
        if value is None:  # num_batches_tracked, allowed to be absent
            value = torch.zeros_like(target)
        elif value.shape != target.shape:
            wrong.append(f"{name} {tuple(value.shape)} (expected {tuple(target.shape)})")
            continue
        out[key] = value.to(target.dtype)
    if wrong:
        raise ValueError(f"tensors of the wrong shape: {_listing(wrong, 5)}")
    return out


def load_released(source, image_size: int = 224) -> nn.Module:
    """Our ResNet-50 encoder with the authors' released DISSL weights, in eval mode on the CPU.

    Args:
        source: path of the released file (``.pt`` / ``.torch``, read with
            ``torch.load(weights_only=True)``), or the state dict itself.
        image_size: side of the images it will see; >= 100 gives the ImageNet stem the weights were
            trained with (the default 224 is the authors' centre crop).

    Returns:
        ``build_encoder("resnet50", 3, image_size, z_dim)`` with z_dim 2048 or the expansion's
        size (8192 for the ``d8192`` models), mapping (B, 3, H, W) ImageNet-normalised images to
        (B, z_dim).

    Raises:
        ValueError: an unreadable file, not a state dict, missing or extra keys, wrong shapes.
    """
    from ssltheory.ssl.encoders import build_encoder

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"released checkpoint {path} is not a file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"released checkpoint {path} is unreadable or corrupt ({type(exc).__name__})") from None
    else:
        state = source
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("a released checkpoint must be a state dict: a mapping of names to tensors")
    state = _normalise_keys(dict(state))
    if "conv1.weight" not in state:
        raise ValueError("the state dict has no conv1.weight: not a torchvision-layout ResNet")
    in_channels = int(state["conv1.weight"].shape[1])
    if state["conv1.weight"].shape[-1] != 7 and image_size >= 100:
        raise ValueError(f"conv1.weight has a {state['conv1.weight'].shape[-1]}x{state['conv1.weight'].shape[-1]} "
                         "kernel; the released ImageNet models have 7x7 (use image_size < 100 for a 3x3 stem)")
    encoder = build_encoder("resnet50", in_channels, image_size, _expansion_dim(state))
    encoder.load_state_dict(to_encoder_state(state, encoder))
    return encoder.eval()
