"""Torchvision-layout ResNet-18 / ResNet-50 state dicts, loaded into our ``build_encoder``.

`load_resnet(source)` reads a local state dict (``torch.load(weights_only=True)``: nothing is
unpickled but tensors and plain containers, nothing is downloaded, torchvision is not imported) in
the key layout that torchvision's ``resnet18`` / ``resnet50`` save, which is what lightly, solo-learn,
VISSL, DINO's code and timm's ResNets save too, up to a prefix:

- common prefixes carried by every key are stripped and reported: ``module.`` (DistributedDataParallel),
  ``backbone.`` (lightly, solo-learn, DINO's ``MultiCropWrapper``), ``encoder.``, ``model.``,
  ``_feature_blocks.`` (VISSL's trunk), in any nesting (``module.backbone.``);
- a checkpoint that nests the weights (``{"state_dict": ...}``, ``{"model": ...}``,
  ``{"teacher": ...}``, ``{"student": ...}``) is unwrapped, and the entry used is reported;
- lightly's ``nn.Sequential(*list(resnet.children())[:-1])`` numbering (``0.`` conv1, ``1.`` bn1,
  ``4.``-``7.`` layer1-4) is renamed to torchvision's;
- the classifier head ``fc.*`` is ignored and reported;
- every other key must match our encoder exactly (strict): missing, extra or mis-shaped tensors
  raise ValueError listing them.

The architecture is read from the keys: bottleneck blocks (``layer1.0.conv3``) with (3, 4, 6, 3)
blocks is ResNet-50, basic blocks with (2, 2, 2, 2) is ResNet-18; a 7x7 ``conv1`` is the ImageNet
stem (7x7 stride 2, max-pool), a 3x3 one the small-image stem (3x3 stride 1, no max-pool; the CIFAR
variants of these libraries). `LoadedResNet` says what was done.

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

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ssltheory.ssl.encoders import build_encoder

__all__ = [
    "RELEASED",
    "RELEASE_URL",
    "PREFIXES",
    "LoadedResNet",
    "is_released_layout",
    "released_key",
    "key_mismatch",
    "load_strict",
    "to_encoder_state",
    "normalise_state",
    "read_state_dict",
    "load_resnet",
    "load_released",
]

#: Prefixes stripped when every key carries them (in any nesting).
PREFIXES = ("module.", "backbone.", "encoder.", "model.", "_feature_blocks.")
#: Entries of a checkpoint dict that may hold the state dict itself.
NESTED = ("state_dict", "model", "teacher", "student", "model_state_dict",
          "classy_state_dict", "base_model", "trunk")
#: lightly's children-of-torchvision-ResNet numbering -> torchvision's names
_SEQUENTIAL = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}

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


def normalise_state(state: dict) -> tuple[dict, list[str], list[str], str]:
    """Torchvision-layout keys from any of the supported schemes (module docstring).

    Returns (state, stripped prefixes in order, ignored ``fc.*`` keys, layout) where layout is
    ``"torchvision"`` or ``"sequential"`` (lightly's numbered children).
    """
    stripped: list[str] = []
    changed = True
    while changed and state:
        changed = False
        for prefix in PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                stripped.append(prefix)
                changed = True
    layout = "torchvision"
    if "conv1.weight" not in state and "0.weight" in state and any(k.startswith("4.0.") for k in state):
        layout = "sequential"
        renamed = {}
        for k, v in state.items():
            head, _, rest = k.partition(".")
            renamed[f"{_SEQUENTIAL[head]}.{rest}" if head in _SEQUENTIAL else k] = v
        state = renamed
    ignored = sorted(k for k in state if k.startswith("fc."))
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    return _normalise_keys(state), stripped, ignored, layout


def is_released_layout(state: dict) -> bool:
    """Whether ``state`` looks like a torchvision-layout ResNet state dict (the released format and
    the other schemes of `normalise_state`), rather than one of ours (which has ``stem.*`` keys)."""
    keys = set(normalise_state(dict(state))[0])
    return "conv1.weight" in keys and "layer1.0.conv1.weight" in keys and not any(k.startswith("stem.") for k in keys)


def _expansion_dim(state: dict) -> int | None:
    """z_dim of the expansion block in a (normalised) released state dict, None without one."""
    weight = state.get("avgpool.0.conv3.weight")
    return None if weight is None else int(weight.shape[0])


def _listing(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}{f', ... ({len(keys)} in all)' if len(keys) > limit else ''}"


def key_mismatch(missing: list[str], extra: list[str]) -> str:
    """The one wording of a state dict that does not fit: ``"missing keys: a, b; extra keys: c"``
    (each list cut after ten names, with its count); "" when both lists are empty."""
    parts = [f"{what} keys: {_listing(keys)}" for what, keys in (("missing", missing), ("extra", extra)) if keys]
    return "; ".join(parts)


def load_strict(encoder: nn.Module, state: dict, source: str) -> None:
    """Load ``state`` into ``encoder`` in its own layout, refusing any difference.

    Args:
        encoder: the module to load into.
        state: name -> tensor, the same names and shapes as ``encoder.state_dict()``.
        source: what the state came from (a path), named in the error.

    Raises:
        ValueError naming the missing and extra keys (:func:`key_mismatch`), or the tensors of the
        wrong shape.
    """
    expected = encoder.state_dict()
    problem = key_mismatch(sorted(set(expected) - set(state)), sorted(set(state) - set(expected)))
    if problem:
        raise ValueError(f"state dict {source} does not fit the encoder: {problem}")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise ValueError(f"state dict {source} has tensors of the wrong shape: {_listing(wrong, 4)}")
    encoder.load_state_dict(state)


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
        raise ValueError(f"the state dict does not fit a torchvision-layout {type(encoder).__name__} of this shape "
                         f"({key_mismatch(missing, extra)})")
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


@dataclass(frozen=True)
class LoadedResNet:
    """What `load_resnet` did: ``arch`` ("resnet18" / "resnet50"), ``z_dim``, ``stem`` ("imagenet"
    or "small"), ``layout`` ("torchvision" or "sequential"), ``stripped`` (prefixes removed, in
    order), ``ignored`` (classifier keys left out), ``entry`` (the checkpoint entry that held the
    weights, or None), ``n_tensors`` loaded."""

    arch: str
    z_dim: int
    stem: str
    layout: str
    stripped: tuple
    ignored: tuple
    entry: str | None
    n_tensors: int

    def describe(self) -> str:
        """One line for people: architecture, and every renaming done."""
        parts = [f"{self.arch} (z_dim {self.z_dim}, {self.stem} stem, {self.layout} layout, {self.n_tensors} tensors)"]
        if self.entry:
            parts.append(f"weights from checkpoint entry {self.entry!r}")
        if self.stripped:
            parts.append("stripped prefix " + "".join(self.stripped))
        if self.ignored:
            parts.append(f"ignored classifier head ({len(self.ignored)} keys: {_listing(list(self.ignored), 4)})")
        return "; ".join(parts)


def _is_tensor_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_state_dict(source) -> tuple[dict, str | None]:
    """A name -> tensor mapping from a file (``torch.load(weights_only=True)``) or a dict, unwrapping
    nested `NESTED` entries; returns (state, the entries' path, e.g. "teacher", or None). ValueError
    otherwise."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"state dict {path} is not a file")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise ValueError(f"{path} is not a plain state dict; it will not be unpickled "
                             "(only tensors and plain containers are read)") from None
        except Exception as exc:
            raise ValueError(f"{path} is unreadable or corrupt ({type(exc).__name__})") from None
        where = str(path)
    else:
        obj, where = source, "the state dict"
    path_taken: list[str] = []
    for _ in range(6):  # e.g. VISSL: classy_state_dict / base_model / model / trunk
        if _is_tensor_dict(obj):
            return obj, "/".join(path_taken) or None
        if not isinstance(obj, dict):
            break
        entry = next((e for e in NESTED if isinstance(obj.get(e), dict)), None)
        if entry is None:
            break
        obj = obj[entry]
        path_taken.append(entry)
    raise ValueError(f"{where} does not hold a state dict (a mapping of names to tensors, or one under "
                     f"{', '.join(repr(e) for e in NESTED)})")


def _blocks(state: dict, layer: int) -> int:
    indices = {int(m[1]) for k in state if (m := re.match(rf"layer{layer}\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def load_resnet(source, *, image_size: int | None = None) -> tuple[nn.Module, LoadedResNet]:
    """Our ResNet-18 / ResNet-50 with the weights of a torchvision-layout state dict, in eval mode.

    Args:
        source: path of a local ``.pt`` / ``.pth`` / ``.torch`` / ``.ckpt`` file, or the state dict.
        image_size: only to check the stem: a 7x7 ``conv1`` is built as the ImageNet stem whatever
            the image size (the encoder pools adaptively, so it runs on any size).

    Returns:
        (encoder mapping (B, C, H, W) to (B, z_dim), `LoadedResNet`).

    Raises:
        ValueError: an unreadable or pickled file, no state dict, an unknown architecture (block
        counts other than ResNet-18's and ResNet-50's), missing / extra keys or wrong shapes.
    """
    state, entry = read_state_dict(source)
    state, stripped, ignored, layout = normalise_state(dict(state))
    if "conv1.weight" not in state:
        raise ValueError("the state dict has no conv1.weight after removing prefixes "
                         f"{', '.join(PREFIXES)}: not a torchvision-layout ResNet "
                         f"(first keys: {_listing(sorted(state), 5)})")
    blocks = tuple(_blocks(state, layer) for layer in (1, 2, 3, 4))
    bottleneck = "layer1.0.conv3.weight" in state
    if bottleneck and blocks == (3, 4, 6, 3):
        arch = "resnet50"
    elif not bottleneck and blocks == (2, 2, 2, 2):
        arch = "resnet18"
    else:
        raise ValueError(f"blocks per stage {blocks} with {'bottleneck' if bottleneck else 'basic'} blocks: "
                         "only ResNet-18 (2, 2, 2, 2; basic) and ResNet-50 (3, 4, 6, 3; bottleneck) are supported")
    kernel = int(state["conv1.weight"].shape[-1])
    if kernel not in (3, 7):
        raise ValueError(f"conv1.weight has a {kernel}x{kernel} kernel; expected 7x7 (ImageNet stem) or 3x3")
    in_channels = int(state["conv1.weight"].shape[1])
    encoder = build_encoder(arch, in_channels, 224 if kernel == 7 else 32, _expansion_dim(state))
    loaded = to_encoder_state(state, encoder)
    encoder.load_state_dict(loaded)
    info = LoadedResNet(arch, int(encoder.out_dim), "imagenet" if kernel == 7 else "small", layout,
                        tuple(stripped), tuple(ignored), entry, len(loaded))
    return encoder.eval(), info


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
    state, _ = read_state_dict(source)
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
