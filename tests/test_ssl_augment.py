"""Augmentations: shapes, dtype, ranges, determinism, identity at strength 0, and each geometric
piece against a direct implementation (slicing, a loop convolution, torchvision's crop rule)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from ssltheory.ssl.augment import (
    Normalize,
    build_augmentation,
    gaussian_blur,
    resized_crop,
    sample_crop_boxes,
    to_unit_float,
)

MEAN3, STD3 = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests are small: one torch thread beats two on the shared two-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def batch(b=8, c=3, size=16, seed=0):
    return torch.randint(0, 256, (b, c, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["simclr", "coarse", "none"])
def test_views_have_the_stated_shapes_dtype_and_range(kind):
    aug = build_augmentation(kind, 16, 3, mean=MEAN3, std=STD3, n_small_crops=2, small_size=8)
    views = aug(batch(), generator=gen(0))
    assert [tuple(v.shape) for v in views] == [(8, 3, 16, 16)] * 2 + [(8, 3, 8, 8)] * 2
    lo = min((0 - m) / s for m, s in zip(MEAN3, STD3))
    hi = max((1 - m) / s for m, s in zip(MEAN3, STD3))
    for v in views:
        assert v.dtype == torch.float32 and torch.isfinite(v).all()
        assert v.min() >= lo - 1e-5 and v.max() <= hi + 1e-5


def test_views_are_deterministic_given_the_generator_and_differ_between_views():
    aug = build_augmentation("simclr", 16, 3, mean=MEAN3, std=STD3)
    x = batch()
    a, b = aug(x, generator=gen(5)), aug(x, generator=gen(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    c = aug(x, generator=gen(6))
    assert not torch.equal(a[0], c[0])
    assert not torch.equal(a[0], a[1])
    # every image's two views differ (crop, flip and jitter are drawn per image and per view)
    assert ((a[0] - a[1]).flatten(1).abs().amax(1) > 1e-3).all()


def test_generator_state_resumes_the_same_stream():
    aug = build_augmentation("coarse", 16, 3, mean=MEAN3, std=STD3)
    g = gen(9)
    aug(batch(), generator=g)
    saved = g.get_state()
    first = aug(batch(seed=1), generator=g)
    g2 = torch.Generator()
    g2.set_state(saved)
    second = aug(batch(seed=1), generator=g2)
    assert all(torch.equal(u, v) for u, v in zip(first, second))


@pytest.mark.parametrize("kind, strength", [("none", None), ("simclr", 0.0)])
def test_strength_zero_is_identity_up_to_normalisation(kind, strength):
    x = batch()
    views = build_augmentation(kind, 16, 3, strength, mean=MEAN3, std=STD3)(x, generator=gen(0))
    expected = (x.float() / 255 - torch.tensor(MEAN3).view(1, 3, 1, 1)) / torch.tensor(STD3).view(1, 3, 1, 1)
    for v in views:
        assert torch.allclose(v, expected, atol=1e-6)


def test_float_and_uint8_inputs_agree():
    aug = build_augmentation("simclr", 16, 3, mean=MEAN3, std=STD3)
    x = batch()
    a = aug(x, generator=gen(2))
    b = aug(x.float() / 255, generator=gen(2))
    assert all(torch.allclose(u, v, atol=1e-5) for u, v in zip(a, b))


def test_grey_images_keep_brightness_and_contrast_only():
    aug = build_augmentation("simclr", 16, 1, 2.0, mean=(0.5,), std=(0.25,))
    assert aug.saturation == 0 and aug.hue == 0 and aug.grey_p == 0
    assert aug.brightness == pytest.approx(0.8) and aug.contrast == pytest.approx(0.8)
    views = aug(batch(c=1), generator=gen(0))
    assert views[0].shape == (8, 1, 16, 16)


def test_strength_scales_the_reference_parameters():
    aug = build_augmentation("simclr", 64, 3, 0.5, mean=MEAN3, std=STD3)
    assert aug.crops[0].scale == (0.4, 1.0)  # 0.2 / s
    assert (aug.brightness, aug.contrast, aug.saturation, aug.hue) == pytest.approx((0.2, 0.2, 0.2, 0.05))
    assert aug.grey_p == pytest.approx(0.05)
    coarse = build_augmentation("coarse", 64, 3, mean=MEAN3, std=STD3)
    assert coarse.strength == 2.0 and coarse.blur_p == 0.5 and coarse.blur_kernel == 7
    assert coarse.crops[0].scale == (0.1, 1.0)
    half = build_augmentation("simclr", 32, 3, 1.0, mean=MEAN3, std=STD3, jitter_scale=0.5)
    assert half.brightness == pytest.approx(0.2) and half.hue == pytest.approx(0.05)
    weak = build_augmentation("simclr", 32, 3, 0.1, mean=MEAN3, std=STD3)
    assert weak.crops[0].scale == (1.0, 1.0)  # 0.2 / s clamped to 1


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kind"):
        build_augmentation("mixup", 16, 3)
    with pytest.raises(ValueError, match="strength"):
        build_augmentation("simclr", 16, 3, -1.0)
    with pytest.raises(ValueError, match="mean has 3 entries but channels is 1"):
        build_augmentation("simclr", 16, 1, mean=MEAN3, std=STD3)
    aug = build_augmentation("simclr", 16, 3)
    with pytest.raises(ValueError, match="channels"):
        aug(batch(c=1))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        aug(torch.zeros(3, 16, 16))


# ----------------------------------------------------------------------------------------------
# the pieces


def test_resized_crop_example_is_slicing_when_sizes_match():
    x = torch.rand(2, 3, 10, 12)
    boxes = torch.tensor([[2.0, 3.0, 5.0, 5.0], [0.0, 0.0, 5.0, 5.0]])
    out = resized_crop(x, boxes, 5)
    assert torch.allclose(out[0], x[0, :, 3:8, 2:7], atol=1e-5)
    assert torch.allclose(out[1], x[1, :, 0:5, 0:5], atol=1e-5)


@given(st.integers(4, 20), st.integers(4, 20), st.data())
def test_resized_crop_of_a_same_size_box_is_the_window(height, width, data):
    size = data.draw(st.integers(1, min(height, width)))
    x0 = data.draw(st.integers(0, width - size))
    y0 = data.draw(st.integers(0, height - size))
    x = torch.rand(1, 2, height, width, generator=gen(height * 31 + width))
    out = resized_crop(x, torch.tensor([[x0, y0, size, size]], dtype=torch.float32), size)
    assert torch.allclose(out[0], x[0, :, y0 : y0 + size, x0 : x0 + size], atol=1e-5)


def test_crop_boxes_example():
    boxes = sample_crop_boxes(1000, 32, 32, (0.2, 1.0), (3 / 4, 4 / 3), gen(0))
    area = boxes[:, 2] * boxes[:, 3] / (32 * 32)
    assert area.min() >= 0.18 and area.max() <= 1.0


@given(st.integers(8, 64), st.integers(8, 64), st.floats(0.05, 1.0), st.integers(0, 1000))
def test_crop_boxes_follow_torchvisions_rule(height, width, low, seed):
    """Each box lies in the image and is either an accepted draw (w = round(sqrt(A r)),
    h = round(sqrt(A / r)) for some area A in [low, 1] * H * W and ratio r in [3/4, 4/3]: so A lies
    in [(w-1/2)(h-1/2), (w+1/2)(h+1/2)] and r in [(w-1/2)/(h+1/2), (w+1/2)/(h-1/2)]) or the
    centred fallback."""
    boxes = sample_crop_boxes(64, height, width, (low, 1.0), (3 / 4, 4 / 3), gen(seed))
    hw = height * width
    if 3 / 4 <= width / height <= 4 / 3:
        fallback = (width, height)
    elif width / height < 3 / 4:
        fallback = (width, round(width * 4 / 3))
    else:
        fallback = (round(height * 4 / 3), height)
    for x0, y0, w, h in boxes.tolist():
        assert w == int(w) and h == int(h) and 0 <= x0 and 0 <= y0 and x0 + w <= width and y0 + h <= height
        area_ok = (w + 0.5) * (h + 0.5) >= low * hw - 1e-9 and (w - 0.5) * (h - 0.5) <= hw
        ratio_ok = (w - 0.5) / (h + 0.5) <= 4 / 3 and (w + 0.5) / (h - 0.5) >= 3 / 4
        assert (area_ok and ratio_ok) or (w, h) == fallback


def test_gaussian_blur_matches_a_loop_convolution():
    x = torch.rand(2, 2, 9, 11, generator=gen(0), dtype=torch.float64)
    sigma = torch.tensor([0.7, 1.9], dtype=torch.float64)
    out = gaussian_blur(x, sigma, 7)
    xn = x.numpy()
    for b in range(2):
        t = np.arange(7) - 3
        k = np.exp(-(t**2) / (2 * sigma[b].item() ** 2))
        k /= k.sum()
        for c in range(2):
            padded = np.pad(xn[b, c], 3, mode="reflect")
            expected = np.zeros((9, 11))
            for i in range(9):
                for j in range(11):
                    expected[i, j] = sum(k[u] * k[v] * padded[i + u, j + v] for u in range(7) for v in range(7))
            assert np.allclose(out[b, c].numpy(), expected, atol=1e-12)


def test_normalize_and_unit_float():
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert torch.allclose(Normalize((0.5,), (0.5,))(x), torch.tensor([[[[-1.0, 1.0]]]]))
    assert to_unit_float(x).max() == 1.0
    with pytest.raises(ValueError, match="uint8 or float"):
        to_unit_float(torch.zeros(1, 1, 2, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match="mean has 2 entries but std has 1"):
        Normalize((0.1, 0.2), (0.3,))


def test_colour_jitter_keeps_grey_pixels_grey_under_hue_and_saturation():
    aug = build_augmentation("simclr", 8, 3, 1.0, mean=(0, 0, 0), std=(1, 1, 1))
    aug.brightness = aug.contrast = 0.0  # only saturation and hue move colours
    grey = torch.rand(16, 1, 8, 8, generator=gen(3)).expand(-1, 3, -1, -1).contiguous()
    out = aug._color_jitter(grey, gen(4))
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-5) and torch.allclose(out[:, 1], out[:, 2], atol=1e-5)
    assert torch.allclose(out, grey, atol=2e-4)  # torchvision's luminance weights sum to 0.9999


def test_brightness_alone_multiplies_by_a_factor_in_range():
    aug = build_augmentation("simclr", 8, 3, 1.0, mean=(0, 0, 0), std=(1, 1, 1))
    aug.contrast = aug.saturation = aug.hue = 0.0
    aug.jitter_p = 1.0
    x = torch.rand(32, 3, 8, 8, generator=gen(5)) * 0.5  # stays below 1 after a factor <= 1.4
    out = aug._color_jitter(x, gen(6))
    factor = out.flatten(1) / x.flatten(1)
    assert torch.allclose(factor, factor[:, :1].expand_as(factor), atol=1e-4)
    assert factor.min() >= 0.6 - 1e-4 and factor.max() <= 1.4 + 1e-4
    assert factor[:, 0].std() > 0.05


@given(st.integers(0, 2**31 - 1), st.floats(-0.5, 0.5))
def test_hue_rotation_matches_the_stdlib_hsv_round_trip(seed, turn):
    """The closed-form hue rotation against colorsys (an independent HSV implementation): h <- (h + f) mod 1."""
    import colorsys

    from ssltheory.ssl.augment import _hue

    g = gen(seed)
    x = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64)
    x[0, :, 0, 0] = torch.tensor([0.3, 0.3, 0.3], dtype=torch.float64)  # grey: no hue to rotate
    x[1, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)  # a pure primary, on a sector edge
    out = _hue(x, torch.full((2, 1, 1, 1), turn, dtype=torch.float64))
    expected = torch.empty_like(x)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                h, s, v = colorsys.rgb_to_hsv(*x[b, :, i, j].tolist())
                expected[b, :, i, j] = torch.tensor(colorsys.hsv_to_rgb((h + turn) % 1.0, s, v), dtype=torch.float64)
    assert torch.allclose(out, expected, atol=1e-9)


def test_jitter_applies_each_drawn_factor_once_in_the_drawn_order():
    """The batched jitter against a per-image loop that applies the ops one at a time in each image's order
    (torchvision's ColorJitter: brightness f x, contrast f x + (1 - f) mean(grey), saturation f x + (1 - f) grey,
    each clamped; hue via colorsys-checked rotation), with the parameters drawn from the same generator."""
    from ssltheory.ssl.augment import _grey, _hue

    aug = build_augmentation("simclr", 8, 3, 1.0, mean=(0, 0, 0), std=(1, 1, 1))
    x = torch.rand(24, 3, 8, 8, generator=gen(7))
    out = aug._color_jitter(x, gen(8))
    g = gen(8)  # redraw the parameters in the augmentation's order
    b = len(x)
    apply = torch.rand(b, generator=g) < aug.jitter_p
    lows = (1 - aug.brightness, 1 - aug.contrast, 1 - aug.saturation, -aug.hue)
    highs = (1 + aug.brightness, 1 + aug.contrast, 1 + aug.saturation, aug.hue)
    factors = torch.stack([torch.rand(b, generator=g) * (hi - lo) + lo for lo, hi in zip(lows, highs)], 1)
    order = torch.argsort(torch.rand(b, 4, generator=g), dim=1)
    for i in range(b):
        y = x[i : i + 1].clone()
        for op in order[i].tolist() if apply[i] else []:
            f = factors[i, op]
            if op == 0:
                y = (f * y).clamp(0, 1)
            elif op == 1:
                y = (f * y + (1 - f) * _grey(y).mean()).clamp(0, 1)
            elif op == 2:
                y = (f * y + (1 - f) * _grey(y)).clamp(0, 1)
            else:
                y = _hue(y, f.view(1, 1, 1, 1))
        assert torch.allclose(out[i : i + 1], y, atol=1e-5), i
