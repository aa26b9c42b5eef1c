"""The training monitor (ssltheory/monitor.py) and ``ssltheory train --monitor-every``.

Oracles: `score_encoder` (its own views through `sample_views` / `extract_features`) on the same
weights, images, views and seed; the same training run without the monitor (weights and losses
bit for bit: the monitor restores every random state and mode); the random states themselves.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from ssltheory.monitor import IdealnessMonitor, monitored_records
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.views import score_encoder

TOL = 0.01


def _images(n=12, size=16, seed=0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def _encoder(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return build_encoder("small_cnn", 3, 16, 12)


def test_a_monitored_score_is_score_encoder_on_the_same_weights():
    """The same views (drawn once, in `sample_views`' order) and the same held-out split as
    `score_encoder`: equal codes up to float32 summation order, so equal ranks and scores up to it."""
    from ssltheory.ssl.views import reference_augmentation, sample_views

    encoder, images = _encoder(), _images()
    monitor = IdealnessMonitor(encoder, images, every=5, n_images=12, n_views=3, seed=4, tol=TOL)
    views = sample_views(encoder, images, reference_augmentation(16, 3), 3, generator=torch.Generator().manual_seed(4))
    np.testing.assert_allclose(monitor.codes(), views, rtol=1e-5, atol=1e-6 * float(np.abs(views).max()))
    record = monitor.score(5)
    expected = score_encoder(encoder, images, n_views=3, seed=4, tol=TOL).to_dict()
    assert record["step"] == 5 and record["monitor"]["n_images"] == 12 and record["monitor"]["n_views"] == 3
    assert record["monitor"]["affine_rank"] == expected["affine_rank"]
    for name in ("ideal_score", "invariance_ratio", "rankme", "lidar", "worst_task_accuracy"):
        assert record["monitor"][name] == pytest.approx(expected[name], rel=1e-6, abs=1e-9), name
    assert record["monitor"]["augmentation"] == expected["augmentation"] == {"kind": "simclr", "strength": 1.0}


class _Noisy(nn.Module):
    """An encoder whose forward draws from every global random source (noise injection)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        noise = 1e-3 * (torch.rand(1).item() + np.random.rand() + random.random())
        return self.inner(x) + noise


def test_the_encoder_and_the_loop_are_left_as_they_were():
    encoder = _Noisy(_encoder())
    encoder.train()
    encoder.inner.features[1].eval()  # a frozen BatchNorm the loop keeps in eval mode
    modes = [m.training for m in encoder.modules()]
    weights = {k: v.clone() for k, v in encoder.state_dict().items()}
    monitor = IdealnessMonitor(encoder, _images(), every=1, n_views=2)
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    monitor(1)
    after = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(after[0], expected[0]) and np.array_equal(after[1], expected[1]) and after[2] == expected[2]
    assert [m.training for m in encoder.modules()] == modes
    assert all(torch.equal(v, weights[k]) for k, v in encoder.state_dict().items())  # BN statistics untouched


def test_uint8_and_float_images_give_the_same_codes():
    encoder, images = _encoder(), _images()
    as_uint8 = IdealnessMonitor(encoder, images, n_views=2).codes()
    as_float = IdealnessMonitor(encoder, images.float() / 255, n_views=2).codes()
    assert as_uint8.shape == (24, 12) and np.array_equal(as_uint8, as_float)
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        IdealnessMonitor(encoder, images.float())


def test_feature_maps_and_bad_settings_are_refused_with_one_clear_line():
    maps = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"returns \(24, 4, 14, 14\) outputs.*pool them first"):
        IdealnessMonitor(maps, _images(), n_views=2).score(0)
    for kwargs, message in (
        ({"n_views": 1}, "n_views must be an integer >= 2"),
        ({"every": 0}, "every must be"),
        ({"n_images": 1}, "at least 2 images"),
    ):
        with pytest.raises(ValueError, match=message):
            IdealnessMonitor(_encoder(), _images(), **kwargs)
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\)"):
        IdealnessMonitor(_encoder(), _images()[0])


def test_every_n_steps_lines_are_appended_and_nan_codes_do_not_stop_the_loop(tmp_path):
    encoder = _encoder()
    path = tmp_path / "metrics.jsonl"
    monitor = IdealnessMonitor(encoder, _images(), every=2, n_views=2, out=path)
    assert [monitor(s) is not None for s in range(1, 6)] == [False, True, False, True, False]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4] and all("ideal_score" in line["monitor"] for line in lines)
    with torch.no_grad():
        encoder.fc.weight.fill_(float("nan"))
    assert "NaN or infinite" in monitor.score(6)["monitor"]["error"]


def test_train_monitor_every_writes_scores_and_changes_nothing_else(tmp_path):
    from ssltheory.ssl.runs import read_metrics
    from ssltheory.ssl.train import TrainConfig, train

    settings = dict(
        method="simclr", data="patches", arch="small_cnn", z_dim=8, steps=5, batch_size=16, log_every=4, quiet=True
    )
    plain = train(TrainConfig.from_flags(**settings, out=str(tmp_path / "plain")))
    watched = train(TrainConfig.from_flags(**settings, monitor_every=2, out=str(tmp_path / "watched")))
    steps, monitored = monitored_records(read_metrics(watched))
    assert [r["step"] for r in monitored] == [2, 4, 5]  # every 2 steps and the last, whatever log_every
    assert [r["step"] for r in steps] == [4, 5]
    assert all(r["monitor"]["n_images"] == 64 and r["monitor"]["n_views"] == 4 for r in monitored)
    assert [r["loss"] for r in steps] == [r["loss"] for r in read_metrics(plain)]
    a, b = torch.load(plain / "encoder.pt"), torch.load(watched / "encoder.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_plot_draws_the_monitored_scores_of_a_run(tmp_path, capsys):
    from ssltheory.cli import main
    from ssltheory.ssl.train import TrainConfig, train

    run = train(
        TrainConfig.from_flags(
            method="simclr",
            data="patches",
            arch="small_cnn",
            z_dim=8,
            steps=2,
            batch_size=16,
            monitor_every=1,
            quiet=True,
            out=str(tmp_path / "run"),
        )
    )
    assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "monitor.png")
    assert (run / "monitor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bare = train(
        TrainConfig.from_flags(
            method="simclr",
            data="patches",
            arch="small_cnn",
            z_dim=8,
            steps=1,
            batch_size=16,
            quiet=True,
            out=str(tmp_path / "bare"),
        )
    )
    assert main(["plot", str(bare)]) == 2
    assert "no monitored scores; train with --monitor-every N" in capsys.readouterr().err
