"""Loading the authors' released ResNet-50 DISSL state dicts (ssltheory.ssl.released).

No download: the tests generate a state dict in the released layout themselves, written from
torchvision's ResNet-50 naming (and the authors' ``BottleneckExpand`` for the 8192-d models), and
check the loaded encoder against a plain functional forward pass over that state dict, written here
independently of our ResNet module.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from ssltheory.ssl.released import is_released_layout, load_released, load_resnet, to_encoder_state

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
        return F.batch_norm(h, s[f"{prefix}.running_mean"], s[f"{prefix}.running_var"], s[f"{prefix}.weight"],
                            s[f"{prefix}.bias"], training=False, eps=1e-5)

    h = F.relu(bn("bn1", F.conv2d(x.double(), s["conv1.weight"], stride=2, padding=3)))
    h = F.max_pool2d(h, 3, 2, 1)
    if "layer1.0.conv3.weight" not in s:  # ResNet-18: two basic blocks per stage
        for layer in range(1, 5):
            for i in range(2):
                p = f"layer{layer}.{i}"
                stride = 2 if (layer > 1 and i == 0) else 1
                out = F.relu(bn(f"{p}.bn1", F.conv2d(h, s[f"{p}.conv1.weight"], stride=stride, padding=1)))
                out = bn(f"{p}.bn2", F.conv2d(out, s[f"{p}.conv2.weight"], padding=1))
                short = (bn(f"{p}.downsample.1", F.conv2d(h, s[f"{p}.downsample.0.weight"], stride=stride))
                         if f"{p}.downsample.0.weight" in s else h)
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


@settings(max_examples=25)
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


def _lightly(state: dict) -> dict:
    """lightly's ``nn.Sequential(*list(resnet.children())[:-1])`` under ``backbone.``."""
    index = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    out = {}
    for k, v in state.items():
        head, _, rest = k.partition(".")
        if head != "fc":
            out[f"backbone.{index[head]}.{rest}"] = v
    return out


#: naming scheme -> (checkpoint as saved, prefixes that must be reported, fc ignored?)
SCHEMES = {
    "torchvision": (lambda s: dict(s), [], True),
    "timm": (lambda s: dict(s), [], True),
    "lightly": (_lightly, ["backbone."], False),
    "solo-learn": (lambda s: {"state_dict": {f"backbone.{k}": v for k, v in s.items() if not k.startswith("fc.")}},
                   ["backbone."], False),
    "vissl": (lambda s: {"classy_state_dict": {"base_model": {"model": {"trunk": {
        f"_feature_blocks.{k}": v for k, v in s.items() if not k.startswith("fc.")}}}}}, ["_feature_blocks."], False),
    "dino": (lambda s: {"teacher": {f"module.backbone.{k}": v for k, v in s.items() if not k.startswith("fc.")}},
             ["module.", "backbone."], False),
    "ddp": (lambda s: {f"module.{k}": v for k, v in s.items()}, ["module."], True),
    "encoder": (lambda s: {f"model.encoder.{k}": v for k, v in s.items()}, ["model.", "encoder."], True),
}


@pytest.fixture(scope="module")
def state18() -> dict:
    return torchvision_state("resnet18", fc=True, seed=3)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_naming_scheme_loads_a_resnet18_from_a_file_strictly(scheme, state18, tmp_path):
    make, prefixes, fc = SCHEMES[scheme]
    path = tmp_path / f"{scheme}.pth"
    torch.save(make(state18), path)
    encoder, info = load_resnet(path)
    assert info.arch == "resnet18" and info.z_dim == 512 and info.stem == "imagenet"
    assert list(info.stripped) == prefixes
    assert list(info.ignored) == (["fc.bias", "fc.weight"] if fc else [])
    assert info.layout == ("sequential" if scheme == "lightly" else "torchvision")
    x = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours = encoder.double()(x.double())
    expected = reference_forward(state18, x)
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


def test_a_resnet50_in_torchvision_layout_with_its_classifier(state2048):
    encoder, info = load_resnet({**state2048, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)})
    assert info.arch == "resnet50" and info.ignored == ("fc.bias", "fc.weight") and encoder.out_dim == 2048
    assert "ignored classifier head (2 keys" in info.describe()


def test_strictness_names_extra_missing_and_unknown_architectures(state18, tmp_path):
    with pytest.raises(ValueError, match=r"extra keys: projector\.weight"):
        load_resnet({**state18, "projector.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"missing keys: layer2\.0\.downsample\.0\.weight"):
        load_resnet({k: v for k, v in state18.items() if k != "layer2.0.downsample.0.weight"})
    three = {**state18, **{k.replace("layer1.1.", "layer1.2."): v for k, v in state18.items() if k.startswith("layer1.1.")}}
    with pytest.raises(ValueError, match=r"blocks per stage \(3, 2, 2, 2\)"):
        load_resnet(three)


class _Thing:
    """An arbitrary class: pickling it makes a file that weights_only loading refuses."""


def test_a_pickled_object_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"conv1.weight": torch.zeros(1), "thing": _Thing()}, path)
    with pytest.raises(ValueError, match="not a plain state dict; it will not be unpickled"):
        load_resnet(path)


def test_a_small_image_stem_is_the_cifar_variant(state18):
    small = {**state18, "conv1.weight": torch.randn(64, 3, 3, 3)}
    encoder, info = load_resnet(small)
    assert info.stem == "small" and encoder.stem[0].kernel_size == (3, 3) and encoder.stem[0].stride == (1, 1)
