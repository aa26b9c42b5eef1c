"""ResNet-18 / ResNet-50 backbones out of the checkpoints people save, loaded into our ``build_encoder``.

`load_resnet(source, prefix=None, which=None, stem=None)` reads a local file with
``torch.load(weights_only=True)`` (nothing is unpickled but tensors, plain containers and DINO's
argparse Namespace; nothing is downloaded; torchvision is not imported), flattens it to dotted
paths (`flatten_checkpoint`) and finds the ResNet backbone by its keys wherever it sits
(`find_backbones`): torchvision's layout (``conv1``, ``bn1``, ``layer1-4``, ``fc``: torchvision,
timm, solo-learn, DINO, VISSL) or lightly's ``nn.Sequential(*list(resnet.children())[:-1])``
numbering (``0.`` conv1, ``1.`` bn1, ``4.``-``7.`` layer1-4). The layouts as the peers save them:

- solo-learn: ``{"state_dict": {backbone.*, projector.*, classifier.*, [momentum_backbone.*]},
  "epoch", "hyper_parameters", ...}``;
- lightly: a model's ``backbone.<index>.*`` + ``projection_head.*``, or the backbone alone;
- DINO: ``{"teacher": {backbone.*, head.*}, "student": {module.backbone.*, module.head.*},
  "optimizer", "epoch", "args"}``: the teacher by default, ``which="student"`` for the other;
- VISSL: ``classy_state_dict.base_model.model.trunk._feature_blocks.*`` beside ``...heads.*``;
- timm / torchvision: the bare state dict with its ``fc`` classifier.

With several backbones the choice is `choose_backbone`'s (the DINO teacher; solo-learn's
``backbone`` over its ``momentum_backbone``; else ``which`` / ``prefix`` must say). The backbone is
kept strictly (every key of the encoder present, none extra, shapes equal); everything else is left
out and named in `LoadedResNet` (heads, projector, classifier, optimiser state, another backbone,
the non-tensor metadata). The architecture is read from the blocks (bottleneck (3, 4, 6, 3):
ResNet-50; basic (2, 2, 2, 2): ResNet-18). The stem is not in the weights beyond conv1's kernel:
its stride, padding and max-pool come from ``stem=``, else from the checkpoint's own record
(`recorded_stem`: solo-learn's dataset, DINO's arguments), else for a 7x7 conv torchvision's
stem, said so in ``stem_source``; a 3x3 conv with no record is refused until ``stem`` says which
(``cifar``, padding 1, or solo-learn's ``cifar-pad2``). Every error names what was seen and the
option to pass.

The paper's authors published ImageNet ResNet-50 DISSL encoders (docs/REFERENCE.md, "ImageNet,
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

from ssltheory.errors import InputError
from ssltheory.ssl.config import STEMS
from ssltheory.ssl.encoders import build_encoder

__all__ = [
    "RELEASED",
    "RELEASE_URL",
    "STEMS",
    "LoadedResNet",
    "is_released_layout",
    "released_key",
    "key_mismatch",
    "load_strict",
    "to_encoder_state",
    "read_checkpoint",
    "read_state_dict",
    "flatten_checkpoint",
    "find_backbones",
    "choose_backbone",
    "recorded_stem",
    "load_resnet",
    "load_released",
]

#: Entries of a checkpoint dict that may hold the state dict itself.
NESTED = ("state_dict", "model", "teacher", "student", "model_state_dict", "classy_state_dict", "base_model", "trunk")
#: lightly's children-of-torchvision-ResNet numbering -> torchvision's names
_SEQUENTIAL = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}

#: Where the authors host the files (for users with internet; never used by this code).
RELEASE_URL = "https://github.com/YannDubs/Invariant-Self-Supervised-Learning/releases"

#: hub entry point -> representation size (docs/REFERENCE.md; hubconf.py [code]).
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
        return "conv1." + our_key[len("stem.0.") :]
    if our_key.startswith("stem.1."):
        return "bn1." + our_key[len("stem.1.") :]
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
        state = {k[len("module.") :]: v for k, v in state.items()}
    return {("avgpool.0." + k[len("resizer.") :] if k.startswith("resizer.") else k): v for k, v in state.items()}


def is_released_layout(state: dict) -> bool:
    """Whether a checkpoint (its contents) holds a torchvision-layout or lightly-layout ResNet backbone
    anywhere (`find_backbones`), rather than one of our encoders (``stem.*`` keys)."""
    return bool(find_backbones(flatten_checkpoint(state)[0]))


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
        raise InputError(f"state dict {source} does not fit the encoder: {problem}")
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape
    ]
    if wrong:
        raise InputError(f"state dict {source} has tensors of the wrong shape: {_listing(wrong, 4)}")
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
        raise InputError(
            f"the state dict does not fit a torchvision-layout {type(encoder).__name__} of this shape "
            f"({key_mismatch(missing, extra)})"
        )
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
        raise InputError(f"tensors of the wrong shape: {_listing(wrong, 5)}")
    return out


#: Path components that only wrap a backbone (a checkpoint entry, DDP, a library's attribute name):
#: a backbone under nothing but these is the model's main one.
WRAPPERS = frozenset(
    {
        "state_dict",
        "model",
        "module",
        "backbone",
        "encoder",
        "trunk",
        "_feature_blocks",
        "classy_state_dict",
        "base_model",
        "model_state_dict",
        "net",
        "teacher",
    }
)
#: Names of the ResNet's own modules in torchvision's layout; keys under any other name are not the backbone's.
_RESNET_MODULES = re.compile(r"(conv1|bn1|layer\d+|avgpool|resizer|fc)\.")


@dataclass(frozen=True)
class LoadedResNet:
    """What `load_resnet` did.

    ``arch`` ("resnet18" / "resnet50"), ``z_dim``, ``stem`` (a name of
    `ssltheory.ssl.encoders.STEMS`) and ``stem_source`` (where that came from: the option, the
    checkpoint's own record, or the assumption stated in words), ``layout`` ("torchvision" or
    "sequential": lightly's numbered children), ``prefix`` (the path of the backbone in the file,
    e.g. ``"state_dict.backbone."``; "" for a bare backbone), ``ignored`` (the classifier ``fc.*``
    keys left out), ``dropped`` ((group, tensor count) of every other tensor left out: heads,
    projectors, optimiser state, another backbone), ``metadata`` (the top-level entries holding non-tensor
    values: epoch, hyper-parameters, arguments), ``backbones`` (every backbone path found), ``n_tensors`` loaded."""

    arch: str
    z_dim: int
    stem: str
    stem_source: str
    layout: str
    prefix: str
    ignored: tuple
    dropped: tuple
    metadata: tuple
    backbones: tuple
    n_tensors: int

    def describe(self) -> str:
        """One line for people: the architecture, where the backbone was, and everything left out."""
        parts = [
            f"{self.arch} (z_dim {self.z_dim}, {self.layout} layout, {self.n_tensors} tensors)",
            f"backbone {self.prefix or '(top level)'}",
            f"stem {self.stem}: {STEMS[self.stem].describe()} ({self.stem_source})",
        ]
        if self.ignored:
            parts.append(f"ignored classifier head ({len(self.ignored)} keys: {_listing(list(self.ignored), 4)})")
        if self.dropped:
            parts.append("dropped " + ", ".join(f"{group} ({n} tensors)" for group, n in self.dropped))
        if self.metadata:
            parts.append("non-tensor entries: " + ", ".join(self.metadata))
        return "; ".join(parts)


def _is_tensor_dict(obj) -> bool:
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def read_checkpoint(path) -> object:
    """``torch.load(weights_only=True)`` of a local file (argparse Namespaces allowed: DINO keeps its
    arguments in one); ValueError for a missing, unreadable or pickled-object file."""
    import argparse

    path = Path(path)
    if not path.is_file():
        raise InputError(f"state dict {path} is not a file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found[1]})" if found else ""
        raise InputError(
            f"{path} holds objects other than tensors and plain containers{what}; it will not be "
            "unpickled (not a plain state dict). If you trust the file, save its weights alone: "
            f"torch.save(torch.load(PATH, weights_only=False)['state_dict'], 'weights.pt')"
        ) from None
    except Exception as exc:
        raise InputError(f"{path} is unreadable or corrupt ({type(exc).__name__})") from None


def read_state_dict(source) -> tuple[dict, str | None]:
    """A name -> tensor mapping from a file (``torch.load(weights_only=True)``) or a dict, unwrapping
    nested `NESTED` entries; returns (state, the entries' path, e.g. "teacher", or None). ValueError
    otherwise."""
    if isinstance(source, (str, Path)):
        obj, where = read_checkpoint(source), str(source)
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
    raise InputError(
        f"{where} does not hold a state dict (a mapping of names to tensors, or one under "
        f"{', '.join(repr(e) for e in NESTED)})"
    )


def flatten_checkpoint(obj, prefix: str = "") -> tuple[dict, dict]:
    """Every tensor of a checkpoint (nested dicts and lists) by its dotted path, and the non-tensor
    leaves (epoch, hyper-parameters, arguments) by theirs: ``({"state_dict.backbone.conv1.weight":
    tensor, ...}, {"epoch": 99, ...})``."""
    tensors: dict = {}
    other: dict = {}
    if isinstance(obj, torch.Tensor):
        tensors[prefix[:-1]] = obj
    elif isinstance(obj, dict) or (
        isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple, torch.Tensor)) for v in obj)
    ):
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for key, value in items:
            t, o = flatten_checkpoint(value, f"{prefix}{key}.")
            tensors.update(t)
            other.update(o)
    else:
        other[prefix[:-1]] = obj
    return tensors, other


@dataclass(frozen=True)
class _Backbone:
    prefix: str
    layout: str


def find_backbones(tensors: dict) -> list:
    """Every ResNet backbone in a flat checkpoint (`flatten_checkpoint`): the prefixes ``P`` with
    ``P + "conv1.weight"`` and ``P + "layer1.0.conv1.weight"`` (torchvision's layout), or ``P + "0.weight"``
    and ``P + "4.0.conv1.weight"`` (lightly's ``Sequential(children[:-1])``), P empty or ending in '.'."""
    found = []
    for key in sorted(tensors):
        for tail, first, layout in (
            ("layer1.0.conv1.weight", "conv1.weight", "torchvision"),
            ("4.0.conv1.weight", "0.weight", "sequential"),
        ):
            if key.endswith(tail):
                prefix = key[: -len(tail)]
                if (prefix == "" or prefix.endswith(".")) and prefix + first in tensors:
                    found.append(_Backbone(prefix, layout))
    return found


def _components(prefix: str) -> list[str]:
    return prefix[:-1].split(".") if prefix else []


def choose_backbone(found: list, *, which: str | None = None, prefix: str | None = None, where: str = "the file"):
    """The backbone to load among ``found`` (`find_backbones`).

    ``prefix``: the one whose path is ``prefix`` or ends with it; ``which``: the one with a path
    component ``which`` (``"student"``, ``"momentum_backbone"``); neither: the only one, else the
    DINO teacher, else the one under nothing but `WRAPPERS` (solo-learn's ``backbone`` beside its
    ``momentum_backbone``). ValueError naming the backbones seen and the option to pass otherwise.
    """
    seen = ", ".join(repr(b.prefix or "(top level)") for b in found) or "none"
    if not found:
        raise InputError(
            f"{where} holds no ResNet backbone: no key pair conv1.weight + layer1.0.conv1.weight "
            "(torchvision, timm, solo-learn, DINO, VISSL) or 0.weight + 4.0.conv1.weight "
            "(lightly's Sequential) under any prefix"
        )
    if prefix is not None:
        wanted = prefix if prefix == "" or prefix.endswith(".") else prefix + "."
        chosen = [b for b in found if b.prefix == wanted or b.prefix.endswith("." + wanted)]
        if len(chosen) != 1:
            raise InputError(
                f"prefix {prefix!r} matches {len(chosen)} of the backbones in {where} ({seen}); "
                "pass one of those as --prefix / prefix="
            )
        return chosen[0]
    if which is not None:
        chosen = [b for b in found if which in _components(b.prefix)]
        if len(chosen) != 1:
            raise InputError(
                f"--which {which!r} matches {len(chosen)} of the backbones in {where} ({seen}); "
                "pass --prefix with one of them"
            )
        return chosen[0]
    if len(found) == 1:
        return found[0]
    for rule in (lambda b: _components(b.prefix)[:1] == ["teacher"], lambda b: set(_components(b.prefix)) <= WRAPPERS):
        chosen = [b for b in found if rule(b)]
        if len(chosen) == 1:
            return chosen[0]
    raise InputError(
        f"{where} holds {len(found)} backbones ({seen}); choose one with --which NAME "
        "(a part of its path, e.g. student) or --prefix PATH"
    )


def _dropped_groups(keys, prefix: str) -> tuple:
    """(group, count) of tensors left out, grouped one level below where their path leaves the
    backbone's (``state_dict.projector`` beside ``state_dict.backbone.``; ``student`` beside ``teacher.backbone.``)."""
    parent = _components(prefix)[:-1]
    counts: dict[str, int] = {}
    for key in keys:
        parts = key.split(".")
        depth = next((i for i, (a, b) in enumerate(zip(parts, parent)) if a != b), min(len(parent), len(parts) - 1))
        group = ".".join(parts[: depth + 1])
        counts[group] = counts.get(group, 0) + 1
    return tuple(sorted(counts.items()))


def _metadata_value(metadata: dict, *paths: str):
    for path in paths:
        if path in metadata:
            return metadata[path]
    return None


def recorded_stem(metadata: dict, kernel: int) -> tuple[str, str] | None:
    """(stem name, where it is recorded) when the checkpoint's non-tensor entries say it, else None.

    solo-learn records its dataset (``hyper_parameters.cfg.data.dataset``, older versions
    ``hyper_parameters.dataset``) and replaces the stem on CIFAR by a 3x3 conv with padding 2 and no
    max-pool [code: vturrisi/solo-learn, methods/base.py]; elsewhere it keeps torchvision's. DINO saves its
    ``args`` (an argparse Namespace with ``arch``) and never changes torchvision's stem [code: facebookresearch/dino].
    """
    dataset = _metadata_value(metadata, "hyper_parameters.cfg.data.dataset", "hyper_parameters.dataset")
    if isinstance(dataset, str):
        if dataset in ("cifar10", "cifar100"):
            return ("cifar-pad2" if kernel == 3 else None), f"solo-learn's hyper_parameters: dataset {dataset}"
        if kernel == 7:
            return "imagenet", f"solo-learn's hyper_parameters: dataset {dataset}"
    args = metadata.get("args")
    if args is not None and hasattr(args, "arch") and kernel == 7:
        return "imagenet", f"DINO's args: arch {args.arch}"
    return None


def _resolve_stem(stem: str | None, kernel: int, metadata: dict) -> tuple[str, str]:
    fitting = [name for name, s in STEMS.items() if s.kernel == kernel]
    if not fitting:
        raise InputError(
            f"conv1.weight has a {kernel}x{kernel} kernel; the stems known are "
            f"{', '.join(f'{n} ({s.kernel}x{s.kernel})' for n, s in STEMS.items())}"
        )
    if stem is not None:
        if stem not in STEMS:
            raise InputError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
        if STEMS[stem].kernel != kernel:
            raise InputError(
                f"stem {stem!r} has a {STEMS[stem].kernel}x{STEMS[stem].kernel} conv but the checkpoint's "
                f"conv1 is {kernel}x{kernel}; choose one of {', '.join(fitting)}"
            )
        return stem, "given"
    recorded = recorded_stem(metadata, kernel)
    if recorded is not None and recorded[0] is not None:
        return recorded[0], f"recorded in the checkpoint: {recorded[1]}"
    if kernel == 7:
        return "imagenet", (
            "assumed: torchvision's 7x7 stem keeps its max-pool and the weights cannot say; "
            "pass --stem imagenet-nomaxpool if it was removed"
        )
    raise InputError(
        f"the checkpoint's conv1 is {kernel}x{kernel} and it does not record its stem's padding or "
        f"max-pool; pass --stem (stem=) one of {', '.join(fitting)} (cifar: padding 1 as in lightly's and "
        "the ISSL code's CIFAR ResNets; cifar-pad2: solo-learn's)"
    )


def _sequential_name(key: str) -> str:
    """torchvision's name of a key of lightly's ``Sequential(children[:-1])`` (``4.0.conv1.weight`` ->
    ``layer1.0.conv1.weight``); other numbers unchanged."""
    head, _, rest = key.partition(".")
    return f"{_SEQUENTIAL[head]}.{rest}" if head in _SEQUENTIAL else key


def _blocks(state: dict, layer: int) -> int:
    indices = {int(m[1]) for k in state if (m := re.match(rf"layer{layer}\.(\d+)\.", k))}
    return max(indices) + 1 if indices else 0


def load_resnet(
    source, *, prefix: str | None = None, which: str | None = None, stem: str | None = None
) -> tuple[nn.Module, LoadedResNet]:
    """Our ResNet-18 / ResNet-50 with the backbone of a checkpoint, in eval mode on the CPU.

    The file is read with ``torch.load(weights_only=True)`` and flattened (`flatten_checkpoint`);
    the backbone is found by its keys (`find_backbones`, `choose_backbone`) in torchvision's layout
    or lightly's numbered one, whatever surrounds it: solo-learn's ``state_dict`` with ``backbone.`` +
    ``projector.`` + ``classifier.`` (+ ``momentum_backbone.``), lightly's ``backbone.<index>`` +
    ``projection_head.``, DINO's ``teacher`` / ``student`` (``module.backbone.`` + ``head.``),
    VISSL's ``classy_state_dict.base_model.model.trunk._feature_blocks.``, timm's and torchvision's bare
    ``conv1 ... fc``. Everything else (heads, the classifier, optimiser state, another backbone) is
    left out and named in `LoadedResNet`; inside the backbone every key must fit (strict).

    Args:
        source: path of a local ``.pt`` / ``.pth`` / ``.torch`` / ``.ckpt`` file, or its contents.
        prefix: the backbone's path in the file (``"state_dict.backbone."``, or its last part
            ``"backbone."``) when the file holds several or an unusual one.
        which: a path component picking one of several backbones (``"student"`` for DINO, whose
            teacher is the default; ``"momentum_backbone"``).
        stem: a name of `ssltheory.ssl.encoders.STEMS`; by default the one the checkpoint records
            (solo-learn's dataset, DINO's arguments), else torchvision's for a 7x7 conv (stated in
            ``stem_source``); a 3x3 conv without a record needs it (padding 1 or 2 are both usual).

    Returns:
        (encoder mapping (B, C, H, W) to (B, z_dim), `LoadedResNet`).

    Raises:
        ValueError: an unreadable or pickled file, no backbone or several without ``which`` /
        ``prefix``, an unknown architecture or stem, missing / extra keys or wrong shapes inside the
        backbone; the message names what it saw and the option to pass.
    """
    if isinstance(source, (str, Path)):
        obj, where = read_checkpoint(source), str(source)
    else:
        obj, where = source, "the checkpoint"
    tensors, metadata = flatten_checkpoint(obj)
    backbone = choose_backbone(find_backbones(tensors), which=which, prefix=prefix, where=where)
    rename = _sequential_name if backbone.layout == "sequential" else (lambda key: key)
    owned = {}  # key in the file -> torchvision name, for the keys of the backbone's own modules
    for key in tensors:
        if key.startswith(backbone.prefix):
            name = rename(key[len(backbone.prefix) :])
            if _RESNET_MODULES.match(name) or (backbone.layout == "sequential" and re.match(r"\d+\.", name)):
                owned[key] = name
    state = {name: tensors[key] for key, name in owned.items() if not name.startswith("fc.")}
    ignored = sorted(name for name in owned.values() if name.startswith("fc."))
    outside = [k for k in tensors if k not in owned]
    blocks = tuple(_blocks(state, layer) for layer in (1, 2, 3, 4))
    bottleneck = "layer1.0.conv3.weight" in state
    if bottleneck and blocks == (3, 4, 6, 3):
        arch = "resnet50"
    elif not bottleneck and blocks == (2, 2, 2, 2):
        arch = "resnet18"
    else:
        raise InputError(
            f"blocks per stage {blocks} with {'bottleneck' if bottleneck else 'basic'} blocks: "
            "only ResNet-18 (2, 2, 2, 2; basic) and ResNet-50 (3, 4, 6, 3; bottleneck) are supported"
        )
    kernel = int(state["conv1.weight"].shape[-1])
    stem_name, stem_source = _resolve_stem(stem, kernel, metadata)
    in_channels = int(state["conv1.weight"].shape[1])
    encoder = build_encoder(arch, in_channels, 224, _expansion_dim(_normalise_keys(state)), stem=stem_name)
    loaded = to_encoder_state(state, encoder)
    encoder.load_state_dict(loaded)
    info = LoadedResNet(
        arch,
        int(encoder.out_dim),
        stem_name,
        stem_source,
        backbone.layout,
        backbone.prefix,
        tuple(ignored),
        _dropped_groups(outside, backbone.prefix),
        tuple(sorted({k.split(".")[0] for k in metadata})),
        tuple(b.prefix for b in find_backbones(tensors)),
        len(loaded),
    )
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
        raise InputError("the state dict has no conv1.weight: not a torchvision-layout ResNet")
    in_channels = int(state["conv1.weight"].shape[1])
    if state["conv1.weight"].shape[-1] != 7 and image_size >= 100:
        raise InputError(
            f"conv1.weight has a {state['conv1.weight'].shape[-1]}x{state['conv1.weight'].shape[-1]} "
            "kernel; the released ImageNet models have 7x7 (use image_size < 100 for a 3x3 stem)"
        )
    encoder = build_encoder("resnet50", in_channels, image_size, _expansion_dim(state))
    encoder.load_state_dict(to_encoder_state(state, encoder))
    return encoder.eval()
