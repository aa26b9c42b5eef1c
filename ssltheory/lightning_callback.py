"""A PyTorch Lightning callback that watches the ideal-ness scores while a model trains.

Optional: ``pip install 'ssltheory[lightning]'``. For a lightly or solo-learn user (their models
keep the encoder in ``self.backbone``), one line::

    from ssltheory.lightning_callback import IdealnessCallback
    trainer = lightning.Trainer(..., callbacks=[IdealnessCallback(images, every=500)])

Every ``every`` optimiser steps (``trainer.global_step``), on the main process, the backbone is
scored by `ssltheory.monitor.IdealnessMonitor` on a fixed reference set (the first ``n_images``
of ``images``, ``n_views`` views each of the reference augmentation, drawn once): the backbone's
device, modes and every random state are left as they were, so the run trains exactly as without
the callback. The scalar scores go to the trainer's logger as ``monitor/<score>`` (TensorBoard,
CSV, W&B: whatever the trainer logs to), and to ``out`` (a ``metrics.jsonl``) when given.
"""

from __future__ import annotations

from typing import Callable

import lightning as L
from torch import nn

from ssltheory.errors import InputError
from ssltheory.monitor import DEFAULT_EVERY, DEFAULT_IMAGES, DEFAULT_VIEWS, IdealnessMonitor

__all__ = ["IdealnessCallback"]


class IdealnessCallback(L.Callback):
    """Score ``pl_module``'s encoder every ``every`` steps (module docstring).

    Args:
        images: uint8 or [0, 1] float (N, C, H, W) reference images (held out from training).
        every: optimiser steps between scorings.
        encoder: the attribute of the LightningModule holding the encoder (default ``"backbone"``,
            lightly's and solo-learn's), or a function ``pl_module -> nn.Module``.
        out: a ``metrics.jsonl`` to append the records to (None: the logger only).
        n_images, n_views, mean, std, seed, tol, score_options: as in `IdealnessMonitor`.
    """

    def __init__(
        self,
        images,
        *,
        every: int = DEFAULT_EVERY,
        encoder: str | Callable = "backbone",
        out=None,
        n_images: int = DEFAULT_IMAGES,
        n_views: int = DEFAULT_VIEWS,
        mean=None,
        std=None,
        seed: int = 0,
        tol: float | None = None,
        score_options: dict | None = None,
    ):
        super().__init__()
        self.images, self.every, self.encoder, self.out = images, every, encoder, out
        self.options = dict(
            n_images=n_images, n_views=n_views, mean=mean, std=std, seed=seed, tol=tol, score_options=score_options
        )
        self.monitor: IdealnessMonitor | None = None
        self.last_step: int | None = None
        self.records: list[dict] = []

    def _encoder_of(self, pl_module) -> nn.Module:
        if callable(self.encoder):
            module = self.encoder(pl_module)
        else:
            module = getattr(pl_module, self.encoder, None)
        if not isinstance(module, nn.Module):
            raise InputError(
                f"the LightningModule has no encoder module at {self.encoder!r}; pass encoder= the "
                "attribute holding it (e.g. 'backbone') or a function pl_module -> module"
            )
        return module

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.monitor = IdealnessMonitor(
                self._encoder_of(pl_module), self.images, every=self.every, out=self.out, **self.options
            )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = int(trainer.global_step)
        if self.monitor is None or step == self.last_step or step == 0 or step % self.every:
            return  # several batches per step (gradient accumulation) score once
        self.last_step = step
        record = self.monitor.score(step)
        self.records.append(record)
        values = {
            f"monitor/{k}": float(v)
            for k, v in record["monitor"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        for logger in trainer.loggers:
            logger.log_metrics(values, step=step)
