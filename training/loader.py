"""The data loader both trainers use: torchdata's ``StatefulDataLoader`` over a map-style dataset,
fed by a rank-aware batch sampler whose epochs are exact (``docs/training-at-scale.md``).

An :class:`EpochBatches` sampler is a pure function of ``(seed, epoch)``: each epoch is one list
of *global* batches, the same on every rank; global batch ``j`` goes to rank ``j % world``, and
the last ``G mod world`` global batches of an epoch (those that would leave ranks unequal) are
dropped, so every rank takes the same number of full batches. The sampler runs in the main
process; workers only fetch the batches it names (and in order), so the batches a rank sees do
not depend on ``num_workers`` at all. Randomness inside a batch (flips, augmentation) is drawn
from ``(seed, epoch, batch.number)``, so it does not depend on which worker fetched it.

The loader's position is the sampler's ``(epoch, batch)``; ``StatefulDataLoader.state_dict()``
stores it (taken after the last batch handed to the training loop, not after the prefetched
ones), and :func:`restore` puts it back, or, when the worker count changed (which the engine
refuses to restore), seeks the sampler to the number of batches already consumed: the same
place, since the sequence does not depend on workers.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader


@dataclass(frozen=True)
class Batch:
    """One batch as the sampler names it: the epoch, its global number in the epoch (the same
    whichever rank or worker takes it) and the dataset indices."""

    epoch: int
    number: int
    indices: np.ndarray


class EpochBatches(ABC):
    """An endless, resumable stream of one rank's batches, epoch after epoch."""

    def __init__(self, rank: int = 0, world: int = 1):
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside world {world}")
        self.rank, self.world = rank, world
        self.epoch, self.batch = 0, 0

    @property
    @abstractmethod
    def global_batches(self) -> int:
        """Global batches in every epoch (before dealing them to ranks)."""

    @abstractmethod
    def global_batch(self, epoch: int, number: int) -> np.ndarray:
        """The dataset indices of global batch ``number`` of ``epoch``."""

    @property
    def batches_per_epoch(self) -> int:
        """Batches each rank takes per epoch."""
        return self.global_batches // self.world

    def __iter__(self) -> Iterator[Batch]:
        if self.batches_per_epoch == 0:
            raise ValueError("an epoch holds fewer batches than ranks: lower the batch or world size")
        while True:
            while self.batch < self.batches_per_epoch:
                number = self.batch * self.world + self.rank
                self.batch += 1
                yield Batch(self.epoch, number, self.global_batch(self.epoch, number))
            self.epoch, self.batch = self.epoch + 1, 0

    def seek(self, consumed: int) -> None:
        """Continue after ``consumed`` batches of this rank (counted from epoch 0)."""
        self.epoch, self.batch = divmod(consumed, self.batches_per_epoch)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])


def as_is(batch: Any) -> Any:
    """Collation is the dataset's job (``__getitems__`` returns whole batches)."""
    return batch


def make_loader(dataset: Dataset, sampler: EpochBatches, num_workers: int = 0,
                pin_memory: bool = False) -> StatefulDataLoader:
    """An endless loader of ``dataset.__getitems__(batch)`` for each batch of ``sampler``."""
    return StatefulDataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                              collate_fn=as_is, pin_memory=pin_memory,
                              persistent_workers=num_workers > 0,
                              prefetch_factor=4 if num_workers > 0 else None)


def loader_state(loader: StatefulDataLoader) -> dict[str, Any]:
    """What a checkpoint keeps of the loader: the engine's state and its worker count."""
    return {"state": loader.state_dict(), "num_workers": loader.num_workers}


def restore(loader: StatefulDataLoader, saved: dict[str, Any] | None, consumed: int) -> None:
    """Put a fresh loader where a checkpoint left it (``consumed`` = batches this rank took).

    The engine's own state when the worker count is the one it was saved with; otherwise (or
    for a checkpoint from before the loader state was kept) the sampler's position from the
    count, which names the same batch, since the sequence does not depend on the workers.
    """
    if saved is not None and saved["num_workers"] == loader.num_workers:
        loader.load_state_dict(saved["state"])
    else:
        loader.batch_sampler.seek(consumed)
