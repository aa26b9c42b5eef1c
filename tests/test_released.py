"""Loading the authors' released ResNet-50 DISSL state dicts (ssltheory.ssl.released).

No download: the tests generate a state dict in the released layout themselves, written from
torchvision's ResNet-50 naming (and the authors' ``BottleneckExpand`` for the 8192-d models), and
check the loaded encoder against a plain functional forward pass over that state dict, written here
independently of our ResNet module.
"""

from __future__ import annotations

import argparse

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ssltheory.ssl.released import STEMS, is_released_layout, load_released, load_resnet, to_encoder_state
from ssltheory.testing.strategies import fraction_of_profile

WIDTHS, BLOCKS = (64, 128, 256, 512), (3, 4, 6, 3)


def _conv(gen, cout, cin, k):
    return torch.randn(cout, cin, k, k, generator=gen) * (1.0 / (cin * k * k)) ** 0.5


def _bn(gen, prefix, c, state):
    state[f"{prefix}.weight"] = 0.5 + 0.5 * torch.rand(c, generator=gen)
    state[f"{prefix}.bias"] = 0.1 * torch.randn(c, generator=gen)
    state[f"{prefix}.running_mean"] = 0.1 * torch.randn(c, generator=gen)
    state[f"{prefix}.running_var"] = 0.5 + torch.rand(c, generator=gen)
    state[f"{prefix}.num_batches_tracked"] = torch.tensor(7)


def released_state(expand_to: int | None, seed: int = 0) -> dict:
    """A random state dict with the keys and shapes of torchvision's resnet50 without fc, plus the
    authors' ``avgpool.0`` BottleneckExpand(2048, 512, expand_to) when expand_to is given."""
    gen = torch.Generator().manual_seed(seed)
    state = {"conv1.weight": _conv(gen, 64, 3, 7)}
    _bn(gen, "bn1", 64, state)
    cin = 64
    for layer, (width, blocks) in enumerate(zip(WIDTHS, BLOCKS), start=1):
        for i in range(blocks):
            p = f"layer{layer}.{i}"
            state[f"{p}.conv1.weight"] = _conv(gen, width, cin, 1)
            _bn(gen, f"{p}.bn1", width, state)
            state[f"{p}.conv2.weight"] = _conv(gen, width, width, 3)
            _bn(gen, f"{p}.bn2", width, state)
            state[f"{p}.conv3.weight"] = _conv(gen, 4 * width, width, 1)
            _bn(gen, f"{p}.bn3", 4 * width, state)
            if i == 0:
                state[f"{p}.downsample.0.weight"] = _conv(gen, 4 * width, cin, 1)
                _bn(gen, f"{p}.downsample.1", 4 * width, state)
            cin = 4 * width
    if expand_to is not None:
        state["avgpool.0.conv1.weight"] = _conv(gen, 512, 2048, 1)
        _bn(gen, "avgpool.0.bn1", 512, state)
        state["avgpool.0.conv2.weight"] = _conv(gen, 512, 512, 3)
        _bn(gen, "avgpool.0.bn2", 512, state)
        state["avgpool.0.conv3.weight"] = _conv(gen, expand_to, 512, 1)
        _bn(gen, "avgpool.0.bn3", expand_to, state)
    return state


def torchvision_state(arch: str, *, fc: bool = False, seed: int = 0) -> dict:
    """A random state dict with the keys and shapes of torchvision's ``resnet18`` / ``resnet50``
    (with its ``fc`` classifier when ``fc``), written from torchvision's naming."""
    if arch == "resnet50":
        state = released_state(None, seed)
        width = 2048
    else:
        gen = torch.Generator().manual_seed(seed)
        state = {"conv1.weight": _conv(gen, 64, 3, 7)}
        _bn(gen, "bn1", 64, state)
        cin = 64
        for layer, width in enumerate(WIDTHS, start=1):
            for i in range(2):
                p = f"layer{layer}.{i}"
                state[f"{p}.conv1.weight"] = _conv(gen, width, cin, 3)
                _bn(gen, f"{p}.bn1", width, state)
                state[f"{p}.conv2.weight"] = _conv(gen, width, width, 3)
                _bn(gen, f"{p}.bn2", width, state)
                if i == 0 and layer > 1:
                    state[f"{p}.downsample.0.weight"] = _conv(gen, width, cin, 1)
                    _bn(gen, f"{p}.downsample.1", width, state)
                cin = width
        width = 512
    if fc:
        state["fc.weight"] = torch.randn(10, width)
        state["fc.bias"] = torch.randn(10)
    return state


def reference_forward(state: dict, x: torch.Tensor) -> torch.Tensor:
    """torchvision's ResNet-50 (v1.5) forward in eval mode, then the authors' expansion, then pooling,
    computed with torch.nn.functional straight from the released names (float64)."""
    s = {k: v.double() for k, v in state.items()}

    def bn(prefix, h):
        return F.batch_norm(
            h,
            s[f"{prefix}.running_mean"],
            s[f"{prefix}.running_var"],
            s[f"{prefix}.weight"],
            s[f"{prefix}.bias"],
            training=False,
            eps=1e-5,
        )

    h = F.relu(bn("bn1", F.conv2d(x.double(), s["conv1.weight"], stride=2, padding=3)))
    h = F.max_pool2d(h, 3, 2, 1)
    if "layer1.0.conv3.weight" not in s:  # ResNet-18: two basic blocks per stage
        for layer in range(1, 5):
            for i in range(2):
                p = f"layer{layer}.{i}"
                stride = 2 if (layer > 1 and i == 0) else 1
                out = F.relu(bn(f"{p}.bn1", F.conv2d(h, s[f"{p}.conv1.weight"], stride=stride, padding=1)))
                out = bn(f"{p}.bn2", F.conv2d(out, s[f"{p}.conv2.weight"], padding=1))
                short = (
                    bn(f"{p}.downsample.1", F.conv2d(h, s[f"{p}.downsample.0.weight"], stride=stride))
                    if f"{p}.downsample.0.weight" in s
                    else h
                )
                h = F.relu(out + short)
        return h.mean(dim=(2, 3))
    for layer, blocks in enumerate(BLOCKS, start=1):
        for i in range(blocks):
            p = f"layer{layer}.{i}"
            stride = 2 if (layer > 1 and i == 0) else 1
            out = F.relu(bn(f"{p}.bn1", F.conv2d(h, s[f"{p}.conv1.weight"])))
            out = F.relu(bn(f"{p}.bn2", F.conv2d(out, s[f"{p}.conv2.weight"], stride=stride, padding=1)))
            out = bn(f"{p}.bn3", F.conv2d(out, s[f"{p}.conv3.weight"]))
            short = bn(f"{p}.downsample.1", F.conv2d(h, s[f"{p}.downsample.0.weight"], stride=stride)) if i == 0 else h
            h = F.relu(out + short)
    if "avgpool.0.conv1.weight" in s:
        out = F.relu(bn("avgpool.0.bn1", F.conv2d(h, s["avgpool.0.conv1.weight"])))
        out = F.relu(bn("avgpool.0.bn2", F.conv2d(out, s["avgpool.0.conv2.weight"], padding=1)))
        out = bn("avgpool.0.bn3", F.conv2d(out, s["avgpool.0.conv3.weight"]))
        h = F.relu(out + h.repeat(1, out.shape[1] // h.shape[1], 1, 1))
    return h.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def state8192() -> dict:
    return released_state(8192)


@pytest.fixture(scope="module")
def state2048(state8192) -> dict:
    return {k: v for k, v in state8192.items() if not k.startswith("avgpool.0.")}


@pytest.fixture(scope="module")
def encoder2048(state2048):
    return load_released(state2048)


# --------------------------------------------------------------------------------------------


def test_released_d8192_weights_give_the_torchvision_forward(state8192):
    encoder = load_released(state8192).double()
    assert encoder.out_dim == 8192
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = encoder(x.double())
    expected = reference_forward(state8192, x)
    assert ours.shape == (2, 8192)
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


def test_released_d2048_weights_give_the_torchvision_forward(state2048, encoder2048):
    assert encoder2048.out_dim == 2048 and not encoder2048.training
    x = torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    encoder = encoder2048.double()
    try:
        with torch.no_grad():
            ours = encoder(x.double())
    finally:
        encoder2048.float()
    expected = reference_forward(state2048, x)
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


def test_every_released_tensor_lands_in_the_named_module(state2048, encoder2048):
    # a fixed spot check by module path, not through the key mapping
    pairs = {
        "conv1.weight": encoder2048.stem[0].weight,
        "bn1.running_var": encoder2048.stem[1].running_var,
        "layer3.2.conv2.weight": encoder2048.layer3[2].conv2.weight,
        "layer4.0.downsample.0.weight": encoder2048.layer4[0].shortcut[0].weight,
        "layer2.0.downsample.1.bias": encoder2048.layer2[0].shortcut[1].bias,
    }
    for key, tensor in pairs.items():
        assert torch.equal(state2048[key], tensor.detach()), key


def test_module_and_resizer_prefixes_are_accepted(state8192):
    renamed = {("module." + k.replace("avgpool.0.", "resizer.", 1)): v for k, v in state8192.items()}
    assert is_released_layout(renamed)
    encoder = load_released(renamed)
    assert torch.equal(encoder.expand.body[6].weight.detach(), state8192["avgpool.0.conv3.weight"])


def test_missing_num_batches_tracked_is_filled(state2048):
    encoder = load_released({k: v for k, v in state2048.items() if not k.endswith("num_batches_tracked")})
    assert int(encoder.stem[1].num_batches_tracked) == 0


def test_extra_fc_keys_are_refused_and_named(state2048, encoder2048):
    bad = {**state2048, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    with pytest.raises(ValueError, match=r"extra keys: fc\.bias, fc\.weight"):
        to_encoder_state(bad, encoder2048)


def test_wrong_shape_is_refused(state2048, encoder2048):
    bad = {**state2048, "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3)}
    with pytest.raises(ValueError, match=r"layer1\.0\.conv1\.weight \(64, 64, 3, 3\) \(expected \(64, 64, 1, 1\)\)"):
        to_encoder_state(bad, encoder2048)


def test_a_fixed_missing_key_is_named(state2048, encoder2048):
    bad = {k: v for k, v in state2048.items() if k != "layer2.3.bn3.running_mean"}
    with pytest.raises(ValueError, match=r"missing keys: layer2\.3\.bn3\.running_mean"):
        to_encoder_state(bad, encoder2048)


@fraction_of_profile(0.42)
@given(data=st.data())
def test_any_dropped_weight_is_named_as_missing(state2048, encoder2048, data):
    weights = sorted(k for k in state2048 if not k.endswith("num_batches_tracked"))
    dropped = data.draw(st.sets(st.sampled_from(weights), min_size=1, max_size=3))
    with pytest.raises(ValueError) as info:
        to_encoder_state({k: v for k, v in state2048.items() if k not in dropped}, encoder2048)
    message = str(info.value)
    assert "missing keys" in message and all(k in message for k in dropped)


def test_loading_from_a_file_and_refusing_a_corrupt_one(tmp_path, state2048):
    small = {k: v for k, v in state2048.items() if k.startswith(("conv1", "bn1"))}
    path = tmp_path / "dissl_resnet50_dNone.pt"
    torch.save(small, path)
    with pytest.raises(ValueError, match="missing keys: layer1.0.conv1.weight"):
        load_released(path)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="unreadable or corrupt"):
        load_released(corrupt)
    assert not is_released_layout({"stem.0.weight": torch.zeros(1)})


# -------------------------------------------------------------------------------------------- other libraries


def _lightly(state: dict, prefix: str = "backbone.") -> dict:
    """lightly's ``nn.Sequential(*list(resnet.children())[:-1])`` under ``prefix``."""
    index = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    out = {}
    for k, v in state.items():
        head, _, rest = k.partition(".")
        if head != "fc":
            out[f"{prefix}{index[head]}.{rest}"] = v
    return out


def _without_fc(state: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in state.items() if not k.startswith("fc.")}


def _head(prefix: str, *shapes) -> dict:
    """A stand-in projection head: Linear / BatchNorm tensors under ``prefix``."""
    gen = torch.Generator().manual_seed(len(prefix))
    return {f"{prefix}{i}.weight": torch.randn(*shape, generator=gen) for i, shape in enumerate(shapes)}


def _solo_learn(s, dataset="imagenet100"):
    return {
        "epoch": 399,
        "global_step": 12345,
        "pytorch-lightning_version": "2.0.0",
        "state_dict": {
            **_without_fc(s, "backbone."),
            **_head("projector.", (2048, 512), (2048,), (2048, 2048)),
            "classifier.weight": torch.randn(100, 512),
            "classifier.bias": torch.randn(100),
        },
        "hyper_parameters": {"cfg": {"data": {"dataset": dataset}, "backbone": {"name": "resnet18"}}},
        "optimizer_states": [{"state": {0: {"momentum_buffer": torch.zeros(3)}}, "param_groups": [{"lr": 0.1}]}],
    }


def _dino(s):
    return {
        "teacher": {**_without_fc(s, "backbone."), **_head("head.mlp.", (2048, 512), (256, 2048))},
        "student": {**_without_fc(s, "module.backbone."), **_head("module.head.mlp.", (2048, 512))},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.0}]},
        "epoch": 100,
        "args": argparse.Namespace(arch="resnet18", out_dim=65536),
        "dino_loss": {"center": torch.zeros(1, 65536)},
    }


#: naming scheme -> (checkpoint as saved, backbone path, layout, fc ignored, groups dropped)
SCHEMES = {
    "torchvision": (lambda s: dict(s), "", "torchvision", True, []),
    "timm": (lambda s: dict(s), "", "torchvision", True, []),
    "lightly-backbone": (lambda s: _lightly(s, ""), "", "sequential", False, []),
    "lightly-model": (
        lambda s: {**_lightly(s), **_head("projection_head.layers.", (512, 512), (128, 512))},
        "backbone.",
        "sequential",
        False,
        ["projection_head"],
    ),
    "solo-learn": (
        _solo_learn,
        "state_dict.backbone.",
        "torchvision",
        False,
        [
            "epoch",
            "global_step",
            "optimizer_states",
            "pytorch-lightning_version",
            "state_dict.classifier",
            "state_dict.projector",
        ],
    ),
    "solo-learn-momentum": (
        lambda s: {
            "state_dict": {
                **_solo_learn(s)["state_dict"],
                **_without_fc(torchvision_state("resnet18", seed=9), "momentum_backbone."),
            }
        },
        "state_dict.backbone.",
        "torchvision",
        False,
        ["state_dict.classifier", "state_dict.momentum_backbone", "state_dict.projector"],
    ),
    "vissl": (
        lambda s: {
            "classy_state_dict": {
                "base_model": {
                    "model": {"trunk": _without_fc(s, "_feature_blocks."), "heads": _head("0.clf.0.", (128, 512))}
                }
            },
            "iteration": 5,
        },
        "classy_state_dict.base_model.model.trunk._feature_blocks.",
        "torchvision",
        False,
        ["classy_state_dict.base_model.model.heads", "iteration"],
    ),
    "dino": (
        _dino,
        "teacher.backbone.",
        "torchvision",
        False,
        ["args", "dino_loss", "epoch", "optimizer", "student", "teacher.head"],
    ),
    "ddp": (lambda s: {f"module.{k}": v for k, v in s.items()}, "module.", "torchvision", True, []),
    "encoder": (lambda s: {f"model.encoder.{k}": v for k, v in s.items()}, "model.encoder.", "torchvision", True, []),
}


@pytest.fixture(scope="module")
def state18() -> dict:
    return torchvision_state("resnet18", fc=True, seed=3)


def _features(encoder, x):
    with torch.no_grad():
        return encoder(x)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_peer_layout_loads_the_backbone_exactly_and_names_what_it_dropped(scheme, state18, tmp_path):
    make, prefix, layout, fc, dropped = SCHEMES[scheme]
    path = tmp_path / f"{scheme}.pth"
    torch.save(make(state18), path)
    encoder, info = load_resnet(path)
    assert info.arch == "resnet18" and info.z_dim == 512 and info.stem == "imagenet"
    assert info.prefix == prefix and info.layout == layout
    assert list(info.ignored) == (["fc.bias", "fc.weight"] if fc else [])
    named = [group for group, _ in info.dropped] + [m for m in info.metadata if m != "hyper_parameters"]
    assert sorted(set(named)) == sorted(set(dropped)), info.describe()
    plain, _ = load_resnet({k: v for k, v in state18.items() if not k.startswith("fc.")})
    x = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(4))
    assert torch.equal(_features(encoder, x), _features(plain, x))  # max abs difference 0
    with torch.no_grad():
        ours = encoder.double()(x.double())
    expected = reference_forward(state18, x)
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


def test_dino_student_on_request_and_its_own_weights(state18, tmp_path):
    other = torchvision_state("resnet18", seed=11)
    checkpoint = _dino(state18)
    checkpoint["student"] = {**_without_fc(other, "module.backbone."), **_head("module.head.mlp.", (2048, 512))}
    path = tmp_path / "dino.pth"
    torch.save(checkpoint, path)
    teacher, info = load_resnet(path)
    student, info_s = load_resnet(path, which="student")
    assert info.prefix == "teacher.backbone." and info_s.prefix == "student.module.backbone."
    assert "recorded in the checkpoint: DINO's args" in info.stem_source
    x = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(5))
    plain_student, _ = load_resnet({k: v for k, v in other.items() if not k.startswith("fc.")})
    assert torch.equal(_features(student, x), _features(plain_student, x))
    assert not torch.equal(_features(student, x), _features(teacher, x))
    same, _ = load_resnet(path, prefix="student.module.backbone.")
    assert torch.equal(_features(same, x), _features(student, x))


def test_several_backbones_without_a_choice_name_them_and_the_options(state18):
    two = {**_without_fc(state18, "encoder_q."), **_without_fc(state18, "encoder_k.")}  # MoCo's query and key
    with pytest.raises(ValueError, match=r"2 backbones \('encoder_k\.', 'encoder_q\.'\).*--which.*--prefix"):
        load_resnet(two)
    _, info = load_resnet(two, which="encoder_q")
    assert info.prefix == "encoder_q." and info.dropped == (("encoder_k", 120),)
    with pytest.raises(ValueError, match=r"prefix 'nowhere' matches 0 of the backbones"):
        load_resnet(two, prefix="nowhere")
    with pytest.raises(ValueError, match="holds no ResNet backbone"):
        load_resnet({"projector.weight": torch.zeros(3)})


def _stem_forward(state: dict, x: torch.Tensor, stem) -> torch.Tensor:
    """`reference_forward` of a ResNet-18 with the given stem (stride, padding, max-pool)."""
    s = {k: v.double() for k, v in state.items()}
    h = F.conv2d(x.double(), s["conv1.weight"], stride=stem.stride, padding=stem.padding)
    h = F.relu(
        F.batch_norm(
            h, s["bn1.running_mean"], s["bn1.running_var"], s["bn1.weight"], s["bn1.bias"], training=False, eps=1e-5
        )
    )
    if stem.maxpool:
        h = F.max_pool2d(h, 3, 2, 1)
    # the rest of the network through our loaded encoder's own trunk is checked elsewhere; compare the stems' outputs
    return h


@pytest.mark.parametrize("name", sorted(STEMS))
def test_each_stem_is_built_as_named(name, state18):
    stem = STEMS[name]
    state = {k: v for k, v in state18.items() if not k.startswith("fc.")}
    state["conv1.weight"] = torch.randn(64, 3, stem.kernel, stem.kernel, generator=torch.Generator().manual_seed(2))
    encoder, info = load_resnet(state, stem=name)
    assert info.stem == name and info.stem_source == "given"
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(6)).double()
    with torch.no_grad():
        ours = encoder.double().stem(x)
    torch.testing.assert_close(ours, _stem_forward(state, x, stem), rtol=1e-10, atol=1e-10)


def test_the_stem_comes_from_the_option_the_record_or_a_stated_assumption(state18):
    small = {**{k: v for k, v in state18.items() if not k.startswith("fc.")}, "conv1.weight": torch.randn(64, 3, 3, 3)}
    with pytest.raises(ValueError, match=r"does not record its stem.*--stem.*cifar, cifar-pad2"):
        load_resnet(small)
    _, info = load_resnet(_solo_learn(small, dataset="cifar10"))
    assert info.stem == "cifar-pad2" and "solo-learn's hyper_parameters: dataset cifar10" in info.stem_source
    with pytest.raises(ValueError, match=r"stem 'imagenet' has a 7x7 conv but the checkpoint's conv1 is 3x3"):
        load_resnet(small, stem="imagenet")
    nopool, info = load_resnet(state18, stem="imagenet-nomaxpool")
    assert isinstance(nopool.stem[3], torch.nn.Identity) and info.stem_source == "given"
    _, info = load_resnet(state18)
    assert info.stem == "imagenet" and info.stem_source.startswith("assumed")
    assert "imagenet-nomaxpool" in info.describe()


def test_a_resnet50_in_torchvision_layout_with_its_classifier(state2048):
    encoder, info = load_resnet({**state2048, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)})
    assert info.arch == "resnet50" and info.ignored == ("fc.bias", "fc.weight") and encoder.out_dim == 2048
    assert "ignored classifier head (2 keys" in info.describe()


def test_strictness_inside_the_backbone_and_unknown_architectures(state18):
    with pytest.raises(ValueError, match=r"extra keys: layer1\.0\.conv9\.weight"):
        load_resnet({**state18, "layer1.0.conv9.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"missing keys: layer2\.0\.downsample\.0\.weight"):
        load_resnet({k: v for k, v in state18.items() if k != "layer2.0.downsample.0.weight"})
    three = {
        **state18,
        **{k.replace("layer1.1.", "layer1.2."): v for k, v in state18.items() if k.startswith("layer1.1.")},
    }
    with pytest.raises(ValueError, match=r"blocks per stage \(3, 2, 2, 2\)"):
        load_resnet(three)
    _, info = load_resnet({**state18, "projector.weight": torch.zeros(3)})  # beside the backbone: dropped, named
    assert info.dropped == (("projector", 1),)


class _Thing:
    """An arbitrary class: pickling it makes a file that weights_only loading refuses."""


def test_a_pickled_object_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"conv1.weight": torch.zeros(1), "thing": _Thing()}, path)
    with pytest.raises(ValueError, match=r"objects other than tensors.*_Thing.*it will not be unpickled"):
        load_resnet(path)
