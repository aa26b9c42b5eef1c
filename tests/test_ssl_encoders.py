"""Encoders: shapes, small-image stems, the dimension-expansion block and parameter counts.

Parameter counts are checked against a count written from the architecture's description
(conv k*k*c_in*c_out, batch-norm 2c, projection shortcuts), not by summing the module.
"""

from __future__ import annotations

import pytest
import torch

from ssltheory.ssl.encoders import DimensionExpansion, build_encoder


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def resnet_count_from_description(
    bottleneck: bool, in_channels: int, stem_kernel: int, z_dim: int | None = None
) -> int:
    """He et al. 2016 table 1, no fc: stem conv + BN, four stages, 1x1 projection shortcut + BN at stage entry."""
    conv = lambda k, cin, cout: k * k * cin * cout  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(stem_kernel, in_channels, 64) + bn(64)
    cin = 64
    blocks = (3, 4, 6, 3) if bottleneck else (2, 2, 2, 2)
    for stage, (width, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        for j in range(n):
            if bottleneck:
                cout = 4 * width
                total += (
                    conv(1, cin, width)
                    + bn(width)
                    + conv(3, width, width)
                    + bn(width)
                    + conv(1, width, cout)
                    + bn(cout)
                )
            else:
                cout = width
                total += conv(3, cin, width) + bn(width) + conv(3, width, width) + bn(width)
            if cin != cout or (stage > 0 and j == 0):
                total += conv(1, cin, cout) + bn(cout)
            cin = cout
    if z_dim is not None and z_dim != cin:  # 1x1 to 512, 3x3, 1x1 to z_dim, three BNs
        total += conv(1, cin, 512) + bn(512) + conv(3, 512, 512) + bn(512) + conv(1, 512, z_dim) + bn(z_dim)
    return total


def test_resnet18_cifar_trunk_has_11168832_parameters():
    expected = resnet_count_from_description(bottleneck=False, in_channels=3, stem_kernel=3)
    assert expected == 11_168_832  # the brief's figure, recomputed from the architecture
    assert _n_params(build_encoder("resnet18", 3, 32, None)) == expected


def test_resnet50_cifar_trunk_has_about_23_5m_parameters():
    expected = resnet_count_from_description(bottleneck=True, in_channels=3, stem_kernel=3)
    assert 23.4e6 < expected < 23.6e6
    assert _n_params(build_encoder("resnet50", 3, 32, None)) == expected


@pytest.mark.parametrize(
    "arch, in_channels, image_size, z_dim",
    [("resnet18", 3, 224, None), ("resnet18", 1, 64, 2048), ("resnet18", 3, 32, 128), ("resnet50", 3, 64, 8192)],
)
def test_resnet_parameter_count_follows_description(arch, in_channels, image_size, z_dim):
    kernel = 3 if image_size < 100 else 7
    expected = resnet_count_from_description(arch == "resnet50", in_channels, kernel, z_dim)
    assert _n_params(build_encoder(arch, in_channels, image_size, z_dim)) == expected


@pytest.mark.parametrize(
    "image_size, stem_side",
    [(8, 8), (32, 32), (64, 32), (96, 48), (128, 32)],  # 3x3 s1 (+ max-pool above 32 px); 7x7 s2 + pool from 100 px
)
def test_small_image_stems(image_size, stem_side):
    enc = build_encoder("resnet18", 3, image_size, None)
    out = enc.stem(torch.zeros(1, 3, image_size, image_size))
    assert out.shape[-1] == stem_side
    conv = enc.stem[0]
    assert conv.kernel_size == ((3, 3) if image_size < 100 else (7, 7))
    assert conv.stride == ((1, 1) if image_size < 100 else (2, 2))


@pytest.mark.parametrize(
    "arch, in_channels, image_size, z_dim, batch",
    [
        ("resnet18", 3, 32, None, 2),
        ("resnet18", 1, 8, 1024, 3),
        ("resnet18", 3, 16, 16, 2),
        ("small_cnn", 1, 8, None, 3),
        ("small_cnn", 3, 32, 1024, 2),
        ("small_cnn", 3, 64, 16, 2),
    ],
)
def test_encoder_maps_images_to_out_dim_vectors(arch, in_channels, image_size, z_dim, batch):
    torch.manual_seed(0)
    enc = build_encoder(arch, in_channels, image_size, z_dim)
    z = enc(torch.rand(batch, in_channels, image_size, image_size))
    expected_dim = z_dim if z_dim is not None else (512 if arch == "resnet18" else 128)
    assert enc.out_dim == expected_dim
    assert z.shape == (batch, expected_dim)
    assert torch.isfinite(z).all()


def test_resnet50_forward_shape_and_expansion():
    enc = build_encoder("resnet50", 3, 32, 4096)
    assert enc(torch.rand(2, 3, 8, 8)).shape == (2, 4096)


def test_dimension_expansion_identity_path_tiles_the_input_channels():
    block = DimensionExpansion(4, 3, 12).eval()
    torch.nn.init.zeros_(block.body[-1].weight)  # silence the residual branch: out = relu(tiled input)
    x = torch.randn(2, 4, 5, 5)
    expected = torch.cat([x, x, x], dim=1).clamp_min(0)
    assert torch.equal(block(x), expected)
    assert block.residual and block.repeats == 3
    assert not DimensionExpansion(512, 512, 128).residual  # z_dim not a multiple: no identity path


def test_small_cnn_has_100k_to_500k_parameters():
    for in_channels in (1, 3):
        n = _n_params(build_encoder("small_cnn", in_channels, 28, 128))
        assert 100_000 <= n <= 500_000, n


def test_build_encoder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="arch"):
        build_encoder("vit", 3, 32, None)
    with pytest.raises(ValueError, match="image_size"):
        build_encoder("resnet18", 3, 4, None)
    with pytest.raises(ValueError, match="z_dim"):
        build_encoder("resnet18", 3, 32, 0)
    with pytest.raises(ValueError, match="in_channels"):
        build_encoder("small_cnn", 0, 32, 8)
