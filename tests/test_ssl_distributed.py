"""Distributed losses equal the single-process losses on the same global batch (2 CPU processes, gloo).

Claim (ssltheory/ssl/losses/distributed.py): each process returns the mean over its local rows;
the effective objective, the mean of the W local losses (what DistributedDataParallel's gradient
averaging optimises), equals the single-process loss on the concatenated batch; and the gradient a
process receives for its own inputs, divided by W (DDP's averaging), equals the single-process
gradient for those rows. This holds only if negatives are gathered *with* gradients (SimCLR,
CISSL) and DISSL's marginal pbar is all-reduced with gradient; DINO's centre must be the
all-reduced mean. Everything runs on 127.0.0.1 with a free port.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ssltheory.ssl.losses import BarlowTwinsLoss, CISSLLoss, DINOLoss, DISSLLoss, NTXentLoss, SwAVLoss

WORLD = 2
LOCAL_BATCH = 3
DIM = 5
N_CODES = 7


def global_inputs() -> dict[str, list[torch.Tensor]]:
    """The global batch of every case: lists of (WORLD * LOCAL_BATCH, dim) tensors, rows ordered by rank."""
    g = torch.Generator().manual_seed(1234)
    rows = WORLD * LOCAL_BATCH
    return {
        "simclr": [torch.randn(rows, DIM, generator=g) for _ in range(2)],  # z_a, z_b
        "cissl": [torch.randn(rows, DIM, generator=g) for _ in range(4)],  # s_a, s_b, t_a, t_b
        "dissl": [2 * torch.randn(rows, N_CODES, generator=g) for _ in range(4)],  # s_0, s_1, t_0, t_1
        "dino": [torch.randn(rows, N_CODES, generator=g) for _ in range(4)],  # s_0, s_1, t_0, t_1
        "swav": [torch.randn(rows, N_CODES, generator=g).tanh() for _ in range(3)],  # 2 global crops + 1 small
        "barlow": [torch.randn(rows, DIM, generator=g) for _ in range(2)],  # z_a, z_b
    }


def run_case(name: str, xs: list[torch.Tensor], distributed: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Loss of case `name` on inputs xs; returns (loss, DINO centre after the update or None)."""
    if name == "simclr":
        return NTXentLoss(temperature=0.07, distributed=distributed)(xs[0], xs[1])[0], None
    if name == "cissl":
        return CISSLLoss(temperature=0.07, distributed=distributed)(*xs)[0], None
    if name == "dissl":
        return DISSLLoss(distributed=distributed)(xs[:2], xs[2:])[0], None
    if name == "swav":  # Sinkhorn's sums all-reduced
        return SwAVLoss(epsilon=0.3, distributed=distributed)(xs, n_global=2)[0], None
    if name == "barlow":  # batch statistics and the cross-correlation all-reduced
        return BarlowTwinsLoss(distributed=distributed)(*xs)[0], None
    loss_fn = DINOLoss(N_CODES, center_momentum=0.9, distributed=distributed)
    loss_fn.center.fill_(0.25)
    loss = loss_fn(xs[:2], xs[2:], teacher_temperature=0.04)[0]
    return loss, loss_fn.center.clone()


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    if Path("/sys/class/net/lo").exists():
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback only
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
        timeout=datetime.timedelta(seconds=60),
    )  # fmt: skip
    try:
        results = {}
        for name, full in global_inputs().items():
            xs = [x[rank * LOCAL_BATCH : (rank + 1) * LOCAL_BATCH].clone().requires_grad_(True) for x in full]
            loss, center = run_case(name, xs, distributed=True)
            loss.backward()
            results[name] = {
                "loss": loss.detach(),
                "grads": [torch.zeros_like(x) if x.grad is None else x.grad for x in xs],
                "center": center,
            }
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_results(tmp_path_factory) -> list[dict]:
    out_dir = tmp_path_factory.mktemp("dist")
    context = mp.spawn(_worker, args=(_free_port(), str(out_dir)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            pytest.fail("the 2-process gloo run did not finish within 120 s")
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def _single(name: str):
    xs = [x.clone().requires_grad_(True) for x in global_inputs()[name]]
    loss, center = run_case(name, xs, distributed=False)
    loss.backward()
    return loss.detach(), [torch.zeros_like(x) if x.grad is None else x.grad for x in xs], center


@pytest.mark.parametrize("name", ["simclr", "cissl", "dissl", "dino", "swav", "barlow"])
def test_distributed_loss_and_input_gradients_equal_single_process(distributed_results, name):
    loss, grads, center = _single(name)
    ranks = [r[name] for r in distributed_results]
    assert torch.stack([r["loss"] for r in ranks]).mean().item() == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
    for rank, r in enumerate(ranks):
        rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        for k, (g_dist, g_single) in enumerate(zip(r["grads"], grads)):
            assert torch.allclose(g_dist / WORLD, g_single[rows], rtol=1e-4, atol=1e-6), (name, rank, k)
    if name == "dino":  # the centre is the all-reduced mean of every process's teacher rows
        for r in ranks:
            assert torch.allclose(r["center"], center, atol=1e-6)


@pytest.mark.parametrize("name", ["simclr", "cissl", "dissl", "swav", "barlow"])
def test_purely_local_losses_would_differ(name):
    # Sanity for the claim above: without the collectives the per-process losses are not the global one.
    loss, _, _ = _single(name)
    full = global_inputs()[name]
    local = [
        run_case(name, [x[r * LOCAL_BATCH : (r + 1) * LOCAL_BATCH] for x in full], distributed=False)[0]
        for r in range(WORLD)
    ]
    assert abs(torch.stack(local).mean().item() - loss.item()) > 1e-3
