"""Data-parallel training that works unchanged under ``torchrun`` (DDP).

``torchrun --nproc_per_node N ...`` sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; :func:`init_distributed` starts the process group only when WORLD_SIZE is set
(and > 1), with NCCL when CUDA is available and gloo on CPU. Without it, everything runs as a
single process and the helpers are no-ops. Only rank 0 writes files (:attr:`DistInfo.is_main`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

COLLECTIVE_TIMEOUT_H = 4
"""Hours a collective (e.g. the barrier while rank 0 builds the frame cache) may wait."""


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``; ``local_rank`` picks the GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self) -> torch.device:
        """The device this process trains on (its GPU under CUDA, else the CPU)."""
        if torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


def init_distributed() -> DistInfo:
    """Start the process group when launched by torchrun (WORLD_SIZE > 1); else single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        # long timeout: rank 0 may build a data cache (minutes to hours) while the others wait
        dist.init_process_group(backend=backend, rank=info.rank, world_size=world,
                                timeout=timedelta(hours=COLLECTIVE_TIMEOUT_H))
    return info


def wrap_model(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else the model itself."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [info.local_rank] if torch.cuda.is_available() else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP wrapper."""
    return getattr(model, "module", model)


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    """Sum a few numbers over all ranks (e.g. loss sums and counts for epoch metrics; with zeros
    from all but rank 0, rank 0's numbers on every rank). float64: integers up to 2**53 are exact."""
    if not info.enabled:
        return list(values)
    # NCCL reduces GPU tensors only; gloo (CPU) takes CPU tensors
    dev = info.device() if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def broadcast_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to all ranks.

    DDP keeps parameters identical (gradients are averaged) and broadcasts buffers at the start
    of each forward, so after the last forward of an epoch the running statistics differ per
    rank; call this before evaluating or saving so every rank holds the same model.
    """
    if not info.enabled:
        return
    for b in unwrap(model).buffers():
        dist.broadcast(b.data, src=0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def main_rank_first(info: DistInfo, build: Callable[[], T]) -> T:
    """``build()`` on rank 0 first, then, after a barrier, on the other ranks: rank 0 writes what is
    shared (data caches) while the others wait, and they then read it instead of building it again.
    Without DDP simply ``build()``."""
    if info.is_main:
        out = build()
    barrier(info)
    if not info.is_main:
        out = build()
    return out


def cleanup(info: DistInfo) -> None:
    """Destroy the process group if this module started one."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
