"""Global quantities under torch.distributed (a script launched with torchrun).

Each rank holds its shard of the global batch, and the global loss is the mean of the ranks'
losses (DistributedDataParallel's convention, equal shards). So the global gradient and every
Hessian-vector product are the mean over ranks of the local ones, and a loss value is the mean of
the local values. Every rank runs the same measurements with the same random vectors (seeded
from the plan), so the collectives below line up across ranks; only rank 0 writes events.
Without an initialized process group every function is the identity.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict

import torch


def _group() -> Any:
    try:
        import torch.distributed as dist
    except Exception:  # a torch built without distributed support
        return None
    return dist if dist.is_available() and dist.is_initialized() else None


def world_size() -> int:
    dist = _group()
    return dist.get_world_size() if dist else 1


def rank() -> int:
    dist = _group()
    if dist:
        return dist.get_rank()
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def mean(t: torch.Tensor) -> torch.Tensor:
    """The mean over ranks of a tensor of the same shape on every rank (a new tensor)."""
    dist = _group()
    if not dist or dist.get_world_size() == 1:
        return t
    out = t.detach().clone().contiguous()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def mean_float(x: float) -> float:
    dist = _group()
    if not dist or dist.get_world_size() == 1:
        return x
    return float(mean(torch.tensor([x], dtype=torch.float64, device=_device())).item())


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, rank 0's first (equal row counts on every rank)."""
    dist = _group()
    if not dist or dist.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=0)


def _device() -> torch.device:
    """Where the process group's collectives run (NCCL needs CUDA tensors)."""
    dist = _group()
    if dist and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def report_rank_error(fields: Dict[str, Any]) -> None:
    """On ranks other than 0 events are not written; an error still reaches the engine, as one
    marked line on stderr (the engine turns it into the run's error, naming the rank)."""
    try:
        sys.__stderr__.write("regscope-rank-error " + json.dumps({"rank": rank(), **fields}, default=str) + "\n")
        sys.__stderr__.flush()
    except (OSError, ValueError, AttributeError):
        pass
