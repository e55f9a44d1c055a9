"""Data-parallel voice training over processes that `torchrun` starts: one per GPU, or several on CPU with gloo.

    torchrun --nproc-per-node 2 .venv/bin/s2f run train_voice [--set ...]

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK in each process; with WORLD_SIZE 1 (or none) nothing here does
anything. Every process reads the same stream of train batches (the same seed, shuffle and crops) and trains on
its share of each batch (examples rank, rank + world, ...), each with the augmentation that example would get in
one process; DistributedDataParallel averages the gradients, so a step sees the whole batch as one process does.
What differs: batch norm's statistics are each process's own half of the batch on CPU (SyncBatchNorm, which
shares them, runs only on GPUs, and is used there), and dropout draws each process's masks. Process 0 writes the
checkpoints, logs and the model; every process scores val (the same model, the same result).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local: int = 0  # rank on this machine: which GPU

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> list[int]:
        """This process's positions in a batch of n: rank, rank + world, ..."""
        return list(range(self.rank, n, self.world))


def ranks() -> Ranks:
    """From torchrun's environment (one process without it)."""
    env = os.environ
    return Ranks(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def start(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the process group (NCCL on GPUs, gloo on CPU) when there is more than one process; the device this
    process trains on (its own GPU)."""
    r = ranks()
    if r.world == 1:
        return r, device
    if device.type == "cuda":
        torch.cuda.set_device(r.local)
        device = torch.device("cuda", r.local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return r, device


def parallel(model: nn.Module, r: Ranks, device: torch.device) -> nn.Module:
    """What a training step calls: the model itself in one process, else wrapped in DistributedDataParallel (with
    batch norm shared across GPUs)."""
    if r.world == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def total(value: float, r: Ranks) -> float:
    """The sum of a number over all processes."""
    if r.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item())


def barrier(r: Ranks) -> None:
    if r.world > 1:
        dist.barrier()
