"""The training step never waits for the host: no device-to-host read in an augmentation call or in a
``train_step`` of any registered method.

On a GPU every read of a device value on the host (``.item()``, ``float(t)``, ``if t:``, ``.tolist()``,
``nonzero``, boolean-mask indexing, ``.cpu()``, ``.numpy()``) stalls the Python thread until the
queued kernels have run, so the next step's launches cannot overlap this step's work. On the CPU
those calls are free, but they are the same Python-level calls: a ``TorchFunctionMode`` sees every
one of them, so counting them here, on the code path the GPU takes (bf16 autocast, channels-last,
fused Adam, a device generator, the trainer's :class:`NonFiniteWatch`), counts the synchronisations
a CUDA step would make. The trainer's logged steps read the loss and the logs on purpose; those
reads happen outside ``train_step`` and are not counted.
"""

from __future__ import annotations

import pytest
import torch
from test_ssl_methods import SMALL  # small widths: every method's step in well under a second
from torch.overrides import TorchFunctionMode

from ssltheory.benchmarks.gpu_check import HOST_READ_CALLS
from ssltheory.ssl.augment import build_augmentation
from ssltheory.ssl.encoders import build_encoder
from ssltheory.ssl.methods import METHODS, build_method
from ssltheory.ssl.train import NonFiniteLossError, NonFiniteWatch, StepSettings, logs_as_floats, train_step

HOST_READS = HOST_READ_CALLS  # one list of host reads, shared with the gpu check


class HostReads(TorchFunctionMode):
    """Records every host read (see ``HOST_READS``) made while active, with the call that made it."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in HOST_READS:
            self.calls.append(name)
        elif name in ("__getitem__", "__setitem__") and _has_bool_mask(args[1:2]):
            self.calls.append(f"{name}[bool mask]")
        return func(*args, **kwargs)


def _has_bool_mask(index) -> bool:
    items = index[0] if index and isinstance(index[0], tuple) else index
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


def test_the_counter_sees_each_kind_of_host_read():
    """The instrument itself: each read it must catch is caught (otherwise a 0 below proves nothing)."""
    x = torch.arange(4.0)
    reads = [
        lambda: x[0].item(),
        lambda: float(x[0]),
        lambda: bool(x[0]),
        lambda: int(x[0]),
        lambda: x.tolist(),
        lambda: x.nonzero(),
        lambda: torch.nonzero(x),
        lambda: x.cpu(),
        lambda: x.numpy(),
        lambda: x[x > 1],
        lambda: x.__setitem__(x > 1, 0.0),
        lambda: range(10)[x[1].long()],
    ]
    for read in reads:
        with HostReads() as mode:
            read()
        assert mode.calls, read
    with HostReads() as mode:  # and a plain device computation reads nothing
        torch.where(x > 1, x * 2.0, 0.0).sum().exp_()
    assert mode.calls == []


@pytest.mark.parametrize("kind", ["simclr", "coarse"])
def test_an_augmentation_call_makes_no_host_read(kind):
    aug = build_augmentation(kind, 16, 3, n_small_crops=2, small_size=8)
    images = torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator(device=images.device).manual_seed(1)  # the trainer's device generator
    aug(images, generator=generator)
    with HostReads() as mode:
        views = aug(images, generator=generator)
        aug.view(images, 1, generator=generator)  # label views' positives
    assert mode.calls == [], f"{kind}: {mode.calls}"
    assert len(views) == 4


def _setup(name: str, **options):
    torch.manual_seed(0)
    settings = StepSettings.for_device("cpu", accelerated=True)  # the CUDA branch: bf16, channels-last, fused Adam
    method = settings.prepare(build_method(name, build_encoder("small_cnn", 3, 8, 16), **{**SMALL[name], **options}))
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = settings.optimizer(params, 1e-3, 1e-6)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    g = torch.Generator().manual_seed(2)
    views = [
        torch.rand(6, 3, 8 if v < method.n_global_views else 4, 8 if v < method.n_global_views else 4, generator=g)
        for v in range(method.n_views)
    ]
    labels = torch.tensor([0, 1, 2, 0, 1, 2]) if method.needs_labels else None
    return settings, method, params, optimizer, scheduler, settings.layout(views), labels


CASES = [(name, {}) for name in sorted(METHODS)] + [
    ("swav", {"queue_length": 12, "queue_start_step": 0}),  # the queue's path too
    ("dino", {"variant": "authors"}),
    ("dino", {"freeze_last_layer_steps": 0}),
]


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}{'-' + '-'.join(o) if o else ''}" for n, o in CASES])
def test_a_train_step_of_every_method_makes_no_host_read(name, options):
    settings, method, params, optimizer, scheduler, views, labels = _setup(name, **options)
    watch = NonFiniteWatch("cpu")
    autocast = settings.autocast("cpu")
    assert optimizer.defaults["fused"]
    for step in range(3):  # the first step (optimiser state created) counted too
        with HostReads() as mode:
            loss, logs, _ = train_step(
                method, views, labels, optimizer, scheduler, params, step, 10, autocast=autocast, watch=watch
            )
        assert mode.calls == [], f"{name} step {step}: {mode.calls}"
    watch.check()  # the log step: reads, and finds every loss finite
    record = logs_as_floats(logs)
    assert all(isinstance(v, float) for v in record.values()) and loss.isfinite()


def test_a_non_finite_step_is_skipped_on_the_device_and_reported_at_the_check():
    settings, method, params, optimizer, scheduler, views, labels = _setup("simclr")
    watch = NonFiniteWatch("cpu")
    autocast = settings.autocast("cpu")
    train_step(method, views, labels, optimizer, scheduler, params, 0, 10, autocast=autocast, watch=watch)
    before = [p.detach().clone() for p in params]
    steps_before = [optimizer.state[p]["step"].clone() for p in params]
    bad = [v.clone() for v in views]
    bad[0][0, 0, 0, 0] = float("nan")
    train_step(method, bad, labels, optimizer, scheduler, params, 1, 10, autocast=autocast, watch=watch)
    assert all(torch.equal(a, p) for a, p in zip(before, params))  # fused Adam skipped the update (found_inf)
    assert all(torch.equal(a, optimizer.state[p]["step"]) for a, p in zip(steps_before, params))
    assert not hasattr(optimizer, "found_inf")  # not left behind for a later step
    train_step(method, views, labels, optimizer, scheduler, params, 2, 10, autocast=autocast, watch=watch)
    assert any(not torch.equal(a, p) for a, p in zip(before, params))  # a finite step updates again
    with pytest.raises(NonFiniteLossError, match="loss became nan at step 1"):
        watch.check()


def test_the_step_without_a_watch_reads_the_loss_once():
    """Control: the same step checked on the host (``watch=None``, the public default) is seen reading."""
    settings, method, params, optimizer, scheduler, views, labels = _setup("dissl")
    with HostReads() as mode:
        train_step(method, views, labels, optimizer, scheduler, params, 0, 10, autocast=settings.autocast("cpu"))
    assert mode.calls == ["item"]
