"""SwAV, Barlow Twins and SimSiam as methods: the heads of their papers, their schedules, the
registry, and training by the one loop on every dataset loader (tiny fixtures).

Default suite: each method's step contract and schedules, a short training run of each on the
patch data, and every dataset loader trained by one of the three in turn. The full method x
dataset matrix is `slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_ssl_data import cifar_tree, mnist_tree, save_png
from test_ssl_methods import assert_detached_logs

from ssltheory.ssl.config import TrainConfig
from ssltheory.ssl.datasets import DATASETS
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.losses.swav import sinkhorn_knopp
from ssltheory.ssl.methods import build_method, default_options, options_from_flags
from ssltheory.ssl.train import load_run, train

NEW = ("swav", "barlow", "simsiam")
SMALL = {
    "swav": {"hidden_dim": 16, "out_dim": 8, "n_prototypes": 12},
    "barlow": {"hidden_dim": 16, "out_dim": 16},
    "simsiam": {"hidden_dim": 16, "out_dim": 16, "pred_dim": 8},
}


def _method(name: str, **options):
    torch.manual_seed(0)
    return build_method(name, build_encoder("small_cnn", 3, 8, 8), **{**SMALL[name], **options})


def _views(n_views: int, batch: int = 6, n_global: int = 2):
    g = torch.Generator().manual_seed(1)
    return [
        torch.randn(batch, 3, 8 if v < n_global else 4, 8 if v < n_global else 4, generator=g) for v in range(n_views)
    ]


@pytest.mark.parametrize("name", NEW)
def test_step_returns_float32_scalar_detached_logs_and_trains_the_encoder(name):
    method = _method(name)
    loss, logs = method.training_step(_views(method.n_views), None, 0, 10)
    assert loss.dtype == torch.float32 and loss.ndim == 0 and torch.isfinite(loss)
    assert_detached_logs(logs)
    assert logs["loss"] == pytest.approx(loss.item())
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in method.encoder.parameters())


def test_defaults_are_the_papers_heads():
    d = default_options
    assert (d("swav")["n_prototypes"], d("swav")["hidden_dim"], d("swav")["out_dim"]) == (3000, 2048, 128)
    assert (d("swav")["temperature"], d("swav")["epsilon"], d("swav")["sinkhorn_iterations"]) == (0.1, 0.05, 3)
    assert (d("barlow")["hidden_dim"], d("barlow")["out_dim"], d("barlow")["lambda_offdiag"]) == (8192, 8192, 0.0051)
    assert (d("simsiam")["hidden_dim"], d("simsiam")["out_dim"], d("simsiam")["pred_dim"]) == (2048, 2048, 512)
    barlow = build_method("barlow", build_encoder("small_cnn", 3, 8, 8), hidden_dim=32, out_dim=24)
    linears = [m for m in barlow.projector if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is None) for m in linears] == [
        (8, 32, True),
        (32, 32, True),
        (32, 24, True),
    ]
    simsiam = _method("simsiam")
    assert isinstance(simsiam.projector[-1], torch.nn.BatchNorm1d) and not simsiam.projector[-1].affine
    assert [m.out_features for m in simsiam.predictor if isinstance(m, torch.nn.Linear)] == [8, 16]


def test_swav_multicrop_views_and_frozen_prototypes():
    method = _method("swav", n_views=6, freeze_prototypes_steps=2)
    assert method.n_views == 6 and method.n_global_views == 2
    for step, frozen in ((0, True), (2, False)):
        method.zero_grad()
        loss, logs = method.training_step(_views(6), None, step, 100)
        loss.backward()
        assert logs["prototypes_frozen"] == float(frozen)
        assert (method.prototypes.weight.grad is None) == frozen
    assert method.prototypes_frozen_at(0, 100) and not _method("swav").prototypes_frozen_at(1, 100)  # 1/100 of the run


def test_swav_queue_fills_from_its_start_step_and_joins_sinkhorn():
    method = _method("swav", queue_length=9, queue_start_step=1)
    _, logs = method.training_step(_views(2), None, 0, 10)
    assert "queue_rows" not in logs and method.queue.rows(0).shape[0] == 0
    for step, rows in ((1, 6.0), (2, 9.0)):
        _, logs = method.training_step(_views(2), None, step, 10)
        assert logs["queue_rows"] == rows
    # the queued rows are the normalised projections of the global crops
    assert torch.allclose(method.queue.rows(0).norm(dim=1), torch.ones(9), atol=1e-5)


def test_swav_codes_see_the_queue_rows():
    # With the queue, Sinkhorn equipartitions batch + queue: the batch rows' codes change.
    scores = torch.tensor([[0.9, -0.9], [0.8, -0.8]])
    queue = torch.tensor([[-0.9, 0.9], [-0.8, 0.8]])
    alone = sinkhorn_knopp(scores, epsilon=0.05, iterations=3)
    joint = sinkhorn_knopp(torch.cat([scores, queue]), epsilon=0.05, iterations=3)[:2]
    assert alone[:, 0].min() < 0.6 < joint[:, 0].min()


def test_simsiam_targets_get_gradient_only_through_the_predictor_branch():
    method = _method("simsiam")
    z = torch.randn(12, 16, generator=torch.Generator().manual_seed(2), requires_grad=True)  # projections of 2 views
    loss, _ = method.loss(*method.predictor(z).chunk(2), *z.chunk(2))
    (with_stop,) = torch.autograd.grad(loss, z)
    target = z.detach()  # the targets as constants: only h(z) carries the gradient
    (through_predictor,) = torch.autograd.grad(method.loss(*method.predictor(z).chunk(2), *target.chunk(2))[0], z)
    assert torch.allclose(with_stop, through_predictor, atol=1e-7)
    p_a, p_b = method.predictor(z).chunk(2)
    z_a, z_b = z.chunk(2)
    no_stop = -(torch.cosine_similarity(p_a, z_b).mean() + torch.cosine_similarity(p_b, z_a).mean()) / 2
    (without_stop,) = torch.autograd.grad(no_stop, z)
    assert not torch.allclose(with_stop, without_stop, atol=1e-4)


def test_train_flags_reach_the_new_methods():
    options = options_from_flags("swav", {"n_codes": 20, "proj_dim": 6, "hidden_dim": 10})
    assert options == {"n_prototypes": 20, "out_dim": 6, "hidden_dim": 10}
    assert options_from_flags("barlow", {"proj_dim": 6}) == {"out_dim": 6}
    with pytest.raises(ValueError, match="n_small_crops"):
        TrainConfig(method="barlow", steps=2, n_small_crops=2).validate()


# ---------------------------------------------------------------- the one training loop


def _config(tmp_path: Path, method: str, data: str, data_dir=None, **extra) -> TrainConfig:
    return TrainConfig(
        method=method,
        data=data,
        data_dir=None if data_dir is None else str(data_dir),
        arch="small_cnn",
        z_dim=8,
        steps=3,
        batch_size=8,
        aug_strength=0.5,
        log_every=1,
        quiet=True,
        out=str(tmp_path / f"run_{method}_{data}"),
        method_options=dict(SMALL[method]),
        **extra,
    )


def _data_dir(tmp_path: Path, data: str):
    """A tiny on-disk fixture for the loaders that read files (None for the embedded data)."""
    root = tmp_path / f"data_{data}"
    if data == "mnist":
        mnist_tree(root, gz=False, n_train=40, n_test=20)
    elif data == "cifar10":
        cifar_tree(root, per_batch=6)
    elif data == "tinyimagenet":
        rng = np.random.default_rng(2)
        (root / "val" / "images").mkdir(parents=True)
        (root / "wnids.txt").write_text("n001\nn002\n")
        (root / "words.txt").write_text("n001\tgoldfish\nn002\ttabby cat\n")
        lines = []
        for w in ("n001", "n002"):
            for i in range(8):
                save_png(
                    root / "train" / w / "images" / f"{w}_{i}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
                )
            for i in range(2):
                save_png(
                    root / "val" / "images" / f"{w}_val_{i}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
                )
                lines.append(f"{w}_val_{i}.png\t{w}\t0\t0\t10\t10")
        (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    elif data == "folder":
        rng = np.random.default_rng(3)
        for c in ("a", "b"):
            for i in range(12):
                save_png(root / c / f"{i}.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    else:
        return None
    return root


def _check_trained(run_dir: Path) -> None:
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics][-1] == 3 and all(np.isfinite(m["loss"]) for m in metrics)
    encoder, config = load_run(run_dir)
    assert config["total_steps"] == 3


@pytest.mark.parametrize("method", NEW)
def test_each_new_method_trains_on_patches(tmp_path, method):
    extra = {"n_small_crops": 2} if method == "swav" else {}
    _check_trained(train(_config(tmp_path, method, "patches", **extra)))


@pytest.mark.parametrize("data", sorted(DATASETS))
def test_every_dataset_loader_trains_a_new_method(tmp_path, data):
    method = NEW[sorted(DATASETS).index(data) % len(NEW)]  # every loader, and every method, at least once
    _check_trained(train(_config(tmp_path, method, data, _data_dir(tmp_path, data))))


@pytest.mark.slow
@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("method", NEW)
def test_every_new_method_trains_on_every_dataset(tmp_path, method, data):
    _check_trained(train(_config(tmp_path, method, data, _data_dir(tmp_path, data))))
