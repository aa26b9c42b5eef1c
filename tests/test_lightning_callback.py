"""The Lightning callback (ssltheory/lightning_callback.py) inside a real ``lightning.Trainer`` on the CPU.

Needs the optional extra (``pip install 'ssltheory[lightning]'``; ``make install`` installs it, so
CI runs this). Oracles: `score_encoder` on the final weights; the same seeded run without the
callback (final weights bit for bit: the callback restores every random state).
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

L = pytest.importorskip("lightning", reason="the optional extra: pip install 'ssltheory[lightning]'")

from ssltheory.lightning_callback import IdealnessCallback  # noqa: E402
from ssltheory.ssl.views import score_encoder  # noqa: E402

TOL = 0.01


class TinyModel(L.LightningModule):
    """A lightly-style module: ``self.backbone`` plus a projection head, a two-view consistency loss."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(8, 4)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        x = x.float() / 255
        noisy = x + 0.1 * torch.randn_like(x)  # draws from the global torch generator, like augmentations do
        return (self.head(self.backbone(x)) - self.head(self.backbone(noisy))).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(tmp_path, name, callbacks):
    L.seed_everything(0, verbose=False)
    images = torch.randint(0, 256, (64, 3, 16, 16), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=16, shuffle=True)
    model = TinyModel()
    trainer = L.Trainer(
        max_steps=4,
        accelerator="cpu",
        devices=1,
        logger=L.pytorch.loggers.CSVLogger(tmp_path / name),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    trainer.fit(model, loader)
    return model, trainer


def test_the_callback_scores_inside_a_real_trainer_and_changes_nothing_else(tmp_path):
    reference = torch.randint(0, 256, (12, 3, 16, 16), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    callback = IdealnessCallback(reference, every=2, n_views=3, tol=TOL, out=tmp_path / "metrics.jsonl")
    watched, trainer = _fit(tmp_path, "watched", [callback])
    plain, _ = _fit(tmp_path, "plain", [])
    assert all(torch.equal(a, b) for a, b in zip(watched.state_dict().values(), plain.state_dict().values()))
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4]
    expected = score_encoder(watched.backbone, reference, n_views=3, tol=TOL).to_dict()
    for name in ("ideal_score", "rankme", "invariance_ratio"):  # the same views: equal up to float32 summation order
        assert lines[-1]["monitor"][name] == pytest.approx(expected[name], rel=1e-6, abs=1e-9), name
    logged = (tmp_path / "watched" / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "monitor/ideal_score" in logged.splitlines()[0]


def test_a_module_without_the_encoder_attribute_is_told_what_to_pass(tmp_path):
    callback = IdealnessCallback(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), encoder="encoder")
    with pytest.raises(ValueError, match="no encoder module at 'encoder'; pass encoder="):
        _fit(tmp_path, "bad", [callback])
