"""Cross-process collectives for the SSL losses, with the gradients the losses need.

A loss that looks beyond its own process's rows needs two collectives [code: SimCLR, DINO and
the DISSL paper's public implementation all do this]:

- `gather_with_grad(x)`: the contrastive losses (SimCLR, CISSL) compare each local row with the
  rows of *every* process. The gathered copy must carry gradients back to the process that owns
  each row, otherwise the negatives of other processes would be constants and the objective would
  differ from the single-process one.
- `all_reduce_sum_with_grad(x)` / `global_mean_with_grad(rows)`: DISSL's marginal
  pbar = mean of the teacher's distributions over the *global* batch (THEORY.md T7), whose
  entropy term must push gradients into every process's teacher.
- `global_mean_no_grad(rows)`: DINO's centre, a running mean of teacher outputs over the global
  batch, updated without gradient.

Gradient convention (the one torch's DistributedDataParallel assumes). Each process returns the
mean of its *local* rows; DDP averages parameter gradients over the W processes, so the
effective objective is the mean of the W local losses, which equals the single-process loss on
the global batch. The backward of both collectives below *sums* the incoming gradients over
processes: process r receives d(sum_r' L_r')/d x_r = W * d(mean_r' L_r')/d x_r, and DDP's
division by W then yields exactly the single-process gradient. tests/test_ssl_distributed.py
checks this on 2 CPU processes (gloo).

Whether to use them is an explicit option of each loss, `distributed` in {"auto", True, False},
never a global: see `resolve_distributed`.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ssltheory.errors import InputError

__all__ = [
    "resolve_distributed",
    "check_distributed_option",
    "world_size",
    "rank",
    "gather_with_grad",
    "all_reduce_sum_with_grad",
    "global_mean_with_grad",
    "global_mean_no_grad",
]


def resolve_distributed(option: str | bool) -> bool:
    """Decide whether a loss should use the collectives of this module.

    Args:
        option ("auto", True or False):
            "auto": yes exactly when torch.distributed is initialised with more than one process.
            True: yes, and torch.distributed must be initialised (ValueError otherwise).
            False: never (each process computes a purely local loss).
    """
    if isinstance(option, str):
        if option != "auto":
            raise InputError(f"distributed must be 'auto', True or False, got {option!r}")
        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    if option is True:
        if not (dist.is_available() and dist.is_initialized()):
            raise InputError(
                "distributed=True but torch.distributed is not initialised (call init_process_group first)"
            )
        return True
    if option is False:
        return False
    raise InputError(f"distributed must be 'auto', True or False, got {option!r}")


def check_distributed_option(option: str | bool) -> str | bool:
    """Validate the value of a `distributed` constructor argument without resolving it yet."""
    valid = option == "auto" if isinstance(option, str) else isinstance(option, bool)
    if not valid:
        raise InputError(f"distributed must be 'auto', True or False, got {option!r}")
    return option


def world_size() -> int:
    """Number of processes (1 when torch.distributed is not initialised)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's index (0 when torch.distributed is not initialised)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0; backward sums the gradient over processes and keeps this one's slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.n_rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.n_rows
        return grad[start : start + ctx.n_rows]


class _AllReduceSumWithGrad(torch.autograd.Function):
    """y = sum over processes of x (on every process); dL/dx = sum over processes of dL/dy."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.contiguous().clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def _check_equal_rows(x: torch.Tensor) -> None:
    """all_gather needs the same number of rows on every process; say so instead of hanging."""
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.empty_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, n)
    sizes = [int(s.item()) for s in sizes]
    if len(set(sizes)) != 1:
        raise InputError(f"every process must hold the same number of rows to gather, got {sizes} (use drop_last)")


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` (n, ...) from all W processes in rank order -> (W * n, ...), keeping gradients.

    Rows [r * n, (r + 1) * n) are process r's. Every process must pass the same n.
    """
    _check_equal_rows(x)
    return _GatherWithGrad.apply(x)


def all_reduce_sum_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over processes (same shape as x), differentiable as described in the module docstring."""
    return _AllReduceSumWithGrad.apply(x)


def global_mean_with_grad(rows: torch.Tensor, distributed: bool) -> torch.Tensor:
    """Mean over the rows of the global batch: rows (n, ...) per process -> (...), with gradient.

    With distributed False this is rows.mean(0).
    """
    if not distributed:
        return rows.mean(dim=0)
    total = all_reduce_sum_with_grad(rows.sum(dim=0))
    count = torch.full((), float(rows.shape[0]), device=rows.device, dtype=rows.dtype)  # a fill, no host copy
    dist.all_reduce(count, op=dist.ReduceOp.SUM)
    return total / count


@torch.no_grad()
def global_mean_no_grad(rows: torch.Tensor, distributed: bool) -> torch.Tensor:
    """Mean over the rows of the global batch without gradient (DINO's centre): (n, ...) -> (...)."""
    if not distributed:
        return rows.mean(dim=0)
    total = rows.sum(dim=0)
    count = torch.full((), float(rows.shape[0]), device=rows.device, dtype=rows.dtype)  # a fill, no host copy
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    dist.all_reduce(count, op=dist.ReduceOp.SUM)
    return total / count
