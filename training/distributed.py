"""What both trainers need to run as one process, on one GPU, or under ``torchrun`` on many.

``RANK`` in the environment (``torchrun`` sets it, with ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``) turns DistributedDataParallel on: NCCL on GPUs, gloo on CPUs.
Without it the same code runs with world size 1 (nanoGPT's rule: no second code path).

* :func:`setup` / :func:`teardown` — the process group, and ``cuda.set_device(LOCAL_RANK)`` so
  each process owns one GPU (NCCL otherwise piles every rank's buffers onto GPU 0);
* :func:`seed` — the same initial weights on every rank, then a rank-offset seed so dropout masks
  differ between ranks (identical masks would waste the extra ranks' samples);
* :func:`save_atomic` — rank 0 writes a checkpoint to a temporary file and renames it, so a
  job killed mid-write leaves the previous checkpoint whole;
* :func:`reduce_sums` — one all-reduce for a whole set of metric sums, called at log intervals
  only: reading a GPU scalar (``.item()``) waits for the device, so the step never does it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """Where this process stands: its rank among ``world``, its node-local rank, its device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_master(self) -> bool:
        """Rank 0 alone logs, evaluates, checkpoints and exports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1 or dist.is_initialized()


def setup() -> Dist:
    """Join the process group when launched by ``torchrun`` (``RANK`` set); else a lone process
    on the first GPU, or the CPU."""
    cuda = torch.cuda.is_available()
    if "RANK" not in os.environ:
        return Dist(device=torch.device("cuda", 0) if cuda else torch.device("cpu"))
    local = int(os.environ.get("LOCAL_RANK", 0))
    if cuda:
        torch.cuda.set_device(local)  # before the NCCL group, so each rank binds its own GPU
    dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), local,
                torch.device("cuda", local) if cuda else torch.device("cpu"))


def teardown(ctx: Dist) -> None:
    """Wait for every rank (rank 0 may still be writing its checkpoint), then leave the group."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def seed(base: int, ctx: Dist | None = None) -> None:
    """``torch.manual_seed(base + rank)``; call it with ``ctx=None`` before building the model
    (the same weights everywhere) and with ``ctx`` after (different dropout per rank)."""
    torch.manual_seed(base + (ctx.rank if ctx else 0))


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def reduce_sums(sums: Mapping[str, torch.Tensor | float], ctx: Dist) -> dict[str, float]:
    """Sum each metric (a scalar tensor, or a number counted on the host) over all ranks with
    one all-reduce, and read the results with one device sync."""
    keys = list(sums)
    flat = torch.stack([torch.as_tensor(sums[k], dtype=torch.float64, device=ctx.device).reshape(())
                        for k in keys]) if keys else torch.zeros(0, dtype=torch.float64)
    if ctx.distributed and keys:
        dist.all_reduce(flat)
    return dict(zip(keys, flat.tolist()))
