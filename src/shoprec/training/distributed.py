"""Data parallel training under `torchrun`, kept out of model code.

Launch any training script with `torchrun --nproc_per_node N script.py`: torchrun sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT, `setup()` joins the process group (gloo on CPU, nccl on CUDA),
and the trainer wraps the module in `DistributedDataParallel`, gives each rank its share of every global
batch and lets only rank 0 write checkpoints and logs. Without those variables everything runs in one
process and this module does nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from shoprec.exceptions import ConfigError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank r of `world_size`, training on `device`."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ


def setup(device: str = "cpu") -> DistContext:
    """Join the process group when launched by torchrun (or use one already initialised)."""
    wanted = torch.device(device)
    if wanted.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available; use device='cpu'")
    if not dist.is_initialized() and launched_by_torchrun():
        dist.init_process_group(backend="nccl" if wanted.type == "cuda" else "gloo")
    if not dist.is_initialized():
        return DistContext(device=wanted)
    if wanted.type == "cuda" and wanted.index is None:
        wanted = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(wanted)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), device=wanted)


def wrap(module: nn.Module, ctx: DistContext) -> nn.Module:
    """The module itself in one process; a DDP wrapper (gradients averaged across ranks) otherwise.

    nccl cannot all-reduce sparse gradients, so on CUDA sparse embedding tables are switched to dense
    gradients before wrapping (the optimizer then updates them densely).
    """
    if not ctx.distributed:
        return module
    if ctx.device.type == "cuda":
        for m in module.modules():
            if isinstance(m, nn.Embedding | nn.EmbeddingBag):
                m.sparse = False
        return DistributedDataParallel(module, device_ids=[ctx.device])
    return DistributedDataParallel(module)


def broadcast_metrics(metrics: dict[str, float], names: list[str], ctx: DistContext) -> dict[str, float]:
    """Rank 0's validation metrics on every rank, so all ranks take the same early-stopping decision."""
    if not ctx.distributed:
        return metrics
    values = torch.tensor([metrics.get(n, float("nan")) for n in names], dtype=torch.float64, device=ctx.device)
    dist.broadcast(values, src=0)
    return dict(zip(names, values.tolist(), strict=True))


def all_reduce_mean(value: float, ctx: DistContext) -> float:
    """Mean of a per-rank number (e.g. the epoch loss) over all ranks."""
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.item() / ctx.world_size
